#include "tcp_proxy.h"

// <utility> first: Boost 1.74's awaitable.hpp uses std::exchange without including it.
// clang-format off
#include <utility>
// clang-format on
#include <array>
#include <boost/asio.hpp>
#include <future>
#include <list>
#include <thread>

namespace meshprobe::e2e {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// One relayed connection: bytes copied both ways until either side closes.
struct Relay : std::enable_shared_from_this<Relay> {
  explicit Relay(asio::io_context& context) : client(context), server(context) {}
  tcp::socket client;
  tcp::socket server;
  std::array<char, 16384> upstream{};
  std::array<char, 16384> downstream{};

  void pump(tcp::socket& from, tcp::socket& to, std::array<char, 16384>& buffer) {
    from.async_read_some(
        asio::buffer(buffer), [self = shared_from_this(), &from, &to, &buffer](
                                  boost::system::error_code error, std::size_t size) {
          if (error) return self->close();
          asio::async_write(
              to, asio::buffer(buffer.data(), size),
              [self, &from, &to, &buffer](boost::system::error_code write_error, std::size_t) {
                if (write_error) return self->close();
                self->pump(from, to, buffer);
              });
        });
  }
  void close() {
    boost::system::error_code ignored;
    // Linger 0: a reset, as when a server process dies.
    client.set_option(asio::socket_base::linger(true, 0), ignored);
    client.close(ignored);
    server.close(ignored);
  }
};

}  // namespace

struct TcpProxy::State {
  asio::io_context context;
  tcp::acceptor acceptor{context};
  tcp::endpoint target;
  std::uint16_t port = 0;
  std::list<std::weak_ptr<Relay>> relays;
  std::thread thread;

  void listen() {
    acceptor.open(tcp::v4());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    acceptor.listen();
    port = acceptor.local_endpoint().port();
    accept();
  }
  void accept() {
    auto relay = std::make_shared<Relay>(context);
    acceptor.async_accept(relay->client, [this, relay](boost::system::error_code error) {
      if (error) return;  // closed by cut()
      relay->server.async_connect(target, [relay](boost::system::error_code connect_error) {
        if (connect_error) return relay->close();
        relay->pump(relay->client, relay->server, relay->upstream);
        relay->pump(relay->server, relay->client, relay->downstream);
      });
      relays.push_back(relay);
      accept();
    });
  }
  // Runs `work` on the proxy's thread and waits for it.
  void run(const std::function<void()>& work) {
    std::promise<void> done;
    asio::post(context, [&] {
      work();
      done.set_value();
    });
    done.get_future().wait();
  }
};

TcpProxy::TcpProxy(const std::string& target_host, std::uint16_t target_port)
    : state_(std::make_shared<State>()) {
  state_->target = tcp::endpoint(asio::ip::make_address(target_host), target_port);
  state_->listen();
  state_->thread = std::thread([state = state_.get()] {
    auto guard = asio::make_work_guard(state->context);
    state->context.run();
  });
}

TcpProxy::~TcpProxy() {
  cut();
  state_->context.stop();
  state_->thread.join();
}

std::uint16_t TcpProxy::port() const { return state_->port; }

void TcpProxy::cut() {
  state_->run([state = state_.get()] {
    boost::system::error_code ignored;
    state->acceptor.close(ignored);
    for (auto& weak : state->relays) {
      if (auto relay = weak.lock()) relay->close();
    }
    state->relays.clear();
  });
}

void TcpProxy::resume() {
  state_->run([state = state_.get()] { state->listen(); });
}

}  // namespace meshprobe::e2e
