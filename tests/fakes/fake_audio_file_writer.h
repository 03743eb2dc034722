// An audio file writer that keeps its samples in memory and fails on cue: a disk that fills up.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "audio/audio_file_writer.h"

namespace lx::testing {

// What a FakeAudioFileWriter did; shared with the test and safe to read from any thread.
class FakeAudioFile {
 public:
  std::vector<float> samples() const {
    std::lock_guard lock(mutex_);
    return samples_;
  }
  int writes_after_failure() const {
    std::lock_guard lock(mutex_);
    return writes_after_failure_;
  }
  int closes() const {
    std::lock_guard lock(mutex_);
    return closes_;
  }

 private:
  friend class FakeAudioFileWriter;
  mutable std::mutex mutex_;
  std::vector<float> samples_;    // guarded by mutex_
  int writes_after_failure_ = 0;  // guarded by mutex_
  int closes_ = 0;                // guarded by mutex_
};

// Takes up to `capacity_samples`; the Write that would go beyond fails with IOError ("No space
// left on device"), writing nothing, and so does every later one, as the real writer's do.
class FakeAudioFileWriter final : public audio::AudioFileWriter {
 public:
  FakeAudioFileWriter(std::string path, std::shared_ptr<FakeAudioFile> file,
                      size_t capacity_samples)
      : path_(std::move(path)), file_(std::move(file)), capacity_samples_(capacity_samples) {}

  Status Write(std::span<const float> samples) override {
    std::lock_guard lock(file_->mutex_);
    if (!error_.ok()) {
      ++file_->writes_after_failure_;
      return error_;
    }
    if (file_->samples_.size() + samples.size() > capacity_samples_) {
      error_ = Status::IOError("cannot write to " + path_ + ": No space left on device");
      return error_;
    }
    file_->samples_.insert(file_->samples_.end(), samples.begin(), samples.end());
    return Status::Ok();
  }
  Status Close() override {
    std::lock_guard lock(file_->mutex_);
    ++file_->closes_;
    return error_;
  }
  const std::string& path() const override { return path_; }

 private:
  const std::string path_;
  const std::shared_ptr<FakeAudioFile> file_;
  const size_t capacity_samples_;
  Status error_;  // guarded by file_->mutex_
};

}  // namespace lx::testing
