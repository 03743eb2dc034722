// What the viewers' overflow policy may drop or supersede (ws_connection.h, ClassifyFrame).
#include <gtest/gtest.h>

#include <string>

#include "server/ws_connection.h"

namespace lx::server {
namespace {

using Type = FrameKind::Type;

struct Case {
  std::string envelope;
  Type type;
  uint64_t segment_id;
  bool translation;
};

TEST(ServerFrameKindTest, PartialsOfEachStreamAreSupersedableVuAndHeartbeatsDroppable) {
  const Case cases[] = {
      {R"({"v":1,"t":"asr.partial","sid":"s","seq":5,"data":{"segment_id":3,"text":"a"}})",
       Type::kPartial, 3, false},
      {R"({"v":1,"t":"mt.partial","sid":"s","seq":6,"data":{"segment_id":12,"text":"b"}})",
       Type::kPartial, 12, true},
      {R"({"v":1,"t":"vu","sid":"s","seq":7,"data":{"rms":0.1}})", Type::kVu, 0, false},
      {R"({"v":1,"t":"server.hb","sid":"s","seq":7,"data":{}})", Type::kHeartbeat, 0, false},
      // Never dropped: finals, translations' finals and errors, status, the rest.
      {R"({"v":1,"t":"asr.final","sid":"s","seq":8,"data":{"segment_id":3}})", Type::kOther, 0,
       false},
      {R"({"v":1,"t":"mt.final","sid":"s","seq":9,"data":{"segment_id":3}})", Type::kOther, 0,
       false},
      {R"({"v":1,"t":"mt.error","sid":"s","seq":9,"data":{"segment_id":3}})", Type::kOther, 0,
       false},
      {R"({"v":1,"t":"status","sid":"s","seq":10,"data":{"state":"stopped"}})", Type::kOther, 0,
       false},
      // A partial without a segment cannot be matched, so it is kept.
      {R"({"v":1,"t":"asr.partial","sid":"s","seq":11,"data":{"text":"x"}})", Type::kOther, 0,
       false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.envelope);
    const FrameKind kind = ClassifyFrame(c.envelope);
    EXPECT_EQ(kind.type, c.type);
    EXPECT_EQ(kind.segment_id, c.segment_id);
    EXPECT_EQ(kind.translation, c.translation);
  }
}

}  // namespace
}  // namespace lx::server
