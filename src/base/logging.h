// Process-wide logging setup (the only global loquilex keeps besides the engines' own), and the
// structured fields that tie log lines to a request, a session or an error.
#pragma once

#include <spdlog/spdlog.h>

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace lx {

// How log lines are written to stderr.
enum class LogFormat {
  kText,  // "2026-01-02 03:04:05.678 info [session_id=s1-8a1bc4] message"
  kJson,  // one JSON object a line:
          // {"ts":"2026-01-02T03:04:05.678Z","level":"info","session_id":"s1-8a1bc4","msg":"..."}
};

// Configures spdlog's default logger to write lines in `format` to stderr at `level` ("trace",
// "debug", "info", "warn", "error", "off"). Call once at start-up, before other threads exist.
// Returns false (and leaves the level at "info") for an unknown level name.
bool SetUpLogging(std::string_view level, LogFormat format = LogFormat::kText);

// The formatter SetUpLogging installs for `format`, for loggers with other sinks (tests).
std::unique_ptr<spdlog::formatter> MakeLogFormatter(LogFormat format);

// One named value a log line carries besides its message: a JSON line holds it as a string
// member (so `jq 'select(.session_id == "...")'` finds a session's lines), a text line as
// "key=value" in brackets before the message. Keys are lower_snake_case and never "ts", "level"
// or "msg"; loquilex uses request_id, session_id and error_id.
struct LogField {
  std::string key;
  std::string value;
};

// Adds `fields` to every line the calling thread logs while this object lives (a mapped
// diagnostic context). Scopes nest; a key that an inner scope (or LogWith) sets again appears
// once, with the inner value. The fields live in a thread-local that the formatter reads, so
// they apply to synchronous loggers (SetUpLogging's) and to this thread only: work handed to
// another thread opens its own scope there. Not movable: it must end on the thread and in the
// order it began.
class ScopedLogFields {
 public:
  ScopedLogFields(std::initializer_list<LogField> fields);
  ~ScopedLogFields();
  ScopedLogFields(const ScopedLogFields&) = delete;
  ScopedLogFields& operator=(const ScopedLogFields&) = delete;

 private:
  size_t outer_size_;  // how many fields the thread had before this scope
};

// Logs one line through the default logger with `fields` added to the thread's scoped ones, e.g.
//   LogWith(spdlog::level::err, {{"error_id", id}}, "export failed: {}", what);
template <typename... Args>
void LogWith(spdlog::level::level_enum level, std::initializer_list<LogField> fields,
             spdlog::format_string_t<Args...> format, Args&&... args) {
  spdlog::logger* logger = spdlog::default_logger_raw();
  if (!logger->should_log(level)) return;
  const ScopedLogFields scope(fields);
  logger->log(level, format, std::forward<Args>(args)...);
}

// A random id of `hex_digits` (at most 16) lower-case hex digits, for request and error ids: an
// error answer carries one, its log line the same one. Thread-safe.
std::string NewLogId(int hex_digits = 12);

// `text` as the inside of a JSON string: quotes, backslashes and control characters escaped.
// Bytes are passed through otherwise (UTF-8 stays UTF-8). Pure.
std::string JsonEscape(std::string_view text);

}  // namespace lx
