// The recognizer engine seam: a shared, immutable model and per-stream decoding state.
// Adapters (PocketSphinx, test fakes) implement it; the Segmenter drives it.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "asr/caption.h"
#include "base/status.h"

namespace lx::asr {

// Silence that ends speech unless configured otherwise. 200 ms rather than PocketSphinx's 500 ms:
// on the librivox clips it gave a lower word error rate and earlier finals.
inline constexpr int kDefaultSilenceMs = 200;

// Per-stream engine settings.
struct EngineStreamConfig {
  int silence_ms = kDefaultSilenceMs;  // voice-activity hangover: this much silence ends speech
};

// What an utterance decoded to.
struct Utterance {
  std::vector<Word> words;  // in order; filler tokens (silence, noise) removed
};

// One stream's decoding state. Not thread-safe: one thread at a time (a session's worker).
class EngineStream {
 public:
  virtual ~EngineStream() = default;
  // Decodes 16 kHz mono samples in [-1, 1]. Blocks for the recognition work.
  virtual Status Feed(std::span<const float> samples) = 0;
  // Whether the engine's voice-activity detector is in speech after the samples fed so far
  // (it turns false once silence_ms of silence followed speech).
  virtual bool InSpeech() const = 0;
  // The current best hypothesis of the utterance in progress, words separated by single spaces;
  // "" when there is none.
  virtual std::string Hypothesis() = 0;
  // Ends the utterance in progress (running any final pass), returns its words with times in
  // seconds since the stream began, and readies the stream for the next utterance.
  virtual Result<Utterance> EndUtterance() = 0;
};

// A loaded recognizer model. Immutable after loading; CreateStream may be called from any thread.
class EngineModel {
 public:
  virtual ~EngineModel() = default;
  virtual std::string_view engine_name() const = 0;  // e.g. "pocketsphinx"
  virtual std::string_view model_name() const = 0;   // e.g. the model directory
  // A new stream. Unavailable when the engine cannot create one (out of memory, ...).
  virtual Result<std::unique_ptr<EngineStream>> CreateStream(
      const EngineStreamConfig& config) const = 0;
};

}  // namespace lx::asr
