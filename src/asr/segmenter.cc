#include "asr/segmenter.h"

#include <algorithm>
#include <sstream>
#include <utility>

#include "audio/audio_reader.h"

namespace lx::asr {
namespace {

constexpr int64_t kSamplesPerSecond = audio::kSampleRate;
// Words of a final may start before the voice-activity trigger (the engine keeps some audio from
// before it); arrival times are kept this far back.
constexpr int64_t kArrivalMarginSamples = kSamplesPerSecond;

std::vector<std::string> SplitWords(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(std::move(word));
  return words;
}

std::string JoinWords(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& word : words) {
    if (!out.empty()) out += ' ';
    out += word;
  }
  return out;
}

// Number of leading words two hypotheses share.
size_t CommonPrefix(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  return static_cast<size_t>(std::mismatch(a.begin(), a.end(), b.begin(), b.end()).first -
                             a.begin());
}

}  // namespace

Status SegmenterConfig::Validate() const {
  if (partial_interval_ms < 10 || partial_interval_ms > 10000) {
    return Status::InvalidArgument("partial_interval_ms must be between 10 and 10000");
  }
  if (silence_ms < 10 || silence_ms > 10000) {
    return Status::InvalidArgument("silence_ms must be between 10 and 10000");
  }
  if (!(max_segment_s >= 1 && max_segment_s <= 600)) {
    return Status::InvalidArgument("max_segment_s must be between 1 and 600");
  }
  if (stable_after_ms < 0 || stable_after_ms > 10000) {
    return Status::InvalidArgument("stable_after_ms must be between 0 and 10000");
  }
  return Status::Ok();
}

Segmenter::Segmenter(std::unique_ptr<EngineStream> engine, const SegmenterConfig& config,
                     const Clock& clock, CaptionSink* sink)
    : engine_(std::move(engine)), config_(config), clock_(clock), sink_(sink) {
  pending_.reserve(kBlockSamples);
}

double Segmenter::Seconds(int64_t samples) const {
  return static_cast<double>(samples) / kSamplesPerSecond;
}

double Segmenter::audio_seconds() const { return Seconds(samples_decoded_); }

double Segmenter::SecondsSince(int64_t wall_ns) const {
  return std::max<double>(0, static_cast<double>(clock_.NowNs() - wall_ns) / 1e9);
}

Status Segmenter::Feed(std::span<const float> samples) {
  if (!failed_.ok()) return failed_;
  if (finished_) return Status::FailedPrecondition("the stream has already ended");
  const int64_t started_ns = clock_.NowNs();
  PruneArrivals();
  samples_received_ += static_cast<int64_t>(samples.size());
  arrivals_.push_back({samples_received_, started_ns});
  Status status;
  // Complete a pending partial block first, then whole blocks straight from the input.
  if (!pending_.empty()) {
    const size_t take = std::min(kBlockSamples - pending_.size(), samples.size());
    pending_.insert(pending_.end(), samples.begin(), samples.begin() + take);
    samples = samples.subspan(take);
    if (pending_.size() == kBlockSamples) {
      status = FeedBlock(pending_);
      pending_.clear();
    }
  }
  while (status.ok() && samples.size() >= kBlockSamples) {
    status = FeedBlock(samples.first(kBlockSamples));
    samples = samples.subspan(kBlockSamples);
  }
  if (status.ok()) pending_.insert(pending_.end(), samples.begin(), samples.end());
  metrics_.processing_seconds += SecondsSince(started_ns);
  if (!status.ok()) failed_ = status;
  return status;
}

Status Segmenter::FeedBlock(std::span<const float> block) {
  if (Status s = engine_->Feed(block); !s.ok()) return s;
  samples_decoded_ += static_cast<int64_t>(block.size());
  metrics_.audio_seconds = audio_seconds();
  return AfterBlock();
}

Status Segmenter::AfterBlock() {
  const bool in_speech = engine_->InSpeech();
  if (!in_segment_) {
    if (in_speech) {
      in_segment_ = true;
      segment_start_sample_ = samples_decoded_;
      next_partial_sample_ = samples_decoded_;
    }
    return Status::Ok();
  }
  if (!in_speech) return EndSegment(EouReason::kSilence);
  if (Seconds(samples_decoded_ - segment_start_sample_) >= config_.max_segment_s) {
    return EndSegment(EouReason::kMaxLength);
  }
  if (samples_decoded_ >= next_partial_sample_) {
    next_partial_sample_ += config_.partial_interval_ms * kSamplesPerSecond / 1000;
    if (partials_enabled_) MaybeEmitPartial();
  }
  return Status::Ok();
}

void Segmenter::MaybeEmitPartial() {
  std::vector<std::string> words = SplitWords(engine_->Hypothesis());
  CommitAgreedWords(words);

  // Committed words stay in every later partial of the segment, whatever the engine says now.
  std::vector<std::string> shown = committed_;
  for (size_t i = committed_.size(); i < words.size(); ++i) shown.push_back(words[i]);
  std::string text = JoinWords(shown);
  if (text.empty() || text == last_partial_text_) return;

  if (segment_id_ == 0) segment_id_ = next_segment_id_++;
  Partial partial{segment_id_, next_seq_++, text, JoinWords(committed_).size(),
                  audio_seconds() + skipped_s_};
  last_partial_text_ = std::move(text);
  ++metrics_.partials;
  metrics_.partial_latency.Add(SecondsSince(ArrivalNs(audio_seconds())));
  sink_->OnPartial(partial);
}

void Segmenter::CommitAgreedWords(std::vector<std::string> words) {
  const int64_t window_start =
      samples_decoded_ - int64_t{config_.stable_after_ms} * kSamplesPerSecond / 1000;
  recent_.push_back({samples_decoded_, std::move(words)});
  while (recent_.size() >= 2 && recent_[1].end_sample <= window_start) recent_.pop_front();
  if (recent_.front().end_sample > window_start) return;  // not yet a whole window of them
  const std::vector<std::string>& newest = recent_.back().words;
  size_t agreed = newest.size();
  for (const HypothesisAt& hypothesis : recent_) {
    agreed = std::min(agreed, CommonPrefix(hypothesis.words, newest));
  }
  // Words after committed ones the engine now doubts would not be stable: wait for agreement.
  if (agreed <= committed_.size() || CommonPrefix(committed_, newest) < committed_.size()) return;
  committed_.assign(newest.begin(), newest.begin() + static_cast<std::ptrdiff_t>(agreed));
}

Status Segmenter::EndSegment(EouReason reason) {
  auto utterance = engine_->EndUtterance();
  if (!utterance.ok()) return utterance.status();
  EmitFinal(std::move(utterance.value()), reason);
  ResetSegment();
  return Status::Ok();
}

void Segmenter::EmitFinal(Utterance utterance, EouReason reason) {
  if (utterance.words.empty() && segment_id_ == 0) return;  // noise: nothing was shown
  if (segment_id_ == 0) segment_id_ = next_segment_id_++;
  Final final_caption;
  final_caption.segment_id = segment_id_;
  final_caption.seq = next_seq_++;
  std::vector<std::string> words;
  for (const Word& word : utterance.words) words.push_back(word.w);
  final_caption.text = JoinWords(words);
  if (utterance.words.empty()) {
    final_caption.t0_s = Seconds(segment_start_sample_);
    final_caption.t1_s = audio_seconds();
  } else {
    final_caption.t0_s = utterance.words.front().t0_s;
    final_caption.t1_s = utterance.words.back().t1_s;
  }
  final_caption.words = std::move(utterance.words);
  final_caption.eou_reason = reason;
  // Latency is measured in the engine's time, which the arrivals record.
  const int64_t arrival_ns = ArrivalNs(final_caption.t1_s);
  final_caption.t0_s += skipped_s_;
  final_caption.t1_s += skipped_s_;
  for (Word& word : final_caption.words) {
    word.t0_s += skipped_s_;
    word.t1_s += skipped_s_;
  }

  const std::string stable = JoinWords(committed_);
  if (final_caption.text.compare(0, stable.size(), stable) != 0) {
    ++metrics_.stable_prefix_revisions;
  }
  ++metrics_.finals;
  ++metrics_.finals_by_reason[static_cast<size_t>(reason)];
  metrics_.final_latency.Add(SecondsSince(arrival_ns));
  sink_->OnFinal(final_caption);
}

void Segmenter::ResetSegment() {
  in_segment_ = false;
  segment_id_ = 0;
  committed_.clear();
  recent_.clear();
  last_partial_text_.clear();
}

void Segmenter::PruneArrivals() {
  const int64_t oldest_needed = in_segment_ ? segment_start_sample_ : samples_decoded_;
  const int64_t keep_from = oldest_needed - kArrivalMarginSamples;
  while (!arrivals_.empty() && arrivals_.front().end_sample < keep_from) arrivals_.pop_front();
}

int64_t Segmenter::ArrivalNs(double audio_s) const {
  const auto sample = static_cast<int64_t>(audio_s * kSamplesPerSecond);
  for (const Arrival& arrival : arrivals_) {
    if (arrival.end_sample >= sample) return arrival.wall_ns;
  }
  return arrivals_.empty() ? clock_.NowNs() : arrivals_.back().wall_ns;
}

Status Segmenter::ForceFinal() {
  if (!failed_.ok()) return failed_;
  if (!in_segment_) return Status::Ok();
  Status status = EndSegment(EouReason::kForced);
  if (!status.ok()) failed_ = status;
  return status;
}

Status Segmenter::SkipAudio(double seconds) {
  if (Status s = ForceFinal(); !s.ok()) return s;
  skipped_s_ += seconds;
  return Status::Ok();
}

Status Segmenter::Finish() {
  if (!failed_.ok()) return failed_;
  if (finished_) return Status::Ok();
  finished_ = true;
  const int64_t started_ns = clock_.NowNs();
  Status status;
  if (!pending_.empty()) {
    status = FeedBlock(pending_);
    pending_.clear();
  }
  // Outside a segment the engine holds nothing worth decoding (its voice-activity gate drops
  // non-speech), so only an open segment needs ending.
  if (status.ok() && in_segment_) status = EndSegment(EouReason::kEndOfStream);
  metrics_.processing_seconds += SecondsSince(started_ns);
  if (!status.ok()) failed_ = status;
  return status;
}

}  // namespace lx::asr
