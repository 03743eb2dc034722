#include "mt/apertium_stream.h"

#include <cstdint>

namespace lx::mt {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
constexpr std::string_view kSentenceEnd = ".[]";
constexpr std::string_view kEscaped = "\\<>^$@{}[]/";

// Length of the valid UTF-8 sequence starting at text[i], or 0 when it is invalid there.
size_t ValidSequenceLength(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  const uint8_t lead = byte(i);
  if (lead < 0x80) return 1;
  size_t length = 0;
  uint8_t low = 0x80;
  uint8_t high = 0xBF;  // bounds of the second byte (they exclude overlong forms and surrogates)
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = 2; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  return length;
}

// Whitespace, C0 controls and DEL: a caption's layout, never translated.
bool IsBlank(char c) {
  const auto byte = static_cast<uint8_t>(c);
  return byte <= 0x20 || byte == 0x7F;
}

// `text` with runs of blanks made one space, trimmed.
std::string CollapseBlanks(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (char c : text) {
    if (IsBlank(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

// A superblank naming a request; Apertium passes superblanks through every stage.
std::string RequestMark(uint64_t request_id) { return "[lx-" + std::to_string(request_id) + "]"; }

}  // namespace

std::string RepairUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t length = ValidSequenceLength(text, i);
    if (length == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    out.append(text, i, length);
    i += length;
  }
  return out;
}

std::string NormalizeCaptionText(std::string_view text) { return CollapseBlanks(RepairUtf8(text)); }

std::string EncodeApertiumRequest(std::string_view normalized_text, uint64_t request_id) {
  std::string out;
  out.reserve(normalized_text.size() + normalized_text.size() / 8 + kSentenceEnd.size() + 1);
  for (char c : normalized_text) {
    if (c == '~') {
      out += "[~]";
      continue;
    }
    if (kEscaped.find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  out += kSentenceEnd;
  out += RequestMark(request_id);
  out += '\0';
  return out;
}

std::optional<std::string> DecodeApertiumAnswer(std::string_view answer, uint64_t request_id) {
  const std::string mark = RequestMark(request_id);
  while (!answer.empty() && IsBlank(answer.back())) answer.remove_suffix(1);
  if (!answer.ends_with(mark)) return std::nullopt;
  answer.remove_suffix(mark.size());
  while (!answer.empty() && IsBlank(answer.back())) answer.remove_suffix(1);
  if (answer.ends_with(kSentenceEnd)) answer.remove_suffix(kSentenceEnd.size());
  std::string out;
  out.reserve(answer.size());
  for (size_t i = 0; i < answer.size(); ++i) {
    const char c = answer[i];
    if (c == '\\' && i + 1 < answer.size()) {
      out += answer[++i];
    } else if (c != '[' && c != ']') {  // superblanks: their content is text of the answer
      out += c;
    }
  }
  return NormalizeCaptionText(out);
}

}  // namespace lx::mt
