#include "session/translation_worker.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "base/logging.h"

namespace lx::session {
namespace {

constexpr char kTranslationFailed[] = "translation failed";
constexpr char kCannotSave[] = "cannot save the translation";

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool IsPunctuation(char c) {
  return c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?';
}

// The whole words of `text`'s first `stable_chars` bytes: a prefix that ends inside a word is
// cut back to the space before it. Trailing spaces are dropped.
std::string_view StableWords(std::string_view text, size_t stable_chars) {
  size_t end = std::min(stable_chars, text.size());
  if (end < text.size() && end > 0 && !IsSpace(text[end]) && !IsSpace(text[end - 1])) {
    while (end > 0 && !IsSpace(text[end - 1])) --end;  // inside a word: not stable yet
  }
  while (end > 0 && IsSpace(text[end - 1])) --end;
  return text.substr(0, end);
}

size_t CountWords(std::string_view text) {
  size_t words = 0;
  bool in_word = false;
  for (char c : text) {
    if (!IsSpace(c) && !in_word) ++words;
    in_word = !IsSpace(c);
  }
  return words;
}

double Seconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }

}  // namespace

std::optional<Draft> DraftGate::Offer(const asr::Partial& partial) {
  if (partial.segment_id <= closed_through_) return std::nullopt;
  if (partial.segment_id != segment_id_) {
    segment_id_ = partial.segment_id;
    drafted_words_ = 0;
  }
  const std::string_view stable = StableWords(partial.text, partial.stable_chars);
  const size_t words = CountWords(stable);
  if (words <= drafted_words_) return std::nullopt;
  const size_t added = words - drafted_words_;
  const bool at_punctuation = IsPunctuation(stable.back());
  if (added < static_cast<size_t>(cadence_words_) && !at_punctuation) return std::nullopt;
  drafted_words_ = words;
  return Draft{partial.segment_id, std::string(stable), stable.size()};
}

void DraftGate::Close(uint64_t segment_id) {
  closed_through_ = std::max(closed_through_, segment_id);
}

events::Json TranslationMetricsToJson(const TranslationMetrics& metrics) {
  return events::Json{{"finals", metrics.finals},
                      {"partials", metrics.partials},
                      {"errors", metrics.errors},
                      {"skipped_drafts", metrics.skipped_drafts},
                      {"latency",
                       {{"count", metrics.latency.count()},
                        {"p50", metrics.latency.Quantile(0.5)},
                        {"p95", metrics.latency.Quantile(0.95)},
                        {"max", metrics.latency.max()}}}};
}

TranslationWorker::TranslationWorker(std::shared_ptr<mt::Translator> translator,
                                     std::string provider,
                                     std::shared_ptr<store::TranslationLog> log,
                                     TranslationWorkerOptions options, const Clock& clock)
    : translator_(std::move(translator)),
      provider_(std::move(provider)),
      log_(std::move(log)),
      options_(options),
      clock_(clock),
      gate_(options.cadence_words) {}

TranslationWorker::~TranslationWorker() { Finish(); }

Status TranslationWorker::Start(const std::string& session_id, TranslationPublisher publish) {
  publish_ = std::move(publish);
  std::lock_guard lock(join_mutex_);
  try {
    thread_ = std::thread([this, session_id] {
      const ScopedLogFields scope({{"session_id", session_id}});  // lines name their session
      Run();
    });
  } catch (const std::system_error& e) {
    return Status::Unavailable("cannot start a translation thread: " + std::string(e.what()));
  }
  return Status::Ok();
}

void TranslationWorker::OnPartial(const asr::Partial& partial) {
  std::optional<Draft> draft = gate_.Offer(partial);
  if (!draft) return;
  std::lock_guard lock(mutex_);
  if (finishing_) return;
  auto waiting =
      std::find_if(queue_.begin(), queue_.end(), [](const Job& j) { return !j.is_final; });
  Job job{false, draft->segment_id, std::move(draft->text), draft->src_chars, 0};
  if (waiting != queue_.end()) {
    *waiting = std::move(job);  // superseded: the newer prefix says more
    ++metrics_.skipped_drafts;
    return;
  }
  if (queue_.size() >= options_.queue_limit_jobs) {
    ++metrics_.skipped_drafts;
    return;
  }
  queue_.push_back(std::move(job));
  wake_.notify_one();
}

void TranslationWorker::CloseSegment(uint64_t segment_id) {
  gate_.Close(segment_id);
  std::lock_guard lock(mutex_);
  closed_through_ = std::max(closed_through_, segment_id);
  if (draft_in_flight_ != 0 && draft_in_flight_ <= segment_id && draft_cancel_) {
    draft_cancel_->Cancel();
  }
}

void TranslationWorker::OnFinal(const asr::Final& final_caption) {
  std::lock_guard lock(mutex_);
  DropQueuedDrafts();
  queue_.push_back(Job{true, final_caption.segment_id, final_caption.text, 0, clock_.NowNs()});
  wake_.notify_one();
}

void TranslationWorker::Finish() {
  {
    std::lock_guard lock(mutex_);
    finishing_ = true;
    DropQueuedDrafts();
    wake_.notify_all();
  }
  std::lock_guard lock(join_mutex_);
  if (thread_.joinable()) thread_.join();
}

TranslationMetrics TranslationWorker::metrics() const {
  std::lock_guard lock(mutex_);
  return metrics_;
}

void TranslationWorker::DropQueuedDrafts() {
  const auto before = queue_.size();
  std::erase_if(queue_, [](const Job& job) { return !job.is_final; });
  metrics_.skipped_drafts += before - queue_.size();
}

void TranslationWorker::Run() {
  while (true) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return finishing_ || !queue_.empty(); });
      if (queue_.empty()) return;  // finishing, and every final is done
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      if (job.is_final) {
        TranslateFinal(job);
      } else {
        TranslateDraft(job);
      }
    } catch (const std::exception& e) {
      // The sink is what threw (Translate reports failures as a Status): the session's own
      // worker hears of a broken sink through its own events; here, log and go on.
      spdlog::warn("cannot publish a translation: {}", e.what());
    }
  }
}

void TranslationWorker::TranslateDraft(const Job& job) {
  auto cancel = std::make_shared<mt::CancelToken>();
  {
    std::lock_guard lock(mutex_);
    if (job.segment_id <= closed_through_) {
      ++metrics_.skipped_drafts;
      return;
    }
    draft_in_flight_ = job.segment_id;
    draft_cancel_ = cancel;
  }
  auto translated = translator_->Translate(job.text, cancel.get());
  std::lock_guard lock(mutex_);
  draft_in_flight_ = 0;
  draft_cancel_.reset();
  // Checked and published under the lock, so CloseSegment (before the asr.final) cannot pass
  // between the check and the publication.
  if (!translated.ok() || job.segment_id <= closed_through_) {
    if (!translated.ok() && !cancel->cancelled()) {
      spdlog::debug("draft translation failed: {}", translated.status().ToString());
    }
    ++metrics_.skipped_drafts;
    return;
  }
  ++metrics_.partials;
  Emit(events::TranslationPartial{job.segment_id, std::move(translated).value(), job.src_chars});
}

void TranslationWorker::TranslateFinal(const Job& job) {
  auto translated = translator_->Translate(job.text);
  if (!translated.ok()) {
    PublishError(job, kTranslationFailed, translated.status().ToString());
    return;
  }
  const int64_t latency_ns = clock_.NowNs() - job.queued_ns;
  const mt::LanguagePair& pair = translator_->pair();
  events::TranslationFinal translation{.segment_id = job.segment_id,
                                       .src_text = job.text,
                                       .text = std::move(translated).value(),
                                       .src_lang = pair.source,
                                       .tgt_lang = pair.target,
                                       .provider = provider_,
                                       .latency_ms = latency_ns / 1'000'000};
  if (Status saved = log_->Append(translation); !saved.ok()) {
    PublishError(job, kCannotSave, saved.ToString());
    return;
  }
  {
    std::lock_guard lock(mutex_);
    ++metrics_.finals;
    metrics_.latency.Add(Seconds(latency_ns));
  }
  Emit(std::move(translation));
}

void TranslationWorker::PublishError(const Job& job, const std::string& detail,
                                     const std::string& why) {
  const std::string error_id = NewLogId();
  LogWith(spdlog::level::warn, {{"error_id", error_id}}, "segment {}: {}: {}", job.segment_id,
          detail, why);
  {
    std::lock_guard lock(mutex_);
    ++metrics_.errors;
  }
  const mt::LanguagePair& pair = translator_->pair();
  Emit(events::TranslationError{.segment_id = job.segment_id,
                                .src_text = job.text,
                                .src_lang = pair.source,
                                .tgt_lang = pair.target,
                                .provider = provider_,
                                .detail = detail,
                                .error_id = error_id});
}

void TranslationWorker::Emit(events::Payload payload) { publish_(std::move(payload)); }

}  // namespace lx::session
