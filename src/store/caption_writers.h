// Caption file formats: WebVTT, SRT, plain text and JSON, rendered from finals.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "asr/caption.h"
#include "asr/stream_metrics.h"
#include "base/status.h"
#include "events/event.h"

namespace lx::store {

enum class CaptionFormat { kVtt, kSrt, kTxt, kJson };

// "vtt", "srt", "txt", "json" (case-insensitive) -> format; InvalidArgument listing the choices.
Result<CaptionFormat> CaptionFormatFromName(std::string_view name);
// From a path's extension (.vtt .srt .txt .json); InvalidArgument when there is none or unknown.
Result<CaptionFormat> CaptionFormatFromPath(std::string_view path);
std::string_view CaptionFormatName(CaptionFormat format);

// What the JSON output records besides the finals.
struct TranscriptInfo {
  std::string engine;          // e.g. "pocketsphinx"
  std::string model;           // model directory or name
  std::string source;          // input file name, or "stdin"
  double audio_seconds = 0;    // duration of the audio; cues are clamped to it
  asr::StreamMetrics metrics;  // the recognizer stream's figures (JSON metadata)
};

// Renders the finals (in order of emission) in `format`. Cue times, in whole milliseconds, are
// clamped to [0, info.audio_seconds] (when > 0), ordered, and each ends after it starts; text that
// finds no room before the audio's end joins the previous cue. Finals with empty text make no cue
// and no TXT line; JSON records every final verbatim, the other formats turn whitespace runs into
// one space. Long finals are split into cues of at most kMaxCueChars at word boundaries, timed by
// their words, or spread evenly over [t0, t1] when the words do not spell the text. Pure function;
// never fails.
std::string RenderCaptions(CaptionFormat format, const std::vector<asr::Final>& finals,
                           const TranscriptInfo& info);

// A timed caption cue: whole milliseconds, as caption files carry them.
struct Cue {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  std::string text;
};

// Renders cues as they are (timing kept; a caption file read by store/caption_reader.h, then
// translated). Text has whitespace runs made one space and is wrapped onto two lines as
// RenderCaptions wraps it; cues with empty text are left out. kJson gives {"cues": [{"start",
// "end" (seconds), "text"}]}. Pure function; never fails.
std::string RenderCues(CaptionFormat format, const std::vector<Cue>& cues);

// The finals with each text replaced by its translation (matched by segment_id; the last
// translation of a segment wins), for rendering a translation with RenderCaptions. A final
// without a translation (its mt.error) is left out. Words are cleared, so long translations are
// split into cues spread evenly over the final's [t0, t1]. Pure.
std::vector<asr::Final> TranslatedFinals(const std::vector<asr::Final>& finals,
                                         const std::vector<events::TranslationFinal>& translations);

// Bilingual WebVTT: one cue per final with text, timed and clamped as RenderCaptions times a
// final, holding two lines: the source text, then its translation (matched by segment_id; the
// line is left out when the final has none). Each text is one line, whitespace runs made one
// space; a final with no room before the audio's end joins the previous cue, on both lines.
// Pure function; never fails.
std::string RenderBilingualVtt(const std::vector<asr::Final>& finals,
                               const std::vector<events::TranslationFinal>& translations,
                               const TranscriptInfo& info);

// Longest cue text in characters (two lines of 42, the common broadcast limit).
inline constexpr size_t kMaxCueChars = 84;

}  // namespace lx::store
