// One session's fan-out on the network loop: numbers its events, encodes each once, and hands
// the shared bytes to every viewer.
#pragma once

// Boost 1.74's asio needs <utility> before its headers under -std=c++20.
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "events/event.h"
#include "session/event_sink.h"

namespace lx::server {

// How a viewer's deliveries went.
struct ViewerStats {
  size_t queued_frames = 0;     // waiting to be sent now
  uint64_t sent_frames = 0;     // written to the socket
  uint64_t dropped_frames = 0;  // superseded partials, skipped vu, a slow client's discarded rest
};

// A viewer's connection as the hub sees it.
class Viewer {
 public:
  virtual ~Viewer() = default;
  // Queues one encoded envelope for sending; `seq` is its seq (for the welcome, the session's
  // last seq). Called on the hub's strand; must not block.
  virtual void Deliver(std::shared_ptr<const std::string> frame, uint64_t seq) = 0;
  // The viewer's delivery figures; callable from any thread.
  virtual ViewerStats Stats() const = 0;
};

// The delivery figures of all of a session's viewers.
struct DeliveryStats {
  size_t viewers = 0;
  size_t queued_frames = 0;      // summed over viewers
  size_t max_queued_frames = 0;  // the longest queue
  uint64_t sent_frames = 0;
  uint64_t dropped_frames = 0;
};

// What the hub knows of its session's captions, for snapshots.
struct HubSummary {
  uint64_t last_seq = 0;                     // seq of the newest event (0 before any)
  std::deque<asr::Final> recent_finals;      // the last kRecentFinals, oldest first
  std::optional<asr::Partial> live_partial;  // the open segment's newest partial
  size_t viewers = 0;
};

// Thread-safe: Publish, Attach and Detach may be called from any thread; the work happens on
// the hub's strand, in call order per calling thread.
class Hub final : public session::EventSink, public std::enable_shared_from_this<Hub> {
 public:
  static constexpr size_t kRecentFinals = 20;

  static std::shared_ptr<Hub> Create(boost::asio::io_context& io, std::string session_id);

  // Posts the event onto the strand, where it gets the next seq, is encoded once and delivered
  // to every viewer. Safe before the io_context runs: the events wait, in order, until it does.
  void Publish(events::Event event) override;
  // Builds the viewer's first message from the summary as of the moment it joins.
  using WelcomeBuilder = std::function<std::string(const HubSummary&)>;
  // Sends `viewer` the welcome, then every later event (the viewer is held weakly: a closed
  // viewer just drops out). Nothing is missed or repeated between the two.
  void Attach(std::weak_ptr<Viewer> viewer, WelcomeBuilder welcome = nullptr);
  // Stops delivering to `viewer`.
  void Detach(const Viewer* viewer);
  // A copy of the summary as of the last delivered event.
  HubSummary Summary() const;
  // The current viewers' delivery figures. Thread-safe.
  DeliveryStats Delivery() const;

 private:
  Hub(boost::asio::io_context& io, std::string session_id)
      : strand_(boost::asio::make_strand(io)), session_id_(std::move(session_id)) {}
  void Deliver(const events::Event& event);                 // on the strand
  void Remember(const events::Event& event, uint64_t seq);  // with summary_mutex_ held

  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  const std::string session_id_;
  uint64_t next_seq_ = 1;  // strand only

  mutable std::mutex summary_mutex_;
  HubSummary summary_;                          // guarded by summary_mutex_
  std::vector<std::weak_ptr<Viewer>> viewers_;  // guarded by summary_mutex_
};

// The hubs of all sessions, made on one io_context. Thread-safe.
class HubRegistry {
 public:
  explicit HubRegistry(boost::asio::io_context& io) : io_(io) {}
  // Makes and keeps the hub of a new session (the SessionManager's sink factory).
  std::shared_ptr<Hub> Create(const std::string& session_id);
  // The session's hub, or nullptr.
  std::shared_ptr<Hub> Find(const std::string& session_id) const;

 private:
  boost::asio::io_context& io_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Hub>> hubs_;  // guarded by mutex_
};

}  // namespace lx::server
