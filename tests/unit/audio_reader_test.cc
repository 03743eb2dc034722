#include "audio/audio_reader.h"

#include <gtest/gtest.h>
#include <sndfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numbers>
#include <ostream>
#include <span>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

namespace lx::audio {
namespace {

namespace fs = std::filesystem;

using Bytes = std::vector<uint8_t>;

constexpr float kAmplitude = 0.5f;
constexpr double kToneHz = 440;

// `seconds` of a kToneHz sine at `rate`, the same in every one of `channels`.
std::vector<float> InterleavedSine(int rate, int channels, double seconds) {
  const auto frames = static_cast<size_t>(rate * seconds);
  std::vector<float> out;
  for (size_t i = 0; i < frames; ++i) {
    const auto value =
        kAmplitude * static_cast<float>(std::sin(2 * std::numbers::pi * kToneHz * i / rate));
    out.insert(out.end(), static_cast<size_t>(channels), value);
  }
  return out;
}

// Writes interleaved samples with libsndfile; `format` is SF_FORMAT_<major> | SF_FORMAT_<sub>.
void WriteAudio(const fs::path& path, int format, int rate, int channels,
                const std::vector<float>& interleaved) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
  ASSERT_NE(file, nullptr) << sf_strerror(nullptr);
  const sf_count_t frames = static_cast<sf_count_t>(interleaved.size()) / channels;
  EXPECT_EQ(sf_writef_float(file, interleaved.data(), frames), frames);
  sf_close(file);
}

Bytes ReadBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

void WriteBytes(const fs::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

// Everything a source delivers, and how it ended (Ok at a clean end).
struct Drained {
  std::vector<float> samples;
  Status status;
};

Drained Drain(AudioSource& source, size_t max_samples = 1600) {
  Drained drained;
  std::vector<float> chunk;
  while (true) {
    Result<size_t> read = source.Read(&chunk, max_samples);
    if (!read.ok()) {
      drained.status = read.status();
      return drained;
    }
    if (*read == 0) return drained;
    EXPECT_EQ(chunk.size(), *read);
    EXPECT_LE(*read, max_samples);
    drained.samples.insert(drained.samples.end(), chunk.begin(), chunk.end());
  }
}

size_t ZeroCrossings(std::span<const float> samples) {
  size_t crossings = 0;
  for (size_t i = 1; i < samples.size(); ++i) {
    if ((samples[i - 1] < 0) != (samples[i] < 0)) ++crossings;
  }
  return crossings;
}

// The samples away from the resampler's start and end transients.
std::span<const float> Middle(const std::vector<float>& samples) {
  constexpr size_t kEdge = 800;
  return samples.size() > 2 * kEdge ? std::span(samples).subspan(kEdge, samples.size() - 2 * kEdge)
                                    : std::span<const float>();
}

float MaxAbsDifference(std::span<const float> a, std::span<const float> b) {
  float worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    worst = std::max(worst, std::fabs(a[i] - b[i]));
  }
  return worst;
}

// A pipe whose write end a thread fills with `bytes`, `step` bytes per write, then closes.
class FedPipe {
 public:
  explicit FedPipe(Bytes bytes, size_t step = 65536) {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    read_fd_ = fds[0];
    writer_ = std::thread([fd = fds[1], bytes = std::move(bytes), step] {
      for (size_t at = 0; at < bytes.size();) {
        const ssize_t n = ::write(fd, bytes.data() + at, std::min(step, bytes.size() - at));
        if (n <= 0) break;
        at += static_cast<size_t>(n);
      }
      ::close(fd);
    });
  }
  // Drains what the reader left so the writer never blocks, then joins it.
  ~FedPipe() {
    char sink[4096];
    while (::read(read_fd_, sink, sizeof sink) > 0) {
    }
    writer_.join();
    ::close(read_fd_);
  }
  int fd() const { return read_fd_; }

 private:
  int read_fd_ = -1;
  std::thread writer_;
};

Bytes S16le(const std::vector<int16_t>& values) {
  Bytes bytes;
  for (int16_t value : values) {
    const auto bits = static_cast<uint16_t>(value);
    bytes.push_back(static_cast<uint8_t>(bits & 0xff));
    bytes.push_back(static_cast<uint8_t>(bits >> 8));
  }
  return bytes;
}

Bytes F32le(const std::vector<float>& values) {
  Bytes bytes;
  for (float value : values) {
    const auto bits = std::bit_cast<uint32_t>(value);
    for (int shift = 0; shift < 32; shift += 8)
      bytes.push_back(static_cast<uint8_t>(bits >> shift));
  }
  return bytes;
}

Drained DrainRaw(Bytes bytes, int rate, RawFormat format, size_t step = 65536) {
  FedPipe pipe(std::move(bytes), step);
  Result<std::unique_ptr<AudioSource>> source = OpenRawStream(pipe.fd(), rate, format, "test");
  EXPECT_TRUE(source.ok()) << source.status().ToString();
  if (!source.ok()) return {};
  return Drain(**source);
}

class AudioReaderTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = testing::TempDir() + "audio_reader_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The reference input: 3 s of the tone, 44.1 kHz stereo, 16-bit WAV.
  fs::path WriteReferenceWav() {
    fs::path path = dir_ / "tone.wav";
    WriteAudio(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, InterleavedSine(44100, 2, 3));
    return path;
  }

  Drained DrainFile(const fs::path& path) {
    Result<std::unique_ptr<AudioSource>> source = OpenAudioFile(path);
    EXPECT_TRUE(source.ok()) << source.status().ToString();
    if (!source.ok()) return {};
    return Drain(**source);
  }

  Status OpenError(const fs::path& path) { return OpenAudioFile(path).status(); }

  fs::path dir_;
};

TEST_F(AudioReaderTest, StereoWavAt44k1ComesOutAs16kMonoWithTheSameTone) {
  const fs::path path = WriteReferenceWav();
  Result<std::unique_ptr<AudioSource>> source = OpenAudioFile(path);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  const SourceInfo& info = (*source)->info();
  EXPECT_EQ(info.name, path.string());
  EXPECT_EQ(info.format, "WAV (PCM 16-bit)");
  EXPECT_EQ(info.sample_rate, 44100);
  EXPECT_EQ(info.channels, 2);
  EXPECT_EQ(info.frames, 132300);
  EXPECT_DOUBLE_EQ((*source)->DurationSeconds(), 3.0);

  const Drained out = Drain(**source);
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  EXPECT_NEAR(static_cast<double>(out.samples.size()), 48000.0, 1.0);
  EXPECT_NEAR(static_cast<double>(ZeroCrossings(out.samples)), 3 * 2 * kToneHz, 3.0);
  const std::span<const float> middle = Middle(out.samples);
  const float peak =
      std::fabs(*std::ranges::max_element(middle, {}, [](float v) { return std::fabs(v); }));
  EXPECT_NEAR(peak, kAmplitude, 0.01f);
  const std::vector<float> ideal = InterleavedSine(kSampleRate, 1, 3);
  EXPECT_LT(MaxAbsDifference(middle, Middle(ideal)), 2e-3f);
}

TEST_F(AudioReaderTest, ReadDeliversAtMostTheSamplesAskedFor) {
  Result<std::unique_ptr<AudioSource>> source = OpenAudioFile(WriteReferenceWav());
  ASSERT_TRUE(source.ok());
  std::vector<float> chunk = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
  Result<size_t> read = (*source)->Read(&chunk, 7);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, 7u);
  EXPECT_EQ(chunk.size(), 7u);
  EXPECT_EQ((*source)->Read(&chunk, 0).status().code(), Status::Code::kInvalidArgument);
  EXPECT_NEAR(static_cast<double>(Drain(**source, 7).samples.size()), 48000.0 - 7, 1.0);
}

struct EncodingCase {
  const char* label;
  int format;
  const char* description;
  float tolerance;  // max difference from the 16-bit WAV decode
  friend std::ostream& operator<<(std::ostream& os, const EncodingCase& c) {
    return os << c.description;
  }
};

class AudioEncodingTest : public AudioReaderTest,
                          public testing::WithParamInterface<EncodingCase> {};

TEST_P(AudioEncodingTest, DecodesToTheSameSignalAsPcm16Wav) {
  const EncodingCase& encoding = GetParam();
  const Drained reference = DrainFile(WriteReferenceWav());
  const fs::path path = dir_ / encoding.label;
  WriteAudio(path, encoding.format, 44100, 2, InterleavedSine(44100, 2, 3));

  Result<std::unique_ptr<AudioSource>> source = OpenAudioFile(path);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_EQ((*source)->info().format, encoding.description);
  const Drained out = Drain(**source);
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  ASSERT_NEAR(static_cast<double>(out.samples.size()),
              static_cast<double>(reference.samples.size()), 1.0);
  EXPECT_LT(MaxAbsDifference(Middle(out.samples), Middle(reference.samples)), encoding.tolerance);
  EXPECT_NEAR(static_cast<double>(ZeroCrossings(out.samples)), 3 * 2 * kToneHz, 3.0);
}

INSTANTIATE_TEST_SUITE_P(
    Formats, AudioEncodingTest,
    testing::Values(
        EncodingCase{"u8.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_U8, "WAV (PCM 8-bit)", 0.012f},
        EncodingCase{"s24.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_24, "WAV (PCM 24-bit)", 1e-4f},
        EncodingCase{"f32.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, "WAV (float 32-bit)", 1e-4f},
        EncodingCase{"s16.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, "FLAC (PCM 16-bit)", 1e-6f},
        EncodingCase{"s24.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_24, "FLAC (PCM 24-bit)", 1e-4f},
        EncodingCase{"vorbis.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, "OGG (Vorbis)", 0.03f}),
    [](const testing::TestParamInfo<EncodingCase>& info) {
      std::string name = info.param.label;
      std::ranges::replace(name, '.', '_');
      return name;
    });

TEST_F(AudioReaderTest, StereoIsDownmixedByAveragingTheChannels) {
  for (auto [left, right, mono] : {std::tuple{0.5f, -0.5f, 0.0f}, {0.6f, 0.2f, 0.4f}}) {
    const fs::path path = dir_ / "dc.wav";
    std::vector<float> interleaved;
    for (int i = 0; i < 48000; ++i) interleaved.insert(interleaved.end(), {left, right});
    WriteAudio(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, 2, interleaved);
    const Drained out = DrainFile(path);
    ASSERT_EQ(out.samples.size(), 16000u);
    for (float sample : Middle(out.samples))
      ASSERT_NEAR(sample, mono, 1e-3) << left << "/" << right;
  }
}

TEST_F(AudioReaderTest, OutOfRangeFloatSamplesAreClampedAndNanBecomesSilence) {
  const fs::path path = dir_ / "hot.wav";
  WriteAudio(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 1, {2.0f, -3.0f, NAN, 0.25f});
  EXPECT_EQ(DrainFile(path).samples, (std::vector<float>{1.0f, -1.0f, 0.0f, 0.25f}));
}

TEST_F(AudioReaderTest, MissingFileIsNotFound) {
  const Status status = OpenError(dir_ / "talk.wav");
  EXPECT_EQ(status.code(), Status::Code::kNotFound);
  EXPECT_EQ(status.message(), (dir_ / "talk.wav").string() + ": no such file");
}

TEST_F(AudioReaderTest, DirectoryIsAnIOError) {
  const Status status = OpenError(dir_);
  EXPECT_EQ(status.code(), Status::Code::kIOError);
  EXPECT_EQ(status.message(), dir_.string() + ": is a directory");
}

TEST_F(AudioReaderTest, FifoIsRefusedWithoutBlocking) {
  const fs::path path = dir_ / "fifo.wav";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  const Status status = OpenError(path);
  EXPECT_EQ(status.code(), Status::Code::kIOError);
  EXPECT_EQ(status.message(), path.string() + ": not a regular file");
}

TEST_F(AudioReaderTest, UnreadableFileIsAnIOError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads any file";
  const fs::path path = WriteReferenceWav();
  fs::permissions(path, fs::perms::none);
  const Status status = OpenError(path);
  EXPECT_EQ(status.code(), Status::Code::kIOError);
  EXPECT_EQ(status.message(), path.string() + ": permission denied");
}

TEST_F(AudioReaderTest, EmptyFileIsRefused) {
  const fs::path path = dir_ / "x.wav";
  WriteBytes(path, {});
  const Status status = OpenError(path);
  EXPECT_EQ(status.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(status.message(), path.string() + ": file is empty");
}

TEST_F(AudioReaderTest, TextFileNamedWavIsNotAudio) {
  const fs::path path = dir_ / "x.wav";
  WriteBytes(path, Bytes{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '\n'});
  const Status status = OpenError(path);
  EXPECT_EQ(status.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(status.message(),
            path.string() + ": not an audio file libsndfile can read (Format not recognised.)");
}

TEST_F(AudioReaderTest, TruncatedHeaderIsRefused) {
  const Bytes wav = ReadBytes(WriteReferenceWav());
  const fs::path path = dir_ / "x.wav";
  WriteBytes(path, Bytes(wav.begin(), wav.begin() + 20));
  const Status status = OpenError(path);
  EXPECT_EQ(status.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(status.message().rfind(path.string() + ": the header is truncated (", 0), 0u)
      << status.message();
}

TEST_F(AudioReaderTest, TruncatedDataIsRefusedWithBothDurations) {
  const fs::path full = dir_ / "full.wav";
  WriteAudio(full, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, InterleavedSine(16000, 1, 3));
  const Bytes wav = ReadBytes(full);
  const size_t header = wav.size() - 3 * 16000 * 2;
  for (auto [seconds, held] : {std::pair{1.2, "1.20 s"}, {0.0, "0.00 s"}}) {
    const fs::path path = dir_ / "x.wav";
    WriteBytes(path,
               Bytes(wav.begin(), wav.begin() + header + static_cast<size_t>(seconds * 32000)));
    const Status status = OpenError(path);
    EXPECT_EQ(status.code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(status.message(), path.string() +
                                    ": truncated: the header declares 3.00 s of audio but the file "
                                    "holds " +
                                    held);
  }
}

TEST_F(AudioReaderTest, WavFromAStreamingWriterWithPlaceholderLengthsReadsToTheEnd) {
  const fs::path path = dir_ / "piped.wav";
  WriteAudio(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, InterleavedSine(16000, 1, 1));
  Bytes wav = ReadBytes(path);
  constexpr std::string_view kData = "data";
  const auto data = std::search(wav.begin(), wav.end(), kData.begin(), kData.end());
  ASSERT_NE(data, wav.end());
  std::fill_n(wav.begin() + 4, 4, 0xff);  // RIFF size
  // cppcheck-suppress derefInvalidIteratorRedundantCheck ; ASSERT_NE returned if it is end()
  std::fill_n(data + 4, 4, 0xff);  // data size, as ffmpeg leaves them on a pipe
  WriteBytes(path, wav);
  EXPECT_EQ(DrainFile(path).samples.size(), 16000u);
}

TEST_F(AudioReaderTest, WavWithoutFramesIsRefused) {
  const fs::path path = dir_ / "x.wav";
  WriteAudio(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, {});
  const Status status = OpenError(path);
  EXPECT_EQ(status.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(status.message(), path.string() + ": the file has no audio frames");
}

TEST_F(AudioReaderTest, TruncatedFlacFailsOnReadAfterDeliveringWhatItHolds) {
  const fs::path full = dir_ / "full.flac";
  WriteAudio(full, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1, InterleavedSine(16000, 1, 3));
  const Bytes flac = ReadBytes(full);
  const fs::path path = dir_ / "x.flac";
  WriteBytes(path,
             Bytes(flac.begin(), flac.begin() + static_cast<std::ptrdiff_t>(flac.size() / 2)));

  const Drained out = DrainFile(path);
  EXPECT_EQ(out.status.code(), Status::Code::kCorruption);
  EXPECT_EQ(
      out.status.message().rfind(
          path.string() + ": truncated: the header declares 3.00 s of audio but the file holds ",
          0),
      0u)
      << out.status.message();
  EXPECT_GT(out.samples.size(), 8000u);
  EXPECT_LT(out.samples.size(), 48000u);
}

TEST(AudioRawStreamTest, S16leValuesRoundTrip) {
  const std::vector<int16_t> values = {0, 1, -1, 12345, -12345, 32767, -32768};
  const Drained out = DrainRaw(S16le(values), kSampleRate, RawFormat::kS16LE);
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  ASSERT_EQ(out.samples.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(out.samples[i], values[i] / 32768.0f) << i;
}

TEST(AudioRawStreamTest, F32leValuesRoundTripAndAreClamped) {
  const Drained out = DrainRaw(F32le({0.0f, 0.25f, -0.5f, 0.999f, -1.0f, 2.0f, NAN}), kSampleRate,
                               RawFormat::kF32LE);
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  EXPECT_EQ(out.samples, (std::vector<float>{0.0f, 0.25f, -0.5f, 0.999f, -1.0f, 1.0f, 0.0f}));
}

TEST(AudioRawStreamTest, SamplesSplitAcrossWritesAreReassembled) {
  std::vector<float> values(1000);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) / 1000.0f;
  const Drained out = DrainRaw(F32le(values), kSampleRate, RawFormat::kF32LE, /*step=*/3);
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  EXPECT_EQ(out.samples, values);
}

TEST(AudioRawStreamTest, EmptyStreamFails) {
  const Drained out = DrainRaw({}, kSampleRate, RawFormat::kS16LE);
  EXPECT_TRUE(out.samples.empty());
  EXPECT_EQ(out.status.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(out.status.message(), "test: no audio (the stream is empty)");
}

TEST(AudioRawStreamTest, TrailingPartialSampleFailsAfterTheWholeSamples) {
  Bytes bytes = S16le({1000, -1000});
  bytes.push_back(0x7f);
  const Drained out = DrainRaw(bytes, kSampleRate, RawFormat::kS16LE);
  EXPECT_EQ(out.samples, (std::vector<float>{1000 / 32768.0f, -1000 / 32768.0f}));
  EXPECT_EQ(out.status.code(), Status::Code::kCorruption);
  EXPECT_EQ(out.status.message(),
            "test: the stream ends inside a sample: 1 trailing byte after 4 bytes");
}

TEST(AudioRawStreamTest, EightKilohertzInputIsResampledToTwiceTheSamples) {
  const std::vector<float> tone = InterleavedSine(8000, 1, 1);
  std::vector<int16_t> values;
  for (float v : tone) values.push_back(static_cast<int16_t>(v * 32767));
  const Drained out = DrainRaw(S16le(values), 8000, RawFormat::kS16LE);
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  EXPECT_EQ(out.samples.size(), 2 * values.size());
  EXPECT_NEAR(static_cast<double>(ZeroCrossings(out.samples)), 2 * kToneHz, 2.0);
}

TEST(AudioRawStreamTest, DescribesItselfAsAStreamOfUnknownLength) {
  Result<std::unique_ptr<AudioSource>> source =
      OpenRawStream(STDIN_FILENO, 22050, RawFormat::kF32LE, "stdin");
  ASSERT_TRUE(source.ok());
  const SourceInfo& info = (*source)->info();
  EXPECT_EQ(info.name, "stdin");
  EXPECT_EQ(info.format, "raw f32le");
  EXPECT_EQ(info.sample_rate, 22050);
  EXPECT_EQ(info.channels, 1);
  EXPECT_EQ(info.frames, -1);
  EXPECT_EQ((*source)->DurationSeconds(), -1);
}

TEST(AudioRawStreamTest, RejectsAnUnsupportedRate) {
  for (int rate : {0, -16000, 800000}) {
    const Status status = OpenRawStream(STDIN_FILENO, rate, RawFormat::kS16LE, "stdin").status();
    EXPECT_EQ(status.code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(status.message().rfind("stdin: sample rate", 0), 0u) << status.message();
  }
}

TEST_F(AudioReaderTest, WavStreamOnAPipeMatchesTheFile) {
  const fs::path path = WriteReferenceWav();
  FedPipe pipe(ReadBytes(path));
  Result<std::unique_ptr<AudioSource>> source = OpenAudioStream(pipe.fd(), "stdin");
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_EQ((*source)->info().format, "WAV (PCM 16-bit)");
  EXPECT_EQ((*source)->info().frames, -1);
  const Drained out = Drain(**source);
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  EXPECT_EQ(out.samples, DrainFile(path).samples);
}

TEST(AudioStreamTest, NonAudioOnAPipePointsAtRawInput) {
  FedPipe pipe(Bytes(100, 'x'));
  const Status status = OpenAudioStream(pipe.fd(), "stdin").status();
  EXPECT_EQ(status.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(status.message().rfind("stdin: not an audio stream libsndfile can read (", 0), 0u)
      << status.message();
  EXPECT_NE(status.message().find("raw PCM needs --raw-rate"), std::string::npos);
}

}  // namespace
}  // namespace lx::audio
