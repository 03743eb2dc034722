// The hand-off from session workers to the network loop (review finding 3).
#include "server/hub.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <boost/asio/io_context.hpp>

#include <map>
#include <mutex>
#include <thread>

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

}  // namespace
}  // namespace lx::server
