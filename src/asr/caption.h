// Value types a streaming recognizer produces: partial and final captions.
// Plain data, freely copyable, safe to hand between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lx::asr {

// Why a segment ended.
enum class EouReason {
  kSilence,      // voice activity ended (silence_ms of silence)
  kMaxLength,    // the segment reached max_segment_s
  kForced,       // the caller forced it (Segmenter::ForceFinal)
  kEndOfStream,  // the audio ended
};

// "silence", "max_length", "forced", "end_of_stream" (the wire names).
std::string_view EouReasonName(EouReason reason);
// The inverse of EouReasonName; nullopt for an unknown name.
std::optional<EouReason> EouReasonFromName(std::string_view name);

// One recognized word. Times are seconds of audio since the stream began.
struct Word {
  std::string w;
  double t0_s = 0;
  double t1_s = 0;
  double conf = 0;  // posterior probability in [0, 1]
};

// A provisional hypothesis of the segment in progress.
struct Partial {
  uint64_t segment_id = 0;
  uint64_t seq = 0;
  std::string text;
  size_t stable_chars = 0;   // length in bytes of the prefix of `text` no later partial changes
  double t_audio_end_s = 0;  // audio time up to which this hypothesis covers
};

// The settled text of a segment, emitted exactly once per segment.
struct Final {
  uint64_t segment_id = 0;
  uint64_t seq = 0;
  std::string text;
  std::vector<Word> words;
  double t0_s = 0;  // start of the segment's speech
  double t1_s = 0;  // end of the segment's speech
  EouReason eou_reason = EouReason::kSilence;
};

}  // namespace lx::asr
