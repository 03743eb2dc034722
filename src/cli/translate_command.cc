#include "cli/translate_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <vector>

#include "cli/app.h"
#include "store/atomic_file.h"
#include "store/caption_reader.h"

namespace lx::cli {
namespace {

struct Failure {
  int exit_code;
  std::string message;
};

bool IsStdStream(const std::string& path) { return path == "-"; }

Result<store::CaptionFormat> InputFormat(const TranslateOptions& options) {
  if (!options.input_format.empty()) return store::CaptionFormatFromName(options.input_format);
  if (IsStdStream(options.input)) {
    return Status::InvalidArgument("name the format of stdin with --input-format vtt|srt|txt");
  }
  auto format = store::CaptionFormatFromPath(options.input);
  if (!format.ok()) {
    return Status::InvalidArgument(format.status().message() +
                                   "; name the input's format with --input-format");
  }
  if (format.value() == store::CaptionFormat::kJson) {
    return Status::InvalidArgument(options.input +
                                   ": JSON captions cannot be read; use vtt, srt "
                                   "or txt");
  }
  return format;
}

Result<store::CaptionFormat> OutputFormat(const TranslateOptions& options,
                                          store::CaptionFormat input_format) {
  if (!options.format.empty()) return store::CaptionFormatFromName(options.format);
  if (IsStdStream(options.output)) return input_format;
  auto format = store::CaptionFormatFromPath(options.output);
  if (!format.ok()) {
    return Status::InvalidArgument(format.status().message() + "; name the format with --format");
  }
  return format;
}

Result<std::string> ReadInput(const std::string& input) {
  std::ostringstream content;
  if (IsStdStream(input)) {
    content << std::cin.rdbuf();
    if (std::cin.bad()) return Status::IOError("cannot read standard input");
    return content.str();
  }
  std::error_code ec;
  if (std::filesystem::is_directory(input, ec)) return Status::IOError(input + " is a folder");
  std::ifstream in(input, std::ios::binary);
  if (!in) return Status::FromErrno("cannot open " + input, errno);
  content << in.rdbuf();
  if (in.bad()) return Status::IOError("cannot read " + input);
  return content.str();
}

Status WriteOutput(const std::string& output, const std::string& content) {
  if (!IsStdStream(output)) return store::WriteFileAtomically(output, content);
  if (std::fwrite(content.data(), 1, content.size(), stdout) != content.size() ||
      std::fflush(stdout) != 0) {
    return Status::IOError("cannot write to standard output");
  }
  return Status::Ok();
}

// The formats, checked before any work: TXT has no times to give VTT or SRT cues.
std::optional<Failure> ChooseFormats(const TranslateOptions& options, store::CaptionFormat* in,
                                     store::CaptionFormat* out) {
  auto input_format = InputFormat(options);
  if (!input_format.ok()) return Failure{kExitUsage, input_format.status().message()};
  auto output_format = OutputFormat(options, input_format.value());
  if (!output_format.ok()) return Failure{kExitUsage, output_format.status().message()};
  const bool needs_times = output_format.value() == store::CaptionFormat::kVtt ||
                           output_format.value() == store::CaptionFormat::kSrt;
  if (input_format.value() == store::CaptionFormat::kTxt && needs_times) {
    return Failure{kExitUsage, "plain text has no cue times to write as " +
                                   std::string(store::CaptionFormatName(output_format.value())) +
                                   "; write txt (or read vtt or srt)"};
  }
  *in = input_format.value();
  *out = output_format.value();
  return std::nullopt;
}

std::optional<Failure> TranslateCues(mt::Translator& translator, std::vector<store::Cue>& cues) {
  for (size_t i = 0; i < cues.size(); ++i) {
    auto translation = translator.Translate(cues[i].text);
    if (!translation.ok()) {
      return Failure{kExitModel, fmt::format("translating cue {} failed: {}", i + 1,
                                             translation.status().message())};
    }
    cues[i].text = std::move(translation.value());
  }
  return std::nullopt;
}

std::optional<Failure> Translate(const TranslateOptions& options) {
  store::CaptionFormat input_format{};
  store::CaptionFormat output_format{};
  if (auto failure = ChooseFormats(options, &input_format, &output_format)) return failure;
  auto provider = mt::CreateApertiumProvider(options.apertium);
  if (!provider.ok()) return Failure{kExitModel, provider.status().message()};
  auto content = ReadInput(options.input);
  if (!content.ok()) return Failure{kExitBadInput, content.status().message()};
  const std::string name = IsStdStream(options.input) ? "stdin" : options.input;
  auto cues = store::ParseCaptions(input_format, content.value(), name);
  if (!cues.ok()) return Failure{kExitBadInput, cues.status().message()};
  // Opened once the input is known to be good: it starts Apertium's pipeline.
  auto translator = provider.value()->Open(options.from, options.to);
  if (!translator.ok()) {
    const bool unknown = translator.status().code() == Status::Code::kNotFound;
    return Failure{unknown ? kExitUsage : kExitModel, translator.status().message()};
  }
  if (auto failure = TranslateCues(*translator.value(), cues.value())) return failure;
  if (Status s = WriteOutput(options.output, store::RenderCues(output_format, cues.value()));
      !s.ok()) {
    return Failure{kExitFailure, s.message()};
  }
  return std::nullopt;
}

int ListPairs(const TranslateOptions& options) {
  auto provider = mt::CreateApertiumProvider(options.apertium);
  if (!provider.ok()) {
    fmt::print(stderr, "loquilex translate: {}\n", provider.status().message());
    return kExitModel;
  }
  for (const mt::LanguagePair& pair : provider.value()->Pairs()) {
    fmt::print("{} (Apertium {})\n", pair.Name(), pair.engine_name);
  }
  return kExitOk;
}

}  // namespace

CLI::App* AddTranslateCommand(CLI::App& app, TranslateOptions& options) {
  CLI::App* cmd = app.add_subcommand(
      "translate",
      "Translate a caption file (WebVTT, SRT or plain text) with Apertium, keeping each cue's "
      "timing.\nExamples:\n"
      "  loquilex translate captions.vtt --to spa -o captions.es.vtt\n"
      "  loquilex translate talk.srt --from en --to gl -o talk.gl.srt\n"
      "  loquilex translate --list-pairs");
  auto* input =
      cmd->add_option("input", options.input, "Caption file (.vtt, .srt, .txt), or - for stdin");
  auto* to = cmd->add_option("-t,--to", options.to,
                             "Target language, ISO 639-3 or 639-1 (spa, es, cat, glg, ...)");
  auto* list = cmd->add_flag("--list-pairs", options.list_pairs,
                             "Print the installed Apertium pairs and exit");
  input->excludes(list);
  to->excludes(list);
  cmd->add_option("-f,--from", options.from, "Source language, ISO 639-3 or 639-1")
      ->capture_default_str();
  cmd->add_option("output,-o,--output", options.output,
                  "Caption file to write, or - for stdout (default: -). Written atomically: "
                  "nothing is left behind on failure");
  cmd->add_option("--format", options.format,
                  "Output format: vtt, srt, txt or json (default: from the output's extension; "
                  "on stdout the input's format)")
      ->check(CLI::IsMember({"vtt", "srt", "txt", "json"}, CLI::ignore_case));
  cmd->add_option("--input-format", options.input_format,
                  "Input format: vtt, srt or txt (default: from the input's extension)")
      ->check(CLI::IsMember({"vtt", "srt", "txt"}, CLI::ignore_case));
  cmd->add_option("--modes-dir", options.apertium.modes_dir,
                  "Apertium's folder of installed pairs (.mode files)")
      ->envname("LX_APERTIUM_MODES_DIR")
      ->capture_default_str();
  cmd->add_option("--timeout-ms", options.apertium.timeout_ms,
                  "A cue Apertium does not answer within this time restarts it (once)")
      ->check(CLI::Range(1, 3'600'000))
      ->capture_default_str();
  cmd->callback([&options] {
    if (options.list_pairs) return;
    if (options.input.empty()) throw CLI::RequiredError("input");
    if (options.to.empty()) throw CLI::RequiredError("--to");
  });
  return cmd;
}

int RunTranslate(const TranslateOptions& options) {
  if (options.list_pairs) return ListPairs(options);
  if (auto failure = Translate(options)) {
    fmt::print(stderr, "loquilex translate: {}\n", failure->message);
    return failure->exit_code;
  }
  return kExitOk;
}

}  // namespace lx::cli
