// Reading Apertium's installed pairs and mode files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "mt/apertium_mode.h"

namespace lx::mt {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ApertiumModeNameTest, ModeNamesBecomeIsoPairs) {
  struct Row {
    std::string mode;
    std::string expected;  // "" = not a pair
  };
  const std::vector<Row> table = {
      {"eng-spa", "eng-spa"},
      {"en-gl", "eng-glg"},
      {"gl-en", "glg-eng"},
      {"eng-cat_valencia", ""},
      {"cat-eng_US", ""},
      {"eng-spa-tagger", ""},
      {"eng", ""},
      {"ENG-spa", ""},
      {"english-spanish", ""},
  };
  for (const Row& row : table) {
    const auto pair = PairFromModeName(row.mode);
    EXPECT_EQ(pair ? pair->Name() : "", row.expected) << row.mode;
    if (pair) {
      EXPECT_EQ(pair->engine_name, row.mode);
    }
  }
}

TEST(ApertiumModeNameTest, DiscoveryListsModeFilesSortedAndSkipsTheRest) {
  const fs::path dir = fs::temp_directory_path() / ("lx_modes_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (const char* name : {"eng-spa.mode", "en-gl.mode", "eng-glg.mode", "eng-cat_valencia.mode",
                           "README", "cat-eng.modes"}) {
    std::ofstream(dir / name) << "cat\n";
  }
  auto pairs = DiscoverModes(dir.string());
  fs::remove_all(dir);
  ASSERT_TRUE(pairs.ok()) << pairs.status().ToString();
  std::vector<std::string> names;
  for (const auto& pair : pairs.value()) names.push_back(pair.Name() + "=" + pair.engine_name);
  EXPECT_THAT(names, ElementsAre("eng-glg=en-gl", "eng-spa=eng-spa"));
  EXPECT_EQ(DiscoverModes(dir.string()).status().code(), Status::Code::kNotFound);
}

TEST(ApertiumModeCommandsTest, ARealModeGetsNullFlushAndNoUnknownMarks) {
  const std::string mode =
      "lt-proc -w '/usr/share/apertium/apertium-eng-spa/eng-spa.automorf.bin' | "
      "apertium-tagger -g $2 '/p/eng-spa.prob' | apertium-pretransfer | "
      "cg-proc -w '/p/rlx.bin' | lt-proc $1 '/p/eng-spa.autogen.bin'\n";
  auto commands = ParseModeCommands(mode);
  ASSERT_TRUE(commands.ok()) << commands.status().ToString();
  EXPECT_THAT(commands.value(),
              ElementsAre(ElementsAre("lt-proc", "-z", "-w",
                                      "/usr/share/apertium/apertium-eng-spa/eng-spa.automorf.bin"),
                          ElementsAre("apertium-tagger", "-z", "-g", "/p/eng-spa.prob"),
                          ElementsAre("apertium-pretransfer", "-z"),
                          ElementsAre("cg-proc", "-z", "-w", "/p/rlx.bin"),
                          ElementsAre("lt-proc", "-z", "-n", "/p/eng-spa.autogen.bin")));
}

TEST(ApertiumModeCommandsTest, OtherProgramsRunAsWrittenWithShellQuoting) {
  auto commands = ParseModeCommands("sh \"/a b/script\" x\\ y|cat");
  ASSERT_TRUE(commands.ok()) << commands.status().ToString();
  EXPECT_THAT(commands.value(),
              ElementsAre(ElementsAre("sh", "/a b/script", "x y"), ElementsAre("cat")));
}

TEST(ApertiumModeCommandsTest, MalformedOrUnsupportedPipelinesAreRefused) {
  for (const char* text : {"", "cat | | cat", "cat |", "lt-proc 'unterminated", "cat > out",
                           "cat ; rm x", "cat & cat", "echo $(id)", "echo `id`"}) {
    auto commands = ParseModeCommands(text);
    EXPECT_FALSE(commands.ok()) << text;
    EXPECT_EQ(commands.status().code(), Status::Code::kInvalidArgument) << text;
  }
  EXPECT_THAT(ParseModeCommands("cat > out").status().message(), HasSubstr("'>'"));
}

}  // namespace
}  // namespace lx::mt
