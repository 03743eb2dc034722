#include "cli/app.h"

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <exception>

#include "base/logging.h"
#include "cli/serve_command.h"
#include "cli/transcribe_command.h"
#include "cli/translate_command.h"

namespace lx::cli {

int Run(int argc, char** argv) {
  try {
    CLI::App app{
        "loquilex: local-first live captioning and translation. Nothing leaves this machine."};
    app.set_version_flag("--version", "loquilex 0.1.0");
    app.require_subcommand(1);
    std::string log_level = "warn";
    CLI::Option* log_level_opt =
        app.add_option("--log-level", log_level,
                       "trace, debug, info, warn, error or off (serve: info by default)")
            ->envname("LX_LOG_LEVEL")
            ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
            ->capture_default_str();
    TranscribeOptions transcribe;
    CLI::App* transcribe_cmd = AddTranscribeCommand(app, transcribe);
    TranslateOptions translate;
    CLI::App* translate_cmd = AddTranslateCommand(app, translate);
    ServeOptions serve;
    CLI::App* serve_cmd = AddServeCommand(app, serve);
    app.footer(
        "Exit codes: 0 ok, 1 internal failure, 2 usage error, 3 unreadable input, "
        "4 recognizer model or translation engine missing or unusable.\nRun `loquilex <command> "
        "--help` for a "
        "command's options.");
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      const int code = app.exit(e);
      return code == 0 ? kExitOk : kExitUsage;
    }
    if (serve_cmd->parsed()) {
      // A server logs one line per request: info unless told otherwise.
      if (log_level_opt->count() == 0) log_level = "info";
      SetUpLogging(log_level, serve.log_format == "json" ? LogFormat::kJson : LogFormat::kText);
      return RunServe(serve);
    }
    SetUpLogging(log_level);
    if (transcribe_cmd->parsed()) return RunTranscribe(transcribe);
    if (translate_cmd->parsed()) return RunTranslate(translate);
    return kExitUsage;
  } catch (const std::exception& e) {
    fmt::print(stderr, "loquilex: internal error: {}\n", e.what());
    return kExitFailure;
  }
}

}  // namespace lx::cli
