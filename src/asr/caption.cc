#include "asr/caption.h"

#include <array>
#include <utility>

namespace lx::asr {
namespace {

constexpr std::array<std::pair<EouReason, std::string_view>, 4> kReasonNames = {{
    {EouReason::kSilence, "silence"},
    {EouReason::kMaxLength, "max_length"},
    {EouReason::kForced, "forced"},
    {EouReason::kEndOfStream, "end_of_stream"},
}};

}  // namespace

std::string_view EouReasonName(EouReason reason) {
  for (const auto& [value, name] : kReasonNames) {
    if (value == reason) return name;
  }
  return "unknown";
}

std::optional<EouReason> EouReasonFromName(std::string_view name) {
  for (const auto& [value, known] : kReasonNames) {
    if (known == name) return value;
  }
  return std::nullopt;
}

}  // namespace lx::asr
