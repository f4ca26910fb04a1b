// Options shared by every command that reads recorded events.
#pragma once

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

}  // namespace kestrel::cli
