// The REST API without sockets: routes, status codes, error hygiene (review finding 2).
#include "server/api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <boost/asio/io_context.hpp>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <tuple>
#include <vector>

#include "audio/audio_reader.h"
#include "fakes/fake_audio_file_writer.h"
#include "fakes/fake_capture.h"
#include "fakes/fake_engine.h"
#include "support/captured_log.h"

namespace lx::server {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

const std::string kClip =
    "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav";

// A model whose streams hear "hello world" at 0.5 s.
class ScriptedModel final : public asr::EngineModel {
 public:
  std::string_view engine_name() const override { return "fake"; }
  std::string_view model_name() const override { return "scripted"; }
  Result<std::unique_ptr<asr::EngineStream>> CreateStream(
      const asr::EngineStreamConfig& config) const override {
    return std::unique_ptr<asr::EngineStream>(std::make_unique<testing::FakeEngineStream>(
        std::vector<testing::FakeSpeech>{testing::SpeechAt(0.5, {"hello", "world"})},
        config.silence_ms, nullptr));
  }
};

class ApiTest : public ::testing::Test {
 protected:
  ApiTest()
      : dir_(fs::temp_directory_path() /
             ("lx_api_" +
              std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()))),
        capture_(testing::FakeCaptureScript{}),
        hubs_(io_),
        sessions_(
            session::SessionManagerOptions{dir_.string(), "/models/default", {}}, capture_,
            [](const std::string& dir) -> Result<std::unique_ptr<asr::EngineModel>> {
              if (dir == "/models/missing") return Status::NotFound("no model in " + dir);
              return std::unique_ptr<asr::EngineModel>(std::make_unique<ScriptedModel>());
            },
            [this](const std::string& sid) { return hubs_.Create(sid); }, SteadyClock::Instance()),
        api_(ApiOptions{"http://127.0.0.1:8000", {"http://allowed.example"}, "", 1024, 15000},
             sessions_, hubs_) {}
  ~ApiTest() override {
    sessions_.StopAll();
    fs::remove_all(dir_);
  }

  static HttpRequest Request(std::string method, std::string path, std::string body = "") {
    HttpRequest request;
    request.method = std::move(method);
    request.path = std::move(path);
    request.body = std::move(body);
    request.headers["content-type"] = "application/json";
    request.request_id = "test";
    return request;
  }
  HttpResponse Call(std::string method, std::string path, std::string body = "") {
    return api_.Handle(Request(std::move(method), std::move(path), std::move(body)));
  }
  // A session playing kClip as fast as it can; `save_audio` "" leaves the field out.
  std::string CreateFileSession(const std::string& save_audio = "") {
    Json body{{"name", "talk"}, {"source", {{"type", "file"}, {"path", kClip}, {"speed", 0}}}};
    if (!save_audio.empty()) body["save_audio"] = save_audio;
    const auto response = Call("POST", "/sessions", body.dump());
    EXPECT_EQ(response.status, 201) << response.body;
    return Json::parse(response.body)["session_id"];
  }
  // Waits until the session reports `status` (the worker sets it), at most 5 s.
  bool WaitForStatus(const std::string& sid, const std::string& status) {
    for (int i = 0; i < 500; ++i) {
      if (Json::parse(Call("GET", "/sessions/" + sid).body)["status"] == status) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  fs::path dir_;
  boost::asio::io_context io_;
  testing::FakeCaptureBackend capture_;
  HubRegistry hubs_;
  session::SessionManager sessions_;
  Api api_;
};

TEST_F(ApiTest, UnknownRouteIs404AndWrongMethodIs405) {
  const auto missing = Call("GET", "/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(Json::parse(missing.body)["detail"], "no such route: /nope");
  EXPECT_EQ(Call("PUT", "/sessions").status, 405);
  EXPECT_EQ(Call("GET", "/health").status, 200);
}

TEST_F(ApiTest, ClientMistakesGetPreciseStatuses) {
  auto wrong_type = Request("POST", "/sessions", "{}");
  wrong_type.headers["content-type"] = "text/plain";
  EXPECT_EQ(api_.Handle(wrong_type).status, 415);
  EXPECT_EQ(Call("POST", "/sessions", "{not json").status, 400);
  const auto unknown =
      Call("POST", "/sessions", R"({"source": {"type": "file", "path": "x"}, "colour": 1})");
  EXPECT_EQ(unknown.status, 422);
  EXPECT_THAT(Json::parse(unknown.body)["detail"].get<std::string>(), HasSubstr("colour"));
  const auto bad_speed =
      Call("POST", "/sessions", R"({"source": {"type": "file", "path": "x", "speed": "fast"}})");
  EXPECT_EQ(bad_speed.status, 422);
  EXPECT_THAT(Json::parse(bad_speed.body)["detail"].get<std::string>(), HasSubstr("source.speed"));
  const auto missing_file =
      Call("POST", "/sessions", R"({"source": {"type": "file", "path": "/no/such.wav"}})");
  EXPECT_EQ(missing_file.status, 422);
  EXPECT_THAT(Json::parse(missing_file.body)["detail"].get<std::string>(),
              HasSubstr("/no/such.wav"));
  const auto missing_model =
      Call("POST", "/sessions",
           R"({"source": {"type": "push"}, "asr": {"model_dir": "/models/missing"}})");
  EXPECT_EQ(missing_model.status, 422);
  EXPECT_THAT(Json::parse(missing_model.body)["detail"].get<std::string>(),
              HasSubstr("/models/missing"));
  EXPECT_EQ(Call("GET", "/sessions/unknown/snapshot").status, 404);
  EXPECT_EQ(Call("POST", "/sessions/unknown/pause").status, 404);
  EXPECT_EQ(capture_.counters().opens, capture_.counters().closes);
}

TEST_F(ApiTest, FileSessionLifecycleThroughTheApi) {
  const std::string sid = CreateFileSession();
  ASSERT_TRUE(WaitForStatus(sid, "stopped")) << "a non-looping file ends by itself";
  const auto snapshot = Json::parse(Call("GET", "/sessions/" + sid + "/snapshot").body);
  EXPECT_EQ(snapshot["sid"], sid);
  EXPECT_EQ(snapshot["name"], "talk");
  EXPECT_EQ(snapshot["status"], "stopped");
  EXPECT_EQ(snapshot["config"]["source"]["type"], "file");
  EXPECT_NEAR(snapshot["audio_seconds"].get<double>(), 2.99, 0.02);
  const auto list = Json::parse(Call("GET", "/sessions").body)["sessions"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["session_id"], sid);
  io_.run();  // deliver the hub's queue so the snapshot's caption summary is current
  const auto delivered = Json::parse(Call("GET", "/sessions/" + sid + "/snapshot").body);
  ASSERT_EQ(delivered["recent_finals"].size(), 1u);
  EXPECT_EQ(delivered["recent_finals"][0]["text"], "hello world");
  EXPECT_GT(delivered["last_seq"].get<int>(), 1);
  auto export_vtt = Request("GET", "/sessions/" + sid + "/export");
  export_vtt.query["format"] = "vtt";
  const auto vtt = api_.Handle(export_vtt);
  EXPECT_EQ(vtt.status, 200);
  EXPECT_EQ(vtt.content_type, "text/vtt; charset=utf-8");
  EXPECT_THAT(vtt.body, HasSubstr("hello world"));
  auto bad_format = Request("GET", "/sessions/" + sid + "/export");
  bad_format.query["format"] = "doc";
  EXPECT_EQ(api_.Handle(bad_format).status, 422);
  const auto metrics = Json::parse(Call("GET", "/sessions/" + sid + "/metrics").body);
  EXPECT_EQ(metrics["asr"]["finals"], 1);
  EXPECT_EQ(metrics["overload"]["dropped_audio_s"], 0.0) << "a file at speed 0 never lags";
  EXPECT_EQ(metrics["overload"]["overloaded"], false);
  const auto prometheus = Call("GET", "/metrics");
  EXPECT_THAT(prometheus.body, HasSubstr("loquilex_sessions{status=\"stopped\"} 1"));
  EXPECT_EQ(Call("POST", "/sessions/" + sid + "/pause").status, 409) << "it has ended";
}

// Every sample of an audio file, as loquilex reads it.
std::vector<float> ReadAudio(const std::string& path) {
  std::vector<float> all;
  auto source = audio::OpenAudioFile(path);
  EXPECT_TRUE(source.ok()) << source.status().ToString();
  std::vector<float> chunk;
  while (source.ok()) {
    auto read = (*source)->Read(&chunk, 4096);
    if (!read.ok() || *read == 0) break;
    all.insert(all.end(), chunk.begin(), chunk.end());
  }
  return all;
}

TEST_F(ApiTest, SavedAudioIsDownloadedWithItsContentType) {
  const std::vector<float> clip = ReadAudio(kClip);
  ASSERT_EQ(clip.size(), 47840u);
  for (const auto& [format, content_type, magic] :
       {std::tuple{"wav", "audio/wav", "RIFF"}, std::tuple{"flac", "audio/flac", "fLaC"}}) {
    SCOPED_TRACE(format);
    const std::string sid = CreateFileSession(format);
    ASSERT_TRUE(WaitForStatus(sid, "stopped"));
    EXPECT_EQ(
        Json::parse(Call("GET", "/sessions/" + sid + "/snapshot").body)["config"]["save_audio"],
        format);
    const auto audio = Call("GET", "/sessions/" + sid + "/audio");
    ASSERT_EQ(audio.status, 200) << audio.body;
    EXPECT_EQ(audio.content_type, content_type);
    EXPECT_EQ(audio.headers.at("Content-Disposition"),
              "attachment; filename=\"" + sid + "." + format + "\"");
    EXPECT_EQ(audio.body.substr(0, 4), magic);
    const fs::path copy = dir_ / (std::string("copy.") + format);
    std::ofstream(copy, std::ios::binary) << audio.body;
    EXPECT_EQ(ReadAudio(copy.string()), clip) << "a 16 kHz 16-bit clip is saved bit for bit";
  }
}

TEST_F(ApiTest, AudioOfASessionThatSavesNoneIs404) {
  const std::string sid = CreateFileSession();
  const auto audio = Call("GET", "/sessions/" + sid + "/audio");
  EXPECT_EQ(audio.status, 404);
  EXPECT_EQ(Json::parse(audio.body)["detail"],
            "session " + sid + " saves no audio (save_audio is off)");
  EXPECT_EQ(Call("GET", "/sessions/nope/audio").status, 404);
  EXPECT_EQ(Call("POST", "/sessions/" + sid + "/audio").status, 405);
}

TEST_F(ApiTest, AnUnknownSaveAudioFormatIs422NamingTheField) {
  const auto mp3 =
      Call("POST", "/sessions", R"({"source": {"type": "push"}, "save_audio": "mp3"})");
  EXPECT_EQ(mp3.status, 422);
  EXPECT_EQ(Json::parse(mp3.body)["detail"], "save_audio must be one of off, wav, flac");
  EXPECT_TRUE(sessions_.List().empty());
}

TEST_F(ApiTest, PushSessionPausesResumesAndStops) {
  const auto created = Call("POST", "/sessions", R"({"source": {"type": "push"}})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string sid = Json::parse(created.body)["session_id"];
  EXPECT_EQ(Json::parse(created.body)["ws_url"], "ws://127.0.0.1:8000/ws/" + sid);
  ASSERT_TRUE(WaitForStatus(sid, "running"));
  EXPECT_EQ(Call("POST", "/sessions/" + sid + "/pause").status, 200);
  ASSERT_TRUE(WaitForStatus(sid, "paused"));
  const std::vector<unsigned char> frame(320, 0);
  EXPECT_EQ(api_.PushAudio(sid, frame).code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(Call("POST", "/sessions/" + sid + "/resume").status, 200);
  ASSERT_TRUE(WaitForStatus(sid, "running"));
  EXPECT_TRUE(api_.PushAudio(sid, frame).ok());
  EXPECT_EQ(api_.PushAudio(sid, std::vector<unsigned char>(3, 0)).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(Call("DELETE", "/sessions/" + sid).status, 200);
  ASSERT_TRUE(WaitForStatus(sid, "stopped"));
  EXPECT_EQ(Call("DELETE", "/nope/x").status, 404);
}

TEST_F(ApiTest, UpgradesCheckOriginSessionAndPath) {
  const auto created = Call("POST", "/sessions", R"({"source": {"type": "push"}})");
  const std::string sid = Json::parse(created.body)["session_id"];
  auto upgrade = Request("GET", "/ws/" + sid);
  EXPECT_FALSE(api_.CheckUpgrade(upgrade).refusal.has_value()) << "no Origin: not a browser";
  upgrade.headers["origin"] = "http://127.0.0.1:8000";
  EXPECT_FALSE(api_.CheckUpgrade(upgrade).refusal.has_value());
  upgrade.headers["origin"] = "http://allowed.example";
  EXPECT_FALSE(api_.CheckUpgrade(upgrade).refusal.has_value());
  upgrade.headers["origin"] = "http://evil.example";
  ASSERT_TRUE(api_.CheckUpgrade(upgrade).refusal.has_value());
  EXPECT_EQ(api_.CheckUpgrade(upgrade).refusal->status, 403);
  EXPECT_EQ(api_.CheckUpgrade(Request("GET", "/ws/nope")).refusal->status, 404);
  EXPECT_EQ(api_.CheckUpgrade(Request("GET", "/elsewhere")).refusal->status, 404);
  EXPECT_FALSE(api_.CheckUpgrade(Request("GET", "/sessions/" + sid + "/audio")).refusal);
}

TEST_F(ApiTest, WelcomeIsAnEnvelopeWithTheSnapshot) {
  const std::string sid = CreateFileSession();
  HubSummary summary;
  summary.last_seq = 7;
  const auto welcome = Json::parse(api_.Welcome(sid, summary));
  EXPECT_EQ(welcome["t"], "session.welcome");
  EXPECT_EQ(welcome["seq"], 7);
  EXPECT_EQ(welcome["data"]["snapshot"]["sid"], sid);
  EXPECT_EQ(welcome["data"]["heartbeat_interval_ms"], 15000);
  EXPECT_EQ(welcome["data"]["limits"]["max_audio_frame_bytes"], 1 << 20);
}

// data.resume and the welcome's seq for each way a viewer joins (docs/protocol.md, "Resuming").
TEST_F(ApiTest, WelcomeSaysWhatFollowsAResume) {
  const std::string sid = CreateFileSession();
  HubSummary summary;
  summary.last_seq = 9;
  const auto replay = Json::parse(api_.Welcome(sid, summary, {4, false, 5, 4}));
  EXPECT_EQ(replay["seq"], 4) << "the replayed events 5..9 follow it";
  EXPECT_EQ(replay["data"]["resume"], Json({{"from", 4}, {"replayed", 5}}));
  const auto snapshot = Json::parse(api_.Welcome(sid, summary, {2, true, 0, 9}));
  EXPECT_EQ(snapshot["seq"], 9);
  EXPECT_EQ(snapshot["data"]["resume"], Json({{"from", 2}, {"snapshot", true}}));
  EXPECT_FALSE(Json::parse(api_.Welcome(sid, summary))["data"].contains("resume"));

  const auto envelope = Json::parse(api_.SnapshotEnvelope(sid, summary));
  EXPECT_EQ(envelope["t"], "session.snapshot");
  EXPECT_EQ(envelope["seq"], 9);
  EXPECT_EQ(envelope["data"]["sid"], sid);
  EXPECT_EQ(envelope["data"]["last_seq"], 9);
}

TEST_F(ApiTest, ResumeFromMustBeANonNegativeInteger) {
  const std::string sid = CreateFileSession();
  for (const std::string good : {"0", "42", "18446744073709551615"}) {
    HttpRequest upgrade = Request("GET", "/ws/" + sid);
    upgrade.query["resume_from"] = good;
    EXPECT_FALSE(api_.CheckUpgrade(upgrade).refusal) << good;
    EXPECT_EQ(ResumeFromQuery(upgrade).value(), std::stoull(good));
  }
  for (const std::string bad : {"", "-1", "+1", "1.0", "0x10", "abc", "18446744073709551616"}) {
    HttpRequest upgrade = Request("GET", "/ws/" + sid);
    upgrade.query["resume_from"] = bad;
    const auto refusal = api_.CheckUpgrade(upgrade).refusal;
    ASSERT_TRUE(refusal.has_value()) << bad;
    EXPECT_EQ(refusal->status, 400) << bad;
    EXPECT_FALSE(ResumeFromQuery(upgrade).ok()) << bad;
  }
  EXPECT_FALSE(ResumeFromQuery(Request("GET", "/ws/" + sid)).value().has_value());
}

TEST(ApiTokenTest, EveryRouteAndUpgradeNeedsTheToken) {
  boost::asio::io_context io;
  testing::FakeCaptureBackend capture(testing::FakeCaptureScript{});
  HubRegistry hubs(io);
  session::SessionManager sessions(
      session::SessionManagerOptions{(fs::temp_directory_path() / "lx_api_token").string(), "", {}},
      capture,
      [](const std::string&) -> Result<std::unique_ptr<asr::EngineModel>> {
        return std::unique_ptr<asr::EngineModel>(std::make_unique<ScriptedModel>());
      },
      [&hubs](const std::string& sid) { return hubs.Create(sid); }, SteadyClock::Instance());
  Api api(ApiOptions{"http://127.0.0.1:8000", {}, "s3cret", 1024, 15000}, sessions, hubs);
  HttpRequest request;
  request.method = "GET";
  request.path = "/health";
  EXPECT_EQ(api.Handle(request).status, 401);
  request.headers["authorization"] = "Bearer wrong!";
  EXPECT_EQ(api.Handle(request).status, 401);
  request.headers["authorization"] = "Bearer s3cret";
  EXPECT_EQ(api.Handle(request).status, 200);
  request.headers.clear();
  request.query["token"] = "s3cret";
  EXPECT_EQ(api.Handle(request).status, 200);
  HttpRequest upgrade;
  upgrade.method = "GET";
  upgrade.path = "/ws/anything";
  ASSERT_TRUE(api.CheckUpgrade(upgrade).refusal.has_value());
  EXPECT_EQ(api.CheckUpgrade(upgrade).refusal->status, 401);
}

TEST(ApiSaveAudioFailureTest, TheSnapshotSaysWhySavingAudioStopped) {
  boost::asio::io_context io;
  testing::FakeCaptureBackend capture(testing::FakeCaptureScript{});
  HubRegistry hubs(io);
  const fs::path dir = fs::temp_directory_path() / "lx_api_disk_full";
  session::SessionManagerOptions options{dir.string(), "", {}};
  options.open_audio_file = [](const std::string& path, audio::AudioFileFormat) {
    return Result<std::unique_ptr<audio::AudioFileWriter>>(
        std::make_unique<testing::FakeAudioFileWriter>(
            path, std::make_shared<testing::FakeAudioFile>(), /*capacity_samples=*/0));
  };
  session::SessionManager sessions(
      options, capture,
      [](const std::string&) -> Result<std::unique_ptr<asr::EngineModel>> {
        return std::unique_ptr<asr::EngineModel>(std::make_unique<ScriptedModel>());
      },
      [&hubs](const std::string& sid) { return hubs.Create(sid); }, SteadyClock::Instance());
  Api api(ApiOptions{"http://127.0.0.1:8000", {}, "", 1024, 15000}, sessions, hubs);
  session::SessionConfig config;
  config.source = {.type = session::SourceConfig::Type::kFile, .path = kClip, .speed = 0};
  config.save_audio = session::SaveAudio::kWav;
  auto session = sessions.Create(config);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  (*session)->Join();
  HttpRequest request;
  request.method = "GET";
  request.path = "/sessions/" + (*session)->id() + "/snapshot";
  const auto snapshot = Json::parse(api.Handle(request).body);
  EXPECT_EQ(snapshot["status"], "stopped") << "recognition went on";
  EXPECT_THAT(snapshot["save_audio_error"].get<std::string>(),
              HasSubstr("No space left on device"));
  request.path = "/sessions/" + (*session)->id() + "/audio";
  EXPECT_EQ(api.Handle(request).status, 404) << "the fake wrote no file";
  sessions.StopAll();
  fs::remove_all(dir);
}

TEST(ApiCreateFailureTest, AnInternalFailureWhileCreatingLeaksNothing) {
  boost::asio::io_context io;
  testing::FakeCaptureBackend capture(testing::FakeCaptureScript{});
  HubRegistry hubs(io);
  session::SessionManager sessions(
      session::SessionManagerOptions{(fs::temp_directory_path() / "lx_api_leak").string(), "", {}},
      capture,
      [](const std::string&) -> Result<std::unique_ptr<asr::EngineModel>> {
        throw std::runtime_error("segfault handler at 0xdeadbeef");
      },
      [&hubs](const std::string& sid) { return hubs.Create(sid); }, SteadyClock::Instance());
  Api api(ApiOptions{"http://127.0.0.1:8000", {}, "", 1024, 15000}, sessions, hubs);
  HttpRequest request;
  request.method = "POST";
  request.path = "/sessions";
  request.headers["content-type"] = "application/json";
  request.body = R"({"source": {"type": "push"}})";
  const auto response = api.Handle(request);
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(Json::parse(response.body)["detail"], "internal error");
  EXPECT_THAT(response.body, Not(HasSubstr("deadbeef")));
  EXPECT_EQ(capture.counters().opens, capture.counters().closes);
}

// A door a thread waits at until another opens it.
class Gate {
 public:
  void Open() {
    const std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  // False when still shut after `timeout`.
  bool Wait(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [this] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;  // guarded by mutex_
};

// A model load blocks POST /sessions for about a second: the API runs it on its worker, so the
// calling (network) thread answers other requests meanwhile; one more create may wait for the
// worker and the next is refused with 503.
TEST(ApiAsyncTest, ABlockingCreateRunsOnTheWorkerWhileOtherRequestsAnswerAtOnce) {
  boost::asio::io_context io;
  testing::FakeCaptureBackend capture(testing::FakeCaptureScript{});
  HubRegistry hubs(io);
  Gate loading;
  Gate loader_entered;
  session::SessionManager sessions(
      session::SessionManagerOptions{(fs::temp_directory_path() / "lx_api_async").string(), "", {}},
      capture,
      [&](const std::string&) -> Result<std::unique_ptr<asr::EngineModel>> {
        loader_entered.Open();
        EXPECT_TRUE(loading.Wait());
        return std::unique_ptr<asr::EngineModel>(std::make_unique<ScriptedModel>());
      },
      [&hubs](const std::string& sid) { return hubs.Create(sid); }, SteadyClock::Instance());
  ApiOptions options{"http://127.0.0.1:8000", {}, "", 1024, 15000};
  options.worker_queue_limit_requests = 1;
  const Api api(options, sessions, hubs);
  HttpRequest create;
  create.method = "POST";
  create.path = "/sessions";
  create.headers["content-type"] = "application/json";
  create.body = R"({"source": {"type": "push"}})";

  const auto caller = std::this_thread::get_id();
  std::promise<std::pair<HttpResponse, std::thread::id>> first;
  api.HandleAsync(create, [&first](HttpResponse response) {
    first.set_value({std::move(response), std::this_thread::get_id()});
  });
  ASSERT_TRUE(loader_entered.Wait()) << "the create runs on the worker";
  auto created = first.get_future();
  EXPECT_EQ(created.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);

  HttpRequest health;
  health.method = "GET";
  health.path = "/health";
  std::optional<HttpResponse> healthy;
  api.HandleAsync(health, [&](HttpResponse response) {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    healthy = std::move(response);
  });
  ASSERT_TRUE(healthy.has_value()) << "answered before HandleAsync returned";
  EXPECT_EQ(healthy->status, 200);

  std::promise<HttpResponse> second;
  api.HandleAsync(create,
                  [&second](HttpResponse response) { second.set_value(std::move(response)); });
  std::optional<HttpResponse> refused;
  api.HandleAsync(create, [&refused](HttpResponse response) { refused = std::move(response); });
  ASSERT_TRUE(refused.has_value()) << "a full queue answers at once";
  EXPECT_EQ(refused->status, 503);
  EXPECT_THAT(Json::parse(refused->body)["detail"].get<std::string>(), HasSubstr("try again"));

  loading.Open();
  ASSERT_EQ(created.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  const auto [response, thread] = created.get();
  EXPECT_EQ(response.status, 201) << response.body;
  EXPECT_NE(thread, caller);
  auto later = second.get_future();
  ASSERT_EQ(later.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(later.get().status, 201);
  EXPECT_EQ(sessions.List().size(), 2u);
  sessions.StopAll();
  fs::remove_all(fs::temp_directory_path() / "lx_api_async");
}

// Review finding 2: an exception inside a handler never reaches the client.
TEST_F(ApiTest, InternalFailuresAnswerAFixedDetailAndLogTheTextWithTheSameId) {
  testing::CapturedLog log;

  std::vector<Route> routes = api_.Routes();
  for (Route& route : routes) {
    if (route.pattern == "/sessions/{sid}/snapshot" || route.pattern == "/sessions/{sid}/metrics" ||
        route.pattern == "/sessions") {
      route.handler = [](const HttpRequest&,
                         const std::map<std::string, std::string>&) -> HttpResponse {
        throw std::runtime_error("db password is hunter2 at /srv/secret");
      };
    }
  }
  const Router router(routes);
  const std::pair<std::string, std::string> cases[] = {{"/sessions/s1/snapshot", "snapshot error"},
                                                       {"/sessions/s1/metrics", "metrics error"},
                                                       {"/sessions", "internal error"}};
  for (const auto& [path, detail] : cases) {
    const auto response = router.Dispatch(Request("GET", path));
    EXPECT_EQ(response.status, 500);
    const auto body = Json::parse(response.body);
    EXPECT_EQ(body["detail"], detail);
    ASSERT_TRUE(body.contains("error_id"));
    EXPECT_THAT(response.body, Not(HasSubstr("hunter2")));
    EXPECT_THAT(response.body, Not(HasSubstr("secret")));
    EXPECT_EQ(body.size(), 2u) << "only detail and error_id: " << response.body;
    const std::string id = body["error_id"];
    const Json line = log.Find("error_id", id);
    EXPECT_EQ(line["request_id"], "test") << line;
    EXPECT_THAT(line["msg"].get<std::string>(), HasSubstr("db password is hunter2 at /srv/secret"));
  }
}

}  // namespace
}  // namespace lx::server
