// Clock: the one way loquilex code reads time, so tests can substitute a fake.
#pragma once

#include <cstdint>

namespace lx {

// Monotonic time source. Implementations must be safe to call from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic nanoseconds since an arbitrary epoch; never decreases.
  virtual int64_t NowNs() const = 0;
};

// std::chrono::steady_clock.
class SteadyClock final : public Clock {
 public:
  int64_t NowNs() const override;
  // A process-wide instance (stateless, so sharing it is safe).
  static const Clock& Instance();
};

}  // namespace lx
