// The real server on loopback (label "integration"): bind, answer, keep-alive, the
// connection cap, and stop.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "kube/health_server.h"
#include "kube/test_support.h"

namespace meshprobe::kube {
namespace {

using boost::asio::ip::tcp;
using ::testing::HasSubstr;

// Sends raw requests on one connection and reads one response per request.
class Client {
 public:
  explicit Client(std::uint16_t port) : socket_(context_) {
    socket_.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  }
  std::string request(const std::string& text) {
    boost::asio::write(socket_, boost::asio::buffer(text));
    boost::asio::read_until(socket_, buffer_, "\r\n\r\n");
    std::string all(boost::asio::buffers_begin(buffer_.data()),
                    boost::asio::buffers_end(buffer_.data()));
    const std::size_t header_end = all.find("\r\n\r\n") + 4;
    const std::size_t length_at = all.find("Content-Length: ");
    const std::size_t length = std::stoul(all.substr(length_at + 16));
    if (buffer_.size() < header_end + length) {
      boost::asio::read(socket_, buffer_,
                        boost::asio::transfer_exactly(header_end + length - buffer_.size()));
    }
    std::string response(boost::asio::buffers_begin(buffer_.data()),
                         boost::asio::buffers_begin(buffer_.data()) + header_end + length);
    buffer_.consume(header_end + length);
    return response;
  }
  // True when the server closed the connection (read returns end of file).
  bool closed_by_server() {
    boost::system::error_code error;
    char byte;
    socket_.read_some(boost::asio::buffer(&byte, 1), error);
    return error == boost::asio::error::eof || error == boost::asio::error::connection_reset;
  }

 private:
  boost::asio::io_context context_;
  tcp::socket socket_;
  boost::asio::streambuf buffer_;
};

TEST(HealthServerTest, ServesTheEndpointsWithKeepAliveAndStops) {
  MetricsRegistry metrics;
  HealthEndpoints endpoints(metrics);
  endpoints.add_readiness_check("informers",
                                [] { return std::optional<std::string>("not synced"); });
  RecordingLogger logger;
  HealthServer server({"127.0.0.1", 0}, endpoints, logger);
  auto port = server.start();
  ASSERT_TRUE(port.ok()) << port.error().message;
  Client client(*port);
  EXPECT_THAT(client.request("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
              HasSubstr("HTTP/1.1 200 OK"));
  const std::string ready = client.request("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(ready, HasSubstr("HTTP/1.1 500"));
  EXPECT_THAT(ready, HasSubstr("[-]informers failed: not synced"));
  EXPECT_THAT(client.request("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
              HasSubstr("text/plain; version=0.0.4"));
  EXPECT_TRUE(client.closed_by_server());
  server.stop();
  EXPECT_THROW(Client{*port}, boost::system::system_error);
}

TEST(HealthServerTest, RefusesConnectionsBeyondTheCap) {
  MetricsRegistry metrics;
  HealthEndpoints endpoints(metrics);
  RecordingLogger logger;
  HealthServerOptions options{"127.0.0.1", 0};
  options.maximum_connections = 1;
  HealthServer server(options, endpoints, logger);
  auto port = server.start();
  ASSERT_TRUE(port.ok());
  Client first(*port);
  EXPECT_THAT(first.request("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), HasSubstr("200 OK"));
  Client second(*port);
  EXPECT_TRUE(second.closed_by_server());
  EXPECT_THAT(first.request("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), HasSubstr("200 OK"));
}

TEST(HealthServerTest, AnAddressInUseIsAClearError) {
  MetricsRegistry metrics;
  HealthEndpoints endpoints(metrics);
  RecordingLogger logger;
  HealthServer first({"127.0.0.1", 0}, endpoints, logger);
  auto port = first.start();
  ASSERT_TRUE(port.ok());
  HealthServer second({"127.0.0.1", *port}, endpoints, logger);
  auto clash = second.start();
  ASSERT_FALSE(clash.ok());
  EXPECT_THAT(clash.error().message,
              HasSubstr("cannot listen on 127.0.0.1:" + std::to_string(*port)));
}

}  // namespace
}  // namespace meshprobe::kube
