// Apertium's stream format at the edges of a null-flush pipeline: plain caption text in, plain
// text out. Pure functions, thread-safe.
//
// Decisions:
// - Text is one caption line: every run of whitespace and control characters becomes one space,
//   invalid UTF-8 becomes U+FFFD. A caption never carries layout the translation must keep.
// - Apertium's stream metacharacters are escaped as apertium-destxt escapes them
//   (\ < > ^ $ @ { } [ ] /), and '~', which the post-generator reads as a joining mark, is hidden
//   in a superblank, so markup-like input is translated as text and cannot reach a later
//   sentence. '*', '#' and '+' pass as text, as with apertium-destxt.
// - Every request ends in Apertium's sentence end ".[]" (as apertium-destxt adds), a superblank
//   naming the request ("[lx-42]", which the pipeline passes through untouched) and '\0'. An
//   answer that does not end in its request's mark is not that request's answer (a dying stage
//   may flush a stray '\0'), so a pipeline can never hand one request another's text.
// - Unknown-word marks are not produced at all: generation runs with `-n` (apertium -u).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lx::mt {

// `text` as valid UTF-8: each invalid or truncated sequence (and overlong forms, surrogates) is
// replaced by U+FFFD.
std::string RepairUtf8(std::string_view text);

// `text` repaired (RepairUtf8), with runs of whitespace and control characters made one space,
// trimmed. Empty when the text holds nothing to translate.
std::string NormalizeCaptionText(std::string_view text);

// The bytes to write to a null-flush pipeline for normalized, non-empty `text`: escaped, ended
// by ".[]", the mark of request `request_id` and '\0'.
std::string EncodeApertiumRequest(std::string_view normalized_text, uint64_t request_id);

// The translation in a pipeline's answer to request `request_id` (the bytes before its '\0'):
// the mark and the sentence end this side added removed, superblanks unwrapped, escapes undone,
// whitespace normalized as above. nullopt when the answer does not end in the request's mark.
std::optional<std::string> DecodeApertiumAnswer(std::string_view answer, uint64_t request_id);

}  // namespace lx::mt
