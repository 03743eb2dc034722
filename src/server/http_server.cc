#include "server/http_server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <array>
#include <cctype>
#include <chrono>
#include <exception>
#include <optional>
#include <string_view>
#include <thread>

#include "base/logging.h"
#include "server/ws_connection.h"

namespace lx::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr auto kReadTimeout = std::chrono::seconds(30);   // a request must arrive in this time
constexpr auto kWriteTimeout = std::chrono::seconds(30);  // its response must leave in this
constexpr auto kLingerTimeout = std::chrono::seconds(2);  // draining a closed connection
constexpr uint32_t kHeaderLimitBytes = 16 * 1024;

std::string JsonDetail(std::string_view detail) {
  std::string escaped;
  for (const char c : detail) {
    if (c == '"' || c == '\\') escaped += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) escaped += c;
  }
  return R"({"detail":")" + escaped + "\"}";
}

HttpResponse ErrorResponse(int status, std::string_view detail) {
  HttpResponse response;
  response.status = status;
  response.body = JsonDetail(detail);
  return response;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes `text` ('+' is a space in query strings); nullopt for a bad escape.
std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int high = HexValue(text[i + 1]);
      const int low = HexValue(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else if (text[i] == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string_view View(beast::string_view text) { return {text.data(), text.size()}; }

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The transport-free form of a Beast request. InvalidArgument for undecodable escapes.
Result<HttpRequest> ToHttpRequest(const http::request<http::string_body>& beast_request) {
  HttpRequest request;
  request.method = std::string(View(beast_request.method_string()));
  const std::string_view target = View(beast_request.target());
  const size_t question = target.find('?');
  auto path = PercentDecode(target.substr(0, question), false);
  if (!path) return Status::InvalidArgument("malformed path");
  request.path = std::move(*path);
  if (question != std::string_view::npos) {
    std::string_view query = target.substr(question + 1);
    while (!query.empty()) {
      const std::string_view pair = query.substr(0, query.find('&'));
      query.remove_prefix(std::min(query.size(), pair.size() + 1));
      if (pair.empty()) continue;
      const size_t equals = pair.find('=');
      auto name = PercentDecode(pair.substr(0, equals), true);
      auto value = PercentDecode(
          equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1), true);
      if (!name || !value) return Status::InvalidArgument("malformed query");
      request.query[*name] = std::move(*value);
    }
  }
  for (const auto& field : beast_request) {
    std::string& value = request.headers[Lower(View(field.name_string()))];
    if (!value.empty()) value += ", ";
    value.append(field.value().data(), field.value().size());
  }
  request.body = beast_request.body();
  return request;
}

// Which WebSocket a path asks for: /ws/{sid} or /sessions/{sid}/audio.
struct WsTarget {
  enum class Kind { kNone, kEvents, kAudio };
  Kind kind = Kind::kNone;
  std::string session_id;
};

WsTarget ParseWsTarget(std::string_view path) {
  constexpr std::string_view kEvents = "/ws/";
  constexpr std::string_view kSessions = "/sessions/";
  constexpr std::string_view kAudio = "/audio";
  if (path.starts_with(kEvents)) {
    const std::string_view sid = path.substr(kEvents.size());
    if (!sid.empty() && sid.find('/') == std::string_view::npos) {
      return {WsTarget::Kind::kEvents, std::string(sid)};
    }
  } else if (path.starts_with(kSessions) && path.ends_with(kAudio) &&
             path.size() > kSessions.size() + kAudio.size()) {
    const std::string_view sid =
        path.substr(kSessions.size(), path.size() - kSessions.size() - kAudio.size());
    if (sid.find('/') == std::string_view::npos) return {WsTarget::Kind::kAudio, std::string(sid)};
  }
  return {};
}

// One HTTP/1.1 connection, until it closes or becomes a WebSocket. Runs on its own strand.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, const WsContext& context, size_t max_body_bytes)
      : stream_(std::move(socket)), context_(context), max_body_bytes_(max_body_bytes) {}

  void Start() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&HttpSession::DoRead, shared_from_this()));
  }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->body_limit(max_body_bytes_);
    parser_->header_limit(kHeaderLimitBytes);
    stream_.expires_after(kReadTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t /*bytes*/) {
    started_ = std::chrono::steady_clock::now();
    request_id_ = NewLogId(8);
    if (ec == http::error::end_of_stream) return DoClose();
    if (ec == http::error::body_limit) {
      const std::string_view target = View(parser_->get().target());
      method_ = std::string(View(parser_->get().method_string()));
      path_ = std::string(target.substr(0, target.find('?')));
      return Respond(ErrorResponse(413, fmt::format("request body over {} bytes", max_body_bytes_)),
                     false);
    }
    if (ec && ec.category() == http::make_error_code(http::error::bad_method).category() &&
        ec != http::error::partial_message) {
      return Respond(ErrorResponse(400, "malformed request"), false);
    }
    if (ec) return;  // timeout, reset, or the peer went away mid-request
    Serve(parser_->release());
  }

  void Serve(const http::request<http::string_body>& beast_request) {
    version_ = beast_request.version();
    method_ = std::string(View(beast_request.method_string()));
    auto request = ToHttpRequest(beast_request);
    if (!request.ok()) {
      path_ = "-";
      return Respond(ErrorResponse(400, request.status().message()), false);
    }
    request->request_id = request_id_;
    path_ = request->path;
    if (beast::websocket::is_upgrade(beast_request)) {
      return Upgrade(beast_request, *request);
    }
    Handle(std::move(*request), beast_request.keep_alive());
  }

  HttpResponse InternalError(std::string_view what) {
    const std::string error_id = NewLogId();
    LogWith(spdlog::level::err, {{"request_id", request_id_}, {"error_id", error_id}},
            "{} {} failed: {}", method_, path_, what);
    HttpResponse response = ErrorResponse(500, "internal error");
    response.body = R"({"detail":"internal error","error_id":")" + error_id + "\"}";
    return response;
  }

  // Hands the request to the API, which answers at once or from its worker thread; either way
  // the response comes back through this connection's strand. No read is pending meanwhile, so
  // responses keep the order of requests. Never lets an exception reach asio: it becomes a 500
  // with an error id.
  void Handle(HttpRequest request, bool keep_alive) {
    const ScopedLogFields fields({{"request_id", request_id_}});
    auto respond = [self = shared_from_this(), keep_alive](HttpResponse response) {
      net::dispatch(self->stream_.get_executor(),
                    [self, keep_alive, response = std::move(response)] {
                      self->Respond(response, keep_alive);
                    });
    };
    try {
      context_.api->HandleAsync(std::move(request), std::move(respond));
    } catch (const std::exception& e) {
      Respond(InternalError(e.what()), keep_alive);
    } catch (...) {
      Respond(InternalError("unknown exception"), keep_alive);
    }
  }

  void Upgrade(const http::request<http::string_body>& beast_request, const HttpRequest& request) {
    std::optional<HttpResponse> refusal;
    try {
      refusal = context_.api->CheckUpgrade(request).refusal;
    } catch (const std::exception& e) {
      refusal = InternalError(e.what());
    }
    const WsTarget target = ParseWsTarget(request.path);
    if (!refusal && target.kind == WsTarget::Kind::kNone) {
      refusal = ErrorResponse(404, "not found");
    }
    if (!refusal && target.kind == WsTarget::Kind::kAudio &&
        !context_.registry->ClaimAudio(target.session_id)) {
      refusal = ErrorResponse(409, "session already has an audio producer");
    }
    if (refusal) return Respond(*refusal, false);
    {
      const ScopedLogFields session({{"session_id", target.session_id}});
      LogRequest(101);
    }
    if (target.kind == WsTarget::Kind::kEvents) {
      auto resume_from = ResumeFromQuery(request);  // CheckUpgrade refused a malformed one
      StartEventsConnection(std::move(stream_), beast_request, target.session_id, request_id_,
                            resume_from.ok() ? resume_from.value() : std::nullopt, context_);
    } else {
      StartAudioConnection(std::move(stream_), beast_request, target.session_id, request_id_,
                           context_);
    }
  }

  void Respond(const HttpResponse& response, bool keep_alive) {
    auto message = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), version_);
    message->set(http::field::server, "loquilex");
    message->set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) message->set(name, value);
    message->keep_alive(keep_alive);
    message->body() = response.body;
    message->prepare_payload();
    LogRequest(response.status);
    stream_.expires_after(kWriteTimeout);
    http::async_write(stream_, *message,
                      [self = shared_from_this(), message](beast::error_code ec, size_t) {
                        self->OnWrite(message->need_eof(), ec);
                      });
  }

  void LogRequest(int status) const {
    const std::chrono::duration<double, std::milli> elapsed =
        std::chrono::steady_clock::now() - started_;
    LogWith(spdlog::level::info, {{"request_id", request_id_}}, "{} {} {} {:.1f}ms", method_, path_,
            status, elapsed.count());
  }

  void OnWrite(bool close, beast::error_code ec) {
    if (ec) return;
    if (close) return DoClose();
    DoRead();
  }

  // Half-closes, then drains what the peer still sends (e.g. the rest of a refused body), so
  // that the response is not lost to a reset.
  void DoClose() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kLingerTimeout);
    DoDrain();
  }

  void DoDrain() {
    stream_.async_read_some(net::buffer(drain_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (!ec) self->DoDrain();
                            });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const WsContext& context_;
  const size_t max_body_bytes_;
  std::array<char, 4096> drain_{};
  // The request being answered, for the log line.
  std::chrono::steady_clock::time_point started_;
  std::string request_id_;
  std::string method_ = "-";
  std::string path_ = "-";
  unsigned version_ = 11;
};

}  // namespace

class HttpServer::Impl {
 public:
  Impl(net::io_context& io, HttpServerOptions options, session::SessionManager& sessions,
       HubRegistry& hubs)
      : io_(io), options_(std::move(options)), sessions_(sessions), acceptor_(io), deadline_(io) {
    context_.hubs = &hubs;
    context_.registry = &registry_;
    context_.send_queue_limit_frames = options_.send_queue_limit_frames;
    context_.send_queue_limit_bytes = options_.send_queue_limit_bytes;
    context_.client_stall_ms = options_.client_stall_ms;
    context_.send_buffer_bytes = options_.send_buffer_bytes;
    context_.heartbeat_interval_ms = options_.heartbeat_interval_ms;
    context_.client_timeout_ms = options_.client_timeout_ms;
    context_.hello_grace_ms = options_.hello_grace_ms;
    context_.admission = {options_.max_connections, options_.max_clients_per_session,
                          options_.retry_after_ms};
  }

  ~Impl() {
    if (stopper_.joinable()) stopper_.join();
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  Result<uint16_t> Listen() {
    beast::error_code ec;
    tcp::resolver resolver(io_);
    const auto endpoints = resolver.resolve(options_.host, std::to_string(options_.port), ec);
    if (ec || endpoints.empty()) {
      return Status::InvalidArgument(
          fmt::format("cannot resolve host {}: {}", options_.host, ec.message()));
    }
    const tcp::endpoint endpoint = endpoints.begin()->endpoint();
    const auto failed = [&](std::string_view step) {
      beast::error_code ignored;
      acceptor_.close(ignored);
      return Status::Unavailable(
          fmt::format("cannot {} {}:{}: {}", step, options_.host, options_.port, ec.message()));
    };
    if (acceptor_.open(endpoint.protocol(), ec)) return failed("open a socket for");
    if (acceptor_.set_option(net::socket_base::reuse_address(true), ec)) return failed("set up");
    if (acceptor_.bind(endpoint, ec)) return failed("listen on");
    if (acceptor_.listen(net::socket_base::max_listen_connections, ec)) return failed("listen on");
    const uint16_t port = acceptor_.local_endpoint(ec).port();
    if (ec) return failed("listen on");
    return port;
  }

  void Run(const Api& api) {
    context_.api = &api;
    DoAccept();
    io_.run();
  }

  void Shutdown() {
    net::post(io_, [this] { BeginShutdown(); });
  }

 private:
  void DoAccept() {
    acceptor_.async_accept(net::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
      OnAccept(ec, std::move(socket));
    });
  }

  void OnAccept(beast::error_code ec, tcp::socket socket) {
    if (!acceptor_.is_open()) return;  // shutting down
    if (ec) {
      spdlog::warn("accept failed: {}", ec.message());
    } else {
      std::make_shared<HttpSession>(std::move(socket), context_, options_.max_body_bytes)->Start();
    }
    DoAccept();
  }

  // Stage 1: stop accepting, bound the whole shutdown, and stop the sessions off the network
  // thread (their workers flush finals, which still reach the viewers through the hubs).
  void BeginShutdown() {
    if (shutting_down_) return;
    shutting_down_ = true;
    spdlog::info("shutting down");
    beast::error_code ignored;
    acceptor_.close(ignored);
    deadline_.expires_after(std::chrono::milliseconds(options_.shutdown_grace_ms));
    deadline_.async_wait([this](beast::error_code ec) {
      if (ec) return;
      spdlog::warn("shutdown: sockets still open after {} ms; stopping anyway",
                   options_.shutdown_grace_ms);
      io_.stop();
    });
    try {
      stopper_ = std::thread([this] {
        StopSessions();
        net::post(io_, [this] { CloseConnections(); });
      });
    } catch (const std::system_error& e) {
      spdlog::warn("shutdown: no thread for stopping sessions ({}); stopping them here", e.what());
      StopSessions();
      CloseConnections();
    }
  }

  void StopSessions() {
    try {
      sessions_.StopAll();
    } catch (const std::exception& e) {
      spdlog::error("shutdown: stopping sessions failed: {}", e.what());
    }
  }

  // Stage 2: close every WebSocket with 1001 after what it has queued; the last stage, stopping
  // the io_context, comes when they are all gone (or at the deadline).
  void CloseConnections() {
    registry_.CloseAll([this] { net::post(io_, [this] { io_.stop(); }); });
  }

  net::io_context& io_;
  const HttpServerOptions options_;
  session::SessionManager& sessions_;
  tcp::acceptor acceptor_;
  net::steady_timer deadline_;
  ConnectionRegistry registry_;
  WsContext context_;
  bool shutting_down_ = false;  // network thread only
  std::thread stopper_;         // runs SessionManager::StopAll during shutdown
};

HttpServer::HttpServer(net::io_context& io, HttpServerOptions options,
                       session::SessionManager& sessions, HubRegistry& hubs)
    : impl_(std::make_unique<Impl>(io, std::move(options), sessions, hubs)) {}

HttpServer::~HttpServer() = default;

Result<uint16_t> HttpServer::Listen() { return impl_->Listen(); }

void HttpServer::Run(const Api& api) { impl_->Run(api); }

void HttpServer::Shutdown() { impl_->Shutdown(); }

}  // namespace lx::server
