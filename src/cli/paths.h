// Where loquilex keeps files on this machine, from the environment (read in cli/ only).
#pragma once

#include <string>

namespace lx::cli {

// $LX_CACHE_DIR, else $XDG_CACHE_HOME/loquilex, else $HOME/.cache/loquilex; "" when none is set.
std::string CacheDir();
// $XDG_DATA_HOME/loquilex, else $HOME/.local/share/loquilex, else ./loquilex-data.
std::string DataDir();

}  // namespace lx::cli
