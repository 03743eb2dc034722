// Per-sentence latency of loquilex's warm Apertium provider, for bench/translate_latency.py.
// Usage: lx_bench_mt_latency SOURCE TARGET ROUNDS < sentences.txt (one sentence a line). Opens the
// pair (cache off), translates every sentence once untimed (as a service that has seen traffic),
// then ROUNDS times in order, timed, and prints one JSON object:
// {"open_ms": ..., "latencies_ms": [...], "translations": [first round's outputs]}.
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "mt/apertium_provider.h"

namespace {

double MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: lx_bench_mt_latency SOURCE TARGET ROUNDS < sentences.txt\n";
    return 2;
  }
  const int rounds = std::atoi(argv[3]);
  std::vector<std::string> sentences;
  for (std::string line; std::getline(std::cin, line);) {
    if (!line.empty()) sentences.push_back(line);
  }
  lx::mt::ApertiumOptions options;
  options.cache_entries = 0;  // every sentence goes through the pipeline
  auto provider = lx::mt::CreateApertiumProvider(options);
  if (!provider.ok()) {
    std::cerr << provider.status().ToString() << "\n";
    return 1;
  }
  const auto open_start = std::chrono::steady_clock::now();
  auto translator = provider.value()->Open(argv[1], argv[2]);
  if (!translator.ok()) {
    std::cerr << translator.status().ToString() << "\n";
    return 1;
  }
  const double open_ms = MillisSince(open_start);
  std::vector<double> latencies;
  std::vector<std::string> translations;
  for (const std::string& sentence : sentences) (void)translator.value()->Translate(sentence);
  for (int round = 0; round < rounds; ++round) {
    for (const std::string& sentence : sentences) {
      const auto start = std::chrono::steady_clock::now();
      auto result = translator.value()->Translate(sentence);
      latencies.push_back(MillisSince(start));
      if (!result.ok()) {
        std::cerr << result.status().ToString() << "\n";
        return 1;
      }
      if (round == 0) translations.push_back(result.value());
    }
  }
  std::string json = fmt::format("{{\"open_ms\": {:.3f}, \"latencies_ms\": [", open_ms);
  for (size_t i = 0; i < latencies.size(); ++i) {
    json += fmt::format("{}{:.3f}", i == 0 ? "" : ", ", latencies[i]);
  }
  json += "], \"translations\": [";
  for (size_t i = 0; i < translations.size(); ++i) {
    json += (i == 0 ? "" : ", ") + JsonString(translations[i]);
  }
  std::cout << json << "]}\n";
  return 0;
}
