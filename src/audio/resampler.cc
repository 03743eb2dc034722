#include "audio/resampler.h"

#include <soxr.h>

#include <fmt/format.h>

namespace lx::audio {
namespace {

constexpr int kMaxRate = 768000;
// Output samples produced per soxr_process call; Process loops until the input is consumed.
constexpr size_t kOutputBlock = 4096;

// Equal rates: the samples are copied as they are.
class PassthroughResampler final : public Resampler {
 public:
  Status Process(std::span<const float> input, std::vector<float>* out) override {
    out->insert(out->end(), input.begin(), input.end());
    return Status::Ok();
  }
  Status Flush(std::vector<float>* /*out*/) override { return Status::Ok(); }
};

struct SoxrDeleter {
  void operator()(soxr_t soxr) const { soxr_delete(soxr); }
};
using SoxrPtr = std::unique_ptr<struct soxr, SoxrDeleter>;

class SoxrResampler final : public Resampler {
 public:
  explicit SoxrResampler(SoxrPtr soxr) : soxr_(std::move(soxr)), block_(kOutputBlock) {}

  Status Process(std::span<const float> input, std::vector<float>* out) override {
    if (flushed_) return Status::FailedPrecondition("resampler: Process called after Flush");
    // An empty span may have a null data(), which soxr would take as the end of the input.
    if (input.empty()) return Status::Ok();
    size_t consumed = 0;
    size_t produced = 0;
    do {
      size_t used = 0;
      const soxr_error_t error =
          soxr_process(soxr_.get(), input.data() + consumed, input.size() - consumed, &used,
                       block_.data(), block_.size(), &produced);
      if (error != nullptr) return Status::Internal(fmt::format("soxr: {}", error));
      if (used == 0 && produced == 0 && consumed < input.size()) {
        return Status::Internal("soxr: no progress");
      }
      consumed += used;
      out->insert(out->end(), block_.begin(), block_.begin() + produced);
    } while (consumed < input.size() || produced == block_.size());
    return Status::Ok();
  }

  Status Flush(std::vector<float>* out) override {
    flushed_ = true;
    size_t produced = 0;
    do {
      const soxr_error_t error =
          soxr_process(soxr_.get(), nullptr, 0, nullptr, block_.data(), block_.size(), &produced);
      if (error != nullptr) return Status::Internal(fmt::format("soxr: {}", error));
      out->insert(out->end(), block_.begin(), block_.begin() + produced);
    } while (produced > 0);
    return Status::Ok();
  }

 private:
  SoxrPtr soxr_;
  std::vector<float> block_;  // soxr's output lands here before it is appended
  bool flushed_ = false;
};

Status CheckRate(int rate) {
  if (rate >= 1 && rate <= kMaxRate) return Status::Ok();
  return Status::InvalidArgument(
      fmt::format("sample rate {} Hz is outside the supported 1..{} Hz", rate, kMaxRate));
}

}  // namespace

void Downmix(std::span<const float> interleaved, int channels, std::vector<float>* mono) {
  if (channels < 1) return;
  const size_t width = static_cast<size_t>(channels);
  const size_t frames = interleaved.size() / width;
  mono->reserve(mono->size() + frames);
  for (size_t frame = 0; frame < frames; ++frame) {
    float sum = 0.0f;
    for (size_t channel = 0; channel < width; ++channel)
      sum += interleaved[frame * width + channel];
    mono->push_back(sum / static_cast<float>(channels));
  }
}

Result<std::unique_ptr<Resampler>> Resampler::Create(int input_rate, int output_rate) {
  for (int rate : {input_rate, output_rate}) {
    if (Status status = CheckRate(rate); !status.ok()) return status;
  }
  if (input_rate == output_rate) return std::unique_ptr<Resampler>(new PassthroughResampler());
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  const soxr_runtime_spec_t runtime = soxr_runtime_spec(1);
  soxr_error_t error = nullptr;
  SoxrPtr soxr(soxr_create(input_rate, output_rate, 1, &error, &io, &quality, &runtime));
  if (error != nullptr || soxr == nullptr) {
    return Status::Internal(fmt::format("soxr cannot convert {} Hz to {} Hz: {}", input_rate,
                                        output_rate, error != nullptr ? error : "unknown error"));
  }
  return std::unique_ptr<Resampler>(new SoxrResampler(std::move(soxr)));
}

}  // namespace lx::audio
