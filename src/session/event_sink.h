// The one way a session's events leave it.
#pragma once

#include "events/event.h"

namespace lx::session {

// Receives one session's events, in order. Publish is called from the session's worker thread
// and, for a translating session, from its translation thread; the session serializes the calls
// (they never overlap, and each happens-after the one before), so an implementation needs no
// lock of its own for that. Implementations must not block (the server posts onto its network
// loop). A Publish that throws on the worker's thread ends the session in state error; on the
// translation thread it is logged and that event is lost.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void Publish(events::Event event) = 0;
};

}  // namespace lx::session
