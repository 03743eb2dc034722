// The server's real parts — HttpServer, Api, hubs, SessionManager — over loopback sockets, with a
// scripted recognizer instead of PocketSphinx: what the network loop does under load and with
// slow clients, which the end-to-end tests of the binary cannot steer.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

// Boost 1.74's asio needs <utility> before its headers under -std=c++20.
#include <utility>

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "base/logging.h"
#include "fakes/fake_capture.h"
#include "fakes/fake_engine.h"
#include "server/api.h"
#include "server/http_server.h"
#include "server/hub.h"
#include "session/session_manager.h"
#include "support/captured_log.h"
#include "support/ws_client.h"

namespace lx::server {
namespace {

namespace fs = std::filesystem;
using ::lx::testing::HttpReply;
using ::lx::testing::SendHttp;
using ::lx::testing::WsClient;
using ::testing::HasSubstr;
using Json = nlohmann::json;
using namespace std::chrono_literals;  // NOLINT(google-build-using-namespace)

constexpr char kHost[] = "127.0.0.1";
constexpr size_t kWordySegments = 150;  // the "wordy" model's
constexpr size_t kResumeSegments = 12;  // the "resume" model's: 4 words, 1.4 s each

// A door threads wait at until it is opened.
class Gate {
 public:
  explicit Gate(bool open) : open_(open) {}
  void Open() {
    const std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  void Close() {
    const std::lock_guard lock(mutex_);
    open_ = false;
  }
  // False when still shut after `timeout`.
  bool Wait(std::chrono::milliseconds timeout = 20s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [this] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_;  // guarded by mutex_
};

// A model whose streams hear `script` (stream seconds, whatever the audio holds).
class ScriptedModel final : public asr::EngineModel {
 public:
  explicit ScriptedModel(std::vector<testing::FakeSpeech> script) : script_(std::move(script)) {}
  std::string_view engine_name() const override { return "fake"; }
  std::string_view model_name() const override { return "scripted"; }
  Result<std::unique_ptr<asr::EngineStream>> CreateStream(
      const asr::EngineStreamConfig& config) const override {
    return std::unique_ptr<asr::EngineStream>(
        std::make_unique<testing::FakeEngineStream>(script_, config.silence_ms, nullptr));
  }

 private:
  std::vector<testing::FakeSpeech> script_;
};

// A stream that hears nothing and throws after half a second of audio, as a buggy engine might.
class ThrowingStream final : public asr::EngineStream {
 public:
  Status Feed(std::span<const float> samples) override {
    fed_samples_ += samples.size();
    if (fed_samples_ >= 8000) throw std::runtime_error("engine exploded at /srv/models/secret.bin");
    return Status::Ok();
  }
  bool InSpeech() const override { return false; }
  std::string Hypothesis() override { return ""; }
  Result<asr::Utterance> EndUtterance() override { return asr::Utterance{}; }

 private:
  size_t fed_samples_ = 0;
};

class ThrowingModel final : public asr::EngineModel {
 public:
  std::string_view engine_name() const override { return "fake"; }
  std::string_view model_name() const override { return "throwing"; }
  Result<std::unique_ptr<asr::EngineStream>> CreateStream(
      const asr::EngineStreamConfig& /*config*/) const override {
    return std::unique_ptr<asr::EngineStream>(std::make_unique<ThrowingStream>());
  }
};

// `count` segments "w1 w2 ..." of `words` words each, every word `word_s` long; 0.4 s of silence
// before each.
std::vector<testing::FakeSpeech> ManySegments(int count, int words = 1, double word_s = 0.2) {
  std::vector<testing::FakeSpeech> script;
  std::vector<std::string> text;
  for (int w = 0; w < words; ++w) text.push_back("w" + std::to_string(w + 1));
  double start_s = 0.4;
  for (int i = 0; i < count; ++i) {
    script.push_back(testing::SpeechAt(start_s, text, word_s));
    start_s += words * word_s + 0.4;
  }
  return script;
}

// `seconds` of 16 kHz mono silence as a WAV file (the scripted models ignore what they hear).
void WriteSilentWav(const fs::path& path, double seconds) {
  const auto samples = static_cast<uint32_t>(seconds * 16000);
  std::ofstream out(path, std::ios::binary);
  auto u32 = [&](uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [&](uint16_t v) { out.write(reinterpret_cast<const char*>(&v), 2); };
  out.write("RIFF", 4);
  u32(36 + samples * 2);
  out.write("WAVEfmt ", 8);
  u32(16);
  u16(1);  // PCM
  u16(1);  // mono
  u32(16000);
  u32(32000);
  u16(2);
  u16(16);
  out.write("data", 4);
  u32(samples * 2);
  const std::vector<char> zeros(samples * 2, 0);
  out.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
}

// Envelopes of type `type`.
std::vector<Json> OfType(const std::vector<Json>& envelopes, const std::string& type) {
  std::vector<Json> out;
  for (const auto& e : envelopes) {
    if (e["t"] == type) out.push_back(e);
  }
  return out;
}

// Reads envelopes until one satisfies `last` (included), the socket closes or nothing comes for
// 20 s.
template <typename Predicate>
std::vector<Json> ReadUntil(WsClient& client, Predicate last) {
  std::vector<Json> envelopes;
  while (const auto message = client.Read(20000)) {
    envelopes.push_back(Json::parse(*message));
    if (last(envelopes.back())) break;
  }
  return envelopes;
}

bool IsStatus(const Json& envelope, const std::string& state) {
  return envelope["t"] == "status" && envelope["data"]["state"] == state;
}

// Checks the seq rules of docs/protocol.md on what one viewer received, welcome first: events
// have strictly increasing seqs; a heartbeat repeats the seq of the event before it.
void ExpectSeqRules(const std::vector<Json>& envelopes) {
  ASSERT_FALSE(envelopes.empty());
  ASSERT_EQ(envelopes.front()["t"], "session.welcome");
  uint64_t last = envelopes.front()["seq"].get<uint64_t>();
  for (size_t i = 1; i < envelopes.size(); ++i) {
    const Json& e = envelopes[i];
    const uint64_t seq = e["seq"].get<uint64_t>();
    if (e["t"] == "server.hb") {
      EXPECT_EQ(seq, last) << "heartbeat " << i << " after seq " << last;
      EXPECT_EQ(e["data"], Json::object());
    } else {
      EXPECT_GT(seq, last) << e.dump();
      last = seq;
    }
  }
}

// The server's monotonic time between consecutive heartbeats.
std::vector<std::chrono::nanoseconds> HeartbeatGaps(const std::vector<Json>& envelopes) {
  std::vector<std::chrono::nanoseconds> gaps;
  int64_t previous = -1;
  for (const auto& e : envelopes) {
    if (e["t"] != "server.hb") continue;
    const auto now = e["t_mono_ns"].get<int64_t>();
    if (previous >= 0) gaps.emplace_back(now - previous);
    previous = now;
  }
  return gaps;
}

class ServerLoopbackTest : public ::testing::Test {
 protected:
  explicit ServerLoopbackTest(HubOptions hub_options = {})
      : dir_(fs::temp_directory_path() /
             ("lx_loopback_" +
              std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()))),
        capture_(testing::FakeCaptureScript{}),
        hubs_(io_, hub_options),
        sessions_(
            session::SessionManagerOptions{(dir_ / "data").string(), "speech",
                                           [this](std::function<void()> body) {
                                             // A session's worker waits for workers_may_start_
                                             // before it runs.
                                             return std::thread([this, body = std::move(body)] {
                                               EXPECT_TRUE(workers_may_start_.Wait());
                                               body();
                                             });
                                           }},
            capture_, [this](const std::string& dir) { return LoadModel(dir); },
            [this](const std::string& sid) { return hubs_.Create(sid); }, SteadyClock::Instance()) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }

  ~ServerLoopbackTest() override {
    workers_may_start_.Open();
    model_may_load_.Open();
    if (network_.joinable()) {
      server_->Shutdown();
      network_.join();
    }
    if (HasFailure()) std::cerr << "server log:\n" << log_.Text();
    api_.reset();
    server_.reset();
    sessions_.StopAll();
    fs::remove_all(dir_);
  }

  // Listens on a free loopback port and serves on one network thread.
  void Start(HttpServerOptions options = {}, ApiOptions api_options = {}) {
    options.host = kHost;
    options.port = 0;
    options.shutdown_grace_ms = 1000;
    server_ = std::make_unique<HttpServer>(io_, options, sessions_, hubs_);
    const auto port = server_->Listen();
    ASSERT_TRUE(port.ok()) << port.status().ToString();
    port_ = port.value();
    api_options.public_origin = "http://127.0.0.1:" + std::to_string(port_);
    api_options.max_body_bytes = options.max_body_bytes;
    api_options.heartbeat_interval_ms = options.heartbeat_interval_ms;
    api_ = std::make_unique<Api>(api_options, sessions_, hubs_);
    network_ = std::thread([this] { server_->Run(*api_); });
  }

  // The models, by folder: "speech" hears two words, "many" 150 one-word segments, "wordy"
  // kWordySegments of 300 words, "throws" throws after 0.5 s, and "slow" waits for
  // model_may_load_ and then hears what "speech" does.
  Result<std::unique_ptr<asr::EngineModel>> LoadModel(const std::string& dir) {
    if (dir == "many") return MakeModel(ManySegments(150));
    if (dir == "resume") return MakeModel(ManySegments(kResumeSegments, 4, 0.25));
    if (dir == "wordy") return MakeModel(ManySegments(kWordySegments, 300, 0.01));
    if (dir == "throws")
      return std::unique_ptr<asr::EngineModel>(std::make_unique<ThrowingModel>());
    if (dir == "slow") {
      model_loading_.Open();
      EXPECT_TRUE(model_may_load_.Wait());
    }
    return MakeModel({testing::SpeechAt(0.5, {"hello", "world"})});
  }
  static std::unique_ptr<asr::EngineModel> MakeModel(std::vector<testing::FakeSpeech> script) {
    return std::make_unique<ScriptedModel>(std::move(script));
  }

  HttpReply Http(const std::string& method, const std::string& target, const std::string& body = "",
                 int timeout_ms = 10000) {
    return SendHttp(kHost, port_, method, target, body, {}, timeout_ms);
  }

  // Creates a session (POST /sessions with `body`) and returns its id, "" on failure.
  std::string CreateSession(const Json& body) {
    const HttpReply reply = Http("POST", "/sessions", body.dump());
    EXPECT_EQ(reply.status, 201) << reply.body << reply.error;
    if (reply.status != 201) return "";
    return Json::parse(reply.body).at("session_id").get<std::string>();
  }

  // A session playing `seconds` of audio at `speed` through the model in `model_dir`;
  // `source` and `asr` add to its config.
  std::string CreateFileSession(const std::string& model_dir, double seconds, double speed,
                                Json source = Json::object(), Json asr = Json::object()) {
    const fs::path wav = dir_ / ("audio_" + std::to_string(++wavs_) + ".wav");
    WriteSilentWav(wav, seconds);
    source.update({{"type", "file"}, {"path", wav.string()}, {"speed", speed}});
    asr["model_dir"] = model_dir;
    return CreateSession({{"source", source}, {"asr", asr}});
  }

  // The session's viewer count once it is `want`, or after 20 s.
  size_t WaitForClients(const std::string& sid, size_t want) {
    size_t clients = want + 1;
    for (int i = 0; i < 400; ++i) {
      const Json metrics = Json::parse(Http("GET", "/sessions/" + sid + "/metrics").body);
      clients = metrics["delivery"]["clients"];
      if (clients == want) break;
      std::this_thread::sleep_for(50ms);
    }
    return clients;
  }

  bool Connect(WsClient& client, const std::string& target) {
    return client.Connect(kHost, port_, target);
  }

  fs::path dir_;
  testing::CapturedLog log_;
  boost::asio::io_context io_;
  testing::FakeCaptureBackend capture_;
  HubRegistry hubs_;
  Gate workers_may_start_{true};
  Gate model_may_load_{false};
  Gate model_loading_{false};
  int wavs_ = 0;
  session::SessionManager sessions_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<Api> api_;
  std::thread network_;
  uint16_t port_ = 0;
};

// Loading a model takes about a second; the network thread must not wait for it.
TEST_F(ServerLoopbackTest, TheNetworkAnswersWhileASessionsModelLoads) {
  Start();
  auto created = std::async(std::launch::async, [this] {
    return Http("POST", "/sessions",
                R"({"source": {"type": "push"}, "asr": {"model_dir": "slow"}})");
  });
  ASSERT_TRUE(model_loading_.Wait());

  const HttpReply health = Http("GET", "/health", "", 2000);
  EXPECT_EQ(health.status, 200) << health.error;
  EXPECT_EQ(Http("GET", "/sessions", "", 2000).status, 200);
  EXPECT_EQ(created.wait_for(0s), std::future_status::timeout) << "still loading";

  model_may_load_.Open();
  const HttpReply reply = created.get();
  ASSERT_EQ(reply.status, 201) << reply.body << reply.error;
  const Json body = Json::parse(reply.body);
  EXPECT_EQ(body["ws_url"], "ws://127.0.0.1:" + std::to_string(port_) + "/ws/" +
                                body["session_id"].get<std::string>());
}

// server.hb: every heartbeat_interval_ms (never sooner), its seq the last event's.
TEST_F(ServerLoopbackTest, AnIdleViewerGetsAHeartbeatEveryInterval) {
  HttpServerOptions options;
  options.heartbeat_interval_ms = 100;
  Start(options);
  const std::string sid = CreateSession({{"source", {{"type", "push"}}}});
  ASSERT_FALSE(sid.empty());
  WsClient viewer;
  ASSERT_TRUE(Connect(viewer, "/ws/" + sid));
  int heartbeats = 0;
  const auto envelopes =
      ReadUntil(viewer, [&](const Json& e) { return e["t"] == "server.hb" && ++heartbeats == 8; });
  ASSERT_EQ(heartbeats, 8);
  EXPECT_EQ(envelopes.front()["data"]["heartbeat_interval_ms"], 100);
  ExpectSeqRules(envelopes);
  auto gaps = HeartbeatGaps(envelopes);
  ASSERT_EQ(gaps.size(), 7u);
  for (const auto gap : gaps) {
    EXPECT_GE(gap, 100ms);
    EXPECT_LT(gap, 2s) << "only a stalled machine is this late";
  }
  std::sort(gaps.begin(), gaps.end());
  EXPECT_LT(gaps[gaps.size() / 2], 250ms) << "the median interval";
}

// Heartbeats interleave with a stream of events without ever announcing an event that is still
// on its way to the viewer.
TEST_F(ServerLoopbackTest, HeartbeatsAmongEventsRepeatTheLastSeqTheViewerGot) {
  HttpServerOptions options;
  options.heartbeat_interval_ms = 20;
  Start(options);
  workers_may_start_.Close();
  const std::string sid = CreateFileSession("many", 6, 3);
  ASSERT_FALSE(sid.empty());
  WsClient viewer;
  ASSERT_TRUE(Connect(viewer, "/ws/" + sid));
  workers_may_start_.Open();
  const auto envelopes = ReadUntil(viewer, [](const Json& e) { return IsStatus(e, "stopped"); });
  ASSERT_TRUE(IsStatus(envelopes.back(), "stopped"));
  ExpectSeqRules(envelopes);
  EXPECT_GE(OfType(envelopes, "server.hb").size(), 20u);
  EXPECT_GE(OfType(envelopes, "asr.final").size(), 9u);
  EXPECT_GE(OfType(envelopes, "vu").size(), 59u);
}

// The overflow policy of ws_connection.h: a viewer that stops reading is closed with 1013 once
// its queue holds nothing it may drop, and a reading viewer of the same session loses nothing.
// On loopback the kernel takes a few MB for a client that does not read, even with a small
// receive buffer (the sender's buffer grows), so the session sends more than that: segments of
// 300 words, whose finals are about 16 KB each.
TEST_F(ServerLoopbackTest, ASlowViewerIsClosedWith1013WhileAReadingOneGetsEveryFinal) {
  HttpServerOptions options;
  options.send_queue_limit_frames = 64;
  Start(options);
  workers_may_start_.Close();
  const std::string sid =
      CreateFileSession("wordy", 30, 100, {{"loop", true}}, {{"partial_interval_ms", 500}});
  ASSERT_FALSE(sid.empty());
  WsClient slow;
  slow.set_receive_buffer_bytes(1);  // the kernel's minimum
  ASSERT_TRUE(Connect(slow, "/ws/" + sid));
  WsClient reader;
  ASSERT_TRUE(Connect(reader, "/ws/" + sid));
  workers_may_start_.Open();

  size_t finals_seen = 0;
  auto got = ReadUntil(reader, [&](const Json& e) {
    return e["t"] == "asr.final" && ++finals_seen == kWordySegments;
  });
  ASSERT_EQ(finals_seen, kWordySegments);
  ASSERT_EQ(Http("DELETE", "/sessions/" + sid).status, 200);
  for (const auto& e : ReadUntil(reader, [](const Json& e) { return IsStatus(e, "stopped"); })) {
    got.push_back(e);
  }
  ASSERT_TRUE(IsStatus(got.back(), "stopped"));
  ExpectSeqRules(got);
  const auto finals = OfType(got, "asr.final");
  ASSERT_EQ(finals.size(), kWordySegments) << "each final, once";
  for (size_t i = 0; i < finals.size(); ++i) {
    EXPECT_EQ(finals[i]["data"]["segment_id"], i + 1);
    EXPECT_EQ(finals[i]["data"]["words"].size(), 300u);
  }

  std::vector<Json> slow_got;
  size_t slow_bytes = 0;
  while (const auto message = slow.Read(10000)) {
    slow_bytes += message->size();
    slow_got.push_back(Json::parse(*message));
  }
  ASSERT_TRUE(slow.closed()) << "not closed after " << slow_got.size() << " frames, " << slow_bytes
                             << " bytes: did the kernel take them all?";
  EXPECT_EQ(slow.close_code(), 1013);
  EXPECT_EQ(slow.close_reason(), "client too slow");
  EXPECT_LT(OfType(slow_got, "asr.final").size(), kWordySegments);
  ExpectSeqRules(slow_got);

  bool logged = false;
  for (const auto& line : log_.Objects()) {
    logged = logged || (line.value("session_id", "") == sid &&
                        line["msg"].get<std::string>().find("too slow") != std::string::npos);
  }
  EXPECT_TRUE(logged) << "the close is logged with the session's id";
}

// Pushed frames may be 1 MiB (kMaxAudioFrameBytes) and no more: one byte over closes the socket
// with 1009 and a reason, and the session goes on.
TEST_F(ServerLoopbackTest, APushedFrameMayBeOneMebibyteAndNoMore) {
  Start();
  const std::string sid = CreateSession({{"source", {{"type", "push"}}}});
  ASSERT_FALSE(sid.empty());
  WsClient producer;
  ASSERT_TRUE(Connect(producer, "/sessions/" + sid + "/audio"));
  ASSERT_TRUE(producer.WriteBinary(std::vector<unsigned char>(kMaxAudioFrameBytes, 0)));
  double audio_seconds = 0;
  for (int i = 0; i < 1000 && audio_seconds < 32; ++i) {
    std::this_thread::sleep_for(10ms);
    audio_seconds = Json::parse(Http("GET", "/sessions/" + sid).body)["audio_seconds"];
  }
  EXPECT_NEAR(audio_seconds, 32.768, 0.2) << "the whole frame was taken";

  producer.WriteBinary(std::vector<unsigned char>(kMaxAudioFrameBytes + 1, 0));
  EXPECT_FALSE(producer.Read());
  ASSERT_TRUE(producer.closed());
  EXPECT_EQ(producer.close_code(), 1009);
  EXPECT_EQ(producer.close_reason(), "audio frame over 1048576 bytes");
  EXPECT_EQ(Json::parse(Http("GET", "/sessions/" + sid).body)["status"], "running");
  WsClient next;
  EXPECT_TRUE(Connect(next, "/sessions/" + sid + "/audio")) << "the producer's place is free";
}

// A worker that fails unexpectedly tells its viewers with server.error and then status error,
// both with a fixed detail; the exception's text is only in the log, under the same error_id.
TEST_F(ServerLoopbackTest, AnEngineExceptionReachesViewersAsServerErrorWithoutItsText) {
  Start();
  workers_may_start_.Close();
  const std::string sid = CreateFileSession("throws", 3, 0);
  ASSERT_FALSE(sid.empty());
  WsClient viewer;
  ASSERT_TRUE(Connect(viewer, "/ws/" + sid));
  workers_may_start_.Open();

  const auto got = ReadUntil(viewer, [](const Json& e) { return IsStatus(e, "error"); });
  ASSERT_GE(got.size(), 3u);
  ASSERT_TRUE(IsStatus(got.back(), "error"));
  EXPECT_EQ(got.back()["data"]["detail"], "internal error");
  const Json& error = got[got.size() - 2];
  ASSERT_EQ(error["t"], "server.error") << "just before the status";
  EXPECT_EQ(error["data"]["code"], "internal");
  EXPECT_EQ(error["data"]["detail"], "internal error");
  const std::string error_id = error["data"]["error_id"];
  EXPECT_EQ(error["data"].size(), 3u) << error.dump();
  ExpectSeqRules(got);
  for (const auto& e : got) EXPECT_EQ(e.dump().find("exploded"), std::string::npos) << e.dump();

  const Json line = log_.Find("error_id", error_id);
  ASSERT_TRUE(line.is_object()) << "no log line with error_id " << error_id;
  EXPECT_EQ(line["session_id"], sid);
  EXPECT_THAT(line["msg"].get<std::string>(),
              HasSubstr("engine exploded at /srv/models/secret.bin"));
  const HttpReply summary = Http("GET", "/sessions/" + sid);
  EXPECT_EQ(Json::parse(summary.body)["error"], "internal error");
  EXPECT_EQ(summary.body.find("exploded"), std::string::npos);
}

// ---- Resuming (docs/protocol.md, "Resuming") ----

// What a viewer's stream says beyond the welcome, snapshots and heartbeats: the session's events,
// as text, in the order received.
std::vector<std::string> EventsOf(const std::vector<Json>& envelopes) {
  std::vector<std::string> out;
  for (const auto& e : envelopes) {
    const std::string type = e["t"];
    if (type != "session.welcome" && type != "session.snapshot" && type != "server.hb") {
      out.push_back(e.dump());
    }
  }
  return out;
}

// The seq of the newest event in `envelopes` (the welcome's when there is none).
uint64_t LastSeq(const std::vector<Json>& envelopes) {
  uint64_t last = 0;
  for (const auto& e : envelopes) {
    if (e["t"] != "server.hb") last = e["seq"].get<uint64_t>();
  }
  return last;
}

std::vector<Json> Finals(const std::vector<Json>& envelopes) {
  return OfType(envelopes, "asr.final");
}

class ResumeTest : public ServerLoopbackTest {
 protected:
  explicit ResumeTest(HubOptions hub_options = {}) : ServerLoopbackTest(hub_options) {}

  // A session of kResumeSegments segments of 4 words, about 3 s long, held until the caller
  // opens workers_may_start_.
  std::string CreateResumeSession() {
    workers_may_start_.Close();
    return CreateFileSession("resume", 18, 6, Json::object(), {{"partial_interval_ms", 200}});
  }

  // Everything a viewer that stays connected gets until the session stops.
  std::vector<Json> WatchToTheEnd(const std::string& sid, const std::string& query = "") {
    WsClient viewer;
    EXPECT_TRUE(Connect(viewer, "/ws/" + sid + query));
    auto got = ReadUntil(viewer, [](const Json& e) { return IsStatus(e, "stopped"); });
    EXPECT_TRUE(!got.empty() && IsStatus(got.back(), "stopped"));
    return got;
  }
};

// A viewer that drops out at several points — after a few events, between a partial and its
// final, right after a final — and comes back with ?resume_from=<its last seq> ends up with
// exactly the events of a viewer that stayed, seq by seq.
TEST_F(ResumeTest, AViewerThatResumesGetsExactlyTheEventsItMissed) {
  Start();
  const std::string sid = CreateResumeSession();
  ASSERT_FALSE(sid.empty());
  // Both from seq 0, so that neither misses what the session says before its upgrade is done.
  WsClient reference;
  ASSERT_TRUE(Connect(reference, "/ws/" + sid + "?resume_from=0"));
  auto resumer = std::make_unique<WsClient>();
  ASSERT_TRUE(Connect(*resumer, "/ws/" + sid + "?resume_from=0"));
  workers_may_start_.Open();

  std::vector<Json> stayed;
  std::vector<Json> resumed;
  size_t events = 0;
  const std::vector<std::pair<std::string, std::function<bool(const Json&)>>> drop_outs = {
      {"after five events", [&](const Json& e) { return e["t"] != "server.hb" && ++events == 6; }},
      {"between a partial and its final",
       [](const Json& e) { return e["t"] == "asr.partial" && e["data"]["segment_id"] == 3; }},
      {"after a final",
       [](const Json& e) { return e["t"] == "asr.final" && e["data"]["segment_id"] == 6; }},
  };
  for (const auto& [where, last] : drop_outs) {
    SCOPED_TRACE(where);
    for (const auto& e : ReadUntil(*resumer, last)) resumed.push_back(e);
    ASSERT_FALSE(resumer->closed());
    const uint64_t seq = LastSeq(resumed);
    resumer->Close();
    // Let the session go on without it.
    for (const auto& e : ReadUntil(reference, [&](const Json& e) {
           return e["seq"].get<uint64_t>() >= seq + 12 || IsStatus(e, "stopped");
         })) {
      stayed.push_back(e);
    }
    ASSERT_GE(LastSeq(stayed), seq + 12) << "the session went on while the viewer was away";
    resumer = std::make_unique<WsClient>();
    ASSERT_TRUE(Connect(*resumer, "/ws/" + sid + "?resume_from=" + std::to_string(seq)));
    const auto welcome = Json::parse(resumer->Read().value_or("{}"));
    ASSERT_EQ(welcome["t"], "session.welcome");
    EXPECT_EQ(welcome["seq"], seq) << "the replayed events follow it";
    EXPECT_EQ(welcome["data"]["resume"]["from"], seq);
    EXPECT_GE(welcome["data"]["resume"]["replayed"].get<uint64_t>(), 12u);
    resumed.push_back(welcome);
  }
  for (const auto& e : ReadUntil(*resumer, [](const Json& e) { return IsStatus(e, "stopped"); })) {
    resumed.push_back(e);
  }
  for (const auto& e : ReadUntil(reference, [](const Json& e) { return IsStatus(e, "stopped"); })) {
    stayed.push_back(e);
  }
  ASSERT_TRUE(IsStatus(stayed.back(), "stopped"));
  ASSERT_TRUE(IsStatus(resumed.back(), "stopped"));
  EXPECT_EQ(Finals(stayed).size(), kResumeSegments);
  EXPECT_EQ(EventsOf(resumed), EventsOf(stayed)) << "no gap, no duplicate, same order";
}

// After the session stopped, a viewer resumes from a seq in the middle (?resume_from or a first
// client.hello): the rest of the finals, then the final status `stopped`.
TEST_F(ResumeTest, AViewerResumesAfterTheSessionStopped) {
  Start();
  const std::string sid = CreateResumeSession();
  ASSERT_FALSE(sid.empty());
  workers_may_start_.Open();
  const auto all = WatchToTheEnd(sid);
  const auto finals = Finals(all);
  ASSERT_EQ(finals.size(), kResumeSegments);
  const uint64_t from = finals[5]["seq"];
  std::vector<std::string> after;
  for (const auto& e : EventsOf(all)) {
    if (Json::parse(e)["seq"].get<uint64_t>() > from) after.push_back(e);
  }

  const auto by_query = WatchToTheEnd(sid, "?resume_from=" + std::to_string(from));
  EXPECT_EQ(by_query.front()["data"]["resume"], Json({{"from", from}, {"replayed", after.size()}}));
  EXPECT_EQ(by_query.front()["data"]["snapshot"]["status"], "stopped");
  EXPECT_EQ(EventsOf(by_query), after);
  EXPECT_EQ(Finals(by_query).size(), kResumeSegments - 6);

  WsClient hello;
  ASSERT_TRUE(Connect(hello, "/ws/" + sid));
  ASSERT_TRUE(
      hello.WriteText(Json({{"t", "client.hello"}, {"data", {{"resume_from", from}}}}).dump()));
  const auto by_hello = ReadUntil(hello, [](const Json& e) { return IsStatus(e, "stopped"); });
  ASSERT_FALSE(by_hello.empty());
  EXPECT_EQ(by_hello.front()["data"]["resume"], Json({{"from", from}, {"replayed", after.size()}}));
  EXPECT_EQ(EventsOf(by_hello), after);
}

// A viewer that does not resume gets its welcome once the hello grace ends, and nothing it
// would have had from an immediate welcome is lost meanwhile.
TEST_F(ResumeTest, AViewerThatSaysNothingGetsEveryEventFromItsUpgrade) {
  HttpServerOptions options;
  options.hello_grace_ms = 300;
  Start(options);
  const std::string sid = CreateResumeSession();
  ASSERT_FALSE(sid.empty());
  WsClient viewer;
  ASSERT_TRUE(Connect(viewer, "/ws/" + sid));
  workers_may_start_.Open();
  const auto got = ReadUntil(viewer, [](const Json& e) { return IsStatus(e, "stopped"); });
  ExpectSeqRules(got);
  EXPECT_FALSE(got.front()["data"].contains("resume"));
  EXPECT_EQ(Finals(got).size(), kResumeSegments);
  uint64_t previous = got.front()["seq"];
  for (const auto& e : got) {
    if (e["t"] == "server.hb" || e["t"] == "session.welcome") continue;
    EXPECT_EQ(e["seq"], previous + 1) << "no gap";
    previous = e["seq"];
  }
}

TEST_F(ResumeTest, AMalformedResumeIsRefused) {
  Start();
  const std::string sid = CreateSession({{"source", {{"type", "push"}}}});
  ASSERT_FALSE(sid.empty());
  for (const std::string bad : {"abc", "-1", "1.5", "", "99999999999999999999999"}) {
    WsClient viewer;
    EXPECT_FALSE(Connect(viewer, "/ws/" + sid + "?resume_from=" + bad)) << bad;
    EXPECT_EQ(viewer.refusal_status(), 400) << bad;
    EXPECT_THAT(viewer.refusal_body(), HasSubstr("resume_from must be a non-negative integer"));
  }
  WsClient hello;
  ASSERT_TRUE(Connect(hello, "/ws/" + sid));
  ASSERT_TRUE(hello.WriteText(R"({"t": "client.hello", "data": {"resume_from": "x"}})"));
  while (hello.Read()) {
  }
  ASSERT_TRUE(hello.closed());
  EXPECT_EQ(hello.close_code(), 1008);
  EXPECT_EQ(hello.close_reason(), "client.hello: resume_from must be a non-negative integer");

  WsClient late;  // after its welcome, a hello would leave a gap
  ASSERT_TRUE(Connect(late, "/ws/" + sid));
  EXPECT_EQ(Json::parse(late.Read().value_or("{}"))["t"], "session.welcome");
  ASSERT_TRUE(late.WriteText(R"({"t": "client.hello", "data": {"resume_from": 0}})"));
  while (late.Read()) {
  }
  ASSERT_TRUE(late.closed());
  EXPECT_EQ(late.close_code(), 1008);
  EXPECT_EQ(late.close_reason(),
            "client.hello must be the first message, within 500 ms; use ?resume_from");

  WsClient chatty;  // other messages are ignored
  ASSERT_TRUE(Connect(chatty, "/ws/" + sid));
  ASSERT_TRUE(chatty.WriteText("not json"));
  const auto welcome = Json::parse(chatty.Read().value_or("{}"));
  EXPECT_EQ(welcome["t"], "session.welcome");
  EXPECT_FALSE(welcome["data"].contains("resume"));
}

class SmallReplayTest : public ResumeTest {
 protected:
  SmallReplayTest() : ResumeTest({.replay_events = 10}) {}
};

// A seq older than the buffer (or newer than the session's last, as after a server restart):
// the welcome says so and session.snapshot follows, then live events — never a silent gap.
TEST_F(SmallReplayTest, AViewerResumingFromBeyondTheBufferGetsTheSnapshotFirst) {
  HttpServerOptions options;
  options.heartbeat_interval_ms = 50;
  Start(options);
  const std::string sid = CreateResumeSession();
  ASSERT_FALSE(sid.empty());
  workers_may_start_.Open();
  const auto all = WatchToTheEnd(sid);
  const uint64_t last = LastSeq(all);
  ASSERT_GT(last, 20u);
  std::vector<std::string> final_texts;
  for (const auto& f : Finals(all)) final_texts.push_back(f["data"]["text"]);

  // The buffer holds seqs last-9 .. last: resuming from last-10 would be covered, last-11 not.
  for (const uint64_t from : {uint64_t{0}, uint64_t{3}, last - 11, last + 1, last + 100}) {
    SCOPED_TRACE("resume_from " + std::to_string(from));
    WsClient viewer;
    ASSERT_TRUE(Connect(viewer, "/ws/" + sid + "?resume_from=" + std::to_string(from)));
    const auto got = ReadUntil(viewer, [](const Json& e) { return e["t"] == "server.hb"; });
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0]["t"], "session.welcome");
    EXPECT_EQ(got[0]["seq"], last);
    EXPECT_EQ(got[0]["data"]["resume"], Json({{"from", from}, {"snapshot", true}}));
    ASSERT_EQ(got[1]["t"], "session.snapshot");
    EXPECT_EQ(got[1]["seq"], last);
    EXPECT_EQ(got[1]["data"]["status"], "stopped");
    EXPECT_EQ(got[1]["data"]["last_seq"], last);
    EXPECT_TRUE(got[1]["data"]["live_partial"].is_null());
    std::vector<std::string> texts;
    for (const auto& f : got[1]["data"]["recent_finals"]) texts.push_back(f["text"]);
    EXPECT_EQ(texts, final_texts);
    EXPECT_EQ(got[2]["seq"], last) << "a heartbeat: nothing else comes";
  }

  WsClient within;  // the last 9 events are still buffered
  ASSERT_TRUE(Connect(within, "/ws/" + sid + "?resume_from=" + std::to_string(last - 9)));
  const auto got = ReadUntil(within, [](const Json& e) { return IsStatus(e, "stopped"); });
  EXPECT_EQ(got.front()["data"]["resume"], Json({{"from", last - 9}, {"replayed", 9}}));
  EXPECT_EQ(got.size(), 10u);
  const Json metrics = Json::parse(Http("GET", "/sessions/" + sid + "/metrics").body);
  EXPECT_EQ(metrics["delivery"]["replay_events"], 10);
  EXPECT_EQ(metrics["delivery"]["replay_oldest_seq"], last - 9);
  EXPECT_GT(metrics["delivery"]["replay_bytes"].get<size_t>(), 10u * 100);
}

// ---- Slow viewers (docs/protocol.md, "Slow viewers") ----

class BigReplayTest : public ResumeTest {
 protected:
  BigReplayTest() : ResumeTest({.replay_events = 100000}) {}
};

// A viewer that stops reading while a wordy session runs: a reading viewer of the same session
// gets every final, the slow one's queue never holds more than its byte limit, it is closed with
// 1013, and resuming from its last seq gives it every final it had not had, once.
TEST_F(BigReplayTest, ASlowViewerIsClosedWithinItsLimitAndResumesToEveryFinal) {
  HttpServerOptions options;
  options.send_queue_limit_frames = 64;
  options.send_queue_limit_bytes = 256 * 1024;
  Start(options);
  workers_may_start_.Close();
  const std::string sid =
      CreateFileSession("wordy", 30, 100, {{"loop", true}}, {{"partial_interval_ms", 500}});
  ASSERT_FALSE(sid.empty());
  WsClient slow;
  slow.set_receive_buffer_bytes(1);
  ASSERT_TRUE(Connect(slow, "/ws/" + sid + "?resume_from=0"));
  WsClient reader;
  ASSERT_TRUE(Connect(reader, "/ws/" + sid + "?resume_from=0"));
  workers_may_start_.Open();

  size_t finals_seen = 0;
  size_t most_queued_bytes = 0;
  auto got = ReadUntil(reader, [&](const Json& e) {
    if (e["t"] != "asr.final") return false;
    if (++finals_seen % 10 == 0) {
      const Json metrics = Json::parse(Http("GET", "/sessions/" + sid + "/metrics").body);
      most_queued_bytes =
          std::max(most_queued_bytes, metrics["delivery"]["max_queued_bytes"].get<size_t>());
    }
    return finals_seen == kWordySegments;
  });
  ASSERT_EQ(finals_seen, kWordySegments);
  EXPECT_LE(most_queued_bytes, options.send_queue_limit_bytes);
  ASSERT_EQ(Http("DELETE", "/sessions/" + sid).status, 200);
  for (const auto& e : ReadUntil(reader, [](const Json& e) { return IsStatus(e, "stopped"); })) {
    got.push_back(e);
  }
  ASSERT_EQ(Finals(got).size(), kWordySegments) << "the reader lost nothing";

  std::vector<Json> slow_got;
  while (const auto message = slow.Read(10000)) slow_got.push_back(Json::parse(*message));
  ASSERT_TRUE(slow.closed());
  EXPECT_EQ(slow.close_code(), 1013);
  EXPECT_EQ(slow.close_reason(), "client too slow");
  const size_t finals_before = Finals(slow_got).size();
  EXPECT_LT(finals_before, kWordySegments);

  WsClient again;
  ASSERT_TRUE(Connect(again, "/ws/" + sid + "?resume_from=" + std::to_string(LastSeq(slow_got))));
  for (const auto& e : ReadUntil(again, [](const Json& e) { return IsStatus(e, "stopped"); })) {
    slow_got.push_back(e);
  }
  ASSERT_TRUE(IsStatus(slow_got.back(), "stopped"));
  const auto finals = Finals(slow_got);
  ASSERT_EQ(finals.size(), kWordySegments) << finals_before << " before the close";
  for (size_t i = 0; i < finals.size(); ++i) EXPECT_EQ(finals[i]["data"]["segment_id"], i + 1);
}

// A viewer whose socket takes nothing for client_stall_ms is closed with 1013 "client stalled",
// even with room left in its queue.
TEST_F(ServerLoopbackTest, AViewerThatTakesNothingIsClosedAsStalled) {
  HttpServerOptions options;
  options.client_stall_ms = 300;
  options.send_queue_limit_frames = 100000;
  options.send_queue_limit_bytes = 1 << 30;
  Start(options);
  workers_may_start_.Close();
  const std::string sid =
      CreateFileSession("wordy", 30, 100, {{"loop", true}}, {{"partial_interval_ms", 500}});
  ASSERT_FALSE(sid.empty());
  WsClient stalled;
  stalled.set_receive_buffer_bytes(1);
  ASSERT_TRUE(Connect(stalled, "/ws/" + sid + "?resume_from=0"));
  workers_may_start_.Open();
  bool stalled_logged = false;
  for (int i = 0; i < 400 && !stalled_logged; ++i) {
    std::this_thread::sleep_for(50ms);
    for (const auto& line : log_.Objects()) {
      stalled_logged =
          stalled_logged || (line.value("session_id", "") == sid &&
                             line["msg"].get<std::string>().find("stalled") != std::string::npos);
    }
  }
  ASSERT_TRUE(stalled_logged);
  // Reading again now (within the close's grace), it gets what was on its way and the close.
  while (stalled.Read(10000)) {
  }
  ASSERT_TRUE(stalled.closed());
  EXPECT_EQ(stalled.close_code(), 1013);
  EXPECT_EQ(stalled.close_reason(), "client stalled");
  EXPECT_EQ(WaitForClients(sid, 0), 0u) << "its queue is gone";
}

// A peer that neither sends nor answers pings (a client that never reads) is dropped after
// client_timeout_ms, and its queue with it.
TEST_F(ServerLoopbackTest, ASilentViewerIsDroppedAfterTheClientTimeout) {
  HttpServerOptions options;
  options.client_timeout_ms = 400;
  Start(options);
  const std::string sid = CreateSession({{"source", {{"type", "push"}}}});
  ASSERT_FALSE(sid.empty());
  WsClient silent;  // Beast answers pings only inside Read, which it never calls
  ASSERT_TRUE(Connect(silent, "/ws/" + sid));
  EXPECT_EQ(WaitForClients(sid, 0), 0u) << "dropped, queue freed";
  while (silent.Read(10000)) {
  }
  EXPECT_TRUE(silent.closed());
  EXPECT_FALSE(silent.timed_out());
}

// ---- Admission (docs/protocol.md, "Admission") ----

TEST_F(ServerLoopbackTest, SessionsOverTheLimitGet429WithRetryAfter) {
  ApiOptions api;
  api.max_sessions = 1;
  api.retry_after_ms = 2500;
  Start({}, api);
  const std::string first = CreateSession({{"source", {{"type", "push"}}}});
  ASSERT_FALSE(first.empty());
  const HttpReply refused = Http("POST", "/sessions", R"({"source": {"type": "push"}})");
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(Json::parse(refused.body),
            Json({{"detail", "too many sessions (limit 1)"}, {"retry_after_ms", 2500}}));
  EXPECT_EQ(refused.headers.at("retry-after"), "3");
  ASSERT_EQ(Http("DELETE", "/sessions/" + first).status, 200);
  for (int i = 0;
       i < 400 && Json::parse(Http("GET", "/sessions/" + first).body)["status"] != "stopped"; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_FALSE(CreateSession({{"source", {{"type", "push"}}}}).empty())
      << "a stopped session leaves room";
}

// Reads until the socket closes; its close code and reason.
std::pair<int, std::string> CloseOf(WsClient& client) {
  while (client.Read()) {
  }
  return {client.close_code(), client.close_reason()};
}

TEST_F(ServerLoopbackTest, WebSocketsOverTheLimitsAreClosedWith1013AndRetryAfter) {
  HttpServerOptions options;
  options.max_clients_per_session = 1;
  options.max_connections = 2;
  options.retry_after_ms = 4000;
  Start(options);
  const std::string a = CreateSession({{"source", {{"type", "push"}}}});
  const std::string b = CreateSession({{"source", {{"type", "push"}}}});
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  WsClient first;
  ASSERT_TRUE(Connect(first, "/ws/" + a));
  EXPECT_EQ(Json::parse(first.Read().value_or("{}"))["t"], "session.welcome");

  WsClient second_viewer;
  ASSERT_TRUE(Connect(second_viewer, "/ws/" + a));
  EXPECT_EQ(CloseOf(second_viewer),
            std::make_pair(1013, std::string("too many viewers; retry_after_ms=4000")));

  WsClient producer;
  ASSERT_TRUE(Connect(producer, "/sessions/" + b + "/audio"));
  WsClient third;
  ASSERT_TRUE(Connect(third, "/ws/" + b));
  EXPECT_EQ(CloseOf(third),
            std::make_pair(1013, std::string("too many connections; retry_after_ms=4000")));

  ASSERT_TRUE(first.Close());
  bool admitted = false;  // once the server has seen the close, the place is free
  for (int i = 0; i < 100 && !admitted; ++i) {
    WsClient next;
    ASSERT_TRUE(Connect(next, "/ws/" + a));
    admitted = Json::parse(next.Read().value_or("{}"))["t"] == "session.welcome";
    if (!admitted) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(admitted);
}

}  // namespace
}  // namespace lx::server
