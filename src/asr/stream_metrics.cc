#include "asr/stream_metrics.h"

#include <algorithm>
#include <cmath>

namespace lx::asr {

void LatencyStats::Add(double seconds) {
  ++count_;
  max_ = std::max(max_, seconds);
  if (samples_.size() < kMaxSamples) {
    samples_.push_back(seconds);
    return;
  }
  // Reservoir sampling (algorithm R) with a xorshift generator: deterministic and bounded.
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  const uint64_t slot = rng_ % count_;
  if (slot < kMaxSamples) samples_[slot] = seconds;
}

double LatencyStats::Quantile(double q) const {
  if (samples_.empty()) return 0;
  std::vector<double> sorted = samples_;
  std::sort(sorted.begin(), sorted.end());
  const double rank = std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(sorted.size()));
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

}  // namespace lx::asr
