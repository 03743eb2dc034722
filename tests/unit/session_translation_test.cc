// Translated captions: when drafts are made, how the translation worker queues, orders and
// reports, and how a session publishes translations after its finals without waiting for them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fakes/fake_capture.h"
#include "fakes/fake_engine.h"
#include "fakes/fake_translator.h"
#include "session/session_manager.h"
#include "session/translation_worker.h"
#include "store/session_log.h"

namespace lx::session {
namespace {

namespace fs = std::filesystem;
using events::SessionState;
using ::testing::ElementsAre;
using namespace std::chrono_literals;  // NOLINT(google-build-using-namespace)

constexpr auto kWait = 10s;  // generous: only a broken test waits this long
const mt::LanguagePair kEngSpa{"eng", "spa", "eng-spa"};

asr::Partial PartialOf(uint64_t segment_id, const std::string& text, size_t stable_chars) {
  return asr::Partial{.segment_id = segment_id,
                      .seq = 0,
                      .text = text,
                      .stable_chars = stable_chars,
                      .t_audio_end_s = 0};
}

asr::Final FinalOf(uint64_t segment_id, const std::string& text) {
  asr::Final final_caption;
  final_caption.segment_id = segment_id;
  final_caption.text = text;
  return final_caption;
}

// ---- DraftGate: exactly which partials make drafts.

struct GateStep {
  asr::Partial partial;
  std::optional<std::string> draft;  // the text drafted after it, or none
};

void ExpectDrafts(int cadence_words, const std::vector<GateStep>& steps) {
  DraftGate gate(cadence_words);
  for (size_t i = 0; i < steps.size(); ++i) {
    const std::optional<Draft> draft = gate.Offer(steps[i].partial);
    ASSERT_EQ(draft.has_value(), steps[i].draft.has_value())
        << "step " << i << ": \"" << steps[i].partial.text << "\"";
    if (!draft) continue;
    EXPECT_EQ(draft->text, *steps[i].draft) << "step " << i;
    EXPECT_EQ(draft->src_chars, draft->text.size()) << "step " << i;
    EXPECT_EQ(draft->segment_id, steps[i].partial.segment_id) << "step " << i;
  }
}

TEST(DraftGateTest, DraftsOnceEveryThreeNewStableWords) {
  ExpectDrafts(3, {
                      {PartialOf(1, "he was", 0), std::nullopt},
                      {PartialOf(1, "he was not an", 10), "he was not"},      // three stable words
                      {PartialOf(1, "he was not an ill", 13), std::nullopt},  // one more
                      {PartialOf(1, "he was not an illness", 13), std::nullopt},  // none more
                      {PartialOf(1, "he was not an illness closed young", 28),
                       "he was not an illness closed"},
                      {PartialOf(1, "he was not an illness closed young man", 34), std::nullopt},
                  });
}

TEST(DraftGateTest, CountsOnlyStableWholeWordsAndStartsAgainEachSegment) {
  ExpectDrafts(2, {
                      {PartialOf(1, "one two three", 7), "one two"},
                      {PartialOf(1, "one two three four", 10), std::nullopt},  // "three" cut: "thr"
                      {PartialOf(1, "one two three four", 13), std::nullopt},  // one new word
                      {PartialOf(1, "one two three four five", 18), "one two three four"},
                      {PartialOf(2, "six seven", 9), "six seven"},   // a new segment counts anew
                      {PartialOf(2, "six seven", 9), std::nullopt},  // nothing new
                  });
}

TEST(DraftGateTest, PunctuationDraftsAtOnce) {
  ExpectDrafts(3, {
                      {PartialOf(1, "yes, we can", 4), "yes,"},
                      {PartialOf(1, "yes, we can. maybe", 12), "yes, we can."},
                      {PartialOf(1, "yes, we can. maybe not", 18), std::nullopt},
                  });
}

TEST(DraftGateTest, NoDraftOnceTheSegmentOrALaterOneIsClosed) {
  DraftGate gate(1);
  ASSERT_TRUE(gate.Offer(PartialOf(1, "hello", 5)).has_value());
  gate.Close(2);
  EXPECT_FALSE(gate.Offer(PartialOf(1, "hello there", 11)).has_value());
  EXPECT_FALSE(gate.Offer(PartialOf(2, "bye", 3)).has_value());
  EXPECT_TRUE(gate.Offer(PartialOf(3, "again", 5)).has_value());
}

// ---- TranslationWorker on its own, its events recorded.

// Records published events; thread-safe.
class Recorder {
 public:
  void Publish(events::Payload payload) {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(payload));
    changed_.notify_all();
  }
  bool WaitFor(const std::function<bool(const events::Payload&)>& match) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kWait,
                             [&] { return std::any_of(events_.begin(), events_.end(), match); });
  }
  bool WaitForCount(size_t index, size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kWait, [&] { return CountLocked(index) >= count; });
  }
  std::vector<events::Payload> Events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  template <typename T>
  std::vector<T> All() const {
    std::vector<T> out;
    for (const auto& p : Events()) {
      if (const auto* item = std::get_if<T>(&p)) out.push_back(*item);
    }
    return out;
  }

 private:
  size_t CountLocked(size_t index) const {
    return static_cast<size_t>(std::count_if(events_.begin(), events_.end(),
                                             [&](const auto& p) { return p.index() == index; }));
  }
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<events::Payload> events_;  // guarded by mutex_
};

constexpr size_t kMtFinal = 5;  // indices in events::Payload
constexpr size_t kMtPartial = 6;

class TranslationWorkerTest : public ::testing::Test {
 protected:
  TranslationWorkerTest() {
    std::string pattern = (fs::temp_directory_path() / "lx-mt-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
  }
  ~TranslationWorkerTest() override {
    if (worker_) worker_->Finish();
    fs::remove_all(dir_);
  }
  // Starts worker_ (the test's worker) with a fresh log.
  void Start(TranslationWorkerOptions options = {}) {
    auto log = store::TranslationLog::Open(dir_, "spa");
    EXPECT_TRUE(log.ok());
    worker_ = std::make_unique<TranslationWorker>(translator_, "fake", std::move(log).value(),
                                                  options, SteadyClock::Instance());
    EXPECT_TRUE(
        worker_->Start("s1", [this](events::Payload p) { recorder_.Publish(std::move(p)); }).ok());
  }

  std::string dir_;
  std::shared_ptr<testing::FakeTranslator> translator_ = std::make_shared<testing::FakeTranslator>(
      kEngSpa, std::map<std::string, std::string>{{"hello", "hola"}});
  Recorder recorder_;
  std::unique_ptr<TranslationWorker> worker_;
};

TEST_F(TranslationWorkerTest, TranslatesFinalsInOrderAndLogsEach) {
  Start();
  for (uint64_t n = 1; n <= 4; ++n)
    worker_->OnFinal(FinalOf(n, "hello number " + std::to_string(n)));
  worker_->Finish();
  const auto finals = recorder_.All<events::TranslationFinal>();
  ASSERT_EQ(finals.size(), 4u);
  for (uint64_t n = 1; n <= 4; ++n) {
    const auto& t = finals[n - 1];
    EXPECT_EQ(t.segment_id, n);
    EXPECT_EQ(t.src_text, "hello number " + std::to_string(n));
    EXPECT_EQ(t.text, "hola NUMBER " + std::to_string(n));
    EXPECT_EQ(t.src_lang, "eng");
    EXPECT_EQ(t.tgt_lang, "spa");
    EXPECT_EQ(t.provider, "fake");
    EXPECT_GE(t.latency_ms, 0);
  }
  auto logged = store::ReadTranslationLog(store::TranslationLogPath(dir_, "spa"));
  ASSERT_TRUE(logged.ok());
  ASSERT_EQ(logged->size(), 4u);
  EXPECT_EQ((*logged)[3].text, "hola NUMBER 4");
  const TranslationMetrics metrics = worker_->metrics();
  EXPECT_EQ(metrics.finals, 4u);
  EXPECT_EQ(metrics.latency.count(), 4u);
  EXPECT_EQ(metrics.errors, 0u);
}

TEST_F(TranslationWorkerTest, AFailedTranslationIsAnErrorAndLaterFinalsStillTranslate) {
  translator_->FailOn("bad one");
  Start();
  worker_->OnFinal(FinalOf(1, "hello"));
  worker_->OnFinal(FinalOf(2, "bad one"));
  worker_->OnFinal(FinalOf(3, "good one"));
  worker_->Finish();
  const auto events = recorder_.Events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(std::get<events::TranslationFinal>(events[0]).text, "hola");
  const auto& error = std::get<events::TranslationError>(events[1]);
  EXPECT_EQ(error.segment_id, 2u);
  EXPECT_EQ(error.src_text, "bad one");
  EXPECT_EQ(error.detail, "translation failed") << "fixed: the engine's text goes to the log";
  EXPECT_EQ(error.error_id.size(), 12u);
  EXPECT_EQ(error.tgt_lang, "spa");
  EXPECT_EQ(std::get<events::TranslationFinal>(events[2]).text, "GOOD ONE");
  EXPECT_EQ(worker_->metrics().errors, 1u);
  EXPECT_EQ(worker_->metrics().finals, 2u);
}

TEST_F(TranslationWorkerTest, AFullQueueSkipsDraftsButEveryFinalIsTranslated) {
  translator_->Close();
  Start({.cadence_words = 1, .queue_limit_jobs = 2});
  worker_->OnFinal(FinalOf(1, "first"));
  translator_->WaitForRequests(1);  // the worker holds "first" at the closed gate
  worker_->OnFinal(FinalOf(2, "second"));
  worker_->OnFinal(FinalOf(3, "third"));  // two jobs wait: the queue is full for drafts
  worker_->OnPartial(PartialOf(4, "a b", 3));
  worker_->OnPartial(PartialOf(4, "a b c", 5));
  worker_->OnFinal(FinalOf(4, "fourth"));  // over the limit, still queued
  EXPECT_EQ(worker_->metrics().skipped_drafts, 2u);
  translator_->Open();
  worker_->Finish();
  std::vector<std::string> texts;
  for (const auto& t : recorder_.All<events::TranslationFinal>()) texts.push_back(t.text);
  EXPECT_THAT(texts, ElementsAre("FIRST", "SECOND", "THIRD", "FOURTH"));
  EXPECT_TRUE(recorder_.All<events::TranslationPartial>().empty());
  EXPECT_THAT(translator_->requests(), ElementsAre("first", "second", "third", "fourth"));
}

TEST_F(TranslationWorkerTest, ANewerDraftSupersedesTheOneWaiting) {
  translator_->Close();
  Start({.cadence_words = 1});
  worker_->OnFinal(FinalOf(1, "first"));
  translator_->WaitForRequests(1);
  worker_->OnPartial(PartialOf(2, "hello", 5));
  worker_->OnPartial(PartialOf(2, "hello big", 9));
  worker_->OnPartial(PartialOf(2, "hello big world", 15));
  translator_->Open();
  ASSERT_TRUE(recorder_.WaitForCount(kMtPartial, 1));
  worker_->Finish();
  const auto drafts = recorder_.All<events::TranslationPartial>();
  ASSERT_EQ(drafts.size(), 1u);
  EXPECT_EQ(drafts[0].segment_id, 2u);
  EXPECT_EQ(drafts[0].text, "hola BIG WORLD");
  EXPECT_EQ(drafts[0].src_chars, 15u);
  EXPECT_EQ(worker_->metrics().skipped_drafts, 2u);
  EXPECT_EQ(worker_->metrics().partials, 1u);
}

TEST_F(TranslationWorkerTest, ADraftInFlightWhenItsSegmentCloseIsDiscarded) {
  translator_->Close();
  Start({.cadence_words = 1});
  worker_->OnPartial(PartialOf(1, "hello there", 11));
  translator_->WaitForRequests(1);  // the draft is being translated
  worker_->CloseSegment(1);         // its final is about to be published
  worker_->OnFinal(FinalOf(1, "hello there friend"));
  translator_->Open();
  ASSERT_TRUE(recorder_.WaitForCount(kMtFinal, 1));
  worker_->Finish();
  EXPECT_TRUE(recorder_.All<events::TranslationPartial>().empty());
  const auto events = recorder_.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(std::get<events::TranslationFinal>(events[0]).text, "hola THERE FRIEND");
  EXPECT_EQ(worker_->metrics().skipped_drafts, 1u);
}

TEST_F(TranslationWorkerTest, FinishDropsWaitingDraftsButTranslatesWaitingFinals) {
  translator_->Close();
  Start({.cadence_words = 1});
  worker_->OnFinal(FinalOf(1, "one"));
  translator_->WaitForRequests(1);
  worker_->OnFinal(FinalOf(2, "two"));
  worker_->OnPartial(PartialOf(3, "three", 5));
  std::thread finisher([&] { worker_->Finish(); });
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (worker_->metrics().skipped_drafts < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);  // until Finish has dropped the waiting draft
  }
  translator_->Open();
  finisher.join();
  EXPECT_EQ(recorder_.All<events::TranslationFinal>().size(), 2u);
  EXPECT_TRUE(recorder_.All<events::TranslationPartial>().empty());
  EXPECT_EQ(worker_->metrics().skipped_drafts, 1u);
  EXPECT_EQ(recorder_.Events().size(), 2u);
}

// ---- Sessions that translate.

void WriteWav(const std::string& path, size_t count) {
  std::ofstream out(path, std::ios::binary);
  auto u32 = [&](uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [&](uint16_t v) { out.write(reinterpret_cast<const char*>(&v), 2); };
  out.write("RIFF", 4);
  u32(static_cast<uint32_t>(36 + count * 2));
  out.write("WAVEfmt ", 8);
  u32(16);
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

class FakeModel final : public asr::EngineModel {
 public:
  explicit FakeModel(std::vector<testing::FakeSpeech> script) : script_(std::move(script)) {}
  std::string_view engine_name() const override { return "fake"; }
  std::string_view model_name() const override { return "fake"; }
  Result<std::unique_ptr<asr::EngineStream>> CreateStream(
      const asr::EngineStreamConfig& config) const override {
    return std::unique_ptr<asr::EngineStream>(
        std::make_unique<testing::FakeEngineStream>(script_, config.silence_ms, nullptr));
  }

 private:
  std::vector<testing::FakeSpeech> script_;
};

// Records a session's events; thread-safe.
class RecordingSink final : public EventSink {
 public:
  void Publish(events::Event event) override { recorder.Publish(std::move(event.payload)); }
  Recorder recorder;
};

// Three segments ending in silence; the last one ends with the file.
std::vector<testing::FakeSpeech> ThreeUtterances() {
  return {testing::SpeechAt(0.2, {"hello", "world"}), testing::SpeechAt(1.4, {"good", "bye"}),
          testing::SpeechAt(2.6, {"hello", "again"})};
}

class SessionTranslationTest : public ::testing::Test {
 protected:
  SessionTranslationTest() {
    std::string pattern = (fs::temp_directory_path() / "lx-session-mt-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
    options_.data_dir = dir_ + "/data";
    options_.default_model_dir = "good";
    options_.translators = &provider_;
  }
  ~SessionTranslationTest() override {
    if (auto t = provider_.translator("eng-spa")) t->Open();  // never leave a worker held
    manager_.reset();
    fs::remove_all(dir_);
  }
  SessionManager& Manager() {
    capture_ = std::make_unique<testing::FakeCaptureBackend>(
        testing::FakeCaptureScript{}, std::make_shared<testing::FakeCaptureCounters>());
    auto loader = [](const std::string&) -> Result<std::unique_ptr<asr::EngineModel>> {
      return std::unique_ptr<asr::EngineModel>(std::make_unique<FakeModel>(ThreeUtterances()));
    };
    auto make_sink = [this](const std::string&) -> std::shared_ptr<EventSink> { return sink_; };
    manager_ = std::make_unique<SessionManager>(options_, *capture_, loader, make_sink,
                                                SteadyClock::Instance());
    return *manager_;
  }
  SessionConfig TranslatedFile(const std::string& target = "spa") {
    const std::string path = dir_ + "/a.wav";
    WriteWav(path, 16000 * 35 / 10);
    SessionConfig config;
    config.source = SourceConfig{.type = SourceConfig::Type::kFile, .path = path, .speed = 0};
    config.mt = TranslationConfig{.enabled = true, .target = target, .cadence_words = 3};
    return config;
  }

  std::string dir_;
  testing::FakeTranslatorProvider provider_{{kEngSpa, {"eng", "cat", "eng-cat"}}};
  SessionManagerOptions options_;
  std::unique_ptr<testing::FakeCaptureBackend> capture_;
  std::shared_ptr<RecordingSink> sink_ = std::make_shared<RecordingSink>();
  std::unique_ptr<SessionManager> manager_;
};

TEST_F(SessionTranslationTest, EveryFinalIsFollowedByItsTranslationInOrder) {
  auto session = Manager().Create(TranslatedFile());
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  (*session)->Join();
  const auto events = sink_->recorder.Events();
  std::vector<uint64_t> finals_seen;  // segment ids of the asr.finals published so far
  std::vector<std::string> translations;
  for (const auto& payload : events) {
    if (const auto* f = std::get_if<asr::Final>(&payload)) finals_seen.push_back(f->segment_id);
    if (const auto* t = std::get_if<events::TranslationFinal>(&payload)) {
      EXPECT_NE(std::find(finals_seen.begin(), finals_seen.end(), t->segment_id), finals_seen.end())
          << "mt.final of segment " << t->segment_id << " before its asr.final";
      translations.push_back(t->src_text + " -> " + t->text);
    }
    if (const auto* d = std::get_if<events::TranslationPartial>(&payload)) {
      EXPECT_EQ(std::find(finals_seen.begin(), finals_seen.end(), d->segment_id), finals_seen.end())
          << "mt.partial of segment " << d->segment_id << " after its asr.final";
    }
  }
  EXPECT_THAT(translations, ElementsAre("hello world -> HELLO WORLD", "good bye -> GOOD BYE",
                                        "hello again -> HELLO AGAIN"));
  const auto* last = std::get_if<events::StatusChange>(&events.back());
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->state, SessionState::kStopped) << "the last mt.final comes before the end";
  auto logged = store::ReadTranslationLog(
      store::TranslationLogPath(manager_->SessionDir((*session)->id()), "spa"));
  ASSERT_TRUE(logged.ok()) << logged.status().ToString();
  ASSERT_EQ(logged->size(), 3u);
  EXPECT_EQ((*logged)[1].text, "GOOD BYE");
  const auto metrics = (*session)->Translation();
  ASSERT_TRUE(metrics.has_value());
  EXPECT_EQ(metrics->finals, 3u);
}

TEST_F(SessionTranslationTest, ABlockedTranslatorDoesNotHoldUpTheRecognizer) {
  auto translator = provider_.translator("eng-spa");
  translator->Close();  // every translation waits until the test opens the gate
  auto session = Manager().Create(TranslatedFile());
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  // The recognizer gets through the whole file, all three asr.finals published, while the first
  // translation is still held.
  ASSERT_TRUE(sink_->recorder.WaitFor([](const events::Payload& p) {
    const auto* status = std::get_if<events::StatusChange>(&p);
    return status != nullptr && status->state == SessionState::kStopping;
  }));
  ASSERT_TRUE(sink_->recorder.WaitForCount(1, 3));
  EXPECT_TRUE(sink_->recorder.All<events::TranslationFinal>().empty());
  translator->WaitForRequests(1);  // the translation thread may only now take the first final
  EXPECT_THAT(translator->requests(), ElementsAre("hello world")) << "held at the first";
  translator->Open();
  (*session)->Join();
  EXPECT_EQ(sink_->recorder.All<events::TranslationFinal>().size(), 3u);
  EXPECT_EQ((*session)->state(), SessionState::kStopped);
}

TEST_F(SessionTranslationTest, ATargetThatIsNotInstalledIsRefusedListingTheInstalledOnes) {
  auto session = Manager().Create(TranslatedFile("deu"));
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(session.status().message(),
            "mt.target \"deu\" is not installed (from eng); installed targets: cat, spa");
  EXPECT_TRUE(manager_->List().empty());
}

TEST_F(SessionTranslationTest, WithoutAProviderTranslationIsNotAvailableAndSaysWhy) {
  options_.translators = nullptr;
  options_.translation_unavailable = "apertium is not installed";
  auto session = Manager().Create(TranslatedFile());
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(session.status().message(), "translation is not available: apertium is not installed");
  SessionConfig plain = TranslatedFile();
  plain.mt.enabled = false;
  auto untranslated = manager_->Create(plain);
  ASSERT_TRUE(untranslated.ok()) << "sessions without mt do not need a provider";
  (*untranslated)->Join();
  EXPECT_FALSE((*untranslated)->Translation().has_value());
  EXPECT_TRUE(sink_->recorder.All<events::TranslationFinal>().empty());
}

}  // namespace
}  // namespace lx::session
