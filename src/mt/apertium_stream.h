// Apertium's stream format at the edges of a null-flush pipeline: plain caption text in, plain
// text out. Pure functions, thread-safe.
//
// Decisions (docs/architecture.md):
// - Text is one caption line: every run of whitespace and control characters becomes one space,
//   invalid UTF-8 becomes U+FFFD. A caption never carries layout the translation must keep.
// - Apertium's stream metacharacters are escaped as apertium-destxt escapes them
//   (\ < > ^ $ @ { } [ ] /), and '~', which the post-generator reads as a joining mark, is hidden
//   in a superblank, so markup-like input is translated as text and cannot reach a later
//   sentence. '*', '#' and '+' pass as text, as with apertium-destxt.
// - Every request ends in Apertium's sentence end ".[]" (as apertium-destxt adds) and '\0'.
// - Unknown-word marks are not produced at all: generation runs with `-n` (apertium -u).
#pragma once

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
// by ".[]" and '\0'.
std::string EncodeApertiumRequest(std::string_view normalized_text);

// The translation in a pipeline's answer (the bytes before its '\0'): the sentence end this
// side added removed, superblanks unwrapped, escapes undone, whitespace normalized as above.
std::string DecodeApertiumAnswer(std::string_view answer);

}  // namespace lx::mt
