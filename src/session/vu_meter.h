// The input level a session reports to its viewers.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "events/event.h"

namespace lx::session {

// Measures 16 kHz samples in windows of at least `window_samples` (100 ms by default). One thread.
class VuMeter {
 public:
  explicit VuMeter(size_t window_samples = 1600) : window_samples_(window_samples) {}
  // Adds samples; appends to *levels the level of each window they complete.
  void Add(std::span<const float> samples, std::vector<events::VuLevel>* levels);

 private:
  events::VuLevel TakeLevel();

  size_t window_samples_;
  size_t count_ = 0;
  size_t clipped_ = 0;
  double sum_squares_ = 0;
  double peak_ = 0;
};

}  // namespace lx::session
