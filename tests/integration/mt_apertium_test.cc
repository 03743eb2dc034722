// The Apertium provider against the real, installed Apertium (eng-spa, eng-cat, en-gl), and its
// supervisor against small fake pipelines written into a temporary modes folder.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "mt/apertium_provider.h"
#include "mt/apertium_stream.h"

namespace lx::mt {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

std::unique_ptr<ApertiumProvider> RealApertium(size_t cache_entries = 4096) {
  ApertiumOptions options;
  options.cache_entries = cache_entries;
  auto provider = OpenApertiumProvider(options);
  EXPECT_TRUE(provider.ok()) << provider.status().ToString();
  return std::move(provider.value());
}

std::shared_ptr<Translator> OpenPair(ApertiumProvider& provider, std::string_view source,
                                     std::string_view target) {
  auto translator = provider.Open(source, target);
  EXPECT_TRUE(translator.ok()) << translator.status().ToString();
  return translator.ok() ? translator.value() : nullptr;
}

std::string Translated(Translator& translator, std::string_view text) {
  auto result = translator.Translate(text);
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  return result.ok() ? result.value() : "<error>";
}

ApertiumPipelineStats PipelineStats(const ApertiumProvider& provider, const std::string& name) {
  for (const auto& pipeline : provider.Stats().pipelines) {
    if (pipeline.pair.Name() == name) return pipeline;
  }
  ADD_FAILURE() << "no pipeline for " << name;
  return {};
}

size_t OpenFds() {
  return static_cast<size_t>(std::distance(fs::directory_iterator("/proc/self/fd"), {}));
}

// No child of this process is left, running or unreaped.
bool NoChildrenLeft() { return ::waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD; }

std::vector<std::string> PairNames(const std::vector<LanguagePair>& pairs) {
  std::vector<std::string> names;
  for (const auto& pair : pairs) names.push_back(pair.Name() + "=" + pair.engine_name);
  return names;
}

TEST(ApertiumDiscoveryTest, FindsTheInstalledPairsByTheirIsoCodes) {
  auto provider = RealApertium();
  const auto names = PairNames(provider->Pairs());
  EXPECT_THAT(names, Contains("eng-spa=eng-spa"));
  EXPECT_THAT(names, Contains("eng-cat=eng-cat"));
  EXPECT_THAT(names, Contains("eng-glg=en-gl"));
  EXPECT_THAT(names, Contains("glg-eng=gl-en"));
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  for (const auto& name : names) EXPECT_THAT(name, Not(HasSubstr("_"))) << "variants are not pairs";
  EXPECT_EQ(provider->name(), "apertium");
}

TEST(ApertiumDiscoveryTest, OpensAPairByTwoOrThreeLetterCodesAlike) {
  auto provider = RealApertium();
  auto short_codes = OpenPair(*provider, "en", "gl");
  auto long_codes = OpenPair(*provider, "ENG", "glg");
  ASSERT_NE(short_codes, nullptr);
  EXPECT_EQ(short_codes, long_codes) << "one shared translator per pair";
  EXPECT_EQ(short_codes->pair().engine_name, "en-gl");
  EXPECT_EQ(provider->Stats().pipelines.size(), 1U);
}

TEST(ApertiumDiscoveryTest, AnUninstalledTargetIsNotFoundAndNamesTheInstalledOnes) {
  auto provider = RealApertium();
  auto translator = provider->Open("eng", "deu");
  ASSERT_FALSE(translator.ok());
  EXPECT_EQ(translator.status().code(), Status::Code::kNotFound);
  EXPECT_THAT(translator.status().message(),
              AllOf(HasSubstr("eng-deu"), HasSubstr("cat"), HasSubstr("glg"), HasSubstr("spa")));
  auto unknown_source = provider->Open("xx", "spa");
  ASSERT_FALSE(unknown_source.ok());
  EXPECT_THAT(unknown_source.status().message(), HasSubstr("eng-spa"));
}

TEST(ApertiumDiscoveryTest, AnUnreadableModesFolderIsNotFound) {
  ApertiumOptions options;
  options.modes_dir = "/nonexistent/apertium/modes";
  auto provider = CreateApertiumProvider(options);
  ASSERT_FALSE(provider.ok());
  EXPECT_EQ(provider.status().code(), Status::Code::kNotFound);
  options.timeout_ms = 0;
  EXPECT_EQ(CreateApertiumProvider(options).status().code(), Status::Code::kInvalidArgument);
}

struct KnownTranslation {
  std::string source;
  std::string target;
  std::string text;
  std::string expected;
};

TEST(ApertiumTranslateTest, KnownSentencesTranslateAsApertiumDoes) {
  // Expectations from `echo TEXT | apertium -u PAIR`.
  const std::vector<KnownTranslation> table = {
      {"eng", "spa", "Hello world.", "Hola Mundo."},
      {"eng", "spa", "I have two brothers.", "Tengo dos hermanos."},
      {"eng", "spa", "Where is the library?", "Dónde es la biblioteca?"},
      {"eng", "spa", "Hello world", "Hola Mundo"},
      {"eng", "cat", "Good morning.", "Bon dia."},
      {"en", "gl", "Good morning.", "Bo día."},
      {"spa", "eng", "El gato duerme.", "The cat sleeps."},
  };
  auto provider = RealApertium();
  for (const auto& row : table) {
    auto translator = OpenPair(*provider, row.source, row.target);
    ASSERT_NE(translator, nullptr);
    EXPECT_EQ(Translated(*translator, row.text), row.expected) << row.text;
  }
}

TEST(ApertiumTranslateTest, UnknownWordsComeBackUnmarked) {
  auto provider = RealApertium();
  auto translator = OpenPair(*provider, "eng", "spa");
  ASSERT_NE(translator, nullptr);
  EXPECT_EQ(Translated(*translator, "The xyzzyq is blorfing."), "El xyzzyq es blorfing.");
}

TEST(ApertiumTranslateTest, EmptyAndBlankTextGiveEmptyTextWithoutThePipeline) {
  auto provider = RealApertium(0);
  auto translator = OpenPair(*provider, "eng", "spa");
  ASSERT_NE(translator, nullptr);
  EXPECT_EQ(Translated(*translator, ""), "");
  EXPECT_EQ(Translated(*translator, " \n\t \r "), "");
  EXPECT_EQ(PipelineStats(*provider, "eng-spa").requests, 1U) << "only the warm-up";
}

TEST(ApertiumTranslateTest, HostileTextNeverCorruptsTheNextSentence) {
  const std::vector<std::string> hostile = {
      "<b>bold</b> text",
      "^cat<n><sg>$ and ^dog$",
      "*star @at #hash +plus ~tilde |pipe",
      "a \\ backslash [square] {curly} /slash/",
      "control \x01\x02\x1b[31m characters\x7f",
      "bytes \xff\xfe that are not \xc3 UTF-8 \xed\xa0\x80",
      std::string("a NUL \0 inside", 14),
      "[",
      "\\",
      "]^$",
      ".[]",
  };
  auto provider = RealApertium(0);
  auto translator = OpenPair(*provider, "eng", "spa");
  ASSERT_NE(translator, nullptr);
  for (const std::string& text : hostile) {
    auto result = translator->Translate(text);
    ASSERT_TRUE(result.ok()) << text << ": " << result.status().ToString();
    EXPECT_EQ(RepairUtf8(result.value()), result.value()) << "valid UTF-8 for " << text;
    EXPECT_EQ(Translated(*translator, "Hello world."), "Hola Mundo.") << "after " << text;
  }
  EXPECT_EQ(PipelineStats(*provider, "eng-spa").starts, 1U) << "no restart was needed";
}

TEST(ApertiumTranslateTest, MarkupLikeTextIsTranslatedAsText) {
  auto provider = RealApertium(0);
  auto translator = OpenPair(*provider, "eng", "spa");
  ASSERT_NE(translator, nullptr);
  // As `apertium -u eng-spa` translates them.
  EXPECT_EQ(Translated(*translator, "<b>bold</b>"), "<b>Intrépido</b>");
  EXPECT_EQ(Translated(*translator, "^a$ [x] {y} @z"), "^Un$ [x] {y} @z");
  EXPECT_EQ(Translated(*translator, "Hello ~ world."), "Hola ~ Mundo.");
}

TEST(ApertiumTranslateTest, TenThousandWordsComeBackWhole) {
  std::string text;
  for (int i = 0; i < 2500; ++i) text += "I have two brothers. ";  // 4 words each
  auto provider = RealApertium(0);
  auto translator = OpenPair(*provider, "eng", "spa");
  ASSERT_NE(translator, nullptr);
  const std::string translation = Translated(*translator, text);
  size_t sentences = 0;
  for (size_t at = translation.find("Tengo dos hermanos."); at != std::string::npos;
       at = translation.find("Tengo dos hermanos.", at + 1)) {
    ++sentences;
  }
  EXPECT_EQ(sentences, 2500U);
  EXPECT_EQ(std::count(translation.begin(), translation.end(), ' '), 2500 * 3 - 1);
  EXPECT_EQ(Translated(*translator, "Hello world."), "Hola Mundo.");
}

TEST(ApertiumTranslateTest, ACachedTranslationNeverReachesThePipeline) {
  auto provider = RealApertium();
  auto translator = OpenPair(*provider, "eng", "spa");
  ASSERT_NE(translator, nullptr);
  EXPECT_EQ(Translated(*translator, "Good morning."), "Buenos días.");
  const ApertiumPipelineStats before = PipelineStats(*provider, "eng-spa");
  for (pid_t pid : before.pids) ::kill(pid, SIGKILL);  // a pipeline that could not answer
  EXPECT_EQ(Translated(*translator, "  Good   morning. "), "Buenos días.");
  const ApertiumStats stats = provider->Stats();
  EXPECT_EQ(stats.cache_hits, 1U);
  EXPECT_EQ(stats.cache_misses, 1U);
  EXPECT_EQ(stats.cache_size, 1U);
  EXPECT_EQ(PipelineStats(*provider, "eng-spa").requests, before.requests);
  EXPECT_EQ(PipelineStats(*provider, "eng-spa").starts, 1U);
}

TEST(ApertiumTranslateTest, ThreadsTranslatingAtOnceGetTheirOwnAnswers) {
  const std::vector<KnownTranslation> table = {
      {"eng", "spa", "Hello world.", "Hola Mundo."},
      {"eng", "spa", "I have two brothers.", "Tengo dos hermanos."},
      {"eng", "spa", "Good morning.", "Buenos días."},
      {"eng", "cat", "Good morning.", "Bon dia."},
  };
  auto provider = RealApertium(0);
  std::vector<std::string> failures(table.size());
  std::vector<std::thread> threads;
  for (size_t t = 0; t < table.size(); ++t) {
    threads.emplace_back([&, t] {
      auto translator = provider->Open(table[t].source, table[t].target);
      if (!translator.ok()) {
        failures[t] = translator.status().ToString();
        return;
      }
      for (int i = 0; i < 25; ++i) {
        auto result = translator.value()->Translate(table[t].text);
        if (!result.ok() || result.value() != table[t].expected) {
          failures[t] = result.ok() ? result.value() : result.status().ToString();
          return;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& failure : failures) EXPECT_EQ(failure, "");
  EXPECT_EQ(PipelineStats(*provider, "eng-spa").requests, 75U + 1U) << "and the warm-up";
}

TEST(ApertiumSupervisionTest, AKilledPipelineIsRestartedForTheNextTranslation) {
  auto provider = RealApertium(0);
  auto translator = OpenPair(*provider, "eng", "spa");
  ASSERT_NE(translator, nullptr);
  EXPECT_EQ(Translated(*translator, "Hello world."), "Hola Mundo.");
  for (pid_t pid : PipelineStats(*provider, "eng-spa").pids) ::kill(pid, SIGKILL);
  EXPECT_EQ(Translated(*translator, "Good morning."), "Buenos días.");
  EXPECT_EQ(PipelineStats(*provider, "eng-spa").starts, 2U);
}

TEST(ApertiumSupervisionTest, OneDeadStageInTheMiddleIsNoticedAndRepaired) {
  auto provider = RealApertium(0);
  auto translator = OpenPair(*provider, "eng", "spa");
  ASSERT_NE(translator, nullptr);
  const auto pids = PipelineStats(*provider, "eng-spa").pids;
  ASSERT_GT(pids.size(), 3U);
  ::kill(pids[pids.size() / 2], SIGKILL);
  EXPECT_EQ(Translated(*translator, "Good morning."), "Buenos días.");
  EXPECT_EQ(Translated(*translator, "Hello world."), "Hola Mundo.");
  EXPECT_EQ(PipelineStats(*provider, "eng-spa").starts, 2U);
}

TEST(ApertiumSupervisionTest, TheProviderLeavesNoProcessAndNoDescriptorBehind) {
  const size_t fds_before = OpenFds();
  {
    auto provider = RealApertium(0);
    auto translator = OpenPair(*provider, "eng", "spa");
    ASSERT_NE(translator, nullptr);
    EXPECT_EQ(Translated(*translator, "Hello world."), "Hola Mundo.");
    for (pid_t pid : PipelineStats(*provider, "eng-spa").pids) ::kill(pid, SIGKILL);
    EXPECT_EQ(Translated(*translator, "Hello world."), "Hola Mundo.");
  }
  EXPECT_TRUE(NoChildrenLeft());
  EXPECT_EQ(OpenFds(), fds_before);
}

// A modes folder with fake pipelines: they test the supervisor, not translation.
class FakeModesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("lx_fake_modes_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void WriteFile(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  // A pipeline that hangs on its first `hung_starts` starts and echoes its input afterwards.
  void WriteFlakyMode(const std::string& pair, int hung_starts) {
    const std::string counter = (dir_ / "starts").string();
    WriteFile(pair + ".script", "n=$(cat '" + counter + "' 2>/dev/null || echo 0)\n" +
                                    "echo $((n + 1)) > '" + counter + "'\n" + "if [ \"$n\" -lt " +
                                    std::to_string(hung_starts) +
                                    " ]; then exec sleep 1000; fi\nexec cat\n");
    WriteFile(pair + ".mode", "sh '" + (dir_ / (pair + ".script")).string() + "'\n");
  }
  std::unique_ptr<ApertiumProvider> Provider(int timeout_ms, bool warm_up = false) {
    ApertiumOptions options;
    options.modes_dir = dir_.string();
    options.timeout_ms = timeout_ms;
    options.cache_entries = 0;
    options.warm_up = warm_up;  // most tests decide what the pipeline sees first
    auto provider = OpenApertiumProvider(options);
    EXPECT_TRUE(provider.ok()) << provider.status().ToString();
    return std::move(provider.value());
  }

  fs::path dir_;
};

TEST_F(FakeModesTest, AnEchoingPipelineAnswersWithItsInput) {
  WriteFile("eng-fra.mode", "cat | cat\n");
  auto provider = Provider(5000);
  auto translator = OpenPair(*provider, "eng", "fra");
  ASSERT_NE(translator, nullptr);
  EXPECT_EQ(Translated(*translator, "Hello <b>world</b> ~ [x]."), "Hello <b>world</b> ~ [x].");
  EXPECT_EQ(PipelineStats(*provider, "eng-fra").pids.size(), 2U);
}

TEST_F(FakeModesTest, AHungPipelineIsUnavailableAfterARestartAndTheNextCallRecovers) {
  WriteFlakyMode("eng-fra", 2);
  auto provider = Provider(200);
  auto translator = OpenPair(*provider, "eng", "fra");
  ASSERT_NE(translator, nullptr);
  auto hung = translator->Translate("Hello world.");
  ASSERT_FALSE(hung.ok());
  EXPECT_EQ(hung.status().code(), Status::Code::kUnavailable);
  EXPECT_THAT(hung.status().message(), HasSubstr("did not answer within 200 ms"));
  EXPECT_EQ(PipelineStats(*provider, "eng-fra").starts, 2U) << "restarted once";
  EXPECT_EQ(Translated(*translator, "Hello world."), "Hello world.");
  EXPECT_EQ(PipelineStats(*provider, "eng-fra").starts, 3U);
}

TEST_F(FakeModesTest, OpenWarmsThePipelineAndFailsWhenItCannotAnswer) {
  WriteFlakyMode("eng-fra", 2);
  auto provider = Provider(200, /*warm_up=*/true);
  auto hung = provider->Open("eng", "fra");
  ASSERT_FALSE(hung.ok());
  EXPECT_EQ(hung.status().code(), Status::Code::kUnavailable);
  EXPECT_THAT(hung.status().message(), HasSubstr("did not answer"));
  auto working = provider->Open("eng", "fra");
  ASSERT_TRUE(working.ok()) << working.status().ToString();
  EXPECT_EQ(PipelineStats(*provider, "eng-fra").requests, 1U) << "the warm-up";
  EXPECT_EQ(Translated(*working.value(), "Hello world."), "Hello world.");
}

TEST_F(FakeModesTest, OneHangIsHiddenByTheRetry) {
  WriteFlakyMode("eng-fra", 1);
  auto provider = Provider(200);
  auto translator = OpenPair(*provider, "eng", "fra");
  ASSERT_NE(translator, nullptr);
  EXPECT_EQ(Translated(*translator, "Hello world."), "Hello world.");
  EXPECT_EQ(PipelineStats(*provider, "eng-fra").starts, 2U);
}

TEST_F(FakeModesTest, APipelineThatExitsAtOnceIsUnavailableAndLeavesNoZombie) {
  WriteFile("eng-fra.mode", "cat | true\n");
  {
    auto provider = Provider(5000);
    auto translator = OpenPair(*provider, "eng", "fra");
    ASSERT_NE(translator, nullptr);
    auto result = translator->Translate("Hello world.");
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), Status::Code::kUnavailable);
    EXPECT_THAT(result.status().message(), HasSubstr("eng-fra"));
    EXPECT_TRUE(PipelineStats(*provider, "eng-fra").pids.empty());
  }
  EXPECT_TRUE(NoChildrenLeft());
}

TEST_F(FakeModesTest, APipelineThatClosedItsInputIsUnavailableAndSigpipeKillsNothing) {
  WriteFile("eng-fra.mode", "sh -c 'exec 0<&-; exec sleep 1000'\n");
  ASSERT_NE(::signal(SIGPIPE, SIG_DFL), SIG_ERR);  // a SIGPIPE would end this test program
  auto provider = Provider(200);
  auto translator = OpenPair(*provider, "eng", "fra");
  ASSERT_NE(translator, nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // lets the stage close its stdin
  const std::string long_text(200'000, 'a');                    // more than a pipe holds
  auto result = translator->Translate(long_text);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(PipelineStats(*provider, "eng-fra").starts, 2U);
}

TEST_F(FakeModesTest, AProgramThatCannotStartMakesOpenUnavailable) {
  WriteFile("eng-fra.mode", "cat | /nonexistent/lt-proc 'x.bin'\n");
  WriteFile("eng-deu.mode", "cat > /tmp/out\n");
  auto provider = Provider(5000);
  auto missing = provider->Open("eng", "fra");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Status::Code::kUnavailable);
  EXPECT_THAT(missing.status().message(), HasSubstr("/nonexistent/lt-proc"));
  auto redirect = provider->Open("eng", "deu");
  ASSERT_FALSE(redirect.ok());
  EXPECT_THAT(redirect.status().message(), HasSubstr("unsupported shell syntax"));
  EXPECT_TRUE(NoChildrenLeft());
}

TEST_F(FakeModesTest, ACancelledTranslationReturnsAndTheNextOneStartsAfresh) {
  WriteFlakyMode("eng-fra", 1);
  auto provider = Provider(600'000);
  auto translator = OpenPair(*provider, "eng", "fra");
  ASSERT_NE(translator, nullptr);
  CancelToken cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cancel.Cancel();
  });
  auto cancelled = translator->Translate("Hello world.", &cancel);
  canceller.join();
  ASSERT_FALSE(cancelled.ok());
  EXPECT_EQ(cancelled.status().code(), Status::Code::kUnavailable);
  EXPECT_THAT(cancelled.status().message(), HasSubstr("cancelled"));
  EXPECT_EQ(Translated(*translator, "Hello world."), "Hello world.");
  EXPECT_EQ(PipelineStats(*provider, "eng-fra").starts, 2U);
}

}  // namespace
}  // namespace lx::mt
