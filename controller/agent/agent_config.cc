#include "agent/agent_config.h"

#include <boost/asio/ip/address.hpp>
#include <boost/program_options.hpp>
#include <sstream>

#include "agent/http_probe_request.h"
#include "probe/names.h"

namespace meshprobe::agent {
namespace {

namespace po = boost::program_options;

std::optional<Error> check_host(const std::string& path, std::string_view field,
                                const std::string& host, std::string_view pod_ip) {
  if (probe::is_pod_local_host(host) || (!pod_ip.empty() && host == pod_ip)) return std::nullopt;
  return Error{"ISTIO_KUBE_APP_PROBERS: \"" + path + "\": " + std::string(field) + " " +
               quoted_for_message(host) +
               " is not the pod's own address (empty, localhost, 127.0.0.1, ::1 or POD_IP)"};
}

}  // namespace

std::optional<Error> validate_probers_for_agent(const probe::AppProbers& probers,
                                                std::string_view pod_ip) {
  for (const auto& [path, prober] : probers) {
    if (const auto* http = std::get_if<probe::HttpGetAction>(&prober.action)) {
      if (auto error = check_host(path, "httpGet.host", http->host, pod_ip)) return error;
      for (const auto& header : http->headers) {
        if (!is_safe_header(header)) {
          return Error{"ISTIO_KUBE_APP_PROBERS: \"" + path + "\": httpGet.httpHeaders entry " +
                       quoted_for_message(header.name) +
                       " is not a valid header name with a value free of CR, LF and NUL"};
        }
      }
    } else if (const auto* tcp = std::get_if<probe::TcpSocketAction>(&prober.action)) {
      if (auto error = check_host(path, "tcpSocket.host", tcp->host, pod_ip)) return error;
    }
  }
  return std::nullopt;
}

Result<CommandLine> parse_command_line(int argc, const char* const argv[],
                                       const EnvironmentReader& environment) {
  AgentConfig config;
  std::string log_level = "info";
  std::string log_format = "json";
  int header_read_timeout_ms = 10'000;
  po::options_description options(
      "meshprobe-agent: answers the kubelet's rewritten probes by probing the application from "
      "inside the pod.\n"
      "Reads ISTIO_KUBE_APP_PROBERS (the original probes, JSON) and POD_IP from the "
      "environment.\n\nOptions");
  options.add_options()("help,h", "print this help and exit")(
      "port", po::value<int>(&config.port)->default_value(probe::kDefaultAgentPort),
      "port to serve probes on")("address", po::value<std::string>(&config.address),
                                 "address to listen on (default: all)")(
      "log-level", po::value<std::string>(&log_level)->default_value(log_level),
      "debug, info, warn or error")(
      "log-format", po::value<std::string>(&log_format)->default_value(log_format), "json or text")(
      "header-read-timeout-ms",
      po::value<int>(&header_read_timeout_ms)->default_value(header_read_timeout_ms),
      "time a caller has to send a request's headers")(
      "max-header-bytes",
      po::value<std::size_t>(&config.limits.max_header_bytes)
          ->default_value(config.limits.max_header_bytes),
      "largest request header accepted")("max-connections",
                                         po::value<std::size_t>(&config.limits.max_connections)
                                             ->default_value(config.limits.max_connections),
                                         "connections served at once; more are closed at once");
  std::ostringstream usage;
  usage << options;

  po::variables_map values;
  try {
    po::store(po::command_line_parser(argc, argv).options(options).run(), values);
    po::notify(values);
  } catch (const po::error& e) {
    return Error{std::string("command line: ") + e.what()};
  }
  if (values.count("help")) return CommandLine{std::nullopt, usage.str()};

  if (config.port < 1 || config.port > 65535)
    return Error{"--port must be in 1..65535, got " + std::to_string(config.port)};
  if (header_read_timeout_ms < 1) return Error{"--header-read-timeout-ms must be positive"};
  config.limits.header_read_timeout = std::chrono::milliseconds(header_read_timeout_ms);
  if (config.limits.max_connections < 1) return Error{"--max-connections must be at least 1"};
  if (config.limits.max_header_bytes < 512) return Error{"--max-header-bytes must be at least 512"};
  auto level = parse_log_level(log_level);
  if (!level) return level.error();
  config.log_level = *level;
  auto format = parse_log_format(log_format);
  if (!format) return format.error();
  config.log_format = *format;
  if (!config.address.empty()) {
    boost::system::error_code error;
    boost::asio::ip::make_address(config.address, error);
    if (error)
      return Error{"--address must be an IP address, got " + quoted_for_message(config.address)};
  }

  if (auto pod_ip = environment(std::string(probe::kPodIpEnvName)); pod_ip && !pod_ip->empty()) {
    boost::system::error_code error;
    boost::asio::ip::make_address(*pod_ip, error);
    if (error) return Error{"POD_IP must be an IP address, got " + quoted_for_message(*pod_ip)};
    config.pod_ip = *pod_ip;
  }
  auto probers_text = environment(std::string(probe::kAppProbersEnvName));
  if (!probers_text)
    return Error{"ISTIO_KUBE_APP_PROBERS is not set: the agent has nothing to serve"};
  auto probers = probe::parse_app_probers(*probers_text);
  if (!probers) return probers.error();
  if (auto error = validate_probers_for_agent(*probers, config.pod_ip)) return *error;
  config.probers = std::move(probers).value();
  return CommandLine{std::move(config), usage.str()};
}

}  // namespace meshprobe::agent
