#include "base/logging.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/captured_log.h"

namespace lx {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using Json = nlohmann::json;

TEST(JsonEscapeTest, EscapesWhatJsonStringsCannotHold) {
  const std::pair<std::string, std::string> cases[] = {
      {"plain text", "plain text"},
      {R"(say "hi")", R"(say \"hi\")"},
      {R"(C:\path)", R"(C:\\path)"},
      {"two\nlines\r\tend", R"(two\nlines\r\tend)"},
      {std::string("nul\0byte", 8), R"(nul\u0000byte)"},
      {"\x1b[31m", R"(\u001b[31m)"},
      {"caf\xc3\xa9", "caf\xc3\xa9"},
  };
  for (const auto& [input, expected] : cases) EXPECT_EQ(JsonEscape(input), expected) << input;
}

TEST(StructuredLogTest, JsonLinesCarryTheFieldsAsMembers) {
  testing::CapturedLog log(LogFormat::kJson);
  LogWith(spdlog::level::err, {{"request_id", "r1"}, {"error_id", "e\"1"}}, "failed: {}", 42);
  spdlog::info("no fields \"quoted\"\n");
  const auto objects = log.Objects();
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(objects[0]["level"], "error");
  EXPECT_EQ(objects[0]["msg"], "failed: 42");
  EXPECT_EQ(objects[0]["request_id"], "r1");
  EXPECT_EQ(objects[0]["error_id"], "e\"1");
  EXPECT_THAT(objects[0]["ts"].get<std::string>(),
              MatchesRegex(R"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z)"));
  EXPECT_EQ(objects[1]["msg"], "no fields \"quoted\"\n");
  EXPECT_EQ(objects[1].size(), 3u) << "ts, level, msg only: " << objects[1].dump();
}

TEST(StructuredLogTest, ScopesNestAndEndWithTheirBlock) {
  testing::CapturedLog log(LogFormat::kJson);
  {
    const ScopedLogFields session({{"session_id", "s1"}});
    spdlog::warn("in the session");
    {
      const ScopedLogFields request({{"request_id", "r1"}, {"session_id", "s2"}});
      LogWith(spdlog::level::info, {{"error_id", "e1"}}, "inner");
    }
    spdlog::info("session again");
  }
  spdlog::info("outside");
  const auto lines = log.Lines();
  const auto objects = log.Objects();
  ASSERT_EQ(objects.size(), 4u);
  EXPECT_EQ(objects[0]["session_id"], "s1");
  EXPECT_FALSE(objects[0].contains("request_id"));
  EXPECT_EQ(objects[1]["session_id"], "s2") << "the inner scope's value wins";
  EXPECT_EQ(objects[1]["request_id"], "r1");
  EXPECT_EQ(objects[1]["error_id"], "e1");
  size_t session_keys = 0;
  for (size_t at = lines[1].find("\"session_id\""); at != std::string::npos;
       at = lines[1].find("\"session_id\"", at + 1)) {
    ++session_keys;
  }
  EXPECT_EQ(session_keys, 1u) << "a key appears once: " << lines[1];
  EXPECT_EQ(objects[2]["session_id"], "s1");
  EXPECT_FALSE(objects[2].contains("error_id"));
  EXPECT_FALSE(objects[3].contains("session_id"));
}

TEST(StructuredLogTest, FieldsBelongToTheThreadThatSetThem) {
  testing::CapturedLog log(LogFormat::kJson);
  const ScopedLogFields mine({{"session_id", "main"}});
  std::thread other([] { spdlog::info("other thread"); });
  other.join();
  spdlog::info("this thread");
  const auto objects = log.Objects();
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_FALSE(objects[0].contains("session_id"));
  EXPECT_EQ(objects[1]["session_id"], "main");
}

TEST(StructuredLogTest, TextLinesShowTheFieldsInBrackets) {
  testing::CapturedLog log(LogFormat::kText);
  const ScopedLogFields session({{"session_id", "s1"}});
  LogWith(spdlog::level::warn, {{"error_id", "e1"}}, "worker failed");
  spdlog::info("plain");
  const auto lines = log.Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], MatchesRegex(R"([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}\.[0-9]{3} warning )"
                                     R"(\[session_id=s1 error_id=e1\] worker failed)"));
  EXPECT_THAT(lines[1], HasSubstr(" info [session_id=s1] plain"));
}

TEST(StructuredLogTest, FieldsBelowTheLevelCostNothingAndLeaveNoTrace) {
  testing::CapturedLog log(LogFormat::kJson);
  LogWith(spdlog::level::trace, {{"session_id", "s1"}}, "hidden");
  spdlog::info("shown");
  const auto objects = log.Objects();
  ASSERT_EQ(objects.size(), 1u);
  EXPECT_FALSE(objects[0].contains("session_id"));
}

TEST(NewLogIdTest, IsShortLowerCaseHexAndVaries) {
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    const std::string id = NewLogId();
    EXPECT_THAT(id, MatchesRegex("[0-9a-f]{12}"));
    ids.insert(id);
  }
  EXPECT_GT(ids.size(), 95u);
  EXPECT_EQ(NewLogId(6).size(), 6u);
}

}  // namespace
}  // namespace lx
