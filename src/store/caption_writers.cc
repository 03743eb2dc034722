#include "store/caption_writers.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <map>
#include <utility>

#include <nlohmann/json.hpp>

#include "events/json_codec.h"

namespace lx::store {
namespace {

constexpr std::array<std::pair<CaptionFormat, std::string_view>, 4> kFormatNames = {{
    {CaptionFormat::kVtt, "vtt"},
    {CaptionFormat::kSrt, "srt"},
    {CaptionFormat::kTxt, "txt"},
    {CaptionFormat::kJson, "json"},
}};

constexpr size_t kMaxLineChars = kMaxCueChars / 2;
// Stands in for the end of audio of unknown duration (about 35,000 years, far from overflow).
constexpr int64_t kNoAudioEndMs = int64_t{1} << 50;

// Cue text timed in seconds, as the finals give it: possibly unordered or out of range.
struct TimedText {
  double t0_s = 0;
  double t1_s = 0;
  std::string text;
};

// A run of tokens [begin, end).
struct Range {
  size_t begin = 0;
  size_t end = 0;
};

bool StartsCharacter(char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }

// Characters (UTF-8 code points, not bytes) in `text`.
size_t CharCount(std::string_view text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), StartsCharacter));
}

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// The whitespace-separated words of `text`.
std::vector<std::string> Tokens(std::string_view text) {
  std::vector<std::string> tokens;
  auto it = text.begin();
  while (true) {
    it = std::find_if_not(it, text.end(), IsSpace);
    if (it == text.end()) return tokens;
    auto token_end = std::find_if(it, text.end(), IsSpace);
    tokens.emplace_back(it, token_end);
    it = token_end;
  }
}

std::string Join(const std::vector<std::string>& tokens, Range range) {
  std::string out;
  for (size_t i = range.begin; i < range.end; ++i) {
    if (i > range.begin) out += ' ';
    out += tokens[i];
  }
  return out;
}

// `text` with each run of whitespace (newlines included) made one space, and trimmed.
std::string NormalizeSpace(std::string_view text) {
  const std::vector<std::string> tokens = Tokens(text);
  return Join(tokens, {0, tokens.size()});
}

// Groups the tokens into cues of at most kMaxCueChars on two lines of at most kMaxLineChars,
// filling each line greedily. A token too long for a line starts a cue of its own.
std::vector<Range> ChunkTokens(const std::vector<std::string>& tokens) {
  std::vector<Range> cues;
  size_t cue_chars = 0;
  size_t line_chars = 0;
  bool on_second_line = false;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const size_t chars = CharCount(tokens[i]);
    const bool fits_cue = !cues.empty() && cue_chars + 1 + chars <= kMaxCueChars;
    const bool fits_line = line_chars + 1 + chars <= kMaxLineChars;
    if (fits_cue && (fits_line || (!on_second_line && chars <= kMaxLineChars))) {
      on_second_line = on_second_line || !fits_line;
      line_chars = fits_line ? line_chars + 1 + chars : chars;
      cue_chars += 1 + chars;
      cues.back().end = i + 1;
    } else {
      cues.push_back({i, i + 1});
      cue_chars = line_chars = chars;
      on_second_line = false;
    }
  }
  return cues;
}

// Whether the words spell exactly the tokens of the text, so their times can time the text.
bool WordsMatchTokens(const std::vector<asr::Word>& words, const std::vector<std::string>& tokens) {
  return std::equal(
      words.begin(), words.end(), tokens.begin(), tokens.end(),
      [](const asr::Word& word, const std::string& token) { return word.w == token; });
}

// Each run lasts from its first word's start to its last word's end.
std::vector<TimedText> TimeByWords(const std::vector<asr::Word>& words,
                                   const std::vector<std::string>& tokens,
                                   const std::vector<Range>& runs) {
  std::vector<TimedText> out;
  out.reserve(runs.size());
  for (const Range& run : runs) {
    out.push_back({words[run.begin].t0_s, words[run.end - 1].t1_s, Join(tokens, run)});
  }
  return out;
}

// Spreads the runs over [t0, t1] of the final in proportion to their characters.
std::vector<TimedText> TimeEvenly(const asr::Final& final_caption,
                                  const std::vector<std::string>& tokens,
                                  const std::vector<Range>& runs) {
  std::vector<std::string> texts;
  size_t total_chars = 0;
  for (const Range& run : runs) {
    texts.push_back(Join(tokens, run));
    total_chars += CharCount(texts.back());
  }
  const auto time_at = [&](size_t chars) {
    if (chars == total_chars) return final_caption.t1_s;  // exactly, free of rounding
    const double share = static_cast<double>(chars) / static_cast<double>(total_chars);
    return final_caption.t0_s + (final_caption.t1_s - final_caption.t0_s) * share;
  };
  std::vector<TimedText> out;
  size_t chars_before = 0;
  for (std::string& text : texts) {
    const double t0_s = time_at(chars_before);
    chars_before += CharCount(text);
    out.push_back({t0_s, time_at(chars_before), std::move(text)});
  }
  return out;
}

// The cue texts of one final: none when its text is empty, one when it fits in a cue, otherwise
// runs of words timed by the words when they spell the text, or evenly when they do not.
std::vector<TimedText> SplitFinal(const asr::Final& final_caption) {
  const std::vector<std::string> tokens = Tokens(final_caption.text);
  if (tokens.empty()) return {};
  std::string text = Join(tokens, {0, tokens.size()});
  if (CharCount(text) <= kMaxCueChars) {
    return {{final_caption.t0_s, final_caption.t1_s, std::move(text)}};
  }
  const std::vector<Range> runs = ChunkTokens(tokens);
  if (WordsMatchTokens(final_caption.words, tokens)) {
    return TimeByWords(final_caption.words, tokens, runs);
  }
  return TimeEvenly(final_caption, tokens, runs);
}

// Whole milliseconds in [0, limit_ms]; NaN and negative times become 0.
int64_t ToMillis(double seconds, int64_t limit_ms) {
  if (!(seconds > 0)) return 0;
  const double ms = std::min(seconds * 1000, static_cast<double>(limit_ms));
  return std::min<int64_t>(std::llround(ms), limit_ms);
}

// The audio's end rounded down to the millisecond (at least 1 ms), so cues stay inside it.
int64_t AudioEndMs(double audio_seconds) {
  if (!(audio_seconds > 0)) return kNoAudioEndMs;
  // The epsilon keeps a product like 4.35 * 1000 = 4349.999... from losing a millisecond.
  const double ms = std::min(audio_seconds * 1000 + 1e-6, static_cast<double>(kNoAudioEndMs));
  return std::max<int64_t>(1, static_cast<int64_t>(std::floor(ms)));
}

// Makes cues that are ordered, never overlap, lie inside [0, audio_end_ms] and last at least
// 1 ms. Text left with no room before the audio's end joins the previous cue rather than vanish.
std::vector<Cue> FitCues(std::vector<TimedText> texts, int64_t audio_end_ms) {
  std::vector<Cue> cues;
  for (TimedText& timed : texts) {
    const int64_t previous_end_ms = cues.empty() ? 0 : cues.back().end_ms;
    Cue cue{std::max(ToMillis(timed.t0_s, audio_end_ms), previous_end_ms), 0,
            std::move(timed.text)};
    cue.end_ms =
        std::min(std::max(ToMillis(timed.t1_s, audio_end_ms), cue.start_ms + 1), audio_end_ms);
    if (cue.end_ms <= cue.start_ms) cue.start_ms = cue.end_ms - 1;  // it starts at the audio's end
    if (cue.start_ms < previous_end_ms) {
      cues.back().text += ' ' + cue.text;
      continue;
    }
    cues.push_back(std::move(cue));
  }
  return cues;
}

std::vector<Cue> BuildCues(const std::vector<asr::Final>& finals, const TranscriptInfo& info) {
  std::vector<TimedText> texts;
  for (const asr::Final& final_caption : finals) {
    std::vector<TimedText> split = SplitFinal(final_caption);
    texts.insert(texts.end(), std::make_move_iterator(split.begin()),
                 std::make_move_iterator(split.end()));
  }
  return FitCues(std::move(texts), AudioEndMs(info.audio_seconds));
}

// Text longer than a line becomes two lines, broken at the space that makes the longer of them
// shortest; text without a space stays one line.
std::string WrapLines(std::string text) {
  const size_t total_chars = CharCount(text);
  if (total_chars <= kMaxLineChars) return text;
  size_t best_break = std::string::npos;
  size_t best_longest = total_chars;
  size_t chars_before = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == ' ') {
      const size_t longest = std::max(chars_before, total_chars - chars_before - 1);
      if (longest < best_longest) {
        best_break = i;
        best_longest = longest;
      }
    }
    if (StartsCharacter(text[i])) ++chars_before;
  }
  if (best_break != std::string::npos) text[best_break] = '\n';
  return text;
}

// WebVTT cue text: escaping '<' and '>' also keeps "-->" out of it.
std::string EscapeVtt(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// HH:MM:SS<separator>mmm; hours grow past two digits when needed.
std::string Timestamp(int64_t ms, char separator) {
  const long long total = ms;
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%02lld:%02lld:%02lld%c%03lld", total / 3'600'000,
                total / 60'000 % 60, total / 1000 % 60, separator, total % 1000);
  return buffer;
}

std::string TimingLine(const Cue& cue, char separator) {
  return Timestamp(cue.start_ms, separator) + " --> " + Timestamp(cue.end_ms, separator) + '\n';
}

std::string RenderVtt(std::vector<Cue> cues) {
  std::string out = "WEBVTT\n";
  for (Cue& cue : cues) {
    out += '\n' + TimingLine(cue, '.') + EscapeVtt(WrapLines(std::move(cue.text))) + '\n';
  }
  return out;
}

std::string RenderSrt(std::vector<Cue> cues) {
  std::string out;
  for (size_t i = 0; i < cues.size(); ++i) {
    if (i > 0) out += '\n';
    out += std::to_string(i + 1) + '\n' + TimingLine(cues[i], ',') +
           WrapLines(std::move(cues[i].text)) + '\n';
  }
  return out;
}

// Cues as given, their text on one line (NormalizeSpace), the empty ones left out.
std::vector<Cue> NormalizedCues(const std::vector<Cue>& cues) {
  std::vector<Cue> out;
  for (const Cue& cue : cues) {
    std::string text = NormalizeSpace(cue.text);
    if (!text.empty()) out.push_back({cue.start_ms, cue.end_ms, std::move(text)});
  }
  return out;
}

std::string RenderCuesTxt(const std::vector<Cue>& cues) {
  std::string out;
  for (const Cue& cue : cues) out += cue.text + '\n';
  return out;
}

std::string RenderCuesJson(const std::vector<Cue>& cues) {
  nlohmann::ordered_json document;
  document["cues"] = nlohmann::ordered_json::array();
  for (const Cue& cue : cues) {
    document["cues"].push_back({{"start", static_cast<double>(cue.start_ms) / 1000},
                                {"end", static_cast<double>(cue.end_ms) / 1000},
                                {"text", cue.text}});
  }
  return document.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + '\n';
}

std::string RenderTxt(const std::vector<asr::Final>& finals) {
  std::string out;
  for (const asr::Final& final_caption : finals) {
    const std::string text = NormalizeSpace(final_caption.text);
    if (!text.empty()) out += text + '\n';
  }
  return out;
}

std::string RenderJson(const std::vector<asr::Final>& finals, const TranscriptInfo& info) {
  // Ordered so the metadata comes first for a reader; each final keeps FinalToJson's order.
  nlohmann::ordered_json document;
  document["metadata"] = {{"engine", info.engine},
                          {"model", info.model},
                          {"source", info.source},
                          {"audio_duration", info.audio_seconds},
                          {"processing_time", info.metrics.processing_seconds},
                          {"real_time_factor", info.metrics.RealTimeFactor()},
                          {"finals", finals.size()},
                          {"metrics", events::StreamMetricsToJson(info.metrics)}};
  document["finals"] = nlohmann::ordered_json::array();
  for (const asr::Final& final_caption : finals) {
    document["finals"].push_back(events::FinalToJson(final_caption));
  }
  // Replacing invalid UTF-8 (with U+FFFD) rather than throwing keeps this function infallible.
  return document.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + '\n';
}

}  // namespace

Result<CaptionFormat> CaptionFormatFromName(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto& [format, known] : kFormatNames) {
    if (known == lower) return format;
  }
  return Status::InvalidArgument("unknown caption format \"" + std::string(name) +
                                 "\"; choose vtt, srt, txt or json");
}

Result<CaptionFormat> CaptionFormatFromPath(std::string_view path) {
  const std::string extension = std::filesystem::path(path).extension().string();
  if (!extension.empty()) {
    Result<CaptionFormat> format = CaptionFormatFromName(extension.substr(1));
    if (format.ok()) return format;
  }
  const std::string problem = extension.empty()
                                  ? "has no file extension"
                                  : "has the unknown caption extension \"" + extension + "\"";
  return Status::InvalidArgument(std::string(path) + " " + problem +
                                 "; use .vtt, .srt, .txt or .json");
}

std::string_view CaptionFormatName(CaptionFormat format) {
  for (const auto& [value, name] : kFormatNames) {
    if (value == format) return name;
  }
  return "unknown";
}

std::string RenderCaptions(CaptionFormat format, const std::vector<asr::Final>& finals,
                           const TranscriptInfo& info) {
  switch (format) {
    case CaptionFormat::kVtt:
      return RenderVtt(BuildCues(finals, info));
    case CaptionFormat::kSrt:
      return RenderSrt(BuildCues(finals, info));
    case CaptionFormat::kTxt:
      return RenderTxt(finals);
    case CaptionFormat::kJson:
      break;
  }
  return RenderJson(finals, info);
}

namespace {

// Each segment's translated text (the last translation of a segment wins).
std::map<uint64_t, std::string> TranslationsBySegment(
    const std::vector<events::TranslationFinal>& translations) {
  std::map<uint64_t, std::string> by_segment;
  for (const events::TranslationFinal& t : translations) by_segment[t.segment_id] = t.text;
  return by_segment;
}

// A bilingual cue: whole milliseconds, start_ms < end_ms, a line in each language.
struct BilingualCue {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  std::string source;
  std::string target;
};

// Appends `text` to `line`, a space between them.
void JoinLine(std::string* line, const std::string& text) {
  if (text.empty()) return;
  if (!line->empty()) *line += ' ';
  *line += text;
}

}  // namespace

std::vector<asr::Final> TranslatedFinals(
    const std::vector<asr::Final>& finals,
    const std::vector<events::TranslationFinal>& translations) {
  const std::map<uint64_t, std::string> by_segment = TranslationsBySegment(translations);
  std::vector<asr::Final> out;
  for (const asr::Final& final_caption : finals) {
    const auto it = by_segment.find(final_caption.segment_id);
    if (it == by_segment.end()) continue;
    asr::Final translated = final_caption;
    translated.text = it->second;
    translated.words.clear();
    out.push_back(std::move(translated));
  }
  return out;
}

std::string RenderBilingualVtt(const std::vector<asr::Final>& finals,
                               const std::vector<events::TranslationFinal>& translations,
                               const TranscriptInfo& info) {
  const std::map<uint64_t, std::string> by_segment = TranslationsBySegment(translations);
  const int64_t audio_end_ms = AudioEndMs(info.audio_seconds);
  std::vector<BilingualCue> cues;
  for (const asr::Final& final_caption : finals) {
    std::string source = NormalizeSpace(final_caption.text);
    if (source.empty()) continue;
    const auto it = by_segment.find(final_caption.segment_id);
    std::string target = it == by_segment.end() ? "" : NormalizeSpace(it->second);
    // Timed as FitCues times a cue; a final with no room left joins the previous cue.
    const int64_t previous_end_ms = cues.empty() ? 0 : cues.back().end_ms;
    BilingualCue cue{std::max(ToMillis(final_caption.t0_s, audio_end_ms), previous_end_ms), 0,
                     std::move(source), std::move(target)};
    cue.end_ms = std::min(std::max(ToMillis(final_caption.t1_s, audio_end_ms), cue.start_ms + 1),
                          audio_end_ms);
    if (cue.end_ms <= cue.start_ms) cue.start_ms = cue.end_ms - 1;
    if (cue.start_ms < previous_end_ms) {
      JoinLine(&cues.back().source, cue.source);
      JoinLine(&cues.back().target, cue.target);
      continue;
    }
    cues.push_back(std::move(cue));
  }
  std::string out = "WEBVTT\n";
  for (const BilingualCue& cue : cues) {
    out += '\n' + TimingLine(Cue{cue.start_ms, cue.end_ms, ""}, '.') + EscapeVtt(cue.source) + '\n';
    if (!cue.target.empty()) out += EscapeVtt(cue.target) + '\n';
  }
  return out;
}

std::string RenderCues(CaptionFormat format, const std::vector<Cue>& cues) {
  std::vector<Cue> normalized = NormalizedCues(cues);
  switch (format) {
    case CaptionFormat::kVtt:
      return RenderVtt(std::move(normalized));
    case CaptionFormat::kSrt:
      return RenderSrt(std::move(normalized));
    case CaptionFormat::kTxt:
      return RenderCuesTxt(normalized);
    case CaptionFormat::kJson:
      break;
  }
  return RenderCuesJson(normalized);
}

}  // namespace lx::store
