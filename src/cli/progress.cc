#include "cli/progress.h"

#include <fmt/format.h>

#include <algorithm>

namespace lx::cli {
namespace {

constexpr int kBarWidth = 30;
constexpr int64_t kRedrawIntervalNs = 100'000'000;

}  // namespace

std::string FormatProgress(double audio_done_s, double audio_total_s, double elapsed_s) {
  const std::string speed =
      elapsed_s > 0 ? fmt::format("{:.1f}x real time", audio_done_s / elapsed_s) : "-";
  if (audio_total_s <= 0) {
    return fmt::format("{:.1f}s of audio  elapsed {:.1f}s  {}", audio_done_s, elapsed_s, speed);
  }
  const double fraction = std::clamp(audio_done_s / audio_total_s, 0.0, 1.0);
  const int filled = static_cast<int>(fraction * kBarWidth);
  return fmt::format("[{}{}] {:3.0f}%  {:.1f}s/{:.1f}s  elapsed {:.1f}s  {}",
                     std::string(filled, '#'), std::string(kBarWidth - filled, '.'), fraction * 100,
                     audio_done_s, audio_total_s, elapsed_s, speed);
}

ProgressBar::ProgressBar(std::FILE* out, double audio_total_s, const Clock& clock)
    : out_(out), audio_total_s_(audio_total_s), clock_(clock), started_ns_(clock.NowNs()) {}

void ProgressBar::Update(double audio_done_s) {
  if (clock_.NowNs() - last_draw_ns_ < kRedrawIntervalNs) return;
  Draw(audio_done_s);
}

void ProgressBar::Finish(double audio_done_s) {
  Draw(audio_done_s);
  std::fputc('\n', out_);
  std::fflush(out_);
}

void ProgressBar::Draw(double audio_done_s) {
  last_draw_ns_ = clock_.NowNs();
  const double elapsed_s = static_cast<double>(last_draw_ns_ - started_ns_) / 1e9;
  std::string line = FormatProgress(audio_done_s, audio_total_s_, elapsed_s);
  // Pad over the remains of a longer previous line.
  const size_t width = line.size();
  if (width < last_width_) line.append(last_width_ - width, ' ');
  last_width_ = width;
  std::fprintf(out_, "\r%s", line.c_str());
  std::fflush(out_);
}

}  // namespace lx::cli
