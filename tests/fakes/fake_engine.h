// A scripted recognizer engine for tests: speech regions with timed words stand in for audio.
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "asr/engine.h"

namespace lx::testing {

// One stretch of speech: its words (times in stream seconds) and, optionally, what the engine's
// hypothesis says at given times instead of the words heard so far (to script revisions).
struct FakeSpeech {
  std::vector<asr::Word> words;
  std::map<double, std::string> hypotheses;  // from this time on, the hypothesis is this text
  bool noise = false;  // voice activity without words: no hypothesis, EndUtterance finds nothing
  double start_s() const { return words.front().t0_s; }
  double end_s() const { return words.back().t1_s; }
};

// What a FakeEngineStream saw; shared with the test.
struct FakeEngineLog {
  std::vector<size_t> block_sizes;
  int end_utterance_calls = 0;
};

// In speech from a region's first word until silence_ms after its last word. The hypothesis is
// the region's words that ended by now (or the scripted text); EndUtterance returns the words
// heard since the previous EndUtterance. Fails Feed once `fail_at_s` of audio was fed.
class FakeEngineStream final : public asr::EngineStream {
 public:
  FakeEngineStream(std::vector<FakeSpeech> script, int silence_ms,
                   std::shared_ptr<FakeEngineLog> log, double fail_at_s = -1)
      : script_(std::move(script)),
        silence_s_(silence_ms / 1000.0),
        log_(std::move(log)),
        fail_at_s_(fail_at_s) {}

  Status Feed(std::span<const float> samples) override {
    if (fail_at_s_ >= 0 && now_s() >= fail_at_s_) return Status::Internal("scripted failure");
    if (log_) log_->block_sizes.push_back(samples.size());
    samples_ += static_cast<int64_t>(samples.size());
    return Status::Ok();
  }

  bool InSpeech() const override {
    return std::any_of(script_.begin(), script_.end(), [&](const FakeSpeech& s) {
      return now_s() >= s.start_s() && now_s() < s.end_s() + silence_s_;
    });
  }

  std::string Hypothesis() override {
    const FakeSpeech* speech = Current();
    if (speech == nullptr || speech->noise) return "";
    auto scripted = speech->hypotheses.upper_bound(now_s());
    if (scripted != speech->hypotheses.begin()) return std::prev(scripted)->second;
    std::string text;
    for (const asr::Word& word : HeardWords()) text += (text.empty() ? "" : " ") + word.w;
    return text;
  }

  Result<asr::Utterance> EndUtterance() override {
    if (log_) ++log_->end_utterance_calls;
    asr::Utterance utterance{HeardWords()};
    consumed_until_s_ = now_s();
    return utterance;
  }

 private:
  double now_s() const { return static_cast<double>(samples_) / 16000.0; }

  const FakeSpeech* Current() const {
    for (const FakeSpeech& s : script_) {
      if (now_s() >= s.start_s() && now_s() < s.end_s() + silence_s_) return &s;
    }
    return nullptr;
  }

  // Words that ended by now and after the last EndUtterance.
  std::vector<asr::Word> HeardWords() const {
    std::vector<asr::Word> heard;
    for (const FakeSpeech& s : script_) {
      if (s.noise) continue;
      for (const asr::Word& word : s.words) {
        if (word.t1_s <= now_s() && word.t1_s > consumed_until_s_) heard.push_back(word);
      }
    }
    return heard;
  }

  std::vector<FakeSpeech> script_;
  double silence_s_;
  std::shared_ptr<FakeEngineLog> log_;
  double fail_at_s_;
  int64_t samples_ = 0;
  double consumed_until_s_ = -1;
};

// Words "w0 w1 ..." spaced `word_s` apart starting at `start_s`.
inline FakeSpeech SpeechAt(double start_s, const std::vector<std::string>& words,
                           double word_s = 0.3) {
  FakeSpeech speech;
  double t = start_s;
  for (const std::string& w : words) {
    speech.words.push_back(asr::Word{w, t, t + word_s, 0.9});
    t += word_s;
  }
  return speech;
}

}  // namespace lx::testing
