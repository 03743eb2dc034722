#include "session/vu_meter.h"

#include <algorithm>
#include <cmath>

namespace lx::session {
namespace {

// The largest 16-bit sample; louder counts as clipped.
constexpr double kFullScale = 32767.0 / 32768.0;

}  // namespace

void VuMeter::Add(std::span<const float> samples, std::vector<events::VuLevel>* levels) {
  for (float sample : samples) {
    const double magnitude = std::fabs(static_cast<double>(sample));
    sum_squares_ += magnitude * magnitude;
    peak_ = std::max(peak_, magnitude);
    if (magnitude >= kFullScale) ++clipped_;
    if (++count_ >= window_samples_) levels->push_back(TakeLevel());
  }
}

events::VuLevel VuMeter::TakeLevel() {
  const auto count = static_cast<double>(count_);
  const events::VuLevel level{.rms = std::sqrt(sum_squares_ / count),
                              .peak = peak_,
                              .clip_share = static_cast<double>(clipped_) / count};
  count_ = 0;
  clipped_ = 0;
  sum_squares_ = 0;
  peak_ = 0;
  return level;
}

}  // namespace lx::session
