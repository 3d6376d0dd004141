// Boost.Asio and Boost.Beast as the agent uses them: C++20 coroutines on one io_context.
// <utility> first: Boost 1.74's awaitable.hpp uses std::exchange without including it.
#pragma once

// <utility> before Boost (above); clang-format would sort it after.
// clang-format off
#include <utility>
// clang-format on
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <functional>

#include "agent/probe_outcome.h"

namespace meshprobe::agent {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using boost::system::error_code;

// Expected failures come back as error codes, never as exceptions.
inline auto await_error(error_code& error) {
  return asio::redirect_error(asio::use_awaitable, error);
}

// Runs one probe on `executor` and answers `done` with its outcome; an exception (only
// allocation failure is possible) is a failed probe, never a success.
void spawn_probe(const asio::any_io_executor& executor, asio::awaitable<ProbeOutcome> probe,
                 std::function<void(ProbeOutcome)> done);

// connection refused, timeout (Beast's stream deadline), TLS, or any other transport failure.
FailureReason reason_for(const error_code& error);

// "connect to 127.0.0.1:8080: Connection refused"
std::string describe_failure(std::string_view step, std::string_view address, int port,
                             const error_code& error);

}  // namespace meshprobe::agent
