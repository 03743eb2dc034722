// The audio file writer: what it writes reads back sample for sample, failures are IOErrors naming
// the file, and a killed writer leaves a readable file.
#include "audio/audio_file_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sndfile.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

namespace lx::audio {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// What libsndfile reads back from a file, as 16-bit samples.
struct ReadBack {
  SF_INFO info{};
  std::vector<int16_t> samples;
};

ReadBack ReadPcm16(const std::string& path) {
  ReadBack back;
  SNDFILE* file = sf_open(path.c_str(), SFM_READ, &back.info);
  EXPECT_NE(file, nullptr) << path << ": " << sf_strerror(nullptr);
  if (file == nullptr) return back;
  std::vector<int16_t> block(4096);
  sf_count_t got = 0;
  while ((got = sf_read_short(file, block.data(), static_cast<sf_count_t>(block.size()))) > 0) {
    back.samples.insert(back.samples.end(), block.begin(), block.begin() + got);
  }
  sf_close(file);
  return back;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

uint32_t Le32(const std::string& bytes, size_t at) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) {
    value |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  }
  return value;
}

// The sizes a WAV header states, for the canonical 44-byte header libsndfile writes.
struct WavSizes {
  uint32_t riff_bytes = 0;
  uint32_t data_bytes = 0;
};

WavSizes SizesOf(const std::string& wav) {
  EXPECT_EQ(wav.substr(36, 4), "data") << "a canonical 44-byte header";
  return {Le32(wav, 4), Le32(wav, 40)};
}

// Distinct 16-bit values, as loquilex reads them (k / 32768).
std::vector<float> Ramp(size_t count, int first = 0) {
  std::vector<float> samples;
  for (size_t i = 0; i < count; ++i) {
    const int k = (first + static_cast<int>(i) * 7) % 65536 - 32768;
    samples.push_back(static_cast<float>(k) / 32768.0f);
  }
  return samples;
}

std::vector<int16_t> AsPcm16(const std::vector<float>& samples) {
  std::vector<int16_t> pcm;
  for (float x : samples) pcm.push_back(static_cast<int16_t>(std::lround(x * 32768.0f)));
  return pcm;
}

// Each test writes into a folder of its own.
class AudioFilesTest : public ::testing::Test {
 protected:
  AudioFilesTest() {
    std::string pattern = (fs::temp_directory_path() / "lx-writer-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
  }
  ~AudioFilesTest() override { fs::remove_all(dir_); }

  std::string PathFor(AudioFileFormat format) const {
    return dir_ + (format == AudioFileFormat::kWav ? "/audio.wav" : "/audio.flac");
  }

  std::string dir_;
};

class AudioFileWriterTest : public AudioFilesTest,
                            public ::testing::WithParamInterface<AudioFileFormat> {
 protected:
  std::string Path() const { return PathFor(GetParam()); }
  int SndfileFormat() const {
    return GetParam() == AudioFileFormat::kWav ? (SF_FORMAT_WAV | SF_FORMAT_PCM_16)
                                               : (SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
  }
};

TEST_P(AudioFileWriterTest, WritesWhatReadsBackSampleForSample) {
  auto writer = CreateAudioFileWriter(Path(), GetParam());
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  EXPECT_EQ((*writer)->path(), Path());
  const std::vector<float> first = Ramp(16000);
  const std::vector<float> second = Ramp(12345, 99);
  ASSERT_TRUE((*writer)->Write(first).ok());
  ASSERT_TRUE((*writer)->Write({}).ok());
  ASSERT_TRUE((*writer)->Write(second).ok());
  ASSERT_TRUE((*writer)->Close().ok());
  ASSERT_TRUE((*writer)->Close().ok()) << "closing again says the same";

  const ReadBack back = ReadPcm16(Path());
  EXPECT_EQ(back.info.samplerate, 16000);
  EXPECT_EQ(back.info.channels, 1);
  EXPECT_EQ(back.info.format, SndfileFormat());
  EXPECT_EQ(back.info.frames, 16000 + 12345);
  std::vector<int16_t> expected = AsPcm16(first);
  const std::vector<int16_t> rest = AsPcm16(second);
  expected.insert(expected.end(), rest.begin(), rest.end());
  EXPECT_EQ(back.samples, expected);
}

TEST_P(AudioFileWriterTest, ClampsOutOfRangeSamplesAndWritesNanAsZero) {
  auto writer = CreateAudioFileWriter(Path(), GetParam());
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  const std::vector<float> samples = {1.0f,
                                      -1.0f,
                                      1.5f,
                                      -7.0f,
                                      std::numeric_limits<float>::quiet_NaN(),
                                      std::numeric_limits<float>::infinity(),
                                      0.5f,
                                      0.25f / 32768.0f};
  ASSERT_TRUE((*writer)->Write(samples).ok());
  ASSERT_TRUE((*writer)->Close().ok());
  EXPECT_EQ(ReadPcm16(Path()).samples,
            (std::vector<int16_t>{32767, -32768, 32767, -32768, 0, 0, 16384, 0}));
}

TEST_P(AudioFileWriterTest, AnUnwritablePathIsAnIOErrorNamingItAndTheReason) {
  const std::string missing = dir_ + "/no/such/folder/audio";
  auto writer = CreateAudioFileWriter(missing, GetParam());
  ASSERT_FALSE(writer.ok());
  EXPECT_EQ(writer.status().code(), Status::Code::kIOError);
  EXPECT_EQ(writer.status().message(), "cannot create " + missing + ": No such file or directory");

  auto directory = CreateAudioFileWriter(dir_, GetParam());
  EXPECT_EQ(directory.status().code(), Status::Code::kIOError);
  EXPECT_THAT(directory.status().message(), HasSubstr(dir_));
}

TEST_P(AudioFileWriterTest, AWriteAfterCloseIsRefused) {
  auto writer = CreateAudioFileWriter(Path(), GetParam());
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Close().ok());
  EXPECT_EQ((*writer)->Write(Ramp(10)).code(), Status::Code::kFailedPrecondition);
}

TEST_P(AudioFileWriterTest, DestroyingTheWriterClosesTheFile) {
  {
    auto writer = CreateAudioFileWriter(Path(), GetParam());
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Write(Ramp(5000)).ok());
  }
  const ReadBack back = ReadPcm16(Path());
  EXPECT_EQ(back.info.frames, 5000) << "a FLAC states its length only once closed";
  EXPECT_EQ(back.samples, AsPcm16(Ramp(5000)));
}

// A failing disk, made real: past RLIMIT_FSIZE, write(2) fails with EFBIG. Runs in a child process
// (a death test), so the limit stays there: writes until a Write fails, prints that error and
// whether later calls repeat it, and exits 0 when one failed.
[[noreturn]] void WriteUntilTheFileIsTooLarge(const std::string& path, AudioFileFormat format) {
  ::signal(SIGXFSZ, SIG_IGN);
  const rlimit limit{20000, 20000};
  ::setrlimit(RLIMIT_FSIZE, &limit);
  auto writer = CreateAudioFileWriter(path, format);
  if (!writer.ok()) ::_exit(2);
  Status failed;
  for (int i = 0; i < 100 && failed.ok(); ++i) failed = (*writer)->Write(Ramp(1600));
  const bool sticky = (*writer)->Write(Ramp(10)).message() == failed.message() &&
                      (*writer)->Close().message() == failed.message();
  std::cerr << failed.ToString() << (sticky ? " (sticky)" : " (not sticky)") << std::endl;
  ::_exit(failed.ok() ? 3 : 0);
}

TEST_P(AudioFileWriterTest, AFailedWriteIsStickyAndKeepsWhatCameBefore) {
  const std::string path = Path();
  const AudioFileFormat format = GetParam();
  EXPECT_EXIT(
      WriteUntilTheFileIsTooLarge(path, format), ::testing::ExitedWithCode(0),
      "IOError: cannot write to " + path + ": System error : File too large.* \\(sticky\\)");
  const ReadBack back = ReadPcm16(path);
  if (format == AudioFileFormat::kWav) {
    // 6 Writes of 3200 bytes fit under the limit, beside the 44-byte header.
    ASSERT_GE(back.samples.size(), 6u * 1600);
    for (size_t i = 0; i < 6 * 1600; ++i) {
      ASSERT_EQ(back.samples[i], AsPcm16(Ramp(1600))[i % 1600]) << i;
    }
  } else {
    EXPECT_GE(back.samples.size(), 4096u) << "the finished FLAC blocks";
  }
}

// A server killed with SIGKILL: the WAV is whole up to the last Write.
using AudioFileWriterDeathTest = AudioFilesTest;

TEST_F(AudioFileWriterDeathTest, AKilledWriterLeavesACompleteWav) {
  const std::string path = PathFor(AudioFileFormat::kWav);
  EXPECT_EXIT(
      {
        auto writer = CreateAudioFileWriter(path, AudioFileFormat::kWav);
        for (int i = 0; i < 3; ++i) (void)(*writer)->Write(Ramp(1600, i));
        ::raise(SIGKILL);
      },
      ::testing::KilledBySignal(SIGKILL), "");
  const std::string bytes = ReadBytes(path);
  ASSERT_EQ(bytes.size(), 44u + 3 * 1600 * 2);
  const WavSizes sizes = SizesOf(bytes);
  EXPECT_EQ(sizes.riff_bytes, bytes.size() - 8) << "stated in the header, not inferred";
  EXPECT_EQ(sizes.data_bytes, 3u * 1600 * 2);
  const ReadBack back = ReadPcm16(path);
  ASSERT_EQ(back.samples.size(), 3u * 1600);
  EXPECT_EQ(back.samples[1600], AsPcm16(Ramp(1600, 1))[0]);
}

// FLAC: every finished 4096-sample block survives; the header states no length.
TEST_F(AudioFileWriterDeathTest, AKilledFlacWriterLeavesItsFinishedBlocks) {
  const std::string path = PathFor(AudioFileFormat::kFlac);
  EXPECT_EXIT(
      {
        auto writer = CreateAudioFileWriter(path, AudioFileFormat::kFlac);
        (void)(*writer)->Write(Ramp(10000));
        ::raise(SIGKILL);
      },
      ::testing::KilledBySignal(SIGKILL), "");
  const ReadBack back = ReadPcm16(path);
  ASSERT_EQ(back.samples.size(), 2u * 4096);
  const std::vector<int16_t> written = AsPcm16(Ramp(10000));
  EXPECT_EQ(back.samples, std::vector<int16_t>(written.begin(), written.begin() + 2 * 4096));
}

INSTANTIATE_TEST_SUITE_P(Formats, AudioFileWriterTest,
                         ::testing::Values(AudioFileFormat::kWav, AudioFileFormat::kFlac),
                         [](const ::testing::TestParamInfo<AudioFileFormat>& info) {
                           return info.param == AudioFileFormat::kWav ? "Wav" : "Flac";
                         });

// ReadAudioFileSoFar: a copy of a file still being written stands on its own.

using ReadAudioFileSoFarTest = AudioFilesTest;

TEST_F(ReadAudioFileSoFarTest, AWavCaughtMidWriteGetsSizesForEveryWholeFrame) {
  const std::string path = PathFor(AudioFileFormat::kWav);
  auto writer = CreateAudioFileWriter(path, AudioFileFormat::kWav);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Write(Ramp(1000)).ok());
  // A Write the header does not count yet, cut inside a frame: 50 frames and a byte.
  std::ofstream(path, std::ios::app | std::ios::binary) << std::string(101, '\x01');

  auto copy = ReadAudioFileSoFar(path);
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  ASSERT_EQ(copy->size(), 44u + 1050 * 2);
  const WavSizes sizes = SizesOf(*copy);
  EXPECT_EQ(sizes.riff_bytes, copy->size() - 8);
  EXPECT_EQ(sizes.data_bytes, 1050u * 2);
  std::ofstream(dir_ + "/copy.wav", std::ios::binary) << *copy;
  EXPECT_EQ(ReadPcm16(dir_ + "/copy.wav").samples.size(), 1050u);
  ASSERT_TRUE((*writer)->Close().ok());
}

TEST_F(ReadAudioFileSoFarTest, AFinishedFileIsReturnedAsItIs) {
  for (AudioFileFormat format : {AudioFileFormat::kWav, AudioFileFormat::kFlac}) {
    const std::string path = PathFor(format);
    auto writer = CreateAudioFileWriter(path, format);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Write(Ramp(3000)).ok());
    ASSERT_TRUE((*writer)->Close().ok());
    auto copy = ReadAudioFileSoFar(path);
    ASSERT_TRUE(copy.ok()) << copy.status().ToString();
    EXPECT_EQ(*copy, ReadBytes(path)) << path;
  }
}

TEST_F(ReadAudioFileSoFarTest, AMissingFileIsNotFoundAndABrokenWavIsCorruption) {
  EXPECT_EQ(ReadAudioFileSoFar(dir_ + "/none.wav").status().code(), Status::Code::kNotFound);
  const std::string no_data =
      "RIFF" + std::string(4, '\0') + "WAVE" + "LIST" + std::string(4, '\0');
  std::ofstream(dir_ + "/broken.wav", std::ios::binary) << no_data;
  const Status broken = ReadAudioFileSoFar(dir_ + "/broken.wav").status();
  EXPECT_EQ(broken.code(), Status::Code::kCorruption);
  EXPECT_EQ(broken.message(), dir_ + "/broken.wav: a WAV file without a data chunk");
}

}  // namespace
}  // namespace lx::audio
