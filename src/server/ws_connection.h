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
#include <set>
#include <string>
#include <string_view>

#include "server/api.h"
#include "server/hub.h"

namespace lx::server {

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
  void Add(const std::shared_ptr<WsConnection>& connection);
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
  mutable std::mutex mutex_;
  std::map<const WsConnection*, std::weak_ptr<WsConnection>> connections_;  // guarded by mutex_
  std::set<std::string> audio_producers_;                                   // guarded by mutex_
  std::function<void()> on_empty_;                                          // guarded by mutex_
};

// What a queued frame is, for the overflow policy. Found by scanning the encoded envelope for
// its "t" member (escaped text cannot contain `"t":"`).
struct FrameKind {
  enum class Type { kPartial, kVu, kHeartbeat, kOther };
  Type type = Type::kOther;
  uint64_t segment_id = 0;  // for partials
};
FrameKind ClassifyFrame(std::string_view envelope);

// Everything a connection needs from the server; must outlive every connection.
struct WsContext {
  const Api* api = nullptr;
  HubRegistry* hubs = nullptr;
  ConnectionRegistry* registry = nullptr;
  size_t send_queue_limit_frames = 1024;  // per viewer
  int heartbeat_interval_ms = 15000;      // server.hb period
};

using WsRequest = boost::beast::http::request<boost::beast::http::string_body>;

// Accepts the upgrade `request` on `stream` and streams session `session_id`'s events: first
// session.welcome, then every event the hub delivers, and server.hb every heartbeat interval.
// Overflow policy of the send queue (at send_queue_limit_frames): a newer partial supersedes a
// queued one of the same segment, then queued vu and heartbeat frames are dropped; when nothing
// can go, the socket is closed with 1013 "client too slow" (finals are never dropped silently).
// Client messages are ignored but count as liveness, as do pongs. `request_id` (the upgrade's)
// goes into the connection's log lines with the session id.
void StartEventsConnection(boost::beast::tcp_stream stream, const WsRequest& request,
                           std::string session_id, std::string request_id,
                           const WsContext& context);

// Accepts the upgrade and feeds binary frames to Api::PushAudio. The caller holds the session's
// audio claim (ConnectionRegistry::ClaimAudio); the connection releases it when it closes.
void StartAudioConnection(boost::beast::tcp_stream stream, const WsRequest& request,
                          std::string session_id, std::string request_id, const WsContext& context);

}  // namespace lx::server
