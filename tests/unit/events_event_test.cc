#include "events/event.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace lx::events {
namespace {

nlohmann::json Encode(Payload payload) {
  return nlohmann::json::parse(EncodeEnvelope("s7", 12, Event{std::move(payload), 0, 5}));
}

TEST(EventEnvelopeTest, StatusCarriesStateAndDetail) {
  const auto json = Encode(StatusChange{SessionState::kError, "microphone unplugged"});
  EXPECT_EQ(json["t"], "status");
  EXPECT_EQ(json["t_wall"], "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(json["data"], nlohmann::json({{"state", "error"}, {"detail", "microphone unplugged"}}));
  EXPECT_EQ(Encode(StatusChange{SessionState::kPaused, ""})["data"],
            nlohmann::json({{"state", "paused"}}));
}

TEST(EventEnvelopeTest, VuCarriesLevels) {
  const auto json = Encode(VuLevel{0.25, 0.5, 0.125});
  EXPECT_EQ(json["t"], "vu");
  EXPECT_EQ(json["data"], nlohmann::json({{"rms", 0.25}, {"peak", 0.5}, {"clip", 0.125}}));
}

TEST(EventEnvelopeTest, ServerErrorCarriesCodeDetailAndErrorId) {
  const auto json = Encode(ServerError{"internal", "internal error", "0a1b2c3d4e5f"});
  EXPECT_EQ(json["t"], "server.error");
  EXPECT_EQ(json["data"], nlohmann::json({{"code", "internal"},
                                          {"detail", "internal error"},
                                          {"error_id", "0a1b2c3d4e5f"}}));
}

TEST(EventEnvelopeTest, TranslationFinalCarriesBothTextsLanguagesProviderAndLatency) {
  const auto json = Encode(TranslationFinal{.segment_id = 3,
                                            .src_text = "hello world",
                                            .text = "hola mundo",
                                            .src_lang = "eng",
                                            .tgt_lang = "spa",
                                            .provider = "apertium",
                                            .latency_ms = 41});
  EXPECT_EQ(json["t"], "mt.final");
  EXPECT_EQ(json["data"], nlohmann::json({{"segment_id", 3},
                                          {"src_text", "hello world"},
                                          {"text", "hola mundo"},
                                          {"src_lang", "eng"},
                                          {"tgt_lang", "spa"},
                                          {"provider", "apertium"},
                                          {"latency_ms", 41}}));
}

TEST(EventEnvelopeTest, TranslationPartialCarriesTheDraftAndTheSourceBytesItCovers) {
  const auto json = Encode(TranslationPartial{.segment_id = 4, .text = "hola", .src_chars = 5});
  EXPECT_EQ(json["t"], "mt.partial");
  EXPECT_EQ(json["data"], nlohmann::json({{"segment_id", 4}, {"text", "hola"}, {"src_chars", 5}}));
}

TEST(EventEnvelopeTest, TranslationErrorCarriesAFixedDetailAndAnErrorId) {
  const auto json = Encode(TranslationError{.segment_id = 5,
                                            .src_text = "good bye",
                                            .src_lang = "eng",
                                            .tgt_lang = "spa",
                                            .provider = "apertium",
                                            .detail = "translation failed",
                                            .error_id = "00ff"});
  EXPECT_EQ(json["t"], "mt.error");
  EXPECT_EQ(json["data"], nlohmann::json({{"segment_id", 5},
                                          {"src_text", "good bye"},
                                          {"src_lang", "eng"},
                                          {"tgt_lang", "spa"},
                                          {"provider", "apertium"},
                                          {"detail", "translation failed"},
                                          {"error_id", "00ff"}}));
}

TEST(EventEnvelopeTest, SessionOverloadCarriesLagSheddingAndDroppedAudio) {
  const auto json = Encode(SessionOverload{6.5, "drop_audio", 1.5});
  EXPECT_EQ(json["t"], "session.overload");
  EXPECT_EQ(json["data"],
            nlohmann::json({{"lag_s", 6.5}, {"shedding", "drop_audio"}, {"dropped_audio_s", 1.5}}));
}

TEST(EventEnvelopeTest, EveryStateHasItsWireName) {
  const std::pair<SessionState, const char*> cases[] = {
      {SessionState::kStarting, "starting"}, {SessionState::kRunning, "running"},
      {SessionState::kPaused, "paused"},     {SessionState::kStopping, "stopping"},
      {SessionState::kStopped, "stopped"},   {SessionState::kError, "error"}};
  for (const auto& [state, name] : cases) EXPECT_EQ(SessionStateName(state), name);
  EXPECT_EQ(TypeOf(asr::Partial{}), "asr.partial");
  EXPECT_EQ(TypeOf(asr::Final{}), "asr.final");
}

TEST(EventEnvelopeTest, InvalidUtf8IsReplacedNotThrown) {
  asr::Final final_caption;
  final_caption.text = "bad \xff byte";
  const auto json = Encode(final_caption);
  EXPECT_EQ(json["data"]["text"], "bad \xEF\xBF\xBD byte");
}

}  // namespace
}  // namespace lx::events
