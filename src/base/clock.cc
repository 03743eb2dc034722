#include "base/clock.h"

#include <chrono>

namespace lx {

int64_t SteadyClock::NowNs() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

const Clock& SteadyClock::Instance() {
  static const SteadyClock clock;
  return clock;
}

}  // namespace lx
