// Word error rate: (substitutions + deletions + insertions) / reference words.
#pragma once

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

namespace lx::testing {

inline std::vector<std::string> Words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// Word-level edit distance between `reference` and `hypothesis`.
inline size_t WordErrors(const std::vector<std::string>& reference,
                         const std::vector<std::string>& hypothesis) {
  std::vector<size_t> row(hypothesis.size() + 1);
  for (size_t j = 0; j < row.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= reference.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= hypothesis.size(); ++j) {
      const size_t substitution = diagonal + (reference[i - 1] == hypothesis[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({substitution, row[j] + 1, row[j - 1] + 1});
    }
  }
  return row.back();
}

}  // namespace lx::testing
