#include "cli/paths.h"

#include <cstdlib>

namespace lx::cli {
namespace {

// The variable's value, or "" when unset. Called at start-up, before other threads exist.
std::string Env(const char* name) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe)
  return value == nullptr ? std::string() : std::string(value);
}

}  // namespace

std::string CacheDir() {
  if (std::string dir = Env("LX_CACHE_DIR"); !dir.empty()) return dir;
  if (std::string xdg = Env("XDG_CACHE_HOME"); !xdg.empty()) return xdg + "/loquilex";
  if (std::string home = Env("HOME"); !home.empty()) return home + "/.cache/loquilex";
  return "";
}

std::string DataDir() {
  if (std::string xdg = Env("XDG_DATA_HOME"); !xdg.empty()) return xdg + "/loquilex";
  if (std::string home = Env("HOME"); !home.empty()) return home + "/.local/share/loquilex";
  return "loquilex-data";
}

}  // namespace lx::cli
