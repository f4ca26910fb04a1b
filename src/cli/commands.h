// The subcommands of `kestrel`. Each registers its options on the CLI11 app and returns the
// function that runs it; the function returns the process exit code.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace kestrel::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // findings, or the command failed
inline constexpr int kExitUsage = 2;

using CommandFn = std::function<int()>;

CommandFn AddCompileCommand(CLI::App& app);
CommandFn AddConvertCommand(CLI::App& app);
CommandFn AddStatsCommand(CLI::App& app);
CommandFn AddExplainCommand(CLI::App& app);
CommandFn AddGenCommand(CLI::App& app);
CommandFn AddQueryCommand(CLI::App& app);
CommandFn AddReplayCommand(CLI::App& app);
CommandFn AddRunCommand(CLI::App& app);
CommandFn AddValidateCommand(CLI::App& app);
CommandFn AddListCommand(CLI::App& app);
CommandFn AddTestCommand(CLI::App& app);

}  // namespace kestrel::cli
