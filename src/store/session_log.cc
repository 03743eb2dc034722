#include "store/session_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <utility>

#include "events/json_codec.h"

namespace lx::store {
namespace {

constexpr char kLogName[] = "finals.jsonl";

// Writes all of `data` to fd, retrying short writes and EINTR.
Status WriteAll(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("cannot append to " + path, errno);
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

// Parses one complete line of the log; Corruption naming the line.
Result<asr::Final> ParseLine(const std::string& line, const std::string& where) {
  const events::Json json = events::Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Status::Corruption(where + ": not JSON");
  auto final_caption = events::FinalFromJson(json);
  if (!final_caption.ok()) {
    return Status::Corruption(where + ": " + final_caption.status().message());
  }
  return final_caption;
}

}  // namespace

Result<std::unique_ptr<SessionLog>> SessionLog::Open(const std::string& dir) {
  std::string path = dir + "/" + kLogName;
  const int fd = ::open(path.c_str(), O_APPEND | O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("cannot open " + path, errno);
  return std::unique_ptr<SessionLog>(new SessionLog(std::move(path), fd));
}

SessionLog::~SessionLog() { ::close(fd_); }

Status SessionLog::Append(const asr::Final& final_caption) {
  // One write per line: O_APPEND keeps concurrent lines whole, and a crash tears at most the last.
  const std::string line = events::FinalToJson(final_caption).dump() + "\n";
  std::lock_guard lock(mutex_);
  return WriteAll(fd_, line, path_);
}

Result<std::vector<asr::Final>> ReadSessionLog(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot read " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  std::vector<asr::Final> finals;
  size_t start = 0;
  for (int line_number = 1;; ++line_number) {
    const size_t end = text.find('\n', start);
    if (end == std::string::npos) break;  // no line, or a torn last line without its newline
    auto final_caption =
        ParseLine(text.substr(start, end - start), path + ":" + std::to_string(line_number));
    if (!final_caption.ok()) return final_caption.status();
    finals.push_back(std::move(final_caption).value());
    start = end + 1;
  }
  return finals;
}

}  // namespace lx::store
