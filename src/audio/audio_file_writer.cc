#include "audio/audio_file_writer.h"

#include <fcntl.h>
#include <sndfile.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include "audio/audio_reader.h"
#include "audio/sndfile_state.h"

namespace lx::audio {
namespace {

int SndfileFormat(AudioFileFormat format) {
  switch (format) {
    case AudioFileFormat::kWav:
      return SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    case AudioFileFormat::kFlac:
      return SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
  }
  return 0;
}

int16_t ToPcm16(float sample) {
  if (!std::isfinite(sample)) return 0;
  const float scaled = std::nearbyint(std::clamp(sample, -1.0f, 1.0f) * 32768.0f);
  return static_cast<int16_t>(std::min(scaled, 32767.0f));
}

class SndfileWriter final : public AudioFileWriter {
 public:
  SndfileWriter(std::string path, int fd, SNDFILE* file)
      : path_(std::move(path)), fd_(fd), file_(file) {}
  ~SndfileWriter() override { (void)CloseFile(); }
  SndfileWriter(const SndfileWriter&) = delete;
  SndfileWriter& operator=(const SndfileWriter&) = delete;

  Status Write(std::span<const float> samples) override {
    if (closed_) return Status::FailedPrecondition(path_ + " is closed");
    if (!error_.ok()) return error_;
    pcm_.resize(samples.size());
    std::transform(samples.begin(), samples.end(), pcm_.begin(), ToPcm16);
    const auto count = static_cast<sf_count_t>(pcm_.size());
    const sf_count_t written = sf_write_short(file_, pcm_.data(), count);
    if (written != count) {
      // libFLAC reports some failures only as a short count.
      const std::string reason =
          sf_error(file_) != SF_ERR_NO_ERROR
              ? sf_strerror(file_)
              : "wrote " + std::to_string(written) + " of " + std::to_string(count) + " samples";
      error_ = Status::IOError("cannot write to " + path_ + ": " + reason);
    }
    return error_;
  }

  Status Close() override { return CloseFile(); }
  const std::string& path() const override { return path_; }

 private:
  // Not virtual, so that the destructor can call it.
  Status CloseFile() {
    if (closed_) return close_result_;
    closed_ = true;
    const int finished = sf_close(file_);
    file_ = nullptr;
    close_result_ = error_;
    if (close_result_.ok() && finished != SF_ERR_NO_ERROR) {
      close_result_ = Status::IOError("cannot finish " + path_ + ": " + sf_error_number(finished));
    }
    // Linux releases the descriptor even when close fails, so it is never retried.
    if (::close(fd_) != 0 && close_result_.ok()) {
      close_result_ = Status::FromErrno("cannot close " + path_, errno);
    }
    return close_result_;
  }

  const std::string path_;
  const int fd_;
  SNDFILE* file_;  // null once closed
  bool closed_ = false;
  Status error_;         // the first failed Write
  Status close_result_;  // what Close returned
  std::vector<int16_t> pcm_;
};

uint32_t ReadLe32(const std::string& bytes, size_t at) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) {
    value |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  }
  return value;
}

uint16_t ReadLe16(const std::string& bytes, size_t at) {
  return static_cast<uint16_t>(static_cast<unsigned char>(bytes[at]) |
                               static_cast<unsigned char>(bytes[at + 1]) << 8);
}

void WriteLe32(std::string* bytes, size_t at, uint32_t value) {
  for (size_t i = 0; i < 4; ++i) (*bytes)[at + i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

// Makes a WAV whose writer may be mid-write stand on its own: its data chunk (the last one, as
// AudioFileWriter writes it) takes every whole frame present, and the RIFF size follows.
Status SealWav(std::string* bytes, const std::string& path) {
  const std::string_view view = *bytes;
  if (view.size() < 12 || view.substr(8, 4) != "WAVE") {
    return Status::Corruption(path + ": not a WAV file");
  }
  size_t block_align = 1;
  size_t at = 12;
  while (at + 8 <= bytes->size()) {
    const std::string_view id = view.substr(at, 4);
    const size_t size = ReadLe32(*bytes, at + 4);
    if (id == "fmt " && size >= 16 && at + 8 + 16 <= bytes->size()) {
      block_align = std::max<size_t>(ReadLe16(*bytes, at + 8 + 12), 1);
    }
    if (id == "data") {
      const size_t data_at = at + 8;
      // RIFF sizes are 32-bit: a longer recording (37 h of 16 kHz audio) is cut at the limit.
      size_t data_bytes = std::min<size_t>(bytes->size() - data_at, UINT32_MAX - data_at);
      data_bytes -= data_bytes % block_align;
      bytes->resize(data_at + data_bytes);
      WriteLe32(bytes, at + 4, static_cast<uint32_t>(data_bytes));
      WriteLe32(bytes, 4, static_cast<uint32_t>(bytes->size() - 8));
      return Status::Ok();
    }
    at += 8 + size + (size & 1);  // chunks are padded to an even length
  }
  return Status::Corruption(path + ": a WAV file without a data chunk");
}

Result<std::string> ReadWholeFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("no file " + path);
    return Status::FromErrno("cannot read " + path, errno);
  }
  std::string bytes;
  std::vector<char> block(1 << 16);
  while (true) {
    const ssize_t n = ::read(fd, block.data(), block.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return Status::FromErrno("cannot read " + path, error);
    }
    if (n == 0) break;
    bytes.append(block.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  return bytes;
}

}  // namespace

Result<std::unique_ptr<AudioFileWriter>> CreateAudioFileWriter(const std::string& path,
                                                               AudioFileFormat format) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("cannot create " + path, errno);
  SF_INFO info{};
  info.samplerate = kSampleRate;
  info.channels = 1;
  info.format = SndfileFormat(format);
  SNDFILE* file = nullptr;
  std::string reason;
  {
    std::lock_guard lock(SndfileOpenMutex());
    file = sf_open_fd(fd, SFM_WRITE, &info, /*close_desc=*/SF_FALSE);
    if (file == nullptr) reason = sf_strerror(nullptr);
  }
  if (file == nullptr) {
    ::close(fd);
    ::unlink(path.c_str());
    return Status::IOError("cannot create " + path + ": " + reason);
  }
  // The header then always describes the data written so far: a killed writer leaves a valid WAV.
  if (format == AudioFileFormat::kWav)
    sf_command(file, SFC_SET_UPDATE_HEADER_AUTO, nullptr, SF_TRUE);
  return std::unique_ptr<AudioFileWriter>(new SndfileWriter(path, fd, file));
}

Result<std::string> ReadAudioFileSoFar(const std::string& path) {
  auto bytes = ReadWholeFile(path);
  if (!bytes.ok() || bytes.value().rfind("RIFF", 0) != 0) return bytes;
  if (Status s = SealWav(&bytes.value(), path); !s.ok()) return s;
  return bytes;
}

}  // namespace lx::audio
