#include "audio/alsa_capture.h"

#include <alsa/asoundlib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <span>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "audio/resampler.h"

namespace lx::audio {
namespace {

using Clock = std::chrono::steady_clock;

constexpr unsigned kWantedChannels = 1;
// Sample formats in order of preference; a device offering none of them cannot be used.
constexpr snd_pcm_format_t kFormats[] = {SND_PCM_FORMAT_S16_LE, SND_PCM_FORMAT_FLOAT_LE,
                                         SND_PCM_FORMAT_S32_LE};
// A roomy buffer lets the session's worker stall (a slow recognition step) without an overrun;
// short periods keep the latency of each Read low.
constexpr unsigned kBufferUs = 1'000'000;
constexpr unsigned kPeriodUs = 20'000;
// Non-blocking: a busy device fails at once instead of blocking Open. No automatic resampling or
// channel mixing: soxr converts better than alsa-lib's linear interpolation.
constexpr int kOpenMode = SND_PCM_NONBLOCK | SND_PCM_NO_AUTO_RESAMPLE | SND_PCM_NO_AUTO_CHANNELS;

// alsa-lib's error lines go to the log at debug level: a missing device is reported as a Status.
__attribute__((format(printf, 5, 6))) void ForwardAlsaError(const char* file, int line,
                                                            const char* function, int err,
                                                            const char* format, ...) {
  char text[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(text, sizeof text, format, args);
  va_end(args);
  if (err != 0) {
    spdlog::debug("alsa: {}:{} ({}) {}: {}", file, line, function, text, snd_strerror(err));
  } else {
    spdlog::debug("alsa: {}:{} ({}) {}", file, line, function, text);
  }
}

void RouteAlsaErrorsOnce() {
  static std::once_flag once;
  std::call_once(once, [] { snd_lib_error_set_handler(ForwardAlsaError); });
}

struct PcmCloser {
  void operator()(snd_pcm_t* pcm) const { snd_pcm_close(pcm); }
};
using PcmPtr = std::unique_ptr<snd_pcm_t, PcmCloser>;

struct HwParamsFree {
  void operator()(snd_pcm_hw_params_t* params) const { snd_pcm_hw_params_free(params); }
};

struct HintsFree {
  void operator()(void** hints) const { snd_device_name_free_hint(hints); }
};

struct CharFree {
  void operator()(char* text) const { std::free(text); }
};
using HintText = std::unique_ptr<char, CharFree>;

// What the device agreed to deliver.
struct PcmSetup {
  snd_pcm_format_t format = SND_PCM_FORMAT_UNKNOWN;
  unsigned rate = 0;
  unsigned channels = 0;
  size_t buffer_frames = 0;
};

Result<snd_pcm_format_t> ChooseFormat(snd_pcm_t* pcm, snd_pcm_hw_params_t* params,
                                      const std::string& name) {
  for (snd_pcm_format_t format : kFormats) {
    if (snd_pcm_hw_params_test_format(pcm, params, format) == 0) return format;
  }
  return Status::InvalidArgument(
      fmt::format("audio device \"{}\" offers none of the sample formats S16_LE, FLOAT_LE, S32_LE "
                  "(a plug: or plughw: device converts)",
                  name));
}

// Negotiates interleaved capture at the nearest of 16 kHz mono the device offers.
Result<PcmSetup> Configure(snd_pcm_t* pcm, const std::string& name) {
  snd_pcm_hw_params_t* raw_params = nullptr;
  if (int err = snd_pcm_hw_params_malloc(&raw_params); err < 0) {
    return AlsaErrorStatus(AlsaStep::kConfigure, name, err);
  }
  const std::unique_ptr<snd_pcm_hw_params_t, HwParamsFree> params(raw_params);
  PcmSetup setup;
  setup.channels = kWantedChannels;
  setup.rate = kSampleRate;
  unsigned buffer_us = kBufferUs;
  unsigned period_us = kPeriodUs;
  int err = snd_pcm_hw_params_any(pcm, params.get());
  if (err >= 0)
    err = snd_pcm_hw_params_set_access(pcm, params.get(), SND_PCM_ACCESS_RW_INTERLEAVED);
  if (err < 0) return AlsaErrorStatus(AlsaStep::kConfigure, name, err);
  Result<snd_pcm_format_t> format = ChooseFormat(pcm, params.get(), name);
  if (!format.ok()) return format.status();
  setup.format = *format;
  err = snd_pcm_hw_params_set_format(pcm, params.get(), setup.format);
  if (err >= 0) err = snd_pcm_hw_params_set_channels_near(pcm, params.get(), &setup.channels);
  if (err >= 0) err = snd_pcm_hw_params_set_rate_near(pcm, params.get(), &setup.rate, nullptr);
  if (err >= 0)
    err = snd_pcm_hw_params_set_buffer_time_near(pcm, params.get(), &buffer_us, nullptr);
  if (err >= 0)
    err = snd_pcm_hw_params_set_period_time_near(pcm, params.get(), &period_us, nullptr);
  if (err >= 0) err = snd_pcm_hw_params(pcm, params.get());
  snd_pcm_uframes_t buffer_frames = 0;
  if (err >= 0) err = snd_pcm_hw_params_get_buffer_size(params.get(), &buffer_frames);
  if (err < 0) return AlsaErrorStatus(AlsaStep::kConfigure, name, err);
  setup.buffer_frames = buffer_frames;
  return setup;
}

// Decodes one little-endian sample of `format` at `bytes` into [-1, 1]; NaN becomes 0.
float DecodeSample(snd_pcm_format_t format, const uint8_t* bytes) {
  uint32_t bits = 0;
  for (int i = snd_pcm_format_physical_width(format) / 8 - 1; i >= 0; --i) {
    bits = (bits << 8) | bytes[i];
  }
  switch (format) {
    case SND_PCM_FORMAT_S16_LE:
      return static_cast<float>(static_cast<int16_t>(bits)) / 32768.0f;
    case SND_PCM_FORMAT_S32_LE:
      return static_cast<float>(static_cast<int32_t>(bits)) / 2147483648.0f;
    default: {
      const float value = std::bit_cast<float>(bits);
      return std::isfinite(value) ? std::clamp(value, -1.0f, 1.0f) : 0.0f;
    }
  }
}

class AlsaCaptureDevice final : public CaptureDevice {
 public:
  AlsaCaptureDevice(PcmPtr pcm, SourceInfo info, const PcmSetup& setup,
                    std::unique_ptr<Resampler> resampler)
      : pcm_(std::move(pcm)),
        info_(std::move(info)),
        format_(setup.format),
        frame_bytes_(static_cast<size_t>(snd_pcm_format_physical_width(setup.format) / 8) *
                     setup.channels),
        max_read_frames_(setup.buffer_frames),
        resampler_(std::move(resampler)),
        raw_(max_read_frames_ * frame_bytes_) {}

  Result<size_t> Read(std::vector<float>* out, size_t max_samples, int timeout_ms) override {
    if (max_samples == 0) {
      return Status::InvalidArgument(fmt::format("{}: Read asked for 0 samples", info_.name));
    }
    if (!error_.ok()) return error_;
    const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (next_ == converted_.size()) {
      Result<bool> captured = CaptureBlock(max_samples, deadline);
      if (!captured.ok()) {
        error_ = captured.status();
        return error_;
      }
      if (!*captured) break;
    }
    const size_t count = std::min(max_samples, converted_.size() - next_);
    const auto first = converted_.begin() + static_cast<std::ptrdiff_t>(next_);
    out->assign(first, first + static_cast<std::ptrdiff_t>(count));
    next_ += count;
    return count;
  }

  const SourceInfo& info() const override { return info_; }
  int64_t overruns() const override { return overruns_; }

 private:
  // Reads what the device has (at most what max_samples needs) into converted_; false when the
  // deadline passed with nothing to read.
  Result<bool> CaptureBlock(size_t max_samples, Clock::time_point deadline) {
    for (bool first_try = true;; first_try = false) {
      if (!first_try && Clock::now() >= deadline) return false;
      const snd_pcm_sframes_t avail = snd_pcm_avail_update(pcm_.get());
      if (avail < 0) {
        if (Status status = Recover(static_cast<int>(avail)); !status.ok()) return status;
        continue;
      }
      if (avail == 0) {
        if (Status status = WaitUntil(deadline); !status.ok()) return status;
        continue;
      }
      const size_t frames =
          std::min({static_cast<size_t>(avail), FramesFor(max_samples), max_read_frames_});
      // alsa-lib's `file` plugin leaves the buffer as it was once its input file is exhausted:
      // silence is better than repeating stale samples.
      std::fill(raw_.begin(), raw_.end(), uint8_t{0});
      const snd_pcm_sframes_t got = snd_pcm_readi(pcm_.get(), raw_.data(), frames);
      if (got == -EAGAIN || got == 0) continue;
      if (got < 0) {
        if (Status status = Recover(static_cast<int>(got)); !status.ok()) return status;
        continue;
      }
      if (Status status = Convert(static_cast<size_t>(got)); !status.ok()) return status;
      return true;
    }
  }

  // Input frames that yield about max_samples output samples.
  size_t FramesFor(size_t max_samples) const {
    const auto rate = static_cast<size_t>(info_.sample_rate);
    return std::max<size_t>(1, (max_samples * rate + kSampleRate - 1) / kSampleRate);
  }

  // Waits for audio until the deadline; Ok also when it passed.
  Status WaitUntil(Clock::time_point deadline) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return Status::Ok();
    const int waited = snd_pcm_wait(pcm_.get(), static_cast<int>(left.count()));
    return waited < 0 ? Recover(waited) : Status::Ok();
  }

  // Restarts capture after an overrun (-EPIPE) or a suspend (-ESTRPIPE); other errors fail.
  Status Recover(int err) {
    if (err != -EPIPE && err != -ESTRPIPE) return AlsaErrorStatus(AlsaStep::kRead, info_.name, err);
    if (int recovered = snd_pcm_recover(pcm_.get(), err, /*silent=*/1); recovered < 0) {
      return AlsaErrorStatus(AlsaStep::kRead, info_.name, recovered);
    }
    if (err == -EPIPE) {
      ++overruns_;
      spdlog::debug("audio device \"{}\": overrun {} recovered", info_.name, overruns_);
    }
    // Recovery prepares the stream; capture waits for an explicit start.
    if (snd_pcm_state(pcm_.get()) == SND_PCM_STATE_PREPARED) {
      if (int started = snd_pcm_start(pcm_.get()); started < 0) {
        return AlsaErrorStatus(AlsaStep::kRead, info_.name, started);
      }
    }
    return Status::Ok();
  }

  Status Convert(size_t frames) {
    interleaved_.clear();
    const size_t samples = frames * static_cast<size_t>(info_.channels);
    const size_t sample_bytes = frame_bytes_ / static_cast<size_t>(info_.channels);
    for (size_t i = 0; i < samples; ++i) {
      interleaved_.push_back(DecodeSample(format_, &raw_[i * sample_bytes]));
    }
    mono_.clear();
    Downmix(interleaved_, info_.channels, &mono_);
    converted_.clear();
    next_ = 0;
    Status status = resampler_->Process(mono_, &converted_);
    // The resampler's ripple may overshoot full scale.
    for (float& sample : converted_) sample = std::clamp(sample, -1.0f, 1.0f);
    return status.WithContext(info_.name);
  }

  PcmPtr pcm_;
  SourceInfo info_;
  snd_pcm_format_t format_;
  size_t frame_bytes_;
  size_t max_read_frames_;  // the device's buffer: alsa-lib's file plugin reads no more at once
  std::unique_ptr<Resampler> resampler_;
  std::vector<uint8_t> raw_;        // one readi's frames as the device delivers them
  std::vector<float> interleaved_;  // decoded
  std::vector<float> mono_;         // downmixed
  std::vector<float> converted_;    // 16 kHz, handed out from next_
  size_t next_ = 0;
  int64_t overruns_ = 0;
  Status error_;  // sticky: once the device failed, every Read returns it
};

std::string OneLine(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

}  // namespace

Status AlsaErrorStatus(AlsaStep step, const std::string& device, int alsa_error) {
  const int code = -alsa_error;
  const std::string reason = snd_strerror(alsa_error);
  const std::string quoted = fmt::format("audio device \"{}\"", device);
  if (code == EBUSY || code == EAGAIN) {
    return Status::Unavailable(fmt::format("{} is busy ({})", quoted, reason));
  }
  if (code == EACCES || code == EPERM) {
    return Status::IOError(fmt::format("{} is not accessible to this user ({})", quoted, reason));
  }
  switch (step) {
    case AlsaStep::kOpen:
      if (code == ENOENT || code == ENODEV || code == ENXIO) {
        return Status::NotFound(fmt::format("{} does not exist ({})", quoted, reason));
      }
      if (code == EINVAL) {
        return Status::InvalidArgument(fmt::format("{} is not a valid name ({})", quoted, reason));
      }
      return Status::IOError(fmt::format("{} cannot be opened ({})", quoted, reason));
    case AlsaStep::kConfigure:
      if (code == ENODEV)
        return Status::Unavailable(fmt::format("{} disappeared ({})", quoted, reason));
      return Status::IOError(fmt::format("{} cannot be set up for capture ({})", quoted, reason));
    case AlsaStep::kRead:
      if (code == ENODEV)
        return Status::Unavailable(fmt::format("{} disappeared ({})", quoted, reason));
      if (code == EIO) {
        return Status::Unavailable(fmt::format("{} stopped delivering audio ({})", quoted, reason));
      }
      return Status::IOError(fmt::format("{} cannot be read ({})", quoted, reason));
  }
  return Status::Internal(fmt::format("{}: unknown ALSA step", quoted));
}

AlsaCaptureBackend::AlsaCaptureBackend() { RouteAlsaErrorsOnce(); }

Result<std::unique_ptr<CaptureDevice>> AlsaCaptureBackend::Open(const std::string& device) {
  const std::string name = device.empty() ? "default" : device;
  snd_pcm_t* raw_pcm = nullptr;
  if (int err = snd_pcm_open(&raw_pcm, name.c_str(), SND_PCM_STREAM_CAPTURE, kOpenMode); err < 0) {
    return AlsaErrorStatus(AlsaStep::kOpen, name, err);
  }
  PcmPtr pcm(raw_pcm);  // from here on, every return closes the device
  Result<PcmSetup> setup = Configure(pcm.get(), name);
  if (!setup.ok()) return setup.status();
  Result<std::unique_ptr<Resampler>> resampler =
      Resampler::Create(static_cast<int>(setup->rate), kSampleRate);
  if (!resampler.ok())
    return resampler.status().WithContext(fmt::format("audio device \"{}\"", name));
  if (int err = snd_pcm_start(pcm.get()); err < 0) {
    return AlsaErrorStatus(AlsaStep::kConfigure, name, err);
  }
  SourceInfo info{.name = name,
                  .format = snd_pcm_format_name(setup->format),
                  .sample_rate = static_cast<int>(setup->rate),
                  .channels = static_cast<int>(setup->channels),
                  .frames = -1};
  spdlog::debug("audio device \"{}\" opened: {} Hz, {} channel(s), {}, buffer {} frames", name,
                info.sample_rate, info.channels, info.format, setup->buffer_frames);
  return std::unique_ptr<CaptureDevice>(
      new AlsaCaptureDevice(std::move(pcm), std::move(info), *setup, std::move(*resampler)));
}

Result<std::vector<CaptureDeviceInfo>> AlsaCaptureBackend::ListDevices() {
  void** raw_hints = nullptr;
  if (int err = snd_device_name_hint(-1, "pcm", &raw_hints); err < 0) {
    return Status::IOError(fmt::format("cannot list audio devices ({})", snd_strerror(err)));
  }
  const std::unique_ptr<void*, HintsFree> hints(raw_hints);
  std::vector<CaptureDeviceInfo> devices;
  for (void** hint = hints.get(); *hint != nullptr; ++hint) {
    const HintText name(snd_device_name_get_hint(*hint, "NAME"));
    const HintText description(snd_device_name_get_hint(*hint, "DESC"));
    const HintText direction(snd_device_name_get_hint(*hint, "IOID"));
    if (name == nullptr) continue;
    if (direction != nullptr && std::string_view(direction.get()) == "Output") continue;
    devices.push_back({name.get(), description != nullptr ? OneLine(description.get()) : ""});
  }
  return devices;
}

}  // namespace lx::audio
