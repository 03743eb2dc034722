// A pipeline of child processes (stage 1 | stage 2 | ... ) that this process writes to and reads
// from, in a process group of its own so it can be killed as a whole. Used for Apertium's
// null-flush pipelines; knows nothing of Apertium.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace lx::mt {

class CancelToken;

// Thread-compatible: one caller at a time (the translator serializes with its own mutex).
// The destructor kills the group and reaps every child; no fd or zombie outlives it.
class ProcessPipeline {
 public:
  ProcessPipeline() = default;
  ~ProcessPipeline();
  ProcessPipeline(const ProcessPipeline&) = delete;
  ProcessPipeline& operator=(const ProcessPipeline&) = delete;

  // Starts the stages (argv vectors; programs looked up in PATH), stdin of the first and stdout
  // of the last connected to this object, stderr to /dev/null, SIGPIPE at its default in them.
  // Kills what was running first. Unavailable when a stage cannot be started.
  Status Start(const std::vector<std::vector<std::string>>& stages);

  // Writes `request` and reads until `terminator`, both at once (a long request cannot fill the
  // pipes and deadlock). Returns the bytes before the terminator. Unavailable when a stage has
  // exited or the pipe broke, when nothing was written nor read for `idle_timeout`, or when
  // `cancel` was set (checked every few ms). Blocks. After a failure the pipeline is in an
  // unknown state: the caller kills it.
  Result<std::string> Exchange(std::string_view request, char terminator,
                               std::chrono::milliseconds idle_timeout, const CancelToken* cancel);

  // Kills the whole group (SIGKILL), reaps the children and closes the pipes. Idempotent.
  void Kill();

  // Whether it was started and no stage has exited since (reaps exited stages).
  bool Running();

  // The children's process ids, first stage first (diagnostics and tests).
  const std::vector<pid_t>& pids() const { return pids_; }

 private:
  Status Spawn(const std::vector<std::vector<std::string>>& stages);

  std::vector<pid_t> pids_;
  std::vector<bool> reaped_;  // per pid: already waited for
  pid_t group_ = 0;
  int to_child_ = -1;    // write end of the first stage's stdin
  int from_child_ = -1;  // read end of the last stage's stdout
  std::string pending_;  // bytes read past the last terminator
};

}  // namespace lx::mt
