// A small blocking HTTP and WebSocket client for end-to-end tests of `loquilex serve`. Every call
// waits at most its timeout. Not thread-safe: one test thread per client.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace lx::testing {

struct HttpReply {
  int status = 0;  // 0 when the request failed (see error)
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string error;
};

// One request over a fresh connection. `headers` are added as given; a body gets
// Content-Type application/json unless `headers` names another.
HttpReply SendHttp(const std::string& host, uint16_t port, const std::string& method,
                   const std::string& target, const std::string& body = "",
                   const std::map<std::string, std::string>& headers = {}, int timeout_ms = 10000);

// One WebSocket client connection.
class WsClient {
 public:
  WsClient();
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // Makes the next Connect ask the kernel for a receive buffer of about `bytes` (SO_RCVBUF), so
  // that a client that stops reading pushes back on the server soon.
  void set_receive_buffer_bytes(int bytes) { receive_buffer_bytes_ = bytes; }
  // Opens ws://host:port/target. False when the upgrade failed: refusal_status() then holds the
  // HTTP status the server answered with (0 when it did not answer).
  bool Connect(const std::string& host, uint16_t port, const std::string& target,
               const std::map<std::string, std::string>& headers = {}, int timeout_ms = 10000);
  int refusal_status() const { return refusal_status_; }
  std::string refusal_body() const { return refusal_body_; }

  // The next message; nullopt when the connection closed (close_code() says how), failed or
  // nothing came within the timeout (timed_out()).
  std::optional<std::string> Read(int timeout_ms = 10000);
  bool WriteBinary(std::span<const unsigned char> bytes, int timeout_ms = 10000);
  bool WriteText(std::string_view text, int timeout_ms = 10000);
  // Sends a close frame with `code` and waits for the server's answer.
  bool Close(int code = 1000, int timeout_ms = 10000);

  bool closed() const { return closed_; }
  bool timed_out() const { return timed_out_; }
  int close_code() const { return close_code_; }
  const std::string& close_reason() const { return close_reason_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int receive_buffer_bytes_ = 0;  // 0 = the kernel's default
  int refusal_status_ = 0;
  std::string refusal_body_;
  bool closed_ = false;
  bool timed_out_ = false;
  int close_code_ = 0;
  std::string close_reason_;
};

}  // namespace lx::testing
