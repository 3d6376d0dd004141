#include "integration/test_servers.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstdio>
#include <future>
#include <stdexcept>

extern char** environ;

namespace meshprobe::agent::testing {
namespace {

// A fresh P-256 key and a self-signed certificate for "localhost", valid for a day.
void use_self_signed_certificate(asio::ssl::context& context) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* certificate = X509_new();
  if (!key || !certificate) throw std::runtime_error("cannot make a test key");
  X509_set_version(certificate, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate), 1);
  X509_gmtime_adj(X509_getm_notBefore(certificate), -3600);
  X509_gmtime_adj(X509_getm_notAfter(certificate), 24 * 3600);
  X509_set_pubkey(certificate, key);
  X509_NAME* name = X509_get_subject_name(certificate);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(certificate, name);
  if (X509_sign(certificate, key, EVP_sha256()) == 0)
    throw std::runtime_error("cannot sign the test certificate");
  SSL_CTX_use_certificate(context.native_handle(), certificate);
  SSL_CTX_use_PrivateKey(context.native_handle(), key);
  X509_free(certificate);
  EVP_PKEY_free(key);
}

}  // namespace

std::string RecordedRequest::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (beast::iequals(h.name, beast::string_view(name.data(), name.size()))) return h.value;
  }
  return "";
}

TestHttpApp::TestHttpApp(Tls tls, const std::string& address) : use_tls_(tls == Tls::kSelfSigned) {
  if (use_tls_) use_self_signed_certificate(tls_);
  const asio::ip::tcp::endpoint endpoint(asio::ip::make_address(address), 0);
  acceptor_.open(endpoint.protocol());
  acceptor_.bind(endpoint);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(io_, accept_loop(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

TestHttpApp::~TestHttpApp() {
  io_.stop();
  thread_.join();
}

void TestHttpApp::route(const std::string& path, Route route) {
  std::lock_guard lock(mutex_);
  routes_[path] = std::move(route);
}

std::vector<RecordedRequest> TestHttpApp::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

bool TestHttpApp::wait_for_requests(const std::string& target, std::size_t count) const {
  std::unique_lock lock(mutex_);
  return request_recorded_.wait_for(lock, std::chrono::seconds(10), [&] {
    return static_cast<std::size_t>(
               std::count_if(requests_.begin(), requests_.end(),
                             [&](const auto& r) { return r.target == target; })) >= count;
  });
}

std::vector<std::string> TestHttpApp::peers() const {
  std::lock_guard lock(mutex_);
  return peers_;
}

std::size_t TestHttpApp::request_count(const std::string& target) const {
  std::lock_guard lock(mutex_);
  return std::count_if(requests_.begin(), requests_.end(),
                       [&](const auto& r) { return r.target == target; });
}

asio::awaitable<void> TestHttpApp::accept_loop() {
  for (;;) {
    error_code error;
    auto socket = co_await acceptor_.async_accept(await_error(error));
    if (error) co_return;
    {
      std::lock_guard lock(mutex_);
      peers_.push_back(socket.remote_endpoint(error).address().to_string());
    }
    asio::co_spawn(io_, serve_connection(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> TestHttpApp::serve_connection(asio::ip::tcp::socket socket) {
  if (!use_tls_) {
    beast::tcp_stream stream(std::move(socket));
    co_await serve(stream);
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), tls_);
  error_code error;
  co_await stream.async_handshake(asio::ssl::stream_base::server, await_error(error));
  if (!error) co_await serve(stream);
}

template <typename Stream>
asio::awaitable<void> TestHttpApp::serve(Stream& stream) {
  beast::flat_buffer buffer;
  http::request<http::empty_body> request;
  error_code error;
  co_await http::async_read(stream, buffer, request, await_error(error));
  if (error) co_return;
  RecordedRequest recorded{std::string(request.target()), {}};
  for (const auto& field : request)
    recorded.headers.push_back({std::string(field.name_string()), std::string(field.value())});
  Route route{404, {}, {}, {}};
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(recorded);
    request_recorded_.notify_all();
    const std::string path = recorded.target.substr(0, recorded.target.find('?'));
    if (auto it = routes_.find(path); it != routes_.end()) route = it->second;
  }
  if (route.delay.count() > 0) {
    asio::steady_timer timer(co_await asio::this_coro::executor, route.delay);
    co_await timer.async_wait(await_error(error));
  }
  http::response<http::string_body> response{static_cast<http::status>(route.status), 11};
  for (const auto& header : route.headers) response.set(header.name, header.value);
  response.body() = route.body;
  response.keep_alive(false);
  response.prepare_payload();
  co_await http::async_write(stream, response, await_error(error));
}

TestTcpListener::TestTcpListener(const std::string& address, int port) {
  const asio::ip::tcp::endpoint endpoint(asio::ip::make_address(address),
                                         static_cast<unsigned short>(port));
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
}

int unused_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io,
                                   asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

TestGrpcHealthServer::TestGrpcHealthServer(const std::map<std::string, bool>& serving) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
  builder.RegisterCallbackGenericService(&other_methods_);
  server_ = builder.BuildAndStart();
  if (!server_) throw std::runtime_error("cannot start the gRPC health server");
  for (const auto& [service, is_serving] : serving)
    server_->GetHealthCheckService()->SetServingStatus(service, is_serving);
}

TestGrpcHealthServer::~TestGrpcHealthServer() { server_->Shutdown(); }

HttpAnswer http_get(int port, const std::string& target,
                    const std::vector<probe::HttpHeader>& headers, const std::string& address) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::seconds(20));
  stream.connect(
      asio::ip::tcp::endpoint(asio::ip::make_address(address), static_cast<unsigned short>(port)));
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, address + ":" + std::to_string(port));
  for (const auto& header : headers) request.set(header.name, header.value);
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  HttpAnswer answer{static_cast<int>(response.result_int()), response.body(), {}};
  for (const auto& field : response)
    answer.headers[std::string(field.name_string())] = std::string(field.value());
  return answer;
}

void TestAgent::RecordingLogger::log(LogLevel level, std::string_view message,
                                     const std::vector<LogField>& fields) {
  std::lock_guard lock(mutex_);
  lines_.push_back(format_log_line(LogFormat::kText, clock_.system_now(), level, message, fields));
}

std::vector<std::string> TestAgent::RecordingLogger::lines() const {
  std::lock_guard lock(mutex_);
  return lines_;
}

TestAgent::TestAgent(AgentConfig config) {
  const std::string pod_ip = config.pod_ip;
  agent_ = std::make_unique<Agent>(
      io_.get_executor(), std::move(config),
      make_network_probers(io_.get_executor(), clock_, pod_ip, logger_), logger_, clock_);
  auto port = agent_->start();
  if (!port) throw std::runtime_error(port.error().message);
  port_ = *port;
  thread_ = std::thread([this] { io_.run(); });
}

void TestAgent::stop() {
  asio::post(io_, [this] { agent_->stop(); });
}

void TestAgent::advance_time(Duration by) {
  std::promise<void> advanced;
  asio::post(io_, [&] {
    clock_.advance(by);
    advanced.set_value();
  });
  advanced.get_future().wait();
}

TestAgent::~TestAgent() {
  stop();
  thread_.join();  // returns once the probes in flight are answered
}

ChildProcess::ChildProcess(std::vector<std::string> arguments,
                           std::vector<std::string> environment) {
  auto pointers = [](std::vector<std::string>& strings) {
    std::vector<char*> out;
    for (auto& s : strings) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
  };
  auto argv = pointers(arguments);
  auto envp = pointers(environment);
  pid_t pid = -1;
  if (posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), envp.data()) == 0) pid_ = pid;
}

ChildProcess::~ChildProcess() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
}

CommandOutput run_command(const std::string& command) {
  CommandOutput result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  std::array<char, 512> chunk;
  while (fgets(chunk.data(), chunk.size(), pipe)) result.output += chunk.data();
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::vector<std::string> sanitizer_environment() {
  std::vector<std::string> out;
  for (char** variable = environ; *variable; ++variable) {
    const std::string_view entry(*variable);
    if (entry.rfind("ASAN_OPTIONS=", 0) == 0 || entry.rfind("UBSAN_OPTIONS=", 0) == 0)
      out.emplace_back(entry);
  }
  return out;
}

AgentConfig agent_config(probe::AppProbers probers, std::string pod_ip) {
  AgentConfig config;
  config.address = "127.0.0.1";
  config.port = 0;
  config.pod_ip = std::move(pod_ip);
  config.probers = std::move(probers);
  return config;
}

}  // namespace meshprobe::agent::testing
