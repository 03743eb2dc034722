#include "audio/sndfile_state.h"

namespace lx::audio {

std::mutex& SndfileOpenMutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace lx::audio
