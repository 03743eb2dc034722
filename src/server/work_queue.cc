#include "server/work_queue.h"

#include <spdlog/spdlog.h>

#include <exception>
#include <system_error>
#include <utility>

namespace lx::server {

WorkQueue::~WorkQueue() {
  std::thread thread;
  std::deque<std::function<void()>> unrun;
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
    unrun.swap(jobs_);
    thread = std::move(thread_);
  }
  wake_.notify_all();
  if (thread.joinable()) thread.join();
  // `unrun` goes here, outside the lock: destroying a job may release what it captured.
}

Status WorkQueue::Submit(std::function<void()> job) {
  const std::lock_guard lock(mutex_);
  if (stopping_) return Status::Unavailable("the server is shutting down");
  if (jobs_.size() >= limit_jobs_) {
    return Status::Unavailable("too many requests are waiting for the worker; try again later");
  }
  if (!thread_.joinable()) {
    try {
      thread_ = std::thread([this] { Run(); });
    } catch (const std::system_error& e) {
      return Status::Unavailable(std::string("cannot start a worker thread: ") + e.what());
    }
  }
  jobs_.push_back(std::move(job));
  wake_.notify_one();
  return Status::Ok();
}

void WorkQueue::Run() {
  while (true) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    try {
      job();
    } catch (const std::exception& e) {
      spdlog::error("a worker job failed: {}", e.what());
    } catch (...) {
      spdlog::error("a worker job failed");
    }
  }
}

}  // namespace lx::server
