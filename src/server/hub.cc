#include "server/hub.h"

#include <boost/asio/post.hpp>

#include <algorithm>

namespace lx::server {

std::shared_ptr<Hub> Hub::Create(boost::asio::io_context& io, std::string session_id) {
  return std::shared_ptr<Hub>(new Hub(io, std::move(session_id)));
}

void Hub::Publish(events::Event event) {
  boost::asio::post(
      strand_, [self = shared_from_this(), event = std::move(event)] { self->Deliver(event); });
}

void Hub::Attach(std::weak_ptr<Viewer> viewer, WelcomeBuilder welcome) {
  boost::asio::post(strand_, [self = shared_from_this(), viewer = std::move(viewer),
                              welcome = std::move(welcome)] {
    auto held = viewer.lock();
    if (held == nullptr) return;
    if (welcome) {
      const HubSummary summary = self->Summary();
      held->Deliver(std::make_shared<const std::string>(welcome(summary)), summary.last_seq);
    }
    const std::lock_guard lock(self->summary_mutex_);
    self->viewers_.push_back(viewer);
    self->summary_.viewers = self->viewers_.size();
  });
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
  for (const auto& weak : viewers_) {
    const auto viewer = weak.lock();
    if (viewer == nullptr) continue;
    const ViewerStats stats = viewer->Stats();
    ++total.viewers;
    total.queued_frames += stats.queued_frames;
    total.max_queued_frames = std::max(total.max_queued_frames, stats.queued_frames);
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

std::shared_ptr<Hub> HubRegistry::Create(const std::string& session_id) {
  auto hub = Hub::Create(io_, session_id);
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
