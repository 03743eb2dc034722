#include "asr/segmenter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <set>
#include <variant>

#include "fakes/fake_clock.h"
#include "fakes/fake_engine.h"

namespace lx::asr {
namespace {

using ::lx::testing::FakeClock;
using ::lx::testing::FakeEngineLog;
using ::lx::testing::FakeEngineStream;
using ::lx::testing::FakeSpeech;
using ::lx::testing::SpeechAt;
using ::testing::ElementsAre;
using ::testing::Pair;

using Event = std::variant<Partial, Final>;

class RecordingSink final : public CaptionSink {
 public:
  void OnPartial(const Partial& partial) override { events.emplace_back(partial); }
  void OnFinal(const Final& final_caption) override { events.emplace_back(final_caption); }

  std::vector<Final> finals() const {
    std::vector<Final> out;
    for (const auto& e : events) {
      if (const auto* f = std::get_if<Final>(&e)) out.push_back(*f);
    }
    return out;
  }
  std::vector<Partial> partials() const {
    std::vector<Partial> out;
    for (const auto& e : events) {
      if (const auto* p = std::get_if<Partial>(&e)) out.push_back(*p);
    }
    return out;
  }

  std::vector<Event> events;
};

uint64_t SeqOf(const Event& e) {
  return std::visit([](const auto& x) { return x.seq; }, e);
}
uint64_t SegmentOf(const Event& e) {
  return std::visit([](const auto& x) { return x.segment_id; }, e);
}

// Runs `seconds` of (silent) audio through a Segmenter over `script`, in chunks of `chunk`
// samples (0: all at once), then Finish.
struct Harness {
  explicit Harness(std::vector<FakeSpeech> script, const SegmenterConfig& config = {},
                   double fail_at_s = -1)
      : log(std::make_shared<FakeEngineLog>()),
        segmenter(std::make_unique<FakeEngineStream>(std::move(script), config.silence_ms, log,
                                                     fail_at_s),
                  config, clock, &sink) {}

  Status Feed(double seconds, size_t chunk = 1600) {
    std::vector<float> audio(static_cast<size_t>(seconds * 16000), 0.0f);
    std::span<const float> rest(audio);
    if (chunk == 0) chunk = rest.size();
    while (!rest.empty()) {
      const size_t n = std::min(chunk, rest.size());
      if (Status s = segmenter.Feed(rest.first(n)); !s.ok()) return s;
      rest = rest.subspan(n);
    }
    return Status::Ok();
  }

  FakeClock clock;
  RecordingSink sink;
  std::shared_ptr<FakeEngineLog> log;
  Segmenter segmenter;
};

void ExpectInvariants(const std::vector<Event>& events) {
  std::set<uint64_t> finished_segments;
  uint64_t last_seq = 0;
  for (const Event& e : events) {
    EXPECT_GT(SeqOf(e), last_seq) << "seq must strictly increase";
    last_seq = SeqOf(e);
    EXPECT_FALSE(finished_segments.count(SegmentOf(e)))
        << "segment " << SegmentOf(e) << " has an event after its final";
    if (std::holds_alternative<Final>(e)) finished_segments.insert(SegmentOf(e));
  }
}

TEST(SegmenterTest, OneUtteranceGivesGrowingPartialsThenOneSilenceFinal) {
  Harness run({SpeechAt(0.5, {"hello", "big", "world"})});
  ASSERT_TRUE(run.Feed(3.0).ok());
  ASSERT_TRUE(run.segmenter.Finish().ok());

  const auto finals = run.sink.finals();
  ASSERT_EQ(finals.size(), 1u);
  EXPECT_EQ(finals[0].text, "hello big world");
  EXPECT_EQ(finals[0].eou_reason, EouReason::kSilence);
  EXPECT_DOUBLE_EQ(finals[0].t0_s, 0.5);
  EXPECT_DOUBLE_EQ(finals[0].t1_s, 1.4);
  ASSERT_EQ(finals[0].words.size(), 3u);
  EXPECT_EQ(finals[0].words[1].w, "big");

  std::vector<std::string> texts;
  for (const auto& p : run.sink.partials()) {
    EXPECT_EQ(p.segment_id, finals[0].segment_id);
    texts.push_back(p.text);
  }
  EXPECT_THAT(texts, ElementsAre("hello", "hello big", "hello big world"));
  ExpectInvariants(run.sink.events);
  EXPECT_EQ(run.segmenter.metrics().FinalsFor(EouReason::kSilence), 1u);
}

TEST(SegmenterTest, FinalComesAfterSilenceMsOfSilence) {
  SegmenterConfig config;
  config.silence_ms = 500;
  Harness run({SpeechAt(0.5, {"one", "two"})}, config);
  ASSERT_TRUE(run.Feed(1.59, 160).ok());  // speech ends at 1.1; 1.6 is 500 ms later
  EXPECT_TRUE(run.sink.finals().empty());
  ASSERT_TRUE(run.Feed(0.02, 160).ok());
  ASSERT_EQ(run.sink.finals().size(), 1u);
}

TEST(SegmenterTest, PartialsAreAtLeastOneIntervalApartAndOnlyOnChange) {
  SegmenterConfig config;
  config.partial_interval_ms = 250;
  Harness run({SpeechAt(0.0, {"a", "b", "c", "d", "e", "f", "g", "h"}, 0.1)}, config);
  ASSERT_TRUE(run.Feed(2.0, 160).ok());
  const auto partials = run.sink.partials();
  ASSERT_GE(partials.size(), 2u);
  for (size_t i = 1; i < partials.size(); ++i) {
    EXPECT_GE(partials[i].t_audio_end_s - partials[i - 1].t_audio_end_s, 0.25 - 1e-9);
    EXPECT_NE(partials[i].text, partials[i - 1].text);
  }
}

TEST(SegmenterTest, SeparateUtterancesGetSeparateSegments) {
  Harness run({SpeechAt(0.2, {"first", "part"}), SpeechAt(2.0, {"second", "part"})});
  ASSERT_TRUE(run.Feed(4.0).ok());
  ASSERT_TRUE(run.segmenter.Finish().ok());
  const auto finals = run.sink.finals();
  ASSERT_EQ(finals.size(), 2u);
  EXPECT_EQ(finals[0].text, "first part");
  EXPECT_EQ(finals[1].text, "second part");
  EXPECT_EQ(finals[0].segment_id, 1u);
  EXPECT_EQ(finals[1].segment_id, 2u);
  ExpectInvariants(run.sink.events);
}

TEST(SegmenterTest, LongSpeechIsCutAtMaxSegmentLength) {
  SegmenterConfig config;
  config.max_segment_s = 1;
  std::vector<std::string> words(12, "la");
  Harness run({SpeechAt(0.0, words, 0.25)}, config);  // 3 s of continuous speech
  ASSERT_TRUE(run.Feed(4.0).ok());
  ASSERT_TRUE(run.segmenter.Finish().ok());
  const auto finals = run.sink.finals();
  ASSERT_GE(finals.size(), 3u);
  size_t total_words = 0;
  for (size_t i = 0; i < finals.size(); ++i) {
    if (i + 1 < finals.size()) {
      EXPECT_EQ(finals[i].eou_reason, EouReason::kMaxLength);
    }
    EXPECT_LE(finals[i].t1_s - finals[i].t0_s, 1.0 + 1e-9);
    total_words += finals[i].words.size();
  }
  EXPECT_EQ(total_words, 12u) << "no word is lost or repeated across cuts";
  EXPECT_GE(run.segmenter.metrics().FinalsFor(EouReason::kMaxLength), 2u);
  ExpectInvariants(run.sink.events);
}

TEST(SegmenterTest, ForceFinalEndsTheOpenSegmentAndLaterWordsStartANewOne) {
  Harness run({SpeechAt(0.0, {"a", "b", "c", "d"})});
  ASSERT_TRUE(run.Feed(0.65).ok());
  ASSERT_TRUE(run.segmenter.ForceFinal().ok());
  ASSERT_EQ(run.sink.finals().size(), 1u);
  EXPECT_EQ(run.sink.finals()[0].text, "a b");
  EXPECT_EQ(run.sink.finals()[0].eou_reason, EouReason::kForced);
  ASSERT_TRUE(run.Feed(2.0).ok());
  const auto finals = run.sink.finals();
  ASSERT_EQ(finals.size(), 2u);
  EXPECT_EQ(finals[1].text, "c d");
  EXPECT_NE(finals[1].segment_id, finals[0].segment_id);
  ExpectInvariants(run.sink.events);
}

TEST(SegmenterTest, SkippedAudioEndsTheOpenSegmentAndShiftsLaterTimesToSourceTime) {
  Harness run({SpeechAt(0.0, {"a", "b", "c", "d"})});
  ASSERT_TRUE(run.Feed(0.65).ok());
  ASSERT_TRUE(run.segmenter.SkipAudio(3.0).ok());
  ASSERT_EQ(run.sink.finals().size(), 1u) << "the open segment's words are not lost";
  EXPECT_EQ(run.sink.finals()[0].text, "a b");
  EXPECT_EQ(run.sink.finals()[0].eou_reason, EouReason::kForced);
  EXPECT_DOUBLE_EQ(run.sink.finals()[0].t1_s, 0.6) << "audio before the skip keeps its times";
  ASSERT_TRUE(run.Feed(2.0).ok());
  const auto finals = run.sink.finals();
  ASSERT_EQ(finals.size(), 2u);
  EXPECT_EQ(finals[1].text, "c d");
  EXPECT_DOUBLE_EQ(finals[1].t0_s, 3.6);
  EXPECT_DOUBLE_EQ(finals[1].words[1].t1_s, 4.2);
  for (const Partial& partial : run.sink.partials()) {
    if (partial.segment_id == finals[1].segment_id) {
      EXPECT_GE(partial.t_audio_end_s, 3.6);
    }
  }
  EXPECT_DOUBLE_EQ(run.segmenter.audio_seconds(), 2.65) << "only recognized audio counts";
  ExpectInvariants(run.sink.events);
}

TEST(SegmenterTest, WithPartialsDisabledOnlyFinalsComeAndTheyAreTheSame) {
  Harness with({SpeechAt(0.2, {"a", "b", "c"})});
  Harness without({SpeechAt(0.2, {"a", "b", "c"})});
  without.segmenter.set_partials_enabled(false);
  ASSERT_TRUE(with.Feed(2.0).ok());
  ASSERT_TRUE(without.Feed(2.0).ok());
  EXPECT_FALSE(with.sink.partials().empty());
  EXPECT_TRUE(without.sink.partials().empty());
  EXPECT_EQ(without.segmenter.metrics().partials, 0u);
  ASSERT_EQ(without.sink.finals().size(), 1u);
  EXPECT_EQ(without.sink.finals()[0].text, with.sink.finals()[0].text);
}

TEST(SegmenterTest, ForceFinalOutsideSpeechDoesNothing) {
  Harness run({SpeechAt(1.0, {"a"})});
  ASSERT_TRUE(run.Feed(0.5).ok());
  ASSERT_TRUE(run.segmenter.ForceFinal().ok());
  EXPECT_TRUE(run.sink.events.empty());
}

TEST(SegmenterTest, FinishMidSpeechGivesEndOfStreamFinalOnceOnly) {
  Harness run({SpeechAt(0.0, {"a", "b", "c", "d"})});
  ASSERT_TRUE(run.Feed(0.95).ok());
  ASSERT_TRUE(run.segmenter.Finish().ok());
  ASSERT_TRUE(run.segmenter.Finish().ok());
  const auto finals = run.sink.finals();
  ASSERT_EQ(finals.size(), 1u);
  EXPECT_EQ(finals[0].text, "a b c");
  EXPECT_EQ(finals[0].eou_reason, EouReason::kEndOfStream);
  EXPECT_EQ(run.segmenter.Feed(std::vector<float>(10)).code(), Status::Code::kFailedPrecondition);
}

TEST(SegmenterTest, StablePrefixNeverChangesInLaterPartials) {
  FakeSpeech speech = SpeechAt(0.0, {"the", "cat", "sat", "down"});
  speech.hypotheses = {{0.3, "the"},         {0.4, "the cap"},         {0.5, "the cap"},
                       {0.6, "the cat"},     {0.7, "the cat sat"},     {0.8, "the cat sat"},
                       {0.9, "the bat sat"}, {1.0, "the bat sat down"}};
  SegmenterConfig config;
  config.stable_after_ms = 100;  // two consecutive hypotheses: LocalAgreement-2
  Harness run({speech}, config);
  ASSERT_TRUE(run.Feed(3.0, 160).ok());
  const auto partials = run.sink.partials();
  ASSERT_GE(partials.size(), 3u);
  std::string stable;
  for (const auto& p : partials) {
    ASSERT_LE(p.stable_chars, p.text.size());
    EXPECT_EQ(p.text.compare(0, stable.size(), stable), 0)
        << "'" << p.text << "' drops the stable prefix '" << stable << "'";
    EXPECT_GE(p.stable_chars, stable.size());
    stable = p.text.substr(0, p.stable_chars);
  }
  // "the cap" was seen twice, so it was committed before the engine changed its mind.
  EXPECT_EQ(partials.back().text.rfind("the cap", 0), 0u);
  const auto finals = run.sink.finals();
  ASSERT_EQ(finals.size(), 1u);
  EXPECT_EQ(finals[0].text, "the cat sat down");
  EXPECT_EQ(run.segmenter.metrics().stable_prefix_revisions, 1u);
}

// With the default 400 ms window a word is stable once every hypothesis for 400 ms began with
// it. Partials come only when the text changes, so the stable prefix shows with the next change.
TEST(SegmenterTest, WordsBecomeStableOnlyAfterHoldingForTheWholeWindow) {
  FakeSpeech speech = SpeechAt(0.0, {"one", "two", "three", "four"}, 0.5);
  // Looks at the hypothesis fall at 0.01 s + k * 0.1 s.
  speech.hypotheses = {{0.2, "one"},     {0.5, "one two"},       {0.7, "one too"},
                       {1.0, "one two"}, {1.1, "one two three"}, {1.8, "one two three four"}};
  Harness run({speech});
  ASSERT_TRUE(run.Feed(3.0, 160).ok());
  std::vector<std::pair<std::string, std::string>> shown;  // text, its stable prefix
  for (const auto& p : run.sink.partials()) {
    shown.emplace_back(p.text, p.text.substr(0, p.stable_chars));
  }
  // "one" held from 0.21 s to 0.61 s; "two" was doubted at 0.71 s and held from 1.01 s to
  // 1.41 s; "three" from 1.11 s to 1.51 s.
  EXPECT_THAT(shown, ElementsAre(Pair("one", ""), Pair("one two", ""), Pair("one too", "one"),
                                 Pair("one two", "one"), Pair("one two three", "one"),
                                 Pair("one two three four", "one two three")));
  EXPECT_EQ(run.segmenter.metrics().stable_prefix_revisions, 0u);
}

TEST(SegmenterTest, AgreeingHypothesesNeedNoRevision) {
  Harness run({SpeechAt(0.0, {"all", "is", "well", "here"})});
  ASSERT_TRUE(run.Feed(3.0, 160).ok());
  const auto partials = run.sink.partials();
  ASSERT_FALSE(partials.empty());
  EXPECT_GT(partials.back().stable_chars, 0u);
  EXPECT_EQ(run.segmenter.metrics().stable_prefix_revisions, 0u);
}

TEST(SegmenterTest, ChunkSizeNeverChangesTheResult) {
  const std::vector<FakeSpeech> script = {SpeechAt(0.33, {"one", "two", "three"}, 0.27),
                                          SpeechAt(2.41, {"four", "five"}, 0.31)};
  auto events_for = [&](size_t chunk) {
    Harness run(script);
    EXPECT_TRUE(run.Feed(4.0, chunk).ok());
    EXPECT_TRUE(run.segmenter.Finish().ok());
    for (size_t i = 0; i + 1 < run.log->block_sizes.size(); ++i) {
      EXPECT_EQ(run.log->block_sizes[i], Segmenter::kBlockSamples);
    }
    std::vector<std::string> out;
    for (const auto& e : run.sink.events) {
      if (const auto* p = std::get_if<Partial>(&e)) {
        out.push_back(fmt::format("P {} {} {} {} {}", p->seq, p->segment_id, p->text,
                                  p->stable_chars, p->t_audio_end_s));
      } else {
        const auto& f = std::get<Final>(e);
        out.push_back(fmt::format("F {} {} {} {} {}", f.seq, f.segment_id, f.text, f.t0_s, f.t1_s));
      }
    }
    return out;
  };
  const auto reference = events_for(160);
  EXPECT_EQ(reference.size(), 7u);
  for (size_t chunk : {1u, 37u, 1600u, 4999u, 0u}) {
    EXPECT_EQ(events_for(chunk), reference) << "chunk of " << chunk << " samples";
  }
}

TEST(SegmenterTest, SpeechWithoutWordsProducesNoEvents) {
  FakeSpeech noise = SpeechAt(0.5, {"cough"});
  noise.noise = true;
  Harness run({noise, SpeechAt(2.0, {"real"})});
  ASSERT_TRUE(run.Feed(3.0).ok());
  ASSERT_TRUE(run.segmenter.Finish().ok());
  ASSERT_EQ(run.log->end_utterance_calls, 2);  // the noise and the speech
  const auto finals = run.sink.finals();
  ASSERT_EQ(finals.size(), 1u);
  EXPECT_EQ(finals[0].text, "real");
  EXPECT_EQ(finals[0].segment_id, 1u);
}

TEST(SegmenterTest, EngineFailureStopsTheStreamWithTheError) {
  Harness run({SpeechAt(0.0, {"a", "b", "c"})}, {}, /*fail_at_s=*/0.5);
  const Status first = run.Feed(2.0);
  EXPECT_EQ(first.code(), Status::Code::kInternal);
  const size_t events = run.sink.events.size();
  EXPECT_EQ(run.Feed(0.1).code(), Status::Code::kInternal);
  EXPECT_EQ(run.segmenter.Finish().code(), Status::Code::kInternal);
  EXPECT_EQ(run.sink.events.size(), events);
}

TEST(SegmenterTest, MetricsCountAudioAndLatency) {
  Harness run({SpeechAt(0.2, {"a", "b"})});
  // Each 100 ms chunk arrives, then 50 ms of wall time pass before the next.
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(run.Feed(0.1).ok());
    run.clock.AdvanceMs(50);
  }
  ASSERT_TRUE(run.segmenter.Finish().ok());
  const StreamMetrics& m = run.segmenter.metrics();
  EXPECT_DOUBLE_EQ(m.audio_seconds, 2.0);
  EXPECT_EQ(m.finals, 1u);
  EXPECT_EQ(m.partials, run.sink.partials().size());
  EXPECT_EQ(m.final_latency.count(), 1u);
  // The final is decided at 0.8 + 0.2 s; its last word ended at 0.8 s, which arrived in the
  // chunk fed 2 chunks (100 ms of wall time) earlier.
  EXPECT_NEAR(m.final_latency.max(), 0.1, 1e-9);
  EXPECT_EQ(m.partial_latency.Quantile(0.5), 0.0);  // partials come in the same Feed call
}

struct ConfigCase {
  SegmenterConfig config;
  const char* field;
};

TEST(SegmenterConfigTest, ValidateNamesTheBadField) {
  SegmenterConfig too_fast;
  too_fast.partial_interval_ms = 5;
  SegmenterConfig no_silence;
  no_silence.silence_ms = 0;
  SegmenterConfig too_long;
  too_long.max_segment_s = 601;
  SegmenterConfig nan_length;
  nan_length.max_segment_s = std::nan("");
  SegmenterConfig negative_window;
  negative_window.stable_after_ms = -1;
  for (const ConfigCase& c :
       {ConfigCase{too_fast, "partial_interval_ms"}, ConfigCase{no_silence, "silence_ms"},
        ConfigCase{too_long, "max_segment_s"}, ConfigCase{nan_length, "max_segment_s"},
        ConfigCase{negative_window, "stable_after_ms"}}) {
    const Status s = c.config.Validate();
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
    EXPECT_NE(s.message().find(c.field), std::string::npos) << s.message();
  }
  EXPECT_TRUE(SegmenterConfig{}.Validate().ok());
  SegmenterConfig no_window;  // every hypothesis word is stable at once
  no_window.stable_after_ms = 0;
  EXPECT_TRUE(no_window.Validate().ok());
}

TEST(LatencyStatsTest, QuantilesAndBoundedMemory) {
  LatencyStats stats;
  for (int i = 1; i <= 100; ++i) stats.Add(i / 100.0);
  EXPECT_DOUBLE_EQ(stats.Quantile(0.5), 0.5);
  EXPECT_DOUBLE_EQ(stats.Quantile(0.95), 0.95);
  EXPECT_DOUBLE_EQ(stats.max(), 1.0);
  for (size_t i = 0; i < 3 * LatencyStats::kMaxSamples; ++i) stats.Add(0.25);
  EXPECT_EQ(stats.count(), 100 + 3 * LatencyStats::kMaxSamples);
  EXPECT_DOUBLE_EQ(stats.Quantile(0.5), 0.25);
  EXPECT_DOUBLE_EQ(stats.max(), 1.0);
}

}  // namespace
}  // namespace lx::asr
