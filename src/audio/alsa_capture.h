// Capture from ALSA PCM devices (alsa-lib), converted to 16 kHz mono.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "audio/capture.h"
#include "base/status.h"

namespace lx::audio {

// Opens ALSA PCMs for capture. Thread-safe. Constructing the first one routes alsa-lib's own
// error lines (otherwise printed to stderr) to spdlog at debug level, for the whole process.
class AlsaCaptureBackend final : public CaptureBackend {
 public:
  AlsaCaptureBackend();
  // Opens the PCM without waiting for a busy device, asks for 16 kHz, 1 channel and S16_LE (else
  // FLOAT_LE, else S32_LE), takes the nearest rate and channel count the device offers and starts
  // capturing. ALSA's own resampling and channel mixing stay off: a device's native rate is
  // converted with soxr and its channels averaged. Errors as for CaptureBackend::Open.
  Result<std::unique_ptr<CaptureDevice>> Open(const std::string& device) override;
  // The PCMs alsa-lib's configuration advertises (snd_device_name_hint) that are not output-only.
  Result<std::vector<CaptureDeviceInfo>> ListDevices() override;
};

// Where an ALSA error happened, which decides what it means.
enum class AlsaStep { kOpen, kConfigure, kRead };

// The Status for `alsa_error` (a negative errno or ALSA error code) at `step` on `device`, the
// message naming the device and giving alsa-lib's reason. When opening, no such device is
// NotFound and a malformed name InvalidArgument; at any step busy is Unavailable and permission
// denied IOError; a device that vanished (ENODEV, or EIO while reading) is Unavailable; anything
// else IOError.
Status AlsaErrorStatus(AlsaStep step, const std::string& device, int alsa_error);

}  // namespace lx::audio
