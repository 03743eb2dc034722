#include "audio/resampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <ostream>
#include <span>
#include <vector>

namespace lx::audio {
namespace {

std::vector<float> Sine(double hz, int rate, size_t samples, float amplitude) {
  std::vector<float> out(samples);
  for (size_t i = 0; i < samples; ++i) {
    out[i] = amplitude * static_cast<float>(std::sin(2 * std::numbers::pi * hz * i / rate));
  }
  return out;
}

// Feeds `input` to a fresh resampler in pieces of `chunk` samples, then flushes.
std::vector<float> Convert(int from, int to, const std::vector<float>& input, size_t chunk) {
  Result<std::unique_ptr<Resampler>> resampler = Resampler::Create(from, to);
  EXPECT_TRUE(resampler.ok()) << resampler.status().ToString();
  if (!resampler.ok()) return {};
  std::vector<float> out;
  for (size_t at = 0; at < input.size(); at += chunk) {
    const size_t n = std::min(chunk, input.size() - at);
    EXPECT_TRUE((*resampler)->Process(std::span(input).subspan(at, n), &out).ok());
  }
  EXPECT_TRUE((*resampler)->Flush(&out).ok());
  return out;
}

// Sign changes between neighbouring samples.
size_t ZeroCrossings(const std::vector<float>& samples) {
  size_t crossings = 0;
  for (size_t i = 1; i < samples.size(); ++i) {
    if ((samples[i - 1] < 0) != (samples[i] < 0)) ++crossings;
  }
  return crossings;
}

TEST(AudioDownmixTest, AveragesStereoFrames) {
  std::vector<float> mono;
  Downmix(std::vector<float>{0.5f, -0.5f, 1.0f, 0.0f, -0.25f, -0.75f}, 2, &mono);
  EXPECT_EQ(mono, (std::vector<float>{0.0f, 0.5f, -0.5f}));
}

TEST(AudioDownmixTest, AveragesThreeChannelsAndAppends) {
  std::vector<float> mono = {0.125f};
  Downmix(std::vector<float>{0.3f, 0.6f, 0.9f}, 3, &mono);
  ASSERT_EQ(mono.size(), 2u);
  EXPECT_EQ(mono[0], 0.125f);
  EXPECT_NEAR(mono[1], 0.6f, 1e-6);
}

TEST(AudioDownmixTest, MonoIsCopiedAndAPartialFrameIgnored) {
  std::vector<float> mono;
  Downmix(std::vector<float>{0.1f, 0.2f}, 1, &mono);
  Downmix(std::vector<float>{0.4f, 0.6f, 0.9f}, 2, &mono);
  EXPECT_EQ(mono, (std::vector<float>{0.1f, 0.2f, 0.5f}));
}

TEST(AudioResamplerTest, RejectsRatesOutsideTheSupportedRange) {
  for (auto [from, to] : {std::pair{0, 16000}, {-8000, 16000}, {768001, 16000}, {16000, 0}}) {
    Result<std::unique_ptr<Resampler>> resampler = Resampler::Create(from, to);
    ASSERT_FALSE(resampler.ok()) << from << " -> " << to;
    EXPECT_EQ(resampler.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(resampler.status().message().find("outside the supported 1..768000 Hz"),
              std::string::npos)
        << resampler.status().message();
  }
}

TEST(AudioResamplerTest, EqualRatesPassSamplesThroughUnchanged) {
  const std::vector<float> input = Sine(440, 16000, 1000, 0.7f);
  EXPECT_EQ(Convert(16000, 16000, input, 333), input);
}

TEST(AudioResamplerTest, DoublingTheRateDoublesTheSampleCount) {
  const std::vector<float> out = Convert(8000, 16000, Sine(440, 8000, 8000, 0.5f), 1000);
  EXPECT_EQ(out.size(), 16000u);
}

TEST(AudioResamplerTest, KeepsFrequencyAmplitudeAndDuration) {
  const std::vector<float> out = Convert(44100, 16000, Sine(440, 44100, 44100, 0.5f), 4096);
  ASSERT_NEAR(static_cast<double>(out.size()), 16000.0, 1.0);
  // 440 Hz for one second crosses zero 880 times.
  EXPECT_NEAR(static_cast<double>(ZeroCrossings(out)), 880.0, 2.0);
  float peak = 0;
  for (size_t i = 1000; i < out.size() - 1000; ++i) peak = std::max(peak, std::fabs(out[i]));
  EXPECT_NEAR(peak, 0.5f, 0.01f);
  // The converted signal matches the ideal 16 kHz sine away from the edges.
  const std::vector<float> ideal = Sine(440, 16000, out.size(), 0.5f);
  for (size_t i = 1000; i < out.size() - 1000; ++i) ASSERT_NEAR(out[i], ideal[i], 1e-3) << i;
}

TEST(AudioResamplerTest, ProcessingAnEmptySpanChangesNothing) {
  const std::vector<float> input = Sine(440, 48000, 4800, 0.5f);
  Result<std::unique_ptr<Resampler>> resampler = Resampler::Create(48000, 16000);
  ASSERT_TRUE(resampler.ok());
  std::vector<float> out;
  ASSERT_TRUE((*resampler)->Process({}, &out).ok());
  ASSERT_TRUE((*resampler)->Process(input, &out).ok());
  ASSERT_TRUE((*resampler)->Process(std::span<const float>(), &out).ok());
  ASSERT_TRUE((*resampler)->Flush(&out).ok());
  EXPECT_EQ(out, Convert(48000, 16000, input, input.size()));
}

TEST(AudioResamplerTest, ProcessAfterFlushFails) {
  Result<std::unique_ptr<Resampler>> resampler = Resampler::Create(48000, 16000);
  ASSERT_TRUE(resampler.ok());
  std::vector<float> out;
  ASSERT_TRUE((*resampler)->Flush(&out).ok());
  EXPECT_EQ((*resampler)->Process(std::vector<float>(10), &out).code(),
            Status::Code::kFailedPrecondition);
}

struct ChunkCase {
  int from;
  int to;
  friend std::ostream& operator<<(std::ostream& os, const ChunkCase& c) {
    return os << c.from << " Hz -> " << c.to << " Hz";
  }
};

class AudioResamplerChunkingTest : public testing::TestWithParam<ChunkCase> {};

TEST_P(AudioResamplerChunkingTest, OutputDoesNotDependOnChunkSize) {
  const auto [from, to] = GetParam();
  const std::vector<float> input = Sine(1234.5, from, static_cast<size_t>(from) / 2, 0.8f);
  const std::vector<float> whole = Convert(from, to, input, input.size());
  ASSERT_GT(whole.size(), 0u);
  for (size_t chunk : {size_t{1}, size_t{160}, size_t{1600}}) {
    const std::vector<float> chunked = Convert(from, to, input, chunk);
    ASSERT_EQ(chunked.size(), whole.size()) << "chunk " << chunk;
    for (size_t i = 0; i < whole.size(); ++i) {
      ASSERT_NEAR(chunked[i], whole[i], 1e-6) << "chunk " << chunk << " sample " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Rates, AudioResamplerChunkingTest,
                         testing::Values(ChunkCase{44100, 16000}, ChunkCase{48000, 16000},
                                         ChunkCase{8000, 16000}, ChunkCase{22050, 16000}));

}  // namespace
}  // namespace lx::audio
