// Process-wide logging setup (the only global loquilex keeps besides the engines' own).
#pragma once

#include <string>
#include <string_view>

namespace lx {

// How log lines are written to stderr.
enum class LogFormat {
  kText,  // "2026-01-02 03:04:05.678 info message"
  kJson,  // one JSON object a line: {"ts":"2026-01-02T03:04:05.678Z","level":"info","msg":"..."}
};

// Configures spdlog's default logger to write lines in `format` to stderr at `level` ("trace",
// "debug", "info", "warn", "error", "off"). Call once at start-up, before other threads exist.
// Returns false (and leaves the level at "info") for an unknown level name.
bool SetUpLogging(std::string_view level, LogFormat format = LogFormat::kText);

// `text` as the inside of a JSON string: quotes, backslashes and control characters escaped.
// Bytes are passed through otherwise (UTF-8 stays UTF-8). Pure.
std::string JsonEscape(std::string_view text);

}  // namespace lx
