#include "cli/paths.h"

#include <cstdlib>

namespace lx::cli {

std::string CacheDir() {
  // Read once at start-up, before other threads exist.
  if (const char* dir = std::getenv("LX_CACHE_DIR");
      dir != nullptr && *dir != '\0') {  // NOLINT(concurrency-mt-unsafe)
    return dir;
  }
  if (const char* xdg = std::getenv("XDG_CACHE_HOME");
      xdg != nullptr && *xdg != '\0') {  // NOLINT(concurrency-mt-unsafe)
    return std::string(xdg) + "/loquilex";
  }
  if (const char* home = std::getenv("HOME");
      home != nullptr && *home != '\0') {  // NOLINT(concurrency-mt-unsafe)
    return std::string(home) + "/.cache/loquilex";
  }
  return "";
}

}  // namespace lx::cli
