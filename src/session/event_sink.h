// The one way a session's events leave it.
#pragma once

#include "events/event.h"

namespace lx::session {

// Receives one session's events, in order. Publish is called from the session's worker thread
// only; implementations must not block (the server posts onto its network loop). A Publish that
// throws ends the session in state error.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void Publish(events::Event event) = 0;
};

}  // namespace lx::session
