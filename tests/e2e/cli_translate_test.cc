// `loquilex translate` end to end: the real binary and the real Apertium on small caption files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/run_command.h"

namespace lx {
namespace {

namespace fs = std::filesystem;
using ::lx::testing::Binary;
using ::lx::testing::CommandResult;
using ::lx::testing::ReadFile;
using ::lx::testing::RunCommand;
using ::testing::HasSubstr;

class TranslateCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("lx_e2e_translate_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  CommandResult Translate(const std::string& args) {
    return RunCommand(Binary() + " translate " + args);
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  std::string Write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ / name, std::ios::binary) << content;
    return Path(name);
  }

  fs::path dir_;
};

constexpr char kVtt[] =
    "WEBVTT\n\n"
    "NOTE from a talk\n\n"
    "00:00:01.250 --> 00:00:02.500\n"
    "Hello world.\n\n"
    "second\n"
    "00:01:03.000 --> 00:01:04.750 align:start\n"
    "I have two\nbrothers.\n";

TEST_F(TranslateCliTest, TranslatesAVttKeepingEveryCuesTiming) {
  const auto result = Translate(Write("talk.vtt", kVtt) + " --to spa -o " + Path("talk.es.vtt"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(ReadFile(Path("talk.es.vtt")),
            "WEBVTT\n\n"
            "00:00:01.250 --> 00:00:02.500\nHola Mundo.\n\n"
            "00:01:03.000 --> 00:01:04.750\nTengo dos hermanos.\n");
  EXPECT_EQ(result.out, "");
}

TEST_F(TranslateCliTest, TranslatesAnSrtToStdoutInItsOwnFormat) {
  const std::string srt = Write("talk.srt",
                                "1\r\n00:00:01,000 --> 00:00:02,000\r\nGood morning.\r\n\r\n"
                                "2\r\n00:00:02,500 --> 00:00:03,000\r\nHello world.\r\n");
  const auto result = Translate(srt + " --from en --to ca");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out,
            "1\n00:00:01,000 --> 00:00:02,000\nBon dia.\n\n"
            "2\n00:00:02,500 --> 00:00:03,000\nHola món.\n");
}

TEST_F(TranslateCliTest, WritesTheFormatTheOutputNames) {
  const auto result = Translate(Write("talk.vtt", kVtt) + " --to gl -o " + Path("talk.gl.txt"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(ReadFile(Path("talk.gl.txt")), "Ola Mundo.\nTeño dous irmáns.\n");
  const auto srt = Translate(Path("talk.vtt") + " --to spa --format srt -o -");
  ASSERT_EQ(srt.exit_code, 0) << srt.err;
  EXPECT_THAT(srt.out, HasSubstr("2\n00:01:03,000 --> 00:01:04,750\nTengo dos hermanos.\n"));
}

TEST_F(TranslateCliTest, TranslatesPlainTextFromStdinLineByLine) {
  const auto result = Translate("- --input-format txt --to spa < " +
                                Write("in.txt", "Hello world.\n\nGood morning.\n"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "Hola Mundo.\nBuenos días.\n");
}

TEST_F(TranslateCliTest, AnUninstalledPairIsAUsageErrorListingTheInstalledTargets) {
  const auto result = Translate(Write("talk.vtt", kVtt) + " --to deu -o " + Path("out.vtt"));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("eng-deu"));
  EXPECT_THAT(result.err, HasSubstr("spa"));
  EXPECT_FALSE(fs::exists(Path("out.vtt")));
}

TEST_F(TranslateCliTest, MalformedInputExitsThreeNamingTheLine) {
  const std::string bad = Write(
      "bad.vtt", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nfine\n\n00:00:03 --> 00:00:04.000\nx\n");
  const auto result = Translate(bad + " --to spa -o " + Path("out.vtt"));
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_THAT(result.err, HasSubstr("bad.vtt:6: malformed timestamp \"00:00:03\""));
  EXPECT_FALSE(fs::exists(Path("out.vtt")));
}

TEST_F(TranslateCliTest, UnreadableInputAndBadFormatsAreClearErrors) {
  const auto missing = Translate(Path("missing.vtt") + " --to spa");
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_THAT(missing.err, HasSubstr("missing.vtt"));
  const auto no_times = Translate(Write("in.txt", "Hello.\n") + " --to spa -o " + Path("o.vtt"));
  EXPECT_EQ(no_times.exit_code, 2);
  EXPECT_THAT(no_times.err, HasSubstr("no cue times"));
  const auto unknown_ext = Translate(Write("in.doc", "x") + " --to spa");
  EXPECT_EQ(unknown_ext.exit_code, 2);
  EXPECT_THAT(unknown_ext.err, HasSubstr("--input-format"));
  const auto no_target = Translate(Path("in.txt"));
  EXPECT_EQ(no_target.exit_code, 2);
  EXPECT_THAT(no_target.err, HasSubstr("--to"));
}

TEST_F(TranslateCliTest, ListsTheInstalledPairsAndHelps) {
  const auto pairs = Translate("--list-pairs");
  ASSERT_EQ(pairs.exit_code, 0) << pairs.err;
  EXPECT_THAT(pairs.out, HasSubstr("eng-spa (Apertium eng-spa)\n"));
  EXPECT_THAT(pairs.out, HasSubstr("eng-glg (Apertium en-gl)\n"));
  const auto help = Translate("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("--to"));
  EXPECT_THAT(help.out, HasSubstr("loquilex translate captions.vtt --to spa -o captions.es.vtt"));
}

}  // namespace
}  // namespace lx
