#include "events/json_codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace lx::events {
namespace {

using json = nlohmann::ordered_json;
using ::testing::HasSubstr;

asr::Final SampleFinal(asr::EouReason reason = asr::EouReason::kMaxLength) {
  asr::Final f;
  f.segment_id = 7;
  f.seq = 42;
  f.text = "hello world";
  f.words = {{"hello", 0.5, 0.9, 0.75f}, {"world", 1.0, 1.5, 0.5f}};
  f.t0_s = 0.5;
  f.t1_s = 1.5;
  f.eou_reason = reason;
  return f;
}

TEST(JsonCodecTest, FinalToJsonUsesTheProtocolFieldNames) {
  const json expected = json::parse(R"({
    "segment_id": 7, "seq": 42, "text": "hello world",
    "words": [{"w": "hello", "t0": 0.5, "t1": 0.9, "conf": 0.75},
              {"w": "world", "t0": 1.0, "t1": 1.5, "conf": 0.5}],
    "t0": 0.5, "t1": 1.5, "eou_reason": "max_length"})");
  const json actual = FinalToJson(SampleFinal());
  EXPECT_EQ(actual, expected) << actual.dump(2);
  EXPECT_TRUE(actual["segment_id"].is_number_unsigned());
  EXPECT_TRUE(actual["seq"].is_number_unsigned());
  EXPECT_TRUE(actual["t0"].is_number_float());
}

TEST(JsonCodecTest, FinalWithoutWordsHasAnEmptyWordsArray) {
  asr::Final f = SampleFinal();
  f.words.clear();
  const json actual = FinalToJson(f);
  ASSERT_TRUE(actual.contains("words"));
  EXPECT_EQ(actual["words"], json::array());
}

TEST(JsonCodecTest, PartialToJsonUsesTheProtocolFieldNames) {
  asr::Partial partial;
  partial.segment_id = 3;
  partial.seq = 9;
  partial.text = "hello wor";
  partial.stable_chars = 6;
  partial.t_audio_end_s = 2.25;
  const json expected = json::parse(
      R"({"segment_id": 3, "seq": 9, "text": "hello wor", "stable_chars": 6, "t_audio_end": 2.25})");
  EXPECT_EQ(PartialToJson(partial), expected) << PartialToJson(partial).dump(2);
}

TEST(JsonCodecTest, TranslationFinalRoundTripsAndNamesAMissingField) {
  const TranslationFinal translation{.segment_id = 9,
                                     .src_text = "good bye",
                                     .text = "adi\xC3\xB3s",
                                     .src_lang = "eng",
                                     .tgt_lang = "spa",
                                     .provider = "apertium",
                                     .latency_ms = 12};
  const json encoded = TranslationFinalToJson(translation);
  auto decoded = TranslationFinalFromJson(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(TranslationFinalToJson(decoded.value()), encoded);
  json broken = encoded;
  broken.erase("tgt_lang");
  EXPECT_THAT(TranslationFinalFromJson(broken).status().message(),
              HasSubstr("translation.tgt_lang is missing"));
}

class FinalRoundTripTest : public ::testing::TestWithParam<asr::EouReason> {};

TEST_P(FinalRoundTripTest, FinalFromJsonInvertsFinalToJson) {
  const asr::Final original = SampleFinal(GetParam());
  const Result<asr::Final> parsed = FinalFromJson(FinalToJson(original));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const asr::Final& f = parsed.value();
  EXPECT_EQ(f.segment_id, original.segment_id);
  EXPECT_EQ(f.seq, original.seq);
  EXPECT_EQ(f.text, original.text);
  EXPECT_EQ(f.t0_s, original.t0_s);
  EXPECT_EQ(f.t1_s, original.t1_s);
  EXPECT_EQ(f.eou_reason, original.eou_reason);
  ASSERT_EQ(f.words.size(), original.words.size());
  for (size_t i = 0; i < f.words.size(); ++i) {
    EXPECT_EQ(f.words[i].w, original.words[i].w);
    EXPECT_EQ(f.words[i].t0_s, original.words[i].t0_s);
    EXPECT_EQ(f.words[i].t1_s, original.words[i].t1_s);
    EXPECT_EQ(f.words[i].conf, original.words[i].conf);
  }
}

INSTANTIATE_TEST_SUITE_P(EveryReason, FinalRoundTripTest,
                         ::testing::Values(asr::EouReason::kSilence, asr::EouReason::kMaxLength,
                                           asr::EouReason::kForced, asr::EouReason::kEndOfStream),
                         [](const auto& info) { return std::string(EouReasonName(info.param)); });

struct BadFinalCase {
  const char* name;
  std::function<void(json&)> spoil;
  const char* error;  // the part of the message that names the field
};

void PrintTo(const BadFinalCase& c, std::ostream* os) { *os << c.name; }

class FinalFromJsonErrorTest : public ::testing::TestWithParam<BadFinalCase> {};

TEST_P(FinalFromJsonErrorTest, NamesTheField) {
  json object = FinalToJson(SampleFinal());
  GetParam().spoil(object);
  const Result<asr::Final> parsed = FinalFromJson(object);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), Status::Code::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr(GetParam().error));
}

INSTANTIATE_TEST_SUITE_P(
    Table, FinalFromJsonErrorTest,
    ::testing::Values(
        BadFinalCase{"NotAnObject", [](json& j) { j = json::array(); }, "final is not an object"},
        BadFinalCase{"MissingText", [](json& j) { j.erase("text"); }, "final.text is missing"},
        BadFinalCase{"MissingWords", [](json& j) { j.erase("words"); }, "final.words is missing"},
        BadFinalCase{"T0IsAString", [](json& j) { j["t0"] = "soon"; },
                     "final.t0 has the wrong type"},
        BadFinalCase{"SeqIsAString", [](json& j) { j["seq"] = "42"; },
                     "final.seq must be a non-negative integer"},
        BadFinalCase{"NegativeSegmentId", [](json& j) { j["segment_id"] = -1; },
                     "final.segment_id must be a non-negative integer"},
        BadFinalCase{"FractionalSeq", [](json& j) { j["seq"] = 1.5; },
                     "final.seq must be a non-negative integer"},
        BadFinalCase{"UnknownEouReason", [](json& j) { j["eou_reason"] = "bored"; },
                     "final.eou_reason is unknown: bored"},
        BadFinalCase{"WordsIsNotAnArray", [](json& j) { j["words"] = "hello world"; },
                     "final.words is not an array"},
        BadFinalCase{"SecondWordIsNotAnObject", [](json& j) { j["words"][1] = 5; },
                     "final.words[1] is not an object"},
        BadFinalCase{"SecondWordLacksT1", [](json& j) { j["words"][1].erase("t1"); },
                     "final.words[1].t1 is missing"},
        BadFinalCase{"SecondWordTextIsANumber", [](json& j) { j["words"][1]["w"] = 3; },
                     "final.words[1].w has the wrong type"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace lx::events
