// Proofs of the session rules: status comes from the worker's real lifecycle, devices are always
// released, and events leave only through the sink, each final logged before it is published.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <ostream>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "audio/audio_reader.h"
#include "fakes/fake_audio_file_writer.h"
#include "fakes/fake_capture.h"
#include "fakes/fake_engine.h"
#include "session/session_manager.h"
#include "support/captured_log.h"

namespace lx::session {
namespace {

namespace fs = std::filesystem;
using events::SessionState;
using namespace std::chrono_literals;  // NOLINT(google-build-using-namespace)

constexpr auto kWait = 10s;  // generous: only a broken test waits this long

void WriteWav(const std::string& path, size_t count) {
  std::ofstream out(path, std::ios::binary);
  auto u32 = [&](uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [&](uint16_t v) { out.write(reinterpret_cast<const char*>(&v), 2); };
  out.write("RIFF", 4);
  u32(static_cast<uint32_t>(36 + count * 2));
  out.write("WAVEfmt ", 8);
  for (uint32_t v : {16u}) u32(v);
  u16(1);
  u16(1);
  u32(16000);
  u32(32000);
  u16(2);
  u16(16);
  out.write("data", 4);
  u32(static_cast<uint32_t>(count * 2));
  for (size_t i = 0; i < count; ++i) u16(static_cast<uint16_t>(i % 1000));
}

// Speech the fake engine "hears": a segment ending in silence, one open at 1.8 s.
std::vector<testing::FakeSpeech> TwoUtterances() {
  return {testing::SpeechAt(0.2, {"hello", "world"}), testing::SpeechAt(1.2, {"good", "bye"})};
}

// Speech that never pauses for a minute.
std::vector<testing::FakeSpeech> EndlessSpeech() {
  std::vector<std::string> words(200, "la");
  return {testing::SpeechAt(0.0, words)};
}

class FakeModel final : public asr::EngineModel {
 public:
  explicit FakeModel(std::vector<testing::FakeSpeech> script, Status stream_error = {})
      : script_(std::move(script)), stream_error_(std::move(stream_error)) {}
  std::string_view engine_name() const override { return "fake"; }
  std::string_view model_name() const override { return "fake"; }
  Result<std::unique_ptr<asr::EngineStream>> CreateStream(
      const asr::EngineStreamConfig& config) const override {
    if (!stream_error_.ok()) return stream_error_;
    return std::unique_ptr<asr::EngineStream>(
        std::make_unique<testing::FakeEngineStream>(script_, config.silence_ms, nullptr));
  }

 private:
  std::vector<testing::FakeSpeech> script_;
  Status stream_error_;
};

// Records events; thread-safe. Can throw on finals, and run a check on each final.
class RecordingSink final : public EventSink {
 public:
  void Publish(events::Event event) override {
    if (const auto* final_caption = std::get_if<asr::Final>(&event.payload)) {
      if (throw_on_final) throw std::runtime_error("sink refused a final");
      if (on_final) on_final(*final_caption);
    }
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
    changed_.notify_all();
  }

  // Waits until an event satisfies `match`; false after kWait.
  bool WaitFor(const std::function<bool(const events::Event&)>& match) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kWait,
                             [&] { return std::any_of(events_.begin(), events_.end(), match); });
  }
  // Waits until `count` status events were published.
  bool WaitForStates(size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kWait, [&] {
      return std::count_if(events_.begin(), events_.end(), [](const events::Event& e) {
               return std::holds_alternative<events::StatusChange>(e.payload);
             }) >= static_cast<std::ptrdiff_t>(count);
    });
  }
  bool WaitForState(SessionState state) {
    return WaitFor([state](const events::Event& e) {
      const auto* status = std::get_if<events::StatusChange>(&e.payload);
      return status != nullptr && status->state == state;
    });
  }
  std::vector<SessionState> States() const {
    std::vector<SessionState> states;
    for (const auto& e : Events()) {
      if (const auto* s = std::get_if<events::StatusChange>(&e.payload)) states.push_back(s->state);
    }
    return states;
  }
  std::vector<asr::Final> Finals() const {
    std::vector<asr::Final> finals;
    for (const auto& e : Events()) {
      if (const auto* f = std::get_if<asr::Final>(&e.payload)) finals.push_back(*f);
    }
    return finals;
  }
  size_t CountOf(size_t payload_index) const {
    const auto events = Events();
    return static_cast<size_t>(std::count_if(events.begin(), events.end(), [&](const auto& e) {
      return e.payload.index() == payload_index;
    }));
  }
  std::vector<events::Event> Events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }

  bool throw_on_final = false;                      // set before the session starts
  std::function<void(const asr::Final&)> on_final;  // set before the session starts

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<events::Event> events_;  // guarded by mutex_
};

bool IsFinal(const events::Event& e) { return std::holds_alternative<asr::Final>(e.payload); }
bool IsPartial(const events::Event& e) { return std::holds_alternative<asr::Partial>(e.payload); }

class SessionLifecycleTest : public ::testing::Test {
 protected:
  SessionLifecycleTest() {
    std::string pattern = (fs::temp_directory_path() / "lx-session-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
    options_.data_dir = dir_ + "/data";
    options_.default_model_dir = "good";
  }
  ~SessionLifecycleTest() override {
    manager_.reset();
    fs::remove_all(dir_);
  }

  SessionManager& Manager(testing::FakeCaptureScript capture = {},
                          const std::vector<testing::FakeSpeech>& speech = TwoUtterances()) {
    capture_ = std::make_unique<testing::FakeCaptureBackend>(std::move(capture), counters_);
    auto loader = [this,
                   speech](const std::string& dir) -> Result<std::unique_ptr<asr::EngineModel>> {
      ++model_loads_;
      if (dir == "throws") throw std::runtime_error("loader exploded");
      if (dir == "no-streams") {
        return std::unique_ptr<asr::EngineModel>(
            std::make_unique<FakeModel>(speech, Status::Unavailable("no stream")));
      }
      if (dir != "good") return Status::NotFound("no model in " + dir);
      return std::unique_ptr<asr::EngineModel>(std::make_unique<FakeModel>(speech));
    };
    auto make_sink = [this](const std::string& id) -> std::shared_ptr<EventSink> {
      if (sink_factory_throws_) throw std::runtime_error("no sink today");
      last_id_ = id;
      return sink_;
    };
    manager_ = std::make_unique<SessionManager>(options_, *capture_, loader, make_sink,
                                                SteadyClock::Instance());
    return *manager_;
  }
  SessionConfig FileConfig(size_t samples, double speed) {
    const std::string path = dir_ + "/a.wav";
    WriteWav(path, samples);
    SessionConfig config;
    config.source = SourceConfig{.type = SourceConfig::Type::kFile, .path = path, .speed = speed};
    return config;
  }
  static SessionConfig MicConfig() {
    SessionConfig config;
    config.source.type = SourceConfig::Type::kMic;
    return config;
  }
  std::string LogPath(const std::string& id) const {
    return manager_->SessionDir(id) + "/finals.jsonl";
  }

  std::string dir_;
  SessionManagerOptions options_;
  std::shared_ptr<testing::FakeCaptureCounters> counters_ =
      std::make_shared<testing::FakeCaptureCounters>();
  std::unique_ptr<testing::FakeCaptureBackend> capture_;
  std::shared_ptr<RecordingSink> sink_ = std::make_shared<RecordingSink>();
  bool sink_factory_throws_ = false;
  std::atomic<int> model_loads_{0};
  std::string last_id_;
  std::unique_ptr<SessionManager> manager_;
};

// (A) status follows the worker.

TEST_F(SessionLifecycleTest, AFileSessionRunsPausesResumesAndStops) {
  auto session = Manager().Create(FileConfig(16000 * 3, 1.0));
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  ASSERT_TRUE(sink_->WaitForState(SessionState::kRunning));
  EXPECT_EQ((*session)->state(), SessionState::kRunning);
  ASSERT_TRUE((*session)->Pause().ok());
  ASSERT_TRUE(sink_->WaitForState(SessionState::kPaused));
  EXPECT_EQ((*session)->state(), SessionState::kPaused);
  EXPECT_EQ((*session)->Pause().code(), Status::Code::kFailedPrecondition);
  ASSERT_TRUE((*session)->Resume().ok());
  ASSERT_TRUE(sink_->WaitForStates(3));  // running again (a Stop would otherwise win)
  (*session)->Stop();
  (*session)->Join();
  EXPECT_EQ((*session)->state(), SessionState::kStopped);
  EXPECT_EQ(sink_->States(),
            (std::vector<SessionState>{SessionState::kRunning, SessionState::kPaused,
                                       SessionState::kRunning, SessionState::kStopping,
                                       SessionState::kStopped}));
  EXPECT_EQ((*session)->Resume().code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ((*session)->Finalize().code(), Status::Code::kFailedPrecondition);
}

TEST_F(SessionLifecycleTest, ANonLoopingFileStopsByItselfAfterFlushingItsLastFinal) {
  auto session = Manager().Create(FileConfig(16000 * 18 / 10, 0));
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  ASSERT_TRUE(sink_->WaitForState(SessionState::kStopped));
  (*session)->Join();
  EXPECT_EQ((*session)->state(), SessionState::kStopped);
  const std::vector<asr::Final> finals = sink_->Finals();
  ASSERT_EQ(finals.size(), 2u);
  EXPECT_EQ(finals[0].text, "hello world");
  EXPECT_EQ(finals[0].eou_reason, asr::EouReason::kSilence);
  EXPECT_EQ(finals[1].text, "good bye");
  EXPECT_EQ(finals[1].eou_reason, asr::EouReason::kEndOfStream);
  const SessionInfo info = (*session)->Info();
  EXPECT_NEAR(info.audio_seconds, 1.8, 0.01);
  EXPECT_EQ(info.metrics.finals, 2u);
  EXPECT_GE(sink_->CountOf(3), 17u);  // a vu level for every 100 ms of audio
  EXPECT_EQ(sink_->States().back(), SessionState::kStopped);
}

// An internal failure is told as server.error then status error, both with a fixed detail; its
// text is only in the log, under the event's error_id and with the session's id.
void ExpectReportedAsInternal(const RecordingSink& sink, const Session& session,
                              testing::CapturedLog& log, const std::string& code,
                              const std::string& detail, const std::string& text) {
  const auto events = sink.Events();
  ASSERT_GE(events.size(), 2u);
  const auto* error = std::get_if<events::ServerError>(&events[events.size() - 2].payload);
  ASSERT_NE(error, nullptr) << "server.error comes just before the last status";
  EXPECT_EQ(error->code, code);
  EXPECT_EQ(error->detail, detail);
  const auto* status = std::get_if<events::StatusChange>(&events.back().payload);
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(status->state, SessionState::kError);
  EXPECT_EQ(status->detail, detail);
  EXPECT_EQ(session.Info().error, detail);
  const auto line = log.Find("error_id", error->error_id);
  ASSERT_TRUE(line.is_object()) << log.Text();
  EXPECT_EQ(line["session_id"], session.id());
  EXPECT_EQ(line["level"], "error");
  EXPECT_NE(line["msg"].get<std::string>().find(text), std::string::npos) << line;
}

TEST_F(SessionLifecycleTest, AnExceptionFromTheDeviceEndsInErrorAndClosesIt) {
  testing::CapturedLog log;
  auto session = Manager({.throw_from_read = true}).Create(MicConfig());
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  ASSERT_TRUE(sink_->WaitForState(SessionState::kError));
  (*session)->Join();
  EXPECT_EQ((*session)->state(), SessionState::kError);
  ExpectReportedAsInternal(*sink_, **session, log, "internal", "internal error", "scripted throw");
  EXPECT_EQ(counters_->opens.load(), 1);
  EXPECT_EQ(counters_->closes.load(), 1);
}

TEST_F(SessionLifecycleTest, ADeviceFailureEndsInErrorWithItsReason) {
  auto session = Manager({.read_error = Status::Unavailable("hw:0 unplugged")}).Create(MicConfig());
  ASSERT_TRUE(session.ok());
  (*session)->Join();
  EXPECT_EQ((*session)->state(), SessionState::kError);
  EXPECT_EQ((*session)->Info().error, "hw:0 unplugged") << "the user's to see, as it is";
  EXPECT_EQ(sink_->CountOf(4), 0u) << "no server.error";
  EXPECT_EQ(counters_->open_now(), 0);
}

TEST_F(SessionLifecycleTest, ASinkThatThrowsEndsTheSessionInError) {
  testing::CapturedLog log;
  sink_->throw_on_final = true;
  std::vector<float> audio(16000 * 2, 0.1f);
  auto session = Manager({.samples = audio}).Create(MicConfig());
  ASSERT_TRUE(session.ok());
  (*session)->Join();  // the mic never ends: only the failure can end this worker
  EXPECT_EQ((*session)->state(), SessionState::kError);
  ExpectReportedAsInternal(*sink_, **session, log, "internal", "internal error",
                           "sink refused a final");
  EXPECT_EQ(counters_->open_now(), 0);
}

// (D) every device opened is closed.

TEST_F(SessionLifecycleTest, ANormalStopClosesTheDevice) {
  auto session = Manager().Create(MicConfig());
  ASSERT_TRUE(session.ok());
  ASSERT_TRUE(sink_->WaitForState(SessionState::kRunning));
  EXPECT_EQ(counters_->open_now(), 1);
  (*session)->Stop();
  (*session)->Join();
  EXPECT_EQ((*session)->state(), SessionState::kStopped);
  EXPECT_EQ(counters_->opens.load(), 1);
  EXPECT_EQ(counters_->closes.load(), 1);
}

struct CreateFailure {
  const char* name;
  std::function<void(SessionLifecycleTest*, SessionConfig*)> inject;
  Status::Code code;
};

void PrintTo(const CreateFailure& failure, std::ostream* out) { *out << failure.name; }

class SessionCreateFailureTest : public SessionLifecycleTest,
                                 public ::testing::WithParamInterface<CreateFailure> {
 public:
  void SetSinkFactoryThrows() { sink_factory_throws_ = true; }
  void SetDataDir(std::string dir) { options_.data_dir = std::move(dir); }
  void SetStartThread(ThreadStarter start) { options_.start_thread = std::move(start); }
  void SetAudioFileOpener(AudioFileOpener open) { options_.open_audio_file = std::move(open); }
  std::string Dir() const { return dir_; }
};

TEST_P(SessionCreateFailureTest, ClosesTheDeviceAndListsNothing) {
  SessionConfig config = MicConfig();
  GetParam().inject(this, &config);
  auto session = Manager().Create(config);
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), GetParam().code) << session.status().ToString();
  EXPECT_EQ(counters_->opens.load(), 1);
  EXPECT_EQ(counters_->closes.load(), 1);
  EXPECT_TRUE(manager_->List().empty());
  EXPECT_TRUE(sink_->Events().empty());
}

INSTANTIATE_TEST_SUITE_P(
    EachStep, SessionCreateFailureTest,
    ::testing::Values(
        CreateFailure{"BadModelDir",
                      [](SessionLifecycleTest*, SessionConfig* c) { c->model_dir = "nope"; },
                      Status::Code::kNotFound},
        CreateFailure{"ModelLoaderThrows",
                      [](SessionLifecycleTest*, SessionConfig* c) { c->model_dir = "throws"; },
                      Status::Code::kInternal},
        CreateFailure{"NoStream",
                      [](SessionLifecycleTest*, SessionConfig* c) { c->model_dir = "no-streams"; },
                      Status::Code::kUnavailable},
        CreateFailure{"LogFolderNotCreatable",
                      [](SessionLifecycleTest* t, SessionConfig*) {
                        auto* self = static_cast<SessionCreateFailureTest*>(t);
                        std::ofstream(self->Dir() + "/file") << "x";
                        self->SetDataDir(self->Dir() + "/file/data");
                      },
                      Status::Code::kIOError},
        CreateFailure{"AudioFileNotCreatable",
                      [](SessionLifecycleTest* t, SessionConfig* c) {
                        c->save_audio = SaveAudio::kWav;
                        static_cast<SessionCreateFailureTest*>(t)->SetAudioFileOpener(
                            [](const std::string& path, audio::AudioFileFormat)
                                -> Result<std::unique_ptr<audio::AudioFileWriter>> {
                              return Status::IOError("cannot create " + path + ": Read-only");
                            });
                      },
                      Status::Code::kIOError},
        CreateFailure{"SinkFactoryThrows",
                      [](SessionLifecycleTest* t, SessionConfig*) {
                        static_cast<SessionCreateFailureTest*>(t)->SetSinkFactoryThrows();
                      },
                      Status::Code::kInternal},
        CreateFailure{"ThreadCannotStart",
                      [](SessionLifecycleTest* t, SessionConfig*) {
                        static_cast<SessionCreateFailureTest*>(t)->SetStartThread(
                            [](const std::function<void()>&) -> std::thread {
                              throw std::system_error(
                                  std::make_error_code(std::errc::resource_unavailable_try_again));
                            });
                      },
                      Status::Code::kUnavailable}),
    [](const ::testing::TestParamInfo<CreateFailure>& info) { return info.param.name; });

TEST_F(SessionLifecycleTest, AMissingDeviceFailsBeforeAnythingStarts) {
  auto session = Manager({.open_error = Status::NotFound("no hw:7")}).Create(MicConfig());
  EXPECT_EQ(session.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(counters_->open_now(), 0);
  EXPECT_EQ(model_loads_.load(), 0);
}

TEST_F(SessionLifecycleTest, ABadConfigIsRefusedBeforeTheDeviceOpens) {
  SessionConfig config = MicConfig();
  config.asr.silence_ms = 1;
  EXPECT_EQ(Manager().Create(config).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(counters_->open_attempts.load(), 0);
}

// Sessions, models and ids.

TEST_F(SessionLifecycleTest, AModelIsLoadedOncePerFolderAndSessionsAreListedNewestFirst) {
  SessionManager& manager = Manager();
  auto first = manager.Create(MicConfig());
  auto second = manager.Create(MicConfig());
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(model_loads_.load(), 1);
  EXPECT_NE((*first)->id(), (*second)->id());
  EXPECT_EQ(manager.List(), (std::vector<std::shared_ptr<Session>>{*second, *first}));
  EXPECT_EQ(manager.Get((*first)->id()), *first);
  EXPECT_EQ(manager.Get("unknown"), nullptr);
  for (char c : (*first)->id()) EXPECT_TRUE(std::isalnum(c) || c == '-') << (*first)->id();
  manager.StopAll();
  EXPECT_EQ((*first)->state(), SessionState::kStopped);
  EXPECT_EQ((*second)->state(), SessionState::kStopped);
  EXPECT_EQ(counters_->open_now(), 0);
}

TEST_F(SessionLifecycleTest, AfterStopAllCreateIsRefusedBeforeOpeningAnything) {
  Manager().StopAll();
  EXPECT_EQ(manager_->Create(MicConfig()).status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(counters_->open_attempts.load(), 0);
  EXPECT_TRUE(manager_->List().empty());
}

TEST_F(SessionLifecycleTest, ASessionStartingDuringStopAllIsStoppedAndRefused) {
  options_.start_thread = [this](std::function<void()> body) {
    manager_->StopAll();  // shutdown begins while this create is under way
    return std::thread(std::move(body));
  };
  auto session = Manager().Create(MicConfig());
  EXPECT_EQ(session.status().code(), Status::Code::kUnavailable);
  EXPECT_TRUE(manager_->List().empty());
  EXPECT_EQ(counters_->opens.load(), 1);
  EXPECT_EQ(counters_->open_now(), 0) << "the session was stopped and its device closed";
}

// Pause really pauses; Finalize forces a final.

// Endless zeros, paced like a device; counts its reads.
class CountingInput final : public AudioInput {
 public:
  Result<size_t> Read(std::vector<float>* out, size_t max_samples, int) override {
    std::this_thread::sleep_for(5ms);
    ++reads;
    out->assign(max_samples, 0.0f);
    return max_samples;
  }
  bool ended() const override { return false; }
  void Close() override {}
  std::atomic<int> reads{0};
};

class SessionDirectTest : public SessionLifecycleTest {
 protected:
  void Start(const std::vector<testing::FakeSpeech>& speech) {
    auto input = std::make_unique<CountingInput>();
    input_ = input.get();
    auto log = store::SessionLog::Open(dir_);
    ASSERT_TRUE(log.ok());
    auto session =
        Session::Start("s1", MicConfig(), std::move(input),
                       std::make_unique<testing::FakeEngineStream>(speech, 200, nullptr), sink_,
                       std::move(log).value(), /*audio_file=*/nullptr, SteadyClock::Instance());
    ASSERT_TRUE(session.ok());
    session_ = std::move(session).value();
  }
  CountingInput* input_ = nullptr;  // owned by session_
  std::unique_ptr<Session> session_;
};

TEST_F(SessionDirectTest, APausedSessionNeitherReadsNorRecognizes) {
  Start(EndlessSpeech());
  ASSERT_TRUE(sink_->WaitForState(SessionState::kRunning));
  ASSERT_TRUE(session_->Pause().ok());
  ASSERT_TRUE(sink_->WaitForState(SessionState::kPaused));
  const int reads = input_->reads.load();
  const double audio_s = session_->Info().audio_seconds;
  const size_t events = sink_->Events().size();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(input_->reads.load(), reads);
  EXPECT_EQ(session_->Info().audio_seconds, audio_s);
  EXPECT_EQ(sink_->Events().size(), events);
  ASSERT_TRUE(session_->Resume().ok());
  std::this_thread::sleep_for(100ms);
  EXPECT_GT(input_->reads.load(), reads);
}

TEST_F(SessionDirectTest, FinalizeForcesTheOpenSegmentsFinal) {
  Start(EndlessSpeech());
  ASSERT_TRUE(sink_->WaitFor(IsPartial));
  ASSERT_TRUE(session_->Finalize().ok());
  ASSERT_TRUE(sink_->WaitFor(IsFinal));
  EXPECT_EQ(sink_->Finals().front().eou_reason, asr::EouReason::kForced);
  EXPECT_FALSE(sink_->Finals().front().text.empty());
}

TEST_F(SessionDirectTest, FinalizeWorksWhilePaused) {
  Start(EndlessSpeech());
  ASSERT_TRUE(sink_->WaitFor(IsPartial));
  ASSERT_TRUE(session_->Pause().ok());
  ASSERT_TRUE(sink_->WaitForState(SessionState::kPaused));
  ASSERT_TRUE(session_->Finalize().ok());
  ASSERT_TRUE(sink_->WaitFor(IsFinal));
  EXPECT_EQ(session_->state(), SessionState::kPaused);
}

// A finals log that cannot be written (here: the disk is full) stops the session; the final it
// refused is not published, and viewers are told the captions cannot be saved.
TEST_F(SessionLifecycleTest, AFinalsLogThatCannotBeWrittenIsAStorageError) {
  testing::CapturedLog log;
  fs::create_symlink("/dev/full", dir_ + "/finals.jsonl");
  auto opened = store::SessionLog::Open(dir_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto session =
      Session::Start("s1", MicConfig(), std::make_unique<CountingInput>(),
                     std::make_unique<testing::FakeEngineStream>(TwoUtterances(), 200, nullptr),
                     sink_, std::move(opened).value(), nullptr, SteadyClock::Instance());
  ASSERT_TRUE(session.ok());
  ASSERT_TRUE(sink_->WaitForState(SessionState::kError));
  (*session)->Join();
  EXPECT_TRUE(sink_->Finals().empty());
  ExpectReportedAsInternal(*sink_, **session, log, "storage", "cannot save the session's captions",
                           "No space left on device");
}

// Events: every final is in the log, and was there before it was published.

TEST_F(SessionLifecycleTest, EveryPublishedFinalWasLoggedBeforeItWasPublished) {
  std::atomic<int> checked{0};
  sink_->on_final = [&](const asr::Final& final_caption) {
    auto logged = store::ReadSessionLog(LogPath(last_id_));
    ASSERT_TRUE(logged.ok());
    ASSERT_FALSE(logged->empty());
    EXPECT_EQ(logged->back().seq, final_caption.seq);
    ++checked;
  };
  auto session = Manager().Create(FileConfig(16000 * 18 / 10, 0));
  ASSERT_TRUE(session.ok());
  (*session)->Join();
  EXPECT_EQ(checked.load(), 2);
  auto logged = store::ReadSessionLog(LogPath((*session)->id()));
  ASSERT_TRUE(logged.ok());
  const auto published = sink_->Finals();
  ASSERT_EQ(logged->size(), published.size());
  for (size_t i = 0; i < published.size(); ++i) {
    EXPECT_EQ((*logged)[i].seq, published[i].seq);
    EXPECT_EQ((*logged)[i].text, published[i].text);
  }
}

TEST_F(SessionLifecycleTest, PushedAudioIsRecognizedAndRefusedWhilePaused) {
  SessionConfig config;
  config.source.type = SourceConfig::Type::kPush;
  auto session = Manager().Create(config);
  ASSERT_TRUE(session.ok());
  const std::vector<unsigned char> second(32000);
  ASSERT_TRUE((*session)->Push(second).ok());
  ASSERT_TRUE((*session)->Push(second).ok());
  ASSERT_TRUE(sink_->WaitFor(IsFinal));
  EXPECT_EQ(sink_->Finals().front().text, "hello world");
  // Stop does not drain the queue, so let the worker take all of it first.
  while ((*session)->Info().audio_seconds < 2.0) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE((*session)->Pause().ok());
  ASSERT_TRUE(sink_->WaitForState(SessionState::kPaused));
  EXPECT_EQ((*session)->Push(second).code(), Status::Code::kFailedPrecondition);
  (*session)->Stop();
  (*session)->Join();
  EXPECT_EQ((*session)->Push(second).code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(sink_->Finals().back().text, "good bye");
}

TEST_F(SessionLifecycleTest, AMicSessionRefusesPushedAudio) {
  auto session = Manager().Create(MicConfig());
  ASSERT_TRUE(session.ok());
  EXPECT_EQ((*session)->Push(std::vector<unsigned char>(2)).code(),
            Status::Code::kFailedPrecondition);
}

// Saved audio: exactly what the recognizer was given, nothing from a pause, beside the finals; a
// full disk stops the saving and costs no final.

int MsSince(std::chrono::steady_clock::time_point start) {
  return static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count());
}

// Audio like a live device's, which goes on whether read or not: each read is 10 ms of samples
// holding the millisecond (since `start`) at which it was read, as a 16-bit value. Appends what it
// delivers to *delivered (read it once the worker has exited).
class ClockStampedInput final : public AudioInput {
 public:
  ClockStampedInput(std::chrono::steady_clock::time_point start,
                    std::shared_ptr<std::vector<float>> delivered)
      : start_(start), delivered_(std::move(delivered)) {}
  Result<size_t> Read(std::vector<float>* out, size_t, int) override {
    std::this_thread::sleep_for(2ms);
    out->assign(160, static_cast<float>(MsSince(start_)) / 32768.0f);
    delivered_->insert(delivered_->end(), out->begin(), out->end());
    return out->size();
  }
  bool ended() const override { return false; }
  void Close() override {}

 private:
  const std::chrono::steady_clock::time_point start_;
  const std::shared_ptr<std::vector<float>> delivered_;
};

// Every sample of an audio file, as loquilex reads it.
std::vector<float> ReadAudio(const std::string& path) {
  std::vector<float> all;
  auto source = audio::OpenAudioFile(path);
  EXPECT_TRUE(source.ok()) << source.status().ToString();
  if (!source.ok()) return all;
  std::vector<float> chunk;
  while (true) {
    auto read = (*source)->Read(&chunk, 4096);
    EXPECT_TRUE(read.ok()) << read.status().ToString();
    if (!read.ok() || *read == 0) return all;
    all.insert(all.end(), chunk.begin(), chunk.end());
  }
}

// Waits until the session has recognized `seconds` of audio; false after kWait.
bool WaitForAudio(const Session& session, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (session.Info().audio_seconds < seconds) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

TEST_F(SessionLifecycleTest, SavedAudioIsWhatWasRecognizedAndNothingFromAPause) {
  const auto start = std::chrono::steady_clock::now();
  auto delivered = std::make_shared<std::vector<float>>();
  const std::string path = dir_ + "/audio.wav";
  auto audio_file = audio::CreateAudioFileWriter(path, audio::AudioFileFormat::kWav);
  ASSERT_TRUE(audio_file.ok()) << audio_file.status().ToString();
  auto log = store::SessionLog::Open(dir_);
  ASSERT_TRUE(log.ok());
  auto started = Session::Start(
      "s1", MicConfig(), std::make_unique<ClockStampedInput>(start, delivered),
      std::make_unique<testing::FakeEngineStream>(TwoUtterances(), 200, nullptr), sink_,
      std::move(log).value(), std::move(audio_file).value(), SteadyClock::Instance());
  ASSERT_TRUE(started.ok());
  Session& session = *started.value();
  ASSERT_TRUE(WaitForAudio(session, 0.1));
  ASSERT_TRUE(session.Pause().ok());
  ASSERT_TRUE(sink_->WaitForState(SessionState::kPaused));
  const int paused_ms = MsSince(start);  // the worker read its last sample before this
  std::this_thread::sleep_for(300ms);
  const double seconds_before = session.Info().audio_seconds;
  const int resumed_ms = MsSince(start);  // and reads its next one after this
  ASSERT_TRUE(session.Resume().ok());
  ASSERT_TRUE(WaitForAudio(session, seconds_before + 0.1));
  session.Stop();
  session.Join();

  EXPECT_EQ(session.Info().audio_path, path);
  EXPECT_EQ(session.Info().audio_error, "");
  const std::vector<float> saved = ReadAudio(path);
  EXPECT_EQ(saved, *delivered) << "every sample read was saved, in order";
  EXPECT_EQ(saved.size(), std::lround(session.Info().audio_seconds * 16000))
      << "and every one was recognized";
  size_t before = 0;
  size_t after = 0;
  for (float sample : saved) {
    const long read_ms = std::lround(sample * 32768);
    ASSERT_TRUE(read_ms <= paused_ms || read_ms >= resumed_ms)
        << "read at " << read_ms << " ms, in the pause from " << paused_ms << " to " << resumed_ms;
    ++(read_ms <= paused_ms ? before : after);
  }
  EXPECT_GT(before, 0u);
  EXPECT_GT(after, 0u);
}

TEST_F(SessionLifecycleTest, APushSessionSavesItsAudioBesideItsFinals) {
  SessionManager& manager = Manager();
  for (const auto& [save_audio, name] :
       {std::pair{SaveAudio::kWav, "audio.wav"}, std::pair{SaveAudio::kFlac, "audio.flac"}}) {
    SCOPED_TRACE(name);
    SessionConfig config;
    config.source.type = SourceConfig::Type::kPush;
    config.save_audio = save_audio;
    auto session = manager.Create(config);
    ASSERT_TRUE(session.ok()) << session.status().ToString();
    std::vector<unsigned char> pcm;
    std::vector<float> pushed;
    for (int i = 0; i < 24000; ++i) {
      const auto value = static_cast<int16_t>(i * 3 - 32768);
      const auto bits = static_cast<uint16_t>(value);  // little-endian two's complement
      pcm.push_back(static_cast<unsigned char>(bits & 0xff));
      pcm.push_back(static_cast<unsigned char>(bits >> 8));
      pushed.push_back(static_cast<float>(value) / 32768.0f);
    }
    ASSERT_TRUE((*session)->Push(pcm).ok());
    // Stop does not drain the queue, so let the worker take all of it first.
    ASSERT_TRUE(WaitForAudio(**session, 1.5));
    (*session)->Stop();
    (*session)->Join();
    const std::string path = manager.SessionDir((*session)->id()) + "/" + name;
    EXPECT_EQ((*session)->Info().audio_path, path);
    EXPECT_TRUE(fs::exists(LogPath((*session)->id())));
    EXPECT_EQ(ReadAudio(path), pushed);
  }
}

TEST_F(SessionLifecycleTest, AFullDiskStopsSavingAudioButNotRecognizing) {
  auto file = std::make_shared<testing::FakeAudioFile>();
  options_.open_audio_file =
      [file](const std::string& path,
             audio::AudioFileFormat) -> Result<std::unique_ptr<audio::AudioFileWriter>> {
    return std::unique_ptr<audio::AudioFileWriter>(
        std::make_unique<testing::FakeAudioFileWriter>(path, file, 8000));
  };
  SessionConfig config = FileConfig(16000 * 18 / 10, 0);
  config.save_audio = SaveAudio::kFlac;
  auto session = Manager().Create(config);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  (*session)->Join();  // the file ends by itself

  const SessionInfo info = (*session)->Info();
  EXPECT_EQ(info.state, SessionState::kStopped) << info.error;
  EXPECT_NEAR(info.audio_seconds, 1.8, 0.01) << "recognition went on to the end";
  const std::vector<asr::Final> finals = sink_->Finals();
  ASSERT_EQ(finals.size(), 2u);
  EXPECT_EQ(finals[1].text, "good bye");
  auto logged = store::ReadSessionLog(LogPath(info.id));
  ASSERT_TRUE(logged.ok());
  EXPECT_EQ(logged->size(), 2u);

  EXPECT_EQ(info.audio_path, manager_->SessionDir(info.id) + "/audio.flac");
  EXPECT_EQ(info.audio_error, "cannot write to " + info.audio_path + ": No space left on device");
  EXPECT_GT(file->samples().size(), 0u);
  EXPECT_LE(file->samples().size(), 8000u);
  EXPECT_EQ(file->writes_after_failure(), 0) << "saving stops at the first failure";
  EXPECT_EQ(file->closes(), 1);
  std::vector<events::StatusChange> notices;
  for (const auto& e : sink_->Events()) {
    const auto* status = std::get_if<events::StatusChange>(&e.payload);
    if (status != nullptr && !status->detail.empty()) notices.push_back(*status);
  }
  ASSERT_EQ(notices.size(), 1u) << "said once";
  EXPECT_EQ(notices[0].state, SessionState::kRunning);
  EXPECT_EQ(notices[0].detail, "saving audio stopped: " + info.audio_error);
}

// Several sessions at once, publishing from their workers while others poke them.

TEST_F(SessionLifecycleTest, StressManySessionsAtOnce) {
  std::vector<float> audio(16000 * 2, 0.1f);
  Manager({.samples = audio});
  SessionManager* manager = manager_.get();
  SessionConfig file = FileConfig(16000 * 2, 0);
  file.source.loop = true;
  std::vector<std::shared_ptr<Session>> sessions;
  for (int i = 0; i < 6; ++i) {
    const SessionConfig config = i % 2 == 0 ? MicConfig() : file;
    auto session = manager->Create(config);
    ASSERT_TRUE(session.ok()) << session.status().ToString();
    sessions.push_back(*session);
  }
  std::atomic<bool> done{false};
  std::vector<std::thread> pokers;
  for (int t = 0; t < 3; ++t) {
    pokers.emplace_back([&, t] {
      std::mt19937 random(static_cast<unsigned>(t));
      while (!done.load()) {
        const auto& session = sessions[random() % sessions.size()];
        switch (random() % 5) {
          case 0:
            (void)session->Pause();
            break;
          case 1:
            (void)session->Resume();
            break;
          case 2:
            (void)session->Finalize();
            break;
          case 3:
            (void)session->Info();
            break;
          default:
            (void)manager->List();
            break;
        }
        std::this_thread::sleep_for(1ms);
      }
    });
  }
  std::this_thread::sleep_for(500ms);
  done = true;
  for (auto& poker : pokers) poker.join();
  manager->StopAll();
  for (const auto& session : sessions) {
    EXPECT_EQ(session->state(), SessionState::kStopped) << session->Info().error;
    auto logged = store::ReadSessionLog(LogPath(session->id()));
    ASSERT_TRUE(logged.ok());
    EXPECT_EQ(logged->size(), session->Info().metrics.finals);
  }
  EXPECT_EQ(sink_->CountOf(1), sink_->Finals().size());
  EXPECT_EQ(counters_->open_now(), 0);
}

}  // namespace
}  // namespace lx::session
