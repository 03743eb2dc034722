#include "server/hub.h"

#include <boost/asio/post.hpp>

#include <algorithm>

namespace lx::server {

Status HubOptions::Validate() const {
  if (replay_events == 0) return Status::InvalidArgument("replay_events must be at least 1");
  if (replay_seconds <= 0) return Status::InvalidArgument("replay_seconds must be positive");
  return Status::Ok();
}

std::shared_ptr<Hub> Hub::Create(boost::asio::io_context& io, std::string session_id,
                                 HubOptions options) {
  return std::shared_ptr<Hub>(new Hub(io, std::move(session_id), options));
}

void Hub::Publish(events::Event event) {
  boost::asio::post(
      strand_, [self = shared_from_this(), event = std::move(event)] { self->Deliver(event); });
}

void Hub::Attach(std::weak_ptr<Viewer> viewer, WelcomeBuilder welcome,
                 std::optional<uint64_t> resume_from, SnapshotBuilder snapshot) {
  boost::asio::post(
      strand_, [self = shared_from_this(), viewer = std::move(viewer), welcome = std::move(welcome),
                resume_from, snapshot = std::move(snapshot)] {
        if (auto held = viewer.lock()) self->Join(held, viewer, welcome, resume_from, snapshot);
      });
}

JoinPlan Hub::Plan(std::optional<uint64_t> resume_from, uint64_t last_seq) const {
  JoinPlan plan{resume_from, false, 0, last_seq};
  if (!resume_from) return plan;
  const uint64_t from = *resume_from;
  const bool covered =
      from == last_seq || (from < last_seq && !replay_.empty() && replay_.front().seq <= from + 1);
  if (!covered) {
    plan.snapshot = true;
    return plan;
  }
  plan.replayed = last_seq - from;
  plan.welcome_seq = from;
  return plan;
}

void Hub::Join(const std::shared_ptr<Viewer>& viewer, const std::weak_ptr<Viewer>& weak,
               const WelcomeBuilder& welcome, std::optional<uint64_t> resume_from,
               const SnapshotBuilder& snapshot) {
  const HubSummary summary = Summary();
  const JoinPlan plan = Plan(resume_from, summary.last_seq);
  std::vector<SeqFrame> backlog;
  if (welcome) {
    backlog.push_back(
        {std::make_shared<const std::string>(welcome(summary, plan)), plan.welcome_seq});
  }
  if (plan.snapshot && snapshot) {
    backlog.push_back({std::make_shared<const std::string>(snapshot(summary)), summary.last_seq});
  } else if (plan.replayed > 0) {
    // The buffer's seqs are consecutive, so the events after resume_from are its tail.
    for (auto it = replay_.end() - static_cast<std::ptrdiff_t>(plan.replayed); it != replay_.end();
         ++it) {
      backlog.push_back({it->frame, it->seq});
    }
  }
  if (!backlog.empty()) viewer->DeliverBacklog(std::move(backlog));
  const std::lock_guard lock(summary_mutex_);
  viewers_.push_back(weak);
  summary_.viewers = viewers_.size();
}

void Hub::Detach(const Viewer* viewer) {
  boost::asio::post(strand_, [self = shared_from_this(), viewer] {
    const std::lock_guard lock(self->summary_mutex_);
    auto& viewers = self->viewers_;
    viewers.erase(std::remove_if(viewers.begin(), viewers.end(),
                                 [viewer](const std::weak_ptr<Viewer>& v) {
                                   const auto held = v.lock();
                                   return held == nullptr || held.get() == viewer;
                                 }),
                  viewers.end());
    self->summary_.viewers = viewers.size();
  });
}

HubSummary Hub::Summary() const {
  const std::lock_guard lock(summary_mutex_);
  return summary_;
}

DeliveryStats Hub::Delivery() const {
  const std::lock_guard lock(summary_mutex_);
  DeliveryStats total;
  total.replay_events = replay_events_;
  total.replay_bytes = replay_bytes_;
  total.replay_oldest_seq = replay_oldest_seq_;
  for (const auto& weak : viewers_) {
    const auto viewer = weak.lock();
    if (viewer == nullptr) continue;
    const ViewerStats stats = viewer->Stats();
    ++total.viewers;
    total.queued_frames += stats.queued_frames;
    total.max_queued_frames = std::max(total.max_queued_frames, stats.queued_frames);
    total.queued_bytes += stats.queued_bytes;
    total.max_queued_bytes = std::max(total.max_queued_bytes, stats.queued_bytes);
    total.sent_frames += stats.sent_frames;
    total.dropped_frames += stats.dropped_frames;
  }
  return total;
}

void Hub::Deliver(const events::Event& event) {
  const uint64_t seq = next_seq_++;
  const auto frame =
      std::make_shared<const std::string>(events::EncodeEnvelope(session_id_, seq, event));
  const std::lock_guard lock(summary_mutex_);
  Remember(event, seq);
  Buffer(seq, frame, event.t_mono_ns);
  for (const auto& weak : viewers_) {
    if (auto viewer = weak.lock()) viewer->Deliver(frame, seq);  // only posts: cheap under the lock
  }
  std::erase_if(viewers_, [](const std::weak_ptr<Viewer>& v) { return v.expired(); });
  summary_.viewers = viewers_.size();
}

void Hub::Remember(const events::Event& event, uint64_t seq) {
  summary_.last_seq = seq;
  if (const auto* partial = std::get_if<asr::Partial>(&event.payload)) {
    summary_.live_partial = *partial;
  } else if (const auto* final_caption = std::get_if<asr::Final>(&event.payload)) {
    if (summary_.live_partial && summary_.live_partial->segment_id == final_caption->segment_id) {
      summary_.live_partial.reset();
    }
    summary_.recent_finals.push_back(*final_caption);
    if (summary_.recent_finals.size() > kRecentFinals) summary_.recent_finals.pop_front();
  }
}

void Hub::Buffer(uint64_t seq, std::shared_ptr<const std::string> frame, int64_t t_mono_ns) {
  replay_bytes_ += frame->size();
  replay_.push_back({seq, std::move(frame), t_mono_ns});
  const int64_t oldest_kept_ns =
      t_mono_ns - static_cast<int64_t>(options_.replay_seconds) * 1'000'000'000;
  while (replay_.size() > options_.replay_events || replay_.front().t_mono_ns < oldest_kept_ns) {
    replay_bytes_ -= replay_.front().frame->size();
    replay_.pop_front();
  }
  replay_events_ = replay_.size();
  replay_oldest_seq_ = replay_.empty() ? 0 : replay_.front().seq;
}

std::shared_ptr<Hub> HubRegistry::Create(const std::string& session_id) {
  auto hub = Hub::Create(io_, session_id, options_);
  const std::lock_guard lock(mutex_);
  hubs_[session_id] = hub;
  return hub;
}

std::shared_ptr<Hub> HubRegistry::Find(const std::string& session_id) const {
  const std::lock_guard lock(mutex_);
  const auto it = hubs_.find(session_id);
  return it == hubs_.end() ? nullptr : it->second;
}

}  // namespace lx::server
