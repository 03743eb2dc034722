// Runs a shell command for end-to-end tests and captures its exit code, stdout and stderr.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace lx::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// Runs `command` with /bin/sh; stderr is captured through a temporary file.
inline CommandResult RunCommand(const std::string& command) {
  const auto err_path = std::filesystem::temp_directory_path() /
                        ("lx_cmd_err_" + std::to_string(::getpid()) + ".txt");
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>" + err_path.string()).c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;)
    result.out.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.err = ReadFile(err_path);
  std::filesystem::remove(err_path);
  return result;
}

// The loquilex binary under test: $LX_BINARY, else the one this test was built with.
inline std::string Binary() {
  const char* binary = std::getenv("LX_BINARY");
  return binary != nullptr ? binary : LX_BINARY_PATH;
}

}  // namespace lx::testing
