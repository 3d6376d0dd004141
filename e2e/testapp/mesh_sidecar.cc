// meshprobe-e2e-mesh-sidecar: the stand-in for Istio's sidecar in the end-to-end tests, so
// that the seed's two problems happen for real on the node (e2e/README.md "The node"):
//
//   mesh-sidecar redirect [--proxy-port 15006] [--exclude-inbound-ports LIST]
//     The init container (like istio-init; needs NET_ADMIN): redirects every inbound TCP
//     connection of the pod to the proxy's port, except to the excluded ports (mesh_redirect.h).
//     LIST defaults to $EXCLUDE_INBOUND_PORTS, which the pod sets from its annotation
//     traffic.sidecar.istio.io/excludeInboundPorts through the downward API.
//
//   mesh-sidecar proxy [--port 15006] [--identity-dir /etc/mesh-identity]
//     The sidecar container (like istio-proxy under PeerAuthentication STRICT): accepts every
//     TCP connection (so a TCP probe of any port passes) and then requires mutual TLS with a
//     client certificate signed by the mesh's CA (identity-dir: ca.crt, tls.crt, tls.key), so
//     the kubelet's plaintext HTTP and gRPC probes fail. An authenticated connection is
//     forwarded to its original destination, as Envoy's inbound passthrough does.
// <netinet/in.h> before <linux/netfilter_ipv4.h>, which otherwise defines struct in_addr and
// IPPROTO_* a second time; clang-format would sort them the other way.
// clang-format off
#include <netinet/in.h>
#include <linux/netfilter_ipv4.h>
// clang-format on
#include <nftables/libnftables.h>

#include <array>
#include <boost/asio/ssl.hpp>
#include <boost/program_options.hpp>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "command_line.h"
#include "http_server.h"
#include "mesh_redirect.h"

namespace meshprobe::e2e {
namespace {

namespace po = boost::program_options;
namespace ssl = asio::ssl;
using boost::system::error_code;
using tcp = asio::ip::tcp;

// --- redirect ---------------------------------------------------------------------------------

int install_redirect(const RedirectConfig& config) {
  const std::string script = redirect_ruleset(config);
  std::unique_ptr<nft_ctx, decltype(&nft_ctx_free)> context(nft_ctx_new(NFT_CTX_DEFAULT),
                                                            nft_ctx_free);
  if (!context) {
    std::cerr << "mesh-sidecar redirect: cannot create an nftables context" << std::endl;
    return 1;
  }
  nft_ctx_buffer_error(context.get());
  if (nft_run_cmd_from_buffer(context.get(), script.c_str()) != 0) {
    std::cerr << "mesh-sidecar redirect: nftables refused the ruleset:\n"
              << nft_ctx_get_error_buffer(context.get()) << "ruleset:\n"
              << script;
    return 1;
  }
  std::cout << "installed (nftables):\n" << script << std::flush;
  return 0;
}

int redirect_main(int argc, char** argv) {
  RedirectConfig config;
  std::string excluded;
  if (const char* from_environment = std::getenv("EXCLUDE_INBOUND_PORTS"))
    excluded = from_environment;
  po::options_description description("mesh-sidecar redirect options");
  description.add_options()(
      "proxy-port", po::value(&config.proxy_port)->default_value(config.proxy_port),
      "where inbound TCP goes")("exclude-inbound-ports", po::value(&excluded),
                                "ports not redirected (default $EXCLUDE_INBOUND_PORTS)");
  if (auto error = parse_command_line(description, argc, argv)) {
    std::cerr << "mesh-sidecar redirect: " << *error << std::endl;
    return 2;
  }
  auto ports = parse_port_list(excluded);
  if (!ports) {
    std::cerr << "mesh-sidecar redirect: --exclude-inbound-ports: " << ports.error().message
              << std::endl;
    return 2;
  }
  config.excluded_inbound_ports = *ports;
  return install_redirect(config);
}

// --- proxy ------------------------------------------------------------------------------------

std::string describe(const tcp::endpoint& endpoint) {
  return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

// Where a redirected connection was going (netfilter keeps it for the redirecting socket).
Result<tcp::endpoint> original_destination(tcp::socket& socket) {
  sockaddr_in address{};
  socklen_t length = sizeof(address);
  if (getsockopt(socket.native_handle(), SOL_IP, SO_ORIGINAL_DST, &address, &length) != 0) {
    return Error{"no original destination"};
  }
  return tcp::endpoint(asio::ip::address_v4(ntohl(address.sin_addr.s_addr)),
                       ntohs(address.sin_port));
}

// Copies one direction until it ends, then closes both sides.
template <typename From, typename To>
asio::awaitable<void> pump(std::shared_ptr<void> keep_alive, From& from, To& to, tcp::socket& one,
                           tcp::socket& other) {
  std::array<char, 16 * 1024> buffer;
  error_code error;
  for (;;) {
    const std::size_t size = co_await from.async_read_some(
        asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, error));
    if (error) break;
    co_await asio::async_write(to, asio::buffer(buffer, size),
                               asio::redirect_error(asio::use_awaitable, error));
    if (error) break;
  }
  one.close(error);
  other.close(error);
}

class MutualTlsProxy {
 public:
  MutualTlsProxy(asio::io_context& context, ssl::context& tls)
      : context_(context), tls_(tls), acceptor_(context) {}

  Result<int> listen(int port) { return open_acceptor(acceptor_, port); }
  void start() { asio::co_spawn(context_, accept_loop(), asio::detached); }
  void stop() {
    error_code ignored;
    acceptor_.close(ignored);
  }

 private:
  struct Connection {
    Connection(tcp::socket socket, ssl::context& tls, asio::io_context& context)
        : downstream(std::move(socket), tls), upstream(context) {}
    ssl::stream<tcp::socket> downstream;
    tcp::socket upstream;
  };

  asio::awaitable<void> accept_loop() {
    while (acceptor_.is_open()) {
      error_code error;
      auto socket =
          co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, error));
      if (error == asio::error::operation_aborted) co_return;
      if (error) continue;
      if (connections_ >= kMaximumConnections) continue;
      asio::co_spawn(context_, serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    ++connections_;
    error_code error;
    const auto peer = socket.remote_endpoint(error);
    auto destination = original_destination(socket);
    // A connection made to the proxy's own port was not redirected: forwarding it would loop.
    if (destination && destination->port() == acceptor_.local_endpoint(error).port()) {
      destination = Error{"connected to the proxy's port itself, not redirected to it"};
    }
    const std::string route =
        describe(peer) + " -> " + (destination ? describe(*destination) : "proxy");
    auto connection = std::make_shared<Connection>(std::move(socket), tls_, context_);

    // A client that never completes the handshake is cut off.
    asio::steady_timer deadline(context_, std::chrono::seconds(10));
    deadline.async_wait([connection](const error_code& timer_error) {
      error_code ignored;
      if (!timer_error) connection->downstream.lowest_layer().close(ignored);
    });
    co_await connection->downstream.async_handshake(
        ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, error));
    deadline.cancel();
    if (error) {
      std::cout << "rejected " << route << ": " << describe_handshake_error(error) << std::endl;
    } else if (!destination) {
      std::cout << "rejected " << route << ": " << destination.error().message << std::endl;
    } else {
      co_await connection->upstream.async_connect(*destination,
                                                  asio::redirect_error(asio::use_awaitable, error));
      if (error) {
        std::cout << "accepted " << route << " (mutual TLS), upstream failed: " << error.message()
                  << std::endl;
      } else {
        std::cout << "accepted " << route << " (mutual TLS)" << std::endl;
        auto& downstream_socket = connection->downstream.next_layer();
        asio::co_spawn(context_,
                       pump(connection, connection->downstream, connection->upstream,
                            downstream_socket, connection->upstream),
                       asio::detached);
        co_await pump(connection, connection->upstream, connection->downstream, downstream_socket,
                      connection->upstream);
      }
    }
    --connections_;
  }

  static std::string describe_handshake_error(const error_code& error) {
    if (error == asio::error::eof) return "closed before the TLS handshake (a TCP check)";
    return "TLS handshake failed: " + error.message();
  }

  static constexpr std::size_t kMaximumConnections = 256;
  asio::io_context& context_;
  ssl::context& tls_;
  tcp::acceptor acceptor_;
  std::size_t connections_ = 0;
};

int proxy_main(int argc, char** argv) {
  int port = 15006;
  std::string identity_dir = "/etc/mesh-identity";
  po::options_description description("mesh-sidecar proxy options");
  description.add_options()("port", po::value(&port)->default_value(port),
                            "the port inbound TCP is redirected to")(
      "identity-dir", po::value(&identity_dir)->default_value(identity_dir),
      "ca.crt, tls.crt, tls.key");
  if (auto error = parse_command_line(description, argc, argv)) {
    std::cerr << "mesh-sidecar proxy: " << *error << std::endl;
    return 2;
  }

  ssl::context tls(ssl::context::tls_server);
  try {
    tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    tls.use_certificate_chain_file(identity_dir + "/tls.crt");
    tls.use_private_key_file(identity_dir + "/tls.key", ssl::context::pem);
    tls.load_verify_file(identity_dir + "/ca.crt");
    // STRICT: a client without a certificate of the mesh's CA is refused.
    tls.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  } catch (const boost::system::system_error& error) {
    std::cerr << "mesh-sidecar proxy: the mesh identity in " << identity_dir << ": " << error.what()
              << std::endl;
    return 1;
  }

  asio::io_context context;
  MutualTlsProxy proxy(context, tls);
  if (auto listening = proxy.listen(port); !listening) {
    std::cerr << "mesh-sidecar proxy: " << listening.error().message << std::endl;
    return 1;
  }
  proxy.start();
  asio::signal_set signals(context, SIGINT, SIGTERM);
  signals.async_wait([&](const error_code&, int) {
    proxy.stop();
    context.stop();
  });
  std::cout << "accepting on port " << port << "; mutual TLS required (identity " << identity_dir
            << ")" << std::endl;
  context.run();
  return 0;
}

}  // namespace
}  // namespace meshprobe::e2e

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  if (command == "redirect") return meshprobe::e2e::redirect_main(argc - 1, argv + 1);
  if (command == "proxy") return meshprobe::e2e::proxy_main(argc - 1, argv + 1);
  std::cerr << "usage: meshprobe-e2e-mesh-sidecar redirect|proxy [options]" << std::endl;
  return 2;
}
