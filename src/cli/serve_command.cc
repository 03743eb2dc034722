#include "cli/serve_command.h"

#include "cli/paths.h"

// Boost 1.74's asio needs <utility> before its headers under -std=c++20.
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

#include "asr/pocketsphinx_engine.h"
#include "audio/alsa_capture.h"
#include "base/clock.h"
#include "base/logging.h"
#include "base/status.h"
#include "cli/app.h"
#include "mt/apertium_provider.h"
#include "server/api.h"
#include "server/http_server.h"
#include "server/hub.h"
#include "session/session_manager.h"

namespace lx::cli {
namespace {

namespace net = boost::asio;

// Forwards a session's events and logs each final's and translation's text (--log-transcripts
// only). Stateless, so the calls from a session's two threads need no lock.
class TranscriptLoggingSink final : public session::EventSink {
 public:
  TranscriptLoggingSink(std::string session_id, std::shared_ptr<session::EventSink> next)
      : session_id_(std::move(session_id)), next_(std::move(next)) {}
  void Publish(events::Event event) override {
    if (const auto* final_caption = std::get_if<asr::Final>(&event.payload)) {
      LogWith(spdlog::level::info, {{"session_id", session_id_}}, "final {}: {}",
              final_caption->segment_id, final_caption->text);
    } else if (const auto* translation = std::get_if<events::TranslationFinal>(&event.payload)) {
      LogWith(spdlog::level::info, {{"session_id", session_id_}}, "translation {} ({}): {}",
              translation->segment_id, translation->tgt_lang, translation->text);
    }
    next_->Publish(std::move(event));
  }

 private:
  const std::string session_id_;
  const std::shared_ptr<session::EventSink> next_;
};

Result<std::string> ReadToken(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument(path + ": cannot read the token file");
  std::ostringstream content;
  content << in.rdbuf();
  std::string token = content.str();
  const auto first = token.find_first_not_of(" \t\r\n");
  if (first == std::string::npos)
    return Status::InvalidArgument(path + ": the token file is empty");
  token = token.substr(first, token.find_last_not_of(" \t\r\n") - first + 1);
  return token;
}

std::string Url(const std::string& host, uint16_t port) {
  if (host.find(':') != std::string::npos) return fmt::format("http://[{}]:{}", host, port);
  return fmt::format("http://{}:{}", host, port);
}

// Checks what can be checked before listening; the exit code and message of the first failure.
struct StartupError {
  int exit_code;
  std::string message;
};

std::optional<StartupError> Prepare(const ServeOptions& options, std::string* data_dir,
                                    std::string* token) {
  if (options.port < 0 || options.port > 65535) return StartupError{kExitUsage, "bad --port"};
  *data_dir = options.data_dir.empty() ? DataDir() : options.data_dir;
  std::error_code ec;
  std::filesystem::create_directories(*data_dir, ec);
  if (ec) return StartupError{kExitUsage, *data_dir + ": cannot create the data folder"};
  if (!options.token_file.empty()) {
    auto read = ReadToken(options.token_file);
    if (!read.ok()) return StartupError{kExitUsage, read.status().message()};
    *token = read.value();
  }
  return std::nullopt;
}

// The Apertium provider, or null and why not (the server runs without translation then).
std::unique_ptr<mt::TranslatorProvider> OpenTranslation(const ServeOptions& options,
                                                        std::string* why_not) {
  mt::ApertiumOptions apertium;
  apertium.modes_dir = options.mt_modes_dir;
  apertium.timeout_ms = options.mt_timeout_ms;
  auto provider = mt::CreateApertiumProvider(apertium);
  if (!provider.ok()) {
    *why_not = "Apertium cannot be used (" + provider.status().message() +
               "; install apertium and a language pair, e.g. apertium-eng-spa)";
    spdlog::warn("translation is off: {}", *why_not);
    return nullptr;
  }
  spdlog::info("translation: apertium, {} pairs", provider.value()->Pairs().size());
  return std::move(provider).value();
}

// First SIGINT/SIGTERM: graceful shutdown. A second one: stop at once.
void HandleSignals(net::signal_set& signals, server::HttpServer& server, net::io_context& io,
                   bool first) {
  signals.async_wait(
      [&signals, &server, &io, first](const boost::system::error_code& ec, int signal_number) {
        if (ec) return;
        if (!first) {
          spdlog::warn("signal {} again: stopping now", signal_number);
          io.stop();
          return;
        }
        spdlog::info("signal {}: shutting down", signal_number);
        server.Shutdown();
        HandleSignals(signals, server, io, false);
      });
}

// The flags of event delivery: replay buffer, viewers' queues, timeouts and admission limits.
void AddDeliveryOptions(CLI::App& cmd, ServeOptions& options) {
  const auto positive = CLI::Range(1, 1 << 30);
  cmd.add_option("--replay-events", options.replay_events,
                 "Events each session keeps for viewers that resume (?resume_from)")
      ->envname("LX_REPLAY_EVENTS")
      ->check(CLI::Range(size_t{1}, size_t{1} << 24))
      ->capture_default_str();
  cmd.add_option(
         "--replay-seconds", options.replay_seconds,
         "Seconds of events each session keeps for resuming viewers (at most --replay-events)")
      ->envname("LX_REPLAY_SECONDS")
      ->check(positive)
      ->capture_default_str();
  cmd.add_option("--client-queue-frames", options.client_queue_frames,
                 "Frames a viewer's send queue holds before partials are superseded, vu dropped, "
                 "and then the viewer closed with 1013")
      ->envname("LX_CLIENT_QUEUE_FRAMES")
      ->check(CLI::Range(size_t{1}, size_t{1} << 24))
      ->capture_default_str();
  cmd.add_option("--client-queue-bytes", options.client_queue_bytes,
                 "Bytes a viewer's send queue holds, likewise")
      ->envname("LX_CLIENT_QUEUE_BYTES")
      ->check(CLI::Range(size_t{1024}, size_t{1} << 32))
      ->capture_default_str();
  cmd.add_option("--client-stall-ms", options.client_stall_ms,
                 "A write to a viewer that takes this long closes it with 1013 \"client stalled\"")
      ->envname("LX_CLIENT_STALL_MS")
      ->check(positive)
      ->capture_default_str();
  cmd.add_option("--client-timeout-ms", options.client_timeout_ms,
                 "A WebSocket peer that sends nothing and answers no ping this long is dropped")
      ->envname("LX_CLIENT_TIMEOUT_MS")
      ->check(positive)
      ->capture_default_str();
  cmd.add_option("--client-send-buffer-bytes", options.client_send_buffer_bytes,
                 "Kernel send buffer (SO_SNDBUF) of event sockets; 0 = the system's default")
      ->envname("LX_CLIENT_SEND_BUFFER_BYTES")
      ->check(CLI::Range(0, 1 << 30))
      ->capture_default_str();
  cmd.add_option("--heartbeat-ms", options.heartbeat_ms, "Period of server.hb on event sockets")
      ->envname("LX_HEARTBEAT_MS")
      ->check(positive)
      ->capture_default_str();
  cmd.add_option("--max-sessions", options.max_sessions,
                 "Sessions not yet stopped; one more POST /sessions gets 429")
      ->envname("LX_MAX_SESSIONS")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20))
      ->capture_default_str();
  cmd.add_option("--max-clients-per-session", options.max_clients_per_session,
                 "Viewers of one session; one more is closed with 1013 (0 = no limit)")
      ->envname("LX_MAX_CLIENTS_PER_SESSION")
      ->capture_default_str();
  cmd.add_option("--max-connections", options.max_connections,
                 "WebSockets open at once; one more is closed with 1013 (0 = no limit)")
      ->envname("LX_MAX_CONNECTIONS")
      ->capture_default_str();
  cmd.add_option("--retry-after-ms", options.retry_after_ms,
                 "The wait a 429 or a 1013 refusal asks for (retry_after_ms)")
      ->envname("LX_RETRY_AFTER_MS")
      ->check(CLI::Range(0, 1 << 30))
      ->capture_default_str();
}

}  // namespace

CLI::App* AddServeCommand(CLI::App& app, ServeOptions& options) {
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "Serve live captions over HTTP and WebSocket on this machine.\n"
      "Examples:\n"
      "  loquilex serve\n"
      "  loquilex serve --port 0 --data-dir /tmp/lx        # prints the URL it picked\n"
      "  LX_TOKEN_FILE=~/.lx-token loquilex serve --host 0.0.0.0");
  cmd->add_option("--host", options.host, "Address to listen on")
      ->envname("LX_HOST")
      ->capture_default_str();
  cmd->add_option("--port", options.port, "Port to listen on; 0 picks a free one")
      ->envname("LX_PORT")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--data-dir", options.data_dir,
                  "Folder for session data (default: ~/.local/share/loquilex)")
      ->envname("LX_DATA_DIR");
  cmd->add_option("--model-dir", options.model_dir, "Default PocketSphinx model folder")
      ->envname("LX_ASR_MODEL_DIR")
      ->default_val(std::string(asr::kDefaultPocketSphinxModelDir));
  cmd->add_option("--allowed-origin", options.allowed_origins,
                  "Browser origin (e.g. http://localhost:5173) allowed to open WebSockets, "
                  "besides the server's own; repeatable")
      ->envname("LX_ALLOWED_ORIGIN")
      ->delimiter(',');
  cmd->add_option("--token-file", options.token_file,
                  "File holding a bearer token every request must present")
      ->envname("LX_TOKEN_FILE")
      ->check(CLI::ExistingFile);
  cmd->add_option(
         "--log-format", options.log_format,
         "text or json (one object a line; request_id, session_id and error_id are members)")
      ->envname("LX_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_flag("--log-transcripts", options.log_transcripts,
                "Log the text of every final (off: transcripts never reach the log)")
      ->envname("LX_LOG_TRANSCRIPTS");
  cmd->add_option("--max-body-bytes", options.max_body_bytes,
                  "Largest request body accepted; larger ones get 413")
      ->envname("LX_MAX_BODY_BYTES")
      ->check(CLI::Range(size_t{1}, size_t{1} << 30))
      ->capture_default_str();
  cmd->add_option("--mt-modes-dir", options.mt_modes_dir,
                  "Apertium's modes folder: the translation pairs installed (apertium-eng-spa, "
                  "...); without Apertium the server runs and translation requests get 422")
      ->envname("LX_APERTIUM_MODES_DIR")
      ->capture_default_str();
  cmd->add_option("--mt-timeout-ms", options.mt_timeout_ms,
                  "A translation not answered within this time restarts its Apertium pipeline "
                  "and is tried once more, then reported as mt.error")
      ->envname("LX_MT_TIMEOUT_MS")
      ->check(CLI::Range(1, 600000))
      ->capture_default_str();
  AddDeliveryOptions(*cmd, options);
  return cmd;
}

int RunServe(const ServeOptions& options) {
  std::string data_dir;
  std::string token;
  if (auto error = Prepare(options, &data_dir, &token)) {
    fmt::print(stderr, "loquilex serve: {}\n", error->message);
    return error->exit_code;
  }

  net::io_context io;
  server::HubRegistry hubs(io, {options.replay_events, options.replay_seconds});
  audio::AlsaCaptureBackend capture;
  const bool log_transcripts = options.log_transcripts;
  session::SessionManagerOptions session_options{data_dir, options.model_dir, {}};
  // Declared before the sessions, which use it until they are gone.
  const std::unique_ptr<mt::TranslatorProvider> translation =
      OpenTranslation(options, &session_options.translation_unavailable);
  session_options.translators = translation.get();
  session::SessionManager sessions(
      session_options, capture,
      [cache = CacheDir()](const std::string& dir) {
        return asr::LoadPocketSphinxModel(dir, {cache});
      },
      [&hubs, log_transcripts](const std::string& sid) -> std::shared_ptr<session::EventSink> {
        auto hub = hubs.Create(sid);
        if (!log_transcripts) return hub;
        return std::make_shared<TranscriptLoggingSink>(sid, std::move(hub));
      },
      SteadyClock::Instance());

  // Loading the default model now keeps it off the network thread of the first POST /sessions.
  if (Status s = sessions.Preload(options.model_dir); !s.ok()) {
    fmt::print(stderr, "loquilex serve: {}\n", s.message());
    return kExitModel;
  }

  server::HttpServerOptions server_options;
  server_options.host = options.host;
  server_options.port = static_cast<uint16_t>(options.port);
  server_options.max_body_bytes = options.max_body_bytes;
  server_options.heartbeat_interval_ms = options.heartbeat_ms;
  server_options.send_queue_limit_frames = options.client_queue_frames;
  server_options.send_queue_limit_bytes = options.client_queue_bytes;
  server_options.client_stall_ms = options.client_stall_ms;
  server_options.client_timeout_ms = options.client_timeout_ms;
  server_options.send_buffer_bytes = options.client_send_buffer_bytes;
  server_options.max_clients_per_session = options.max_clients_per_session;
  server_options.max_connections = options.max_connections;
  server_options.retry_after_ms = options.retry_after_ms;
  server::HttpServer server(io, server_options, sessions, hubs);
  const auto port = server.Listen();
  if (!port.ok()) {
    fmt::print(stderr, "loquilex serve: {}\n", port.status().message());
    return kExitFailure;
  }

  server::ApiOptions api_options;
  api_options.public_origin = Url(options.host, port.value());
  api_options.allowed_origins = options.allowed_origins;
  api_options.token = token;
  api_options.max_body_bytes = options.max_body_bytes;
  api_options.heartbeat_interval_ms = server_options.heartbeat_interval_ms;
  api_options.max_sessions = options.max_sessions;
  api_options.retry_after_ms = options.retry_after_ms;
  const server::Api api(api_options, sessions, hubs);

  net::signal_set signals(io, SIGINT, SIGTERM);
  HandleSignals(signals, server, io, true);

  fmt::print("{}\n", api_options.public_origin);
  std::fflush(stdout);
  spdlog::info("serving on {} (data in {})", api_options.public_origin, data_dir);
  server.Run(api);
  spdlog::info("stopped");
  return kExitOk;
}

}  // namespace lx::cli
