#include "server/ws_connection.h"

#include <spdlog/spdlog.h>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <deque>
#include <exception>
#include <optional>
#include <span>
#include <vector>

#include "base/clock.h"
#include "base/logging.h"
#include "events/event.h"
#include "events/json_codec.h"

namespace lx::server {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace websocket = beast::websocket;
using WsStream = websocket::stream<beast::tcp_stream>;

constexpr size_t kMaxViewerMessageBytes = 64 * 1024;  // viewers have nothing big to say
constexpr size_t kMaxCloseReasonBytes = 123;          // RFC 6455: 125 bytes less the code
constexpr size_t kAudioReadChunkBytes = 64 * 1024;    // one read of a pushed frame, at most
constexpr int kCloseGraceMs = 5000;  // a stalled viewer's 1013 waits this long to get out

// Close codes (RFC 6455 section 7.4.1).
constexpr uint16_t kCloseGoingAway = 1001;
constexpr uint16_t kCloseUnsupportedData = 1003;
constexpr uint16_t kClosePolicyViolation = 1008;
constexpr uint16_t kCloseTooBig = 1009;
constexpr uint16_t kCloseInternalError = 1011;
constexpr uint16_t kCloseTryAgainLater = 1013;

websocket::close_reason CloseReason(uint16_t code, std::string_view reason) {
  websocket::close_reason result(code);
  result.reason = std::string(reason.substr(0, kMaxCloseReasonBytes));
  return result;
}

// Idle timeout with keep-alive pings: a peer that neither sends nor answers a ping within
// `client_timeout_ms` is dropped. Any frame it sends counts as liveness.
void Configure(WsStream& ws, int client_timeout_ms) {
  beast::get_lowest_layer(ws).expires_never();  // the HTTP read deadline no longer applies
  auto timeout = websocket::stream_base::timeout::suggested(beast::role_type::server);
  timeout.idle_timeout = std::chrono::milliseconds(client_timeout_ms);
  timeout.keep_alive_pings = true;
  ws.set_option(timeout);
  ws.set_option(websocket::stream_base::decorator([](websocket::response_type& response) {
    response.set(beast::http::field::server, "loquilex");
  }));
}

// The server.hb envelope (docs/protocol.md): seq is that of the newest event the session gave
// this viewer, so a client that saw a smaller one knows it missed some.
std::string HeartbeatFrame(const std::string& session_id, uint64_t last_seq) {
  const auto wall_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  return events::EncodeEnvelope("server.hb", session_id, last_seq, wall_ns,
                                SteadyClock::Instance().NowNs(), events::Json::object());
}

// A viewer that ignores what it is sent: attached only to run code on a hub's strand.
class NullViewer final : public Viewer {
 public:
  void Deliver(std::shared_ptr<const std::string> /*frame*/, uint64_t /*seq*/) override {}
  ViewerStats Stats() const override { return {}; }
};

// client.hello's resume_from: nullopt when `message` is not a client.hello; an error reason when
// it is one without a non-negative integer resume_from.
struct Hello {
  bool is_hello = false;
  std::optional<uint64_t> resume_from;
};
Hello ParseHello(std::string_view message) {
  const auto json = events::Json::parse(message, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || json.value("t", events::Json()) != "client.hello") return {};
  Hello hello{true, std::nullopt};
  const auto data = json.find("data");
  if (data == json.end() || !data->is_object()) return hello;
  const auto from = data->find("resume_from");
  if (from != data->end() && from->is_number_unsigned()) hello.resume_from = from->get<uint64_t>();
  return hello;
}

class EventsConnection;

// One attachment of a connection to its hub. A connection that re-attaches (client.hello)
// drops its old attachment, and frames the old one still delivers are told apart by generation.
class Attachment final : public Viewer {
 public:
  Attachment(std::weak_ptr<EventsConnection> owner, uint64_t generation)
      : owner_(std::move(owner)), generation_(generation) {}
  void Deliver(std::shared_ptr<const std::string> frame, uint64_t seq) override;
  void DeliverBacklog(std::vector<SeqFrame> frames) override;
  ViewerStats Stats() const override;

 private:
  const std::weak_ptr<EventsConnection> owner_;
  const uint64_t generation_;
};

// /ws/{sid}: one object per socket; everything but Deliver, Stats and CloseForShutdown runs on
// the socket's strand.
class EventsConnection final : public WsConnection,
                               public std::enable_shared_from_this<EventsConnection> {
 public:
  EventsConnection(beast::tcp_stream stream, std::string session_id, std::string request_id,
                   std::shared_ptr<Hub> hub, const WsContext& context)
      : ws_(std::move(stream)),
        heartbeat_(ws_.get_executor()),
        hello_timer_(ws_.get_executor()),
        stall_timer_(ws_.get_executor()),
        session_id_(std::move(session_id)),
        request_id_(std::move(request_id)),
        hub_(std::move(hub)),
        context_(context) {}

  void Start(const WsRequest& request, std::optional<uint64_t> resume_from) {
    resume_from_ = resume_from;
    Configure(ws_, context_.client_timeout_ms);
    ws_.read_message_max(kMaxViewerMessageBytes);
    ws_.async_accept(request,
                     beast::bind_front_handler(&EventsConnection::OnAccept, shared_from_this()));
  }

  // Called on the hub's strand by the attachment of `generation`.
  void Deliver(std::shared_ptr<const std::string> frame, uint64_t seq, uint64_t generation) {
    net::post(ws_.get_executor(),
              [self = shared_from_this(), frame = std::move(frame), seq, generation] {
                if (generation != self->generation_) return;  // from a dropped attachment
                self->last_seq_ = seq;
                self->Enqueue(frame);
              });
  }

  // Called on the hub's strand by the attachment of `generation`.
  void DeliverBacklog(std::vector<SeqFrame> frames, uint64_t generation) {
    net::post(ws_.get_executor(),
              [self = shared_from_this(), frames = std::move(frames), generation]() mutable {
                if (generation != self->generation_ || frames.empty()) return;
                if (self->closing_ || self->finished_) return;
                self->last_seq_ = frames.back().seq;
                self->offered_frames_ += frames.size();
                for (auto& f : frames) self->backlog_.push_back(std::move(f.frame));
                self->UpdateStats();
                if (!self->writing_ && !self->holding_) self->DoWrite();
              });
  }

  ViewerStats Stats() const {
    const uint64_t offered = offered_frames_.load();
    const uint64_t sent = sent_frames_.load();
    const size_t queued = queued_frames_.load();
    // Every frame offered was sent, is queued, or was dropped by the overflow policy or a close.
    return {queued, sent, offered - std::min<uint64_t>(offered, sent + queued),
            queued_bytes_.load()};
  }

  // Runs the close on the hub's strand first, so that it follows every event the hub has
  // already been given (the sessions' last finals).
  void CloseForShutdown() override {
    auto probe = std::make_shared<NullViewer>();
    hub_->Attach(probe, [self = shared_from_this(), probe](const HubSummary&, const JoinPlan&) {
      net::post(self->ws_.get_executor(), [self] {
        self->StopHolding();
        self->CloseAfterQueue(kCloseGoingAway, "server shutting down");
      });
      return std::string();
    });
  }

 private:
  struct Outgoing {
    std::shared_ptr<const std::string> frame;
    FrameKind kind;
  };
  enum class Room { kAppend, kDropNew, kNone };

  void OnAccept(beast::error_code ec) {
    if (ec) {
      LogWith(spdlog::level::debug, {{"session_id", session_id_}, {"request_id", request_id_}},
              "viewer handshake failed: {}", ec.message());
      return;
    }
    const std::string refusal =
        context_.registry->Admit(shared_from_this(), session_id_, context_.admission);
    if (!refusal.empty()) {
      LogWith(spdlog::level::info, {{"session_id", session_id_}, {"request_id", request_id_}},
              "viewer refused: {}", refusal);
      refused_ = true;
      DoRead();  // completes when the client answers the close
      return CloseAfterQueue(kCloseTryAgainLater, refusal);
    }
    holding_ = !resume_from_ && context_.hello_grace_ms > 0;
    AttachFrom(resume_from_);
    if (holding_) {
      hello_timer_.expires_after(std::chrono::milliseconds(context_.hello_grace_ms));
      hello_timer_.async_wait([self = shared_from_this()](beast::error_code timer_ec) {
        if (!timer_ec) self->StopHolding();
      });
    }
    DoRead();
    DoHeartbeat();
  }

  // Attaches a new attachment (dropping the old one) that resumes from `resume_from`.
  void AttachFrom(std::optional<uint64_t> resume_from) {
    if (attachment_ != nullptr) hub_->Detach(attachment_.get());
    attachment_ = std::make_shared<Attachment>(weak_from_this(), ++generation_);
    const Api* api = context_.api;
    hub_->Attach(
        attachment_,
        [api, sid = session_id_](const HubSummary& summary, const JoinPlan& plan) {
          return api->Welcome(sid, summary, plan);
        },
        resume_from,
        [api, sid = session_id_](const HubSummary& summary) {
          return api->SnapshotEnvelope(sid, summary);
        });
  }

  void StopHolding() {
    if (!holding_) return;
    holding_ = false;
    hello_timer_.cancel();
    if (!writing_ && HasNext()) DoWrite();
  }

  void DoRead() {
    ws_.async_read(read_buffer_,
                   beast::bind_front_handler(&EventsConnection::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t /*bytes*/) {
    if (ec) return OnClosed(ec);
    const auto data = read_buffer_.cdata();
    const Hello hello =
        ParseHello(std::string_view(static_cast<const char*>(data.data()), data.size()));
    read_buffer_.consume(read_buffer_.size());
    if (hello.is_hello && !resume_from_ && !refused_) OnHello(hello);
    StopHolding();
    DoRead();
  }

  void OnHello(const Hello& hello) {
    if (!hello.resume_from) {
      return CloseNow(kClosePolicyViolation,
                      "client.hello: resume_from must be a non-negative integer");
    }
    if (!holding_) {
      return CloseNow(kClosePolicyViolation, "client.hello must be the first message, within " +
                                                 std::to_string(context_.hello_grace_ms) +
                                                 " ms; use ?resume_from");
    }
    // Nothing was written yet: forget what the first attachment queued and start again.
    offered_frames_ -= queue_.size() + backlog_.size();
    queue_.clear();
    backlog_.clear();
    queue_bytes_ = 0;
    UpdateStats();
    resume_from_ = hello.resume_from;
    AttachFrom(resume_from_);
  }

  void DoHeartbeat() {
    heartbeat_.expires_after(std::chrono::milliseconds(context_.heartbeat_interval_ms));
    heartbeat_.async_wait(
        beast::bind_front_handler(&EventsConnection::OnHeartbeat, shared_from_this()));
  }

  void OnHeartbeat(beast::error_code ec) {
    if (ec || closing_ || finished_) return;
    // Not the hub's newest seq: an event may be on its way to this strand, and the heartbeat
    // must not announce it before it arrives. Not while holding: the welcome comes first.
    if (!holding_) {
      Enqueue(std::make_shared<const std::string>(HeartbeatFrame(session_id_, last_seq_)));
    }
    DoHeartbeat();
  }

  void Enqueue(const std::shared_ptr<const std::string>& frame) {
    ++offered_frames_;
    EnqueueOffered(frame);
    UpdateStats();
  }

  void UpdateStats() {
    queued_frames_ = queue_.size() + backlog_.size() + (writing_ ? 1 : 0);
    queued_bytes_ = queue_bytes_;
  }

  bool HasNext() const { return !backlog_.empty() || !queue_.empty(); }

  bool Fits(const std::string& frame) const {
    return queue_.size() < context_.send_queue_limit_frames &&
           queue_bytes_ + frame.size() <= context_.send_queue_limit_bytes;
  }

  void EnqueueOffered(const std::shared_ptr<const std::string>& frame) {
    if (closing_ || finished_) return;
    const FrameKind kind = ClassifyFrame(*frame);
    while (!Fits(*frame)) {
      switch (MakeRoom(kind)) {
        case Room::kAppend:
          continue;
        case Room::kDropNew:
          return;
        case Room::kNone:
          LogWith(spdlog::level::warn, {{"session_id", session_id_}, {"request_id", request_id_}},
                  "viewer too slow, {} frames ({} bytes) queued; closing with 1013", queue_.size(),
                  queue_bytes_);
          DiscardQueued();
          return CloseAfterQueue(kCloseTryAgainLater, "client too slow");
      }
    }
    queue_bytes_ += frame->size();
    queue_.push_back({frame, kind});
    if (!writing_ && !holding_) DoWrite();
  }

  // The overflow policy: a partial supersedes a queued partial of its segment and stream; vu
  // and heartbeat frames are the first to go. The frame being written is not in the queue.
  Room MakeRoom(const FrameKind& kind) {
    const auto first = queue_.begin();
    using Type = FrameKind::Type;
    if (kind.type == Type::kVu || kind.type == Type::kHeartbeat) return Room::kDropNew;
    if (kind.type == Type::kPartial) {
      const auto same = std::find_if(first, queue_.end(), [&](const Outgoing& out) {
        return out.kind.type == Type::kPartial && out.kind.segment_id == kind.segment_id &&
               out.kind.translation == kind.translation;
      });
      if (same != queue_.end()) {
        Erase(same);  // the newer one goes last, so seqs stay increasing
        return Room::kAppend;
      }
    }
    const auto droppable = std::find_if(first, queue_.end(), [](const Outgoing& out) {
      return out.kind.type == Type::kVu || out.kind.type == Type::kHeartbeat;
    });
    if (droppable == queue_.end()) return Room::kNone;
    Erase(droppable);
    return Room::kAppend;
  }

  void Erase(const std::deque<Outgoing>::iterator& it) {
    queue_bytes_ -= it->frame->size();
    queue_.erase(it);
  }

  // Drops everything but the frame in flight.
  void DiscardQueued() {
    queue_.clear();
    backlog_.clear();
    queue_bytes_ = 0;
    UpdateStats();
  }

  // Writes the next frame: the backlog's (welcome, snapshot, replayed events) before the live
  // queue's, whose seqs are all larger.
  void DoWrite() {
    if (!backlog_.empty()) {
      in_flight_ = std::move(backlog_.front());
      backlog_.pop_front();
    } else {
      in_flight_ = std::move(queue_.front().frame);
      queue_bytes_ -= in_flight_->size();
      queue_.pop_front();
    }
    writing_ = true;
    UpdateStats();
    ws_.text(true);
    ws_.async_write(net::buffer(*in_flight_),
                    beast::bind_front_handler(&EventsConnection::OnWrite, shared_from_this()));
    ArmStallTimer();
  }

  // A write that has not completed after client_stall_ms: the client has stopped reading. Its
  // 1013 then waits behind that write for at most kCloseGraceMs more (the client may read again
  // and get it), after which the socket is dropped.
  void ArmStallTimer(int ms = 0) {
    stall_timer_.expires_after(std::chrono::milliseconds(ms > 0 ? ms : context_.client_stall_ms));
    stall_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->finished_ || !self->writing_) return;
      if (self->closing_) {
        // Even the close cannot get out: give up on the socket.
        beast::error_code ignored;
        beast::get_lowest_layer(self->ws_).socket().close(ignored);
        return;
      }
      LogWith(spdlog::level::warn,
              {{"session_id", self->session_id_}, {"request_id", self->request_id_}},
              "viewer stalled for {} ms; closing with 1013", self->context_.client_stall_ms);
      self->DiscardQueued();
      self->CloseAfterQueue(kCloseTryAgainLater, "client stalled");
      self->ArmStallTimer(std::max(kCloseGraceMs, self->context_.client_stall_ms));
    });
  }

  void OnWrite(beast::error_code ec, size_t /*bytes*/) {
    writing_ = false;
    in_flight_.reset();
    stall_timer_.cancel();
    if (ec) return OnClosed(ec);
    ++sent_frames_;
    UpdateStats();
    if (HasNext()) return DoWrite();
    if (pending_close_) DoClose();
  }

  void CloseAfterQueue(uint16_t code, std::string_view reason) {
    if (closing_ || finished_) return;
    closing_ = true;
    pending_close_ = CloseReason(code, reason);
    if (!writing_ && (!HasNext() || holding_)) DoClose();
  }

  // Closes without sending what is queued (a protocol violation).
  void CloseNow(uint16_t code, const std::string& reason) {
    LogWith(spdlog::level::info, {{"session_id", session_id_}, {"request_id", request_id_}},
            "closing viewer: {}", reason);
    DiscardQueued();
    holding_ = false;
    CloseAfterQueue(code, reason);
  }

  void DoClose() {
    heartbeat_.cancel();
    hello_timer_.cancel();
    const websocket::close_reason reason = *pending_close_;
    pending_close_.reset();
    ws_.async_close(reason,
                    beast::bind_front_handler(&EventsConnection::OnCloseSent, shared_from_this()));
  }

  // The pending read completes (with websocket::error::closed) once the peer answers.
  void OnCloseSent(beast::error_code ec) {
    if (ec) OnClosed(ec);
  }

  void OnClosed(beast::error_code ec) {
    if (finished_) return;
    finished_ = true;
    LogWith(spdlog::level::debug, {{"session_id", session_id_}, {"request_id", request_id_}},
            "viewer gone: {}", ec.message());
    heartbeat_.cancel();
    hello_timer_.cancel();
    stall_timer_.cancel();
    queue_.clear();
    backlog_.clear();
    queue_bytes_ = 0;
    queued_frames_ = 0;
    queued_bytes_ = 0;
    if (attachment_ != nullptr) hub_->Detach(attachment_.get());
    attachment_.reset();
    if (!refused_) context_.registry->Remove(this);
  }

  WsStream ws_;
  net::steady_timer heartbeat_;
  net::steady_timer hello_timer_;  // ends the hold of a viewer that says nothing
  net::steady_timer stall_timer_;  // runs while a write is in flight
  beast::flat_buffer read_buffer_;
  const std::string session_id_;
  const std::string request_id_;  // the upgrade's, for log lines
  const std::shared_ptr<Hub> hub_;
  const WsContext& context_;
  std::shared_ptr<Attachment> attachment_;                  // the hub holds it weakly
  uint64_t generation_ = 0;                                 // of attachment_
  std::optional<uint64_t> resume_from_;                     // ?resume_from, or client.hello's
  std::deque<std::shared_ptr<const std::string>> backlog_;  // see DoWrite; never dropped
  std::deque<Outgoing> queue_;                              // live frames waiting
  size_t queue_bytes_ = 0;                                  // the queue's frames' sizes
  std::shared_ptr<const std::string> in_flight_;            // being written while writing_
  uint64_t last_seq_ = 0;  // of the newest frame the hub delivered (sent or dropped)
  // Delivery figures, written on the strand, read by Stats() from any thread.
  std::atomic<uint64_t> offered_frames_{0};
  std::atomic<uint64_t> sent_frames_{0};
  std::atomic<size_t> queued_frames_{0};
  std::atomic<size_t> queued_bytes_{0};
  bool holding_ = false;  // writes wait for the first client message or the hello grace
  bool refused_ = false;  // over an admission limit: only the 1013 close goes out
  bool writing_ = false;
  bool closing_ = false;   // a close is queued or sent: nothing more is queued
  bool finished_ = false;  // the socket is gone
  std::optional<websocket::close_reason> pending_close_;
};

void Attachment::Deliver(std::shared_ptr<const std::string> frame, uint64_t seq) {
  if (auto owner = owner_.lock()) owner->Deliver(std::move(frame), seq, generation_);
}

void Attachment::DeliverBacklog(std::vector<SeqFrame> frames) {
  if (auto owner = owner_.lock()) owner->DeliverBacklog(std::move(frames), generation_);
}

ViewerStats Attachment::Stats() const {
  const auto owner = owner_.lock();
  return owner ? owner->Stats() : ViewerStats{};
}

// /sessions/{sid}/audio: binary PCM frames in, nothing out but the close.
class AudioConnection final : public WsConnection,
                              public std::enable_shared_from_this<AudioConnection> {
 public:
  AudioConnection(beast::tcp_stream stream, std::string session_id, std::string request_id,
                  const WsContext& context)
      : ws_(std::move(stream)),
        session_id_(std::move(session_id)),
        request_id_(std::move(request_id)),
        context_(context) {}

  void Start(const WsRequest& request) {
    Configure(ws_, context_.client_timeout_ms);
    // The frame limit is enforced by DoRead/OnRead rather than by Beast, whose own 1009 close
    // would give no reason.
    ws_.read_message_max(0);
    ws_.async_accept(request,
                     beast::bind_front_handler(&AudioConnection::OnAccept, shared_from_this()));
  }

  void CloseForShutdown() override {
    net::post(ws_.get_executor(), [self = shared_from_this()] {
      self->Close(kCloseGoingAway, "server shutting down");
    });
  }

 private:
  void OnAccept(beast::error_code ec) {
    if (ec) {
      LogWith(spdlog::level::debug, {{"session_id", session_id_}, {"request_id", request_id_}},
              "producer handshake failed: {}", ec.message());
      context_.registry->ReleaseAudio(session_id_);
      return;
    }
    const std::string refusal =
        context_.registry->Admit(shared_from_this(), "", context_.admission);
    if (!refusal.empty()) {
      context_.registry->ReleaseAudio(session_id_);
      finished_ = true;  // never registered: nothing to remove
      ws_.async_close(CloseReason(kCloseTryAgainLater, refusal),
                      [self = shared_from_this()](beast::error_code) {});
      return;
    }
    DoRead();
  }

  // Reads the frame in parts, buffering at most one byte past the limit: enough to know that a
  // frame is too big without holding all of it.
  void DoRead() {
    const size_t room = kMaxAudioFrameBytes + 1 - read_buffer_.size();
    ws_.async_read_some(read_buffer_, std::min(room, kAudioReadChunkBytes),
                        beast::bind_front_handler(&AudioConnection::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t /*bytes*/) {
    if (ec) return OnClosed(ec);
    if (closing_) return;
    if (!ws_.got_binary()) return Close(kCloseUnsupportedData, "send binary PCM frames");
    if (read_buffer_.size() > kMaxAudioFrameBytes) {
      return Close(kCloseTooBig,
                   "audio frame over " + std::to_string(kMaxAudioFrameBytes) + " bytes");
    }
    if (!ws_.is_message_done()) return DoRead();
    const auto data = read_buffer_.cdata();
    const Status pushed = Push(std::span<const unsigned char>(
        static_cast<const unsigned char*>(data.data()), data.size()));
    read_buffer_.consume(read_buffer_.size());
    switch (pushed.code()) {
      case Status::Code::kOk:
      case Status::Code::kFailedPrecondition:  // paused: the API told the viewers
        return DoRead();
      case Status::Code::kInvalidArgument:
        return Close(kCloseUnsupportedData, pushed.message());
      case Status::Code::kNotFound:
        return Close(kClosePolicyViolation, pushed.message());
      case Status::Code::kUnavailable:
        return Close(kCloseTryAgainLater, pushed.message());
      default:
        return Close(kCloseInternalError, "internal error");
    }
  }

  Status Push(std::span<const unsigned char> frame) {
    try {
      return context_.api->PushAudio(session_id_, frame);
    } catch (const std::exception& e) {
      LogWith(spdlog::level::err, {{"session_id", session_id_}, {"request_id", request_id_}},
              "pushing a frame failed: {}", e.what());
      return Status::Internal("internal error");
    }
  }

  // No read is pending here: async_close reads until the peer's close frame itself.
  void Close(uint16_t code, std::string_view reason) {
    if (closing_ || finished_) return;
    closing_ = true;
    ws_.async_close(CloseReason(code, reason),
                    beast::bind_front_handler(&AudioConnection::OnCloseDone, shared_from_this()));
  }

  void OnCloseDone(beast::error_code ec) { OnClosed(ec); }

  void OnClosed(beast::error_code ec) {
    if (finished_) return;
    finished_ = true;
    LogWith(spdlog::level::debug, {{"session_id", session_id_}, {"request_id", request_id_}},
            "producer gone: {}", ec.message());
    context_.registry->ReleaseAudio(session_id_);
    context_.registry->Remove(this);
  }

  WsStream ws_;
  beast::flat_buffer read_buffer_;
  const std::string session_id_;
  const std::string request_id_;  // the upgrade's, for log lines
  const WsContext& context_;
  bool closing_ = false;
  bool finished_ = false;
};

}  // namespace

std::string ConnectionRegistry::Admit(const std::shared_ptr<WsConnection>& connection,
                                      const std::string& viewed_session,
                                      const AdmissionLimits& limits) {
  const std::string retry = "; retry_after_ms=" + std::to_string(limits.retry_after_ms);
  bool closing = false;
  {
    const std::lock_guard lock(mutex_);
    if (limits.max_connections > 0 && connections_.size() >= limits.max_connections) {
      return "too many connections" + retry;
    }
    if (!viewed_session.empty()) {
      size_t& viewers = viewers_[viewed_session];
      if (limits.max_clients_per_session > 0 && viewers >= limits.max_clients_per_session) {
        return "too many viewers" + retry;
      }
      ++viewers;
    }
    connections_[connection.get()] = {connection, viewed_session};
    closing = static_cast<bool>(on_empty_);
  }
  if (closing) connection->CloseForShutdown();  // upgraded while the server shuts down
  return "";
}

void ConnectionRegistry::Remove(const WsConnection* connection) {
  std::function<void()> on_empty;
  {
    const std::lock_guard lock(mutex_);
    const auto it = connections_.find(connection);
    if (it != connections_.end() && !it->second.viewed_session.empty()) {
      const auto viewers = viewers_.find(it->second.viewed_session);
      if (viewers != viewers_.end() && --viewers->second == 0) viewers_.erase(viewers);
    }
    if (it != connections_.end()) connections_.erase(it);
    if (connections_.empty()) on_empty = std::exchange(on_empty_, nullptr);
  }
  if (on_empty) on_empty();
}

bool ConnectionRegistry::ClaimAudio(const std::string& session_id) {
  const std::lock_guard lock(mutex_);
  return audio_producers_.insert(session_id).second;
}

void ConnectionRegistry::ReleaseAudio(const std::string& session_id) {
  const std::lock_guard lock(mutex_);
  audio_producers_.erase(session_id);
}

void ConnectionRegistry::CloseAll(std::function<void()> on_empty) {
  std::vector<std::shared_ptr<WsConnection>> open;
  {
    const std::lock_guard lock(mutex_);
    for (const auto& [key, entry] : connections_) {
      if (auto connection = entry.connection.lock()) open.push_back(std::move(connection));
    }
    if (!open.empty()) std::swap(on_empty_, on_empty);
  }
  if (on_empty) {  // nothing was open
    on_empty();
    return;
  }
  for (const auto& connection : open) connection->CloseForShutdown();
}

FrameKind ClassifyFrame(std::string_view envelope) {
  constexpr std::string_view kTypeKey = R"("t":")";
  constexpr std::string_view kSegmentKey = R"("segment_id":)";
  FrameKind kind;
  const size_t type_at = envelope.find(kTypeKey);
  if (type_at == std::string_view::npos) return kind;
  const std::string_view rest = envelope.substr(type_at + kTypeKey.size());
  const std::string_view type = rest.substr(0, rest.find('"'));
  if (type == "vu") {
    kind.type = FrameKind::Type::kVu;
  } else if (type == "server.hb") {
    kind.type = FrameKind::Type::kHeartbeat;
  } else if (type == "asr.partial" || type == "mt.partial") {
    kind.translation = type == "mt.partial";
    const size_t segment_at = envelope.find(kSegmentKey);
    if (segment_at == std::string_view::npos) return kind;
    const char* begin = envelope.data() + segment_at + kSegmentKey.size();
    const char* end = envelope.data() + envelope.size();
    if (std::from_chars(begin, end, kind.segment_id).ec == std::errc()) {
      kind.type = FrameKind::Type::kPartial;
    }
  }
  return kind;
}

void StartEventsConnection(beast::tcp_stream stream, const WsRequest& request,
                           std::string session_id, std::string request_id,
                           std::optional<uint64_t> resume_from, const WsContext& context) {
  auto hub = context.hubs->Find(session_id);
  if (hub == nullptr) {
    // CheckUpgrade found the session, so its hub exists; refuse politely if it does not.
    LogWith(spdlog::level::warn, {{"session_id", session_id}, {"request_id", request_id}},
            "session has no hub");
    return;
  }
  if (context.send_buffer_bytes > 0) {
    // Bounds what a slow viewer's kernel buffer holds beyond the bounded queue (it grows to MBs).
    beast::error_code ignored;
    stream.socket().set_option(net::socket_base::send_buffer_size(context.send_buffer_bytes),
                               ignored);
  }
  const auto connection = std::make_shared<EventsConnection>(
      std::move(stream), std::move(session_id), std::move(request_id), std::move(hub), context);
  connection->Start(request, resume_from);
}

void StartAudioConnection(beast::tcp_stream stream, const WsRequest& request,
                          std::string session_id, std::string request_id,
                          const WsContext& context) {
  const auto connection = std::make_shared<AudioConnection>(
      std::move(stream), std::move(session_id), std::move(request_id), context);
  connection->Start(request);
}

}  // namespace lx::server
