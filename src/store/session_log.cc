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

// Parses one complete line of a log with `decode`; Corruption naming the line.
template <typename T>
Result<T> ParseLine(const std::string& line, const std::string& where,
                    Result<T> (*decode)(const events::Json&)) {
  const events::Json json = events::Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Status::Corruption(where + ": not JSON");
  auto record = decode(json);
  if (!record.ok()) return Status::Corruption(where + ": " + record.status().message());
  return record;
}

// Every complete line of the JSON-lines log at `path`, decoded with `decode`. A torn last line
// (no newline) is skipped.
template <typename T>
Result<std::vector<T>> ReadJsonLines(const std::string& path,
                                     Result<T> (*decode)(const events::Json&)) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot read " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  std::vector<T> records;
  size_t start = 0;
  for (int line_number = 1;; ++line_number) {
    const size_t end = text.find('\n', start);
    if (end == std::string::npos) break;  // no line, or a torn last line without its newline
    auto record = ParseLine<T>(text.substr(start, end - start),
                               path + ":" + std::to_string(line_number), decode);
    if (!record.ok()) return record.status();
    records.push_back(std::move(record).value());
    start = end + 1;
  }
  return records;
}

Result<int> OpenForAppending(const std::string& path) {
  const int fd = ::open(path.c_str(), O_APPEND | O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("cannot open " + path, errno);
  return fd;
}

}  // namespace

Result<std::unique_ptr<SessionLog>> SessionLog::Open(const std::string& dir) {
  std::string path = dir + "/" + kLogName;
  auto fd = OpenForAppending(path);
  if (!fd.ok()) return fd.status();
  return std::unique_ptr<SessionLog>(new SessionLog(std::move(path), fd.value()));
}

SessionLog::~SessionLog() { ::close(fd_); }

Status SessionLog::Append(const asr::Final& final_caption) {
  // One write per line: O_APPEND keeps concurrent lines whole, and a crash tears at most the last.
  const std::string line = events::FinalToJson(final_caption).dump() + "\n";
  std::lock_guard lock(mutex_);
  return WriteAll(fd_, line, path_);
}

Result<std::vector<asr::Final>> ReadSessionLog(const std::string& path) {
  return ReadJsonLines<asr::Final>(path, &events::FinalFromJson);
}

std::string TranslationLogPath(const std::string& dir, const std::string& lang) {
  return dir + "/mt." + lang + ".jsonl";
}

Result<std::unique_ptr<TranslationLog>> TranslationLog::Open(const std::string& dir,
                                                             const std::string& lang) {
  std::string path = TranslationLogPath(dir, lang);
  auto fd = OpenForAppending(path);
  if (!fd.ok()) return fd.status();
  return std::unique_ptr<TranslationLog>(new TranslationLog(std::move(path), fd.value()));
}

TranslationLog::~TranslationLog() { ::close(fd_); }

Status TranslationLog::Append(const events::TranslationFinal& translation) {
  const std::string line = events::TranslationFinalToJson(translation).dump() + "\n";
  std::lock_guard lock(mutex_);
  return WriteAll(fd_, line, path_);
}

Result<std::vector<events::TranslationFinal>> ReadTranslationLog(const std::string& path) {
  return ReadJsonLines<events::TranslationFinal>(path, &events::TranslationFinalFromJson);
}

}  // namespace lx::store
