// The real ALSA capture code against alsa-lib's own plugins, no sound card needed: a `file` PCM
// whose input file is a LibriVox clip stands in for a microphone. Before the first test, the test
// writes an alsa-lib configuration of its own and points ALSA_CONFIG_PATH at it, which replaces
// the system's whole configuration (so it defines "default" too).
#include <gtest/gtest.h>

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include "audio/alsa_capture.h"

namespace lx::audio {
namespace {

namespace fs = std::filesystem;

constexpr int kToneHz = 440;
constexpr int16_t kToneAmplitude = 10000;

fs::path LibrivoxWav() {
  const char* dir = std::getenv("LX_POCKETSPHINX_TESTDATA");
  return fs::path(dir != nullptr ? dir : "/usr/share/pocketsphinx/test/data") / "librivox" /
         "sense_and_sensibility_01_austen_64kb-0880.wav";
}

// The bytes of a RIFF WAV's "data" chunk, found by walking the chunks (no header size assumed).
std::vector<char> WavData(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  const std::vector<char> bytes{std::istreambuf_iterator<char>(in), {}};
  auto u32 = [&](size_t at) {
    uint32_t value = 0;
    for (size_t i = 4; i-- > 0;) value = value << 8 | static_cast<uint8_t>(bytes[at + i]);
    return value;
  };
  for (size_t at = 12; at + 8 <= bytes.size(); at += 8 + ((u32(at + 4) + 1) & ~1u)) {
    if (std::string(bytes.begin() + at, bytes.begin() + at + 4) != "data") continue;
    const size_t end = std::min<size_t>(bytes.size(), at + 8 + u32(at + 4));
    return {bytes.begin() + at + 8, bytes.begin() + end};
  }
  return {};
}

// 2 s of a 440 Hz tone, 48 kHz, the same in both channels, s16le.
std::vector<char> StereoTone48k() {
  std::vector<char> bytes;
  for (int i = 0; i < 2 * 48000; ++i) {
    const auto value = static_cast<int16_t>(
        std::lround(kToneAmplitude * std::sin(2 * std::numbers::pi * kToneHz * i / 48000.0)));
    for (int channel = 0; channel < 2; ++channel) {
      bytes.push_back(static_cast<char>(value & 0xff));
      bytes.push_back(static_cast<char>((value >> 8) & 0xff));
    }
  }
  return bytes;
}

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// The PCMs the tests open. `file` over `null`: null delivers frames at once and forever, file
// replaces their content with its infile's. The file plugin must be the PCM opened (or sit under a
// plug): its infile is read by its own readi.
std::string AlsaConfig(const fs::path& dir) {
  const std::string d = dir.string();
  return R"(pcm.lxnull { type null }
pcm.lxclip {
  type file
  slave.pcm "lxnull"
  file "/dev/null"
  infile ")" +
         d + R"(/clip.raw"
  format "raw"
  hint { show on description "loquilex test clip" }
}
pcm.default "lxclip"
pcm.lxtonefile {
  type file
  slave.pcm "lxnull"
  file "/dev/null"
  infile ")" +
         d + R"(/tone48.raw"
}
pcm.lxtone {
  type plug
  slave { pcm "lxtonefile" rate 48000 channels 2 format S16_LE }
}
pcm.lxmulaw {
  type mulaw
  slave { pcm "lxnull" format S16_LE }
}
pcm.lxbroken {
  type file
  slave.pcm "lxnull"
  file ")" +
         d + R"(/no/such/dir/out.raw"
  infile ")" +
         d + R"(/clip.raw"
}
)";
}

// Writes the clip, the tone and the configuration into a temporary folder before the first test,
// and removes the folder after the last.
class AlsaTestConfig : public ::testing::Environment {
 public:
  void SetUp() override {
    std::string dir_template = (fs::temp_directory_path() / "lx_alsa_XXXXXX").string();
    ASSERT_NE(mkdtemp(dir_template.data()), nullptr);
    dir_ = dir_template;
    const std::vector<char> clip = WavData(LibrivoxWav());
    for (size_t i = 0; i + 1 < clip.size(); i += 2) {
      const auto value = static_cast<int16_t>(static_cast<uint8_t>(clip[i]) |
                                              static_cast<uint8_t>(clip[i + 1]) << 8);
      clip_.push_back(static_cast<float>(value) / 32768.0f);
    }
    WriteFile(dir_ / "clip.raw", std::string(clip.begin(), clip.end()));
    const std::vector<char> tone = StereoTone48k();
    WriteFile(dir_ / "tone48.raw", std::string(tone.begin(), tone.end()));
    WriteFile(dir_ / "asoundrc", AlsaConfig(dir_));
    ASSERT_EQ(setenv("ALSA_CONFIG_PATH", (dir_ / "asoundrc").c_str(), 1), 0);
  }

  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // The clip's samples as float; empty when PocketSphinx's test data is not installed.
  const std::vector<float>& clip() const { return clip_; }

 private:
  fs::path dir_;
  std::vector<float> clip_;
};

AlsaTestConfig* const g_config = static_cast<AlsaTestConfig*>(
    ::testing::AddGlobalTestEnvironment(new AlsaTestConfig));  // gtest owns it

int OpenFdCount() {
  return static_cast<int>(std::distance(fs::directory_iterator("/proc/self/fd"), {}));
}

// Reads `count` samples in reads of up to `chunk`, failing the test on an error or a timeout.
std::vector<float> ReadSamples(CaptureDevice& device, size_t count, size_t chunk = 1600) {
  std::vector<float> samples;
  std::vector<float> block;
  while (samples.size() < count) {
    Result<size_t> read = device.Read(&block, std::min(chunk, count - samples.size()), 1000);
    EXPECT_TRUE(read.ok()) << read.status().ToString();
    EXPECT_GT(read.ok() ? *read : 0, 0u) << "timed out after " << samples.size() << " samples";
    if (!read.ok() || *read == 0) break;
    samples.insert(samples.end(), block.begin(), block.end());
  }
  return samples;
}

class AudioAlsaCaptureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (g_config->clip().empty()) GTEST_SKIP() << LibrivoxWav() << " is not installed";
  }

  Result<std::unique_ptr<CaptureDevice>> Open(const std::string& device) {
    return backend_.Open(device);
  }

  AlsaCaptureBackend backend_;
};

TEST_F(AudioAlsaCaptureTest, DeliversTheClipSampleForSample) {
  const std::vector<float>& clip = g_config->clip();
  ASSERT_EQ(clip.size(), 47840u);
  Result<std::unique_ptr<CaptureDevice>> device = Open("lxclip");
  ASSERT_TRUE(device.ok()) << device.status().ToString();
  const SourceInfo& info = (*device)->info();
  EXPECT_EQ(info.name, "lxclip");
  EXPECT_EQ(info.format, "S16_LE");
  EXPECT_EQ(info.sample_rate, 16000);
  EXPECT_EQ(info.channels, 1);
  EXPECT_EQ(info.frames, -1);

  const std::vector<float> samples = ReadSamples(**device, clip.size(), 1000);
  ASSERT_EQ(samples.size(), clip.size());
  for (size_t i = 0; i < samples.size(); ++i) ASSERT_EQ(samples[i], clip[i]) << "sample " << i;
  EXPECT_EQ((*device)->overruns(), 0);
}

// alsa-lib's file plugin keeps delivering frames once its input is exhausted (1.2.8 ignores the
// short read): a capture device has no end, and what comes after is silence, not stale samples.
TEST_F(AudioAlsaCaptureTest, AfterItsInputFileTheDeviceDeliversSilence) {
  Result<std::unique_ptr<CaptureDevice>> device = Open("lxclip");
  ASSERT_TRUE(device.ok()) << device.status().ToString();
  ReadSamples(**device, g_config->clip().size());
  const std::vector<float> after = ReadSamples(**device, 16000);
  ASSERT_EQ(after.size(), 16000u);
  EXPECT_TRUE(std::all_of(after.begin(), after.end(), [](float s) { return s == 0.0f; }));
}

TEST_F(AudioAlsaCaptureTest, AnEmptyNameOpensTheDefaultDevice) {
  Result<std::unique_ptr<CaptureDevice>> device = Open("");
  ASSERT_TRUE(device.ok()) << device.status().ToString();
  EXPECT_EQ((*device)->info().name, "default");
  const std::vector<float> samples = ReadSamples(**device, 1600);
  EXPECT_TRUE(std::equal(samples.begin(), samples.end(), g_config->clip().begin()));
}

TEST_F(AudioAlsaCaptureTest, AnUnknownDeviceIsNotFoundByName) {
  Result<std::unique_ptr<CaptureDevice>> device = Open("lx_no_such_device");
  ASSERT_FALSE(device.ok());
  EXPECT_EQ(device.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(device.status().message(),
            "audio device \"lx_no_such_device\" does not exist (No such file or directory)");
}

// No alsa-lib plugin can be made to idle without hardware (null always has frames ready), so this
// checks the other half of the timeout contract: Read hands out what is ready instead of waiting
// to fill max_samples or for the timeout.
TEST_F(AudioAlsaCaptureTest, ReadReturnsWhatIsReadyWithoutWaitingForTheTimeout) {
  Result<std::unique_ptr<CaptureDevice>> device = Open("lxclip");
  ASSERT_TRUE(device.ok()) << device.status().ToString();
  std::vector<float> samples;
  const auto start = std::chrono::steady_clock::now();
  Result<size_t> read = (*device)->Read(&samples, 10 * kSampleRate, 5000);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_GT(*read, 0u);
  EXPECT_LT(*read, 10u * kSampleRate);
  EXPECT_EQ(samples.size(), *read);

  read = (*device)->Read(&samples, 160, 0);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, 160u);
}

TEST_F(AudioAlsaCaptureTest, DestroyingTheDeviceClosesIt) {
  (void)Open("lxclip");  // alsa-lib loads its configuration and plugins once
  const int before = OpenFdCount();
  Result<std::unique_ptr<CaptureDevice>> device = Open("lxclip");
  ASSERT_TRUE(device.ok()) << device.status().ToString();
  EXPECT_GT(OpenFdCount(), before);  // the clip, /dev/full (null) and /dev/null (file)
  device->reset();
  EXPECT_EQ(OpenFdCount(), before);
}

// The mu-law plugin opens (its null slave opens /dev/full) but offers only MU_LAW: Open fails
// after the device was opened, and must close it.
TEST_F(AudioAlsaCaptureTest, AFailedSetUpClosesTheDeviceItOpened) {
  (void)Open("lxmulaw");
  const int before = OpenFdCount();
  Result<std::unique_ptr<CaptureDevice>> device = Open("lxmulaw");
  ASSERT_FALSE(device.ok());
  EXPECT_EQ(device.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(device.status().message().find("audio device \"lxmulaw\" offers none"),
            std::string::npos)
      << device.status().ToString();
  EXPECT_EQ(OpenFdCount(), before);
}

// The file plugin cannot write its copy of the captured frames (no such folder) and reports EIO
// from readi, as a failing USB device does.
TEST_F(AudioAlsaCaptureTest, ADeviceThatFailsWhileReadingIsUnavailableFromThenOn) {
  Result<std::unique_ptr<CaptureDevice>> device = Open("lxbroken");
  ASSERT_TRUE(device.ok()) << device.status().ToString();
  std::vector<float> samples;
  Result<size_t> read = size_t{0};
  for (int i = 0; i < 100 && read.ok(); ++i) read = (*device)->Read(&samples, 1600, 1000);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(read.status().message(),
            "audio device \"lxbroken\" stopped delivering audio (Input/output error)");
  const Result<size_t> again = (*device)->Read(&samples, 1600, 1000);
  EXPECT_EQ(again.status().message(), read.status().message());
}

// lxtone offers only 48 kHz stereo (a plug whose resampling and channel mixing Open turns off):
// the samples come out downmixed and resampled to 16 kHz mono, still a 440 Hz tone.
TEST_F(AudioAlsaCaptureTest, ADevicesNativeRateAndChannelsAreConverted) {
  Result<std::unique_ptr<CaptureDevice>> device = Open("lxtone");
  ASSERT_TRUE(device.ok()) << device.status().ToString();
  EXPECT_EQ((*device)->info().sample_rate, 48000);
  EXPECT_EQ((*device)->info().channels, 2);

  const std::vector<float> samples = ReadSamples(**device, kSampleRate);
  ASSERT_EQ(samples.size(), static_cast<size_t>(kSampleRate));
  const std::vector<float> steady(samples.begin() + kSampleRate / 10, samples.end());
  int rising_crossings = 0;
  for (size_t i = 1; i < steady.size(); ++i)
    rising_crossings += steady[i - 1] < 0 && steady[i] >= 0;
  EXPECT_NEAR(rising_crossings, kToneHz * 0.9, 2);
  const float peak = *std::max_element(steady.begin(), steady.end());
  EXPECT_NEAR(peak, kToneAmplitude / 32768.0, 0.01);
}

TEST_F(AudioAlsaCaptureTest, ListsTheCaptureDevicesOfTheConfiguration) {
  Result<std::vector<CaptureDeviceInfo>> devices = backend_.ListDevices();
  ASSERT_TRUE(devices.ok()) << devices.status().ToString();
  EXPECT_NE(std::find(devices->begin(), devices->end(),
                      CaptureDeviceInfo{"lxclip", "loquilex test clip"}),
            devices->end());
}

}  // namespace
}  // namespace lx::audio
