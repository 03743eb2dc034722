// `loquilex translate`: a caption file (WebVTT, SRT or plain text) in, the same cues translated
// out, with Apertium.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "mt/apertium_provider.h"

namespace lx::cli {

// Everything `translate` is told on its command line.
struct TranslateOptions {
  std::string input;         // caption file path, or "-" for stdin
  std::string output = "-";  // caption file path, or "-" for stdout
  std::string from = "eng";  // source language (ISO 639-1 or 639-3)
  std::string to;            // target language
  std::string input_format;  // vtt|srt|txt; "" = from the input's extension
  std::string format;        // vtt|srt|txt|json; "" = from the output's extension (stdout: input's)
  mt::ApertiumOptions apertium;
  bool list_pairs = false;  // print the installed pairs and exit
};

// Registers the subcommand on `app`; `options` receives the parsed values and must outlive `app`.
CLI::App* AddTranslateCommand(CLI::App& app, TranslateOptions& options);

// Translates the cues and returns the exit code (see cli/app.h): 2 for an unknown pair or bad
// flags, 3 for unreadable or malformed input (the message names the line), 4 when Apertium
// cannot be started or fails. Errors go to stderr in one line; no output file is left behind
// on failure.
int RunTranslate(const TranslateOptions& options);

}  // namespace lx::cli
