// Translated captions for one session: which partials deserve a draft, and the thread that
// translates drafts and finals off the recognizer's thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "asr/caption.h"
#include "asr/stream_metrics.h"
#include "base/clock.h"
#include "base/status.h"
#include "events/event.h"
#include "events/json_codec.h"
#include "mt/translator.h"
#include "store/session_log.h"

namespace lx::session {

// A stretch of a segment's stable prefix to translate as a draft.
struct Draft {
  uint64_t segment_id = 0;
  std::string text;      // the stable prefix, without trailing spaces
  size_t src_chars = 0;  // its length in bytes (a prefix of the partial's text)
};

// Decides, partial by partial, when a segment's stable prefix is worth a draft translation: once
// at least `cadence_words` words were added to it since the segment's last draft, or as soon as
// it grew and ends in punctuation (. , ; : ! ?). Only whole words count: a stable prefix that
// ends inside a word is cut back to the word before. No draft for a segment once it is closed
// (its final came) or for an older segment. Not thread-safe (the session's worker uses it).
class DraftGate {
 public:
  explicit DraftGate(int cadence_words) : cadence_words_(cadence_words) {}
  // The draft to translate after `partial`, or nullopt.
  std::optional<Draft> Offer(const asr::Partial& partial);
  // The segment's final came: no drafts for it or any earlier segment from now on.
  void Close(uint64_t segment_id);

 private:
  const int cadence_words_;
  uint64_t segment_id_ = 0;      // the segment drafted last
  size_t drafted_words_ = 0;     // words of its stable prefix already drafted
  uint64_t closed_through_ = 0;  // segments up to this one have their final
};

// What a session's translations did. Copy it to read it (TranslationWorker::metrics()).
struct TranslationMetrics {
  size_t finals = 0;    // mt.final published
  size_t partials = 0;  // mt.partial published
  size_t errors = 0;    // mt.error published (finals that could not be translated or saved)
  // Drafts not published: superseded by a newer draft while queued, refused by a full queue,
  // dropped because their segment's final came first, failed, or left at the end.
  size_t skipped_drafts = 0;
  asr::LatencyStats latency;  // a final's publication -> its mt.final's, in seconds
};

// {finals, partials, errors, skipped_drafts, latency: {count, p50, p95, max}} (seconds).
events::Json TranslationMetricsToJson(const TranslationMetrics& metrics);

struct TranslationWorkerOptions {
  int cadence_words = 3;         // DraftGate's cadence
  size_t queue_limit_jobs = 16;  // drafts are refused once this many jobs wait (see below)
};

// Receives the worker's events (mt.final, mt.partial, mt.error). Called from the worker's thread;
// must not block, and must not call back into the worker.
using TranslationPublisher = std::function<void(events::Payload payload)>;

// Translates a session's finals and drafts on its own thread, so that a slow or failing
// translation engine never holds up the recognizer.
//
// Queue (bounded; overflow policy "skip drafts, keep finals"): at most one draft waits at a time,
// a newer one superseding it; a draft is refused when queue_limit_jobs jobs already wait; a
// final is always queued (finals are never dropped; they come at most once per segment, so
// only an engine that stalls lets them pile up, each then bounded by the engine's timeout), and
// removes the drafts still waiting. Every refused or superseded draft is counted in
// skipped_drafts.
//
// Order: finals are translated one at a time in the order they came. The session publishes each
// asr.final before it hands the final to OnFinal, so every mt.final follows its asr.final. A
// draft of a segment is published only if the segment was not closed (CloseSegment, called
// before its asr.final is published) by the time it is, so no mt.partial follows its segment's
// asr.final; a draft in flight when its segment closes is cancelled.
//
// Every translation of a final is appended to the translation log before it is published. A
// failure (the engine's Unavailable after its own retry, or a log that cannot be written) is
// published as mt.error with a fixed detail ("translation failed", "cannot save the
// translation") and an error id; the text goes to the log under that id, and later finals are
// translated as usual.
//
// Threads: OnPartial, CloseSegment, OnFinal are for one thread (the session's worker); Finish,
// metrics() and the destructor are thread-safe.
class TranslationWorker {
 public:
  // `translator` translates the session's pair; `provider` is its engine's name (for events);
  // `log` receives each mt.final. Nothing runs until Start.
  TranslationWorker(std::shared_ptr<mt::Translator> translator, std::string provider,
                    std::shared_ptr<store::TranslationLog> log, TranslationWorkerOptions options,
                    const Clock& clock);
  // Finish()es.
  ~TranslationWorker();
  TranslationWorker(const TranslationWorker&) = delete;
  TranslationWorker& operator=(const TranslationWorker&) = delete;

  // Starts the thread (its log lines name `session_id`); events go to `publish`. Unavailable
  // when the thread cannot be started.
  Status Start(const std::string& session_id, TranslationPublisher publish);
  // Offers a partial to the DraftGate; a draft it yields is queued. Does not block.
  void OnPartial(const asr::Partial& partial);
  // No draft of `segment_id` (or an earlier segment) is published once this returns; one in
  // flight is cancelled. Call it before publishing the segment's asr.final. Does not block.
  void CloseSegment(uint64_t segment_id);
  // Queues the final's translation (after its asr.final was published); never dropped.
  void OnFinal(const asr::Final& final_caption);
  // Drops the waiting drafts, translates the finals still queued, then stops the thread and
  // waits for it (each translation bounded by the engine's own timeout). Idempotent.
  void Finish();
  TranslationMetrics metrics() const;

 private:
  struct Job {
    bool is_final = false;
    uint64_t segment_id = 0;
    std::string text;
    size_t src_chars = 0;   // drafts: bytes of the source prefix
    int64_t queued_ns = 0;  // finals: when the final was published (clock_)
  };

  void Run();
  void TranslateDraft(const Job& job);
  void TranslateFinal(const Job& job);
  void PublishError(const Job& job, const std::string& detail, const std::string& why);
  void Emit(events::Payload payload);
  // Erases the drafts waiting in the queue, counting them as skipped; mutex_ held.
  void DropQueuedDrafts();

  const std::shared_ptr<mt::Translator> translator_;
  const std::string provider_;
  const std::shared_ptr<store::TranslationLog> log_;
  const TranslationWorkerOptions options_;
  const Clock& clock_;
  TranslationPublisher publish_;  // set by Start, before the thread runs
  DraftGate gate_;                // the session's worker only

  mutable std::mutex mutex_;
  std::condition_variable wake_;  // a job came, or Finish
  std::deque<Job> queue_;         // guarded by mutex_
  bool finishing_ = false;        // guarded by mutex_
  uint64_t closed_through_ = 0;   // guarded by mutex_; see CloseSegment
  // The draft being translated (segment 0: none) and its token.
  uint64_t draft_in_flight_ = 0;                   // guarded by mutex_
  std::shared_ptr<mt::CancelToken> draft_cancel_;  // guarded by mutex_
  TranslationMetrics metrics_;                     // guarded by mutex_

  std::mutex join_mutex_;  // serializes Finish
  std::thread thread_;     // guarded by join_mutex_ once started
};

}  // namespace lx::session
