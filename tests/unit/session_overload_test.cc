// Proofs of the load-shedding rules: a session whose recognizer falls behind its real-time source
// says so in session.overload events, stops partials while overloaded, drops the oldest waiting
// audio past max_lag_s (forcing the open segment's final first) and reports its recovery.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fakes/fake_clock.h"
#include "fakes/fake_engine.h"
#include "session/overload.h"
#include "session/session.h"

namespace lx::session {
namespace {

namespace fs = std::filesystem;
using events::SessionState;
using namespace std::chrono_literals;  // NOLINT(google-build-using-namespace)

constexpr int64_t kMs = 1'000'000;

// (A) The governor alone: stages, thresholds and the report rate.

TEST(OverloadGovernorTest, UnderTheThresholdNothingIsShedOrReported) {
  OverloadGovernor governor(OverloadConfig{.lag_s = 1.0, .max_lag_s = 5.0});
  for (double lag : {0.0, 0.5, 1.0}) {
    const auto decision = governor.Update(lag, 1000 * kMs);
    EXPECT_EQ(decision.shedding, Shedding::kNone);
    EXPECT_FALSE(decision.report);
    EXPECT_EQ(decision.drop_s, 0);
  }
  EXPECT_FALSE(governor.overloaded());
}

TEST(OverloadGovernorTest, OverloadStopsPartialsAndReportsAtOnceThenAtMostOncePerSecond) {
  OverloadGovernor governor(OverloadConfig{.lag_s = 1.0, .max_lag_s = 5.0});
  auto first = governor.Update(1.5, 1000 * kMs);
  EXPECT_EQ(first.shedding, Shedding::kPartials);
  EXPECT_TRUE(first.report);
  EXPECT_TRUE(governor.overloaded());
  auto soon = governor.Update(2.0, 1900 * kMs);
  EXPECT_EQ(soon.shedding, Shedding::kPartials);
  EXPECT_FALSE(soon.report) << "0.9 s after the last report";
  EXPECT_TRUE(governor.Update(2.0, 2000 * kMs).report) << "1 s after it";
}

TEST(OverloadGovernorTest, PastMaxLagAllButLagSOfTheAudioIsDroppedAndEveryDropReported) {
  OverloadGovernor governor(OverloadConfig{.lag_s = 1.0, .max_lag_s = 5.0});
  auto drop = governor.Update(7.5, 1000 * kMs);
  EXPECT_EQ(drop.shedding, Shedding::kDropAudio);
  EXPECT_DOUBLE_EQ(drop.drop_s, 6.5);
  EXPECT_TRUE(drop.report);
  auto again = governor.Update(5.5, 1100 * kMs);
  EXPECT_DOUBLE_EQ(again.drop_s, 4.5);
  EXPECT_TRUE(again.report) << "a drop is reported even within the second";
}

TEST(OverloadGovernorTest, RecoveryNeedsLagUnderHalfTheThresholdAndIsReportedOnce) {
  OverloadGovernor governor(OverloadConfig{.lag_s = 1.0, .max_lag_s = 5.0});
  ASSERT_TRUE(governor.Update(1.5, 1000 * kMs).report);
  EXPECT_EQ(governor.Update(0.6, 3000 * kMs).shedding, Shedding::kPartials) << "hysteresis";
  const auto recovered = governor.Update(0.4, 3100 * kMs);
  EXPECT_EQ(recovered.shedding, Shedding::kNone);
  EXPECT_TRUE(recovered.report);
  EXPECT_FALSE(governor.overloaded());
  EXPECT_FALSE(governor.Update(0.4, 5000 * kMs).report);
}

TEST(OverloadGovernorTest, MaxLagZeroNeverDropsAudio) {
  OverloadGovernor governor(OverloadConfig{.lag_s = 1.0, .max_lag_s = 0});
  const auto decision = governor.Update(60, 1000 * kMs);
  EXPECT_EQ(decision.shedding, Shedding::kPartials);
  EXPECT_EQ(decision.drop_s, 0);
}

TEST(OverloadConfigTest, ValidateNamesTheBadField) {
  EXPECT_TRUE(OverloadConfig{}.Validate().ok());
  EXPECT_TRUE((OverloadConfig{.lag_s = 2, .max_lag_s = 0}.Validate().ok()));
  EXPECT_EQ((OverloadConfig{.lag_s = 0.05}.Validate().message()),
            "overload_lag_s must be between 0.1 and 60");
  EXPECT_EQ((OverloadConfig{.lag_s = 2, .max_lag_s = 1}.Validate().message()),
            "max_lag_s must be 0 (never drop audio) or between overload_lag_s and 600");
}

// (B) A session over a scripted real-time source: each read delivers 100 ms of audio and moves
// the clock on 100 ms, and the source says how much audio waits behind it.

class ScriptedInput final : public AudioInput {
 public:
  bool can_drop = true;  // set before the session starts

  ScriptedInput(std::vector<double> backlog_after_read, testing::FakeClock* clock,
                std::shared_ptr<std::vector<double>> drops)
      : backlog_after_read_(std::move(backlog_after_read)),
        clock_(clock),
        drops_(std::move(drops)) {}

  Result<size_t> Read(std::vector<float>* out, size_t max_samples, int /*timeout_ms*/) override {
    out->clear();
    if (reads_ >= backlog_after_read_.size()) return size_t{0};
    backlog_s_ = backlog_after_read_[reads_++];
    clock_->AdvanceMs(100);
    out->assign(max_samples, 0.0f);
    return max_samples;
  }
  bool ended() const override { return reads_ >= backlog_after_read_.size(); }
  void Close() override {}
  double LagSeconds() const override { return backlog_s_; }
  bool CanDrop() const override { return can_drop; }
  Result<double> Drop(double seconds) override {
    const double dropped = std::min(seconds, backlog_s_);
    backlog_s_ -= dropped;
    drops_->push_back(dropped);
    return dropped;
  }

 private:
  std::vector<double> backlog_after_read_;
  testing::FakeClock* clock_;
  std::shared_ptr<std::vector<double>> drops_;  // the seconds of each Drop; outlives the input
  size_t reads_ = 0;
  double backlog_s_ = 0;
};

class RecordingSink final : public EventSink {
 public:
  void Publish(events::Event event) override {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
    changed_.notify_all();
  }
  bool WaitForStopped() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 10s, [&] {
      return std::any_of(events_.begin(), events_.end(), [](const events::Event& e) {
        const auto* status = std::get_if<events::StatusChange>(&e.payload);
        return status != nullptr && status->state == SessionState::kStopped;
      });
    });
  }
  std::vector<events::Event> Events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<events::Event> events_;  // guarded by mutex_
};

// The backlog after each of 40 reads: on time, behind (1.5 s, then 2 s), far behind (7 s: a
// drop of 6 s), catching up (0.8 s: still overloaded), recovered (0.2 s), on time.
std::vector<double> LagScript() {
  std::vector<double> lags(10, 0.0);
  lags.insert(lags.end(), 5, 1.5);
  lags.insert(lags.end(), 6, 2.0);
  lags.push_back(7.0);
  lags.insert(lags.end(), 3, 0.8);
  lags.push_back(0.2);
  lags.insert(lags.end(), 14, 0.0);
  return lags;
}

class SessionOverloadTest : public ::testing::Test {
 protected:
  SessionOverloadTest() {
    std::string pattern = (fs::temp_directory_path() / "lx-overload-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
  }
  ~SessionOverloadTest() override { fs::remove_all(dir_); }

  // Runs a session over `lags` to its end; speech without pauses throughout.
  void Run(std::vector<double> lags, bool can_drop = true) {
    auto input = std::make_unique<ScriptedInput>(std::move(lags), &clock_, drops_);
    input->can_drop = can_drop;
    std::vector<std::string> words(200, "la");
    std::vector<testing::FakeSpeech> speech{testing::SpeechAt(0.0, words, 0.2)};
    auto log = store::SessionLog::Open(dir_);
    ASSERT_TRUE(log.ok());
    SessionConfig config;
    config.source.type = SourceConfig::Type::kPush;
    auto session = Session::Start("s1", config, std::move(input),
                                  std::make_unique<testing::FakeEngineStream>(speech, 200, nullptr),
                                  sink_, std::move(log).value(), /*audio_file=*/nullptr, clock_);
    ASSERT_TRUE(session.ok());
    session_ = std::move(session).value();
    ASSERT_TRUE(sink_->WaitForStopped());
    session_->Join();
  }

  std::vector<events::SessionOverload> Overloads() const {
    std::vector<events::SessionOverload> out;
    for (const auto& e : sink_->Events()) {
      if (const auto* o = std::get_if<events::SessionOverload>(&e.payload)) out.push_back(*o);
    }
    return out;
  }
  // Index in the event list of the n-th session.overload.
  size_t OverloadIndex(size_t n) const {
    const auto events = sink_->Events();
    for (size_t i = 0; i < events.size(); ++i) {
      if (std::holds_alternative<events::SessionOverload>(events[i].payload) && n-- == 0) return i;
    }
    return events.size();
  }

  std::string dir_;
  testing::FakeClock clock_;
  std::shared_ptr<RecordingSink> sink_ = std::make_shared<RecordingSink>();
  std::shared_ptr<std::vector<double>> drops_ = std::make_shared<std::vector<double>>();
  std::unique_ptr<Session> session_;
};

TEST_F(SessionOverloadTest, ReportsEachStageInOrderWithItsLagAndTheDroppedAudio) {
  Run(LagScript());
  const auto overloads = Overloads();
  ASSERT_EQ(overloads.size(), 4u);
  EXPECT_EQ(overloads[0].shedding, "partials");
  EXPECT_DOUBLE_EQ(overloads[0].lag_s, 1.5);
  EXPECT_EQ(overloads[1].shedding, "partials") << "the report a second later";
  EXPECT_DOUBLE_EQ(overloads[1].lag_s, 2.0);
  EXPECT_EQ(overloads[2].shedding, "drop_audio");
  EXPECT_DOUBLE_EQ(overloads[2].lag_s, 7.0);
  EXPECT_DOUBLE_EQ(overloads[2].dropped_audio_s, 6.0) << "all but overload_lag_s of the lag";
  EXPECT_EQ(overloads[3].shedding, "none");
  EXPECT_DOUBLE_EQ(overloads[3].lag_s, 0.2);
  EXPECT_DOUBLE_EQ(overloads[3].dropped_audio_s, 6.0);
  EXPECT_EQ(*drops_, std::vector<double>{6.0});
}

TEST_F(SessionOverloadTest, NoPartialWhileOverloadedAndPartialsAgainAfterRecovery) {
  Run(LagScript());
  const auto events = sink_->Events();
  const size_t overloaded = OverloadIndex(0);
  const size_t recovered = OverloadIndex(3);
  ASSERT_LT(recovered, events.size());
  auto is_partial = [](const events::Event& e) {
    return std::holds_alternative<asr::Partial>(e.payload);
  };
  EXPECT_TRUE(std::any_of(events.begin(), events.begin() + overloaded, is_partial));
  EXPECT_FALSE(std::any_of(events.begin() + overloaded, events.begin() + recovered, is_partial));
  EXPECT_TRUE(std::any_of(events.begin() + recovered, events.end(), is_partial));
}

TEST_F(SessionOverloadTest, ADropForcesTheOpenSegmentsFinalFirstAndLaterTimesCountTheDrop) {
  Run(LagScript());
  const auto events = sink_->Events();
  const size_t drop = OverloadIndex(2);
  ASSERT_LT(drop, events.size());
  std::vector<asr::Final> before;
  std::vector<asr::Final> after;
  for (size_t i = 0; i < events.size(); ++i) {
    if (const auto* f = std::get_if<asr::Final>(&events[i].payload)) {
      (i < drop ? before : after).push_back(*f);
    }
  }
  ASSERT_FALSE(before.empty());
  EXPECT_EQ(before.back().eou_reason, asr::EouReason::kForced);
  EXPECT_FALSE(before.back().text.empty()) << "the words heard before the drop are kept";
  EXPECT_LE(before.back().t1_s, 2.2) << "22 reads of 100 ms were recognized before the drop";
  ASSERT_FALSE(after.empty());
  EXPECT_GE(after.front().t0_s, 2.2 + 6.0) << "times after the drop are source times";
}

TEST_F(SessionOverloadTest, InfoCountsTheOverloadAndTheDroppedAudio) {
  Run(LagScript());
  const OverloadStats stats = session_->Info().overload;
  EXPECT_DOUBLE_EQ(stats.dropped_audio_s, 6.0);
  EXPECT_DOUBLE_EQ(stats.max_lag_s, 7.0);
  EXPECT_EQ(stats.overloads, 1u);
  EXPECT_FALSE(stats.overloaded);
  EXPECT_DOUBLE_EQ(stats.lag_s, 0.0);
}

TEST_F(SessionOverloadTest, ASourceThatCannotDropShedsPartialsOnly) {
  Run(LagScript(), /*can_drop=*/false);
  const auto overloads = Overloads();
  ASSERT_FALSE(overloads.empty());
  for (const auto& overload : overloads) EXPECT_NE(overload.shedding, "drop_audio");
  EXPECT_TRUE(drops_->empty());
  EXPECT_EQ(session_->Info().overload.dropped_audio_s, 0);
  EXPECT_EQ(overloads.back().shedding, "none");
}

TEST_F(SessionOverloadTest, ASourceThatKeepsUpNeverReportsOverload) {
  Run(std::vector<double>(30, 0.9));
  EXPECT_TRUE(Overloads().empty());
  EXPECT_EQ(session_->Info().overload.overloads, 0u);
}

}  // namespace
}  // namespace lx::session
