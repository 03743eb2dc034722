#include "store/atomic_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <system_error>

namespace lx::store {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string name = (fs::temp_directory_path() / "lx-atomic-XXXXXX").string();
    if (::mkdtemp(name.data()) != nullptr) path_ = name;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.path().empty()) << "cannot create a temp directory"; }

  std::string PathOf(const std::string& name) const { return dir_.path() + "/" + name; }

  // The names in the directory, so a stray temporary file shows up in a failure.
  std::set<std::string> Names() const {
    std::set<std::string> names;
    for (const fs::directory_entry& entry : fs::directory_iterator(dir_.path())) {
      names.insert(entry.path().filename().string());
    }
    return names;
  }

  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
  }

  TempDir dir_;
};

TEST_F(AtomicFileTest, WritesTheContent) {
  const std::string content("line one\nline two\n\0binary", 25);
  ASSERT_TRUE(WriteFileAtomically(PathOf("out.txt"), content).ok());
  EXPECT_EQ(Read(PathOf("out.txt")), content);
  EXPECT_EQ(Names(), std::set<std::string>{"out.txt"});
}

TEST_F(AtomicFileTest, WritesAnEmptyFile) {
  ASSERT_TRUE(WriteFileAtomically(PathOf("empty"), "").ok());
  EXPECT_TRUE(fs::is_regular_file(PathOf("empty")));
  EXPECT_EQ(fs::file_size(PathOf("empty")), 0u);
}

TEST_F(AtomicFileTest, OverwritingReplacesTheContentAndLeavesNoTemporaryFile) {
  ASSERT_TRUE(WriteFileAtomically(PathOf("out.txt"), "a much longer first version\n").ok());
  ASSERT_TRUE(WriteFileAtomically(PathOf("out.txt"), "second\n").ok());
  EXPECT_EQ(Read(PathOf("out.txt")), "second\n");
  EXPECT_EQ(Names(), std::set<std::string>{"out.txt"});
}

TEST_F(AtomicFileTest, MissingDirectoryFailsWithIOErrorNamingThePath) {
  const std::string path = PathOf("missing/out.txt");
  const Status status = WriteFileAtomically(path, "content");
  EXPECT_EQ(status.code(), Status::Code::kIOError) << status.ToString();
  EXPECT_THAT(status.message(), HasSubstr(path));
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(Names().empty());
}

TEST_F(AtomicFileTest, DirectoryInTheWayFailsAndLeavesNoTemporaryFile) {
  const std::string path = PathOf("captions.vtt");
  ASSERT_TRUE(fs::create_directory(path));
  const Status status = WriteFileAtomically(path, "WEBVTT\n");
  EXPECT_EQ(status.code(), Status::Code::kIOError) << status.ToString();
  EXPECT_THAT(status.message(), HasSubstr(path));
  EXPECT_TRUE(fs::is_directory(path));
  EXPECT_TRUE(fs::is_empty(path));
  EXPECT_EQ(Names(), std::set<std::string>{"captions.vtt"});
}

}  // namespace
}  // namespace lx::store
