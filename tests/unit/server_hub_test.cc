// The hand-off from session workers to the network loop (review finding 3).
#include "server/hub.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <boost/asio/io_context.hpp>

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace lx::server {
namespace {

// Records the frames it is given (on the hub's strand).
class RecordingViewer final : public Viewer {
 public:
  void Deliver(std::shared_ptr<const std::string> frame, uint64_t seq) override {
    const std::lock_guard lock(mutex);
    EXPECT_EQ(nlohmann::json::parse(*frame)["seq"], seq) << "the seq given is the frame's";
    frames.push_back(std::move(frame));
  }
  ViewerStats Stats() const override { return {3, 2, 1}; }
  std::vector<nlohmann::json> Parsed() {
    const std::lock_guard lock(mutex);
    std::vector<nlohmann::json> out;
    for (const auto& f : frames) out.push_back(nlohmann::json::parse(*f));
    return out;
  }
  std::mutex mutex;
  std::vector<std::shared_ptr<const std::string>> frames;
};

events::Event PartialEvent(uint64_t segment, uint64_t seq, std::string text) {
  asr::Partial partial;
  partial.segment_id = segment;
  partial.seq = seq;
  partial.text = std::move(text);
  return events::Event{partial, 1'700'000'000'000'000'000, 42};
}

events::Event FinalEvent(uint64_t segment, uint64_t seq) {
  asr::Final final_caption;
  final_caption.segment_id = segment;
  final_caption.seq = seq;
  final_caption.text = "final " + std::to_string(segment);
  return events::Event{final_caption, 1'700'000'000'000'000'000, 43};
}

TEST(ServerHubTest, EventsPublishedBeforeTheLoopRunsArriveInOrderOnceItRuns) {
  boost::asio::io_context io;
  auto hub = Hub::Create(io, "s1");
  auto viewer = std::make_shared<RecordingViewer>();
  hub->Attach(viewer);
  for (uint64_t i = 1; i <= 50; ++i) hub->Publish(PartialEvent(1, i, "w" + std::to_string(i)));
  EXPECT_TRUE(viewer->Parsed().empty()) << "nothing runs before the loop does";
  io.run();
  const auto frames = viewer->Parsed();
  ASSERT_EQ(frames.size(), 50u);
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i]["seq"], i + 1);
    EXPECT_EQ(frames[i]["data"]["text"], "w" + std::to_string(i + 1));
  }
}

TEST(ServerHubTest, EnvelopeCarriesTheProtocolFields) {
  boost::asio::io_context io;
  auto hub = Hub::Create(io, "abc");
  auto viewer = std::make_shared<RecordingViewer>();
  hub->Attach(viewer);
  hub->Publish(FinalEvent(3, 9));
  io.run();
  const auto frames = viewer->Parsed();
  ASSERT_EQ(frames.size(), 1u);
  const auto& f = frames[0];
  EXPECT_EQ(f["v"], 1);
  EXPECT_EQ(f["t"], "asr.final");
  EXPECT_EQ(f["sid"], "abc");
  EXPECT_EQ(f["seq"], 1);
  EXPECT_EQ(f["t_wall"], "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(f["t_mono_ns"], 43);
  EXPECT_EQ(f["data"]["segment_id"], 3);
  EXPECT_EQ(f["data"]["text"], "final 3");
}

TEST(ServerHubTest, ManyWorkersOneSeqOrderSharedByAllViewers) {
  constexpr int kThreads = 6;
  constexpr uint64_t kEach = 500;
  boost::asio::io_context io;
  auto hub = Hub::Create(io, "stress");
  auto first = std::make_shared<RecordingViewer>();
  auto second = std::make_shared<RecordingViewer>();
  hub->Attach(first);
  hub->Attach(second);
  auto work = boost::asio::make_work_guard(io);
  std::vector<std::thread> loop;
  for (int i = 0; i < 2; ++i) loop.emplace_back([&io] { io.run(); });
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&hub, t] {
      for (uint64_t i = 1; i <= kEach; ++i) {
        hub->Publish(PartialEvent(static_cast<uint64_t>(t) + 1, i, "x"));
      }
    });
  }
  for (auto& w : workers) w.join();
  work.reset();
  for (auto& l : loop) l.join();

  const auto frames = first->Parsed();
  ASSERT_EQ(frames.size(), kThreads * kEach);
  std::map<uint64_t, uint64_t> last_per_worker;
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i]["seq"], i + 1) << "one gap-free seq order";
    const uint64_t worker = frames[i]["data"]["segment_id"];
    const uint64_t n = frames[i]["data"]["seq"];
    EXPECT_EQ(n, last_per_worker[worker] + 1) << "each worker's events keep their order";
    last_per_worker[worker] = n;
  }
  ASSERT_EQ(second->frames.size(), first->frames.size());
  for (size_t i = 0; i < first->frames.size(); ++i) {
    EXPECT_EQ(first->frames[i].get(), second->frames[i].get()) << "encoded once, shared";
  }
  EXPECT_EQ(hub->Summary().last_seq, kThreads * kEach);
}

TEST(ServerHubTest, SummaryKeepsRecentFinalsAndTheLivePartial) {
  boost::asio::io_context io;
  auto hub = Hub::Create(io, "s");
  for (uint64_t s = 1; s <= 25; ++s) {
    hub->Publish(PartialEvent(s, 2 * s - 1, "p"));
    hub->Publish(FinalEvent(s, 2 * s));
  }
  hub->Publish(PartialEvent(26, 51, "open"));
  io.run();
  const HubSummary summary = hub->Summary();
  EXPECT_EQ(summary.last_seq, 51u);
  ASSERT_EQ(summary.recent_finals.size(), Hub::kRecentFinals);
  EXPECT_EQ(summary.recent_finals.front().segment_id, 6u);
  EXPECT_EQ(summary.recent_finals.back().segment_id, 25u);
  ASSERT_TRUE(summary.live_partial.has_value());
  EXPECT_EQ(summary.live_partial->text, "open");
}

TEST(ServerHubTest, ClosedOrDetachedViewersGetNothingMore) {
  boost::asio::io_context io;
  auto hub = Hub::Create(io, "s");
  auto kept = std::make_shared<RecordingViewer>();
  auto detached = std::make_shared<RecordingViewer>();
  auto gone = std::make_shared<RecordingViewer>();
  hub->Attach(kept);
  hub->Attach(detached);
  hub->Attach(gone);
  hub->Publish(FinalEvent(1, 1));
  io.run();
  io.restart();
  hub->Detach(detached.get());
  std::weak_ptr<RecordingViewer> watch = gone;
  const size_t gone_frames = gone->frames.size();
  gone.reset();
  hub->Publish(FinalEvent(2, 2));
  io.run();
  EXPECT_EQ(kept->frames.size(), 2u);
  EXPECT_EQ(detached->frames.size(), 1u);
  EXPECT_EQ(gone_frames, 1u);
  EXPECT_TRUE(watch.expired());
  EXPECT_EQ(hub->Summary().viewers, 1u);
  const DeliveryStats delivery = hub->Delivery();
  EXPECT_EQ(delivery.viewers, 1u);
  EXPECT_EQ(delivery.queued_frames, 3u);
  EXPECT_EQ(delivery.sent_frames, 2u);
  EXPECT_EQ(delivery.dropped_frames, 1u);
}

// A welcome that says what the hub planned: its seq is the plan's, its data the plan.
Hub::WelcomeBuilder PlanWelcome() {
  return [](const HubSummary& summary, const JoinPlan& plan) {
    nlohmann::json data{
        {"last_seq", summary.last_seq}, {"snapshot", plan.snapshot}, {"replayed", plan.replayed}};
    return events::EncodeEnvelope("session.welcome", "s", plan.welcome_seq, 0, 0, data);
  };
}

Hub::SnapshotBuilder TestSnapshot() {
  return [](const HubSummary& summary) {
    return events::EncodeEnvelope("session.snapshot", "s", summary.last_seq, 0, 0,
                                  nlohmann::json{{"finals", summary.recent_finals.size()}});
  };
}

// The hub after `count` finals (segments 1..count, seqs 1..count), run to completion.
std::shared_ptr<Hub> HubWithFinals(boost::asio::io_context& io, uint64_t count,
                                   HubOptions options = {}) {
  auto hub = Hub::Create(io, "s", options);
  for (uint64_t i = 1; i <= count; ++i) hub->Publish(FinalEvent(i, i));
  io.run();
  io.restart();
  return hub;
}

std::vector<std::string> Types(const std::vector<nlohmann::json>& frames) {
  std::vector<std::string> types;
  for (const auto& f : frames) types.push_back(f["t"]);
  return types;
}

// What a viewer resuming from each seq gets, with 3 of 5 events buffered (seqs 3..5).
TEST(ServerHubTest, AResumingViewerGetsTheBufferedEventsAfterItsSeqOrElseTheSnapshot) {
  struct Case {
    uint64_t resume_from;
    std::vector<uint64_t> seqs;  // of the frames it gets, welcome first
    bool snapshot;
  };
  const std::vector<Case> cases = {
      {5, {5}, false},           // missed nothing
      {4, {4, 5}, false},        // the newest event
      {2, {2, 3, 4, 5}, false},  // the whole buffer: 3 follows 2
      {1, {5, 5}, true},         // seq 2 is gone: snapshot (its seq is the last seq)
      {0, {5, 5}, true},
      {9, {5, 5}, true},  // newer than the session's last seq (another server): snapshot
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("resume_from " + std::to_string(c.resume_from));
    boost::asio::io_context io;
    auto hub = HubWithFinals(io, 5, {.replay_events = 3});
    auto viewer = std::make_shared<RecordingViewer>();
    hub->Attach(viewer, PlanWelcome(), c.resume_from, TestSnapshot());
    hub->Publish(FinalEvent(6, 6));
    io.run();
    auto frames = viewer->Parsed();
    ASSERT_EQ(frames.size(), c.seqs.size() + 1);
    EXPECT_EQ(frames.back()["seq"], 6) << "then live";
    frames.pop_back();
    std::vector<uint64_t> seqs;
    for (const auto& f : frames) seqs.push_back(f["seq"]);
    EXPECT_EQ(seqs, c.seqs);
    EXPECT_EQ(frames[0]["t"], "session.welcome");
    EXPECT_EQ(frames[0]["data"]["snapshot"], c.snapshot);
    EXPECT_EQ(frames[0]["data"]["last_seq"], 5);
    if (c.snapshot) {
      EXPECT_EQ(Types(frames), (std::vector<std::string>{"session.welcome", "session.snapshot"}));
      EXPECT_EQ(frames[1]["data"]["finals"], 5);
    } else {
      EXPECT_EQ(frames[0]["data"]["replayed"], c.seqs.size() - 1);
      for (size_t i = 1; i < frames.size(); ++i) {
        EXPECT_EQ(frames[i]["t"], "asr.final");
        EXPECT_EQ(frames[i]["data"]["segment_id"], frames[i]["seq"]);
      }
    }
  }
}

TEST(ServerHubTest, ReplayedFramesAreTheBytesLiveViewersWereGiven) {
  boost::asio::io_context io;
  auto hub = Hub::Create(io, "s");
  auto live = std::make_shared<RecordingViewer>();
  hub->Attach(live);
  for (uint64_t i = 1; i <= 4; ++i) hub->Publish(FinalEvent(i, i));
  io.run();
  io.restart();
  auto resumed = std::make_shared<RecordingViewer>();
  hub->Attach(resumed, nullptr, 1);
  io.run();
  ASSERT_EQ(resumed->frames.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(resumed->frames[i].get(), live->frames[i + 1].get());
}

TEST(ServerHubTest, ANewViewerWithoutResumeGetsTheWelcomeAtTheLastSeqAndNoReplay) {
  boost::asio::io_context io;
  auto hub = HubWithFinals(io, 4);
  auto viewer = std::make_shared<RecordingViewer>();
  hub->Attach(viewer, PlanWelcome(), std::nullopt, TestSnapshot());
  io.run();
  const auto frames = viewer->Parsed();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0]["seq"], 4);
  EXPECT_EQ(frames[0]["data"]["replayed"], 0);
}

// The buffer keeps at most replay_events events and none older (t_mono_ns) than replay_seconds
// before the newest; its bytes are counted.
TEST(ServerHubTest, TheReplayBufferIsBoundedByCountAndAgeAndCounted) {
  boost::asio::io_context io;
  auto hub = Hub::Create(io, "s", {.replay_events = 4, .replay_seconds = 10});
  size_t bytes = 0;
  auto watcher = std::make_shared<RecordingViewer>();
  hub->Attach(watcher);
  for (uint64_t i = 1; i <= 6; ++i) {
    auto event = FinalEvent(i, i);
    event.t_mono_ns = static_cast<int64_t>(i) * 1'000'000'000;
    hub->Publish(event);
  }
  io.run();
  io.restart();
  for (size_t i = 2; i < 6; ++i) bytes += watcher->frames[i]->size();
  DeliveryStats delivery = hub->Delivery();
  EXPECT_EQ(delivery.replay_events, 4u);
  EXPECT_EQ(delivery.replay_oldest_seq, 3u);
  EXPECT_EQ(delivery.replay_bytes, bytes);

  auto late = FinalEvent(7, 7);
  late.t_mono_ns = 15'500'000'000;  // seqs 3..5 (3 s..5 s) are now over 10 s old
  hub->Publish(late);
  io.run();
  delivery = hub->Delivery();
  EXPECT_EQ(delivery.replay_events, 2u);
  EXPECT_EQ(delivery.replay_oldest_seq, 6u);
  EXPECT_EQ(delivery.replay_bytes, watcher->frames[5]->size() + watcher->frames[6]->size());
}

TEST(ServerHubTest, HubOptionsRefuseEmptyBounds) {
  EXPECT_TRUE(HubOptions{}.Validate().ok());
  EXPECT_FALSE(HubOptions{.replay_events = 0}.Validate().ok());
  EXPECT_FALSE(HubOptions{.replay_seconds = 0}.Validate().ok());
}

}  // namespace
}  // namespace lx::server
