#include "mt/translator.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace lx::mt {

std::string NormalizeLanguageCode(std::string_view code) {
  std::string lower(code);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // ISO 639-1 codes of the languages Apertium has pairs for (639-2/B variants where they differ).
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 39> kToIso6393 = {{
      {"af", "afr"}, {"an", "arg"}, {"ar", "ara"}, {"be", "bel"}, {"bg", "bul"}, {"br", "bre"},
      {"ca", "cat"}, {"cy", "cym"}, {"da", "dan"}, {"de", "deu"}, {"el", "ell"}, {"en", "eng"},
      {"eo", "epo"}, {"es", "spa"}, {"eu", "eus"}, {"fr", "fra"}, {"ga", "gle"}, {"gl", "glg"},
      {"he", "heb"}, {"hi", "hin"}, {"id", "ind"}, {"is", "isl"}, {"it", "ita"}, {"kk", "kaz"},
      {"mk", "mkd"}, {"ms", "msa"}, {"mt", "mlt"}, {"nb", "nob"}, {"nl", "nld"}, {"nn", "nno"},
      {"oc", "oci"}, {"pl", "pol"}, {"pt", "por"}, {"ro", "ron"}, {"ru", "rus"}, {"sh", "hbs"},
      {"sv", "swe"}, {"tr", "tur"}, {"ur", "urd"},
  }};
  const auto it = std::find_if(kToIso6393.begin(), kToIso6393.end(),
                               [&](const auto& entry) { return entry.first == lower; });
  return it == kToIso6393.end() ? lower : std::string(it->second);
}

}  // namespace lx::mt
