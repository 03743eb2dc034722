// The Apertium translation provider: discovers the installed pairs from Apertium's modes
// folder and keeps one warm, persistent pipeline per pair in use, in Apertium's null-flush mode
// (as apertium-apy does): every stage of the pair's .mode file runs as a child process of ours,
// in one process group, and a translation is a write of escaped text ending in '\0' and a read
// up to the '\0' that comes back (mt/apertium_stream.h says how text is escaped and cleaned).
//
// A caption is translated as one line: whitespace runs and control characters become one space
// and invalid UTF-8 becomes U+FFFD before it is sent or looked up in the cache; unknown words
// come back unmarked (apertium -u).
//
// Supervision: a pipeline that has exited, broke its pipes or makes no progress for timeout_ms
// is killed (its whole process group, every child reaped) and restarted, and the text is tried
// once more; if that fails too the translation is Unavailable and the next one starts afresh.
// A cancelled translation (CancelToken) also kills the pipeline, whose answer may be half read;
// the next translation starts a fresh one. The stages run in a process group of their own (a
// terminal's Ctrl-C reaches loquilex, not them) and exit on their own if loquilex dies, when
// their input closes.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "mt/translator.h"

namespace lx::mt {

struct ApertiumOptions {
  std::string modes_dir = "/usr/share/apertium/modes";  // where installed pairs' .mode files are
  // A translation not answered by then (no byte written to or read from the pipeline for this
  // long, so a 10,000-word text that flows is never cut): restart + retry once.
  int timeout_ms = 5000;
  size_t cache_entries = 4096;  // bounded cache keyed by (pair, text); 0 = no cache
  // Open() translates a short sentence before it returns, so the pipeline has loaded its data
  // (a first request costs ~200 ms more than the next ones) before the first caption needs it.
  bool warm_up = true;
  // InvalidArgument when a field is out of range (empty modes_dir, timeout_ms <= 0).
  Status Validate() const;
};

// What a pair's pipeline has done, for diagnostics and tests.
struct ApertiumPipelineStats {
  LanguagePair pair;
  std::vector<pid_t> pids;  // its running processes, first stage first; empty when stopped
  uint64_t starts = 0;      // how often it was started (1 + restarts)
  uint64_t requests = 0;    // translations it answered (cache hits never reach it)
};

struct ApertiumStats {
  uint64_t cache_hits = 0;
  uint64_t cache_misses = 0;
  size_t cache_size = 0;                         // entries held now
  std::vector<ApertiumPipelineStats> pipelines;  // one per opened pair, sorted by pair name
};

// A TranslatorProvider that can also report on its pipelines. Thread-safe.
class ApertiumProvider : public TranslatorProvider {
 public:
  // A snapshot of the cache's and the pipelines' figures. Never blocks on a translation.
  virtual ApertiumStats Stats() const = 0;
};

// The Apertium provider: discovers installed pairs from modes_dir (no hard-coded list) once,
// here. Pair names are the mode names with their codes made ISO 639-3 ("en-gl" -> eng-glg);
// variants ("eng-cat_valencia") are not offered. Open() starts a pair's pipeline and warms it
// (Unavailable when its mode file cannot be read or parsed, a program cannot be started or the
// warm-up fails after a restart); pipelines live
// until the provider and every translator it gave out are gone. InvalidArgument when `options`
// do not validate; NotFound when modes_dir cannot be read.
Result<std::unique_ptr<ApertiumProvider>> OpenApertiumProvider(ApertiumOptions options);

// The same, as the engine-neutral interface.
Result<std::unique_ptr<TranslatorProvider>> CreateApertiumProvider(ApertiumOptions options);

}  // namespace lx::mt
