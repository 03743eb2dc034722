// libsndfile's process-wide state, shared by the readers and the writers of audio files.
#pragma once

#include <mutex>

namespace lx::audio {

// libsndfile keeps the error and log of a failed open in process-wide state. Every sf_open* in
// loquilex holds this lock until it has read them, so concurrent opens (a session saving audio
// while another decodes a file) never report each other's error.
std::mutex& SndfileOpenMutex();

}  // namespace lx::audio
