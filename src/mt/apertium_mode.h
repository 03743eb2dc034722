// Apertium's installed language pairs: the names of the .mode files in a modes folder, and the
// commands of one mode (a shell pipeline) made ready to run in null-flush mode. Pure functions
// except DiscoverModes (reads a folder); thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "mt/translator.h"

namespace lx::mt {

// A pair named by a mode file: "en-gl" -> {eng, glg, "en-gl"}. Names with a variant after '_'
// ("eng-cat_valencia") and names that are not two language codes joined by '-' (analysers,
// debug modes) give nullopt: variants are not offered as pairs of their own.
std::optional<LanguagePair> PairFromModeName(std::string_view mode_name);

// The pairs installed in `modes_dir` (its *.mode files), sorted by Name(); when two mode names
// spell the same pair ("en-gl" and "eng-glg") the first in name order wins. NotFound when the
// folder cannot be read.
Result<std::vector<LanguagePair>> DiscoverModes(const std::string& modes_dir);

// One stage of a pipeline: the program and its arguments.
using Command = std::vector<std::string>;

// The stages of a mode file's text (`lt-proc 'a.bin' | apertium-tagger -g $2 'b.prob' | ...`),
// made ready for null-flush use as apertium-apy does: $1 (the generator's option) becomes -n,
// so no unknown-word marks are produced (apertium -u), $2 (the tagger's) is dropped, and each
// Apertium tool (lt-*, apertium-*, cg-proc, lrx-proc, lsx-proc, hfst-proc, rtx-proc) gets -z
// (flush on '\0'); other programs run as written. Words are split as a shell would split
// them, with single and double quotes and backslashes. InvalidArgument when the text is empty,
// has an empty stage or an unterminated quote, or uses shell syntax beyond a plain pipeline
// (redirections, ;, &, $(...), backquotes).
Result<std::vector<Command>> ParseModeCommands(std::string_view mode_text);

}  // namespace lx::mt
