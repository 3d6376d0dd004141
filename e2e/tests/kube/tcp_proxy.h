// TcpProxy: a loopback TCP relay between a client under test and kube-apiserver, so a test
// can cut the client off (connections reset, new ones refused) while the server keeps
// running, then let it back in. TLS passes through untouched.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace meshprobe::e2e {

class TcpProxy {
 public:
  // Listens on 127.0.0.1 (a free port) and relays to targetHost:targetPort.
  TcpProxy(const std::string& target_host, std::uint16_t target_port);
  ~TcpProxy();

  std::uint16_t port() const;
  // Resets every relayed connection and stops listening: clients see refused connections.
  void cut();
  // Listens again on the same port.
  void resume();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace meshprobe::e2e
