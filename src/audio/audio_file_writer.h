// Writing 16 kHz mono audio to WAV or FLAC files (libsndfile): what a session saves of its audio.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "base/status.h"

namespace lx::audio {

enum class AudioFileFormat { kWav, kFlac };

// An audio file being written: 16 kHz, mono, 16-bit PCM in a WAV or (lossless) FLAC container.
// A sample x is stored as round(x · 32768) clamped to 16 bits, the inverse of how loquilex reads
// 16-bit audio, so audio that came from 16-bit PCM is saved bit for bit. Data goes to the kernel
// as it is encoded (no fsync: a power loss may lose what the kernel had not yet written).
// Destroying the writer closes the file as Close does. One thread at a time.
//
// If the process is killed (SIGKILL, a crash) before Close:
// - WAV: the header is rewritten after every Write, so the file is a complete WAV holding every
//   sample of every Write that returned before the kill.
// - FLAC: samples are encoded in blocks of 4096; the file holds every finished block (all but at
//   most the last 4095 samples, 0.26 s) and decodes with libsndfile, flac or ffmpeg, but its
//   STREAMINFO states no length and no MD5, so tools that trust the header show no duration.
class AudioFileWriter {
 public:
  virtual ~AudioFileWriter() = default;
  // Appends samples (in [-1, 1]; others are clamped, NaN is written as 0). IOError naming the path
  // and the reason (disk full, file too large, ...); the file keeps what came before (WAV: every
  // earlier Write; FLAC: its finished blocks) and every later Write fails the same way.
  // FailedPrecondition after Close. Blocks on disk I/O.
  virtual Status Write(std::span<const float> samples) = 0;
  // Completes the file (WAV header; FLAC: the last block, length and MD5) and closes it. IOError
  // when that fails, or the error of a failed Write. Later calls return the same result.
  virtual Status Close() = 0;
  // The file being written.
  virtual const std::string& path() const = 0;
};

// Creates `path` (replacing a file there) and writes its header. IOError naming the path and the
// reason (no such folder, permission denied, disk full, ...); nothing is left open then.
Result<std::unique_ptr<AudioFileWriter>> CreateAudioFileWriter(const std::string& path,
                                                               AudioFileFormat format);

// The bytes of an audio file an AudioFileWriter wrote or is still writing (in another thread or
// process), as a file that stands on its own: a WAV's RIFF and data sizes are set to the whole
// frames read, so a copy taken mid-write is a complete WAV of the audio written so far. A FLAC
// is returned as it is (while it is written, see above: no length, and perhaps a partly written
// last block, where decoders stop). NotFound when there is no such file, IOError when it cannot be
// read, Corruption when a file starting "RIFF" has no WAV data chunk. Blocks on disk I/O; holds
// the whole file in memory.
Result<std::string> ReadAudioFileSoFar(const std::string& path);

}  // namespace lx::audio
