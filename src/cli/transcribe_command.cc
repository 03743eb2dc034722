#include "cli/transcribe_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "asr/pocketsphinx_engine.h"
#include "audio/audio_reader.h"
#include "base/clock.h"
#include "cli/app.h"
#include "cli/paths.h"
#include "cli/progress.h"
#include "events/event.h"
#include "mt/apertium_provider.h"
#include "mt/translator.h"
#include "store/atomic_file.h"
#include "store/caption_writers.h"

namespace lx::cli {
namespace {

// Inputs at least this long get a progress display on a terminal.
constexpr double kProgressMinSeconds = 5;
// Audio handed to the recognizer per step: 100 ms.
constexpr size_t kReadSamples = audio::kSampleRate / 10;

// A failure and the exit code it maps to.
struct Failure {
  int exit_code;
  std::string message;
};

// Collects finals in emission order.
class FinalCollector final : public asr::CaptionSink {
 public:
  void OnPartial(const asr::Partial& /*partial*/) override {}
  void OnFinal(const asr::Final& final_caption) override { finals_.push_back(final_caption); }
  std::vector<asr::Final>& finals() { return finals_; }

 private:
  std::vector<asr::Final> finals_;
};

bool IsStdStream(const std::string& path) { return path == "-"; }

Result<store::CaptionFormat> ChooseFormat(const TranscribeOptions& options) {
  if (!options.format.empty()) return store::CaptionFormatFromName(options.format);
  if (IsStdStream(options.output)) return store::CaptionFormat::kTxt;
  auto format = store::CaptionFormatFromPath(options.output);
  if (!format.ok()) {
    return Status::InvalidArgument(format.status().message() + "; name the format with --format");
  }
  return format;
}

Status CheckOutputWritable(const std::string& output) {
  if (IsStdStream(output)) return Status::Ok();
  namespace fs = std::filesystem;
  const fs::path parent =
      fs::path(output).parent_path().empty() ? fs::path(".") : fs::path(output).parent_path();
  std::error_code ec;
  if (!fs::is_directory(parent, ec)) {
    return Status::InvalidArgument(output + ": the folder " + parent.string() + " does not exist");
  }
  if (::access(parent.c_str(), W_OK) != 0) {
    return Status::InvalidArgument(output + ": the folder " + parent.string() + " is not writable");
  }
  if (fs::is_directory(output, ec)) return Status::InvalidArgument(output + " is a folder");
  return Status::Ok();
}

Result<std::unique_ptr<audio::AudioSource>> OpenInput(const TranscribeOptions& options) {
  if (!IsStdStream(options.input)) return audio::OpenAudioFile(options.input);
  if (options.raw_rate <= 0) return audio::OpenAudioStream(STDIN_FILENO, "stdin");
  const auto format =
      options.raw_format == "f32le" ? audio::RawFormat::kF32LE : audio::RawFormat::kS16LE;
  return audio::OpenRawStream(STDIN_FILENO, options.raw_rate, format, "stdin");
}

bool WantsProgress(const TranscribeOptions& options, double duration_s) {
  if (options.quiet) return false;
  if (options.progress) return true;
  return ::isatty(STDERR_FILENO) == 1 && (duration_s < 0 || duration_s >= kProgressMinSeconds);
}

// Reads the whole source through the segmenter. Input errors map to exit 3.
std::optional<Failure> Recognize(audio::AudioSource& source, asr::Segmenter& segmenter,
                                 ProgressBar* progress) {
  std::vector<float> samples;
  while (true) {
    auto read = source.Read(&samples, kReadSamples);
    if (!read.ok()) return Failure{kExitBadInput, read.status().message()};
    if (read.value() == 0) break;
    if (Status s = segmenter.Feed(samples); !s.ok()) {
      return Failure{kExitFailure, "recognition failed: " + s.message()};
    }
    if (progress != nullptr) progress->Update(segmenter.audio_seconds());
  }
  if (Status s = segmenter.Finish(); !s.ok()) {
    return Failure{kExitFailure, "recognition failed: " + s.message()};
  }
  if (segmenter.audio_seconds() == 0) {
    return Failure{kExitBadInput, source.info().name + ": no audio (the input holds no samples)"};
  }
  if (progress != nullptr) progress->Finish(segmenter.audio_seconds());
  return std::nullopt;
}

Status WriteOutput(const std::string& output, const std::string& content) {
  if (!IsStdStream(output)) return store::WriteFileAtomically(output, content);
  if (std::fwrite(content.data(), 1, content.size(), stdout) != content.size() ||
      std::fflush(stdout) != 0) {
    return Status::IOError("cannot write to standard output");
  }
  return Status::Ok();
}

// The language the recognizer's finals are in.
constexpr char kSourceLanguage[] = "eng";

// An Apertium translator from English into `lang`, and the provider that owns its pipeline.
struct Translation {
  std::unique_ptr<mt::TranslatorProvider> provider;
  std::shared_ptr<mt::Translator> translator;
};

Result<Translation> OpenTranslation(const TranscribeOptions& options) {
  mt::ApertiumOptions apertium;
  apertium.modes_dir = options.mt_modes_dir;
  auto provider = mt::CreateApertiumProvider(apertium);
  if (!provider.ok()) {
    return Status::Unavailable("translation needs Apertium (" + provider.status().message() +
                               "); install apertium and a pair such as apertium-eng-spa");
  }
  auto translator = provider.value()->Open(kSourceLanguage, options.translate);
  if (translator.status().code() == Status::Code::kNotFound) {
    std::string targets;
    for (const mt::LanguagePair& pair : provider.value()->Pairs()) {
      if (pair.source == kSourceLanguage) targets += (targets.empty() ? "" : ", ") + pair.target;
    }
    return Status::InvalidArgument("--translate " + options.translate +
                                   ": no such translation from English is installed; installed: " +
                                   (targets.empty() ? "none" : targets));
  }
  if (!translator.ok()) return translator.status();
  return Translation{std::move(provider).value(), std::move(translator).value()};
}

// Each final's translation, in order (finals without text get none). A failure names the
// segment.
Result<std::vector<events::TranslationFinal>> TranslateFinals(
    mt::Translator& translator, const std::string& provider,
    const std::vector<asr::Final>& finals) {
  std::vector<events::TranslationFinal> translations;
  for (const asr::Final& final_caption : finals) {
    if (final_caption.text.empty()) continue;
    auto text = translator.Translate(final_caption.text);
    if (!text.ok()) {
      return Status::Unavailable("translating caption " + std::to_string(final_caption.segment_id) +
                                 " failed: " + text.status().message());
    }
    translations.push_back({.segment_id = final_caption.segment_id,
                            .src_text = final_caption.text,
                            .text = std::move(text).value(),
                            .src_lang = translator.pair().source,
                            .tgt_lang = translator.pair().target,
                            .provider = provider,
                            .latency_ms = 0});
  }
  return translations;
}

// Checks what --translate needs before any work: a file to write beside, and the translator.
Result<std::optional<Translation>> PrepareTranslation(const TranscribeOptions& options) {
  if (options.translate.empty()) return std::optional<Translation>();
  const bool letters = std::all_of(options.translate.begin(), options.translate.end(),
                                   [](char c) { return c >= 'a' && c <= 'z'; });
  if (!letters) {
    return Status::InvalidArgument("--translate " + options.translate +
                                   ": give a language code such as spa or es");
  }
  if (IsStdStream(options.output)) {
    return Status::InvalidArgument(
        "--translate writes a second file beside the output: give one with -o");
  }
  auto translation = OpenTranslation(options);
  if (!translation.ok()) return translation.status();
  return std::optional<Translation>(std::move(translation).value());
}

std::optional<Failure> Transcribe(const TranscribeOptions& options) {
  if (Status s = options.segmenter.Validate(); !s.ok()) return Failure{kExitUsage, s.message()};
  auto format = ChooseFormat(options);
  if (!format.ok()) return Failure{kExitUsage, format.status().message()};
  if (Status s = CheckOutputWritable(options.output); !s.ok()) {
    return Failure{kExitUsage, s.message()};
  }
  auto translation = PrepareTranslation(options);
  if (!translation.ok()) {
    const bool usage = translation.status().code() == Status::Code::kInvalidArgument;
    return Failure{usage ? kExitUsage : kExitModel, translation.status().message()};
  }
  auto source = OpenInput(options);
  if (!source.ok()) return Failure{kExitBadInput, source.status().message()};
  auto model = asr::LoadPocketSphinxModel(options.model_dir, {CacheDir()});
  if (!model.ok()) return Failure{kExitModel, model.status().message()};
  auto engine = model.value()->CreateStream(options.segmenter.EngineConfig());
  if (!engine.ok()) return Failure{kExitModel, engine.status().message()};

  const Clock& clock = SteadyClock::Instance();
  FinalCollector collector;
  asr::Segmenter segmenter(std::move(engine.value()), options.segmenter, clock, &collector);
  const double duration_s = source.value()->DurationSeconds();
  std::optional<ProgressBar> progress;
  if (WantsProgress(options, duration_s)) progress.emplace(stderr, duration_s, clock);
  if (auto failure = Recognize(*source.value(), segmenter, progress ? &*progress : nullptr)) {
    return failure;
  }

  const asr::StreamMetrics& metrics = segmenter.metrics();
  const store::TranscriptInfo info{std::string(model.value()->engine_name()),
                                   std::string(model.value()->model_name()),
                                   source.value()->info().name, metrics.audio_seconds, metrics};
  const std::string content = store::RenderCaptions(format.value(), collector.finals(), info);
  std::string translated;  // rendered before anything is written: a failure writes nothing
  if (translation.value()) {
    const Translation& t = *translation.value();
    auto translations = TranslateFinals(*t.translator, t.provider->name(), collector.finals());
    if (!translations.ok()) return Failure{kExitModel, translations.status().message()};
    translated = store::RenderCaptions(
        format.value(), store::TranslatedFinals(collector.finals(), translations.value()), info);
  }
  if (Status s = WriteOutput(options.output, content); !s.ok()) {
    return Failure{kExitFailure, s.message()};
  }
  if (translation.value()) {
    const std::string path = TranslatedOutputPath(options.output, options.translate);
    if (Status s = WriteOutput(path, translated); !s.ok()) {
      return Failure{kExitFailure, s.message()};
    }
  }
  return std::nullopt;
}

}  // namespace

std::string TranslatedOutputPath(const std::string& output, const std::string& lang) {
  const std::filesystem::path path(output);
  std::filesystem::path translated = path.parent_path() / path.stem();
  translated += "." + lang + path.extension().string();
  return translated.string();
}

CLI::App* AddTranscribeCommand(CLI::App& app, TranscribeOptions& options) {
  CLI::App* cmd =
      app.add_subcommand("transcribe",
                         "Transcribe a recording into captions (WebVTT, SRT, plain text or JSON).\n"
                         "Examples:\n"
                         "  loquilex transcribe talk.wav -o talk.vtt\n"
                         "  loquilex transcribe talk.flac --format json -\n"
                         "  loquilex transcribe talk.wav --translate spa -o talk.vtt   "
                         "# also writes talk.spa.vtt\n"
                         "  sox talk.wav -t raw -r 16000 -e signed -b 16 -c 1 - | "
                         "loquilex transcribe - --raw-rate 16000 --format srt");
  cmd->add_option("input", options.input,
                  "Audio file (WAV, FLAC, OGG, ... any rate and channels), or - for stdin")
      ->required();
  cmd->add_option("output,-o,--output", options.output,
                  "Caption file to write, or - for stdout (default: -). Written atomically: "
                  "nothing is left behind on failure");
  cmd->add_option("-f,--format", options.format,
                  "vtt, srt, txt or json (default: from the output's extension; txt on stdout)")
      ->check(CLI::IsMember({"vtt", "srt", "txt", "json"}, CLI::ignore_case));
  cmd->add_option("--model-dir", options.model_dir, "PocketSphinx model folder")
      ->envname("LX_ASR_MODEL_DIR")
      ->default_val(std::string(asr::kDefaultPocketSphinxModelDir));
  cmd->add_option("--raw-rate", options.raw_rate,
                  "Read stdin as raw mono little-endian PCM at this sample rate (Hz)")
      ->check(CLI::Range(1, 768000));
  cmd->add_option("--raw-format", options.raw_format, "Sample format of raw stdin")
      ->check(CLI::IsMember({"s16le", "f32le"}))
      ->capture_default_str();
  cmd->add_option("--silence-ms", options.segmenter.silence_ms,
                  "Silence that ends a caption segment, in ms")
      ->capture_default_str();
  cmd->add_option("--max-segment-s", options.segmenter.max_segment_s,
                  "Longest caption segment before it is cut, in seconds")
      ->capture_default_str();
  cmd->add_option("--partial-interval-ms", options.segmenter.partial_interval_ms,
                  "Audio between two partial hypotheses, in ms")
      ->capture_default_str();
  cmd->add_option("--stable-after-ms", options.segmenter.stable_after_ms,
                  "Audio over which a partial's words must hold to be marked stable, in ms")
      ->capture_default_str();
  cmd->add_option("--translate", options.translate,
                  "Also write the captions translated from English into this language (ISO "
                  "639-3 or 639-1, e.g. spa or es) with Apertium, to the output's name with the "
                  "language before its extension (talk.vtt -> talk.spa.vtt); needs -o")
      ->transform([](const std::string& code) { return mt::NormalizeLanguageCode(code); });
  cmd->add_option("--mt-modes-dir", options.mt_modes_dir,
                  "Apertium's modes folder, where the installed pairs are found")
      ->envname("LX_APERTIUM_MODES_DIR")
      ->capture_default_str();
  auto* quiet = cmd->add_flag("-q,--quiet", options.quiet, "No progress display");
  cmd->add_flag("--progress", options.progress, "Show progress even when stderr is not a terminal")
      ->excludes(quiet);
  return cmd;
}

int RunTranscribe(const TranscribeOptions& options) {
  if (auto failure = Transcribe(options)) {
    fmt::print(stderr, "loquilex transcribe: {}\n", failure->message);
    return failure->exit_code;
  }
  return kExitOk;
}

}  // namespace lx::cli
