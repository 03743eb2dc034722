#include "events/event.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <array>
#include <chrono>
#include <utility>

#include "events/json_codec.h"

namespace lx::events {
namespace {

constexpr std::array<std::pair<SessionState, std::string_view>, 6> kStateNames = {{
    {SessionState::kStarting, "starting"},
    {SessionState::kRunning, "running"},
    {SessionState::kPaused, "paused"},
    {SessionState::kStopping, "stopping"},
    {SessionState::kStopped, "stopped"},
    {SessionState::kError, "error"},
}};

struct DataToJson {
  Json operator()(const asr::Partial& partial) const { return PartialToJson(partial); }
  Json operator()(const asr::Final& final_caption) const { return FinalToJson(final_caption); }
  Json operator()(const StatusChange& status) const {
    Json data{{"state", SessionStateName(status.state)}};
    if (!status.detail.empty()) data["detail"] = status.detail;
    return data;
  }
  Json operator()(const VuLevel& vu) const {
    return Json{{"rms", vu.rms}, {"peak", vu.peak}, {"clip", vu.clip_share}};
  }
  Json operator()(const ServerError& error) const {
    return Json{{"code", error.code}, {"detail", error.detail}, {"error_id", error.error_id}};
  }
  Json operator()(const TranslationFinal& translation) const {
    return TranslationFinalToJson(translation);
  }
  Json operator()(const TranslationPartial& draft) const {
    return Json{
        {"segment_id", draft.segment_id}, {"text", draft.text}, {"src_chars", draft.src_chars}};
  }
  Json operator()(const TranslationError& error) const {
    return Json{{"segment_id", error.segment_id}, {"src_text", error.src_text},
                {"src_lang", error.src_lang},     {"tgt_lang", error.tgt_lang},
                {"provider", error.provider},     {"detail", error.detail},
                {"error_id", error.error_id}};
  }
  Json operator()(const SessionOverload& overload) const {
    return Json{{"lag_s", overload.lag_s},
                {"shedding", overload.shedding},
                {"dropped_audio_s", overload.dropped_audio_s}};
  }
};

struct TypeName {
  std::string_view operator()(const asr::Partial& /*unused*/) const { return "asr.partial"; }
  std::string_view operator()(const asr::Final& /*unused*/) const { return "asr.final"; }
  std::string_view operator()(const StatusChange& /*unused*/) const { return "status"; }
  std::string_view operator()(const VuLevel& /*unused*/) const { return "vu"; }
  std::string_view operator()(const ServerError& /*unused*/) const { return "server.error"; }
  std::string_view operator()(const TranslationFinal& /*unused*/) const { return "mt.final"; }
  std::string_view operator()(const TranslationPartial& /*unused*/) const { return "mt.partial"; }
  std::string_view operator()(const TranslationError& /*unused*/) const { return "mt.error"; }
  std::string_view operator()(const SessionOverload& /*unused*/) const {
    return "session.overload";
  }
};

}  // namespace

std::string_view SessionStateName(SessionState state) {
  for (const auto& [value, name] : kStateNames) {
    if (value == state) return name;
  }
  return "unknown";
}

std::string_view TypeOf(const Payload& payload) { return std::visit(TypeName{}, payload); }

std::string IsoUtc(int64_t wall_ns) {
  const int64_t ms = wall_ns / 1'000'000;
  const auto seconds = std::chrono::sys_seconds(std::chrono::seconds(ms / 1000));
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z", seconds, ms % 1000);
}

std::string EncodeEnvelope(std::string_view type, std::string_view sid, uint64_t seq,
                           int64_t t_wall_ns, int64_t t_mono_ns, const Json& data) {
  const Json envelope{{"v", 1},
                      {"t", type},
                      {"sid", sid},
                      {"seq", seq},
                      {"t_wall", IsoUtc(t_wall_ns)},
                      {"t_mono_ns", t_mono_ns},
                      {"data", data}};
  return envelope.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string EncodeEnvelope(std::string_view sid, uint64_t seq, const Event& event) {
  return EncodeEnvelope(TypeOf(event.payload), sid, seq, event.t_wall_ns, event.t_mono_ns,
                        std::visit(DataToJson{}, event.payload));
}

}  // namespace lx::events
