// `loquilex serve`: the live captioning server (REST + WebSocket on one port). The composition
// root of the server: it wires sessions, hubs, the API and the transport together.
#pragma once

#include <CLI/CLI.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace lx::cli {

// Everything `serve` is told on its command line (or through LX_* environment variables).
struct ServeOptions {
  std::string host = "127.0.0.1";            // address to listen on
  int port = 8000;                           // 0 = any free port (printed on start)
  std::string data_dir;                      // per-session folders; "" = DataDir()
  std::string model_dir;                     // default PocketSphinx model folder
  std::vector<std::string> allowed_origins;  // browser origins allowed on the WebSockets
  std::string token_file;                    // file holding the bearer token; "" = no token
  std::string log_format = "text";           // text|json
  bool log_transcripts = false;              // log finals' text (never logged otherwise)
  size_t max_body_bytes = 64 * 1024;         // larger request bodies get 413
  std::string mt_modes_dir = "/usr/share/apertium/modes";  // Apertium's installed pairs
  int mt_timeout_ms = 5000;  // a translation not answered by then: restart + retry once
  // Delivery to viewers (docs/protocol.md, "Resuming", "Slow viewers", "Admission").
  size_t replay_events = 2000;                  // events kept per session for resuming
  int replay_seconds = 600;                     // and none older than this
  size_t client_queue_frames = 1024;            // per viewer's send queue
  size_t client_queue_bytes = 4 * 1024 * 1024;  // per viewer's send queue
  int client_stall_ms = 30000;                  // a write stuck this long: 1013
  int client_timeout_ms = 30000;                // a silent WebSocket peer is dropped
  int client_send_buffer_bytes = 64 * 1024;     // SO_SNDBUF of event sockets; 0 = kernel's
  int heartbeat_ms = 15000;                     // server.hb period
  size_t max_sessions = 32;                     // running sessions; more get 429
  size_t max_clients_per_session = 100;         // viewers per session; more get 1013
  size_t max_connections = 512;                 // WebSockets in all; more get 1013
  int retry_after_ms = 5000;                    // the wait a refusal asks for
};

// Registers the subcommand on `app`; `options` receives the parsed values and must outlive `app`.
CLI::App* AddServeCommand(CLI::App& app, ServeOptions& options);

// Serves until SIGINT or SIGTERM. Translation (sessions' "mt") uses Apertium, opened at start:
// when it cannot be (not installed), the server still starts, logs why, and sessions asking for
// translation get a 422 saying so., then shuts down gracefully (sessions flushed, sockets closed
// with 1001) and returns 0. Prints the server's URL as the first line of stdout once listening.
// Start-up failures are one line on stderr and an exit code (see cli/app.h): 2 for bad options,
// 4 for an unusable model, 1 when the address cannot be bound.
int RunServe(const ServeOptions& options);

}  // namespace lx::cli
