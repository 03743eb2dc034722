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

#include "base/status.h"
#include "events/event.h"
#include "session/event_sink.h"

namespace lx::server {

// How long a session's events stay replayable for viewers that resume (docs/protocol.md).
struct HubOptions {
  size_t replay_events = 2000;  // the replay buffer keeps at most this many newest events
  int replay_seconds = 600;     // and none older than this, by t_mono_ns, than the newest event
  // InvalidArgument naming the field when a limit is zero or negative.
  Status Validate() const;
};

// How a viewer's deliveries went.
struct ViewerStats {
  size_t queued_frames = 0;     // waiting to be sent now
  uint64_t sent_frames = 0;     // written to the socket
  uint64_t dropped_frames = 0;  // superseded partials, skipped vu, a slow client's discarded rest
  size_t queued_bytes = 0;      // the encoded size of the queued frames
};

// One encoded envelope and its seq.
struct SeqFrame {
  std::shared_ptr<const std::string> frame;
  uint64_t seq = 0;
};

// A viewer's connection as the hub sees it.
class Viewer {
 public:
  virtual ~Viewer() = default;
  // Queues one encoded envelope for sending; `seq` is its seq (for the welcome, the session's
  // last seq). Called on the hub's strand; must not block.
  virtual void Deliver(std::shared_ptr<const std::string> frame, uint64_t seq) = 0;
  // Queues, in order, what a joining viewer gets before live events: the welcome, then the
  // snapshot or the replayed events. A connection writes them before any live frame and never
  // drops them to make room (the replayed frames are the hub's buffer's own, shared, so they
  // cost the viewer no bytes). Called on the hub's strand; must not block. Default: Deliver each.
  virtual void DeliverBacklog(std::vector<SeqFrame> frames) {
    for (auto& f : frames) Deliver(std::move(f.frame), f.seq);
  }
  // The viewer's delivery figures; callable from any thread.
  virtual ViewerStats Stats() const = 0;
};

// The delivery figures of all of a session's viewers.
struct DeliveryStats {
  size_t viewers = 0;
  size_t queued_frames = 0;        // summed over viewers
  size_t max_queued_frames = 0;    // the longest queue
  size_t queued_bytes = 0;         // summed over viewers
  size_t max_queued_bytes = 0;     // the largest queue, in bytes
  size_t replay_events = 0;        // events in the session's replay buffer
  size_t replay_bytes = 0;         // their encoded size (the frames are shared with the viewers)
  uint64_t replay_oldest_seq = 0;  // the oldest replayable seq (0 when the buffer is empty)
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

// How a joining viewer starts (docs/protocol.md, "Resuming").
struct JoinPlan {
  std::optional<uint64_t> resume_from;  // the last seq the viewer holds, when it resumes
  // Resuming: the replay buffer no longer (or never) held every event after resume_from, or
  // resume_from is newer than the session's last seq (e.g. from before a server restart); the
  // viewer gets session.snapshot after the welcome instead of replayed events.
  bool snapshot = false;
  uint64_t replayed = 0;  // resuming, no snapshot: the events after resume_from that follow
  // The seq of the welcome: resume_from when replaying (the replayed events follow it), else the
  // session's last seq.
  uint64_t welcome_seq = 0;
};

// Keeps the frames of its newest events (HubOptions) for viewers that resume, the same shared
// bytes the live viewers were given; the buffer lives on the strand, its size is in Delivery().
// Thread-safe: Publish, Attach and Detach may be called from any thread; the work happens on
// the hub's strand, in call order per calling thread. Each event costs O(viewers).
class Hub final : public session::EventSink, public std::enable_shared_from_this<Hub> {
 public:
  static constexpr size_t kRecentFinals = 20;

  static std::shared_ptr<Hub> Create(boost::asio::io_context& io, std::string session_id,
                                     HubOptions options = {});

  // Posts the event onto the strand, where it gets the next seq, is encoded once and delivered
  // to every viewer. Safe before the io_context runs: the events wait, in order, until it does.
  void Publish(events::Event event) override;
  // Builds the viewer's first message from the summary as of the moment it joins; its seq must
  // be plan.welcome_seq.
  using WelcomeBuilder = std::function<std::string(const HubSummary&, const JoinPlan&)>;
  // Builds the session.snapshot envelope (seq summary.last_seq) a resuming viewer gets when the
  // events it missed are not all buffered.
  using SnapshotBuilder = std::function<std::string(const HubSummary&)>;
  // Sends `viewer` the welcome, then (resuming) either every buffered event after resume_from
  // or the snapshot, then every later event (the viewer is held weakly: a closed viewer just
  // drops out). Nothing is missed or repeated between them. Without a welcome builder nothing
  // precedes the live events.
  void Attach(std::weak_ptr<Viewer> viewer, WelcomeBuilder welcome = nullptr,
              std::optional<uint64_t> resume_from = std::nullopt,
              SnapshotBuilder snapshot = nullptr);
  // Stops delivering to `viewer`.
  void Detach(const Viewer* viewer);
  // A copy of the summary as of the last delivered event.
  HubSummary Summary() const;
  // The current viewers' delivery figures. Thread-safe.
  DeliveryStats Delivery() const;

 private:
  // One event kept for resuming viewers: the very frame the live viewers were given.
  struct Buffered {
    uint64_t seq;
    std::shared_ptr<const std::string> frame;
    int64_t t_mono_ns;
  };

  Hub(boost::asio::io_context& io, std::string session_id, HubOptions options)
      : strand_(boost::asio::make_strand(io)),
        session_id_(std::move(session_id)),
        options_(options) {}
  void Deliver(const events::Event& event);                 // on the strand
  void Remember(const events::Event& event, uint64_t seq);  // with summary_mutex_ held
  // Keeps the frame and drops what falls outside the bounds. Strand, summary_mutex_ held.
  void Buffer(uint64_t seq, std::shared_ptr<const std::string> frame, int64_t t_mono_ns);
  // What a viewer resuming from `resume_from` (or not resuming) gets. Strand only.
  JoinPlan Plan(std::optional<uint64_t> resume_from, uint64_t last_seq) const;
  // Attach's work, on the strand.
  void Join(const std::shared_ptr<Viewer>& viewer, const std::weak_ptr<Viewer>& weak,
            const WelcomeBuilder& welcome, std::optional<uint64_t> resume_from,
            const SnapshotBuilder& snapshot);

  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  const std::string session_id_;
  const HubOptions options_;
  uint64_t next_seq_ = 1;        // strand only
  std::deque<Buffered> replay_;  // strand only; seqs increasing

  mutable std::mutex summary_mutex_;
  HubSummary summary_;                          // guarded by summary_mutex_
  size_t replay_bytes_ = 0;                     // guarded by summary_mutex_
  size_t replay_events_ = 0;                    // guarded by summary_mutex_
  uint64_t replay_oldest_seq_ = 0;              // guarded by summary_mutex_
  std::vector<std::weak_ptr<Viewer>> viewers_;  // guarded by summary_mutex_
};

// The hubs of all sessions, made on one io_context. Thread-safe.
class HubRegistry {
 public:
  explicit HubRegistry(boost::asio::io_context& io, HubOptions options = {})
      : io_(io), options_(options) {}
  // Makes and keeps the hub of a new session (the SessionManager's sink factory).
  std::shared_ptr<Hub> Create(const std::string& session_id);
  // The session's hub, or nullptr.
  std::shared_ptr<Hub> Find(const std::string& session_id) const;

 private:
  boost::asio::io_context& io_;
  const HubOptions options_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Hub>> hubs_;  // guarded by mutex_
};

}  // namespace lx::server
