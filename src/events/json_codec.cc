#include "events/json_codec.h"

#include <string>
#include <type_traits>

namespace lx::events {

Json PartialToJson(const asr::Partial& partial) {
  return Json{{"segment_id", partial.segment_id},
              {"seq", partial.seq},
              {"text", partial.text},
              {"stable_chars", partial.stable_chars},
              {"t_audio_end", partial.t_audio_end_s}};
}

Json FinalToJson(const asr::Final& final_caption) {
  Json words = Json::array();
  for (const asr::Word& word : final_caption.words) {
    words.push_back({{"w", word.w}, {"t0", word.t0_s}, {"t1", word.t1_s}, {"conf", word.conf}});
  }
  return Json{{"segment_id", final_caption.segment_id},
              {"seq", final_caption.seq},
              {"text", final_caption.text},
              {"words", std::move(words)},
              {"t0", final_caption.t0_s},
              {"t1", final_caption.t1_s},
              {"eou_reason", asr::EouReasonName(final_caption.eou_reason)}};
}

namespace {

// Reads Json[key] into *out if it has the type T; otherwise an error naming `where`.`key`.
template <typename T>
Status Field(const Json& object, const char* key, const std::string& where, T* out) {
  auto it = object.find(key);
  if (it == object.end()) return Status::InvalidArgument(where + "." + key + " is missing");
  if constexpr (std::is_integral_v<T>) {
    if (!it->is_number_integer() || (std::is_unsigned_v<T> && !it->is_number_unsigned())) {
      return Status::InvalidArgument(where + "." + key + " must be a non-negative integer");
    }
  }
  try {
    *out = it->get<T>();
  } catch (const nlohmann::json::exception&) {
    return Status::InvalidArgument(where + "." + key + " has the wrong type");
  }
  return Status::Ok();
}

Status WordFromJson(const Json& object, const std::string& where, asr::Word* word) {
  if (!object.is_object()) return Status::InvalidArgument(where + " is not an object");
  for (Status s :
       {Field(object, "w", where, &word->w), Field(object, "t0", where, &word->t0_s),
        Field(object, "t1", where, &word->t1_s), Field(object, "conf", where, &word->conf)}) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

Json StreamMetricsToJson(const asr::StreamMetrics& metrics) {
  auto latency = [](const asr::LatencyStats& stats) {
    return Json{{"count", stats.count()},
                {"p50", stats.Quantile(0.5)},
                {"p95", stats.Quantile(0.95)},
                {"max", stats.max()}};
  };
  Json by_reason = Json::object();
  for (auto reason : {asr::EouReason::kSilence, asr::EouReason::kMaxLength, asr::EouReason::kForced,
                      asr::EouReason::kEndOfStream}) {
    by_reason[std::string(asr::EouReasonName(reason))] = metrics.FinalsFor(reason);
  }
  return Json{{"partials", metrics.partials},
              {"finals", metrics.finals},
              {"stable_prefix_revisions", metrics.stable_prefix_revisions},
              {"finals_by_reason", std::move(by_reason)},
              {"partial_latency", latency(metrics.partial_latency)},
              {"final_latency", latency(metrics.final_latency)}};
}

Json TranslationFinalToJson(const TranslationFinal& translation) {
  return Json{{"segment_id", translation.segment_id},
              {"src_text", translation.src_text},
              {"text", translation.text},
              {"src_lang", translation.src_lang},
              {"tgt_lang", translation.tgt_lang},
              {"provider", translation.provider},
              {"latency_ms", translation.latency_ms}};
}

Result<TranslationFinal> TranslationFinalFromJson(const Json& object) {
  if (!object.is_object()) return Status::InvalidArgument("translation is not an object");
  TranslationFinal out;
  const std::string where = "translation";
  for (Status s :
       {Field(object, "segment_id", where, &out.segment_id),
        Field(object, "src_text", where, &out.src_text), Field(object, "text", where, &out.text),
        Field(object, "src_lang", where, &out.src_lang),
        Field(object, "tgt_lang", where, &out.tgt_lang),
        Field(object, "provider", where, &out.provider),
        Field(object, "latency_ms", where, &out.latency_ms)}) {
    if (!s.ok()) return s;
  }
  return out;
}

Result<asr::Final> FinalFromJson(const Json& object) {
  if (!object.is_object()) return Status::InvalidArgument("final is not an object");
  asr::Final out;
  std::string reason;
  Json words;
  const std::string where = "final";
  for (Status s :
       {Field(object, "segment_id", where, &out.segment_id), Field(object, "seq", where, &out.seq),
        Field(object, "text", where, &out.text), Field(object, "t0", where, &out.t0_s),
        Field(object, "t1", where, &out.t1_s), Field(object, "eou_reason", where, &reason),
        Field(object, "words", where, &words)}) {
    if (!s.ok()) return s;
  }
  auto parsed_reason = asr::EouReasonFromName(reason);
  if (!parsed_reason) return Status::InvalidArgument("final.eou_reason is unknown: " + reason);
  out.eou_reason = *parsed_reason;
  if (!words.is_array()) return Status::InvalidArgument("final.words is not an array");
  for (size_t i = 0; i < words.size(); ++i) {
    asr::Word word;
    Status s = WordFromJson(words[i], "final.words[" + std::to_string(i) + "]", &word);
    if (!s.ok()) return s;
    out.words.push_back(std::move(word));
  }
  return out;
}

}  // namespace lx::events
