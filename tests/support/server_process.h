// A `loquilex serve --port 0` child process for end-to-end tests: started with its stderr in
// <dir>/server.log, its URL read from its first line of output, killed (SIGKILL) when destroyed.
// Not thread-safe: one test thread drives it.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "support/run_command.h"
#include "support/ws_client.h"

namespace lx::testing {

class ServerProcess {
 public:
  static constexpr char kHost[] = "127.0.0.1";

  ServerProcess() = default;
  ~ServerProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts `loquilex serve --port 0 --data-dir <dir>/data <extra_args>` and reads the URL it
  // prints first. False when it did not come up within 20 s.
  bool Start(const std::filesystem::path& dir, const std::vector<std::string>& extra_args = {}) {
    std::vector<std::string> args = {Binary(), "serve",      "--port",
                                     "0",      "--data-dir", (dir / "data").string()};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    int pipe_fds[2];
    if (::pipe(pipe_fds) != 0) return false;
    const std::string log = (dir / "server.log").string();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(pipe_fds[1], STDOUT_FILENO);
      const int err = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (err >= 0) ::dup2(err, STDERR_FILENO);
      std::vector<char*> argv;
      for (auto& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(pipe_fds[1]);
    out_ = pipe_fds[0];
    const std::string line = ReadLine(20000);
    const std::string prefix = std::string("http://") + kHost + ":";
    if (line.rfind(prefix, 0) != 0) return false;
    port_ = static_cast<uint16_t>(std::stoi(line.substr(prefix.size())));
    return true;
  }

  // Sends `signal` and waits up to timeout_ms for the exit: the exit code (128 + the signal when
  // a signal ended it), or -1 on timeout or when no server runs.
  int Signal(int signal, int timeout_ms) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, signal);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

  // One request to the server over a fresh connection (see SendHttp).
  HttpReply Http(const std::string& method, const std::string& target,
                 const std::string& body = "") const {
    return SendHttp(kHost, port_, method, target, body);
  }
  uint16_t port() const { return port_; }

 private:
  std::string ReadLine(int timeout_ms) {
    std::string line;
    pollfd fd{out_, POLLIN, 0};
    char c = 0;
    while (::poll(&fd, 1, timeout_ms) > 0 && ::read(out_, &c, 1) == 1) {
      if (c == '\n') return line;
      line += c;
    }
    return line;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  uint16_t port_ = 0;
};

}  // namespace lx::testing
