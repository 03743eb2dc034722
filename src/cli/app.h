// The loquilex command line: parses arguments and runs a subcommand.
#pragma once

namespace lx::cli {

// Process exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;   // an unexpected internal failure
inline constexpr int kExitUsage = 2;     // bad flags or arguments
inline constexpr int kExitBadInput = 3;  // input unreadable or unsupported
inline constexpr int kExitModel = 4;     // recognizer model or translation engine unusable

// Runs the command line `argv` and returns the process exit code. Never throws.
int Run(int argc, char** argv);

}  // namespace lx::cli
