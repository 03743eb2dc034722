// WebSocket connections of `loquilex serve`: viewers of a session's events (/ws/{sid}) and
// producers of its pushed audio (/sessions/{sid}/audio). Included only by the two Beast
// translation units (http_server.cc, ws_connection.cc).
#pragma once

// Boost 1.74's asio needs <utility> before its headers under -std=c++20.
#include <utility>

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "server/api.h"
#include "server/hub.h"

namespace lx::server {

// Limits on WebSocket connections (0 = none), checked when a socket is admitted.
struct AdmissionLimits {
  size_t max_connections = 512;          // open WebSockets, viewers and producers
  size_t max_clients_per_session = 100;  // viewers of one session
  int retry_after_ms = 5000;             // what the 1013 close's reason asks the client to wait
};

// A live WebSocket as the registry sees it.
class WsConnection {
 public:
  virtual ~WsConnection() = default;
  // Closes with 1001 "server shutting down" after what is already queued for the client.
  // Thread-safe, idempotent, does not block.
  virtual void CloseForShutdown() = 0;
};

// The open WebSockets, and which sessions have an audio producer. Thread-safe.
class ConnectionRegistry {
 public:
  // Registers an accepted connection, a viewer of `viewed_session` unless it is "". Returns ""
  // when admitted, else the 1013 close reason (`limits` reached; it ends with
  // "retry_after_ms=<ms>"), and the connection is not registered.
  std::string Admit(const std::shared_ptr<WsConnection>& connection,
                    const std::string& viewed_session, const AdmissionLimits& limits);
  // Forgets a closed connection; when a CloseAll is waiting and this was the last one, runs its
  // callback on the calling thread.
  void Remove(const WsConnection* connection);
  // Marks `session_id` as having an audio producer; false when it already has one.
  bool ClaimAudio(const std::string& session_id);
  void ReleaseAudio(const std::string& session_id);
  // Asks every connection to CloseForShutdown; `on_empty` runs once, when none is left (at once
  // when there is none).
  void CloseAll(std::function<void()> on_empty);

 private:
  struct Entry {
    std::weak_ptr<WsConnection> connection;
    std::string viewed_session;  // "" for a producer
  };
  mutable std::mutex mutex_;
  std::map<const WsConnection*, Entry> connections_;  // guarded by mutex_
  std::map<std::string, size_t> viewers_;             // per session; guarded by mutex_
  std::set<std::string> audio_producers_;             // guarded by mutex_
  std::function<void()> on_empty_;                    // guarded by mutex_
};

// What a queued frame is, for the overflow policy. Found by scanning the encoded envelope for
// its "t" member (escaped text cannot contain `"t":"`).
struct FrameKind {
  enum class Type { kPartial, kVu, kHeartbeat, kOther };
  Type type = Type::kOther;
  uint64_t segment_id = 0;  // for partials
  // Partials of different streams (asr.partial, mt.partial) never supersede each other.
  bool translation = false;
};
FrameKind ClassifyFrame(std::string_view envelope);

// Everything a connection needs from the server; must outlive every connection.
struct WsContext {
  const Api* api = nullptr;
  HubRegistry* hubs = nullptr;
  ConnectionRegistry* registry = nullptr;
  size_t send_queue_limit_frames = 1024;            // per viewer
  size_t send_queue_limit_bytes = 4 * 1024 * 1024;  // per viewer, live frames waiting
  int client_stall_ms = 30000;        // a frame in flight this long closes the viewer with 1013
  int send_buffer_bytes = 64 * 1024;  // SO_SNDBUF of event sockets; 0 = the kernel's
  int heartbeat_interval_ms = 15000;  // server.hb period
  int client_timeout_ms = 30000;      // a peer silent this long (no message, no pong) is dropped
  int hello_grace_ms = 500;  // how long a viewer without ?resume_from may take to send hello
  AdmissionLimits admission;
};

using WsRequest = boost::beast::http::request<boost::beast::http::string_body>;

// Accepts the upgrade `request` on `stream` and streams session `session_id`'s events: first
// session.welcome, then (resuming from `resume_from`, the ?resume_from query) the buffered
// events after it or a session.snapshot, then every event the hub delivers, and server.hb every
// heartbeat interval (docs/protocol.md).
// client.hello: without ?resume_from, the connection attaches at once but writes nothing until
// the client's first message or hello_grace_ms, whichever comes first. A first message
// {"t":"client.hello","data":{"resume_from":N}} in that time discards what was held and attaches
// again from N (held frames of the old attachment that are still on their way are ignored), so
// nothing is missed or repeated. A client.hello later than that, or with a bad resume_from,
// closes the socket with 1008 and the reason: it would otherwise hide a gap. Other client
// messages (any text, unknown types) are ignored but count as liveness, as do pongs.
// Overflow policy of the send queue (send_queue_limit_frames, send_queue_limit_bytes): a newer
// partial supersedes a queued one of the same segment and stream, then queued vu and heartbeat
// frames are dropped; when nothing can go, the rest of the queue is discarded and the socket
// closed with 1013 "client too slow"; a frame in flight for client_stall_ms closes it with 1013
// "client stalled" (finals are never dropped silently; the client resumes from its last seq).
// Admission (context.admission): over a limit, the socket is accepted and closed at once with
// 1013 and a reason ending in "retry_after_ms=<ms>". `request_id` (the upgrade's) goes into the
// connection's log lines with the session id.
void StartEventsConnection(boost::beast::tcp_stream stream, const WsRequest& request,
                           std::string session_id, std::string request_id,
                           std::optional<uint64_t> resume_from, const WsContext& context);

// Accepts the upgrade and feeds binary frames to Api::PushAudio. The caller holds the session's
// audio claim (ConnectionRegistry::ClaimAudio); the connection releases it when it closes.
void StartAudioConnection(boost::beast::tcp_stream stream, const WsRequest& request,
                          std::string session_id, std::string request_id, const WsContext& context);

}  // namespace lx::server
