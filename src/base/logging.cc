#include "base/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace lx {

bool SetUpLogging(std::string_view level) {
  auto logger = spdlog::stderr_logger_mt("loquilex");
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
  const auto parsed = spdlog::level::from_str(std::string(level));
  const bool known = parsed != spdlog::level::off || level == "off";
  logger->set_level(known ? parsed : spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
  return known;
}

}  // namespace lx
