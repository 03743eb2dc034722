#include "base/logging.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <random>
#include <vector>

namespace lx {
namespace {

// The calling thread's scoped fields, outermost first (see ScopedLogFields).
std::vector<LogField>& ThreadFields() {
  thread_local std::vector<LogField> fields;
  return fields;
}

// Calls `emit` for each of the thread's fields whose key no later (inner) field sets again.
template <typename Emit>
void ForEachField(Emit emit) {
  const std::vector<LogField>& fields = ThreadFields();
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    const bool overridden = std::any_of(
        std::next(it), fields.end(), [&](const LogField& later) { return later.key == it->key; });
    if (!overridden) emit(*it);
  }
}

void Append(spdlog::memory_buf_t& dest, std::string_view text) {
  dest.append(text.data(), text.data() + text.size());
}

// "%*" in the text pattern: "[key=value key=value] ", or nothing without fields.
class TextFieldsFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& /*msg*/, const std::tm& /*time*/,
              spdlog::memory_buf_t& dest) override {
    bool first = true;
    ForEachField([&](const LogField& field) {
      Append(dest, first ? "[" : " ");
      first = false;
      Append(dest, field.key);
      Append(dest, "=");
      Append(dest, field.value);
    });
    if (!first) Append(dest, "] ");
  }
  // cppcheck-suppress unusedFunction ; spdlog calls it through the base class
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<TextFieldsFlag>();
  }
};

// Formats each record as one JSON object on a line, the fields between level and msg.
class JsonLineFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
    const auto seconds = std::chrono::sys_seconds(std::chrono::seconds(ms / 1000));
    const auto level = spdlog::level::to_string_view(msg.level);
    fmt::format_to(std::back_inserter(dest),
                   R"({{"ts":"{:%Y-%m-%dT%H:%M:%S}.{:03d}Z","level":"{}")", seconds, ms % 1000,
                   std::string_view(level.data(), level.size()));
    ForEachField([&](const LogField& field) {
      fmt::format_to(std::back_inserter(dest), R"(,"{}":"{}")", JsonEscape(field.key),
                     JsonEscape(field.value));
    });
    fmt::format_to(std::back_inserter(dest),
                   R"(,"msg":"{}"}})"
                   "\n",
                   JsonEscape(std::string_view(msg.payload.data(), msg.payload.size())));
  }
  // cppcheck-suppress unusedFunction ; spdlog calls it through the base class
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonLineFormatter>();
  }
};

}  // namespace

ScopedLogFields::ScopedLogFields(std::initializer_list<LogField> fields)
    : outer_size_(ThreadFields().size()) {
  std::vector<LogField>& all = ThreadFields();
  all.insert(all.end(), fields.begin(), fields.end());
}

ScopedLogFields::~ScopedLogFields() { ThreadFields().resize(outer_size_); }

std::unique_ptr<spdlog::formatter> MakeLogFormatter(LogFormat format) {
  if (format == LogFormat::kJson) return std::make_unique<JsonLineFormatter>();
  auto text = std::make_unique<spdlog::pattern_formatter>();
  text->add_flag<TextFieldsFlag>('*').set_pattern("%Y-%m-%d %H:%M:%S.%e %l %*%v");
  return text;
}

std::string NewLogId(int hex_digits) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  static constexpr std::string_view kHex = "0123456789abcdef";
  std::string id(static_cast<size_t>(std::clamp(hex_digits, 1, 16)), '0');
  uint64_t bits = random();
  for (char& c : id) {
    c = kHex[bits & 0xf];
    bits >>= 4;
  }
  return id;
}

std::string JsonEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out += c;
        }
    }
  }
  return out;
}

bool SetUpLogging(std::string_view level, LogFormat format) {
  auto logger = spdlog::stderr_logger_mt("loquilex");
  logger->set_formatter(MakeLogFormatter(format));
  const auto parsed = spdlog::level::from_str(std::string(level));
  const bool known = parsed != spdlog::level::off || level == "off";
  logger->set_level(known ? parsed : spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
  return known;
}

}  // namespace lx
