#include "base/logging.h"

#include <gtest/gtest.h>

namespace lx {
namespace {

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

}  // namespace
}  // namespace lx
