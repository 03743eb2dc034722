// A scripted capture backend for tests: it counts the devices it opens and the ones destroyed, so a
// test can check that every device opened for a session is closed on every path.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "audio/capture.h"

namespace lx::testing {

// Shared by a FakeCaptureBackend, its devices and the test; safe to read from any thread.
struct FakeCaptureCounters {
  std::atomic<int> open_attempts{0};  // Open calls, failed ones included
  std::atomic<int> opens{0};          // devices handed out
  std::atomic<int> closes{0};         // devices destroyed
  int open_now() const { return opens.load() - closes.load(); }
};

// What every device of a FakeCaptureBackend does.
struct FakeCaptureScript {
  std::vector<float> samples{};  // delivered in order, at most max_samples per Read
  Status open_error{};           // not Ok: Open fails with it
  Status read_error{};           // not Ok: once `samples` are delivered, every Read fails with it
  bool throw_from_read = false;  // once `samples` are delivered, Read throws std::runtime_error
  int sample_rate = 16000;       // reported in info()
  int channels = 1;              // reported in info()
  int64_t overruns = 0;          // reported by overruns()
  std::vector<audio::CaptureDeviceInfo> devices{};  // what ListDevices returns
};

// Plays the script; once it is delivered (and without an error to report), Read sleeps for its
// timeout and returns 0, like an idle device.
class FakeCaptureDevice final : public audio::CaptureDevice {
 public:
  FakeCaptureDevice(std::string name, std::shared_ptr<const FakeCaptureScript> script,
                    std::shared_ptr<FakeCaptureCounters> counters)
      : script_(std::move(script)), counters_(std::move(counters)) {
    info_ = {.name = std::move(name),
             .format = "fake",
             .sample_rate = script_->sample_rate,
             .channels = script_->channels,
             .frames = -1};
  }
  FakeCaptureDevice(const FakeCaptureDevice&) = delete;
  FakeCaptureDevice& operator=(const FakeCaptureDevice&) = delete;
  ~FakeCaptureDevice() override { ++counters_->closes; }

  Result<size_t> Read(std::vector<float>* out, size_t max_samples, int timeout_ms) override {
    if (max_samples == 0) return Status::InvalidArgument(info_.name + ": Read asked for 0 samples");
    const std::vector<float>& samples = script_->samples;
    if (next_ < samples.size()) {
      const size_t count = std::min(max_samples, samples.size() - next_);
      const auto first = samples.begin() + static_cast<std::ptrdiff_t>(next_);
      out->assign(first, first + static_cast<std::ptrdiff_t>(count));
      next_ += count;
      return count;
    }
    if (script_->throw_from_read) throw std::runtime_error(info_.name + ": scripted throw");
    if (!script_->read_error.ok()) return script_->read_error;
    out->clear();
    std::this_thread::sleep_for(std::chrono::milliseconds(std::max(timeout_ms, 0)));
    return size_t{0};
  }

  const audio::SourceInfo& info() const override { return info_; }
  int64_t overruns() const override { return script_->overruns; }

 private:
  std::shared_ptr<const FakeCaptureScript> script_;
  std::shared_ptr<FakeCaptureCounters> counters_;
  audio::SourceInfo info_;
  size_t next_ = 0;
};

// Opens FakeCaptureDevices that all play the same script. Thread-safe, like the real backend.
class FakeCaptureBackend final : public audio::CaptureBackend {
 public:
  explicit FakeCaptureBackend(
      FakeCaptureScript script,
      std::shared_ptr<FakeCaptureCounters> counters = std::make_shared<FakeCaptureCounters>())
      : script_(std::make_shared<const FakeCaptureScript>(std::move(script))),
        counters_(std::move(counters)) {}

  Result<std::unique_ptr<audio::CaptureDevice>> Open(const std::string& device) override {
    ++counters_->open_attempts;
    if (!script_->open_error.ok()) return script_->open_error;
    ++counters_->opens;
    return std::unique_ptr<audio::CaptureDevice>(
        new FakeCaptureDevice(device.empty() ? "default" : device, script_, counters_));
  }

  Result<std::vector<audio::CaptureDeviceInfo>> ListDevices() override { return script_->devices; }

  const FakeCaptureCounters& counters() const { return *counters_; }

 private:
  std::shared_ptr<const FakeCaptureScript> script_;
  std::shared_ptr<FakeCaptureCounters> counters_;
};

}  // namespace lx::testing
