#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "session/session_config.h"

namespace lx::session {
namespace {

using events::Json;

struct BadBody {
  const char* body;
  const char* message;  // the whole InvalidArgument message
};

class SessionConfigBadBodyTest : public ::testing::TestWithParam<BadBody> {};

TEST_P(SessionConfigBadBodyTest, NamesTheField) {
  auto config = SessionConfigFromJson(Json::parse(GetParam().body));
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(config.status().message(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Errors, SessionConfigBadBodyTest,
    ::testing::Values(
        BadBody{R"([])", "the session config must be a JSON object"},
        BadBody{R"({"name": "x"})", "source is required"},
        BadBody{R"({"sorce": {}})", "unknown field \"sorce\""},
        BadBody{R"({"source": 3})", "source must be a JSON object"},
        BadBody{R"({"source": {}})", "source.type is required"},
        BadBody{R"({"source": {"type": "tape"}})", "source.type must be one of mic, file, push"},
        BadBody{R"({"source": {"type": 1}})", "source.type must be one of mic, file, push"},
        BadBody{R"({"source": {"type": "file"}})", "source.path is required"},
        BadBody{R"({"source": {"type": "file", "path": 7}})", "source.path must be a string"},
        BadBody{R"({"source": {"type": "file", "path": "a.wav", "speed": "fast"}})",
                "source.speed must be a number"},
        BadBody{R"({"source": {"type": "file", "path": "a.wav", "speed": -1}})",
                "source.speed must be between 0 and 100"},
        BadBody{R"({"source": {"type": "file", "path": "a.wav", "loop": 1}})",
                "source.loop must be a boolean"},
        BadBody{R"({"source": {"type": "file", "path": "a.wav", "pth": "b"}})",
                "unknown field \"source.pth\" (not used by a file source)"},
        BadBody{R"({"source": {"type": "mic", "path": "a.wav"}})",
                "unknown field \"source.path\" (not used by a mic source)"},
        BadBody{R"({"source": {"type": "mic", "device": false}})",
                "source.device must be a string"},
        BadBody{R"({"source": {"type": "push", "sample_rate": 16000.5}})",
                "source.sample_rate must be an integer"},
        BadBody{R"({"source": {"type": "push", "sample_rate": 0}})",
                "source.sample_rate must be between 1 and 768000"},
        BadBody{R"({"source": {"type": "push", "format": "u8"}})",
                "source.format must be one of s16le, f32le"},
        BadBody{R"({"source": {"type": "mic"}, "name": 5})", "name must be a string"},
        BadBody{R"({"source": {"type": "mic"}, "asr": []})", "asr must be a JSON object"},
        BadBody{R"({"source": {"type": "mic"}, "asr": {"silence": 1}})",
                "unknown field \"asr.silence\""},
        BadBody{R"({"source": {"type": "mic"}, "asr": {"model_dir": 1}})",
                "asr.model_dir must be a string"},
        BadBody{R"({"source": {"type": "mic"}, "asr": {"silence_ms": "200"}})",
                "asr.silence_ms must be an integer"},
        BadBody{R"({"source": {"type": "mic"}, "asr": {"silence_ms": 5}})",
                "asr.silence_ms must be between 10 and 10000"},
        BadBody{R"({"source": {"type": "mic"}, "asr": {"partial_interval_ms": 1}})",
                "asr.partial_interval_ms must be between 10 and 10000"},
        BadBody{R"({"source": {"type": "mic"}, "asr": {"max_segment_s": true}})",
                "asr.max_segment_s must be a number"},
        BadBody{R"({"source": {"type": "mic"}, "asr": {"max_segment_s": 0.5}})",
                "asr.max_segment_s must be between 1 and 600"},
        BadBody{R"({"source": {"type": "mic"}, "asr": {"stable_after_ms": -5}})",
                "asr.stable_after_ms must be between 0 and 10000"},
        BadBody{R"({"source": {"type": "mic"}, "asr": {"overload_lag_s": 0.05}})",
                "asr.overload_lag_s must be between 0.1 and 60"},
        BadBody{R"({"source": {"type": "mic"}, "asr": {"max_lag_s": "5"}})",
                "asr.max_lag_s must be a number"},
        BadBody{R"({"source": {"type": "mic"}, "asr": {"overload_lag_s": 2, "max_lag_s": 1}})",
                "asr.max_lag_s must be 0 (never drop audio) or between overload_lag_s and 600"},
        BadBody{R"({"source": {"type": "mic"}, "save_audio": "mp3"})",
                "save_audio must be one of off, wav, flac"},
        BadBody{R"({"source": {"type": "mic"}, "save_audio": true})",
                "save_audio must be one of off, wav, flac"},
        BadBody{R"({"source": {"type": "mic"}, "save_audio": "WAV"})",
                "save_audio must be one of off, wav, flac"},
        BadBody{R"({"source": {"type": "mic"}, "mt": true})", "mt must be a JSON object"},
        BadBody{R"({"source": {"type": "mic"}, "mt": {"enabled": true, "tgt": "spa"}})",
                "unknown field \"mt.tgt\""},
        BadBody{R"({"source": {"type": "mic"}, "mt": {"enabled": "yes", "target": "spa"}})",
                "mt.enabled must be a boolean"},
        BadBody{R"({"source": {"type": "mic"}, "mt": {"enabled": true}})", "mt.target is required"},
        BadBody{R"({"source": {"type": "mic"}, "mt": {"enabled": true, "target": 34}})",
                "mt.target must be a string"},
        BadBody{R"({"source": {"type": "mic"}, "mt": {"enabled": true, "target": "es-419"}})",
                "mt.target must be a language code such as \"spa\" or \"es\""},
        BadBody{R"({"source": {"type": "mic"}, "mt": {"enabled": true, "target": "spa",
                                                       "cadence_words": 0}})",
                "mt.cadence_words must be between 1 and 100"},
        BadBody{R"({"source": {"type": "mic"}, "mt": {"enabled": true, "target": "spa",
                                                       "cadence_words": 2.5}})",
                "mt.cadence_words must be an integer"}));

TEST(SessionConfigTest, ReadsAFileSessionWithEveryField) {
  auto config = SessionConfigFromJson(Json::parse(R"({
      "name": "talk", "save_audio": "off",
      "source": {"type": "file", "path": "/a.wav", "speed": 0, "loop": true},
      "asr": {"model_dir": "/m", "partial_interval_ms": 250, "silence_ms": 300,
              "max_segment_s": 12.5, "stable_after_ms": 600, "overload_lag_s": 2,
              "max_lag_s": 0}})"));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->name, "talk");
  EXPECT_EQ(config->source.type, SourceConfig::Type::kFile);
  EXPECT_EQ(config->source.path, "/a.wav");
  EXPECT_EQ(config->source.speed, 0);
  EXPECT_TRUE(config->source.loop);
  EXPECT_EQ(config->model_dir, "/m");
  EXPECT_EQ(config->asr.partial_interval_ms, 250);
  EXPECT_EQ(config->asr.silence_ms, 300);
  EXPECT_EQ(config->asr.max_segment_s, 12.5);
  EXPECT_EQ(config->asr.stable_after_ms, 600);
  EXPECT_EQ(config->overload.lag_s, 2);
  EXPECT_EQ(config->overload.max_lag_s, 0) << "0: never drop audio";
  EXPECT_EQ(SessionConfigToJson(*config)["asr"]["overload_lag_s"], 2) << "snapshots echo it";
  EXPECT_EQ(config->save_audio, SaveAudio::kOff);
}

TEST(SessionConfigTest, DefaultsFillWhatTheBodyLeavesOut) {
  auto config = SessionConfigFromJson(Json::parse(R"({"source": {"type": "mic"}})"));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->source.type, SourceConfig::Type::kMic);
  EXPECT_EQ(config->source.device, "");
  EXPECT_EQ(config->asr.silence_ms, SessionConfig{}.asr.silence_ms);
  EXPECT_EQ(config->overload.lag_s, 1.0);
  EXPECT_EQ(config->overload.max_lag_s, 5.0);
  EXPECT_EQ(config->model_dir, "");
}

TEST(SessionConfigTest, ReadsEverySaveAudioChoice) {
  for (const auto& [name, expected] :
       {std::pair{"off", SaveAudio::kOff}, std::pair{"wav", SaveAudio::kWav},
        std::pair{"flac", SaveAudio::kFlac}}) {
    const Json body{{"source", {{"type", "push"}}}, {"save_audio", name}};
    auto config = SessionConfigFromJson(body);
    ASSERT_TRUE(config.ok()) << name << ": " << config.status().ToString();
    EXPECT_EQ(config->save_audio, expected) << name;
    EXPECT_EQ(SessionConfigToJson(*config)["save_audio"], name) << "snapshots echo it";
  }
}

TEST(SessionConfigTest, ReadsTranslationAndNormalizesTheTargetCode) {
  auto config = SessionConfigFromJson(Json::parse(
      R"({"source": {"type": "mic"}, "mt": {"enabled": true, "target": "ES", "cadence_words": 5}})"));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_TRUE(config->mt.enabled);
  EXPECT_EQ(config->mt.target, "spa");
  EXPECT_EQ(config->mt.cadence_words, 5);
  EXPECT_EQ(SessionConfigToJson(*config)["mt"],
            Json::parse(R"({"enabled": true, "target": "spa", "cadence_words": 5})"));
}

TEST(SessionConfigTest, TranslationIsOffByDefaultWithACadenceOfThreeWords) {
  auto config = SessionConfigFromJson(Json::parse(R"({"source": {"type": "mic"}})"));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_FALSE(config->mt.enabled);
  EXPECT_EQ(config->mt.cadence_words, 3);
}

TEST(SessionConfigTest, ReadsAPushSession) {
  auto config = SessionConfigFromJson(
      Json::parse(R"({"source": {"type": "push", "sample_rate": 48000, "format": "f32le"}})"));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->source.sample_rate, 48000);
  EXPECT_EQ(config->source.format, audio::RawFormat::kF32LE);
}

TEST(SessionConfigTest, ToJsonReadsBackTheSameConfig) {
  for (const char* body :
       {R"({"name": "n", "source": {"type": "mic", "device": "hw:1"}})",
        R"({"source": {"type": "file", "path": "/x.flac", "speed": 2.5, "loop": true}})",
        R"({"source": {"type": "push", "sample_rate": 8000}, "asr": {"silence_ms": 400}})",
        R"({"source": {"type": "mic"}, "save_audio": "flac"})",
        R"({"source": {"type": "mic"}, "mt": {"enabled": true, "target": "cat"}})"}) {
    auto config = SessionConfigFromJson(Json::parse(body));
    ASSERT_TRUE(config.ok()) << body;
    const Json json = SessionConfigToJson(*config);
    auto again = SessionConfigFromJson(json);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(SessionConfigToJson(*again), json) << body;
  }
}

}  // namespace
}  // namespace lx::session
