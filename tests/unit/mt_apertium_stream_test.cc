// Apertium's stream format at loquilex's edge: what is written to a pipeline and read back.
#include <gtest/gtest.h>

#include <string>

#include "mt/apertium_stream.h"

namespace lx::mt {
namespace {

using namespace std::string_literals;

struct Case {
  std::string input;
  std::string expected;
};

TEST(ApertiumStreamTest, RepairUtf8ReplacesEachInvalidSequence) {
  const std::vector<Case> table = {
      {"plain ascii", "plain ascii"},
      {"días ünïcode 漢字 🙂", "días ünïcode 漢字 🙂"},
      {"lone \xff byte", "lone \xEF\xBF\xBD byte"},
      {"truncated \xc3", "truncated \xEF\xBF\xBD"},
      {"overlong \xc0\xaf", "overlong \xEF\xBF\xBD\xEF\xBF\xBD"},
      {"surrogate \xed\xa0\x80", "surrogate \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
      {"beyond U+10FFFF \xf4\x90\x80\x80",
       "beyond U+10FFFF \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
  };
  for (const Case& row : table) EXPECT_EQ(RepairUtf8(row.input), row.expected) << row.input;
}

TEST(ApertiumStreamTest, NormalizingMakesBlanksAndControlsOneSpace) {
  const std::vector<Case> table = {
      {"", ""},
      {" \t\r\n ", ""},
      {"  two   words \n", "two words"},
      {"bell\x07"
       "and\x1b[0m escape",
       "bell and [0m escape"},
      {"nul\0inside"s, "nul inside"},
      {"del\x7f", "del"},
  };
  for (const Case& row : table) EXPECT_EQ(NormalizeCaptionText(row.input), row.expected);
}

TEST(ApertiumStreamTest, RequestsEscapeMetacharactersAndEndInASentenceEndAndAMark) {
  EXPECT_EQ(EncodeApertiumRequest("Hello world.", 7), "Hello world..[][lx-7]\0"s);
  EXPECT_EQ(EncodeApertiumRequest("<b>^x$ @a {b} [c] /d \\e", 1),
            "\\<b\\>\\^x\\$ \\@a \\{b\\} \\[c\\] \\/d \\\\e.[][lx-1]\0"s);
  EXPECT_EQ(EncodeApertiumRequest("a ~ b * # +", 2), "a [~] b * # +.[][lx-2]\0"s);
}

TEST(ApertiumStreamTest, AnswersAreUnescapedAndLoseWhatTheRequestAdded) {
  const std::vector<Case> table = {
      {"Hola Mundo.[][lx-3]", "Hola Mundo"},
      {"Hola Mundo..[][lx-3]", "Hola Mundo."},
      {" Tengo dos hermanos..[][lx-3]\n", "Tengo dos hermanos."},
      {"\\<b\\>Negrita\\<\\/b\\> [~] \\\\.[][lx-3]", "<b>Negrita</b> ~ \\"},
      {"Hola  \n Mundo.[][lx-3]", "Hola Mundo"},
  };
  for (const Case& row : table) {
    auto decoded = DecodeApertiumAnswer(row.input, 3);
    ASSERT_TRUE(decoded.has_value()) << row.input;
    EXPECT_EQ(*decoded, row.expected) << row.input;
  }
}

TEST(ApertiumStreamTest, AnAnswerWithoutItsRequestsMarkIsRejected) {
  EXPECT_FALSE(DecodeApertiumAnswer("", 3).has_value());
  EXPECT_FALSE(DecodeApertiumAnswer("Hola Mundo.[]", 3).has_value());
  EXPECT_FALSE(DecodeApertiumAnswer("Hola Mundo.[][lx-2]", 3).has_value());
  EXPECT_FALSE(DecodeApertiumAnswer("Hola Mundo.[][lx-13]", 3).has_value());
}

TEST(ApertiumStreamTest, AnEchoedRequestDecodesToItsText) {
  const std::string text = "Hello <b>world</b> ~ [x] \\ ^$ @ {y} /z.";
  std::string request = EncodeApertiumRequest(text, 9);
  request.pop_back();  // the '\0'
  EXPECT_EQ(DecodeApertiumAnswer(request, 9), text);
}

}  // namespace
}  // namespace lx::mt
