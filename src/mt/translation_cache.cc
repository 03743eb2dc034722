#include "mt/translation_cache.h"

#include <utility>

namespace lx::mt {

std::string TranslationCache::Key(std::string_view pair, std::string_view text) {
  std::string key;
  key.reserve(pair.size() + 1 + text.size());
  key.append(pair);
  key += '\0';  // never in a pair's name, so (pair, text) pairs cannot collide
  key.append(text);
  return key;
}

std::optional<std::string> TranslationCache::Find(std::string_view pair, std::string_view text) {
  const std::string key = Key(pair, text);
  const std::lock_guard lock(mutex_);
  const auto it = index_.find(key);
  if (it == index_.end()) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  entries_.splice(entries_.begin(), entries_, it->second);
  return it->second->translation;
}

void TranslationCache::Insert(std::string_view pair, std::string_view text,
                              std::string translation) {
  if (capacity_ == 0) return;
  std::string key = Key(pair, text);
  const std::lock_guard lock(mutex_);
  if (const auto it = index_.find(key); it != index_.end()) {
    it->second->translation = std::move(translation);
    entries_.splice(entries_.begin(), entries_, it->second);
    return;
  }
  if (entries_.size() == capacity_) {
    index_.erase(entries_.back().key);
    entries_.pop_back();
  }
  entries_.push_front({std::move(key), std::move(translation)});
  index_.emplace(entries_.front().key, entries_.begin());  // the view lives in the list node
}

uint64_t TranslationCache::hits() const {
  const std::lock_guard lock(mutex_);
  return hits_;
}

uint64_t TranslationCache::misses() const {
  const std::lock_guard lock(mutex_);
  return misses_;
}

size_t TranslationCache::size() const {
  const std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace lx::mt
