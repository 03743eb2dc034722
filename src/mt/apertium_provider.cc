#include "mt/apertium_provider.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <utility>

#include "mt/apertium_mode.h"
#include "mt/apertium_stream.h"
#include "mt/process_pipeline.h"
#include "mt/translation_cache.h"

namespace lx::mt {
namespace {

constexpr char kProviderName[] = "apertium";
// What a new pipeline translates first: a sentence every pair's analyser knows.
constexpr std::string_view kWarmUpText = "Hello.";

// One pair's warm pipeline, supervised. Thread-safe: translations are serialized by
// pipeline_mutex_ (a null-flush pipeline answers one request at a time, in order).
class ApertiumTranslator final : public Translator {
 public:
  ApertiumTranslator(LanguagePair pair, std::vector<Command> commands,
                     std::chrono::milliseconds timeout, std::shared_ptr<TranslationCache> cache)
      : pair_(std::move(pair)),
        commands_(std::move(commands)),
        timeout_(timeout),
        cache_(std::move(cache)) {}

  const LanguagePair& pair() const override { return pair_; }

  // Starts the pipeline and, with `warm_up`, has it translate a sentence (not cached).
  // Unavailable when a stage cannot be started or the warm-up fails after a restart.
  Status Start(bool warm_up) {
    const std::lock_guard lock(pipeline_mutex_);
    if (Status s = StartLocked(); !s.ok()) return s;
    if (!warm_up) return Status::Ok();
    auto warmed = TranslateLocked(kWarmUpText, nullptr);
    return warmed.ok() ? Status::Ok() : warmed.status();
  }

  Result<std::string> Translate(std::string_view text, const CancelToken* cancel) override {
    const std::string normalized = NormalizeCaptionText(text);
    if (normalized.empty()) return std::string();
    if (auto cached = cache_->Find(pair_.Name(), normalized)) return std::move(*cached);
    const std::lock_guard lock(pipeline_mutex_);
    auto translation = TranslateLocked(normalized, cancel);
    if (translation.ok()) cache_->Insert(pair_.Name(), normalized, translation.value());
    return translation;
  }

  ApertiumPipelineStats Stats() const {
    const std::lock_guard lock(stats_mutex_);
    return stats_;
  }

 private:
  // Two tries: the running (or a freshly started) pipeline, then a restarted one.
  Result<std::string> TranslateLocked(std::string_view text, const CancelToken* cancel) {
    Status last_error;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (cancel != nullptr && cancel->cancelled()) break;
      if (!pipeline_.Running()) {
        last_error = StartLocked();
        if (!last_error.ok()) continue;
      }
      const uint64_t request_id = ++request_count_;
      auto answer =
          pipeline_.Exchange(EncodeApertiumRequest(text, request_id), '\0', timeout_, cancel);
      if (answer.ok()) {
        if (auto translation = DecodeApertiumAnswer(answer.value(), request_id)) {
          const std::lock_guard lock(stats_mutex_);
          ++stats_.requests;
          return std::move(*translation);
        }
      }
      last_error =
          answer.ok() ? Status::Unavailable("the pipeline answered out of turn") : answer.status();
      // Its state is unknown (a late answer may still come): only a fresh one is safe.
      StopLocked();
    }
    if (cancel != nullptr && cancel->cancelled()) {
      return Status::Unavailable("the translation was cancelled");
    }
    return Status::Unavailable(fmt::format("Apertium {} failed after a restart: {}",
                                           pair_.engine_name, last_error.message()));
  }

  Status StartLocked() {
    Status status = pipeline_.Start(commands_);
    const std::lock_guard lock(stats_mutex_);
    ++stats_.starts;
    stats_.pids = status.ok() ? pipeline_.pids() : std::vector<pid_t>{};
    return status;
  }

  void StopLocked() {
    pipeline_.Kill();
    const std::lock_guard lock(stats_mutex_);
    stats_.pids.clear();
  }

  const LanguagePair pair_;
  const std::vector<Command> commands_;
  const std::chrono::milliseconds timeout_;
  const std::shared_ptr<TranslationCache> cache_;

  std::mutex pipeline_mutex_;       // held for a whole translation
  ProcessPipeline pipeline_;        // GUARDED_BY(pipeline_mutex_)
  uint64_t request_count_ = 0;      // GUARDED_BY(pipeline_mutex_); names each request
  mutable std::mutex stats_mutex_;  // held only to copy figures, never during a translation
  ApertiumPipelineStats stats_{pair_, {}, 0, 0};  // GUARDED_BY(stats_mutex_)
};

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

class ApertiumProviderImpl final : public ApertiumProvider {
 public:
  ApertiumProviderImpl(ApertiumOptions options, std::vector<LanguagePair> pairs)
      : options_(std::move(options)),
        pairs_(std::move(pairs)),
        cache_(std::make_shared<TranslationCache>(options_.cache_entries)) {}

  std::string name() const override { return kProviderName; }
  std::vector<LanguagePair> Pairs() const override { return pairs_; }

  Result<std::shared_ptr<Translator>> Open(std::string_view source,
                                           std::string_view target) override {
    const std::string from = NormalizeLanguageCode(source);
    const std::string to = NormalizeLanguageCode(target);
    const auto it = std::find_if(pairs_.begin(), pairs_.end(), [&](const LanguagePair& pair) {
      return pair.source == from && pair.target == to;
    });
    if (it == pairs_.end()) return NotInstalled(from, to);
    const std::lock_guard lock(mutex_);
    if (auto open = translators_.find(it->Name()); open != translators_.end()) {
      return std::shared_ptr<Translator>(open->second);
    }
    auto commands = ReadMode(*it);
    if (!commands.ok()) return commands.status();
    auto translator = std::make_shared<ApertiumTranslator>(
        *it, std::move(commands.value()), std::chrono::milliseconds(options_.timeout_ms), cache_);
    if (Status s = translator->Start(options_.warm_up); !s.ok()) {
      return Status::Unavailable(fmt::format("Apertium {}: {}", it->engine_name, s.message()));
    }
    translators_.emplace(it->Name(), translator);
    return std::shared_ptr<Translator>(translator);
  }

  ApertiumStats Stats() const override {
    ApertiumStats stats{cache_->hits(), cache_->misses(), cache_->size(), {}};
    const std::lock_guard lock(mutex_);
    for (const auto& [name, translator] : translators_) {
      stats.pipelines.push_back(translator->Stats());
    }
    return stats;
  }

 private:
  Result<std::vector<Command>> ReadMode(const LanguagePair& pair) const {
    const std::string path =
        (std::filesystem::path(options_.modes_dir) / (pair.engine_name + ".mode")).string();
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) return Status::Unavailable("cannot read the Apertium mode file " + path);
    auto commands = ParseModeCommands(text.str());
    if (!commands.ok()) {
      return Status::Unavailable("cannot use the Apertium mode file " + path + ": " +
                                 commands.status().message());
    }
    return commands;
  }

  Status NotInstalled(const std::string& from, const std::string& to) const {
    std::vector<std::string> targets;
    std::vector<std::string> all;
    for (const LanguagePair& pair : pairs_) {
      if (pair.source == from) targets.push_back(pair.target);
      all.push_back(pair.Name());
    }
    if (!targets.empty()) {
      return Status::NotFound(fmt::format("no Apertium pair {}-{} is installed; targets for {}: {}",
                                          from, to, from, JoinNames(targets)));
    }
    return Status::NotFound(fmt::format("no Apertium pair {}-{} is installed; installed pairs: {}",
                                        from, to, all.empty() ? "none" : JoinNames(all)));
  }

  const ApertiumOptions options_;
  const std::vector<LanguagePair> pairs_;
  const std::shared_ptr<TranslationCache> cache_;
  mutable std::mutex mutex_;  // guards translators_; held while a pipeline starts
  std::map<std::string, std::shared_ptr<ApertiumTranslator>> translators_;  // by pair name
};

}  // namespace

Status ApertiumOptions::Validate() const {
  if (modes_dir.empty()) return Status::InvalidArgument("the Apertium modes folder is empty");
  if (timeout_ms <= 0) {
    return Status::InvalidArgument("the Apertium timeout_ms must be > 0, got " +
                                   std::to_string(timeout_ms));
  }
  return Status::Ok();
}

Result<std::unique_ptr<ApertiumProvider>> OpenApertiumProvider(ApertiumOptions options) {
  if (Status s = options.Validate(); !s.ok()) return s;
  auto pairs = DiscoverModes(options.modes_dir);
  if (!pairs.ok()) return pairs.status();
  return std::unique_ptr<ApertiumProvider>(
      std::make_unique<ApertiumProviderImpl>(std::move(options), std::move(pairs.value())));
}

Result<std::unique_ptr<TranslatorProvider>> CreateApertiumProvider(ApertiumOptions options) {
  auto provider = OpenApertiumProvider(std::move(options));
  if (!provider.ok()) return provider.status();
  return std::unique_ptr<TranslatorProvider>(std::move(provider.value()));
}

}  // namespace lx::mt
