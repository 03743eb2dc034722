#include "store/caption_writers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/atomic_file.h"

namespace lx::store {
namespace {

using ::testing::HasSubstr;

// ---- Building finals -------------------------------------------------------------------------

asr::Final MakeFinal(uint64_t id, std::string text, double t0_s, double t1_s,
                     std::vector<asr::Word> words = {},
                     asr::EouReason reason = asr::EouReason::kSilence) {
  asr::Final f;
  f.segment_id = id;
  f.seq = id * 10;
  f.text = std::move(text);
  f.words = std::move(words);
  f.t0_s = t0_s;
  f.t1_s = t1_s;
  f.eou_reason = reason;
  return f;
}

std::vector<std::string> SplitOnSpaces(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> tokens;
  for (std::string token; in >> token;) tokens.push_back(token);
  return tokens;
}

// Words for `text`, starting at start_ms: each lasts 250 ms and is followed by 50 ms of silence.
std::vector<asr::Word> WordsEvery300Ms(const std::string& text, int start_ms) {
  std::vector<asr::Word> words;
  int t_ms = start_ms;
  for (const std::string& token : SplitOnSpaces(text)) {
    words.push_back({token, t_ms / 1000.0, (t_ms + 250) / 1000.0, 0.875f});
    t_ms += 300;
  }
  return words;
}

TranscriptInfo GoldenInfo() {
  TranscriptInfo info;
  info.engine = "pocketsphinx";
  info.model = "en-us";
  info.source = "clip.wav";
  info.audio_seconds = 30;
  info.metrics.audio_seconds = 30;
  info.metrics.processing_seconds = 7.5;
  info.metrics.partials = 12;
  info.metrics.finals = 6;
  info.metrics.finals_by_reason = {3, 1, 1, 1};
  info.metrics.final_latency.Add(0.25);
  info.metrics.final_latency.Add(0.5);
  return info;
}

constexpr char kLongWithWords[] =
    "the quick brown fox jumps over the lazy dog while seven wizards quietly hex the jovial "
    "farmers who keep on working through the long and bright afternoon until the sun finally "
    "sets behind the distant purple mountains of the old quiet valley";
constexpr char kLongWithoutWords[] =
    "this second long final arrives without any word timings at all so its text is spread "
    "evenly across the time of its segment in proportion to the characters of each cue";

// The golden transcript: every case the writers must handle, in one 30-second recording.
std::vector<asr::Final> GoldenFinals() {
  using asr::EouReason;
  return {
      MakeFinal(1, "hello world", 0.5, 1.4,
                {{"hello", 0.5, 0.9, 0.75f}, {"world", 1.0, 1.4, 0.5f}}),
      MakeFinal(2, "", 2.0, 2.5, {}, EouReason::kForced),
      MakeFinal(3, "<b>Tom & Jerry</b> say 1 < 2 --> 3 > 2", 3.0, 4.5),
      MakeFinal(4, kLongWithWords, 5.0, 17.55, WordsEvery300Ms(kLongWithWords, 5000),
                EouReason::kMaxLength),
      MakeFinal(5, kLongWithoutWords, 17.8, 23.0, {}, EouReason::kMaxLength),
      MakeFinal(6, "overlapping first", 23.5, 25.0),
      MakeFinal(7, "overlapping second", 24.5, 26.0),
      MakeFinal(8, "blip", 26.5, 26.5, {}, EouReason::kForced),
      MakeFinal(9, "runs past the end", 29.0, 31.0),
      MakeFinal(10, "after the end", 30.5, 31.5, {}, EouReason::kEndOfStream),
  };
}

// ---- Parsing cues back -----------------------------------------------------------------------

struct ParsedCue {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  std::vector<std::string> lines;
};

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.ends_with('\r')) line.pop_back();  // ffmpeg ends lines inside a cue with CRLF
    lines.push_back(line);
  }
  return lines;
}

// "HH:MM:SS<separator>mmm" in milliseconds; -1 when malformed.
int64_t ParseTimestamp(const std::string& text, char separator) {
  long long h = 0;
  int m = 0, s = 0, ms = 0, consumed = 0;
  char sep = 0;
  if (std::sscanf(text.c_str(), "%2lld:%2d:%2d%c%3d%n", &h, &m, &s, &sep, &ms, &consumed) != 5 ||
      static_cast<size_t>(consumed) != text.size() || text.size() != 12 || sep != separator ||
      m > 59 || s > 59) {
    return -1;
  }
  return ((h * 60 + m) * 60 + s) * 1000 + ms;
}

// The blank-line-separated blocks of a file.
std::vector<std::string> SplitBlocks(const std::string& text) {
  std::vector<std::string> blocks;
  for (size_t start = 0; start < text.size();) {
    const size_t end = std::min(text.find("\n\n", start), text.size());
    blocks.push_back(text.substr(start, end - start));
    start = end + 2;
  }
  return blocks;
}

// A timing line and the text lines after it.
ParsedCue ParseCue(const std::vector<std::string>& lines, char separator) {
  const std::string timing = lines.empty() ? "" : lines.front();
  const size_t arrow = timing.find(" --> ");
  EXPECT_NE(arrow, std::string::npos) << "not a timing line: " << timing;
  if (arrow == std::string::npos) return {};
  ParsedCue cue{ParseTimestamp(timing.substr(0, arrow), separator),
                ParseTimestamp(timing.substr(arrow + 5), separator),
                {lines.begin() + 1, lines.end()}};
  EXPECT_GE(cue.start_ms, 0) << timing;
  EXPECT_GE(cue.end_ms, 0) << timing;
  EXPECT_FALSE(cue.lines.empty()) << "no text after " << timing;
  return cue;
}

// Parses a rendered VTT or SRT file; records a test failure for any malformed part.
std::vector<ParsedCue> ParseCues(const std::string& rendered, CaptionFormat format) {
  const bool vtt = format == CaptionFormat::kVtt;
  if (!rendered.empty()) {
    EXPECT_EQ(rendered.back(), '\n');
  }
  const std::vector<std::string> blocks = SplitBlocks(rendered);
  if (vtt) {
    EXPECT_EQ(SplitLines(blocks.empty() ? "" : blocks.front()), std::vector<std::string>{"WEBVTT"});
  }
  std::vector<ParsedCue> cues;
  for (size_t b = vtt ? 1 : 0; b < blocks.size(); ++b) {
    std::vector<std::string> lines = SplitLines(blocks[b]);
    if (!vtt) {
      EXPECT_EQ(lines.empty() ? "" : lines.front(), std::to_string(cues.size() + 1)) << "counter";
      if (!lines.empty()) lines.erase(lines.begin());
    }
    cues.push_back(ParseCue(lines, vtt ? '.' : ','));
  }
  return cues;
}

std::string Unescape(std::string text) {
  for (auto [from, to] : {std::pair{"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}}) {
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + 1)) {
      text.replace(at, std::string(from).size(), to);
    }
  }
  return text;
}

// All cue text, lines and cues joined by single spaces (unescaped for VTT).
std::string CueText(const std::vector<ParsedCue>& cues, CaptionFormat format) {
  std::string out;
  for (const ParsedCue& cue : cues) {
    for (const std::string& line : cue.lines) {
      if (!out.empty()) out += ' ';
      out += format == CaptionFormat::kVtt ? Unescape(line) : line;
    }
  }
  return out;
}

// All final text, normalized as the cue writers normalize it.
std::string FinalText(const std::vector<asr::Final>& finals) {
  std::string out;
  for (const asr::Final& f : finals) {
    for (const std::string& token : SplitOnSpaces(f.text)) {
      if (!out.empty()) out += ' ';
      out += token;
    }
  }
  return out;
}

// The properties every rendering keeps: ordered, non-overlapping cues inside the audio that end
// after they start, carrying all of the text in order and nothing else.
void ExpectWellFormed(const std::vector<asr::Final>& finals, const TranscriptInfo& info,
                      CaptionFormat format) {
  const std::string rendered = RenderCaptions(format, finals, info);
  SCOPED_TRACE(rendered);
  const std::vector<ParsedCue> cues = ParseCues(rendered, format);
  int64_t previous_end_ms = 0;
  for (const ParsedCue& cue : cues) {
    EXPECT_LT(cue.start_ms, cue.end_ms);
    EXPECT_GE(cue.start_ms, previous_end_ms);
    if (info.audio_seconds > 0) {
      EXPECT_LE(cue.end_ms, info.audio_seconds * 1000);
    }
    EXPECT_LE(cue.lines.size(), 2u);
    if (format == CaptionFormat::kVtt) {
      for (const std::string& line : cue.lines) {
        EXPECT_THAT(line, ::testing::Not(HasSubstr("-->")));
        EXPECT_EQ(line.find_first_of("<>"), std::string::npos) << line;
      }
    }
    previous_end_ms = cue.end_ms;
  }
  EXPECT_EQ(CueText(cues, format), FinalText(finals));
}

// ---- Golden files ----------------------------------------------------------------------------

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// Compares `actual` with tests/data/golden/<name>, or rewrites the file when LX_UPDATE_GOLDEN=1.
void ExpectMatchesGolden(const std::string& actual, const std::string& name) {
  // The tests run on one thread, so reading the environment is safe.
  const char* data_dir = std::getenv("LX_TEST_DATA_DIR");  // NOLINT(concurrency-mt-unsafe)
  ASSERT_NE(data_dir, nullptr) << "LX_TEST_DATA_DIR is not set (ctest sets it)";
  const std::string path = std::string(data_dir) + "/golden/" + name;
  const char* update = std::getenv("LX_UPDATE_GOLDEN");  // NOLINT(concurrency-mt-unsafe)
  if (update != nullptr && std::string(update) == "1") {
    ASSERT_TRUE(WriteFileAtomically(path, actual).ok()) << path;
  }
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing; LX_UPDATE_GOLDEN=1 writes it";
  EXPECT_EQ(actual, ReadFile(path)) << "differs from " << path;
}

struct GoldenCase {
  CaptionFormat format;
  const char* file;
};

void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.file; }

class CaptionGoldenTest : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(CaptionGoldenTest, MatchesGoldenFile) {
  ExpectMatchesGolden(RenderCaptions(GetParam().format, GoldenFinals(), GoldenInfo()),
                      GetParam().file);
}

INSTANTIATE_TEST_SUITE_P(AllFormats, CaptionGoldenTest,
                         ::testing::Values(GoldenCase{CaptionFormat::kVtt, "captions.vtt"},
                                           GoldenCase{CaptionFormat::kSrt, "captions.srt"},
                                           GoldenCase{CaptionFormat::kTxt, "captions.txt"},
                                           GoldenCase{CaptionFormat::kJson, "captions.json"}),
                         [](const auto& info) {
                           return std::string(CaptionFormatName(info.param.format));
                         });

TEST(CaptionWritersTest, GoldenCuesAreWellFormedAndFitTwoLinesOf42) {
  for (CaptionFormat format : {CaptionFormat::kVtt, CaptionFormat::kSrt}) {
    ExpectWellFormed(GoldenFinals(), GoldenInfo(), format);
    for (const ParsedCue& cue :
         ParseCues(RenderCaptions(format, GoldenFinals(), GoldenInfo()), format)) {
      for (const std::string& line : cue.lines) EXPECT_LE(Unescape(line).size(), 42u) << line;
    }
  }
}

// ---- Properties over arbitrary input ---------------------------------------------------------

// Finals with random text (markup included), times that may be reversed, negative, NaN or past
// the audio, and words that sometimes spell the text and sometimes do not.
std::vector<asr::Final> RandomFinals(std::mt19937& rng) {
  static const std::vector<std::string> kVocabulary = {
      "a", "word", "caption", "<b>", "&", "-->", "longerwordhere", "x", "éclair", "timing"};
  std::uniform_int_distribution<size_t> final_count(0, 8), word_count(0, 45),
      vocabulary(0, kVocabulary.size() - 1);
  std::uniform_real_distribution<double> start(-2, 40), length(-1, 8), unit(0, 1);
  std::vector<asr::Final> finals;
  for (size_t n = final_count(rng); finals.size() < n;) {
    std::string text;
    for (size_t k = word_count(rng); k > 0; --k) text += kVocabulary[vocabulary(rng)] + " ";
    const double t0_s = unit(rng) < 0.05 ? std::nan("") : start(rng);
    const double t1_s = t0_s + length(rng);
    std::vector<asr::Word> words = WordsEvery300Ms(text, static_cast<int>(start(rng) * 1000));
    if (!words.empty() && unit(rng) < 0.3) words.pop_back();
    finals.push_back(MakeFinal(finals.size() + 1, text, t0_s, t1_s, std::move(words)));
  }
  return finals;
}

TEST(CaptionWritersTest, ArbitraryFinalsAlwaysMakeWellFormedCues) {
  std::mt19937 rng(20240611);
  for (int trial = 0; trial < 300; ++trial) {
    TranscriptInfo info;
    info.audio_seconds = std::vector<double>{0, 5, 12.5, 20, 35}[trial % 5];
    const std::vector<asr::Final> finals = RandomFinals(rng);
    for (CaptionFormat format : {CaptionFormat::kVtt, CaptionFormat::kSrt}) {
      SCOPED_TRACE("trial " + std::to_string(trial));
      ExpectWellFormed(finals, info, format);
    }
    if (HasFailure()) return;
  }
}

// ---- Specific behaviour ----------------------------------------------------------------------

std::string Srt(const std::vector<asr::Final>& finals, double audio_seconds = 0) {
  TranscriptInfo info;
  info.audio_seconds = audio_seconds;
  return RenderCaptions(CaptionFormat::kSrt, finals, info);
}

// "w00 w01 ... w29": 30 words of 3 characters; 10 of them fill a line (39 characters).
std::string ThirtyWords() {
  std::string text;
  for (int i = 0; i < 30; ++i) {
    text += (i == 0 ? "w" : " w") + std::string(i < 10 ? "0" : "") + std::to_string(i);
  }
  return text;
}

TEST(CaptionWritersTest, SplitsLongFinalAtWordBoundariesTimedByTheWords) {
  const std::string text = ThirtyWords();
  const std::string srt = Srt({MakeFinal(1, text, 1.0, 10.0, WordsEvery300Ms(text, 1000))});
  EXPECT_EQ(srt,
            "1\n00:00:01,000 --> 00:00:06,950\n"
            "w00 w01 w02 w03 w04 w05 w06 w07 w08 w09\nw10 w11 w12 w13 w14 w15 w16 w17 w18 w19\n"
            "\n"
            "2\n00:00:07,000 --> 00:00:09,950\nw20 w21 w22 w23 w24 w25 w26 w27 w28 w29\n");
}

TEST(CaptionWritersTest, SpreadsLongFinalEvenlyWhenWordsDoNotSpellTheText) {
  const std::string text = ThirtyWords();
  std::vector<asr::Word> words = WordsEvery300Ms(text, 1000);
  words[3].w = "w99";
  // 79 of the 118 characters fall in the first cue: 7.9 s of 11.8 s.
  const std::string srt = Srt({MakeFinal(1, text, 0.0, 11.8, words)});
  EXPECT_THAT(srt, HasSubstr("1\n00:00:00,000 --> 00:00:07,900\n"));
  EXPECT_THAT(srt, HasSubstr("2\n00:00:07,900 --> 00:00:11,800\n"));
}

TEST(CaptionWritersTest, FinalOfAtMost84CharactersIsOneCueEvenIfALineMustExceed42) {
  // 83 characters whose only two-line layouts are 39 + 43 or 43 + 39.
  const std::string text = ThirtyWords().substr(0, 83);
  EXPECT_EQ(
      Srt({MakeFinal(1, text, 0.0, 8.3)}),
      "1\n00:00:00,000 --> 00:00:08,300\n"
      "w00 w01 w02 w03 w04 w05 w06 w07 w08 w09\nw10 w11 w12 w13 w14 w15 w16 w17 w18 w19 w20\n");
}

TEST(CaptionWritersTest, SplitCuesHoldAtMost84CharactersOnTwoLinesOf42) {
  // Greedy lines of 42 + 42 characters would make an 85-character cue; the last word waits.
  const std::string a(20, 'a'), b(21, 'b'), c(20, 'c'), d(21, 'd');
  const std::string text = a + " " + b + " " + c + " " + d + " e";
  const std::vector<ParsedCue> cues =
      ParseCues(Srt({MakeFinal(1, text, 0.0, 1.0)}), CaptionFormat::kSrt);
  ASSERT_EQ(cues.size(), 2u);
  EXPECT_EQ(CueText({cues[0]}, CaptionFormat::kSrt), a + " " + b + " " + c);
  EXPECT_EQ(CueText({cues[1]}, CaptionFormat::kSrt), d + " e");
  for (const ParsedCue& cue : cues) {
    for (const std::string& line : cue.lines) EXPECT_LE(line.size(), 42u) << line;
  }
}

TEST(CaptionWritersTest, ShortFinalIsOneCueOverItsOwnTimesWhateverItsWords) {
  EXPECT_EQ(
      Srt({MakeFinal(1, "hi there", 2.0, 3.0, {{"hi", 2.5, 2.6, 1}, {"there", 2.7, 2.8, 1}})}),
      "1\n00:00:02,000 --> 00:00:03,000\nhi there\n");
}

TEST(CaptionWritersTest, OverlappingFinalStartsWhenThePreviousEnds) {
  EXPECT_EQ(Srt({MakeFinal(1, "one", 1.0, 3.0), MakeFinal(2, "two", 2.0, 4.0)}),
            "1\n00:00:01,000 --> 00:00:03,000\none\n\n2\n00:00:03,000 --> 00:00:04,000\ntwo\n");
}

TEST(CaptionWritersTest, ZeroLengthFinalLastsOneMillisecond) {
  EXPECT_EQ(Srt({MakeFinal(1, "blip", 2.0, 2.0)}), "1\n00:00:02,000 --> 00:00:02,001\nblip\n");
  EXPECT_EQ(Srt({MakeFinal(1, "back", 3.0, 2.0)}), "1\n00:00:03,000 --> 00:00:03,001\nback\n");
}

TEST(CaptionWritersTest, ClampsToTheAudio) {
  EXPECT_EQ(Srt({MakeFinal(1, "early", -1.0, 1.0), MakeFinal(2, "late", 4.0, 6.0)}, 5.0),
            "1\n00:00:00,000 --> 00:00:01,000\nearly\n\n2\n00:00:04,000 --> 00:00:05,000\nlate\n");
}

TEST(CaptionWritersTest, FinalAfterTheAudioEndShiftsBackIntoIt) {
  EXPECT_EQ(Srt({MakeFinal(1, "late", 6.0, 7.0)}, 5.0), "1\n00:00:04,999 --> 00:00:05,000\nlate\n");
}

TEST(CaptionWritersTest, TextWithNoRoomBeforeTheAudioEndJoinsThePreviousCue) {
  EXPECT_EQ(Srt({MakeFinal(1, "last words", 4.0, 5.5), MakeFinal(2, "and more", 6.0, 7.0)}, 5.0),
            "1\n00:00:04,000 --> 00:00:05,000\nlast words and more\n");
}

TEST(CaptionWritersTest, MillisecondRoundingMakesNoOverlapOrEmptyCue) {
  EXPECT_EQ(Srt({MakeFinal(1, "one", 0.0, 1.0006), MakeFinal(2, "two", 1.0004, 1.0008)}),
            "1\n00:00:00,000 --> 00:00:01,001\none\n\n2\n00:00:01,001 --> 00:00:01,002\ntwo\n");
}

TEST(CaptionWritersTest, TimestampsCountHoursPastADay) {
  EXPECT_EQ(Srt({MakeFinal(1, "late", 90061.5, 360000.25)}),
            "1\n25:01:01,500 --> 100:00:00,250\nlate\n");
}

TEST(CaptionWritersTest, WrapsLongCueIntoTwoBalancedLines) {
  const std::string text = "one two three four five six seven eight nine ten eleven twelve";
  EXPECT_EQ(Srt({MakeFinal(1, text, 0, 1)}),
            "1\n00:00:00,000 --> 00:00:01,000\none two three four five six seven\n"
            "eight nine ten eleven twelve\n");
}

TEST(CaptionWritersTest, CountsCharactersNotBytes) {
  // 40 two-byte characters: 80 bytes, yet one line.
  std::string text;
  for (int i = 0; i < 20; ++i) text += "éé";
  EXPECT_EQ(Srt({MakeFinal(1, text, 0, 1)}), "1\n00:00:00,000 --> 00:00:01,000\n" + text + "\n");
}

TEST(CaptionWritersTest, VttEscapesMarkupAndSrtKeepsItVerbatim) {
  const std::vector<asr::Final> finals = {MakeFinal(1, "a <b> & c --> d", 0, 1)};
  EXPECT_EQ(RenderCaptions(CaptionFormat::kVtt, finals, {}),
            "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\na &lt;b&gt; &amp; c --&gt; d\n");
  EXPECT_THAT(Srt(finals), HasSubstr("\na <b> & c --> d\n"));
}

TEST(CaptionWritersTest, WhitespaceRunsBecomeOneSpaceOutsideJson) {
  const std::vector<asr::Final> finals = {MakeFinal(1, "  hello\n\n\tworld  ", 0, 1),
                                          MakeFinal(2, " \n ", 1, 2)};
  EXPECT_EQ(Srt(finals), "1\n00:00:00,000 --> 00:00:01,000\nhello world\n");
  EXPECT_EQ(RenderCaptions(CaptionFormat::kTxt, finals, {}), "hello world\n");
  const auto json = nlohmann::json::parse(RenderCaptions(CaptionFormat::kJson, finals, {}));
  EXPECT_EQ(json["finals"][0]["text"], "  hello\n\n\tworld  ");
  EXPECT_EQ(json["finals"][1]["text"], " \n ");
}

TEST(CaptionWritersTest, NoFinalsMakeEmptyDocuments) {
  EXPECT_EQ(RenderCaptions(CaptionFormat::kVtt, {}, {}), "WEBVTT\n");
  EXPECT_EQ(RenderCaptions(CaptionFormat::kSrt, {}, {}), "");
  EXPECT_EQ(RenderCaptions(CaptionFormat::kTxt, {}, {}), "");
  const auto json = nlohmann::json::parse(RenderCaptions(CaptionFormat::kJson, {}, {}));
  EXPECT_EQ(json["metadata"]["finals"], 0);
  EXPECT_EQ(json["finals"], nlohmann::json::array());
}

TEST(CaptionWritersTest, JsonReplacesInvalidUtf8InsteadOfFailing) {
  const std::string rendered =
      RenderCaptions(CaptionFormat::kJson, {MakeFinal(1, "bad \xff byte", 0, 1)}, {});
  EXPECT_EQ(nlohmann::json::parse(rendered)["finals"][0]["text"], "bad \xEF\xBF\xBD byte");
}

// ---- Format names ----------------------------------------------------------------------------

struct NameCase {
  const char* input;
  bool ok;
  CaptionFormat format;
};

void PrintTo(const NameCase& c, std::ostream* os) { *os << '"' << c.input << '"'; }

class CaptionFormatFromNameTest : public ::testing::TestWithParam<NameCase> {};

TEST_P(CaptionFormatFromNameTest, Parses) {
  const Result<CaptionFormat> result = CaptionFormatFromName(GetParam().input);
  ASSERT_EQ(result.ok(), GetParam().ok) << result.status().ToString();
  if (result.ok()) {
    EXPECT_EQ(result.value(), GetParam().format);
  } else {
    EXPECT_EQ(result.status().code(), Status::Code::kInvalidArgument);
    EXPECT_THAT(result.status().message(), HasSubstr(std::string("\"") + GetParam().input + "\""));
    EXPECT_THAT(result.status().message(), HasSubstr("vtt, srt, txt or json"));
  }
}

INSTANTIATE_TEST_SUITE_P(Table, CaptionFormatFromNameTest,
                         ::testing::Values(NameCase{"vtt", true, CaptionFormat::kVtt},
                                           NameCase{"srt", true, CaptionFormat::kSrt},
                                           NameCase{"txt", true, CaptionFormat::kTxt},
                                           NameCase{"json", true, CaptionFormat::kJson},
                                           NameCase{"VTT", true, CaptionFormat::kVtt},
                                           NameCase{"Json", true, CaptionFormat::kJson},
                                           NameCase{"", false, {}}, NameCase{"webvtt", false, {}},
                                           NameCase{".srt", false, {}},
                                           NameCase{"txt ", false, {}}));

struct PathCase {
  const char* path;
  bool ok;
  CaptionFormat format;
  const char* error;  // a part of the error message
};

void PrintTo(const PathCase& c, std::ostream* os) { *os << '"' << c.path << '"'; }

class CaptionFormatFromPathTest : public ::testing::TestWithParam<PathCase> {};

TEST_P(CaptionFormatFromPathTest, Parses) {
  const Result<CaptionFormat> result = CaptionFormatFromPath(GetParam().path);
  ASSERT_EQ(result.ok(), GetParam().ok) << result.status().ToString();
  if (result.ok()) {
    EXPECT_EQ(result.value(), GetParam().format);
  } else {
    EXPECT_EQ(result.status().code(), Status::Code::kInvalidArgument);
    EXPECT_THAT(result.status().message(), HasSubstr(GetParam().path));
    EXPECT_THAT(result.status().message(), HasSubstr(GetParam().error));
    EXPECT_THAT(result.status().message(), HasSubstr(".vtt, .srt, .txt or .json"));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, CaptionFormatFromPathTest,
    ::testing::Values(PathCase{"out.vtt", true, CaptionFormat::kVtt, ""},
                      PathCase{"/tmp/talk.srt", true, CaptionFormat::kSrt, ""},
                      PathCase{"notes.TXT", true, CaptionFormat::kTxt, ""},
                      PathCase{"dir.d/final.v2.json", true, CaptionFormat::kJson, ""},
                      PathCase{"captions", false, {}, "has no file extension"},
                      PathCase{"dir.vtt/captions", false, {}, "has no file extension"},
                      PathCase{".vtt", false, {}, "has no file extension"},
                      PathCase{"talk.mp3", false, {}, "unknown caption extension \".mp3\""},
                      PathCase{"talk.", false, {}, "unknown caption extension \".\""}));

TEST(CaptionFormatTest, NameRoundTrips) {
  for (CaptionFormat format :
       {CaptionFormat::kVtt, CaptionFormat::kSrt, CaptionFormat::kTxt, CaptionFormat::kJson}) {
    const Result<CaptionFormat> parsed = CaptionFormatFromName(CaptionFormatName(format));
    ASSERT_TRUE(parsed.ok()) << CaptionFormatName(format);
    EXPECT_EQ(parsed.value(), format);
  }
}

// ---- ffmpeg reads what we write --------------------------------------------------------------

class TempDir {
 public:
  TempDir() {
    std::string name = (std::filesystem::temp_directory_path() / "lx-captions-XXXXXX").string();
    if (::mkdtemp(name.data()) != nullptr) path_ = name;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(CaptionFfmpegTest, FfmpegReadsOurVttAndSrtAsTheSameCues) {
  constexpr char kFfmpeg[] = "/usr/bin/ffmpeg";
  if (!std::filesystem::exists(kFfmpeg)) GTEST_SKIP() << kFfmpeg << " is not installed";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  for (const GoldenCase& c : {GoldenCase{CaptionFormat::kVtt, "captions.vtt"},
                              GoldenCase{CaptionFormat::kSrt, "captions.srt"}}) {
    SCOPED_TRACE(c.file);
    const std::string rendered = RenderCaptions(c.format, GoldenFinals(), GoldenInfo());
    const std::string input = dir.path() + "/" + c.file;
    const std::string out = dir.path() + "/out.srt", err = dir.path() + "/stderr.txt";
    ASSERT_TRUE(WriteFileAtomically(input, rendered).ok());
    std::ostringstream command;
    command << kFfmpeg << " -nostdin -v error -i '" << input << "' -f srt - >'" << out << "' 2>'"
            << err << "'";
    EXPECT_EQ(std::system(command.str().c_str()), 0)  // NOLINT(concurrency-mt-unsafe)
        << command.str();
    EXPECT_EQ(ReadFile(err), "");
    const std::vector<ParsedCue> ours = ParseCues(rendered, c.format);
    const std::vector<ParsedCue> theirs = ParseCues(ReadFile(out), CaptionFormat::kSrt);
    ASSERT_EQ(theirs.size(), ours.size());
    for (size_t i = 0; i < ours.size(); ++i) {
      EXPECT_EQ(theirs[i].start_ms, ours[i].start_ms) << "cue " << i;
      EXPECT_EQ(theirs[i].end_ms, ours[i].end_ms) << "cue " << i;
    }
    EXPECT_EQ(CueText(theirs, CaptionFormat::kSrt), CueText(ours, c.format));
  }
}

// ---- Translations ------------------------------------------------------------------------------

events::TranslationFinal Translation(uint64_t segment_id, std::string text) {
  return events::TranslationFinal{.segment_id = segment_id,
                                  .src_text = "",
                                  .text = std::move(text),
                                  .src_lang = "eng",
                                  .tgt_lang = "spa",
                                  .provider = "fake",
                                  .latency_ms = 0};
}

TEST(BilingualVttTest, EachCueHoldsTheSourceLineThenItsTranslation) {
  const std::vector<asr::Final> finals = {MakeFinal(1, "hello world", 0.5, 1.25),
                                          MakeFinal(2, "", 1.5, 1.75),  // no words: no cue
                                          MakeFinal(3, "good  bye <now>", 2.0, 3.0)};
  // Out of order, and segment 3 translated twice: the last one counts.
  const std::vector<events::TranslationFinal> translations = {
      Translation(3, "adiós"), Translation(1, "hola mundo"), Translation(3, "adiós <ya>")};
  EXPECT_EQ(RenderBilingualVtt(finals, translations, TranscriptInfo{}),
            "WEBVTT\n"
            "\n"
            "00:00:00.500 --> 00:00:01.250\n"
            "hello world\n"
            "hola mundo\n"
            "\n"
            "00:00:02.000 --> 00:00:03.000\n"
            "good bye &lt;now&gt;\n"
            "adiós &lt;ya&gt;\n");
}

TEST(BilingualVttTest, AFinalWithoutTranslationKeepsItsSourceLineAlone) {
  const std::vector<asr::Final> finals = {MakeFinal(1, "hello", 0, 1), MakeFinal(2, "bye", 1, 2)};
  EXPECT_EQ(RenderBilingualVtt(finals, {Translation(2, "adiós")}, TranscriptInfo{}),
            "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nhello\n"
            "\n00:00:01.000 --> 00:00:02.000\nbye\nadiós\n");
}

TEST(BilingualVttTest, AFinalWithNoRoomBeforeTheAudioEndJoinsThePreviousCueOnBothLines) {
  TranscriptInfo info;
  info.audio_seconds = 2.0;
  const std::vector<asr::Final> finals = {MakeFinal(1, "one", 1.0, 2.0),
                                          MakeFinal(2, "two", 2.5, 3.0)};
  EXPECT_EQ(RenderBilingualVtt(finals, {Translation(1, "uno"), Translation(2, "dos")}, info),
            "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\none two\nuno dos\n");
}

TEST(TranslatedFinalsTest, ReplaceTextsKeepTimesAndLeaveOutUntranslatedFinals) {
  const std::vector<asr::Final> finals = {
      MakeFinal(1, "hello world", 0.5, 1.5, WordsEvery300Ms("hello world", 500)),
      MakeFinal(2, "lost", 2.0, 2.5), MakeFinal(3, "good bye", 3.0, 4.0)};
  const std::vector<asr::Final> translated =
      TranslatedFinals(finals, {Translation(1, "hola mundo"), Translation(3, "adiós")});
  ASSERT_EQ(translated.size(), 2u);
  EXPECT_EQ(translated[0].segment_id, 1u);
  EXPECT_EQ(translated[0].text, "hola mundo");
  EXPECT_TRUE(translated[0].words.empty()) << "the source's words do not time the translation";
  EXPECT_DOUBLE_EQ(translated[0].t0_s, 0.5);
  EXPECT_DOUBLE_EQ(translated[1].t1_s, 4.0);
  EXPECT_EQ(RenderCaptions(CaptionFormat::kTxt, translated, TranscriptInfo{}),
            "hola mundo\nadiós\n");
  EXPECT_EQ(RenderCaptions(CaptionFormat::kSrt, translated, TranscriptInfo{}),
            "1\n00:00:00,500 --> 00:00:01,500\nhola mundo\n\n"
            "2\n00:00:03,000 --> 00:00:04,000\nadiós\n");
}

}  // namespace
}  // namespace lx::store
