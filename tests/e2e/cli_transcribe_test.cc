// `loquilex transcribe` end to end: the real binary on real recorded speech.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "support/run_command.h"
#include "support/word_error_rate.h"

namespace lx {
namespace {

namespace fs = std::filesystem;
using ::lx::testing::Binary;
using ::lx::testing::CommandResult;
using ::lx::testing::ReadFile;
using ::lx::testing::RunCommand;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const std::string kClip =
    "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav";

class TranscribeCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        fs::temp_directory_path() /
        ("lx_e2e_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  CommandResult Transcribe(const std::string& args) {
    return RunCommand(Binary() + " transcribe " + args);
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  // Files in the test's folder, so a test can prove that nothing was left behind.
  std::vector<std::string> Listing() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  fs::path dir_;
};

// The reference transcript of kClip by this engine.
constexpr char kClipText[] = "he was not an illness closed young man";

TEST_F(TranscribeCliTest, WritesVttNamedByTheExtension) {
  const auto result = Transcribe(kClip + " -o " + Path("talk.vtt"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string vtt = ReadFile(Path("talk.vtt"));
  EXPECT_THAT(vtt, StartsWith("WEBVTT\n\n00:00:0"));
  EXPECT_THAT(vtt, HasSubstr("he was not an illness"));
  EXPECT_EQ(Listing(), std::vector<std::string>{"talk.vtt"});
}

TEST_F(TranscribeCliTest, EveryFormatByExtensionAndByFlag) {
  ASSERT_EQ(Transcribe(kClip + " -o " + Path("a.srt")).exit_code, 0);
  EXPECT_THAT(ReadFile(Path("a.srt")), StartsWith("1\n00:00:0"));
  ASSERT_EQ(Transcribe(kClip + " -o " + Path("a.txt")).exit_code, 0);
  EXPECT_EQ(ReadFile(Path("a.txt")), std::string(kClipText) + "\n");
  const auto json_run = Transcribe(kClip + " --format json -");
  ASSERT_EQ(json_run.exit_code, 0) << json_run.err;
  const auto json = nlohmann::json::parse(json_run.out);
  EXPECT_EQ(json["metadata"]["engine"], "pocketsphinx");
  EXPECT_NEAR(json["metadata"]["audio_duration"].get<double>(), 2.99, 0.01);
  EXPECT_GT(json["metadata"]["real_time_factor"].get<double>(), 0);
  ASSERT_EQ(json["finals"].size(), 1u);
  EXPECT_EQ(json["finals"][0]["text"], kClipText);
  EXPECT_EQ(json["finals"][0]["words"].size(), 8u);
  EXPECT_EQ(json["finals"][0]["eou_reason"], "silence");
  // --format wins over the extension.
  ASSERT_EQ(Transcribe(kClip + " --format txt -o " + Path("b.vtt")).exit_code, 0);
  EXPECT_EQ(ReadFile(Path("b.vtt")), std::string(kClipText) + "\n");
}

TEST_F(TranscribeCliTest, RawPcmFromStdinGivesTheSameText) {
  const auto result = RunCommand("tail -c +45 " + kClip + " | " + Binary() +
                                 " transcribe - --raw-rate 16000 --format txt");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, std::string(kClipText) + "\n");
  const auto wav = RunCommand("cat " + kClip + " | " + Binary() + " transcribe - --format txt");
  ASSERT_EQ(wav.exit_code, 0) << wav.err;
  EXPECT_EQ(wav.out, std::string(kClipText) + "\n");
}

TEST_F(TranscribeCliTest, OtherEncodingsRatesAndChannelsDecodeToo) {
  struct Case {
    const char* name;
    const char* sox_args;
    double max_wer;  // lossless conversions must give the very same words
  };
  for (const Case& c : {Case{"s24.wav", "-b 24", 0}, Case{"f32.wav", "-e floating-point -b 32", 0},
                        Case{"stereo.wav", "-c 2", 0}, Case{"flac.flac", "", 0},
                        Case{"rate44k.wav", "-r 44100", 0.3}, Case{"u8.wav", "-b 8", 0.5}}) {
    const std::string converted = Path(c.name);
    ASSERT_EQ(RunCommand("sox " + kClip + " " + c.sox_args + " " + converted).exit_code, 0);
    const auto result = Transcribe(converted + " --format txt -");
    ASSERT_EQ(result.exit_code, 0) << c.name << ": " << result.err;
    const auto errors =
        lx::testing::WordErrors(lx::testing::Words(kClipText), lx::testing::Words(result.out));
    EXPECT_LE(errors / 8.0, c.max_wer) << c.name << " gave: " << result.out;
  }
}

TEST_F(TranscribeCliTest, BadInputsExitThreeNamingTheFileAndLeaveNothing) {
  std::ofstream(Path("empty.wav")).close();
  std::ofstream(Path("text.wav")) << "this is not audio at all, just some text\n";
  {
    const std::string header = ReadFile(kClip).substr(0, 20);
    std::ofstream(Path("truncated.wav"), std::ios::binary) << header;
  }
  struct Case {
    std::string input;
    std::string reason;
  };
  for (const Case& c :
       {Case{Path("empty.wav"), "empty"}, Case{Path("text.wav"), "not an audio"},
        Case{Path("truncated.wav"), ""}, Case{Path("missing.wav"), "no such file"}}) {
    const auto result = Transcribe(c.input + " -o " + Path("out.vtt"));
    EXPECT_EQ(result.exit_code, 3) << c.input << ": " << result.err;
    EXPECT_THAT(result.err, HasSubstr(c.input)) << "the message names the file";
    EXPECT_THAT(result.err, HasSubstr(c.reason));
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
    EXPECT_FALSE(fs::exists(Path("out.vtt")));
  }
  const auto empty_stdin = RunCommand(Binary() + " transcribe - --raw-rate 16000 </dev/null");
  EXPECT_EQ(empty_stdin.exit_code, 3);
  EXPECT_THAT(empty_stdin.err, HasSubstr("stdin"));
  for (const auto& name : Listing()) EXPECT_THAT(name, ::testing::Not(HasSubstr("tmp"))) << name;
}

TEST_F(TranscribeCliTest, MissingModelExitsFourNamingWhatIsMissing) {
  const auto env = RunCommand("LX_ASR_MODEL_DIR=" + Path("nomodel") + " " + Binary() +
                              " transcribe " + kClip + " -o " + Path("out.vtt"));
  EXPECT_EQ(env.exit_code, 4);
  EXPECT_THAT(env.err, HasSubstr(Path("nomodel")));
  EXPECT_FALSE(fs::exists(Path("out.vtt")));
  // The flag wins over the environment.
  const auto flag =
      RunCommand("LX_ASR_MODEL_DIR=" + Path("nomodel") + " " + Binary() + " transcribe " + kClip +
                 " --model-dir /usr/share/pocketsphinx/model/en-us --format txt -");
  EXPECT_EQ(flag.exit_code, 0) << flag.err;
  fs::create_directories(Path("badmodel/am"));
  for (const char* name :
       {"badmodel/am/mdef", "badmodel/am/means", "badmodel/x.dict", "badmodel/x.lm.bin"}) {
    std::ofstream(Path(name)) << "garbage\n";
  }
  const auto damaged = Transcribe(kClip + " --model-dir " + Path("badmodel") + " --format txt -");
  EXPECT_EQ(damaged.exit_code, 4);
  EXPECT_THAT(damaged.err, HasSubstr("cannot load the model in " + Path("badmodel")));
}

TEST_F(TranscribeCliTest, UsageErrorsExitTwo) {
  for (const std::string& args :
       {std::string(""), kClip + " --format doc -", kClip + " --silence-ms 0 -",
        kClip + " -o " + Path("out.unknown"), kClip + " -o " + Path("nodir/out.vtt"),
        kClip + " --raw-format s8 -", std::string("--no-such-flag")}) {
    const auto result = Transcribe(args);
    EXPECT_EQ(result.exit_code, 2) << args << ": " << result.err;
    EXPECT_FALSE(result.err.empty()) << args;
  }
  const auto unknown_command = RunCommand(Binary() + " frobnicate");
  EXPECT_EQ(unknown_command.exit_code, 2);
}

TEST_F(TranscribeCliTest, HelpDocumentsFlagsAndEnvironment) {
  const auto result = Transcribe("--help");
  EXPECT_EQ(result.exit_code, 0);
  for (const char* text : {"--raw-rate", "--format", "--model-dir", "LX_ASR_MODEL_DIR",
                           "--silence-ms", "--progress", "--quiet"}) {
    EXPECT_THAT(result.out, HasSubstr(text));
  }
  const auto top = RunCommand(Binary() + " --help");
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_THAT(top.out, HasSubstr("transcribe"));
  EXPECT_THAT(top.out, HasSubstr("Exit codes"));
}

TEST_F(TranscribeCliTest, ProgressShowsSpeedWhenForcedAndNothingWhenQuiet) {
  const auto forced = Transcribe(kClip + " --progress --format txt -");
  ASSERT_EQ(forced.exit_code, 0);
  EXPECT_THAT(forced.err, HasSubstr("100%"));
  EXPECT_THAT(forced.err, HasSubstr("x real time"));
  EXPECT_EQ(forced.out, std::string(kClipText) + "\n");
  const auto quiet = Transcribe(kClip + " --quiet --format txt -");
  EXPECT_TRUE(quiet.err.empty()) << quiet.err;
  // stderr is not a terminal here, so there is no progress display by default.
  EXPECT_TRUE(Transcribe(kClip + " --format txt -").err.empty());
}

}  // namespace
}  // namespace lx
