// The streaming recognizer: turns a stream of audio into partial and final captions.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "asr/caption.h"
#include "asr/engine.h"
#include "asr/stream_metrics.h"
#include "base/clock.h"
#include "base/status.h"

namespace lx::asr {

// How a stream is segmented and how often it reports.
struct SegmenterConfig {
  int partial_interval_ms = 100;  // audio between two looks at the hypothesis (10..10000)
  int silence_ms =
      kDefaultSilenceMs;      // silence ending a segment (10..10000); the engine applies it
  double max_segment_s = 30;  // a segment longer than this is cut (1..600)
  // A word becomes stable once every hypothesis over this much audio began with it (0..10000).
  // 400 ms: on pocketsphinx-testdata speech, 100 ms (LocalAgreement-2) let 26 of 38 finals
  // revise their stable prefix, 400 ms 3 (bench/stable_prefix.py).
  int stable_after_ms = 400;

  // InvalidArgument naming the field and its allowed range.
  Status Validate() const;
  // The engine settings that realize this configuration.
  EngineStreamConfig EngineConfig() const { return EngineStreamConfig{silence_ms}; }
};

// Receives captions, on the thread that drives the Segmenter.
class CaptionSink {
 public:
  virtual ~CaptionSink() = default;
  virtual void OnPartial(const Partial& partial) = 0;
  virtual void OnFinal(const Final& final_caption) = 0;
};

// Drives an EngineStream: feeds it audio in fixed 10 ms blocks (so the result never depends on
// how the caller chunks the audio), follows its voice activity to open and close segments, emits
// partials with a stable prefix (LocalAgreement over time: the words every hypothesis of the
// last stable_after_ms of audio began with are committed), and emits each segment's final
// exactly once.
//
// Invariants: seq strictly increases over all events; a segment's id is the same on its partials
// and its final; no partial of a segment follows its final; segments with no words and no
// partial produce no events. Not thread-safe: one thread (the stream's worker) calls everything.
class Segmenter {
 public:
  // The block the engine is fed, 10 ms at 16 kHz.
  static constexpr size_t kBlockSamples = 160;

  // `engine` must have been created with config.EngineConfig(); `sink` and `clock` outlive this.
  Segmenter(std::unique_ptr<EngineStream> engine, const SegmenterConfig& config, const Clock& clock,
            CaptionSink* sink);

  // Recognizes 16 kHz mono samples of any length, emitting the captions they complete.
  // Fails (and stays failed) if the engine fails; FailedPrecondition after Finish.
  Status Feed(std::span<const float> samples);
  // Ends the segment in progress now with eou_reason "forced" (nothing if none is open).
  Status ForceFinal();
  // Ends the stream: decodes the buffered remainder and emits the open segment's final with
  // eou_reason "end_of_stream". Later calls do nothing.
  Status Finish();

  // Whether partials are computed (the engine's hypothesis asked for); finals come either way.
  // Off sheds the hypothesis work of an overloaded session.
  void set_partials_enabled(bool enabled) { partials_enabled_ = enabled; }
  // The caller dropped `seconds` of audio unrecognized: ends the open segment (eou_reason
  // "forced") and moves the times of later captions on by `seconds`, so they stay in source
  // time. Fails like ForceFinal.
  Status SkipAudio(double seconds);

  const StreamMetrics& metrics() const { return metrics_; }
  double audio_seconds() const;  // audio recognized (skipped audio not counted)

 private:
  struct Arrival {
    int64_t end_sample;  // audio up to this sample had arrived...
    int64_t wall_ns;     // ...at this time
  };

  Status FeedBlock(std::span<const float> block);
  Status AfterBlock();
  // A hypothesis of the open segment and the audio it covered.
  struct HypothesisAt {
    int64_t end_sample;
    std::vector<std::string> words;
  };

  void MaybeEmitPartial();
  void CommitAgreedWords(std::vector<std::string> words);
  Status EndSegment(EouReason reason);
  void EmitFinal(Utterance utterance, EouReason reason);
  void ResetSegment();
  void PruneArrivals();
  int64_t ArrivalNs(double audio_s) const;
  double SecondsSince(int64_t wall_ns) const;
  double Seconds(int64_t samples) const;

  std::unique_ptr<EngineStream> engine_;
  SegmenterConfig config_;
  const Clock& clock_;
  CaptionSink* sink_;
  Status failed_;
  bool finished_ = false;

  std::vector<float> pending_;    // samples short of a whole block
  int64_t samples_decoded_ = 0;   // samples handed to the engine
  int64_t samples_received_ = 0;  // samples handed to Feed
  std::deque<Arrival> arrivals_;  // back to the start of the open segment
  bool partials_enabled_ = true;
  double skipped_s_ = 0;  // audio skipped so far: engine time + this = source time
  uint64_t next_seq_ = 1;
  uint64_t next_segment_id_ = 1;
  StreamMetrics metrics_;

  // The open segment.
  bool in_segment_ = false;
  uint64_t segment_id_ = 0;  // 0 until its first event
  int64_t segment_start_sample_ = 0;
  int64_t next_partial_sample_ = 0;
  std::vector<std::string> committed_;  // words no later partial changes
  // The hypotheses of the last stable_after_ms, and the newest one before them.
  std::deque<HypothesisAt> recent_;
  std::string last_partial_text_;
};

}  // namespace lx::asr
