#include "support/ws_client.h"

// Boost 1.74's asio needs <utility> before its headers under -std=c++20.
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <cctype>
#include <chrono>
#include <functional>

namespace lx::testing {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

// Runs one asynchronous operation to completion or until the timeout, when `cancel` aborts it.
// Returns its error (timed_out when it had to be cancelled).
beast::error_code Await(net::io_context& io, int timeout_ms,
                        const std::function<void(std::function<void(beast::error_code)>)>& start,
                        const std::function<void()>& cancel) {
  std::optional<beast::error_code> result;
  start([&result](beast::error_code ec) { result = ec; });
  io.restart();
  io.run_for(std::chrono::milliseconds(timeout_ms));
  if (result) return *result;
  cancel();
  io.restart();
  io.run();
  return net::error::timed_out;
}

// Connects to the first address `host` resolves to; with receive_buffer_bytes > 0, sets
// SO_RCVBUF first (it must precede the connect to shape the TCP window).
beast::error_code ConnectTcp(net::io_context& io, beast::tcp_stream& stream,
                             const std::string& host, uint16_t port, int timeout_ms,
                             int receive_buffer_bytes = 0) {
  tcp::resolver resolver(io);
  beast::error_code ec;
  const auto endpoints = resolver.resolve(host, std::to_string(port), ec);
  if (ec) return ec;
  if (endpoints.empty()) return net::error::host_not_found;
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  if (stream.socket().open(endpoint.protocol(), ec)) return ec;
  if (receive_buffer_bytes > 0 &&
      stream.socket().set_option(net::socket_base::receive_buffer_size(receive_buffer_bytes), ec)) {
    return ec;
  }
  return Await(
      io, timeout_ms,
      [&](auto done) { stream.async_connect(endpoint, [done](beast::error_code e) { done(e); }); },
      [&] { stream.cancel(); });
}

std::string Lower(beast::string_view text) {
  std::string out(text.data(), text.size());
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

HttpReply SendHttp(const std::string& host, uint16_t port, const std::string& method,
                   const std::string& target, const std::string& body,
                   const std::map<std::string, std::string>& headers, int timeout_ms) {
  HttpReply reply;
  net::io_context io;
  beast::tcp_stream stream(io);
  if (auto ec = ConnectTcp(io, stream, host, port, timeout_ms)) {
    reply.error = "connect: " + ec.message();
    return reply;
  }
  http::request<http::string_body> request(http::string_to_verb(method), target, 11);
  request.set(http::field::host, host + ":" + std::to_string(port));
  if (!body.empty()) request.set(http::field::content_type, "application/json");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.keep_alive(false);
  request.body() = body;
  request.prepare_payload();
  auto ec = Await(
      io, timeout_ms,
      [&](auto done) {
        http::async_write(stream, request, [done](beast::error_code e, size_t) { done(e); });
      },
      [&] { stream.cancel(); });
  // A refused body may be cut short by the server; its answer is still worth reading.
  if (ec && ec != net::error::broken_pipe && ec != net::error::connection_reset) {
    reply.error = "write: " + ec.message();
    return reply;
  }
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  ec = Await(
      io, timeout_ms,
      [&](auto done) {
        http::async_read(stream, buffer, response,
                         [done](beast::error_code e, size_t) { done(e); });
      },
      [&] { stream.cancel(); });
  if (ec) {
    reply.error = "read: " + ec.message();
    return reply;
  }
  reply.status = static_cast<int>(response.result_int());
  reply.body = response.body();
  for (const auto& field : response) {
    reply.headers[Lower(field.name_string())] =
        std::string(field.value().data(), field.value().size());
  }
  return reply;
}

struct WsClient::Impl {
  net::io_context io;
  websocket::stream<beast::tcp_stream> ws{io};
  beast::flat_buffer buffer;

  void Cancel() { beast::get_lowest_layer(ws).cancel(); }
};

WsClient::WsClient() : impl_(std::make_unique<Impl>()) {}
WsClient::~WsClient() = default;

bool WsClient::Connect(const std::string& host, uint16_t port, const std::string& target,
                       const std::map<std::string, std::string>& headers, int timeout_ms) {
  auto& impl = *impl_;
  if (ConnectTcp(impl.io, beast::get_lowest_layer(impl.ws), host, port, timeout_ms,
                 receive_buffer_bytes_)) {
    return false;
  }
  impl.ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& request) {
    for (const auto& [name, value] : headers) request.set(name, value);
  }));
  websocket::response_type response;
  const auto ec = Await(
      impl.io, timeout_ms,
      [&](auto done) {
        impl.ws.async_handshake(response, host + ":" + std::to_string(port), target,
                                [done](beast::error_code e) { done(e); });
      },
      [&] { impl.Cancel(); });
  if (ec) {
    refusal_status_ = static_cast<int>(response.result_int());
    refusal_body_ = response.body();
    return false;
  }
  return true;
}

std::optional<std::string> WsClient::Read(int timeout_ms) {
  auto& impl = *impl_;
  timed_out_ = false;
  if (closed_) return std::nullopt;
  impl.buffer.clear();
  const auto ec = Await(
      impl.io, timeout_ms,
      [&](auto done) {
        impl.ws.async_read(impl.buffer, [done](beast::error_code e, size_t) { done(e); });
      },
      [&] { impl.Cancel(); });
  if (ec == net::error::timed_out) {
    timed_out_ = true;
    return std::nullopt;
  }
  if (ec) {
    closed_ = true;
    close_code_ = impl.ws.reason().code;
    close_reason_ = std::string(impl.ws.reason().reason.data(), impl.ws.reason().reason.size());
    return std::nullopt;
  }
  return beast::buffers_to_string(impl.buffer.data());
}

bool WsClient::WriteBinary(std::span<const unsigned char> bytes, int timeout_ms) {
  auto& impl = *impl_;
  impl.ws.binary(true);
  return !Await(
      impl.io, timeout_ms,
      [&](auto done) {
        impl.ws.async_write(net::buffer(bytes.data(), bytes.size()),
                            [done](beast::error_code e, size_t) { done(e); });
      },
      [&] { impl.Cancel(); });
}

bool WsClient::WriteText(std::string_view text, int timeout_ms) {
  auto& impl = *impl_;
  impl.ws.text(true);
  return !Await(
      impl.io, timeout_ms,
      [&](auto done) {
        impl.ws.async_write(net::buffer(text.data(), text.size()),
                            [done](beast::error_code e, size_t) { done(e); });
      },
      [&] { impl.Cancel(); });
}

bool WsClient::Close(int code, int timeout_ms) {
  auto& impl = *impl_;
  if (closed_) return true;
  closed_ = true;
  return !Await(
      impl.io, timeout_ms,
      [&](auto done) {
        impl.ws.async_close(websocket::close_reason(static_cast<uint16_t>(code)),
                            [done](beast::error_code e) { done(e); });
      },
      [&] { impl.Cancel(); });
}

}  // namespace lx::testing
