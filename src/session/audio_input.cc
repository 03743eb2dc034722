#include "session/audio_input.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "audio/resampler.h"

namespace lx::session {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

// Audio a push queue holds at most.
constexpr size_t kPushQueueLimitSamples = 10 * audio::kSampleRate;

// A file, decoded as transcribe decodes it, delivered no faster than speed × real time.
class FileInput final : public AudioInput {
 public:
  FileInput(SourceConfig source, std::unique_ptr<audio::AudioSource> file)
      : source_(std::move(source)), file_(std::move(file)) {}

  Result<size_t> Read(std::vector<float>* out, size_t max_samples, int timeout_ms) override {
    out->clear();
    if (ended()) return size_t{0};
    if (!WaitForPace(max_samples, timeout_ms)) return size_t{0};
    auto read = file_->Read(out, max_samples);
    if (!read.ok()) return read.status();
    if (*read == 0) return AtEnd();
    delivered_samples_ += *read;
    samples_this_pass_ += *read;
    return *read;
  }
  bool ended() const override { return ended_.load(); }
  void Close() override { ended_ = true; }
  void Resumed() override { anchored_ = false; }

  // How long ago the first unread sample came due.
  double LagSeconds() const override {
    if (source_.speed <= 0 || !anchored_ || ended()) return 0;
    const double elapsed_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - anchor_).count();
    const double due_s =
        static_cast<double>(delivered_samples_) / audio::kSampleRate / source_.speed;
    return std::max(0.0, elapsed_s - due_s);
  }
  bool CanDrop() const override { return source_.speed > 0; }

  Result<double> Drop(double lag_s) override {
    auto remaining = static_cast<size_t>(
        std::llround(std::max(0.0, lag_s) * source_.speed * audio::kSampleRate));
    size_t dropped = 0;
    while (remaining > 0 && !ended()) {
      auto read = file_->Read(&scratch_, std::min<size_t>(remaining, 16000));
      if (!read.ok()) return read.status();
      if (*read == 0) {
        if (auto end = AtEnd(); !end.ok()) return end.status();
        continue;  // reopened (looping), or ended()
      }
      delivered_samples_ += *read;
      samples_this_pass_ += *read;
      dropped += *read;
      remaining -= *read;
    }
    return static_cast<double>(dropped) / audio::kSampleRate;
  }

 private:
  // The playing time of `samples` at the source's speed.
  SteadyTime::duration PlayTime(size_t samples) const {
    const double seconds = static_cast<double>(samples) / audio::kSampleRate / source_.speed;
    return std::chrono::duration_cast<SteadyTime::duration>(std::chrono::duration<double>(seconds));
  }

  // When the audio after the next max_samples is due. A reader that fell behind (a slow final
  // pass) catches up, as a live source's buffered audio would let it; only a pause (Resumed)
  // restarts the schedule.
  SteadyTime Due(size_t max_samples) {
    if (!anchored_) {
      anchor_ = std::chrono::steady_clock::now() - PlayTime(delivered_samples_);
      anchored_ = true;
    }
    return anchor_ + PlayTime(delivered_samples_ + max_samples);
  }

  // Sleeps until the next chunk is due; false when that is more than timeout_ms away (having
  // slept timeout_ms).
  bool WaitForPace(size_t max_samples, int timeout_ms) {
    if (source_.speed <= 0) return true;
    const SteadyTime due = Due(max_samples);
    const SteadyTime deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
    std::this_thread::sleep_until(std::min(due, deadline));
    return due <= deadline;
  }

  // The file ended: start again (loop) or report the end.
  Result<size_t> AtEnd() {
    if (!source_.loop || samples_this_pass_ == 0) {
      ended_ = true;  // an empty pass never loops, or the worker would spin
      return size_t{0};
    }
    auto reopened = audio::OpenAudioFile(source_.path);
    if (!reopened.ok()) return reopened.status();
    file_ = std::move(reopened).value();
    samples_this_pass_ = 0;
    return size_t{0};
  }

  const SourceConfig source_;
  std::unique_ptr<audio::AudioSource> file_;
  std::atomic<bool> ended_{false};
  size_t delivered_samples_ = 0;  // since the session began
  size_t samples_this_pass_ = 0;  // since the file was last opened
  bool anchored_ = false;
  SteadyTime anchor_;           // when sample 0 was (virtually) due
  std::vector<float> scratch_;  // what Drop discards
};

// A capture device; the device is closed when this is destroyed.
class MicInput final : public AudioInput {
 public:
  explicit MicInput(std::unique_ptr<audio::CaptureDevice> device) : device_(std::move(device)) {}

  Result<size_t> Read(std::vector<float>* out, size_t max_samples, int timeout_ms) override {
    if (ended()) {
      out->clear();
      return size_t{0};
    }
    return device_->Read(out, max_samples, timeout_ms);
  }
  bool ended() const override { return closed_.load(); }
  void Close() override { closed_ = true; }

 private:
  std::unique_ptr<audio::CaptureDevice> device_;
  std::atomic<bool> closed_{false};
};

// Little-endian PCM bytes to floats in [-1, 1].
void DecodePcm(std::span<const unsigned char> frame, audio::RawFormat format,
               std::vector<float>* out) {
  out->clear();
  if (format == audio::RawFormat::kS16LE) {
    for (size_t i = 0; i + 1 < frame.size(); i += 2) {
      const auto value = static_cast<int16_t>(static_cast<uint16_t>(frame[i]) |
                                              static_cast<uint16_t>(frame[i + 1] << 8));
      out->push_back(static_cast<float>(value) / 32768.0f);
    }
    return;
  }
  for (size_t i = 0; i + 3 < frame.size(); i += 4) {
    const uint32_t bits =
        static_cast<uint32_t>(frame[i]) | static_cast<uint32_t>(frame[i + 1]) << 8 |
        static_cast<uint32_t>(frame[i + 2]) << 16 | static_cast<uint32_t>(frame[i + 3]) << 24;
    float value = 0;
    std::memcpy(&value, &bits, sizeof value);
    out->push_back(std::isfinite(value) ? std::clamp(value, -1.0f, 1.0f) : 0.0f);
  }
}

class PushQueue final : public PushInput {
 public:
  PushQueue(SourceConfig source, std::unique_ptr<audio::Resampler> resampler)
      : source_(std::move(source)), resampler_(std::move(resampler)) {}

  Status Push(std::span<const unsigned char> frame) override {
    const size_t sample_bytes = source_.format == audio::RawFormat::kS16LE ? 2 : 4;
    if (frame.size() % sample_bytes != 0) {
      return Status::InvalidArgument("a frame of " + std::to_string(frame.size()) +
                                     " bytes is not a whole number of " +
                                     std::to_string(sample_bytes) + "-byte samples");
    }
    std::lock_guard lock(mutex_);
    if (closed_) return Status::FailedPrecondition("the session's audio input is closed");
    if (queue_.size() >= kPushQueueLimitSamples) {
      return Status::Unavailable("more than 10 s of pushed audio is waiting; slow down");
    }
    DecodePcm(frame, source_.format, &decoded_);
    if (Status s = Convert(); !s.ok()) return s;
    queue_.insert(queue_.end(), converted_.begin(), converted_.end());
    if (!converted_.empty()) {
      pushed_samples_ += converted_.size();
      pushes_.push_back({pushed_samples_, std::chrono::steady_clock::now()});
      ready_.notify_one();
    }
    return Status::Ok();
  }

  Result<size_t> Read(std::vector<float>* out, size_t max_samples, int timeout_ms) override {
    out->clear();
    std::unique_lock lock(mutex_);
    ready_.wait_for(lock, std::chrono::milliseconds(std::max(timeout_ms, 0)),
                    [&] { return !queue_.empty() || closed_; });
    const size_t count = std::min(max_samples, queue_.size());
    const auto end = queue_.begin() + static_cast<std::ptrdiff_t>(count);
    out->assign(queue_.begin(), end);
    queue_.erase(queue_.begin(), end);
    read_samples_ += count;
    while (!pushes_.empty() && pushes_.front().end_sample <= read_samples_) pushes_.pop_front();
    return count;
  }

  bool ended() const override {
    std::lock_guard lock(mutex_);
    return closed_ && queue_.empty();
  }

  // How long the oldest queued sample has waited.
  double LagSeconds() const override {
    std::lock_guard lock(mutex_);
    if (queue_.empty() || pushes_.empty()) return 0;
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - pushes_.front().at)
        .count();
  }

  void Close() override {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    converted_.clear();
    if (resampler_ != nullptr && resampler_->Flush(&converted_).ok()) {
      queue_.insert(queue_.end(), converted_.begin(), converted_.end());
    }
    ready_.notify_all();
  }

 private:
  // decoded_ at the source rate -> converted_ at 16 kHz. Caller holds mutex_.
  Status Convert() {
    converted_.clear();
    if (resampler_ == nullptr) {
      converted_.swap(decoded_);
      return Status::Ok();
    }
    return resampler_->Process(decoded_, &converted_);
  }

  const SourceConfig source_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;                // queue_ grew or closed_ was set
  std::unique_ptr<audio::Resampler> resampler_;  // guarded by mutex_; null at 16 kHz
  std::deque<float> queue_;                      // guarded by mutex_
  std::vector<float> decoded_;                   // guarded by mutex_ (scratch)
  std::vector<float> converted_;                 // guarded by mutex_ (scratch)
  bool closed_ = false;                          // guarded by mutex_
  // When each pushed frame's audio arrived (for LagSeconds), oldest first, up to the unread.
  struct PushedAt {
    uint64_t end_sample;  // the frame's audio ends at this count of samples ever pushed
    SteadyTime at;
  };
  std::deque<PushedAt> pushes_;  // guarded by mutex_
  uint64_t pushed_samples_ = 0;  // guarded by mutex_
  uint64_t read_samples_ = 0;    // guarded by mutex_
};

Result<std::unique_ptr<AudioInput>> OpenPush(const SourceConfig& source) {
  std::unique_ptr<audio::Resampler> resampler;
  if (source.sample_rate != audio::kSampleRate) {
    auto created = audio::Resampler::Create(source.sample_rate, audio::kSampleRate);
    if (!created.ok()) return created.status();
    resampler = std::move(created).value();
  }
  return std::unique_ptr<AudioInput>(std::make_unique<PushQueue>(source, std::move(resampler)));
}

}  // namespace

Result<std::unique_ptr<AudioInput>> OpenAudioInput(const SourceConfig& source,
                                                   audio::CaptureBackend& capture) {
  switch (source.type) {
    case SourceConfig::Type::kFile: {
      auto file = audio::OpenAudioFile(source.path);
      if (!file.ok()) return file.status();
      return std::unique_ptr<AudioInput>(
          std::make_unique<FileInput>(source, std::move(file).value()));
    }
    case SourceConfig::Type::kMic: {
      auto device = capture.Open(source.device);
      if (!device.ok()) return device.status();
      return std::unique_ptr<AudioInput>(std::make_unique<MicInput>(std::move(device).value()));
    }
    case SourceConfig::Type::kPush:
      return OpenPush(source);
  }
  return Status::InvalidArgument("unknown source type");
}

}  // namespace lx::session
