// The network side of `loquilex serve`: one io_context, an accept loop, HTTP/1.1 connections that
// become WebSockets on upgrade, and the staged shutdown. Beast stays in http_server.cc and
// ws_connection.cc; this header names none of its types.
#pragma once

// Boost 1.74's asio needs <utility> before its headers under -std=c++20.
#include <utility>

#include <boost/asio/io_context.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "server/api.h"
#include "server/hub.h"
#include "session/session_manager.h"

namespace lx::server {

struct HttpServerOptions {
  std::string host = "127.0.0.1";         // address or name to listen on
  uint16_t port = 8000;                   // 0 = let the system pick a free port
  size_t max_body_bytes = 64 * 1024;      // larger request bodies get 413
  int heartbeat_interval_ms = 15000;      // server.hb period on event WebSockets
  size_t send_queue_limit_frames = 1024;  // per viewer; see ws_connection.h for the policy
  size_t send_queue_limit_bytes = 4 * 1024 * 1024;  // per viewer, likewise
  int client_stall_ms = 30000;           // a viewer's write stuck this long: 1013 "client stalled"
  int send_buffer_bytes = 64 * 1024;     // SO_SNDBUF of event sockets; 0 = the kernel's
  int client_timeout_ms = 30000;         // a WebSocket peer silent this long (no pong) is dropped
  int hello_grace_ms = 500;              // a viewer without ?resume_from may send client.hello
  size_t max_connections = 512;          // open WebSockets; 0 = no limit
  size_t max_clients_per_session = 100;  // viewers of one session; 0 = no limit
  int retry_after_ms = 5000;             // asked of WebSockets refused for load (1013)
  int shutdown_grace_ms = 3000;          // bounded wait for sockets to close on shutdown
};

// Serves `Api` over HTTP and WebSocket on the caller's io_context. Listen, Run and the destructor
// belong to the thread that owns the server; Shutdown may be called from any thread (a signal
// handler posted onto the io_context, a test).
class HttpServer {
 public:
  // `io`, `sessions` and `hubs` must outlive the server.
  HttpServer(boost::asio::io_context& io, HttpServerOptions options,
             session::SessionManager& sessions, HubRegistry& hubs);
  // Joins the shutdown helper thread, if one was started.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens; returns the port actually bound (useful with port 0). Unavailable naming
  // host:port when the address is taken or cannot be bound; InvalidArgument when the host does
  // not resolve. Does not block.
  Result<uint16_t> Listen();
  // Accepts connections and serves `api` (which must outlive the call) on the calling thread
  // until the io_context is stopped — normally by Shutdown's last stage. Blocks.
  void Run(const Api& api);
  // Staged, idempotent shutdown: stop accepting; StopAll the sessions on a helper thread (their
  // last finals are flushed and delivered); close every WebSocket with 1001 "server shutting
  // down" after what was queued for it; wait for them at most shutdown_grace_ms; then stop the
  // io_context. Returns at once.
  void Shutdown();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lx::server
