// Reading caption files (WebVTT, SRT, plain text) into cues, e.g. to translate them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/caption_writers.h"

namespace lx::store {

// The cues of caption file content in `format`, in file order, timing as written.
// - WebVTT: the "WEBVTT" line first; NOTE, STYLE and REGION blocks, cue identifiers and cue
//   settings are skipped; timestamps [hh:]mm:ss.ttt.
// - SRT: blocks of an optional index line, "hh:mm:ss,ttt --> hh:mm:ss,ttt" and text.
// - TXT: each non-blank line is a cue without times (start = end = 0).
// Cue text keeps its lines ('\n'); markup tags (<i>, <v Name>, <00:01.000>) are dropped and
// the entities &amp; &lt; &gt; &nbsp; &lrm; &rlm; decoded. A UTF-8 BOM and CR line ends are
// accepted. Corruption "<name>:<line>: <what>" for malformed input (a bad timestamp, a cue
// ending before it starts, a block that is not a cue); InvalidArgument for kJson (not read).
// Pure function.
Result<std::vector<Cue>> ParseCaptions(CaptionFormat format, std::string_view content,
                                       std::string_view name);

}  // namespace lx::store
