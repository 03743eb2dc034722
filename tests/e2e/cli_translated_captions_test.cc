// Translated captions end to end: the real binary, real recorded speech and the real Apertium
// (apertium-eng-spa), through `loquilex serve` over loopback and `loquilex transcribe`.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/run_command.h"
#include "support/server_process.h"
#include "support/ws_client.h"

namespace lx {
namespace {

namespace fs = std::filesystem;
using ::lx::testing::Binary;
using ::lx::testing::HttpReply;
using ::lx::testing::ReadFile;
using ::lx::testing::RunCommand;
using ::lx::testing::ServerProcess;
using ::lx::testing::WsClient;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using Json = nlohmann::json;

// Two finals: "the mr john dashwood and then at leisure to consider our" and "much there might
// be crudely in his power to do for".
const std::string kClip =
    "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav";
constexpr char kHost[] = "127.0.0.1";
constexpr int kTimeoutMs = 30000;

bool ApertiumEngSpaInstalled() {
  return fs::exists("/usr/share/apertium/modes/en-es.mode") ||
         fs::exists("/usr/share/apertium/modes/eng-spa.mode");
}

class TranslatedCaptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!ApertiumEngSpaInstalled()) GTEST_SKIP() << "apertium-eng-spa is not installed";
    dir_ = fs::temp_directory_path() /
           ("lx_mt_e2e_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    server_->Signal(SIGTERM,
                    kTimeoutMs);  // a graceful stop: a sanitizer's report is logged by then
    server_.reset();
    // Under TSan/ASan (make tsan) a report from the server's threads fails the test.
    EXPECT_EQ(ReadFile(dir_ / "server.log").find("Sanitizer"), std::string::npos);
    if (HasFailure()) std::cerr << "server log:\n" << ReadFile(dir_ / "server.log");
    fs::remove_all(dir_);
  }
  bool WaitForStatus(const std::string& sid, const std::string& status) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs);
    while (std::chrono::steady_clock::now() < deadline) {
      const HttpReply reply = server_->Http("GET", "/sessions/" + sid);
      if (reply.status == 200 && Json::parse(reply.body)["status"] == status) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  fs::path dir_;
  std::unique_ptr<ServerProcess> server_ = std::make_unique<ServerProcess>();
};

// Reads envelopes until the session's status is stopped; all of them, in order.
std::vector<Json> ReadUntilStopped(WsClient& client) {
  std::vector<Json> envelopes;
  while (auto message = client.Read(kTimeoutMs)) {
    envelopes.push_back(Json::parse(*message));
    const Json& e = envelopes.back();
    if (e["t"] == "status" && e["data"]["state"] == "stopped") break;
  }
  return envelopes;
}

TEST_F(TranslatedCaptionsTest, AServedFileSessionGetsASpanishTranslationAfterEachFinal) {
  ASSERT_TRUE(server_->Start(dir_)) << ReadFile(dir_ / "server.log");
  const HttpReply languages = server_->Http("GET", "/languages/mt");
  ASSERT_EQ(languages.status, 200);
  EXPECT_THAT(
      Json::parse(languages.body)["pairs"],
      ::testing::Contains(Json{{"source", "eng"}, {"target", "spa"}, {"provider", "apertium"}}));

  // max_lag_s 0: a loaded machine (sanitizer runs) must not make the session drop audio.
  const Json body{{"source", {{"type", "file"}, {"path", kClip}, {"speed", 2}}},
                  {"asr", {{"max_lag_s", 0}}},
                  {"mt", {{"enabled", true}, {"target", "spa"}}}};
  const HttpReply created = server_->Http("POST", "/sessions", body.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string sid = Json::parse(created.body)["session_id"];
  WsClient viewer;
  ASSERT_TRUE(viewer.Connect(kHost, server_->port(), "/ws/" + sid));
  const std::vector<Json> envelopes = ReadUntilStopped(viewer);

  // Each asr.final with text is followed (later on the wire) by its mt.final.
  std::vector<Json> finals;
  std::vector<Json> translations;
  for (const Json& e : envelopes) {
    if (e["t"] == "asr.final" && !e["data"]["text"].get<std::string>().empty()) {
      finals.push_back(e);
    }
    if (e["t"] == "mt.final") translations.push_back(e);
    EXPECT_NE(e["t"], "mt.error") << e.dump();
  }
  ASSERT_EQ(finals.size(), 2u) << "the clip has two finals";
  ASSERT_EQ(translations.size(), finals.size());
  for (size_t i = 0; i < finals.size(); ++i) {
    const Json& t = translations[i]["data"];
    EXPECT_EQ(t["segment_id"], finals[i]["data"]["segment_id"]);
    EXPECT_GT(translations[i]["seq"].get<uint64_t>(), finals[i]["seq"].get<uint64_t>());
    EXPECT_EQ(t["src_text"], finals[i]["data"]["text"]);
    EXPECT_EQ(t["src_lang"], "eng");
    EXPECT_EQ(t["tgt_lang"], "spa");
    EXPECT_EQ(t["provider"], "apertium");
    EXPECT_FALSE(t["text"].get<std::string>().empty());
    EXPECT_NE(t["text"], t["src_text"]);
  }
  // Apertium's words for the clip: "... y entonces en ocio para considerar ...", "... en su
  // poder ...".
  EXPECT_THAT(translations[0]["data"]["text"].get<std::string>(), HasSubstr("considerar"));
  EXPECT_THAT(translations[1]["data"]["text"].get<std::string>(), HasSubstr("en su poder"));

  ASSERT_TRUE(WaitForStatus(sid, "stopped"));
  const HttpReply spanish =
      server_->Http("GET", "/sessions/" + sid + "/export?format=txt&lang=spa");
  ASSERT_EQ(spanish.status, 200) << spanish.body;
  EXPECT_EQ(spanish.body, translations[0]["data"]["text"].get<std::string>() + "\n" +
                              translations[1]["data"]["text"].get<std::string>() + "\n");
  const HttpReply both = server_->Http("GET", "/sessions/" + sid + "/export?format=vtt&lang=both");
  ASSERT_EQ(both.status, 200);
  EXPECT_THAT(both.body, HasSubstr(finals[1]["data"]["text"].get<std::string>() + "\n" +
                                   translations[1]["data"]["text"].get<std::string>() + "\n"));
  const Json metrics = Json::parse(server_->Http("GET", "/sessions/" + sid + "/metrics").body);
  EXPECT_EQ(metrics["mt"]["finals"], 2);
  EXPECT_EQ(metrics["mt"]["latency"]["count"], 2);
}

TEST_F(TranslatedCaptionsTest, WithoutApertiumTheServerRunsAndTranslationIs422) {
  ASSERT_TRUE(server_->Start(dir_, {"--mt-modes-dir", (dir_ / "no-such-folder").string()}))
      << ReadFile(dir_ / "server.log");
  const Json body{{"source", {{"type", "file"}, {"path", kClip}, {"speed", 0}}},
                  {"mt", {{"enabled", true}, {"target", "spa"}}}};
  const HttpReply refused = server_->Http("POST", "/sessions", body.dump());
  EXPECT_EQ(refused.status, 422);
  EXPECT_THAT(Json::parse(refused.body)["detail"].get<std::string>(),
              StartsWith("translation is not available: Apertium cannot be used"));
  const HttpReply plain = server_->Http(
      "POST", "/sessions", Json{{"source", {{"type", "file"}, {"path", kClip}}}}.dump());
  EXPECT_EQ(plain.status, 201) << "sessions without translation still run";
}

TEST_F(TranslatedCaptionsTest, TranscribeWritesTheSourceAndTheTranslatedFile) {
  const std::string out = (dir_ / "talk.vtt").string();
  const auto result =
      RunCommand(Binary() + " transcribe " + kClip + " --translate es -q -o " + out);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string source = ReadFile(out);
  const std::string spanish = ReadFile(dir_ / "talk.spa.vtt");
  EXPECT_THAT(source, HasSubstr("\nthe mr john dashwood and then\nat leisure to consider our\n"));
  EXPECT_THAT(spanish, StartsWith("WEBVTT\n"));
  EXPECT_THAT(spanish, HasSubstr("considerar"));
  EXPECT_THAT(spanish, HasSubstr("en su poder"));
  // The same cue times in both files.
  auto timings = [](const std::string& vtt) {
    std::vector<std::string> lines;
    std::istringstream in(vtt);
    for (std::string line; std::getline(in, line);) {
      if (line.find(" --> ") != std::string::npos) lines.push_back(line);
    }
    return lines;
  };
  EXPECT_EQ(timings(spanish), timings(source));
  EXPECT_EQ(timings(source).size(), 2u);
}

TEST_F(TranslatedCaptionsTest, TranscribeRefusesAnUninstalledTargetAndWritesNothing) {
  const std::string out = (dir_ / "talk.vtt").string();
  const auto result =
      RunCommand(Binary() + " transcribe " + kClip + " --translate xyz -q -o " + out);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("--translate xyz: no such translation from English is "
                                    "installed; installed: "));
  EXPECT_THAT(result.err, HasSubstr("spa"));
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace lx
