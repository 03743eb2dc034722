// A mic session on the real ALSA capture code, without hardware (review finding 4's device side):
// an alsa-lib `file` PCM whose input is a LibriVox clip stands in for the microphone.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <thread>

#include "asr/pocketsphinx_engine.h"
#include "audio/alsa_capture.h"
#include "session/session_manager.h"

namespace lx::session {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kClip =
    "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav";

// Points ALSA_CONFIG_PATH at a configuration with one PCM, "lxmic", playing the clip's samples
// (its WAV header is 44 bytes), before any test touches ALSA.
class AlsaMicEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    // ctest runs each test in its own process, possibly at the same time: one folder each.
    dir_ = fs::temp_directory_path() / ("lx_session_alsa_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    std::ifstream wav(kClip, std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(wav), {}};
    std::ofstream(dir_ / "clip.raw", std::ios::binary) << bytes.substr(44);
    std::ofstream(dir_ / "asound.conf")
        << "pcm.lxnull { type null }\n"
        << "pcm.lxmic { type file slave.pcm \"lxnull\" file \"/dev/null\" infile \""
        << (dir_ / "clip.raw").string() << "\" format \"raw\" }\n"
        << "pcm.default \"lxmic\"\n";
    ::setenv("ALSA_CONFIG_PATH", (dir_ / "asound.conf").c_str(), 1);
  }
  void TearDown() override { fs::remove_all(dir_); }

 private:
  fs::path dir_;
};

const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new AlsaMicEnvironment);

class FinalsSink final : public EventSink {
 public:
  void Publish(events::Event event) override {
    if (const auto* f = std::get_if<asr::Final>(&event.payload)) {
      const std::lock_guard lock(mutex);
      text += f->text + " ";
    }
  }
  std::string Text() {
    const std::lock_guard lock(mutex);
    return text;
  }
  std::mutex mutex;
  std::string text;
};

// How many of this process's open files are the microphone's input.
size_t OpenMicFiles() {
  size_t count = 0;
  for (const auto& fd : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (fs::read_symlink(fd.path(), ec).filename() == "clip.raw") ++count;
  }
  return count;
}

class SessionAlsaMicTest : public ::testing::Test {
 protected:
  SessionAlsaMicTest()
      : sink_(std::make_shared<FinalsSink>()),
        manager_(
            SessionManagerOptions{
                (fs::temp_directory_path() / ("lx_mic_data_" + std::to_string(::getpid())))
                    .string(),
                asr::kDefaultPocketSphinxModelDir,
                {}},
            capture_, [](const std::string& dir) { return asr::LoadPocketSphinxModel(dir); },
            [this](const std::string&) { return sink_; }, SteadyClock::Instance()) {}

  audio::AlsaCaptureBackend capture_;
  std::shared_ptr<FinalsSink> sink_;
  SessionManager manager_;
};

TEST_F(SessionAlsaMicTest, MicSessionCaptionsTheClipAndClosesTheDevice) {
  SessionConfig config;
  config.source.type = SourceConfig::Type::kMic;
  config.source.device = "lxmic";
  auto session = manager_.Create(config);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  EXPECT_EQ(OpenMicFiles(), 1u) << "the device reads the clip while the session runs";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (sink_->Text().find("young man") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_THAT(sink_->Text(), HasSubstr("he was not an illness closed young man"));
  session.value()->Stop();
  session.value()->Join();
  EXPECT_EQ(session.value()->state(), events::SessionState::kStopped);
  EXPECT_EQ(OpenMicFiles(), 0u) << "the capture device (and its input file) is closed";
}

TEST_F(SessionAlsaMicTest, ADeviceThatDoesNotExistIsNamed) {
  SessionConfig config;
  config.source.type = SourceConfig::Type::kMic;
  config.source.device = "lx_no_such_device";
  auto session = manager_.Create(config);
  EXPECT_EQ(session.status().code(), Status::Code::kNotFound);
  EXPECT_THAT(session.status().message(), HasSubstr("lx_no_such_device"));
}

}  // namespace
}  // namespace lx::session
