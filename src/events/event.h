// What a live session publishes: value-typed events, and their wire envelope (docs/protocol.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "asr/caption.h"

namespace lx::events {

// A session's lifecycle state, as reported by its worker.
enum class SessionState { kStarting, kRunning, kPaused, kStopping, kStopped, kError };

// "starting", "running", "paused", "stopping", "stopped", "error".
std::string_view SessionStateName(SessionState state);

// `status`: the session's state changed, or something happened the viewers should know.
struct StatusChange {
  SessionState state = SessionState::kStarting;
  std::string detail;  // human-readable; empty when the state says it all
};

// `vu`: the input level over the last ~100 ms.
struct VuLevel {
  double rms = 0;         // root mean square of the samples, 0..1
  double peak = 0;        // largest absolute sample, 0..1
  double clip_share = 0;  // share of samples at full scale, 0..1
};

// `server.error`: something failed inside loquilex. The event never says what (that may hold
// internals); the server's log has the text under error_id.
struct ServerError {
  std::string code;      // the kind of failure: "internal", "storage" (docs/protocol.md)
  std::string detail;    // a fixed human-readable text for the code
  std::string error_id;  // the id of the log line with the failure's text
};

// `mt.final`: the translation of a segment's final (docs/protocol.md). Published after the
// asr.final of the same segment, finals in their order.
struct TranslationFinal {
  uint64_t segment_id = 0;
  std::string src_text{};  // the final's text, as translated
  std::string text{};      // its translation
  std::string src_lang{};  // ISO 639-3, e.g. "eng"
  std::string tgt_lang{};  // ISO 639-3, e.g. "spa"
  std::string provider{};  // the engine that translated it, e.g. "apertium"
  int64_t latency_ms = 0;  // from the final's publication to its translation's
};

// `mt.partial`: a draft translation of the stable prefix of a segment's partials. Never after
// the segment's asr.final.
struct TranslationPartial {
  uint64_t segment_id = 0;
  std::string text{};    // the translation of the first src_chars bytes of the partial's text
  size_t src_chars = 0;  // bytes of the partial's stable prefix that were translated
};

// `mt.error`: a final could not be translated (or its translation saved); the session goes on.
// Like server.error, `detail` is fixed and the failure's text is logged under error_id.
struct TranslationError {
  uint64_t segment_id = 0;
  std::string src_text{};
  std::string src_lang{};
  std::string tgt_lang{};
  std::string provider{};
  std::string detail{};  // "translation failed" or "cannot save the translation"
  std::string error_id{};
};

// `session.overload`: the session's recognizer is behind real time, still or no longer
// (docs/protocol.md, "Load shedding").
struct SessionOverload {
  double lag_s = 0;            // how long the oldest unread audio has waited (s)
  std::string shedding;        // "partials", "drop_audio" or "none" (recovered)
  double dropped_audio_s = 0;  // audio the session dropped unrecognized so far
};

// New types go at the end: tests and tools index the variant.
using Payload =
    std::variant<asr::Partial, asr::Final, StatusChange, VuLevel, ServerError, TranslationFinal,
                 TranslationPartial, TranslationError, SessionOverload>;

// One published event with the moment it was produced.
struct Event {
  Payload payload;
  int64_t t_wall_ns = 0;  // system clock (UTC), for t_wall
  int64_t t_mono_ns = 0;  // monotonic clock, for t_mono_ns
};

// The wire type: "asr.partial", "asr.final", "status", "vu", "server.error", "mt.final",
// "mt.partial", "mt.error", "session.overload".
std::string_view TypeOf(const Payload& payload);

// The envelope {v: 1, t, sid, seq, t_wall, t_mono_ns, data} as compact JSON text.
std::string EncodeEnvelope(std::string_view sid, uint64_t seq, const Event& event);
// The same envelope around any message type and data (session.welcome, server.hb, ...).
// `data` must be a JSON object; invalid UTF-8 in it is replaced, never thrown.
std::string EncodeEnvelope(std::string_view type, std::string_view sid, uint64_t seq,
                           int64_t t_wall_ns, int64_t t_mono_ns,
                           const nlohmann::ordered_json& data);
// ISO-8601 UTC with milliseconds, e.g. "2026-11-28T22:35:30.123Z".
std::string IsoUtc(int64_t wall_ns);

}  // namespace lx::events
