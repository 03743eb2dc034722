// Process-wide logging setup (the only global loquilex keeps besides the engines' own).
#pragma once

#include <string_view>

namespace lx {

// Configures spdlog's default logger to write human-readable lines to stderr at `level`
// ("trace", "debug", "info", "warn", "error", "off"). Call once at start-up, before other threads
// exist. Returns false (and leaves the level at "info") for an unknown level name.
bool SetUpLogging(std::string_view level);

}  // namespace lx
