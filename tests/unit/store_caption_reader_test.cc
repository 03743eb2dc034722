// Reading WebVTT, SRT and plain-text captions into cues, and writing cues back.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "store/caption_reader.h"

namespace lx::store {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::vector<Cue> Parsed(CaptionFormat format, std::string_view content) {
  auto cues = ParseCaptions(format, content, "in");
  EXPECT_TRUE(cues.ok()) << cues.status().ToString();
  return cues.ok() ? cues.value() : std::vector<Cue>{};
}

MATCHER_P3(IsCue, start_ms, end_ms, text, "") {
  return arg.start_ms == start_ms && arg.end_ms == end_ms && arg.text == text;
}

TEST(CaptionReaderTest, ReadsWebVttCuesWithTheirTimes) {
  const auto cues = Parsed(CaptionFormat::kVtt,
                           "\xEF\xBB\xBFWEBVTT - a title\r\n"
                           "Kind: captions\r\n\r\n"
                           "NOTE written by hand\nover two lines\n\n"
                           "STYLE\n::cue { color: red }\n\n"
                           "intro\n"
                           "00:00:01.000 --> 00:00:02.500 align:start position:10%\n"
                           "Hello <i>world</i>.\n"
                           "&lt;second&gt; line &amp; more\n\n"
                           "01:02:03.004 --> 01:02:04.000\n"
                           "<v Roger>Good morning.</v>\n\n\n"
                           "00:59.000 --> 01:00.000\n"
                           "Short timestamps.\n");
  EXPECT_THAT(cues, ::testing::ElementsAre(IsCue(1000, 2500, "Hello world.\n<second> line & more"),
                                           IsCue(3723004, 3724000, "Good morning."),
                                           IsCue(59000, 60000, "Short timestamps.")));
}

TEST(CaptionReaderTest, ReadsSrtCuesWithOrWithoutNumbers) {
  const auto cues = Parsed(CaptionFormat::kSrt,
                           "1\r\n00:00:01,000 --> 00:00:02,000\r\nHello <b>world</b>.\r\n\r\n"
                           "2\n00:00:03,250 --> 00:00:04,000\nTwo\nlines\n\n"
                           "00:00:05,000 --> 00:00:06,000\nNo number\n");
  EXPECT_THAT(cues, ::testing::ElementsAre(IsCue(1000, 2000, "Hello world."),
                                           IsCue(3250, 4000, "Two\nlines"),
                                           IsCue(5000, 6000, "No number")));
}

TEST(CaptionReaderTest, ReadsEachNonBlankTextLineAsACue) {
  EXPECT_THAT(Parsed(CaptionFormat::kTxt, "  first line \r\n\n\nsecond < line\n"),
              ::testing::ElementsAre(IsCue(0, 0, "first line"), IsCue(0, 0, "second < line")));
  EXPECT_TRUE(Parsed(CaptionFormat::kTxt, "").empty());
  EXPECT_TRUE(Parsed(CaptionFormat::kVtt, "WEBVTT\n").empty());
  EXPECT_TRUE(Parsed(CaptionFormat::kSrt, "\n\n").empty());
}

struct Malformed {
  CaptionFormat format;
  std::string content;
  std::string message;  // expected in the error, after "in:"
};

TEST(CaptionReaderTest, MalformedInputIsCorruptionNamingTheLine) {
  const std::vector<Malformed> table = {
      {CaptionFormat::kVtt, "", "in:1: not a WebVTT file"},
      {CaptionFormat::kVtt, "1\n00:00:01,000 --> 00:00:02,000\nSRT\n", "in:1: not a WebVTT"},
      {CaptionFormat::kVtt, "WEBVTTX\n", "in:1: not a WebVTT file"},
      {CaptionFormat::kVtt, "WEBVTT\n\n00:00:01.000 --> 00:00:0x.000\nA\n",
       "in:3: malformed timestamp \"00:00:0x.000\""},
      {CaptionFormat::kVtt, "WEBVTT\n\nid\n00:00:01.000 -> 00:00:02.000\nA\n",
       "in:3: expected a cue timing line"},
      {CaptionFormat::kVtt, "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nA\n\njust text\n",
       "in:6: expected a cue timing line"},
      {CaptionFormat::kVtt, "WEBVTT\n\n00:00:03.000 --> 00:00:02.000\nA\n",
       "in:3: the cue ends before it starts"},
      {CaptionFormat::kVtt, "WEBVTT\n\n00:61.000 --> 01:02.000\nA\n", "in:3: malformed"},
      {CaptionFormat::kVtt, "WEBVTT\n\n00:00:01.00 --> 00:00:02.000\nA\n", "in:3: malformed"},
      {CaptionFormat::kSrt, "1\n00:00:01,000 --> \nA\n", "in:2: malformed timestamp \"\""},
      {CaptionFormat::kSrt, "\n\nHello there\n", "in:3: expected a cue number"},
      {CaptionFormat::kSrt, "1\nHello\n", "in:1: expected a cue number"},
  };
  for (const Malformed& row : table) {
    auto cues = ParseCaptions(row.format, row.content, "in");
    ASSERT_FALSE(cues.ok()) << row.content;
    EXPECT_EQ(cues.status().code(), Status::Code::kCorruption) << row.content;
    EXPECT_THAT(cues.status().message(), StartsWith(row.message)) << row.content;
  }
  EXPECT_EQ(ParseCaptions(CaptionFormat::kJson, "{}", "in").status().code(),
            Status::Code::kInvalidArgument);
}

TEST(CaptionReaderTest, CuesWrittenAndReadBackKeepTheirTimesAndText) {
  const std::vector<Cue> cues = {
      {1000, 2500, "Hola Mundo."}, {3723004, 3724000, "Buenos\ndías <b> & más."}, {5000, 5000, ""}};
  EXPECT_THAT(Parsed(CaptionFormat::kVtt, RenderCues(CaptionFormat::kVtt, cues)),
              ::testing::ElementsAre(IsCue(1000, 2500, "Hola Mundo."),
                                     IsCue(3723004, 3724000, "Buenos días <b> & más.")));
  // SRT has no escapes: "<b>" reads back as a tag, and is dropped.
  EXPECT_THAT(Parsed(CaptionFormat::kSrt, RenderCues(CaptionFormat::kSrt, cues)),
              ::testing::ElementsAre(IsCue(1000, 2500, "Hola Mundo."),
                                     IsCue(3723004, 3724000, "Buenos días  & más.")));
  EXPECT_EQ(RenderCues(CaptionFormat::kVtt, cues),
            "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nHola Mundo.\n\n"
            "01:02:03.004 --> 01:02:04.000\nBuenos días &lt;b&gt; &amp; más.\n");
  EXPECT_EQ(RenderCues(CaptionFormat::kTxt, cues), "Hola Mundo.\nBuenos días <b> & más.\n");
  EXPECT_THAT(RenderCues(CaptionFormat::kJson, cues), HasSubstr("\"start\": 3723.004"));
}

}  // namespace
}  // namespace lx::store
