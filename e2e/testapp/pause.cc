// The pod sandbox's only process (containerd's sandbox_image): it holds the pod's namespaces
// and does nothing else. Waits for SIGINT or SIGTERM; reaps children, since it is PID 1 of the
// pod when the pod shares one PID namespace. Linked statically: its image holds nothing else.
#include <sys/wait.h>

#include <csignal>
#include <cstdio>
#include <initializer_list>

int main() {
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal : {SIGINT, SIGTERM, SIGCHLD}) sigaddset(&signals, signal);
  // Blocked signals are queued for sigwait() even for PID 1, which the kernel otherwise
  // shields from signals it has no handler for.
  if (sigprocmask(SIG_BLOCK, &signals, nullptr) != 0) {
    std::perror("pause: sigprocmask");
    return 1;
  }
  for (;;) {
    int signal = 0;
    if (sigwait(&signals, &signal) != 0) continue;
    if (signal != SIGCHLD) return 0;
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }
}
