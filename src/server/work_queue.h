// A thread of its own for the API's blocking work, fed from a bounded queue.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "base/status.h"

namespace lx::server {

// Runs jobs that must not run on a network thread (loading a model, opening a device, reading
// a file) one at a time, in submission order, on one thread that starts with the first job.
// Thread-safe.
//
// Overflow policy: refuse. Submit fails with Unavailable when `limit_jobs` jobs are already
// waiting (the one running does not count), and the caller answers 503. An accepted job always
// runs, unless the queue is destroyed first.
class WorkQueue {
 public:
  explicit WorkQueue(size_t limit_jobs) : limit_jobs_(limit_jobs) {}
  // Waits for the running job, destroys the waiting ones unrun, and joins the thread.
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `job` and returns at once. Unavailable when the queue is full or the thread cannot
  // be started. An exception escaping `job` is logged and swallowed.
  Status Submit(std::function<void()> job);

 private:
  void Run();

  const size_t limit_jobs_;
  std::mutex mutex_;
  std::condition_variable wake_;            // a job came, or stopping_ was set
  std::deque<std::function<void()>> jobs_;  // guarded by mutex_
  bool stopping_ = false;                   // guarded by mutex_
  std::thread thread_;                      // guarded by mutex_; started by the first Submit
};

}  // namespace lx::server
