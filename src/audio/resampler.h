// Streaming sample-rate conversion (libsoxr) and channel downmixing.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"

namespace lx::audio {

// Averages interleaved frames of `channels` channels into one channel, appended to *mono.
void Downmix(std::span<const float> interleaved, int channels, std::vector<float>* mono);

// Converts a mono float stream from one rate to another, chunk by chunk, with soxr's high-quality
// recipe. Output does not depend on how the input is chunked. One thread at a time.
class Resampler {
 public:
  // InvalidArgument for a rate outside 1..768000; Internal if soxr refuses.
  static Result<std::unique_ptr<Resampler>> Create(int input_rate, int output_rate);
  virtual ~Resampler() = default;
  // Appends the converted samples available so far to *out.
  virtual Status Process(std::span<const float> input, std::vector<float>* out) = 0;
  // Ends the stream: appends the samples soxr still holds. Process must not be called after.
  virtual Status Flush(std::vector<float>* out) = 0;
};

}  // namespace lx::audio
