#include "harness/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

extern char** environ;

namespace meshprobe::e2e {
namespace {

// Owns a file descriptor and closes it.
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int descriptor) : descriptor_(descriptor) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() { close(); }

  int get() const { return descriptor_; }
  bool open() const { return descriptor_ >= 0; }
  void close() {
    if (descriptor_ >= 0) ::close(descriptor_);
    descriptor_ = -1;
  }

 private:
  int descriptor_ = -1;
};

std::string command_line(const std::vector<std::string>& arguments) {
  std::string line;
  for (const auto& argument : arguments) {
    if (!line.empty()) line += ' ';
    if (!argument.empty() &&
        argument.find_first_of(" \t\n'\"\\$*?;&|<>(){}") == std::string::npos) {
      line += argument;
    } else {
      line += '\'';
      for (char character : argument)
        line += character == '\'' ? std::string("'\\''") : std::string(1, character);
      line += '\'';
    }
  }
  return line;
}

std::string system_error(const std::string& what) { return what + ": " + std::strerror(errno); }

// Reads what is available on `descriptor` into `sink`; closes it at end of file.
void drain(FileDescriptor& descriptor, std::string& sink) {
  char buffer[16384];
  ssize_t count = ::read(descriptor.get(), buffer, sizeof buffer);
  if (count > 0) {
    sink.append(buffer, static_cast<size_t>(count));
  } else if (count == 0 || (errno != EINTR && errno != EAGAIN)) {
    descriptor.close();
  }
}

int decode_wait_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

CommandResult run_command(const std::vector<std::string>& arguments, std::string_view input,
                          std::chrono::milliseconds timeout) {
  CommandResult result;
  result.command_line = command_line(arguments);
  if (arguments.empty()) {
    result.standard_error = "run_command: no program given";
    return result;
  }

  // Standard input is a socket, not a pipe, so that writing to a program that exited early
  // fails with EPIPE (send with MSG_NOSIGNAL) instead of killing the test with SIGPIPE.
  int input_pair[2], output_pipe[2], error_pipe[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, input_pair) != 0) {
    result.standard_error = system_error("socketpair");
    return result;
  }
  FileDescriptor input_ours(input_pair[0]), input_theirs(input_pair[1]);
  if (::pipe2(output_pipe, O_CLOEXEC) != 0) {
    result.standard_error = system_error("pipe2");
    return result;
  }
  FileDescriptor output_ours(output_pipe[0]), output_theirs(output_pipe[1]);
  if (::pipe2(error_pipe, O_CLOEXEC) != 0) {
    result.standard_error = system_error("pipe2");
    return result;
  }
  FileDescriptor error_ours(error_pipe[0]), error_theirs(error_pipe[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, input_theirs.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, output_theirs.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, error_theirs.get(), STDERR_FILENO);
  std::vector<char*> argv;
  for (const auto& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  // Its own process group, so that a timeout kills whatever it started too.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  pid_t pid = 0;
  int spawn_error = ::posix_spawn(&pid, argv[0], &actions, &attributes, argv.data(), environ);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  if (spawn_error != 0) {
    result.standard_error = "cannot start " + arguments[0] + ": " + std::strerror(spawn_error);
    return result;
  }
  input_theirs.close();
  output_theirs.close();
  error_theirs.close();

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t written = 0;
  if (input.empty()) input_ours.close();
  bool timed_out = false;
  while (output_ours.open() || error_ours.open()) {
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (remaining.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd descriptors[3] = {{output_ours.get(), POLLIN, 0},
                             {error_ours.get(), POLLIN, 0},
                             {input_ours.get(), POLLOUT, 0}};  // negative descriptors are ignored
    if (::poll(descriptors, 3, static_cast<int>(remaining.count())) < 0) {
      if (errno == EINTR) continue;
      result.standard_error += system_error("poll");
      timed_out = true;  // cannot watch it any more: stop it
      break;
    }
    if (descriptors[0].revents != 0) drain(output_ours, result.standard_output);
    if (descriptors[1].revents != 0) drain(error_ours, result.standard_error);
    if (descriptors[2].revents != 0) {
      ssize_t count = ::send(input_ours.get(), input.data() + written, input.size() - written,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
      if (count > 0) written += static_cast<size_t>(count);
      // All written, or the program stopped reading (it sees the rest as missing).
      if (written == input.size() || (count < 0 && errno != EAGAIN && errno != EINTR)) {
        input_ours.close();
      }
    }
  }

  if (timed_out) ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    result.exit_status = -1;
    result.standard_error += "\n[killed after " + std::to_string(timeout.count()) + " ms]";
  } else {
    result.exit_status = decode_wait_status(status);
  }
  return result;
}

::testing::AssertionResult command_succeeded(const CommandResult& result) {
  if (result.succeeded()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "`" << result.command_line << "` exited with "
                                       << result.exit_status << "\nstandard output:\n"
                                       << result.standard_output << "\nstandard error:\n"
                                       << result.standard_error;
}

}  // namespace meshprobe::e2e
