// The REST and WebSocket API of `loquilex serve`: routes, decoding, encoding, error hygiene.
// No Beast here: the transport (http_server.cc) turns sockets into HttpRequest/HttpResponse.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "server/http_types.h"
#include "server/hub.h"
#include "server/work_queue.h"
#include "session/session_manager.h"

namespace lx::server {

struct ApiOptions {
  std::string public_origin;                 // e.g. "http://127.0.0.1:8000": the server's own
  std::vector<std::string> allowed_origins;  // WebSocket origins allowed besides public_origin
  std::string token;                         // required bearer token; "" = none
  size_t max_body_bytes = 64 * 1024;         // larger request bodies get 413
  int heartbeat_interval_ms = 15000;         // server.hb period announced in session.welcome
  size_t worker_queue_limit_requests = 16;   // blocking requests waiting for the worker; more: 503
  size_t max_sessions = 32;   // sessions not yet stopped (or failed); one more POST gets 429
  int retry_after_ms = 5000;  // what a 429 (and a WebSocket refused for load) asks to wait
};

// The ?resume_from=<seq> of a viewer's upgrade: nullopt when absent; InvalidArgument when it is
// not a non-negative integer.
Result<std::optional<uint64_t>> ResumeFromQuery(const HttpRequest& request);

// One route: a method, a path pattern ("/sessions/{sid}/snapshot") and the fixed detail a 500
// on it carries.
struct Route {
  std::string method;
  std::string pattern;
  std::string error_detail;  // "internal error" unless the route says otherwise
  std::function<HttpResponse(const HttpRequest&, const std::map<std::string, std::string>& params)>
      handler;
  // The handler may block (load a model, open a device, read a file): Api::HandleAsync runs it
  // on the API's worker thread instead of the network thread.
  bool may_block = false;
};

// Dispatches requests to routes. An exception escaping a handler becomes a 500 whose body is
// {"detail": <route's fixed detail>, "error_id": <random id>}; the exception text is logged with
// that id and never sent. Unknown path -> 404, known path with another method -> 405.
// Thread-safe once built.
class Router {
 public:
  explicit Router(std::vector<Route> routes) : routes_(std::move(routes)) {}
  HttpResponse Dispatch(const HttpRequest& request) const;
  // Whether the route `request` goes to may block (false for an unknown route or method).
  bool MayBlock(const HttpRequest& request) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

// Completes one request (see Api::HandleAsync).
using Responder = std::function<void(HttpResponse response)>;

// The API. Thread-safe: called from the network threads. It owns one worker thread (a
// WorkQueue) for the routes that may block, so that a network thread never waits for a model to
// load or a device to open.
class Api {
 public:
  Api(ApiOptions options, session::SessionManager& sessions, HubRegistry& hubs);
  // Waits for the request the worker is running; requests still queued are dropped unanswered.
  ~Api() = default;
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  // Answers a plain HTTP request (after the token check) without blocking: a route that may
  // block (POST /sessions, export) is queued for the worker thread, which calls `respond`; any
  // other request is answered on the calling thread before this returns. A full queue is a 503
  // at once. `respond` is called once, from either thread: the transport posts the response back
  // to the connection's own executor.
  void HandleAsync(HttpRequest request, const Responder& respond) const;
  // Answers on the calling thread, blocking routes included: for tests and tools, never for a
  // network thread.
  HttpResponse Handle(const HttpRequest& request) const;
  // Decides a WebSocket upgrade of /ws/{sid} (events) or /sessions/{sid}/audio (push audio):
  // 401 without the token, 403 for a foreign Origin, 404 for an unknown session or path, 400
  // for a malformed ?resume_from.
  UpgradeDecision CheckUpgrade(const HttpRequest& request) const;
  // The session.welcome envelope for a viewer attaching at `summary`; `plan` says whether it
  // resumes and what follows (data.resume, docs/protocol.md).
  std::string Welcome(const std::string& session_id, const HubSummary& summary,
                      const JoinPlan& plan = {}) const;
  // The session.snapshot envelope (seq summary.last_seq) for a viewer resuming from a seq whose
  // successors are no longer all buffered; data as GET /sessions/{sid}/snapshot.
  std::string SnapshotEnvelope(const std::string& session_id, const HubSummary& summary) const;
  // One binary frame pushed to /sessions/{sid}/audio. InvalidArgument (bad length or format),
  // FailedPrecondition (paused: the frame is refused and a status event says so), NotFound.
  Status PushAudio(const std::string& session_id, std::span<const unsigned char> frame) const;

  // The routes, for the router and for tests.
  std::vector<Route> Routes() const;

 private:
  HttpResponse CreateSession(const HttpRequest& request) const;
  HttpResponse SessionMetrics(const session::Session& session) const;
  HttpResponse ServerMetrics() const;
  HttpResponse Export(const HttpRequest& request, const session::Session& session) const;
  static HttpResponse AsrModels();
  HttpResponse TranslationLanguages() const;
  HttpResponse TranslationModels() const;
  size_t ActiveSessions() const;  // not stopped, not failed
  bool Authorized(const HttpRequest& request) const;

  ApiOptions options_;
  session::SessionManager& sessions_;
  HubRegistry& hubs_;
  Router router_;
  // Last, so that it stops (and its running job ends) before the members that job uses go.
  // Mutable: queuing work does not change what the API answers.
  mutable WorkQueue worker_;
};

}  // namespace lx::server
