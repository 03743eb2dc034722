// Per-stream recognizer figures: real-time factor, event latencies, end-of-utterance counts.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "asr/caption.h"

namespace lx::asr {

// A latency distribution in seconds. Keeps at most kMaxSamples values (a deterministic
// reservoir beyond that), so a long stream's memory stays bounded.
class LatencyStats {
 public:
  static constexpr size_t kMaxSamples = 20000;
  void Add(double seconds);
  size_t count() const { return count_; }
  // The q-quantile (0..1) of the kept values, nearest rank; 0 when empty.
  double Quantile(double q) const;
  double max() const { return max_; }

 private:
  std::vector<double> samples_;
  size_t count_ = 0;
  double max_ = 0;
  uint64_t rng_ = 0x9e3779b97f4a7c15ULL;
};

// Figures of one recognizer stream. Written by the stream's thread; copy it to read elsewhere.
struct StreamMetrics {
  double audio_seconds = 0;       // audio fed so far
  double processing_seconds = 0;  // wall time spent recognizing it
  size_t partials = 0;
  size_t finals = 0;
  // Finals whose text does not begin with the prefix their partials had declared stable.
  size_t stable_prefix_revisions = 0;
  std::array<size_t, 4> finals_by_reason{};  // indexed by EouReason
  LatencyStats partial_latency;              // audio arrival -> partial emitted
  LatencyStats final_latency;                // arrival of the segment's last audio -> final

  double RealTimeFactor() const {
    return audio_seconds > 0 ? processing_seconds / audio_seconds : 0;
  }
  size_t FinalsFor(EouReason reason) const { return finals_by_reason[static_cast<size_t>(reason)]; }
};

}  // namespace lx::asr
