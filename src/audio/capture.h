// Live audio capture: an open input device delivering 16 kHz mono float samples, and the backend
// that opens devices (ALSA in the product, a counting fake in tests).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "audio/audio_reader.h"
#include "base/status.h"

namespace lx::audio {

// One open capture device. Destroying it closes the device, whatever state it is in. One thread
// at a time (the session's worker); destroy it only when no Read is running.
class CaptureDevice {
 public:
  virtual ~CaptureDevice() = default;
  // Replaces *out with up to max_samples samples in [-1, 1] and returns how many. Blocks until
  // some are ready or about timeout_ms passed (0 or less: does not wait); 0 means none were ready
  // in time. A device has no end: 0 never means "finished". Recovers from overruns by itself,
  // counting them. When the device fails, returns Unavailable if it vanished or stopped delivering
  // (unplugged, EIO/ENODEV) or IOError otherwise, the message naming the device; every later call
  // fails the same way. InvalidArgument for max_samples == 0.
  virtual Result<size_t> Read(std::vector<float>* out, size_t max_samples, int timeout_ms) = 0;
  // name: the device name as opened; sample_rate, channels: what the device actually delivers
  // (before conversion); format: its sample format, e.g. "S16_LE"; frames: -1.
  virtual const SourceInfo& info() const = 0;
  // Overruns (audio lost because Read was not called often enough) recovered so far.
  virtual int64_t overruns() const = 0;
};

// A capture device the backend offers, for a device picker.
struct CaptureDeviceInfo {
  std::string name;         // what Open takes, e.g. "default", "plughw:CARD=PCH,DEV=0"
  std::string description;  // human-readable, on one line
  bool operator==(const CaptureDeviceInfo&) const = default;
};

// Opens capture devices by name. Thread-safe: sessions may open devices concurrently.
class CaptureBackend {
 public:
  virtual ~CaptureBackend() = default;
  // Opens `device` ("" means the system default) for capture, ready to Read. Fails with NotFound
  // (no such device), Unavailable (busy, or vanished while opening), IOError (permission denied,
  // other failures) or InvalidArgument (it cannot deliver any sample format loquilex reads), the
  // message naming the device. A failed Open leaves nothing open.
  virtual Result<std::unique_ptr<CaptureDevice>> Open(const std::string& device) = 0;
  // The devices that can capture, in the backend's order; IOError if they cannot be listed.
  virtual Result<std::vector<CaptureDeviceInfo>> ListDevices() = 0;
};

}  // namespace lx::audio
