// Machine translation: a language pair, a translator for one pair, and a provider that lists the
// installed pairs and opens translators. asr/ and mt/ know nothing of sessions or events.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace lx::mt {

// A translation direction. Codes are ISO 639-3 ("eng", "spa", "glg"), whatever the engine's own
// names are; `engine_name` is what the engine calls it (Apertium's mode, e.g. "en-gl").
struct LanguagePair {
  std::string source;       // "eng"
  std::string target;       // "spa"
  std::string engine_name;  // e.g. "eng-spa"; "" when the engine needs none
  // "eng-spa": source and target codes joined by '-'.
  std::string Name() const { return source + "-" + target; }
  bool operator==(const LanguagePair& other) const {
    return source == other.source && target == other.target;
  }
};

// The ISO 639-3 code of a language given as ISO 639-1 ("es" -> "spa") or 639-3 ("spa" -> "spa"),
// lower-cased; a code it does not know is returned lower-cased as it is. Pure.
std::string NormalizeLanguageCode(std::string_view code);

// Lets one thread give up on a translation another thread is waiting for. Thread-safe.
class CancelToken {
 public:
  void Cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

 private:
  std::atomic<bool> cancelled_{false};
};

// Translates text of one language pair. Thread-safe: calls may come from several threads (the
// implementation serializes them if its engine must).
class Translator {
 public:
  virtual ~Translator() = default;
  virtual const LanguagePair& pair() const = 0;
  // Translates UTF-8 `text` (invalid bytes are replaced, never passed on) and returns the
  // translation; empty text gives empty text. Blocks until done. Unavailable when the engine
  // failed or timed out (after the implementation's own retry) or `cancel` was set meanwhile.
  virtual Result<std::string> Translate(std::string_view text,
                                        const CancelToken* cancel = nullptr) = 0;
};

// One translation engine (e.g. Apertium): which pairs it has installed, and warm translators
// for them. Thread-safe.
class TranslatorProvider {
 public:
  virtual ~TranslatorProvider() = default;
  // The provider's name as clients see it ("apertium").
  virtual std::string name() const = 0;
  // The installed pairs, sorted by Name(). Found on the machine, never a fixed list.
  virtual std::vector<LanguagePair> Pairs() const = 0;
  // A translator for `source` -> `target` (ISO 639-3 or 639-1 codes), shared by every caller
  // that asks for the same pair. NotFound (naming the installed targets) when the pair is not
  // installed; Unavailable when its engine cannot be started.
  virtual Result<std::shared_ptr<Translator>> Open(std::string_view source,
                                                   std::string_view target) = 0;
};

}  // namespace lx::mt
