// kestrel: Linux host threat detection and response. See `kestrel --help`.
#include <exception>
#include <map>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.h"

namespace {

int Run(int argc, char** argv) {
  using namespace kestrel::cli;
  CLI::App app{"Kestrel: Linux host threat detection and response"};
  app.set_version_flag("--version", "kestrel 0.1.0");
  app.require_subcommand(1);
  std::map<std::string, CommandFn> commands;
  commands["convert"] = AddConvertCommand(app);
  commands["stats"] = AddStatsCommand(app);
  commands["explain"] = AddExplainCommand(app);
  commands["query"] = AddQueryCommand(app);
  commands["replay"] = AddReplayCommand(app);
  commands["compile"] = AddCompileCommand(app);
  commands["run"] = AddRunCommand(app);
  commands["validate"] = AddValidateCommand(app);
  commands["list"] = AddListCommand(app);
  commands["test"] = AddTestCommand(app);
  commands["gen"] = AddGenCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  // require_subcommand(1): exactly one was given.
  return commands.at(app.get_subcommands().front()->get_name())();
}

}  // namespace

int main(int argc, char** argv) {
  // Nothing of ours throws; this is for a library (CLI11, the standard library) that does.
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "kestrel: error: {}\n", e.what());
    return kestrel::cli::kExitFailure;
  }
}
