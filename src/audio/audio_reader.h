// Audio input: files (libsndfile) and raw PCM streams, delivered as 16 kHz mono float samples.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace lx::audio {

// The sample rate every loquilex consumer works at.
inline constexpr int kSampleRate = 16000;

// What the source looked like before conversion.
struct SourceInfo {
  std::string name;     // file path, or "stdin"
  std::string format;   // e.g. "WAV (PCM 16-bit)", "OGG (Vorbis)", "raw s16le"
  int sample_rate = 0;  // Hz, of the input
  int channels = 0;     // of the input
  int64_t frames = -1;  // input frames, -1 when unknown (streams)
};

// A pull source of 16 kHz mono samples in [-1, 1]. One thread at a time.
class AudioSource {
 public:
  virtual ~AudioSource() = default;
  // Replaces *out with the next samples (at most max_samples, at least 1 unless the source is at
  // its end). Returns the number delivered; 0 means the end. Fails (Corruption/IOError, the
  // message naming the source and the reason) when the input turns out to be unreadable, or
  // InvalidArgument for a raw stream without a single byte or for max_samples == 0; the samples
  // delivered before stay valid, and every later call fails the same way. Samples beyond full
  // scale are clamped and NaN becomes 0. May block on a pipe.
  virtual Result<size_t> Read(std::vector<float>* out, size_t max_samples) = 0;
  virtual const SourceInfo& info() const = 0;
  // Duration in seconds of the converted audio, or -1 when unknown (streams).
  double DurationSeconds() const;
};

enum class RawFormat { kS16LE, kF32LE };

// Opens an audio file of any format libsndfile reads (WAV, FLAC, OGG/Vorbis, ...), any sample
// rate, bit depth and channel count; it is downmixed and resampled to 16 kHz mono on the fly.
// Fails with NotFound (no such file), IOError (unreadable, a directory, not a regular file) or
// InvalidArgument (empty, not audio, truncated header or WAV data, unsupported encoding), the
// message naming the file and the reason. Truncation that only decoding reveals (FLAC, ...) makes
// Read fail with Corruption once the audio the file holds has been delivered.
Result<std::unique_ptr<AudioSource>> OpenAudioFile(const std::string& path);

// Reads raw little-endian mono PCM of `format` at `sample_rate` Hz from file descriptor `fd`
// (not closed; e.g. stdin), resampled to 16 kHz. InvalidArgument for a rate outside 1..768000.
// A stream that ends without a single sample, or with a trailing partial sample, fails on Read.
Result<std::unique_ptr<AudioSource>> OpenRawStream(int fd, int sample_rate, RawFormat format,
                                                   std::string name);

// Reads a container format (WAV, FLAC, ...) from a non-seekable `fd` such as a pipe, as far as
// libsndfile supports pipes (WAV yes; FLAC not with libsndfile 1.2). `fd` is not closed; the
// length is unknown (frames == -1). Errors as for OpenAudioFile, with a hint about raw PCM.
Result<std::unique_ptr<AudioSource>> OpenAudioStream(int fd, const std::string& name);

}  // namespace lx::audio
