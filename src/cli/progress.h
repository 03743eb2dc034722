// A one-line progress display on a terminal: done fraction, elapsed time, speed vs. real time.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "base/clock.h"

namespace lx::cli {

// Renders the progress line for `audio_done_s` of `audio_total_s` (<= 0: unknown) after
// `elapsed_s` of wall time. Pure; no trailing newline.
std::string FormatProgress(double audio_done_s, double audio_total_s, double elapsed_s);

// Redraws FormatProgress on `out` (with a carriage return) at most every 100 ms.
// Single-threaded.
class ProgressBar {
 public:
  ProgressBar(std::FILE* out, double audio_total_s, const Clock& clock);
  void Update(double audio_done_s);
  // Draws the last state and ends the line.
  void Finish(double audio_done_s);

 private:
  void Draw(double audio_done_s);

  std::FILE* out_;
  double audio_total_s_;
  const Clock& clock_;
  int64_t started_ns_;
  int64_t last_draw_ns_ = 0;
  size_t last_width_ = 0;
};

}  // namespace lx::cli
