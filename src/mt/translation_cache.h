// A bounded least-recently-used cache of translations keyed by (pair, text). Thread-safe.
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace lx::mt {

class TranslationCache {
 public:
  // Holds at most `capacity` entries (0: holds nothing, every lookup misses).
  explicit TranslationCache(size_t capacity) : capacity_(capacity) {}

  // The cached translation of `text` in `pair`, made the most recently used; counts a hit or a
  // miss.
  std::optional<std::string> Find(std::string_view pair, std::string_view text);
  // Stores a translation; overflow policy: the least recently used entry is evicted.
  void Insert(std::string_view pair, std::string_view text, std::string translation);

  uint64_t hits() const;
  uint64_t misses() const;
  size_t size() const;

 private:
  struct Entry {
    std::string key;
    std::string translation;
  };
  static std::string Key(std::string_view pair, std::string_view text);

  const size_t capacity_;
  mutable std::mutex mutex_;
  std::list<Entry> entries_;  // GUARDED_BY(mutex_), most recently used first
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;  // GUARDED_BY(mutex_)
  uint64_t hits_ = 0;                                                       // GUARDED_BY(mutex_)
  uint64_t misses_ = 0;                                                     // GUARDED_BY(mutex_)
};

}  // namespace lx::mt
