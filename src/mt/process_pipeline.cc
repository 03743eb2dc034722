#include "mt/process_pipeline.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "mt/translator.h"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX declares it nowhere

namespace lx::mt {
namespace {

// How often a wait wakes to look at a cancel token.
constexpr std::chrono::milliseconds kCancelCheck{5};
constexpr size_t kReadChunk = 64 * 1024;

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Blocks SIGPIPE in this thread while it writes to a pipe, and swallows a SIGPIPE the write
// raised, so a dead pipeline is an EPIPE and never kills the process (whatever its handler).
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&sigpipe_);
    sigaddset(&sigpipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    ::sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    ::pthread_sigmask(SIG_BLOCK, &sigpipe_, &old_mask_);
  }
  ~ScopedSigpipeBlock() {
    if (raised_ && !was_pending_) {
      const timespec zero{};
      while (::sigtimedwait(&sigpipe_, nullptr, &zero) == -1 && errno == EINTR) {
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;
  void NoteEpipe() { raised_ = true; }

 private:
  sigset_t sigpipe_{};
  sigset_t old_mask_{};
  bool was_pending_ = false;
  bool raised_ = false;
};

// A pipe whose ends close on exec (the children get theirs through dup2).
Status MakePipe(int fds[2]) {
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status::FromErrno("pipe", errno);
  return Status::Ok();
}

// The spawn attributes of one stage: its process group, default signal handlers, empty mask.
class SpawnAttributes {
 public:
  explicit SpawnAttributes(pid_t group) {
    ::posix_spawnattr_init(&attr_);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&defaults, sig);
    sigset_t empty;
    sigemptyset(&empty);
    ::posix_spawnattr_setsigdefault(&attr_, &defaults);
    ::posix_spawnattr_setsigmask(&attr_, &empty);
    ::posix_spawnattr_setpgroup(&attr_, group);
    ::posix_spawnattr_setflags(
        &attr_, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  }
  ~SpawnAttributes() { ::posix_spawnattr_destroy(&attr_); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  const posix_spawnattr_t* get() const { return &attr_; }

 private:
  posix_spawnattr_t attr_{};
};

// Starts `argv` with stdin, stdout and stderr from the given descriptors.
Result<pid_t> SpawnStage(const std::vector<std::string>& argv, int in, int out, int err,
                         pid_t group) {
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_adddup2(&actions, in, STDIN_FILENO);
  ::posix_spawn_file_actions_adddup2(&actions, out, STDOUT_FILENO);
  ::posix_spawn_file_actions_adddup2(&actions, err, STDERR_FILENO);
  // Descriptors other threads opened without O_CLOEXEC (sockets, files) stay out of the stage.
  ::posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  const SpawnAttributes attributes(group);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int error = ::posix_spawnp(&pid, args[0], &actions, attributes.get(), args.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  if (error != 0) {
    return Status::Unavailable(Status::FromErrno("cannot start " + argv[0], error).message());
  }
  return pid;
}

// Milliseconds to wait in poll: what is left of the idle budget, in short steps when a cancel
// token must be watched.
int PollTimeoutMs(std::chrono::steady_clock::time_point deadline, const CancelToken* cancel) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (cancel != nullptr) left = std::min(left, kCancelCheck);
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

}  // namespace

ProcessPipeline::~ProcessPipeline() { Kill(); }

Status ProcessPipeline::Start(const std::vector<std::vector<std::string>>& stages) {
  Kill();
  if (stages.empty()) return Status::InvalidArgument("a pipeline needs a stage");
  Status status = Spawn(stages);
  if (!status.ok()) Kill();
  return status;
}

Status ProcessPipeline::Spawn(const std::vector<std::vector<std::string>>& stages) {
  int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (devnull < 0) return Status::FromErrno("/dev/null", errno);
  int input[2];
  if (Status s = MakePipe(input); !s.ok()) {
    CloseFd(devnull);
    return s;
  }
  to_child_ = input[1];
  int stage_in = input[0];
  Status status;
  for (size_t i = 0; i < stages.size() && status.ok(); ++i) {
    int output[2];
    status = MakePipe(output);
    if (!status.ok()) break;
    auto pid = SpawnStage(stages[i], stage_in, output[1], devnull, group_);
    CloseFd(stage_in);
    ::close(output[1]);
    stage_in = output[0];
    if (!pid.ok()) {
      status = pid.status();
      break;
    }
    pids_.push_back(pid.value());
    reaped_.push_back(false);
    if (group_ == 0) group_ = pid.value();
  }
  from_child_ = stage_in;
  CloseFd(devnull);
  if (!status.ok()) return status;
  for (int fd : {to_child_, from_child_}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return Status::Ok();
}

void ProcessPipeline::Kill() {
  if (group_ > 0) ::kill(-group_, SIGKILL);
  for (size_t i = 0; i < pids_.size(); ++i) {
    if (reaped_[i]) continue;
    ::kill(pids_[i], SIGKILL);  // in case it is not in the group
    while (::waitpid(pids_[i], nullptr, 0) == -1 && errno == EINTR) {
    }
  }
  pids_.clear();
  reaped_.clear();
  group_ = 0;
  CloseFd(to_child_);
  CloseFd(from_child_);
  pending_.clear();
}

bool ProcessPipeline::Running() {
  bool running = !pids_.empty();
  for (size_t i = 0; i < pids_.size(); ++i) {
    if (!reaped_[i] && ::waitpid(pids_[i], nullptr, WNOHANG) == pids_[i]) reaped_[i] = true;
    running = running && !reaped_[i];
  }
  return running;
}

Result<std::string> ProcessPipeline::Exchange(std::string_view request, char terminator,
                                              std::chrono::milliseconds idle_timeout,
                                              const CancelToken* cancel) {
  if (to_child_ < 0 || from_child_ < 0) return Status::Unavailable("the pipeline is not running");
  ScopedSigpipeBlock sigpipe_block;
  auto deadline = std::chrono::steady_clock::now() + idle_timeout;
  char buffer[kReadChunk];
  while (true) {
    if (const size_t end = pending_.find(terminator); end != std::string::npos) {
      std::string answer = pending_.substr(0, end);
      pending_.erase(0, end + 1);
      return answer;
    }
    if (cancel != nullptr && cancel->cancelled()) return Status::Unavailable("cancelled");
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Unavailable("the pipeline did not answer within " +
                                 std::to_string(idle_timeout.count()) + " ms");
    }
    pollfd fds[2] = {{from_child_, POLLIN, 0}, {to_child_, POLLOUT, 0}};
    const nfds_t count = request.empty() ? 1 : 2;
    const int ready = ::poll(fds, count, PollTimeoutMs(deadline, cancel));
    if (ready < 0 && errno != EINTR) return Status::FromErrno("poll", errno);
    if (ready <= 0) continue;
    if (count == 2 && fds[1].revents != 0) {
      const ssize_t n = ::write(to_child_, request.data(), request.size());
      if (n < 0 && errno == EPIPE) sigpipe_block.NoteEpipe();
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return Status::Unavailable(
            Status::FromErrno("the pipeline stopped reading", errno).message());
      }
      if (n > 0) {
        request.remove_prefix(static_cast<size_t>(n));
        deadline = std::chrono::steady_clock::now() + idle_timeout;
      }
    }
    if (fds[0].revents != 0) {
      const ssize_t n = ::read(from_child_, buffer, sizeof buffer);
      if (n == 0) return Status::Unavailable("the pipeline closed its output (a stage exited)");
      if (n < 0 && errno != EAGAIN && errno != EINTR) return Status::FromErrno("read", errno);
      if (n > 0) {
        pending_.append(buffer, static_cast<size_t>(n));
        deadline = std::chrono::steady_clock::now() + idle_timeout;
      }
    }
  }
}

}  // namespace lx::mt
