// A clock tests move by hand.
#pragma once

#include <atomic>
#include <cstdint>

#include "base/clock.h"

namespace lx::testing {

class FakeClock final : public Clock {
 public:
  int64_t NowNs() const override { return now_ns_.load(); }
  void AdvanceMs(int64_t ms) { now_ns_ += ms * 1'000'000; }

 private:
  std::atomic<int64_t> now_ns_{1'000'000'000};
};

}  // namespace lx::testing
