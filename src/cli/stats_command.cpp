// `kestrel stats`: counts events by type and field presence in recorded event files.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/input_options.h"
#include "event/ndjson.h"
#include "event/timestamp.h"

namespace kestrel::cli {
namespace {

struct StatsOptions {
  InputOptions input;
  bool json = false;
};

struct Tally {
  uint64_t events = 0;
  std::vector<uint64_t> by_type;   // indexed by EventTypeId
  std::vector<uint64_t> by_field;  // indexed by FieldId
  uint64_t min_ts = UINT64_MAX;
  uint64_t max_ts = 0;

  void Add(const Event& event) {
    ++events;
    if (by_type.size() <= event.type()) by_type.resize(event.type() + 1u);
    ++by_type[event.type()];
    for (const Field& field : event.fields()) {
      if (by_field.size() <= field.id.value) by_field.resize(field.id.value + 1u);
      ++by_field[field.id.value];
    }
    min_ts = std::min(min_ts, event.ts_wall_ns());
    max_ts = std::max(max_ts, event.ts_wall_ns());
  }
};

std::vector<std::pair<std::string, uint64_t>> Sorted(const std::vector<uint64_t>& counts, auto name_of) {
  std::vector<std::pair<std::string, uint64_t>> rows;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] > 0) rows.emplace_back(std::string(name_of(i)), counts[i]);
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  return rows;
}

void PrintJson(const Tally& t, const SchemaRegistry& registry, uint64_t skipped) {
  auto types = Sorted(t.by_type, [&](size_t i) { return registry.event_type_name(static_cast<EventTypeId>(i)); });
  auto fields = Sorted(t.by_field, [&](size_t i) { return registry.name(FieldId{static_cast<uint32_t>(i)}); });
  std::string out = fmt::format(R"({{"events":{},"skipped":{})", t.events, skipped);
  if (t.events > 0) {
    out += fmt::format(R"(,"first":"{}","last":"{}")", FormatTimestamp(static_cast<int64_t>(t.min_ts)),
                       FormatTimestamp(static_cast<int64_t>(t.max_ts)));
  }
  auto object = [&](const char* key, const auto& rows) {
    out += fmt::format(",\"{}\":{{", key);
    for (size_t i = 0; i < rows.size(); ++i) {
      // Names come from input: escape them as JSON strings.
      if (i > 0) out += ',';
      AppendJsonString(out, rows[i].first);
      out += fmt::format(":{}", rows[i].second);
    }
    out += '}';
  };
  object("types", types);
  object("fields", fields);
  fmt::print("{}}}\n", out);
}

void PrintTable(const Tally& t, const SchemaRegistry& registry, uint64_t skipped) {
  fmt::print("events: {}", t.events);
  if (skipped > 0) fmt::print(" ({} bad records skipped)", skipped);
  fmt::print("\n");
  if (t.events == 0) return;
  fmt::print("time range: {} .. {}\n\n", FormatTimestamp(static_cast<int64_t>(t.min_ts)),
             FormatTimestamp(static_cast<int64_t>(t.max_ts)));
  fmt::print("{:<40} {:>12}\n", "event type", "events");
  for (const auto& [name, n] : Sorted(t.by_type, [&](size_t i) {
         return registry.event_type_name(static_cast<EventTypeId>(i));
       })) {
    fmt::print("{:<40} {:>12}\n", name, n);
  }
  fmt::print("\n{:<40} {:>12} {:>8}\n", "field", "present", "share");
  for (const auto& [name, n] :
       Sorted(t.by_field, [&](size_t i) { return registry.name(FieldId{static_cast<uint32_t>(i)}); })) {
    fmt::print("{:<40} {:>12} {:>7.1f}%\n", name, n, 100.0 * static_cast<double>(n) / static_cast<double>(t.events));
  }
}

int RunStats(const StatsOptions& o) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  Tally tally;
  auto read = ReadInputs(
      o.input, registry,
      [&](const EventBatch& batch) -> Result<Flow> {
        for (const Event& event : batch) tally.Add(event);
        return Flow::kContinue;
      },
      "reading");
  if (!read) {
    fmt::print(stderr, "error: {}\n", read.error().ToString());
    return kExitFailure;
  }
  uint64_t skipped = read->skipped;
  if (o.json) {
    PrintJson(tally, registry, skipped);
  } else {
    PrintTable(tally, registry, skipped);
  }
  return kExitOk;
}

}  // namespace

CommandFn AddStatsCommand(CLI::App& app) {
  auto options = std::make_shared<StatsOptions>();
  CLI::App* cmd = app.add_subcommand("stats", "Count events by type and field presence");
  options->input.Register(*cmd);
  cmd->add_flag("--json", options->json, "Print one JSON object instead of tables");
  return [options] { return RunStats(*options); };
}

}  // namespace kestrel::cli
