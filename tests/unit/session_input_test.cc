#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "audio/audio_reader.h"
#include "fakes/fake_capture.h"
#include "session/audio_input.h"

namespace lx::session {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// A 16-bit mono WAV of `count` samples of a ramp, at `rate`.
void WriteWav(const std::string& path, size_t count, int rate = 16000) {
  std::ofstream out(path, std::ios::binary);
  auto u32 = [&](uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [&](uint16_t v) { out.write(reinterpret_cast<const char*>(&v), 2); };
  const auto bytes = static_cast<uint32_t>(count * 2);
  out.write("RIFF", 4);
  u32(36 + bytes);
  out.write("WAVEfmt ", 8);
  u32(16);
  u16(1);
  u16(1);
  u32(static_cast<uint32_t>(rate));
  u32(static_cast<uint32_t>(rate) * 2);
  u16(2);
  u16(16);
  out.write("data", 4);
  u32(bytes);
  for (size_t i = 0; i < count; ++i) u16(static_cast<uint16_t>((i * 37) % 20000));
}

class SessionInputTest : public ::testing::Test {
 protected:
  SessionInputTest() {
    std::string pattern = (fs::temp_directory_path() / "lx-session-input-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
  }
  ~SessionInputTest() override { fs::remove_all(dir_); }

  std::unique_ptr<AudioInput> Open(const SourceConfig& source) {
    auto input = OpenAudioInput(source, capture_);
    EXPECT_TRUE(input.ok()) << input.status().ToString();
    return input.ok() ? std::move(input).value() : nullptr;
  }
  SourceConfig File(size_t samples, double speed, bool loop = false) {
    const std::string path = dir_ + "/a.wav";
    WriteWav(path, samples);
    return SourceConfig{
        .type = SourceConfig::Type::kFile, .path = path, .speed = speed, .loop = loop};
  }
  // Reads until `count` samples arrived or the input ended.
  static std::vector<float> ReadSamples(AudioInput& input, size_t count) {
    std::vector<float> all;
    std::vector<float> chunk;
    while (all.size() < count && !input.ended()) {
      auto read = input.Read(&chunk, std::min<size_t>(1600, count - all.size()), 50);
      EXPECT_TRUE(read.ok());
      if (!read.ok()) break;
      all.insert(all.end(), chunk.begin(), chunk.end());
    }
    return all;
  }

  std::string dir_;
  testing::FakeCaptureBackend capture_{testing::FakeCaptureScript{.samples = {0.25f, -0.5f}}};
};

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

TEST_F(SessionInputTest, AFileDeliversTheSamplesTranscribeReads) {
  auto input = Open(File(5000, 0));
  auto reference = audio::OpenAudioFile(dir_ + "/a.wav");
  ASSERT_TRUE(reference.ok());
  std::vector<float> expected;
  std::vector<float> chunk;
  while ((*reference)->Read(&chunk, 777).value() > 0) {
    expected.insert(expected.end(), chunk.begin(), chunk.end());
  }
  EXPECT_EQ(ReadSamples(*input, 100000), expected);
  EXPECT_TRUE(input->ended());
}

TEST_F(SessionInputTest, AFileIsPacedAtItsSpeed) {
  auto input = Open(File(16000, 4.0));  // 1 s at 4x: about 250 ms
  const auto start = Clock::now();
  EXPECT_EQ(ReadSamples(*input, 16000).size(), 16000u);
  EXPECT_GE(SecondsSince(start), 0.2);
}

TEST_F(SessionInputTest, PacingResumesWithoutABurstAfterAPause) {
  auto input = Open(File(32000, 1.0));
  ReadSamples(*input, 3200);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // paused
  input->Resumed();
  const auto start = Clock::now();
  ReadSamples(*input, 4800);  // 300 ms of audio
  EXPECT_GE(SecondsSince(start), 0.2);
}

// A reader slowed down by a final pass must not fall further behind real time with each one.
TEST_F(SessionInputTest, ASlowReaderCatchesUpInsteadOfFallingBehind) {
  auto input = Open(File(32000, 1.0));
  ReadSamples(*input, 3200);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // busy, not paused
  const auto start = Clock::now();
  ReadSamples(*input, 4800);  // 300 ms of audio, all due already
  EXPECT_LT(SecondsSince(start), 0.15);
}

TEST_F(SessionInputTest, AFileBehindItsScheduleHasABacklogThatDropSkips) {
  auto input = Open(File(32000, 1.0));
  const std::vector<float> all = ReadSamples(*Open(File(32000, 0)), 32000);
  ReadSamples(*input, 3200);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // a slow recognizer
  EXPECT_TRUE(input->CanDrop());
  EXPECT_GE(input->LagSeconds(), 0.3) << "at least 400 ms came due, 100 ms was read early";
  auto dropped = input->Drop(0.25);
  ASSERT_TRUE(dropped.ok());
  EXPECT_DOUBLE_EQ(dropped.value(), 0.25);
  const std::vector<float> next = ReadSamples(*input, 10);
  ASSERT_EQ(next.size(), 10u);
  EXPECT_EQ(next[0], all[3200 + 4000]) << "the oldest waiting audio was skipped";
}

TEST_F(SessionInputTest, AFileAtSpeedZeroNeverLags) {
  auto input = Open(File(16000, 0));
  ReadSamples(*input, 1600);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(input->LagSeconds(), 0);
  EXPECT_FALSE(input->CanDrop());
}

TEST_F(SessionInputTest, DroppingFromALoopingFileWrapsAround) {
  auto input = Open(File(1000, 2.0, /*loop=*/true));
  const std::vector<float> first = ReadSamples(*input, 1000);
  auto dropped = input->Drop(1250 / 16000.0);  // at speed 2: 2500 samples
  ASSERT_TRUE(dropped.ok());
  EXPECT_DOUBLE_EQ(dropped.value(), 2500 / 16000.0);
  const std::vector<float> next = ReadSamples(*input, 1);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0], first[500]);
}

TEST_F(SessionInputTest, ALoopingFileStartsAgainAtItsEnd) {
  auto input = Open(File(1000, 0, /*loop=*/true));
  const std::vector<float> samples = ReadSamples(*input, 3500);
  ASSERT_EQ(samples.size(), 3500u);
  EXPECT_FALSE(input->ended());
  EXPECT_EQ(samples[1000], samples[0]);
  EXPECT_EQ(samples[3000], samples[0]);
}

TEST_F(SessionInputTest, AMissingFileIsNotFound) {
  auto input = OpenAudioInput(
      SourceConfig{.type = SourceConfig::Type::kFile, .path = dir_ + "/none.wav"}, capture_);
  EXPECT_EQ(input.status().code(), Status::Code::kNotFound);
}

TEST_F(SessionInputTest, AMicReadsItsDeviceAndClosesItWhenDestroyed) {
  auto input = Open(SourceConfig{.type = SourceConfig::Type::kMic, .device = "hw:9"});
  EXPECT_EQ(capture_.counters().open_now(), 1);
  std::vector<float> chunk;
  ASSERT_EQ(input->Read(&chunk, 10, 0).value(), 2u);
  EXPECT_EQ(chunk, (std::vector<float>{0.25f, -0.5f}));
  input->Close();
  EXPECT_TRUE(input->ended());
  input.reset();
  EXPECT_EQ(capture_.counters().open_now(), 0);
}

TEST_F(SessionInputTest, AMicThatCannotOpenFailsLikeTheBackend) {
  testing::FakeCaptureBackend busy(
      testing::FakeCaptureScript{.open_error = Status::Unavailable("hw:1 is busy")});
  auto input = OpenAudioInput(SourceConfig{.type = SourceConfig::Type::kMic}, busy);
  EXPECT_EQ(input.status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(busy.counters().open_now(), 0);
}

PushInput& AsPush(AudioInput& input) { return dynamic_cast<PushInput&>(input); }

std::vector<unsigned char> S16(const std::vector<int16_t>& samples) {
  std::vector<unsigned char> bytes(samples.size() * 2);
  std::memcpy(bytes.data(), samples.data(), bytes.size());
  return bytes;
}

TEST_F(SessionInputTest, PushedS16FramesAreConvertedAndRead) {
  auto input = Open(SourceConfig{.type = SourceConfig::Type::kPush});
  ASSERT_TRUE(AsPush(*input).Push(S16({16384, -32768, 0})).ok());
  std::vector<float> chunk;
  ASSERT_EQ(input->Read(&chunk, 10, 0).value(), 3u);
  EXPECT_EQ(chunk, (std::vector<float>{0.5f, -1.0f, 0.0f}));
}

TEST_F(SessionInputTest, PushedAudioLagsByHowLongItsOldestSampleWaitedAndIsNeverDropped) {
  auto input = Open(SourceConfig{.type = SourceConfig::Type::kPush});
  EXPECT_FALSE(input->CanDrop()) << "a producer is held back by the queue's limit instead";
  EXPECT_EQ(input->LagSeconds(), 0) << "nothing waits";
  ASSERT_TRUE(AsPush(*input).Push(S16({16384, -32768})).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(AsPush(*input).Push(S16({0, 8192})).ok());
  EXPECT_GE(input->LagSeconds(), 0.1) << "the first frame has waited";
  std::vector<float> chunk;
  ASSERT_EQ(input->Read(&chunk, 2, 0).value(), 2u);
  EXPECT_LT(input->LagSeconds(), 0.1) << "now the second frame is the oldest";
  ASSERT_EQ(input->Read(&chunk, 10, 0).value(), 2u);
  EXPECT_EQ(input->LagSeconds(), 0);
}

TEST_F(SessionInputTest, PushedF32FramesAreReadAndClamped) {
  auto input =
      Open(SourceConfig{.type = SourceConfig::Type::kPush, .format = audio::RawFormat::kF32LE});
  const std::vector<float> samples = {0.25f, 3.0f};
  std::vector<unsigned char> bytes(8);
  std::memcpy(bytes.data(), samples.data(), 8);
  ASSERT_TRUE(AsPush(*input).Push(bytes).ok());
  std::vector<float> chunk;
  ASSERT_EQ(input->Read(&chunk, 10, 0).value(), 2u);
  EXPECT_EQ(chunk, (std::vector<float>{0.25f, 1.0f}));
}

TEST_F(SessionInputTest, APartialSampleIsInvalidArgument) {
  auto input = Open(SourceConfig{.type = SourceConfig::Type::kPush});
  const std::vector<unsigned char> odd = {1, 2, 3};
  EXPECT_EQ(AsPush(*input).Push(odd).code(), Status::Code::kInvalidArgument);
  auto f32 =
      Open(SourceConfig{.type = SourceConfig::Type::kPush, .format = audio::RawFormat::kF32LE});
  const std::vector<unsigned char> six(6);
  EXPECT_EQ(AsPush(*f32).Push(six).code(), Status::Code::kInvalidArgument);
}

TEST_F(SessionInputTest, AFullQueueIsUnavailable) {
  auto input = Open(SourceConfig{.type = SourceConfig::Type::kPush});
  const std::vector<unsigned char> second(32000);  // 1 s of s16le
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(AsPush(*input).Push(second).ok()) << i;
  EXPECT_EQ(AsPush(*input).Push(second).code(), Status::Code::kUnavailable);
}

TEST_F(SessionInputTest, ReadReturnsZeroWhenNothingCameInTime) {
  auto input = Open(SourceConfig{.type = SourceConfig::Type::kPush});
  std::vector<float> chunk{1.0f};
  EXPECT_EQ(input->Read(&chunk, 10, 20).value(), 0u);
  EXPECT_TRUE(chunk.empty());
  EXPECT_FALSE(input->ended());
}

TEST_F(SessionInputTest, CloseWakesAWaitingReadAndEndsOnceDrained) {
  auto input = Open(SourceConfig{.type = SourceConfig::Type::kPush});
  ASSERT_TRUE(AsPush(*input).Push(S16({1, 2})).ok());
  std::vector<float> chunk;
  ASSERT_EQ(input->Read(&chunk, 10, 0).value(), 2u);
  std::thread closer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    input->Close();
  });
  const auto start = Clock::now();
  EXPECT_EQ(input->Read(&chunk, 10, 10000).value(), 0u);
  closer.join();
  EXPECT_LT(SecondsSince(start), 5.0);
  EXPECT_TRUE(input->ended());
  EXPECT_EQ(AsPush(*input).Push(S16({1})).code(), Status::Code::kFailedPrecondition);
}

TEST_F(SessionInputTest, PushedAudioAtAnotherRateIsResampledTo16kHz) {
  auto input = Open(SourceConfig{.type = SourceConfig::Type::kPush, .sample_rate = 48000});
  ASSERT_TRUE(AsPush(*input).Push(std::vector<unsigned char>(96000)).ok());  // 1 s
  input->Close();
  const size_t count = ReadSamples(*input, 100000).size();
  EXPECT_NEAR(static_cast<double>(count), 16000, 50);
}

}  // namespace
}  // namespace lx::session
