#include "audio/audio_reader.h"

#include <fcntl.h>
#include <poll.h>
#include <sndfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <mutex>
#include <optional>
#include <regex>
#include <span>
#include <utility>

#include <fmt/format.h>

#include "audio/resampler.h"
#include "audio/sndfile_state.h"

namespace lx::audio {
namespace {

constexpr size_t kBlockFrames = 4096;  // input frames decoded per libsndfile call
constexpr size_t kBlockBytes = 16384;  // bytes per ::read of a raw stream
// Streaming writers that cannot seek back (sox, ffmpeg on a pipe) leave a WAV data length of
// 0x7FFFF000 or 0xFFFFFFFF; libsndfile then reads to the end of the file, which is what we want.
constexpr int64_t kPlaceholderDataBytes = 0x7FFFF000;

// Owns a file descriptor and closes it.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&&) = delete;
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

struct SndfileCloser {
  void operator()(SNDFILE* file) const { sf_close(file); }
};
using SndfilePtr = std::unique_ptr<SNDFILE, SndfileCloser>;

// Maps a non-finite sample to 0 and clamps the rest into [-1, 1].
void ClampToUnit(std::span<float> samples) {
  for (float& sample : samples) {
    sample = std::isfinite(sample) ? std::clamp(sample, -1.0f, 1.0f) : 0;
  }
}

// Decodes blocks of input (subclasses), converts them to 16 kHz mono and hands them out in
// pieces of the size the caller asks for. An error is sticky: every later Read returns it.
class ConvertingSource : public AudioSource {
 public:
  ConvertingSource(SourceInfo info, std::unique_ptr<Resampler> resampler)
      : info_(std::move(info)), resampler_(std::move(resampler)) {}

  Result<size_t> Read(std::vector<float>* out, size_t max_samples) final {
    if (max_samples == 0) return Status::InvalidArgument(info_.name + ": Read asked for 0 samples");
    while (next_ == converted_.size() && !ended_ && error_.ok()) error_ = Refill();
    if (next_ == converted_.size() && !error_.ok()) return error_;
    const size_t count = std::min(max_samples, converted_.size() - next_);
    const auto first = converted_.begin() + static_cast<std::ptrdiff_t>(next_);
    out->assign(first, first + static_cast<std::ptrdiff_t>(count));
    next_ += count;
    return count;
  }

  const SourceInfo& info() const final { return info_; }

 protected:
  // Appends the next block of mono input samples to *mono; returns how many, 0 at the end.
  virtual Result<size_t> ReadBlock(std::vector<float>* mono) = 0;

 private:
  Status Refill() {
    converted_.clear();
    next_ = 0;
    mono_.clear();
    Result<size_t> read = ReadBlock(&mono_);
    if (!read.ok()) return read.status();
    ClampToUnit(mono_);
    Status status = Status::Ok();
    if (*read == 0) {
      ended_ = true;
      status = resampler_->Flush(&converted_);
    } else {
      status = resampler_->Process(mono_, &converted_);
    }
    ClampToUnit(converted_);  // the resampler's ripple may overshoot full scale
    return status.WithContext(info_.name);
  }

  SourceInfo info_;
  std::unique_ptr<Resampler> resampler_;
  std::vector<float> mono_;       // the last input block, downmixed
  std::vector<float> converted_;  // 16 kHz samples, handed out from next_
  size_t next_ = 0;
  bool ended_ = false;
  Status error_;
};

std::string SecondsText(int64_t frames, int rate) {
  return fmt::format("{:.2f} s", static_cast<double>(frames) / rate);
}

// A file or stream decoded by libsndfile.
class SndfileSource final : public ConvertingSource {
 public:
  // `declared_frames` is the length the header promises, -1 when unknown.
  SndfileSource(SourceInfo info, std::unique_ptr<Resampler> resampler, UniqueFd owned_fd,
                SndfilePtr file, int64_t declared_frames)
      : ConvertingSource(std::move(info), std::move(resampler)),
        owned_fd_(std::move(owned_fd)),
        file_(std::move(file)),
        channels_(this->info().channels),
        declared_frames_(declared_frames),
        interleaved_(kBlockFrames * static_cast<size_t>(channels_)) {}

 private:
  Result<size_t> ReadBlock(std::vector<float>* mono) override {
    const sf_count_t frames = sf_readf_float(file_.get(), interleaved_.data(), kBlockFrames);
    if (frames > 0) {
      frames_read_ += frames;
      Downmix(std::span(interleaved_).first(static_cast<size_t>(frames * channels_)), channels_,
              mono);
      return static_cast<size_t>(frames);
    }
    return EndOfData();
  }

  Result<size_t> EndOfData() {
    const SourceInfo& in = info();
    if (frames_read_ < declared_frames_) {
      return Status::Corruption(
          fmt::format("{}: truncated: the header declares {} of audio but the file holds {}",
                      in.name, SecondsText(declared_frames_, in.sample_rate),
                      SecondsText(frames_read_, in.sample_rate)));
    }
    if (sf_error(file_.get()) != SF_ERR_NO_ERROR) {
      return Status::Corruption(fmt::format("{}: the audio cannot be decoded after {} ({})",
                                            in.name, SecondsText(frames_read_, in.sample_rate),
                                            sf_strerror(file_.get())));
    }
    return size_t{0};
  }

  UniqueFd owned_fd_;  // closed after file_ (members die in reverse order)
  SndfilePtr file_;
  int channels_;
  int64_t declared_frames_;
  int64_t frames_read_ = 0;
  std::vector<float> interleaved_;
};

// Raw little-endian mono PCM read from a file descriptor.
class RawSource final : public ConvertingSource {
 public:
  RawSource(SourceInfo info, std::unique_ptr<Resampler> resampler, int fd, RawFormat format)
      : ConvertingSource(std::move(info), std::move(resampler)),
        fd_(fd),
        sample_bytes_(format == RawFormat::kS16LE ? 2 : 4),
        format_(format),
        bytes_(kBlockBytes) {}

 private:
  // Reads until at least one whole sample arrives (a read may end inside a sample).
  Result<size_t> ReadBlock(std::vector<float>* mono) override {
    size_t samples = 0;
    while (samples == 0) {
      Result<size_t> got = ReadSome(std::span(bytes_).subspan(pending_bytes_));
      if (!got.ok()) return got.status();
      if (*got == 0) return EndOfStream();
      total_bytes_ += *got;
      samples = DecodeWholeSamples(pending_bytes_ + *got, mono);
    }
    return samples;
  }

  // Decodes the whole samples among the first `available` bytes and keeps the partial rest.
  size_t DecodeWholeSamples(size_t available, std::vector<float>* mono) {
    const size_t samples = available / sample_bytes_;
    for (size_t i = 0; i < samples; ++i) mono->push_back(Decode(&bytes_[i * sample_bytes_]));
    pending_bytes_ = available - samples * sample_bytes_;
    std::copy_n(bytes_.begin() + static_cast<std::ptrdiff_t>(samples * sample_bytes_),
                pending_bytes_, bytes_.begin());
    return samples;
  }

  float Decode(const uint8_t* bytes) const {
    if (format_ == RawFormat::kS16LE) {
      const auto value = static_cast<int16_t>(bytes[0] | (bytes[1] << 8));
      return static_cast<float>(value) / 32768.0f;
    }
    const uint32_t bits = static_cast<uint32_t>(bytes[0]) | (static_cast<uint32_t>(bytes[1]) << 8) |
                          (static_cast<uint32_t>(bytes[2]) << 16) |
                          (static_cast<uint32_t>(bytes[3]) << 24);
    return std::bit_cast<float>(bits);
  }

  // ::read, retried on EINTR and waiting (poll) when the descriptor is non-blocking.
  Result<size_t> ReadSome(std::span<uint8_t> buffer) {
    while (true) {
      const ssize_t got = ::read(fd_, buffer.data(), buffer.size());
      if (got >= 0) return static_cast<size_t>(got);
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        pollfd waiter{.fd = fd_, .events = POLLIN, .revents = 0};
        ::poll(&waiter, 1, -1);
      } else if (errno != EINTR) {
        return Status::FromErrno(info().name + ": read failed", errno);
      }
    }
  }

  Result<size_t> EndOfStream() const {
    if (total_bytes_ == 0) {
      return Status::InvalidArgument(info().name + ": no audio (the stream is empty)");
    }
    if (pending_bytes_ > 0) {
      return Status::Corruption(fmt::format(
          "{}: the stream ends inside a sample: {} trailing byte{} after {} bytes", info().name,
          pending_bytes_, pending_bytes_ == 1 ? "" : "s", total_bytes_ - pending_bytes_));
    }
    return size_t{0};
  }

  int fd_;
  size_t sample_bytes_;
  RawFormat format_;
  std::vector<uint8_t> bytes_;  // the first pending_bytes_ are a partial sample from the last read
  size_t pending_bytes_ = 0;
  size_t total_bytes_ = 0;
};

// Opens `path` for reading if it is a non-empty regular file. O_NONBLOCK keeps a FIFO from
// blocking the open; it makes no difference to a regular file.
Result<UniqueFd> OpenRegularFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return Status::NotFound(path + ": no such file");
    if (errno == EACCES || errno == EPERM) return Status::IOError(path + ": permission denied");
    return Status::FromErrno(path + ": cannot open", errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return Status::FromErrno(path + ": cannot stat", errno);
  }
  if (S_ISDIR(st.st_mode)) return Status::IOError(path + ": is a directory");
  if (!S_ISREG(st.st_mode)) return Status::IOError(path + ": not a regular file");
  if (st.st_size == 0) return Status::InvalidArgument(path + ": file is empty");
  return fd;
}

struct OpenedSndfile {
  SndfilePtr file;
  SF_INFO info{};
  std::string log;  // libsndfile's notes on the header
};

std::string LogInfo(SNDFILE* file) {
  std::string log(4096, '\0');
  log.resize(static_cast<size_t>(
      sf_command(file, SFC_GET_LOG_INFO, log.data(), static_cast<int>(log.size()))));
  return log;
}

// Why libsndfile refused; `kind` is "file" or "stream".
std::string OpenFailureReason(int code, const std::string& error, const std::string& log,
                              std::string_view kind) {
  const bool ran_out = log.find("short count") != std::string::npos;
  if (code != SF_ERR_UNRECOGNISED_FORMAT && ran_out) {
    return fmt::format("the header is truncated ({})", error);
  }
  return fmt::format("not an audio {} libsndfile can read ({})", kind, error);
}

Result<OpenedSndfile> OpenSndfile(int fd, const std::string& name, std::string_view kind,
                                  std::string_view hint) {
  OpenedSndfile opened;
  std::lock_guard lock(SndfileOpenMutex());
  opened.file.reset(sf_open_fd(fd, SFM_READ, &opened.info, /*close_desc=*/SF_FALSE));
  opened.log = LogInfo(opened.file.get());
  if (opened.file == nullptr) {
    return Status::InvalidArgument(fmt::format(
        "{}: {}{}", name,
        OpenFailureReason(sf_error(nullptr), sf_strerror(nullptr), opened.log, kind), hint));
  }
  return opened;
}

// libsndfile shortens a WAV data chunk that runs past the end of the file and notes
// "data : <declared> (should be <present>)" in its log, next to the header's "Bytes/sec".
std::optional<std::string> TruncatedWavData(const OpenedSndfile& opened) {
  static const std::regex kShortData(R"(\ndata : (\d+) \(should be (\d+)\))");
  static const std::regex kByteRate(R"(Bytes/sec\s*: (\d+))");
  std::smatch data;
  std::smatch rate;
  if (!std::regex_search(opened.log, data, kShortData)) return std::nullopt;
  const int64_t declared_bytes = std::stoll(data[1].str());
  if (declared_bytes >= kPlaceholderDataBytes) return std::nullopt;
  const int64_t byte_rate =
      std::regex_search(opened.log, rate, kByteRate) ? std::stoll(rate[1].str()) : 0;
  const std::string declared =
      byte_rate > 0 ? fmt::format("{:.2f} s", static_cast<double>(declared_bytes) / byte_rate)
                    : fmt::format("{} bytes", declared_bytes);
  return fmt::format("truncated: the header declares {} of audio but the file holds {}", declared,
                     SecondsText(opened.info.frames, opened.info.samplerate));
}

Status CheckFileLength(const std::string& path, const OpenedSndfile& opened) {
  if (std::optional<std::string> truncated = TruncatedWavData(opened)) {
    return Status::InvalidArgument(path + ": " + *truncated);
  }
  if (opened.info.frames == 0) {
    return Status::InvalidArgument(path + ": the file has no audio frames");
  }
  return Status::Ok();
}

struct NamedCode {
  int code;
  const char* name;
};

// Our short name for a libsndfile major format or subtype, else libsndfile's own.
std::string CodeName(int code, std::span<const NamedCode> names, int libsndfile_query) {
  for (const NamedCode& named : names) {
    if (named.code == code) return named.name;
  }
  SF_FORMAT_INFO format_info{};
  format_info.format = code;
  if (sf_command(nullptr, libsndfile_query, &format_info, sizeof format_info) == 0 &&
      format_info.name != nullptr) {
    return format_info.name;
  }
  return fmt::format("0x{:x}", code);
}

// "WAV (PCM 16-bit)", "FLAC (PCM 24-bit)", "OGG (Vorbis)", ...
std::string FormatName(int format) {
  static constexpr NamedCode kMajors[] = {
      {SF_FORMAT_WAV, "WAV"},   {SF_FORMAT_WAVEX, "WAV"}, {SF_FORMAT_RF64, "RF64"},
      {SF_FORMAT_W64, "W64"},   {SF_FORMAT_AIFF, "AIFF"}, {SF_FORMAT_AU, "AU"},
      {SF_FORMAT_CAF, "CAF"},   {SF_FORMAT_FLAC, "FLAC"}, {SF_FORMAT_OGG, "OGG"},
      {SF_FORMAT_MPEG, "MPEG"},
  };
  static constexpr NamedCode kSubtypes[] = {
      {SF_FORMAT_PCM_S8, "PCM 8-bit"},    {SF_FORMAT_PCM_U8, "PCM 8-bit"},
      {SF_FORMAT_PCM_16, "PCM 16-bit"},   {SF_FORMAT_PCM_24, "PCM 24-bit"},
      {SF_FORMAT_PCM_32, "PCM 32-bit"},   {SF_FORMAT_FLOAT, "float 32-bit"},
      {SF_FORMAT_DOUBLE, "float 64-bit"}, {SF_FORMAT_ULAW, "u-law"},
      {SF_FORMAT_ALAW, "A-law"},          {SF_FORMAT_VORBIS, "Vorbis"},
      {SF_FORMAT_OPUS, "Opus"},           {SF_FORMAT_MPEG_LAYER_III, "MP3"},
  };
  return fmt::format("{} ({})",
                     CodeName(format & SF_FORMAT_TYPEMASK, kMajors, SFC_GET_FORMAT_MAJOR),
                     CodeName(format & SF_FORMAT_SUBMASK, kSubtypes, SFC_GET_FORMAT_SUBTYPE));
}

// `known_length`: whether the header's frame count can be trusted (files, not pipes).
Result<std::unique_ptr<AudioSource>> MakeSndfileSource(const std::string& name, UniqueFd owned_fd,
                                                       OpenedSndfile opened, bool known_length) {
  const SF_INFO& sf = opened.info;
  const bool length_known = known_length && sf.frames >= 0 && sf.frames != SF_COUNT_MAX;
  SourceInfo info{.name = name,
                  .format = FormatName(sf.format),
                  .sample_rate = sf.samplerate,
                  .channels = sf.channels,
                  .frames = length_known ? sf.frames : -1};
  Result<std::unique_ptr<Resampler>> resampler = Resampler::Create(sf.samplerate, kSampleRate);
  if (!resampler.ok()) return resampler.status().WithContext(name);
  return std::unique_ptr<AudioSource>(new SndfileSource(std::move(info), std::move(*resampler),
                                                        std::move(owned_fd), std::move(opened.file),
                                                        length_known ? sf.frames : -1));
}

}  // namespace

double AudioSource::DurationSeconds() const {
  const SourceInfo& in = info();
  if (in.frames < 0 || in.sample_rate <= 0) return -1;
  return static_cast<double>(in.frames) / in.sample_rate;
}

Result<std::unique_ptr<AudioSource>> OpenAudioFile(const std::string& path) {
  Result<UniqueFd> fd = OpenRegularFile(path);
  if (!fd.ok()) return fd.status();
  Result<OpenedSndfile> opened = OpenSndfile(fd->get(), path, "file", "");
  if (!opened.ok()) return opened.status();
  if (Status status = CheckFileLength(path, *opened); !status.ok()) return status;
  return MakeSndfileSource(path, std::move(fd).value(), std::move(opened).value(),
                           /*known_length=*/true);
}

Result<std::unique_ptr<AudioSource>> OpenRawStream(int fd, int sample_rate, RawFormat format,
                                                   std::string name) {
  Result<std::unique_ptr<Resampler>> resampler = Resampler::Create(sample_rate, kSampleRate);
  if (!resampler.ok()) return resampler.status().WithContext(name);
  SourceInfo info{.name = std::move(name),
                  .format = format == RawFormat::kS16LE ? "raw s16le" : "raw f32le",
                  .sample_rate = sample_rate,
                  .channels = 1,
                  .frames = -1};
  return std::unique_ptr<AudioSource>(
      new RawSource(std::move(info), std::move(*resampler), fd, format));
}

Result<std::unique_ptr<AudioSource>> OpenAudioStream(int fd, const std::string& name) {
  Result<OpenedSndfile> opened =
      OpenSndfile(fd, name, "stream", "; raw PCM needs --raw-rate (and --raw-format)");
  if (!opened.ok()) return opened.status();
  return MakeSndfileSource(name, UniqueFd(), std::move(opened).value(), /*known_length=*/false);
}

}  // namespace lx::audio
