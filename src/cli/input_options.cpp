#include "cli/input_options.h"

#include <fmt/format.h>

namespace kestrel::cli {

void InputOptions::Register(CLI::App& command) {
  command.add_option("inputs", inputs, "Event files: ECS NDJSON, Endgame JSON or .klog ('-' for stdin)")
      ->required();
  command.add_option("--profile", profile, "JSON input profile")
      ->check(CLI::IsMember({"ecs", "endgame"}))
      ->capture_default_str();
  command.add_flag("--skip-bad", skip_bad, "Skip records that fail to decode, and report how many");
}

ReadOptions InputOptions::ToReadOptions() const {
  ReadOptions options;
  options.profile = profile == "endgame" ? InputProfile::kEndgame : InputProfile::kEcs;
  options.skip_bad = skip_bad;
  return options;
}

void ReportSkipped(const EventReader& reader) {
  const ReadStats& stats = reader.stats();
  if (stats.skipped == 0) return;
  for (const Error& error : stats.skipped_errors) fmt::print(stderr, "warning: skipped: {}\n", error.ToString());
  fmt::print(stderr, "{}: skipped {} bad record{}\n", reader.path(), stats.skipped, stats.skipped == 1 ? "" : "s");
}

}  // namespace kestrel::cli
