// meshprobe-e2e-testapp: the application of the end-to-end tests on the real node. It serves
// three health checks that the kubelet (or meshprobe-agent) probes, each switchable to failing
// at run time:
//   HTTP  GET /healthz on --http-port: 200 "ok", or 503 when failing
//   TCP   --tcp-port accepts connections, or is closed (connection refused) when failing
//   gRPC  grpc.health.v1.Health/Check on --grpc-port (gRPC's own server): SERVING, or
//         NOT_SERVING when failing
// and a control endpoint on --control-port:
//   GET /health                 {"http":"passing","tcp":"failing","grpc":"passing"}
//   PUT /health/<check>         body "failing" or "passing"
// A restarted container starts with --failing's checks failing (default: none).
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <boost/program_options.hpp>
#include <csignal>
#include <iostream>
#include <memory>

#include "command_line.h"
#include "health_switches.h"
#include "http_server.h"

namespace meshprobe::e2e {
namespace {

// Accepts connections and closes them: a TCP probe's notion of a live application.
class TcpHealthListener {
 public:
  TcpHealthListener(asio::io_context& context, int port)
      : context_(context), acceptor_(context), port_(port) {}

  Result<int> set_listening(bool listening) {
    if (!listening) {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      return port_;
    }
    if (acceptor_.is_open()) return port_;
    auto port = open_acceptor(acceptor_, port_);
    if (port) asio::co_spawn(context_, accept_loop(), asio::detached);
    return port;
  }

 private:
  asio::awaitable<void> accept_loop() {
    while (acceptor_.is_open()) {
      boost::system::error_code error;
      auto socket =
          co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, error));
      if (error == asio::error::operation_aborted) co_return;
    }
  }

  asio::io_context& context_;
  asio::ip::tcp::acceptor acceptor_;
  int port_;
};

struct Options {
  int http_port = 8080;
  int tcp_port = 8081;
  int grpc_port = 8082;
  int control_port = 9090;
  std::string failing;
};

Result<Options> parse_options(int argc, char** argv) {
  namespace po = boost::program_options;
  Options options;
  po::options_description description("meshprobe-e2e-testapp options");
  description.add_options()(
      "http-port", po::value(&options.http_port)->default_value(options.http_port), "GET /healthz")(
      "tcp-port", po::value(&options.tcp_port)->default_value(options.tcp_port),
      "accepts while healthy")("grpc-port",
                               po::value(&options.grpc_port)->default_value(options.grpc_port),
                               "grpc.health.v1.Health")(
      "control-port", po::value(&options.control_port)->default_value(options.control_port),
      "GET /health, PUT /health/<check>")("failing", po::value(&options.failing),
                                          "checks failing from the start: http,tcp,grpc");
  if (auto error = parse_command_line(description, argc, argv)) return Error{*error};
  return options;
}

int run(const Options& options) {
  HealthSwitches switches;
  auto initially_failing = parse_health_check_list(options.failing);
  if (!initially_failing) {
    std::cerr << "meshprobe-e2e-testapp: --failing: " << initially_failing.error().message
              << std::endl;
    return 2;
  }
  for (HealthCheck check : *initially_failing) switches.set(check, true);

  asio::io_context context;
  TcpHealthListener tcp_listener(context, options.tcp_port);

  // gRPC's default health service answers "" and every registered service with one status.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  // gRPC refuses a server without a service of its own; this one answers UNIMPLEMENTED to any
  // method but the health service's.
  grpc::CallbackGenericService unimplemented;
  builder.RegisterCallbackGenericService(&unimplemented);
  int grpc_port = 0;
  builder.AddListeningPort("0.0.0.0:" + std::to_string(options.grpc_port),
                           grpc::InsecureServerCredentials(), &grpc_port);
  std::unique_ptr<grpc::Server> grpc_server = builder.BuildAndStart();
  if (!grpc_server || grpc_port == 0) {
    std::cerr << "meshprobe-e2e-testapp: cannot serve gRPC on port " << options.grpc_port
              << std::endl;
    return 1;
  }
  auto apply = [&](HealthCheck check) -> Result<int> {
    const bool failing = switches.failing(check);
    switch (check) {
      case HealthCheck::kHttp:
        return 0;  // read per request
      case HealthCheck::kTcp:
        return tcp_listener.set_listening(!failing);
      case HealthCheck::kGrpc:
        grpc_server->GetHealthCheckService()->SetServingStatus(!failing);
        return 0;
    }
    return 0;
  };
  for (HealthCheck check : kHealthChecks) {
    if (auto applied = apply(check); !applied) {
      std::cerr << "meshprobe-e2e-testapp: " << applied.error().message << std::endl;
      return 1;
    }
  }

  HttpServer health_server(context, [&](const HttpRequest& request) {
    if (request.target() != "/healthz")
      return text_response(request, http::status::not_found, "not found\n");
    if (switches.failing(HealthCheck::kHttp))
      return text_response(request, http::status::service_unavailable, "failing\n");
    return text_response(request, http::status::ok, "ok\n");
  });
  HttpServer control_server(context, [&](const HttpRequest& request) {
    if (request.method() == http::verb::get && request.target() == "/health") {
      return text_response(request, http::status::ok, switches.json() + "\n");
    }
    if (request.method() != http::verb::put) {
      return text_response(request, http::status::method_not_allowed,
                           "GET /health or PUT /health/<check>\n");
    }
    const auto target = request.target();
    auto change =
        parse_health_change(std::string_view(target.data(), target.size()), request.body());
    if (!change)
      return text_response(request, http::status::bad_request, change.error().message + "\n");
    switches.set(change->check, change->failing);
    if (auto applied = apply(change->check); !applied) {
      return text_response(request, http::status::internal_server_error,
                           applied.error().message + "\n");
    }
    std::cout << "health check " << health_check_name(change->check) << " is now "
              << (change->failing ? "failing" : "passing") << std::endl;
    return text_response(request, http::status::ok, switches.json() + "\n");
  });
  for (auto [server, port] : {std::pair{&health_server, options.http_port},
                              std::pair{&control_server, options.control_port}}) {
    if (auto listening = server->listen(port); !listening) {
      std::cerr << "meshprobe-e2e-testapp: " << listening.error().message << std::endl;
      return 1;
    }
    server->start();
  }

  asio::signal_set signals(context, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    health_server.stop();
    control_server.stop();
    tcp_listener.set_listening(false);
    context.stop();
  });
  std::cout << "serving: http " << options.http_port << " /healthz, tcp " << options.tcp_port
            << ", grpc " << grpc_port << ", control " << options.control_port << "; health "
            << switches.json() << std::endl;
  context.run();
  grpc_server->Shutdown();
  return 0;
}

}  // namespace
}  // namespace meshprobe::e2e

int main(int argc, char** argv) {
  auto options = meshprobe::e2e::parse_options(argc, argv);
  if (!options) {
    std::cerr << "meshprobe-e2e-testapp: " << options.error().message << std::endl;
    return 2;
  }
  return meshprobe::e2e::run(*options);
}
