// Options shared by every command that reads recorded events.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "event/event_reader.h"

namespace kestrel::cli {

struct InputOptions {
  std::vector<std::string> inputs;
  std::string profile = "ecs";
  bool skip_bad = false;

  void Register(CLI::App& command);
  ReadOptions ToReadOptions() const;
};

// Prints the skipped-record summary of a reader to stderr (nothing when none were skipped).
void ReportSkipped(const EventReader& reader);

enum class Flow : uint8_t { kContinue, kStop };

struct ReadSummary {
  uint64_t records = 0;
  uint64_t skipped = 0;
  bool stopped = false;  // the callback asked to stop
};

// Reads every input in turn and hands each batch to `on_batch` (events valid until it returns).
// Event ids continue across inputs; skipped records are reported per input; a progress line is
// drawn on a terminal when `progress_verb` is set ("converting", "reading").
Result<ReadSummary> ReadInputs(const InputOptions& input, SchemaRegistry& registry,
                               const std::function<Result<Flow>(const EventBatch&)>& on_batch,
                               std::string_view progress_verb = {});

}  // namespace kestrel::cli
