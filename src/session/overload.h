// When a session's recognizer falls behind real time, and how the session sheds load
// (docs/protocol.md, "Load shedding").
#pragma once

#include <cstdint>
#include <string_view>

#include "base/status.h"

namespace lx::session {

// The lag thresholds of a session (the asr.overload_lag_s / asr.max_lag_s fields).
struct OverloadConfig {
  // Lag (how long the oldest unread audio of a real-time source has been waiting) beyond which
  // the session is overloaded and stops computing partials; it recovers below half of it.
  // 0.1..60 s.
  double lag_s = 1.0;
  // Lag beyond which the oldest waiting audio is dropped, down to lag_s of lag. 0 = never drop;
  // else lag_s..600 s. Push sources never drop (their producer meets the queue's limit).
  double max_lag_s = 5.0;

  // InvalidArgument naming the field ("overload_lag_s", "max_lag_s") and its range.
  Status Validate() const;
};

// How much load a session sheds now.
enum class Shedding { kNone, kPartials, kDropAudio };

// "none", "partials", "drop_audio".
std::string_view SheddingName(Shedding shedding);

// Decides from the lag measured after each chunk of audio whether the session is overloaded,
// what it sheds, and when it tells its viewers. Pure: the caller passes the time. Not
// thread-safe (the session's worker owns it).
//
// Stages: lag above lag_s: overloaded, partials off (reported "partials"); lag above max_lag_s
// (when not 0): drop all but lag_s of the waiting audio (reported "drop_audio", every time);
// lag below lag_s / 2: recovered (reported "none", once). While overloaded without a stage change
// a report is due at most once per kReportInterval.
class OverloadGovernor {
 public:
  static constexpr int64_t kReportIntervalNs = 1'000'000'000;

  struct Decision {
    Shedding shedding = Shedding::kNone;  // the stage now (kDropAudio only when drop_s > 0)
    double drop_s = 0;                    // lag to shed now by dropping the oldest audio (s)
    bool report = false;                  // publish a session.overload now
  };

  explicit OverloadGovernor(const OverloadConfig& config) : config_(config) {}

  Decision Update(double lag_s, int64_t now_ns);
  bool overloaded() const { return overloaded_; }

 private:
  Decision Report(Shedding shedding, double drop_s, int64_t now_ns);

  OverloadConfig config_;
  bool overloaded_ = false;
  int64_t last_report_ns_ = 0;
};

}  // namespace lx::session
