// The JSON form of caption events, exactly as docs/protocol.md describes their `data` objects.
#pragma once

#include <nlohmann/json.hpp>

#include "asr/caption.h"
#include "asr/stream_metrics.h"
#include "base/status.h"
#include "events/event.h"

namespace lx::events {

// JSON objects keep their fields in the order this codec writes them (as docs/protocol.md shows).
using Json = nlohmann::ordered_json;

// asr.partial data: {segment_id, seq, text, stable_chars, t_audio_end}.
Json PartialToJson(const asr::Partial& partial);
// asr.final data: {segment_id, seq, text, words:[{w, t0, t1, conf}], t0, t1, eou_reason}.
Json FinalToJson(const asr::Final& final_caption);
// The inverse of FinalToJson; InvalidArgument naming the first missing or mistyped field.
Result<asr::Final> FinalFromJson(const Json& object);

// mt.final data: {segment_id, src_text, text, src_lang, tgt_lang, provider, latency_ms}.
Json TranslationFinalToJson(const TranslationFinal& translation);
// The inverse of TranslationFinalToJson; InvalidArgument naming the first missing or mistyped
// field.
Result<TranslationFinal> TranslationFinalFromJson(const Json& object);

// A stream's figures: {partials, finals, stable_prefix_revisions, finals_by_reason:{<eou_reason>:
// n}, partial_latency:{count, p50, p95, max}, final_latency:{...}}, latencies in seconds.
Json StreamMetricsToJson(const asr::StreamMetrics& metrics);

}  // namespace lx::events
