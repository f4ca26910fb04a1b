#include "cli/input_options.h"

#include <optional>

#include <fmt/format.h>

#include "cli/progress.h"

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

Result<ReadSummary> ReadInputs(const InputOptions& input, SchemaRegistry& registry,
                               const std::function<Result<Flow>(const EventBatch&)>& on_batch,
                               std::string_view progress_verb) {
  ReadOptions read_options = input.ToReadOptions();
  ReadSummary summary;
  EventBatch batch;
  for (const std::string& path : input.inputs) {
    KESTREL_ASSIGN_OR_RETURN(auto reader, OpenEventReader(path, read_options, &registry));
    std::optional<Progress> progress;
    if (!progress_verb.empty()) progress.emplace(fmt::format("{} {}", progress_verb, path));
    for (;;) {
      KESTREL_ASSIGN_OR_RETURN(bool more, reader->Next(batch));
      if (!more) break;
      KESTREL_ASSIGN_OR_RETURN(Flow flow, on_batch(batch));
      const ReadStats& stats = reader->stats();
      if (progress) progress->Update(stats.bytes, stats.total_bytes, stats.records);
      if (flow == Flow::kStop) {
        summary.stopped = true;
        return summary;
      }
    }
    if (progress) progress->Finish();
    ReportSkipped(*reader);
    summary.records += reader->stats().records;
    summary.skipped += reader->stats().skipped;
    read_options.first_event_id += reader->stats().records;  // ids continue across inputs
  }
  return summary;
}

}  // namespace kestrel::cli
