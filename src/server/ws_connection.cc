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
constexpr int kMinIdleTimeoutMs = 10000;
constexpr size_t kAudioReadChunkBytes = 64 * 1024;  // one read of a pushed frame, at most

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

// Idle timeout with keep-alive pings: a peer that neither sends nor answers a ping within the
// timeout is dropped. Any frame it sends counts as liveness.
void Configure(WsStream& ws, int heartbeat_interval_ms) {
  beast::get_lowest_layer(ws).expires_never();  // the HTTP read deadline no longer applies
  auto timeout = websocket::stream_base::timeout::suggested(beast::role_type::server);
  timeout.idle_timeout =
      std::chrono::milliseconds(std::max(2 * heartbeat_interval_ms, kMinIdleTimeoutMs));
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

// /ws/{sid}: one object per socket; everything but Deliver and CloseForShutdown runs on the
// socket's strand.
class EventsConnection final : public Viewer,
                               public WsConnection,
                               public std::enable_shared_from_this<EventsConnection> {
 public:
  EventsConnection(beast::tcp_stream stream, std::string session_id, std::string request_id,
                   std::shared_ptr<Hub> hub, const WsContext& context)
      : ws_(std::move(stream)),
        heartbeat_(ws_.get_executor()),
        session_id_(std::move(session_id)),
        request_id_(std::move(request_id)),
        hub_(std::move(hub)),
        context_(context) {}

  void Start(const WsRequest& request) {
    Configure(ws_, context_.heartbeat_interval_ms);
    ws_.read_message_max(kMaxViewerMessageBytes);
    ws_.async_accept(request,
                     beast::bind_front_handler(&EventsConnection::OnAccept, shared_from_this()));
  }

  // Called on the hub's strand.
  void Deliver(std::shared_ptr<const std::string> frame, uint64_t seq) override {
    net::post(ws_.get_executor(), [self = shared_from_this(), frame = std::move(frame), seq] {
      self->last_seq_ = seq;
      self->Enqueue(frame);
    });
  }

  ViewerStats Stats() const override {
    const uint64_t offered = offered_frames_.load();
    const uint64_t sent = sent_frames_.load();
    const size_t queued = queued_frames_.load();
    // Every frame offered was sent, is queued, or was dropped by the overflow policy or a close.
    return {queued, sent, offered - std::min<uint64_t>(offered, sent + queued)};
  }

  // Runs the close on the hub's strand first, so that it follows every event the hub has
  // already been given (the sessions' last finals).
  void CloseForShutdown() override {
    auto probe = std::make_shared<NullViewer>();
    hub_->Attach(probe, [self = shared_from_this(), probe](const HubSummary& /*summary*/) {
      net::post(self->ws_.get_executor(),
                [self] { self->CloseAfterQueue(kCloseGoingAway, "server shutting down"); });
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
    context_.registry->Add(shared_from_this());
    hub_->Attach(weak_from_this(),
                 [api = context_.api, sid = session_id_](const HubSummary& summary) {
                   return api->Welcome(sid, summary);
                 });
    DoRead();
    DoHeartbeat();
  }

  void DoRead() {
    ws_.async_read(read_buffer_,
                   beast::bind_front_handler(&EventsConnection::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t /*bytes*/) {
    if (ec) return OnClosed(ec);
    read_buffer_.consume(read_buffer_.size());  // viewers' messages are ignored
    DoRead();
  }

  void DoHeartbeat() {
    heartbeat_.expires_after(std::chrono::milliseconds(context_.heartbeat_interval_ms));
    heartbeat_.async_wait(
        beast::bind_front_handler(&EventsConnection::OnHeartbeat, shared_from_this()));
  }

  void OnHeartbeat(beast::error_code ec) {
    if (ec || closing_ || finished_) return;
    // Not the hub's newest seq: an event may be on its way to this strand, and the heartbeat
    // must not announce it before it arrives.
    Enqueue(std::make_shared<const std::string>(HeartbeatFrame(session_id_, last_seq_)));
    DoHeartbeat();
  }

  void Enqueue(const std::shared_ptr<const std::string>& frame) {
    ++offered_frames_;
    EnqueueOffered(frame);
    queued_frames_ = queue_.size();
  }

  void EnqueueOffered(const std::shared_ptr<const std::string>& frame) {
    if (closing_ || finished_) return;
    const FrameKind kind = ClassifyFrame(*frame);
    if (queue_.size() >= context_.send_queue_limit_frames) {
      switch (MakeRoom(kind)) {
        case Room::kAppend:
          break;
        case Room::kDropNew:
          return;
        case Room::kNone:
          LogWith(spdlog::level::warn, {{"session_id", session_id_}, {"request_id", request_id_}},
                  "viewer too slow, {} frames queued; closing with 1013", queue_.size());
          queue_.erase(queue_.begin() + (writing_ ? 1 : 0), queue_.end());
          return CloseAfterQueue(kCloseTryAgainLater, "client too slow");
      }
    }
    queue_.push_back({frame, kind});
    if (!writing_) DoWrite();
  }

  // The overflow policy: a partial supersedes a queued partial of its segment; vu and heartbeat
  // frames are the first to go. The frame being written is never touched.
  Room MakeRoom(const FrameKind& kind) {
    const auto first = queue_.begin() + (writing_ ? 1 : 0);
    using Type = FrameKind::Type;
    if (kind.type == Type::kVu || kind.type == Type::kHeartbeat) return Room::kDropNew;
    if (kind.type == Type::kPartial) {
      const auto same = std::find_if(first, queue_.end(), [&](const Outgoing& out) {
        return out.kind.type == Type::kPartial && out.kind.segment_id == kind.segment_id;
      });
      if (same != queue_.end()) {
        queue_.erase(same);  // the newer one goes last, so seqs stay increasing
        return Room::kAppend;
      }
    }
    const auto droppable = std::find_if(first, queue_.end(), [](const Outgoing& out) {
      return out.kind.type == Type::kVu || out.kind.type == Type::kHeartbeat;
    });
    if (droppable == queue_.end()) return Room::kNone;
    queue_.erase(droppable);
    return Room::kAppend;
  }

  void DoWrite() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(*queue_.front().frame),
                    beast::bind_front_handler(&EventsConnection::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t /*bytes*/) {
    writing_ = false;
    if (ec) return OnClosed(ec);
    queue_.pop_front();
    ++sent_frames_;
    queued_frames_ = queue_.size();
    if (!queue_.empty()) return DoWrite();
    if (pending_close_) DoClose();
  }

  void CloseAfterQueue(uint16_t code, std::string_view reason) {
    if (closing_ || finished_) return;
    closing_ = true;
    pending_close_ = CloseReason(code, reason);
    if (!writing_ && queue_.empty()) DoClose();
  }

  void DoClose() {
    heartbeat_.cancel();
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
    queue_.clear();
    hub_->Detach(this);
    context_.registry->Remove(this);
  }

  WsStream ws_;
  net::steady_timer heartbeat_;
  beast::flat_buffer read_buffer_;
  const std::string session_id_;
  const std::string request_id_;  // the upgrade's, for log lines
  const std::shared_ptr<Hub> hub_;
  const WsContext& context_;
  std::deque<Outgoing> queue_;  // front is in flight while writing_
  uint64_t last_seq_ = 0;       // of the newest frame the hub delivered (sent or dropped)
  // Delivery figures, written on the strand, read by Stats() from any thread.
  std::atomic<uint64_t> offered_frames_{0};
  std::atomic<uint64_t> sent_frames_{0};
  std::atomic<size_t> queued_frames_{0};
  bool writing_ = false;
  bool closing_ = false;   // a close is queued or sent: nothing more is queued
  bool finished_ = false;  // the socket is gone
  std::optional<websocket::close_reason> pending_close_;
};

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
    Configure(ws_, context_.heartbeat_interval_ms);
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
    context_.registry->Add(shared_from_this());
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

void ConnectionRegistry::Add(const std::shared_ptr<WsConnection>& connection) {
  bool closing = false;
  {
    const std::lock_guard lock(mutex_);
    connections_[connection.get()] = connection;
    closing = static_cast<bool>(on_empty_);
  }
  if (closing) connection->CloseForShutdown();  // upgraded while the server shuts down
}

void ConnectionRegistry::Remove(const WsConnection* connection) {
  std::function<void()> on_empty;
  {
    const std::lock_guard lock(mutex_);
    connections_.erase(connection);
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
    for (const auto& [key, weak] : connections_) {
      if (auto connection = weak.lock()) open.push_back(std::move(connection));
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
  } else if (type == "asr.partial") {
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
                           const WsContext& context) {
  auto hub = context.hubs->Find(session_id);
  if (hub == nullptr) {
    // CheckUpgrade found the session, so its hub exists; refuse politely if it does not.
    LogWith(spdlog::level::warn, {{"session_id", session_id}, {"request_id", request_id}},
            "session has no hub");
    return;
  }
  const auto connection = std::make_shared<EventsConnection>(
      std::move(stream), std::move(session_id), std::move(request_id), std::move(hub), context);
  connection->Start(request);
}

void StartAudioConnection(beast::tcp_stream stream, const WsRequest& request,
                          std::string session_id, std::string request_id,
                          const WsContext& context) {
  const auto connection = std::make_shared<AudioConnection>(
      std::move(stream), std::move(session_id), std::move(request_id), context);
  connection->Start(request);
}

}  // namespace lx::server
