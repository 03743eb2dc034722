// A session's audio source, opened before the session starts and closed when it ends.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "audio/capture.h"
#include "base/status.h"
#include "session/session_config.h"

namespace lx::session {

// 16 kHz mono audio for a session's worker. Read is called by the worker thread only.
class AudioInput {
 public:
  virtual ~AudioInput() = default;
  // Replaces *out with up to max_samples samples, waiting at most timeout_ms for them.
  // Returns 0 when nothing arrived in time; sets ended() when the input has no more audio.
  // An error Status when the input failed (names the source and the reason).
  virtual Result<size_t> Read(std::vector<float>* out, size_t max_samples, int timeout_ms) = 0;
  // True once the input can deliver nothing more (a non-looping file at its end, a closed push).
  virtual bool ended() const = 0;
  // Wakes a Read that is waiting and makes later ones return ended() (stop requested).
  virtual void Close() = 0;
  // The reader is back after a pause: a paced input restarts its schedule from now instead of
  // delivering the paused time's audio in a burst. Worker thread only.
  virtual void Resumed() {}
  // How far the reader is behind a real-time source, in seconds of wall time: how long the
  // oldest unread audio has been available (a file at speed > 0: since it came due; pushed
  // audio: since it was pushed). 0 when nothing waits, and for a source that is not real time
  // (a file at speed 0) or cannot tell (a capture device, whose ring buffer overruns by itself).
  // Worker thread only.
  virtual double LagSeconds() const { return 0; }
  // Whether Drop can discard audio (a paced file); a push queue does not: its producer is held
  // back by the queue's limit instead.
  virtual bool CanDrop() const { return false; }
  // Catches up by `lag_s` of the source's time: discards the oldest unread audio that the source
  // delivers in that time (speed x lag_s seconds of a file). Returns the seconds of audio
  // discarded. Fails like Read. Worker thread only.
  virtual Result<double> Drop(double /*lag_s*/) { return 0.0; }
};

// Pushed PCM frames (the WebSocket at /sessions/{sid}/audio). Push is called by the network
// thread, Read by the worker; both are thread-safe.
class PushInput : public AudioInput {
 public:
  // Converts and queues one frame of raw PCM in the session's format. InvalidArgument (odd byte
  // length, a length not a whole number of samples) or FailedPrecondition (closed), or
  // Unavailable when the queue already holds more than a few seconds of audio.
  virtual Status Push(std::span<const unsigned char> frame) = 0;
};

// Opens the input a config names: the file (decoded, paced at speed × real time by the steady
// clock, looping if asked), the capture device (through `capture`), or a push queue. Fails like
// the underlying opener (NotFound for a missing file or device, InvalidArgument for unreadable
// audio), having closed whatever it opened.
Result<std::unique_ptr<AudioInput>> OpenAudioInput(const SourceConfig& source,
                                                   audio::CaptureBackend& capture);

}  // namespace lx::session
