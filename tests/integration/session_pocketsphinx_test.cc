// A file session with the real PocketSphinx model: it captions the file as transcribe does, and
// its log holds what it published.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "asr/pocketsphinx_engine.h"
#include "audio/audio_reader.h"
#include "fakes/fake_capture.h"
#include "session/session_manager.h"

namespace lx::session {
namespace {

namespace fs = std::filesystem;

std::string Clip() {
  const char* dir = std::getenv("LX_POCKETSPHINX_TESTDATA");
  return std::string(dir != nullptr ? dir : "/usr/share/pocketsphinx/test/data") +
         "/librivox/sense_and_sensibility_01_austen_64kb-0870.wav";
}

class FinalsSink final : public EventSink {
 public:
  void Publish(events::Event event) override {
    std::lock_guard lock(mutex_);
    if (const auto* f = std::get_if<asr::Final>(&event.payload)) texts_.push_back(f->text);
    if (const auto* s = std::get_if<events::StatusChange>(&event.payload)) last_ = s->state;
  }
  std::vector<std::string> texts() const {
    std::lock_guard lock(mutex_);
    return texts_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> texts_;                               // guarded by mutex_
  events::SessionState last_ = events::SessionState::kStarting;  // guarded by mutex_
};

class TextCollector final : public asr::CaptionSink {
 public:
  void OnPartial(const asr::Partial&) override {}
  void OnFinal(const asr::Final& final_caption) override { texts.push_back(final_caption.text); }
  std::vector<std::string> texts;
};

// The finals transcribe's loop produces: the file read whole, fed to a Segmenter.
std::vector<std::string> TranscribeTexts(const asr::EngineModel& model) {
  TextCollector collector;
  asr::SegmenterConfig config;
  asr::Segmenter segmenter(model.CreateStream(config.EngineConfig()).value(), config,
                           SteadyClock::Instance(), &collector);
  auto file = audio::OpenAudioFile(Clip());
  std::vector<float> samples;
  while (file.value()->Read(&samples, 4096).value() > 0) EXPECT_TRUE(segmenter.Feed(samples).ok());
  EXPECT_TRUE(segmenter.Finish().ok());
  return collector.texts;
}

TEST(SessionPocketSphinxTest, AFileSessionCaptionsLikeTranscribeAndLogsEveryFinal) {
  if (!fs::exists(Clip())) GTEST_SKIP() << "no " << Clip();
  std::string pattern = (fs::temp_directory_path() / "lx-session-ps-XXXXXX").string();
  const std::string dir = mkdtemp(pattern.data());
  auto sink = std::make_shared<FinalsSink>();
  testing::FakeCaptureBackend capture({});
  SessionManager manager(
      {.data_dir = dir, .default_model_dir = asr::kDefaultPocketSphinxModelDir, .start_thread = {}},
      capture, [](const std::string& model_dir) { return asr::LoadPocketSphinxModel(model_dir); },
      [&](const std::string&) { return sink; }, SteadyClock::Instance());
  SessionConfig config;
  config.source = SourceConfig{.type = SourceConfig::Type::kFile, .path = Clip(), .speed = 0};
  auto session = manager.Create(config);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  (*session)->Join();
  EXPECT_EQ((*session)->state(), events::SessionState::kStopped) << (*session)->Info().error;

  auto model = asr::LoadPocketSphinxModel(asr::kDefaultPocketSphinxModelDir);
  ASSERT_TRUE(model.ok());
  const std::vector<std::string> published = sink->texts();
  EXPECT_FALSE(published.empty());
  EXPECT_EQ(published, TranscribeTexts(**model));
  auto logged = store::ReadSessionLog(manager.SessionDir((*session)->id()) + "/finals.jsonl");
  ASSERT_TRUE(logged.ok());
  ASSERT_EQ(logged->size(), published.size());
  for (size_t i = 0; i < published.size(); ++i) EXPECT_EQ((*logged)[i].text, published[i]);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace lx::session
