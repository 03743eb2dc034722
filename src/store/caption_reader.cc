#include "store/caption_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <utility>

namespace lx::store {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr std::string_view kArrow = "-->";

// A run of non-blank lines; `first_line` is the 1-based line number of lines[0].
struct Block {
  size_t first_line = 0;
  std::vector<std::string_view> lines;
};

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  return text;
}

// Lines without their '\n' or "\r\n", a leading BOM skipped.
std::vector<std::string_view> SplitLines(std::string_view content) {
  if (content.starts_with(kBom)) content.remove_prefix(kBom.size());
  std::vector<std::string_view> lines;
  while (!content.empty()) {
    const size_t end = content.find('\n');
    std::string_view line = content.substr(0, end);
    if (line.ends_with('\r')) line.remove_suffix(1);
    lines.push_back(line);
    if (end == std::string_view::npos) break;
    content.remove_prefix(end + 1);
  }
  return lines;
}

std::vector<Block> SplitBlocks(const std::vector<std::string_view>& lines) {
  std::vector<Block> blocks;
  bool in_block = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (Trim(lines[i]).empty()) {
      in_block = false;
      continue;
    }
    if (!in_block) blocks.push_back({i + 1, {}});
    blocks.back().lines.push_back(lines[i]);
    in_block = true;
  }
  return blocks;
}

Status Malformed(std::string_view name, size_t line, std::string_view what) {
  return Status::Corruption(fmt::format("{}:{}: {}", name, line, what));
}

// A number of exactly `digits` digits (any number of them, at least one, when digits == 0).
std::optional<int64_t> ParseNumber(std::string_view text, size_t digits) {
  if (text.empty() || (digits != 0 && text.size() != digits) || text.size() > 9 ||
      !std::all_of(text.begin(), text.end(), IsDigit)) {
    return std::nullopt;
  }
  int64_t value = 0;
  for (char c : text) value = value * 10 + (c - '0');
  return value;
}

// [hh:]mm:ss.ttt (or ,ttt) in milliseconds.
std::optional<int64_t> ParseTimestamp(std::string_view text) {
  const size_t fraction = text.find_last_of(".,");
  if (fraction == std::string_view::npos) return std::nullopt;
  const auto millis = ParseNumber(text.substr(fraction + 1), 3);
  std::vector<std::string_view> parts;
  for (std::string_view rest = text.substr(0, fraction);;) {
    const size_t colon = rest.find(':');
    parts.push_back(rest.substr(0, colon));
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  if (!millis || parts.size() < 2 || parts.size() > 3) return std::nullopt;
  const auto seconds = ParseNumber(parts.back(), 2);
  const auto minutes = ParseNumber(parts[parts.size() - 2], 2);
  const auto hours = parts.size() == 3 ? ParseNumber(parts[0], 0) : std::optional<int64_t>(0);
  if (!seconds || !minutes || !hours || *seconds >= 60 || *minutes >= 60) return std::nullopt;
  return ((*hours * 60 + *minutes) * 60 + *seconds) * 1000 + *millis;
}

// "start --> end [settings]" -> (start_ms, end_ms).
Result<std::pair<int64_t, int64_t>> ParseTiming(std::string_view line, std::string_view name,
                                                size_t line_number) {
  const size_t arrow = line.find(kArrow);
  const std::string_view start_text = Trim(line.substr(0, arrow));
  std::string_view end_text = Trim(line.substr(arrow + kArrow.size()));
  end_text = end_text.substr(
      0, std::find_if(end_text.begin(), end_text.end(), IsSpace) - end_text.begin());
  const auto start = ParseTimestamp(start_text);
  const auto end = ParseTimestamp(end_text);
  for (const auto& [text, value] : {std::pair{start_text, start}, std::pair{end_text, end}}) {
    if (!value) {
      return Malformed(name, line_number,
                       fmt::format("malformed timestamp \"{}\" (expected [hh:]mm:ss.ttt)", text));
    }
  }
  if (*end < *start) return Malformed(name, line_number, "the cue ends before it starts");
  return std::pair{*start, *end};
}

// The character an entity at text[i] stands for, and the entity's length; nullopt if none.
std::optional<std::pair<std::string_view, size_t>> DecodeEntity(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 8> kEntities = {{
      {"&amp;", "&"},
      {"&lt;", "<"},
      {"&gt;", ">"},
      {"&nbsp;", " "},
      {"&quot;", "\""},
      {"&apos;", "'"},
      {"&lrm;", ""},
      {"&rlm;", ""},
  }};
  for (const auto& [entity, decoded] : kEntities) {
    if (text.starts_with(entity)) return std::pair{decoded, entity.size()};
  }
  return std::nullopt;
}

// The length of a markup tag (<i>, </b>, <v Name>, <00:01.000>) at the start of `text`, or 0.
size_t TagLength(std::string_view text) {
  if (text.size() < 3 || text[0] != '<') return 0;
  const char c = text[1];
  if (!(std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '/')) return 0;
  const size_t close = text.find('>');
  return close == std::string_view::npos ? 0 : close + 1;
}

// The cue's text lines joined by '\n', tags dropped, entities decoded.
std::string CueText(const std::vector<std::string_view>& lines, size_t first) {
  std::string out;
  for (size_t i = first; i < lines.size(); ++i) {
    if (i > first) out += '\n';
    const std::string_view line = lines[i];
    for (size_t k = 0; k < line.size();) {
      if (const size_t tag = TagLength(line.substr(k)); tag > 0) {
        k += tag;
      } else if (auto entity = DecodeEntity(line.substr(k))) {
        out += entity->first;
        k += entity->second;
      } else {
        out += line[k++];
      }
    }
  }
  return out;
}

bool HasArrow(std::string_view line) { return line.find(kArrow) != std::string_view::npos; }

// A cue block: its timing line at `timing` (0 or 1), then its text.
Result<Cue> ParseCueBlock(const Block& block, size_t timing, std::string_view name) {
  auto times = ParseTiming(block.lines[timing], name, block.first_line + timing);
  if (!times.ok()) return times.status();
  return Cue{times->first, times->second, CueText(block.lines, timing + 1)};
}

bool IsVttHeader(std::string_view line) {
  return line.starts_with("WEBVTT") && (line.size() == 6 || line[6] == ' ' || line[6] == '\t');
}

bool IsVttNonCueBlock(std::string_view first_line) {
  return first_line == "NOTE" || first_line.starts_with("NOTE ") ||
         first_line.starts_with("NOTE\t") || first_line == "STYLE" || first_line == "REGION";
}

Result<std::vector<Cue>> ParseVtt(std::string_view content, std::string_view name) {
  const std::vector<std::string_view> lines = SplitLines(content);
  if (lines.empty() || !IsVttHeader(lines[0])) {
    return Malformed(name, 1, "not a WebVTT file (the first line must be WEBVTT)");
  }
  std::vector<Cue> cues;
  const std::vector<Block> blocks = SplitBlocks(lines);
  for (size_t b = 1; b < blocks.size(); ++b) {  // blocks[0] is the header
    const Block& block = blocks[b];
    if (IsVttNonCueBlock(block.lines[0])) continue;
    size_t timing = 0;
    if (!HasArrow(block.lines[0])) {
      if (block.lines.size() < 2 || !HasArrow(block.lines[1])) {
        return Malformed(name, block.first_line,
                         "expected a cue timing line (start --> end) or a cue identifier");
      }
      timing = 1;
    }
    auto cue = ParseCueBlock(block, timing, name);
    if (!cue.ok()) return cue.status();
    cues.push_back(std::move(cue.value()));
  }
  return cues;
}

Result<std::vector<Cue>> ParseSrt(std::string_view content, std::string_view name) {
  std::vector<Cue> cues;
  for (const Block& block : SplitBlocks(SplitLines(content))) {
    const std::string_view first = Trim(block.lines[0]);
    size_t timing = 0;
    if (!HasArrow(first)) {
      if (!ParseNumber(first, 0) || block.lines.size() < 2 || !HasArrow(block.lines[1])) {
        return Malformed(name, block.first_line,
                         "expected a cue number and a timing line (00:00:01,000 --> "
                         "00:00:02,000)");
      }
      timing = 1;
    }
    auto cue = ParseCueBlock(block, timing, name);
    if (!cue.ok()) return cue.status();
    cues.push_back(std::move(cue.value()));
  }
  return cues;
}

std::vector<Cue> ParseTxt(std::string_view content) {
  std::vector<Cue> cues;
  for (std::string_view line : SplitLines(content)) {
    line = Trim(line);
    if (!line.empty()) cues.push_back({0, 0, std::string(line)});
  }
  return cues;
}

}  // namespace

Result<std::vector<Cue>> ParseCaptions(CaptionFormat format, std::string_view content,
                                       std::string_view name) {
  switch (format) {
    case CaptionFormat::kVtt:
      return ParseVtt(content, name);
    case CaptionFormat::kSrt:
      return ParseSrt(content, name);
    case CaptionFormat::kTxt:
      return ParseTxt(content);
    case CaptionFormat::kJson:
      break;
  }
  return Status::InvalidArgument(std::string(name) +
                                 ": JSON captions cannot be read; use vtt, srt or txt");
}

}  // namespace lx::store
