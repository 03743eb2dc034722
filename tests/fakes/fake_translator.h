// A scriptable translator for tests: deterministic "translations" (a dictionary, else the text
// upper-cased), with scripted failures and a gate that holds every translation until opened.
#pragma once

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "mt/translator.h"

namespace lx::testing {

// Translates word by word: a word in `dictionary` becomes its entry, any other word is
// upper-cased ("hello world" -> "HOLA WORLD" with {hello: hola}). Thread-safe.
class FakeTranslator final : public mt::Translator {
 public:
  explicit FakeTranslator(mt::LanguagePair pair, std::map<std::string, std::string> dictionary = {})
      : pair_(std::move(pair)), dictionary_(std::move(dictionary)) {}

  const mt::LanguagePair& pair() const override { return pair_; }

  Result<std::string> Translate(std::string_view text, const mt::CancelToken* cancel) override {
    std::unique_lock lock(mutex_);
    requests_.emplace_back(text);
    ++in_flight_;
    changed_.notify_all();
    // Held while closed; a cancel lets the caller go (as a real engine's would). A token has no
    // callback, so it is checked every few milliseconds.
    while (!open_ && !(cancel != nullptr && cancel->cancelled())) {
      changed_.wait_for(lock, std::chrono::milliseconds(2));
    }
    --in_flight_;
    if (cancel != nullptr && cancel->cancelled()) return Status::Unavailable("cancelled");
    if (fail_texts_.count(std::string(text)) > 0) {
      return Status::Unavailable("scripted failure for \"" + std::string(text) + "\"");
    }
    return TranslateWords(text);
  }

  // Closes the gate: translations block (inside Translate) until Open or a cancel.
  void Close() {
    std::lock_guard lock(mutex_);
    open_ = false;
  }
  void Open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  // Translating exactly `text` fails with Unavailable.
  void FailOn(const std::string& text) {
    std::lock_guard lock(mutex_);
    fail_texts_.insert(text);
  }
  // Every text asked for, in order.
  std::vector<std::string> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  // Waits until `count` translations are held at the closed gate (or were asked for, when open).
  void WaitForRequests(size_t count) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return requests_.size() >= count; });
  }

  // What Translate returns for `text` (when it does not fail).
  std::string TranslateWords(std::string_view text) const {
    std::string out;
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find(' ', start);
      if (end == std::string_view::npos) end = text.size();
      const std::string word(text.substr(start, end - start));
      if (!out.empty()) out += ' ';
      if (auto it = dictionary_.find(word); it != dictionary_.end()) {
        out += it->second;
      } else {
        std::string upper = word;
        std::transform(upper.begin(), upper.end(), upper.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        out += upper;
      }
      start = end + 1;
    }
    return out;
  }

 private:
  const mt::LanguagePair pair_;
  const std::map<std::string, std::string> dictionary_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = true;                   // guarded by mutex_
  int in_flight_ = 0;                  // guarded by mutex_
  std::set<std::string> fail_texts_;   // guarded by mutex_
  std::vector<std::string> requests_;  // guarded by mutex_
};

// A provider of FakeTranslators for the pairs it is given; one shared translator per pair.
class FakeTranslatorProvider final : public mt::TranslatorProvider {
 public:
  explicit FakeTranslatorProvider(std::vector<mt::LanguagePair> pairs) : pairs_(std::move(pairs)) {
    std::sort(pairs_.begin(), pairs_.end(),
              [](const auto& a, const auto& b) { return a.Name() < b.Name(); });
    for (const auto& pair : pairs_) {
      translators_[pair.Name()] = std::make_shared<FakeTranslator>(pair);
    }
  }
  std::string name() const override { return "fake"; }
  std::vector<mt::LanguagePair> Pairs() const override { return pairs_; }
  Result<std::shared_ptr<mt::Translator>> Open(std::string_view source,
                                               std::string_view target) override {
    const std::string name =
        mt::NormalizeLanguageCode(source) + "-" + mt::NormalizeLanguageCode(target);
    auto it = translators_.find(name);
    if (it == translators_.end()) return Status::NotFound("no pair " + name);
    return std::shared_ptr<mt::Translator>(it->second);
  }
  // The translator of a pair ("eng-spa"), to script it; null when there is none.
  std::shared_ptr<FakeTranslator> translator(const std::string& name) const {
    auto it = translators_.find(name);
    return it == translators_.end() ? nullptr : it->second;
  }

 private:
  std::vector<mt::LanguagePair> pairs_;
  std::map<std::string, std::shared_ptr<FakeTranslator>> translators_;
};

}  // namespace lx::testing
