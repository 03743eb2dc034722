#include "store/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

namespace lx::store {
namespace {

Status Errno(const std::string& path, const char* what) {
  return Status::FromErrno(path + ": " + what, errno);
}

Status WriteAll(int fd, std::string_view content, const std::string& path) {
  while (!content.empty()) {
    const ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno(path, "cannot write");
    }
    content.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

}  // namespace

Status WriteFileAtomically(const std::string& path, std::string_view content) {
  std::string temp_template = path + ".tmp-XXXXXX";
  std::vector<char> temp(temp_template.begin(), temp_template.end());
  temp.push_back('\0');
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) return Errno(path, "cannot create a temporary file beside it");
  const std::string temp_path(temp.data());
  Status status = WriteAll(fd, content, path);
  if (status.ok() && ::fchmod(fd, 0644) != 0) status = Errno(path, "cannot set permissions");
  if (status.ok() && ::fsync(fd) != 0) status = Errno(path, "cannot flush");
  if (::close(fd) != 0 && status.ok()) status = Errno(path, "cannot close");
  if (status.ok() && std::rename(temp_path.c_str(), path.c_str()) != 0) {
    status = Errno(path, "cannot rename the temporary file into place");
  }
  if (!status.ok()) ::unlink(temp_path.c_str());
  return status;
}

}  // namespace lx::store
