// `loquilex serve` end to end: the real binary over loopback, driven by HTTP and WebSocket.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "support/run_command.h"
#include "support/server_process.h"
#include "support/ws_client.h"

namespace lx {
namespace {

namespace fs = std::filesystem;
using ::lx::testing::HttpReply;
using ::lx::testing::ReadFile;
using ::lx::testing::RunCommand;
using ::lx::testing::SendHttp;
using ::lx::testing::ServerProcess;
using ::lx::testing::WsClient;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using Json = nlohmann::json;

const std::string kClip =
    "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav";
constexpr char kClipText[] = "he was not an illness closed young man";
constexpr char kHost[] = "127.0.0.1";
constexpr int kCaptionTimeoutMs = 30000;

class ServeCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("lx_serve_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "server log:\n" << ReadFile(dir_ / "server.log");
    server_.reset();
    fs::remove_all(dir_);
  }

  void StartServer(const std::vector<std::string>& extra_args = {}) {
    server_ = std::make_unique<ServerProcess>();
    ASSERT_TRUE(server_->Start(dir_, extra_args)) << ReadFile(dir_ / "server.log");
  }

  HttpReply Http(const std::string& method, const std::string& target, const std::string& body = "",
                 const std::map<std::string, std::string>& headers = {}) {
    return SendHttp(kHost, server_->port(), method, target, body, headers);
  }

  // Creates a session from `source` (JSON) and returns its id.
  // Sessions tolerate 60 s of lag and never drop audio: PushClip sends 5 x faster than real
  // time and files play at speed 2, which a session on a busy machine would answer by shedding
  // the partials these tests expect (docs/protocol.md, "Load shedding").
  std::string CreateSession(const Json& source) {
    const Json body{{"source", source}, {"asr", {{"overload_lag_s", 60}, {"max_lag_s", 0}}}};
    const HttpReply reply = Http("POST", "/sessions", body.dump());
    EXPECT_EQ(reply.status, 201) << reply.body << reply.error;
    if (reply.status != 201) return "";
    return Json::parse(reply.body).at("session_id").get<std::string>();
  }

  bool Connect(WsClient& client, const std::string& target,
               const std::map<std::string, std::string>& headers = {}) {
    return client.Connect(kHost, server_->port(), target, headers);
  }

  // Waits (at most kCaptionTimeoutMs) until the session reports `status`.
  bool WaitForStatus(const std::string& sid, const std::string& status) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(kCaptionTimeoutMs);
    while (std::chrono::steady_clock::now() < deadline) {
      const HttpReply reply = Http("GET", "/sessions/" + sid);
      if (reply.status == 200 && Json::parse(reply.body)["status"] == status) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  // The server's log so far, one parsed JSON object a line (--log-format json).
  std::vector<Json> JsonLog() {
    std::vector<Json> lines;
    std::istringstream log(ReadFile(dir_ / "server.log"));
    for (std::string line; std::getline(log, line);) {
      lines.push_back(Json::parse(line, nullptr, /*allow_exceptions=*/false));
      EXPECT_FALSE(lines.back().is_discarded()) << "not JSON: " << line;
    }
    return lines;
  }

  // The session's status once it has left "starting" (its worker starts asynchronously).
  std::string StatusOf(const std::string& sid) {
    std::string status;
    for (int attempt = 0; attempt < 100; ++attempt) {
      const HttpReply reply = Http("GET", "/sessions/" + sid);
      if (reply.status != 200) return "http " + std::to_string(reply.status);
      status = Json::parse(reply.body)["status"].get<std::string>();
      if (status != "starting") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return status;
  }

  fs::path dir_;
  std::unique_ptr<ServerProcess> server_;
};

// Reads envelopes until an asr.final with text arrives; all of them, in order.
std::vector<Json> ReadUntilFinal(WsClient& client) {
  std::vector<Json> envelopes;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kCaptionTimeoutMs);
  while (std::chrono::steady_clock::now() < deadline) {
    const auto message = client.Read(kCaptionTimeoutMs);
    if (!message) break;
    envelopes.push_back(Json::parse(*message));
    const Json& last = envelopes.back();
    if (last["t"] == "asr.final" && !last["data"]["text"].get<std::string>().empty()) break;
  }
  return envelopes;
}

std::vector<Json> OfType(const std::vector<Json>& envelopes, const std::string& type) {
  std::vector<Json> out;
  for (const auto& e : envelopes) {
    if (e["t"] == type) out.push_back(e);
  }
  return out;
}

void ExpectCaptionStream(const std::vector<Json>& envelopes) {
  ASSERT_FALSE(envelopes.empty());
  EXPECT_EQ(envelopes.front()["t"], "session.welcome");
  EXPECT_EQ(envelopes.front()["v"], 1);
  uint64_t last_seq = envelopes.front()["seq"].get<uint64_t>();
  for (size_t i = 1; i < envelopes.size(); ++i) {
    const uint64_t seq = envelopes[i]["seq"].get<uint64_t>();
    EXPECT_GT(seq, last_seq) << envelopes[i].dump();
    last_seq = seq;
  }
  EXPECT_FALSE(OfType(envelopes, "asr.partial").empty());
  const auto finals = OfType(envelopes, "asr.final");
  ASSERT_FALSE(finals.empty());
  EXPECT_THAT(finals.back()["data"]["text"].get<std::string>(), HasSubstr("young man"));
}

// The clip as 16 kHz mono s16le PCM.
std::vector<unsigned char> ClipPcm() {
  const auto result = RunCommand("ffmpeg -v error -i " + kClip + " -f s16le -ac 1 -ar 16000 -");
  return {result.out.begin(), result.out.end()};
}

// Sends the clip and two seconds of silence as 100 ms frames, paced a little.
void PushClip(WsClient& producer) {
  std::vector<unsigned char> pcm = ClipPcm();
  ASSERT_GT(pcm.size(), 90000u);
  pcm.resize(pcm.size() + 2 * 16000 * 2, 0);  // two seconds of silence end the segment
  constexpr size_t kFrameBytes = 3200;        // 100 ms
  for (size_t at = 0; at < pcm.size(); at += kFrameBytes) {
    const size_t n = std::min(kFrameBytes, pcm.size() - at);
    ASSERT_TRUE(producer.WriteBinary(std::span(pcm.data() + at, n)));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

TEST_F(ServeCliTest, FileSessionStreamsWelcomeThenCaptionsAndExportsVtt) {
  StartServer();
  const std::string sid = CreateSession({{"type", "file"}, {"path", kClip}, {"speed", 2}});
  ASSERT_FALSE(sid.empty());
  WsClient viewer;
  ASSERT_TRUE(Connect(viewer, "/ws/" + sid)) << viewer.refusal_status();
  const auto envelopes = ReadUntilFinal(viewer);
  ExpectCaptionStream(envelopes);
  EXPECT_EQ(OfType(envelopes, "asr.final").back()["data"]["text"], kClipText);

  const HttpReply metrics = Http("GET", "/sessions/" + sid + "/metrics");
  ASSERT_EQ(metrics.status, 200) << metrics.body;
  const auto delivery = nlohmann::json::parse(metrics.body)["delivery"];
  EXPECT_EQ(delivery["clients"], 1);
  EXPECT_GE(delivery["sent_frames"].get<int>(), static_cast<int>(envelopes.size()) - 1)
      << "all but the welcome went through the connection's queue";
  EXPECT_EQ(delivery["dropped_frames"], 0) << "a reading client loses nothing";

  const HttpReply vtt = Http("GET", "/sessions/" + sid + "/export?format=vtt");
  ASSERT_EQ(vtt.status, 200) << vtt.body;
  EXPECT_THAT(vtt.body, StartsWith("WEBVTT"));
  std::ofstream(dir_ / "x.vtt") << vtt.body;
  const auto srt = RunCommand("ffmpeg -v error -i " + (dir_ / "x.vtt").string() + " -f srt -");
  EXPECT_EQ(srt.exit_code, 0) << srt.err;
  EXPECT_THAT(srt.out, HasSubstr("young man"));
}

// Duration in seconds as a WAV's header states it, e.g. "2.990000\n" (sox trusts the header;
// ffmpeg would infer a length from the file's size).
std::string DurationOf(const std::string& path) { return RunCommand("soxi -D " + path).out; }

TEST_F(ServeCliTest, SavedAudioDownloadsWithTheClipsDuration) {
  StartServer();
  const Json body{{"source", {{"type", "file"}, {"path", kClip}, {"speed", 0}}},
                  {"save_audio", "wav"}};
  const HttpReply created = Http("POST", "/sessions", body.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string sid = Json::parse(created.body)["session_id"];
  for (int i = 0; i < 600 && StatusOf(sid) != "stopped"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const HttpReply audio = Http("GET", "/sessions/" + sid + "/audio");
  ASSERT_EQ(audio.status, 200) << audio.body;
  EXPECT_EQ(audio.headers.at("content-type"), "audio/wav");
  std::ofstream(dir_ / "saved.wav", std::ios::binary) << audio.body;
  EXPECT_EQ(DurationOf((dir_ / "saved.wav").string()), "2.990000\n");
  EXPECT_EQ(DurationOf((dir_ / "saved.wav").string()), DurationOf(kClip));
  EXPECT_EQ(ReadFile(dir_ / "data" / sid / "audio.wav"), audio.body);
}

TEST_F(ServeCliTest, AServerKilledWhileSavingLeavesACompleteWav) {
  StartServer();
  const Json body{{"source", {{"type", "push"}}}, {"save_audio", "wav"}};
  const HttpReply created = Http("POST", "/sessions", body.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string sid = Json::parse(created.body)["session_id"];
  WsClient producer;
  ASSERT_TRUE(Connect(producer, "/sessions/" + sid + "/audio"));
  ASSERT_TRUE(producer.WriteBinary(std::vector<unsigned char>(32000, 0)));  // 1 s of silence
  double seconds = 0;
  for (int i = 0; i < 600 && seconds < 1.0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    seconds = Json::parse(Http("GET", "/sessions/" + sid).body)["audio_seconds"].get<double>();
  }
  ASSERT_GE(seconds, 1.0);
  EXPECT_EQ(server_->Signal(SIGKILL, 5000), 128 + SIGKILL);
  EXPECT_EQ(DurationOf((dir_ / "data" / sid / "audio.wav").string()), "1.000000\n")
      << "the header was current when the server died";
}

// A final is on disk before any viewer sees it, so SIGKILL right after loses none.
TEST_F(ServeCliTest, AServerKilledAfterAFinalWasSentKeepsItOnDisk) {
  StartServer();
  const std::string sid = CreateSession({{"type", "push"}});
  ASSERT_FALSE(sid.empty());
  WsClient viewer;
  ASSERT_TRUE(Connect(viewer, "/ws/" + sid));
  WsClient producer;
  ASSERT_TRUE(Connect(producer, "/sessions/" + sid + "/audio"));
  PushClip(producer);
  const auto finals = OfType(ReadUntilFinal(viewer), "asr.final");
  ASSERT_FALSE(finals.empty());
  EXPECT_EQ(server_->Signal(SIGKILL, 5000), 128 + SIGKILL);
  std::vector<std::string> logged;
  std::ifstream log(dir_ / "data" / sid / "finals.jsonl");
  for (std::string line; std::getline(log, line);) {
    logged.push_back(Json::parse(line)["text"].get<std::string>());
  }
  for (const Json& f : finals) {
    EXPECT_THAT(logged, ::testing::Contains(f["data"]["text"].get<std::string>()));
  }
}

TEST_F(ServeCliTest, PushedPcmGivesTheSameFinalAsTheFile) {
  StartServer();
  const std::string sid =
      CreateSession({{"type", "push"}, {"sample_rate", 16000}, {"format", "s16le"}});
  ASSERT_FALSE(sid.empty());
  WsClient viewer;
  ASSERT_TRUE(Connect(viewer, "/ws/" + sid));
  WsClient producer;
  ASSERT_TRUE(Connect(producer, "/sessions/" + sid + "/audio")) << producer.refusal_status();

  PushClip(producer);
  const auto envelopes = ReadUntilFinal(viewer);
  ExpectCaptionStream(envelopes);
  EXPECT_EQ(OfType(envelopes, "asr.final").back()["data"]["text"], kClipText);

  WsClient second;
  EXPECT_FALSE(Connect(second, "/sessions/" + sid + "/audio"));
  EXPECT_EQ(second.refusal_status(), 409);
}

TEST_F(ServeCliTest, OddLengthAudioFrameClosesWith1003AndTheSessionRuns) {
  StartServer();
  const std::string sid =
      CreateSession({{"type", "push"}, {"sample_rate", 16000}, {"format", "s16le"}});
  ASSERT_FALSE(sid.empty());
  WsClient producer;
  ASSERT_TRUE(Connect(producer, "/sessions/" + sid + "/audio"));
  const std::vector<unsigned char> odd(3, 0);
  ASSERT_TRUE(producer.WriteBinary(odd));
  EXPECT_FALSE(producer.Read());
  EXPECT_TRUE(producer.closed());
  EXPECT_EQ(producer.close_code(), 1003) << producer.close_reason();

  EXPECT_EQ(StatusOf(sid), "running");
  // The producer's place is free again.
  WsClient next;
  EXPECT_TRUE(Connect(next, "/sessions/" + sid + "/audio")) << next.refusal_status();
  ASSERT_TRUE(next.WriteText("hello"));
  EXPECT_FALSE(next.Read());
  EXPECT_EQ(next.close_code(), 1003);
}

// The delivery flags reach the server: admission limits and the resume of a viewer.
TEST_F(ServeCliTest, AdmissionFlagsRefuseWithRetryAfterAndViewersResume) {
  StartServer({"--max-sessions", "1", "--max-clients-per-session", "1", "--retry-after-ms", "1500",
               "--replay-events", "50"});
  const std::string sid = CreateSession({{"type", "push"}});
  ASSERT_FALSE(sid.empty());
  const HttpReply refused = Http("POST", "/sessions", R"({"source": {"type": "push"}})");
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(Json::parse(refused.body)["retry_after_ms"], 1500);
  EXPECT_EQ(refused.headers.at("retry-after"), "2");

  WsClient viewer;
  ASSERT_TRUE(Connect(viewer, "/ws/" + sid + "?resume_from=0"));
  const auto welcome = Json::parse(viewer.Read().value_or("{}"));
  EXPECT_EQ(welcome["t"], "session.welcome");
  EXPECT_EQ(welcome["data"]["resume"]["from"], 0);
  WsClient second;
  ASSERT_TRUE(Connect(second, "/ws/" + sid));
  EXPECT_FALSE(second.Read());
  EXPECT_EQ(second.close_code(), 1013);
  EXPECT_EQ(second.close_reason(), "too many viewers; retry_after_ms=1500");
}

TEST_F(ServeCliTest, AudioFrameOver1MiBClosesWith1009AndTheSessionRuns) {
  StartServer();
  const std::string sid =
      CreateSession({{"type", "push"}, {"sample_rate", 16000}, {"format", "s16le"}});
  ASSERT_FALSE(sid.empty());
  WsClient viewer;
  ASSERT_TRUE(Connect(viewer, "/ws/" + sid));
  WsClient producer;
  ASSERT_TRUE(Connect(producer, "/sessions/" + sid + "/audio"));
  const std::vector<unsigned char> huge((1 << 20) + 2, 0);  // whole samples, 2 bytes too many
  producer.WriteBinary(huge);  // the server may close before it has read it all
  EXPECT_FALSE(producer.Read());
  ASSERT_TRUE(producer.closed());
  EXPECT_EQ(producer.close_code(), 1009);
  EXPECT_THAT(producer.close_reason(), HasSubstr("1048576 bytes"));

  EXPECT_EQ(StatusOf(sid), "running");
  WsClient next;
  ASSERT_TRUE(Connect(next, "/sessions/" + sid + "/audio")) << next.refusal_status();
  PushClip(next);
  const auto envelopes = ReadUntilFinal(viewer);
  ExpectCaptionStream(envelopes);
  EXPECT_EQ(OfType(envelopes, "asr.final").back()["data"]["text"], kClipText);
}

TEST_F(ServeCliTest, SigtermClosesWebSocketsWith1001AndExitsZero) {
  StartServer();
  const std::string sid =
      CreateSession({{"type", "push"}, {"sample_rate", 16000}, {"format", "s16le"}});
  ASSERT_FALSE(sid.empty());
  WsClient viewer;
  ASSERT_TRUE(Connect(viewer, "/ws/" + sid));
  const auto welcome = viewer.Read();
  ASSERT_TRUE(welcome);
  EXPECT_EQ(Json::parse(*welcome)["t"], "session.welcome");

  const auto started = std::chrono::steady_clock::now();
  // Reads what the shutdown still sends (the session's last status events) until the close.
  std::thread reader([&] {
    while (viewer.Read(6000)) {
    }
  });
  const int exit_code = server_->Signal(SIGTERM, 5000);
  reader.join();
  EXPECT_EQ(exit_code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_TRUE(viewer.closed());
  EXPECT_EQ(viewer.close_code(), 1001);
  EXPECT_EQ(viewer.close_reason(), "server shutting down");
}

TEST_F(ServeCliTest, ErrorsAreJsonWithADetail) {
  StartServer({"--max-body-bytes", "1024"});
  const HttpReply unknown = Http("GET", "/no/such/route");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_TRUE(Json::parse(unknown.body).contains("detail")) << unknown.body;
  EXPECT_THAT(unknown.headers.at("content-type"), StartsWith("application/json"));

  const HttpReply bad_json = Http("POST", "/sessions", "{not json");
  EXPECT_EQ(bad_json.status, 400) << bad_json.body;
  EXPECT_TRUE(Json::parse(bad_json.body).contains("detail"));

  const HttpReply too_big = Http("POST", "/sessions", std::string(4096, ' '));
  EXPECT_EQ(too_big.status, 413) << too_big.error;
  EXPECT_EQ(Json::parse(too_big.body)["detail"], "request body over 1024 bytes");

  const std::string sid =
      CreateSession({{"type", "push"}, {"sample_rate", 16000}, {"format", "s16le"}});
  WsClient foreign;
  EXPECT_FALSE(Connect(foreign, "/ws/" + sid, {{"Origin", "http://evil.example"}}));
  EXPECT_EQ(foreign.refusal_status(), 403);
  WsClient nowhere;
  EXPECT_FALSE(Connect(nowhere, "/ws/nosuchsession"));
  EXPECT_EQ(nowhere.refusal_status(), 404);
}

// The log lines of a request and of a session, found by their ids as jq would.
std::vector<Json> WithField(const std::vector<Json>& lines, const std::string& key,
                            const std::string& value) {
  std::vector<Json> out;
  for (const auto& line : lines) {
    if (line.is_object() && line.value(key, "") == value) out.push_back(line);
  }
  return out;
}

TEST_F(ServeCliTest, JsonLogLinesCarryRequestAndSessionIdsAndNoTranscript) {
  StartServer({"--log-format", "json"});
  const std::string sid = CreateSession({{"type", "file"}, {"path", kClip}, {"speed", 0}});
  ASSERT_FALSE(sid.empty());
  ASSERT_TRUE(WaitForStatus(sid, "stopped"));
  ASSERT_EQ(Http("GET", "/sessions/" + sid + "/snapshot").status, 200);
  ASSERT_EQ(server_->Signal(SIGTERM, 5000), 0);

  const auto lines = JsonLog();
  const auto created = WithField(lines, "session_id", sid);
  ASSERT_FALSE(created.empty());
  EXPECT_EQ(created.front()["msg"], "session created");
  const std::string request_id = created.front().value("request_id", "");
  ASSERT_FALSE(request_id.empty()) << created.front();
  const auto request = WithField(lines, "request_id", request_id);
  ASSERT_EQ(request.size(), 2u) << "the creation and the access line";
  EXPECT_THAT(request.back()["msg"].get<std::string>(), StartsWith("POST /sessions 201 "));
  for (const auto& line : lines) {
    EXPECT_THAT(line.dump(), Not(HasSubstr("young man"))) << "transcripts stay out of logs";
  }
}

TEST_F(ServeCliTest, LogTranscriptsLogsEachFinalWithItsSession) {
  StartServer({"--log-format", "json", "--log-transcripts"});
  const std::string sid = CreateSession({{"type", "file"}, {"path", kClip}, {"speed", 0}});
  ASSERT_FALSE(sid.empty());
  ASSERT_TRUE(WaitForStatus(sid, "stopped"));
  ASSERT_EQ(server_->Signal(SIGTERM, 5000), 0);
  bool logged = false;
  for (const auto& line : WithField(JsonLog(), "session_id", sid)) {
    logged = logged || line["msg"].get<std::string>().find(kClipText) != std::string::npos;
  }
  EXPECT_TRUE(logged) << ReadFile(dir_ / "server.log");
}

TEST_F(ServeCliTest, TokenIsRequiredWhenConfigured) {
  std::ofstream(dir_ / "token") << "s3cret\n";
  StartServer({"--token-file", (dir_ / "token").string()});
  EXPECT_EQ(Http("GET", "/sessions").status, 401);
  EXPECT_EQ(Http("GET", "/sessions", "", {{"Authorization", "Bearer wrong"}}).status, 401);
  EXPECT_EQ(Http("GET", "/sessions", "", {{"Authorization", "Bearer s3cret"}}).status, 200);
  WsClient viewer;
  EXPECT_FALSE(Connect(viewer, "/ws/any"));
  EXPECT_EQ(viewer.refusal_status(), 401);
}

}  // namespace
}  // namespace lx
