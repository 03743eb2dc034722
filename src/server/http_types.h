// HTTP requests and responses as plain values, so routing and handlers need no Beast types
// (and compile fast); server/http_server.cc converts to and from Beast.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace lx::server {

// Largest pushed audio frame; the transport closes a larger one with 1009.
inline constexpr size_t kMaxAudioFrameBytes = 1 << 20;

struct HttpRequest {
  std::string method;                          // "GET", "POST", ...
  std::string path;                            // decoded path, without the query
  std::map<std::string, std::string> query;    // decoded query parameters
  std::map<std::string, std::string> headers;  // header names in lower case
  std::string body;
  std::string request_id;  // for logs, set by the transport

  // The header's value, or "" when absent. `name` in lower case.
  std::string Header(std::string_view name) const;
  // The query parameter's value, or nullopt.
  std::optional<std::string> Query(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;  // extra headers
};

// A viewer's WebSocket as the API sees it: the transport implements it. Thread-safe.
class EventStream {
 public:
  virtual ~EventStream() = default;
  // Queues one text frame. Never blocks; the transport applies its queue limit.
  virtual void Send(std::shared_ptr<const std::string> frame) = 0;
  // Closes the socket with a WebSocket close code and reason.
  virtual void Close(int code, std::string reason) = 0;
};

// How the transport hands a WebSocket upgrade to the API.
struct UpgradeDecision {
  // When set, the upgrade is refused with this response (e.g. 401, 403, 404).
  std::optional<HttpResponse> refusal;
};

}  // namespace lx::server
