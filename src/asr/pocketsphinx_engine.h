// The PocketSphinx engine (Debian's libpocketsphinx 5prealpha) behind the asr::EngineModel seam.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "asr/engine.h"
#include "base/status.h"

namespace lx::asr {

// Where Debian's pocketsphinx-en-us package installs the US-English model.
inline constexpr char kDefaultPocketSphinxModelDir[] = "/usr/share/pocketsphinx/model/en-us";

// The files a PocketSphinx model directory provides.
struct PocketSphinxModelFiles {
  std::string acoustic_dir;    // folder holding mdef, means, variances, ...
  std::string language_model;  // n-gram model (.lm.bin, .lm, .DMP)
  std::string dictionary;      // pronunciation dictionary (.dict, .dic)
};

// Finds the acoustic model, language model and dictionary in `model_dir` (either the folder
// itself or one level of subfolders). NotFound names what is missing and, for the default
// directory, the Debian package that provides it. Reads the file system only.
Result<PocketSphinxModelFiles> FindPocketSphinxModelFiles(const std::string& model_dir);

struct PocketSphinxOptions {
  // Folder where models that loaded cleanly are remembered (by their files' paths, sizes and
  // modification times), so later loads skip the check in a child process; "" = always check.
  std::string verified_models_dir;
};

// Loads the model in `model_dir`: first in a short-lived child process, unless this exact set of
// files was verified before (PocketSphinx exits the process on a damaged model file), then
// in-process as a first decoder, which the first CreateStream call reuses. NotFound/Unavailable
// name the problem. Blocks for about a second. Thread-safe.
//
// What is shared: decoders are created and freed under one process-wide lock, and PocketSphinx's
// logging is routed once into spdlog (debug level); its other globals are only touched there.
// Each stream loads its own language model (about 34 MB of a decoder's 93 MB): Debian's
// sphinxbase caches n-gram history inside the model (lm_trie_score writes the trie's
// hist_cache/backoff_cache on every score), so one model scored by two decoding threads at once
// races; helgrind reports it (docs/BENCHMARKS.md, "Memory per session").
Result<std::unique_ptr<EngineModel>> LoadPocketSphinxModel(const std::string& model_dir,
                                                           const PocketSphinxOptions& options = {});

}  // namespace lx::asr
