// Captures what loquilex logs, for tests that check log lines: while a CapturedLog lives, the
// default logger writes into it, formatted as `loquilex serve` would.
#pragma once

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "base/logging.h"

namespace lx::testing {

// Keeps the formatted lines in a string that tests may read while other threads log.
class StringSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::string Text() {
    const std::lock_guard lock(mutex_);
    return text_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    text_.append(line.data(), line.size());
  }
  void flush_() override {}

 private:
  std::string text_;  // guarded by mutex_ (the base class's)
};

// Replaces the default logger (level debug) while it lives. Create it before the threads whose
// lines it should see, and destroy it after they are joined.
class CapturedLog {
 public:
  explicit CapturedLog(LogFormat format = LogFormat::kJson)
      : sink_(std::make_shared<StringSink>()), previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>("captured", sink_);
    logger->set_formatter(MakeLogFormatter(format));
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;

  std::string Text() { return sink_->Text(); }
  std::vector<std::string> Lines() {
    std::vector<std::string> lines;
    std::istringstream in(Text());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  // Every line parsed as JSON (LogFormat::kJson; a line that is not JSON throws).
  std::vector<nlohmann::json> Objects() {
    std::vector<nlohmann::json> objects;
    for (const std::string& line : Lines()) objects.push_back(nlohmann::json::parse(line));
    return objects;
  }
  // The first JSON line whose member `key` is `value`; null when there is none.
  nlohmann::json Find(const std::string& key, const std::string& value) {
    for (auto& object : Objects()) {
      if (object.value(key, "") == value) return object;
    }
    return nullptr;
  }

 private:
  std::shared_ptr<StringSink> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace lx::testing
