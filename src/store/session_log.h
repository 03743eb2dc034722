// A session's append-only record on disk: every final, written as it happens.
#pragma once

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "asr/caption.h"
#include "base/status.h"
#include "events/event.h"

namespace lx::store {

// finals.jsonl in a session's folder: one asr.final JSON object per line. Each Append is written
// to the kernel before it returns (no user-space buffering), so a killed server loses no final
// that was appended. Thread-safe.
class SessionLog {
 public:
  // Creates (or appends to) <dir>/finals.jsonl; IOError naming the path.
  static Result<std::unique_ptr<SessionLog>> Open(const std::string& dir);
  ~SessionLog();
  SessionLog(const SessionLog&) = delete;
  SessionLog& operator=(const SessionLog&) = delete;

  // Appends one final. IOError when the write fails (disk full, ...).
  Status Append(const asr::Final& final_caption);
  const std::string& path() const { return path_; }

 private:
  SessionLog(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  const std::string path_;
  std::mutex mutex_;
  int fd_;  // guarded by mutex_ for writes
};

// mt.<lang>.jsonl in a session's folder (e.g. mt.spa.jsonl): one mt.final JSON object per line,
// for the session's translations into `lang`. Written like SessionLog (one write per line, no
// user-space buffering). Thread-safe.
class TranslationLog {
 public:
  // Creates (or appends to) TranslationLogPath(dir, lang); IOError naming the path.
  static Result<std::unique_ptr<TranslationLog>> Open(const std::string& dir,
                                                      const std::string& lang);
  ~TranslationLog();
  TranslationLog(const TranslationLog&) = delete;
  TranslationLog& operator=(const TranslationLog&) = delete;

  // Appends one translation. IOError when the write fails (disk full, ...).
  Status Append(const events::TranslationFinal& translation);
  const std::string& path() const { return path_; }

 private:
  TranslationLog(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  const std::string path_;
  std::mutex mutex_;
  int fd_;  // guarded by mutex_ for writes
};

// <dir>/mt.<lang>.jsonl. `lang` must be a plain code (letters only): it becomes a file name.
std::string TranslationLogPath(const std::string& dir, const std::string& lang);

// Reads back the translations a TranslationLog wrote, in order; fails as ReadSessionLog.
Result<std::vector<events::TranslationFinal>> ReadTranslationLog(const std::string& path);

// Reads back the finals a SessionLog wrote, in order. A torn last line (a crash mid-write) is
// skipped; IOError when the file cannot be read, Corruption naming the line otherwise.
Result<std::vector<asr::Final>> ReadSessionLog(const std::string& path);

}  // namespace lx::store
