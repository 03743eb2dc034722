// Writing output files so that a failure never leaves a partial file behind.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace lx::store {

// Writes `content` to a temporary file beside `path`, flushes it to disk and renames it over
// `path`. On any failure the temporary file is removed, `path` is untouched, and IOError names the
// path and the reason. Blocks on disk I/O.
Status WriteFileAtomically(const std::string& path, std::string_view content);

}  // namespace lx::store
