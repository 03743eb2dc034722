// `loquilex transcribe`: a recording (file or stdin) in, a caption file out.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "asr/segmenter.h"

namespace lx::cli {

// Everything `transcribe` is told on its command line.
struct TranscribeOptions {
  std::string input;         // audio file path, or "-" for stdin
  std::string output = "-";  // caption file path, or "-" for stdout
  std::string format;        // vtt|srt|txt|json; "" = from the output's extension (stdout: txt)
  std::string model_dir;     // PocketSphinx model folder
  int raw_rate = 0;          // > 0: stdin is raw PCM at this rate (Hz)
  std::string raw_format = "s16le";  // s16le|f32le, with raw_rate
  asr::SegmenterConfig segmenter;
  std::string translate;  // also write a translation into this language ("spa"); "" = none
  std::string mt_modes_dir = "/usr/share/apertium/modes";  // Apertium's installed pairs
  bool quiet = false;                                      // no progress display
  bool progress = false;  // progress display even when stderr is not a terminal
};

// Registers the subcommand on `app`; `options` receives the parsed values and must outlive `app`.
CLI::App* AddTranscribeCommand(CLI::App& app, TranscribeOptions& options);

// Where the translation into `lang` of captions written to `output` goes: the language code
// before the extension ("talk.vtt", "spa" -> "talk.spa.vtt"; "talk" -> "talk.spa"). Pure.
std::string TranslatedOutputPath(const std::string& output, const std::string& lang);

// Runs a transcription and returns the exit code (see cli/app.h). Errors are reported on stderr in
// one line naming the file and the reason; no output file is left behind on failure.
int RunTranscribe(const TranscribeOptions& options);

}  // namespace lx::cli
