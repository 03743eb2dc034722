#include "mt/apertium_mode.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <map>
#include <system_error>

namespace lx::mt {
namespace {

bool IsLanguageCode(std::string_view code) {
  return (code.size() == 2 || code.size() == 3) &&
         std::all_of(code.begin(), code.end(),
                     [](unsigned char c) { return std::islower(c) != 0; });
}

// Programs that read Apertium's stream and take -z for null flush.
bool IsApertiumTool(std::string_view program) {
  const size_t slash = program.rfind('/');
  if (slash != std::string_view::npos) program.remove_prefix(slash + 1);
  static constexpr std::array<std::string_view, 2> kPrefixes = {"lt-", "apertium-"};
  static constexpr std::array<std::string_view, 5> kNames = {"cg-proc", "lrx-proc", "lsx-proc",
                                                             "hfst-proc", "rtx-proc"};
  return std::any_of(kPrefixes.begin(), kPrefixes.end(),
                     [&](std::string_view prefix) { return program.starts_with(prefix); }) ||
         std::find(kNames.begin(), kNames.end(), program) != kNames.end();
}

// Shell syntax a plain pipeline does not use; such a mode is refused rather than misread.
bool IsUnsupportedShellChar(char c) {
  return c == ';' || c == '&' || c == '<' || c == '>' || c == '`' || c == '(' || c == ')';
}

// Splits a pipeline into stages of words, honouring quotes and backslashes.
Result<std::vector<Command>> SplitPipeline(std::string_view text) {
  std::vector<Command> stages(1);
  std::string word;
  bool in_word = false;
  const auto end_word = [&] {
    if (in_word) stages.back().push_back(word);
    word.clear();
    in_word = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\'' || c == '"') {
      const size_t close = text.find(c, i + 1);
      if (close == std::string_view::npos) return Status::InvalidArgument("unterminated quote");
      word.append(text.substr(i + 1, close - i - 1));
      in_word = true;
      i = close;
    } else if (c == '\\' && i + 1 < text.size()) {
      word += text[++i];
      in_word = true;
    } else if (c == '|') {
      end_word();
      stages.emplace_back();
    } else if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      end_word();
    } else if (IsUnsupportedShellChar(c) ||
               (c == '$' && i + 1 < text.size() && text[i + 1] == '(')) {
      return Status::InvalidArgument(std::string("unsupported shell syntax '") + c + "'");
    } else {
      word += c;
      in_word = true;
    }
  }
  end_word();
  return stages;
}

// Applies the null-flush rules to one stage's words.
Command PrepareStage(const Command& words) {
  Command command;
  for (const std::string& word : words) {
    if (word == "$1") {
      command.emplace_back("-n");
    } else if (word != "$2") {
      command.push_back(word);
    }
    if (command.size() == 1 && IsApertiumTool(command.front())) command.emplace_back("-z");
  }
  return command;
}

}  // namespace

std::optional<LanguagePair> PairFromModeName(std::string_view mode_name) {
  const size_t dash = mode_name.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const std::string_view source = mode_name.substr(0, dash);
  const std::string_view target = mode_name.substr(dash + 1);
  if (!IsLanguageCode(source) || !IsLanguageCode(target)) return std::nullopt;
  return LanguagePair{NormalizeLanguageCode(source), NormalizeLanguageCode(target),
                      std::string(mode_name)};
}

Result<std::vector<LanguagePair>> DiscoverModes(const std::string& modes_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::directory_iterator it(modes_dir, ec);
  if (ec)
    return Status::NotFound("cannot read the Apertium modes folder " + modes_dir + ": " +
                            ec.message());
  std::vector<std::string> names;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const fs::path& path = it->path();
    if (path.extension() == ".mode") names.push_back(path.stem().string());
  }
  std::sort(names.begin(), names.end());
  std::map<std::string, LanguagePair> by_name;  // sorted by Name(), first mode name wins
  for (const std::string& name : names) {
    if (auto pair = PairFromModeName(name)) by_name.emplace(pair->Name(), std::move(*pair));
  }
  std::vector<LanguagePair> pairs;
  pairs.reserve(by_name.size());
  for (auto& [name, pair] : by_name) pairs.push_back(std::move(pair));
  return pairs;
}

Result<std::vector<Command>> ParseModeCommands(std::string_view mode_text) {
  auto stages = SplitPipeline(mode_text);
  if (!stages.ok()) return stages.status();
  std::vector<Command> commands;
  for (const Command& words : stages.value()) {
    Command command = PrepareStage(words);
    if (command.empty()) return Status::InvalidArgument("the pipeline has an empty stage");
    commands.push_back(std::move(command));
  }
  return commands;
}

}  // namespace lx::mt
