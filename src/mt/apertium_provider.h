// The Apertium translation provider: discovers the installed pairs from Apertium's modes
// directory and keeps one warm, persistent pipeline per pair in use (Apertium's null-flush mode,
// as apertium-apy does), supervised: restarted when it dies or stops answering.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "base/status.h"
#include "mt/translator.h"

namespace lx::mt {

struct ApertiumOptions {
  std::string modes_dir = "/usr/share/apertium/modes";  // where installed pairs' .mode files are
  int timeout_ms = 5000;        // a translation not answered by then: restart + retry once
  size_t cache_entries = 4096;  // bounded cache keyed by (pair, text); 0 = no cache
  // InvalidArgument when a field is out of range (empty modes_dir, timeout_ms <= 0).
  Status Validate() const;
};

// The Apertium provider: discovers installed pairs from modes_dir (no hard-coded list).
// InvalidArgument when `options` do not validate; NotFound when modes_dir cannot be read.
// Pipelines are started lazily by Open(); they die with the provider.
Result<std::unique_ptr<TranslatorProvider>> CreateApertiumProvider(ApertiumOptions options);

}  // namespace lx::mt
