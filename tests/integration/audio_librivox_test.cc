// Reads a real recording shipped with PocketSphinx: a 16 kHz mono 16-bit WAV must come through
// untouched, each sample exactly its int16 value / 32768.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "audio/audio_reader.h"

namespace lx::audio {
namespace {

std::filesystem::path LibrivoxWav() {
  const char* dir = std::getenv("LX_POCKETSPHINX_TESTDATA");
  return std::filesystem::path(dir != nullptr ? dir : "/usr/share/pocketsphinx/test/data") /
         "librivox" / "sense_and_sensibility_01_austen_64kb-0870.wav";
}

// The int16 samples of a canonical PCM WAV, found by walking its RIFF chunks to "data".
std::vector<int16_t> WavSamples(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
  auto u32 = [&](size_t at) {
    return static_cast<uint32_t>(bytes[at] | bytes[at + 1] << 8 | bytes[at + 2] << 16 |
                                 bytes[at + 3] << 24);
  };
  for (size_t at = 12; at + 8 <= bytes.size(); at += 8 + ((u32(at + 4) + 1) & ~1u)) {
    if (std::string(bytes.begin() + at, bytes.begin() + at + 4) != "data") continue;
    std::vector<int16_t> samples;
    for (size_t i = at + 8; i + 1 < at + 8 + u32(at + 4) && i + 1 < bytes.size(); i += 2) {
      samples.push_back(static_cast<int16_t>(bytes[i] | bytes[i + 1] << 8));
    }
    return samples;
  }
  return {};
}

TEST(AudioLibrivoxTest, SixteenKilohertzMonoWavComesThroughBitExact) {
  const std::filesystem::path path = LibrivoxWav();
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is not installed";
  const std::vector<int16_t> expected = WavSamples(path);
  ASSERT_EQ(expected.size(), 113600u);

  Result<std::unique_ptr<AudioSource>> source = OpenAudioFile(path);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_EQ((*source)->info().format, "WAV (PCM 16-bit)");
  EXPECT_EQ((*source)->info().sample_rate, 16000);
  EXPECT_EQ((*source)->info().channels, 1);
  EXPECT_EQ((*source)->info().frames, 113600);
  EXPECT_DOUBLE_EQ((*source)->DurationSeconds(), 7.1);

  std::vector<float> samples;
  std::vector<float> chunk;
  while (true) {
    Result<size_t> read = (*source)->Read(&chunk, 1600);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    if (*read == 0) break;
    samples.insert(samples.end(), chunk.begin(), chunk.end());
  }
  ASSERT_EQ(samples.size(), expected.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    ASSERT_EQ(samples[i], static_cast<float>(expected[i]) / 32768.0f) << "sample " << i;
  }
}

}  // namespace
}  // namespace lx::audio
