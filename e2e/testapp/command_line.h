// Command lines of the end-to-end test programs (Boost.Program_options, as meshprobe's own).
#pragma once

#include <boost/program_options.hpp>
#include <optional>
#include <string>

namespace meshprobe::e2e {

// Parses argv into the variables DESCRIPTION points to; returns the error, if any, as text.
inline std::optional<std::string> parse_command_line(
    const boost::program_options::options_description& description, int argc, char** argv) {
  namespace po = boost::program_options;
  try {
    po::variables_map values;
    po::store(po::parse_command_line(argc, argv, description), values);
    po::notify(values);
  } catch (const po::error& error) {
    return std::string(error.what());
  }
  return std::nullopt;
}

}  // namespace meshprobe::e2e
