// meshprobe_tcp_proxy: TcpProxy (tcp_proxy.h) as a process, for the shell tests:
//   meshprobe_tcp_proxy TARGET_HOST TARGET_PORT
// prints the port it listens on (127.0.0.1) as one line, then: SIGUSR1 cuts (every relayed
// connection reset, new ones refused), SIGUSR2 resumes, SIGTERM or SIGINT exits.
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "tcp_proxy.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: meshprobe_tcp_proxy TARGET_HOST TARGET_PORT\n";
    return 2;
  }
  // Blocked before the proxy starts its thread, so that only sigwait below takes them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal : {SIGUSR1, SIGUSR2, SIGTERM, SIGINT}) sigaddset(&signals, signal);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  meshprobe::e2e::TcpProxy proxy(argv[1], static_cast<std::uint16_t>(std::stoi(argv[2])));
  std::cout << proxy.port() << std::endl;
  while (true) {
    int signal = 0;
    if (sigwait(&signals, &signal) != 0) return 1;
    if (signal == SIGUSR1) {
      proxy.cut();
      std::cerr << "meshprobe_tcp_proxy: cut\n";
    } else if (signal == SIGUSR2) {
      proxy.resume();
      std::cerr << "meshprobe_tcp_proxy: resumed\n";
    } else {
      return 0;
    }
  }
}
