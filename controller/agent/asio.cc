#include "agent/asio.h"

namespace meshprobe::agent {

void spawn_probe(const asio::any_io_executor& executor, asio::awaitable<ProbeOutcome> probe,
                 std::function<void(ProbeOutcome)> done) {
  asio::co_spawn(executor, std::move(probe),
                 [done = std::move(done)](std::exception_ptr exception, ProbeOutcome outcome) {
                   if (exception)
                     outcome = ProbeOutcome::failure(FailureReason::kConnectionError,
                                                     "the agent ran out of memory");
                   done(std::move(outcome));
                 });
}

FailureReason reason_for(const error_code& error) {
  if (error == beast::error::timeout) return FailureReason::kTimeout;
  if (error == asio::error::connection_refused) return FailureReason::kConnectionRefused;
  if (error.category() == asio::error::get_ssl_category() ||
      error.category() == asio::ssl::error::get_stream_category()) {
    return FailureReason::kTls;
  }
  return FailureReason::kConnectionError;
}

std::string describe_failure(std::string_view step, std::string_view address, int port,
                             const error_code& error) {
  const bool ipv6 = address.find(':') != std::string_view::npos;
  std::string where = ipv6 ? "[" + std::string(address) + "]" : std::string(address);
  return std::string(step) + " " + where + ":" + std::to_string(port) + ": " + error.message();
}

}  // namespace meshprobe::agent
