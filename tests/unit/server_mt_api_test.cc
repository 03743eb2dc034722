// The REST API of translated captions: the languages and models routes, translated session
// creation, per-language and bilingual exports, and the translation metrics.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "fakes/fake_capture.h"
#include "fakes/fake_engine.h"
#include "fakes/fake_translator.h"
#include "server/api.h"

namespace lx::server {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Json = nlohmann::json;

const std::string kClip =
    "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav";

// A model whose streams hear "hello world" at 0.5 s and "good bye" at 2 s.
class ScriptedModel final : public asr::EngineModel {
 public:
  std::string_view engine_name() const override { return "fake"; }
  std::string_view model_name() const override { return "scripted"; }
  Result<std::unique_ptr<asr::EngineStream>> CreateStream(
      const asr::EngineStreamConfig& config) const override {
    return std::unique_ptr<asr::EngineStream>(std::make_unique<testing::FakeEngineStream>(
        std::vector<testing::FakeSpeech>{testing::SpeechAt(0.5, {"hello", "world"}),
                                         testing::SpeechAt(2.0, {"good", "bye"})},
        config.silence_ms, nullptr));
  }
};

session::SessionManagerOptions Options(const fs::path& dir, mt::TranslatorProvider* provider) {
  session::SessionManagerOptions options;
  options.data_dir = dir.string();
  options.default_model_dir = "/models/default";
  options.translators = provider;
  if (provider == nullptr) options.translation_unavailable = "no engine on this test machine";
  return options;
}

class MtApiTest : public ::testing::Test {
 protected:
  explicit MtApiTest(bool with_provider = true)
      : dir_(fs::temp_directory_path() /
             ("lx_mt_api_" +
              std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()))),
        capture_(testing::FakeCaptureScript{}),
        hubs_(io_),
        sessions_(
            Options(dir_, with_provider ? &provider_ : nullptr), capture_,
            [](const std::string&) -> Result<std::unique_ptr<asr::EngineModel>> {
              return std::unique_ptr<asr::EngineModel>(std::make_unique<ScriptedModel>());
            },
            [this](const std::string& sid) { return hubs_.Create(sid); }, SteadyClock::Instance()),
        api_(ApiOptions{"http://127.0.0.1:8000", {}, "", 4096, 15000}, sessions_, hubs_) {}
  ~MtApiTest() override {
    sessions_.StopAll();
    fs::remove_all(dir_);
  }

  HttpResponse Call(std::string method, std::string path, std::string body = "") {
    HttpRequest request;
    request.method = std::move(method);
    request.path = std::move(path);
    request.body = std::move(body);
    request.headers["content-type"] = "application/json";
    request.request_id = "test";
    return api_.Handle(request);
  }
  HttpResponse Export(const std::string& sid, const std::string& format, const std::string& lang) {
    HttpRequest request;
    request.method = "GET";
    request.path = "/sessions/" + sid + "/export";
    request.query["format"] = format;
    if (!lang.empty()) request.query["lang"] = lang;
    request.request_id = "test";
    return api_.Handle(request);
  }
  HttpResponse CreateTranslated(const std::string& target) {
    const Json body{{"source", {{"type", "file"}, {"path", kClip}, {"speed", 0}}},
                    {"mt", {{"enabled", true}, {"target", target}}}};
    return Call("POST", "/sessions", body.dump());
  }
  // Waits until the session reports `status` (the worker sets it), at most 10 s.
  bool WaitForStatus(const std::string& sid, const std::string& status) {
    for (int i = 0; i < 1000; ++i) {
      if (Json::parse(Call("GET", "/sessions/" + sid).body)["status"] == status) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  fs::path dir_;
  testing::FakeTranslatorProvider provider_{
      {{"eng", "spa", "eng-spa"}, {"eng", "cat", "eng-cat"}, {"spa", "eng", "spa-eng"}}};
  boost::asio::io_context io_;
  testing::FakeCaptureBackend capture_;
  HubRegistry hubs_;
  session::SessionManager sessions_;
  Api api_;
};

TEST_F(MtApiTest, LanguagesListTheProvidersInstalledPairs) {
  const auto response = Call("GET", "/languages/mt");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(Json::parse(response.body), Json::parse(R"({"available": true, "pairs": [
      {"source": "eng", "target": "cat", "provider": "fake"},
      {"source": "eng", "target": "spa", "provider": "fake"},
      {"source": "spa", "target": "eng", "provider": "fake"}]})"));
}

TEST_F(MtApiTest, ModelsListEachProviderWithItsPairs) {
  const auto response = Call("GET", "/models/mt");
  ASSERT_EQ(response.status, 200) << response.body;
  const Json json = Json::parse(response.body);
  ASSERT_EQ(json["providers"].size(), 1u);
  EXPECT_EQ(json["providers"][0]["name"], "fake");
  ASSERT_EQ(json["providers"][0]["pairs"].size(), 3u);
  EXPECT_EQ(json["providers"][0]["pairs"][1],
            Json::parse(R"({"source": "eng", "target": "spa", "engine_name": "eng-spa"})"));
}

TEST_F(MtApiTest, AnUninstalledTargetIs422ListingTheInstalledOnes) {
  const auto response = CreateTranslated("deu");
  EXPECT_EQ(response.status, 422);
  EXPECT_EQ(Json::parse(response.body)["detail"],
            "mt.target \"deu\" is not installed (from eng); installed targets: cat, spa");
  EXPECT_EQ(Json::parse(Call("GET", "/sessions").body)["sessions"].size(), 0u);
}

TEST_F(MtApiTest, ATranslatedSessionExportsEachLanguageAndBoth) {
  const auto created = CreateTranslated("es");  // ISO 639-1 is read as spa
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string sid = Json::parse(created.body)["session_id"];
  ASSERT_TRUE(WaitForStatus(sid, "stopped"));

  EXPECT_EQ(Export(sid, "txt", "").body, "hello world\ngood bye\n");
  EXPECT_EQ(Export(sid, "txt", "eng").body, "hello world\ngood bye\n");
  const auto spanish = Export(sid, "txt", "spa");
  EXPECT_EQ(spanish.status, 200);
  EXPECT_EQ(spanish.body, "HELLO WORLD\nGOOD BYE\n");
  EXPECT_EQ(Export(sid, "txt", "es").body, spanish.body);
  const auto both = Export(sid, "vtt", "both");
  EXPECT_EQ(both.status, 200);
  EXPECT_EQ(both.content_type, "text/vtt; charset=utf-8");
  EXPECT_THAT(both.body, HasSubstr("\nhello world\nHELLO WORLD\n"));
  EXPECT_THAT(both.body, HasSubstr("\ngood bye\nGOOD BYE\n"));

  const auto german = Export(sid, "vtt", "deu");
  EXPECT_EQ(german.status, 404);
  EXPECT_EQ(Json::parse(german.body)["detail"],
            "session " + sid + " has no captions in \"deu\"; it has eng, spa and both");
  const auto both_srt = Export(sid, "srt", "both");
  EXPECT_EQ(both_srt.status, 422);
  EXPECT_EQ(Json::parse(both_srt.body)["detail"],
            "lang=both is a bilingual WebVTT: use format=vtt");

  const Json metrics = Json::parse(Call("GET", "/sessions/" + sid + "/metrics").body);
  EXPECT_EQ(metrics["mt"]["finals"], 2);
  EXPECT_EQ(metrics["mt"]["errors"], 0);
  EXPECT_EQ(metrics["mt"]["latency"]["count"], 2);
  const Json snapshot = Json::parse(Call("GET", "/sessions/" + sid + "/snapshot").body);
  EXPECT_EQ(snapshot["config"]["mt"]["target"], "spa");
}

TEST_F(MtApiTest, AnUntranslatedSessionHasNoMtMetricsAndOnlyItsSourceLanguage) {
  const Json body{{"source", {{"type", "file"}, {"path", kClip}, {"speed", 0}}}};
  const auto created = Call("POST", "/sessions", body.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string sid = Json::parse(created.body)["session_id"];
  ASSERT_TRUE(WaitForStatus(sid, "stopped"));
  EXPECT_FALSE(Json::parse(Call("GET", "/sessions/" + sid + "/metrics").body).contains("mt"));
  const auto spanish = Export(sid, "txt", "spa");
  EXPECT_EQ(spanish.status, 404);
  EXPECT_EQ(Json::parse(spanish.body)["detail"],
            "session " + sid + " has no captions in \"spa\"; it has eng");
  EXPECT_EQ(Export(sid, "vtt", "both").status, 404);
}

class MtApiWithoutProviderTest : public MtApiTest {
 protected:
  MtApiWithoutProviderTest() : MtApiTest(/*with_provider=*/false) {}
};

TEST_F(MtApiWithoutProviderTest, TranslationIsNotAvailableAndTheRoutesSayWhy) {
  const auto created = CreateTranslated("spa");
  EXPECT_EQ(created.status, 422);
  EXPECT_EQ(Json::parse(created.body)["detail"],
            "translation is not available: no engine on this test machine");
  EXPECT_EQ(Json::parse(Call("GET", "/languages/mt").body),
            Json::parse(R"({"available": false, "pairs": [],
                            "detail": "translation is not available: no engine on this test machine"})"));
  EXPECT_EQ(Json::parse(Call("GET", "/models/mt").body)["providers"], Json::array());
}

}  // namespace
}  // namespace lx::server
