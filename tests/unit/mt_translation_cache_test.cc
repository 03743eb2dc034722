// The translation cache: bounded, least recently used first out, keyed by (pair, text).
#include <gtest/gtest.h>

#include "mt/translation_cache.h"

namespace lx::mt {
namespace {

TEST(TranslationCacheTest, FindsWhatWasInsertedForTheSamePairOnly) {
  TranslationCache cache(4);
  cache.Insert("eng-spa", "Hello.", "Hola.");
  EXPECT_EQ(cache.Find("eng-spa", "Hello."), "Hola.");
  EXPECT_EQ(cache.Find("eng-cat", "Hello."), std::nullopt);
  EXPECT_EQ(cache.Find("eng-spa", "Hello"), std::nullopt);
  EXPECT_EQ(cache.hits(), 1U);
  EXPECT_EQ(cache.misses(), 2U);
}

TEST(TranslationCacheTest, KeysDoNotCollideAcrossThePairBoundary) {
  TranslationCache cache(4);
  cache.Insert("eng-spa", "x", "one");
  EXPECT_EQ(cache.Find("eng-sp", "ax"), std::nullopt);
}

TEST(TranslationCacheTest, EvictsTheLeastRecentlyUsedWhenFull) {
  TranslationCache cache(2);
  cache.Insert("p", "a", "A");
  cache.Insert("p", "b", "B");
  EXPECT_EQ(cache.Find("p", "a"), "A");  // b is now the least recently used
  cache.Insert("p", "c", "C");
  EXPECT_EQ(cache.size(), 2U);
  EXPECT_EQ(cache.Find("p", "b"), std::nullopt);
  EXPECT_EQ(cache.Find("p", "a"), "A");
  EXPECT_EQ(cache.Find("p", "c"), "C");
}

TEST(TranslationCacheTest, ReinsertingReplacesWithoutGrowing) {
  TranslationCache cache(2);
  cache.Insert("p", "a", "old");
  cache.Insert("p", "a", "new");
  EXPECT_EQ(cache.size(), 1U);
  EXPECT_EQ(cache.Find("p", "a"), "new");
}

TEST(TranslationCacheTest, ZeroCapacityHoldsNothing) {
  TranslationCache cache(0);
  cache.Insert("p", "a", "A");
  EXPECT_EQ(cache.size(), 0U);
  EXPECT_EQ(cache.Find("p", "a"), std::nullopt);
  EXPECT_EQ(cache.misses(), 1U);
}

}  // namespace
}  // namespace lx::mt
