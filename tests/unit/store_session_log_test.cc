#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "store/session_log.h"

namespace lx::store {
namespace {

namespace fs = std::filesystem;

asr::Final MakeFinal(uint64_t n) {
  return asr::Final{.segment_id = n,
                    .seq = n * 10,
                    .text = "word" + std::to_string(n),
                    .words = {asr::Word{"word" + std::to_string(n), 1.0 * n, 1.0 * n + 0.5, 0.75}},
                    .t0_s = 1.0 * n,
                    .t1_s = 1.0 * n + 0.5,
                    .eou_reason = asr::EouReason::kForced};
}

class SessionLogTest : public ::testing::Test {
 protected:
  SessionLogTest() {
    std::string pattern = (fs::temp_directory_path() / "lx-session-log-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
  }
  ~SessionLogTest() override { fs::remove_all(dir_); }
  std::string dir_;
};

void ExpectSame(const asr::Final& a, const asr::Final& b) {
  EXPECT_EQ(a.segment_id, b.segment_id);
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.text, b.text);
  ASSERT_EQ(a.words.size(), b.words.size());
  EXPECT_EQ(a.words[0].w, b.words[0].w);
  EXPECT_DOUBLE_EQ(a.words[0].conf, b.words[0].conf);
  EXPECT_DOUBLE_EQ(a.t0_s, b.t0_s);
  EXPECT_DOUBLE_EQ(a.t1_s, b.t1_s);
  EXPECT_EQ(a.eou_reason, b.eou_reason);
}

TEST_F(SessionLogTest, ReadsBackWhatWasAppended) {
  auto log = SessionLog::Open(dir_);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  for (uint64_t n = 1; n <= 3; ++n) ASSERT_TRUE((*log)->Append(MakeFinal(n)).ok());
  auto finals = ReadSessionLog((*log)->path());
  ASSERT_TRUE(finals.ok()) << finals.status().ToString();
  ASSERT_EQ(finals->size(), 3u);
  for (uint64_t n = 1; n <= 3; ++n) ExpectSame((*finals)[n - 1], MakeFinal(n));
}

TEST_F(SessionLogTest, ATornLastLineIsSkipped) {
  auto log = SessionLog::Open(dir_);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Append(MakeFinal(1)).ok());
  std::ofstream(dir_ + "/finals.jsonl", std::ios::app) << R"({"segment_id": 2, "seq)";
  auto finals = ReadSessionLog(dir_ + "/finals.jsonl");
  ASSERT_TRUE(finals.ok()) << finals.status().ToString();
  ASSERT_EQ(finals->size(), 1u);
  ExpectSame((*finals)[0], MakeFinal(1));
}

TEST_F(SessionLogTest, ADamagedCompleteLineIsCorruptionNamingTheLine) {
  std::ofstream(dir_ + "/finals.jsonl") << "{}\n";
  auto finals = ReadSessionLog(dir_ + "/finals.jsonl");
  ASSERT_FALSE(finals.ok());
  EXPECT_EQ(finals.status().code(), Status::Code::kCorruption);
  EXPECT_NE(finals.status().message().find("finals.jsonl:1"), std::string::npos);
}

TEST_F(SessionLogTest, TheFileOutlivesTheObjectAndReopeningAppends) {
  {
    auto log = SessionLog::Open(dir_);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append(MakeFinal(1)).ok());
  }
  auto log = SessionLog::Open(dir_);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Append(MakeFinal(2)).ok());
  auto finals = ReadSessionLog((*log)->path());
  ASSERT_TRUE(finals.ok());
  ASSERT_EQ(finals->size(), 2u);
  ExpectSame((*finals)[1], MakeFinal(2));
}

TEST_F(SessionLogTest, OpenFailsWithIOErrorNamingThePath) {
  auto log = SessionLog::Open(dir_ + "/missing");
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), Status::Code::kIOError);
  EXPECT_NE(log.status().message().find("missing/finals.jsonl"), std::string::npos);
}

TEST_F(SessionLogTest, ReadingAMissingLogIsIOError) {
  EXPECT_EQ(ReadSessionLog(dir_ + "/nope.jsonl").status().code(), Status::Code::kIOError);
}

TEST_F(SessionLogTest, TranslationsGoToALogPerLanguageAndReadBackInOrder) {
  auto spanish = TranslationLog::Open(dir_, "spa");
  auto catalan = TranslationLog::Open(dir_, "cat");
  ASSERT_TRUE(spanish.ok() && catalan.ok());
  EXPECT_EQ((*spanish)->path(), dir_ + "/mt.spa.jsonl");
  for (uint64_t n = 1; n <= 2; ++n) {
    ASSERT_TRUE((*spanish)
                    ->Append({.segment_id = n,
                              .src_text = "word",
                              .text = "palabra" + std::to_string(n),
                              .src_lang = "eng",
                              .tgt_lang = "spa",
                              .provider = "fake",
                              .latency_ms = 3})
                    .ok());
  }
  ASSERT_TRUE((*catalan)->Append({.segment_id = 1, .text = "paraula", .tgt_lang = "cat"}).ok());
  auto read = ReadTranslationLog(TranslationLogPath(dir_, "spa"));
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[0].segment_id, 1u);
  EXPECT_EQ((*read)[1].text, "palabra2");
  EXPECT_EQ((*read)[1].src_text, "word");
  EXPECT_EQ((*read)[1].latency_ms, 3);
  auto other = ReadTranslationLog(TranslationLogPath(dir_, "cat"));
  ASSERT_TRUE(other.ok());
  ASSERT_EQ(other->size(), 1u);
  EXPECT_EQ((*other)[0].text, "paraula");
}

TEST_F(SessionLogTest, ATornLastTranslationIsSkipped) {
  {
    auto log = TranslationLog::Open(dir_, "spa");
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append({.segment_id = 1, .text = "hola"}).ok());
  }
  std::ofstream(TranslationLogPath(dir_, "spa"), std::ios::app) << R"({"segment_id": 2, "te)";
  auto read = ReadTranslationLog(TranslationLogPath(dir_, "spa"));
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0].text, "hola");
}

}  // namespace
}  // namespace lx::store
