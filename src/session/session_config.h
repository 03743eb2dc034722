// What a live captioning session is asked to do (the body of POST /sessions).
#pragma once

#include <string>

#include "asr/segmenter.h"
#include "audio/audio_reader.h"
#include "base/status.h"
#include "events/json_codec.h"
#include "session/overload.h"

namespace lx::session {

// Where a session's audio comes from.
struct SourceConfig {
  enum class Type { kMic, kFile, kPush };
  Type type = Type::kFile;
  std::string device{};     // mic: ALSA PCM name; "" = the default device
  std::string path{};       // file: audio file to play
  double speed = 1.0;       // file: pace as a multiple of real time; 0 = as fast as possible
  bool loop = false;        // file: start again at the end
  int sample_rate = 16000;  // push: rate of the pushed PCM frames (Hz)
  audio::RawFormat format = audio::RawFormat::kS16LE;  // push: sample format of the frames
};

// Whether a session keeps the audio it recognizes, and as what: <data>/<sid>/audio.wav or
// audio.flac, 16 kHz mono 16-bit (see session.h for when it is written).
enum class SaveAudio { kOff, kWav, kFlac };

// Translated captions: each final (and drafts of the partials' stable prefix) translated from
// English into `target` by the server's translation provider (see translation_worker.h).
struct TranslationConfig {
  bool enabled = false;
  std::string target{};   // ISO 639-3 after parsing ("es" is read as "spa"); needed when enabled
  int cadence_words = 3;  // a draft (mt.partial) once this many new stable words have appeared
};

struct SessionConfig {
  std::string name{};  // free text shown to viewers
  SourceConfig source{};
  asr::SegmenterConfig asr{};
  OverloadConfig overload{};               // read from the asr section (overload_lag_s, max_lag_s)
  std::string model_dir{};                 // "" = the server's default model
  SaveAudio save_audio = SaveAudio::kOff;  // keep the recognized audio in the data folder
  TranslationConfig mt{};                  // translated captions; off by default

  // InvalidArgument naming the field (e.g. "source.speed") and what it must be.
  Status Validate() const;
};

// Parses and validates a POST /sessions body. Unknown fields and wrong types are InvalidArgument
// naming the field ("source.speed must be a number"). Pure.
Result<SessionConfig> SessionConfigFromJson(const events::Json& body);
// The config as JSON, in the same shape SessionConfigFromJson reads (for snapshots).
events::Json SessionConfigToJson(const SessionConfig& config);

}  // namespace lx::session
