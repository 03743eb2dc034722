#include "session/overload.h"

namespace lx::session {

Status OverloadConfig::Validate() const {
  if (!(lag_s >= 0.1 && lag_s <= 60)) {
    return Status::InvalidArgument("overload_lag_s must be between 0.1 and 60");
  }
  if (!(max_lag_s == 0 || (max_lag_s >= lag_s && max_lag_s <= 600))) {
    return Status::InvalidArgument(
        "max_lag_s must be 0 (never drop audio) or between overload_lag_s and 600");
  }
  return Status::Ok();
}

std::string_view SheddingName(Shedding shedding) {
  switch (shedding) {
    case Shedding::kNone:
      return "none";
    case Shedding::kPartials:
      return "partials";
    case Shedding::kDropAudio:
      return "drop_audio";
  }
  return "none";
}

OverloadGovernor::Decision OverloadGovernor::Update(double lag_s, int64_t now_ns) {
  const bool was_overloaded = overloaded_;
  if (!was_overloaded && lag_s <= config_.lag_s) return Decision{};
  if (was_overloaded && lag_s < config_.lag_s / 2) {
    overloaded_ = false;
    return Report(Shedding::kNone, 0, now_ns);
  }
  overloaded_ = true;
  if (config_.max_lag_s > 0 && lag_s > config_.max_lag_s) {
    return Report(Shedding::kDropAudio, lag_s - config_.lag_s, now_ns);
  }
  if (!was_overloaded || now_ns - last_report_ns_ >= kReportIntervalNs) {
    return Report(Shedding::kPartials, 0, now_ns);
  }
  return Decision{.shedding = Shedding::kPartials};
}

OverloadGovernor::Decision OverloadGovernor::Report(Shedding shedding, double drop_s,
                                                    int64_t now_ns) {
  last_report_ns_ = now_ns;
  return Decision{.shedding = shedding, .drop_s = drop_s, .report = true};
}

}  // namespace lx::session
