// `kestrel convert`: NDJSON <-> .klog, losslessly (see docs/events.md and docs/klog-format.md).
#include <filesystem>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/input_options.h"
#include "event/event_writer.h"

namespace kestrel::cli {
namespace {

struct ConvertOptions {
  InputOptions input;
  std::string output;
  std::string to;
  std::string compress = "none";
  int zstd_level = 3;
};

Result<FileFormat> OutputFormat(const ConvertOptions& o) {
  if (o.to == "klog") return FileFormat::kKlog;
  if (o.to == "ndjson") return FileFormat::kNdjson;
  std::string ext = std::filesystem::path(o.output).extension().string();
  if (ext == ".klog") return FileFormat::kKlog;
  if (ext == ".ndjson" || ext == ".json" || ext == ".jsonl" || o.output == "-") return FileFormat::kNdjson;
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("cannot tell the output format from '{}': use --to ndjson|klog", o.output));
}

int RunConvert(const ConvertOptions& o) {
  auto format = OutputFormat(o);
  if (!format) {
    fmt::print(stderr, "error: {}\n", format.error().ToString());
    return kExitUsage;
  }
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  WriteOptions write_options;
  write_options.compression = o.compress == "zstd" ? Compression::kZstd : Compression::kNone;
  write_options.zstd_level = o.zstd_level;
  auto writer = OpenEventWriter(o.output, *format, write_options, &registry);
  if (!writer) {
    fmt::print(stderr, "error: {}\n", writer.error().ToString());
    return kExitFailure;
  }
  auto read = ReadInputs(
      o.input, registry,
      [&](const EventBatch& batch) -> Result<Flow> {
        for (const Event& event : batch) KESTREL_TRY((*writer)->Write(event));
        return Flow::kContinue;
      },
      "converting");
  if (!read) {
    fmt::print(stderr, "error: {}\n", read.error().ToString());
    return kExitFailure;
  }
  uint64_t skipped = read->skipped;
  if (auto closed = (*writer)->Close(); !closed) {
    fmt::print(stderr, "error: {}\n", closed.error().ToString());
    return kExitFailure;
  }
  fmt::print(stderr, "converted {} events to {}{}\n", (*writer)->events_written(), o.output,
             skipped > 0 ? fmt::format(" ({} bad records skipped)", skipped) : "");
  return kExitOk;
}

}  // namespace

CommandFn AddConvertCommand(CLI::App& app) {
  auto options = std::make_shared<ConvertOptions>();
  CLI::App* cmd = app.add_subcommand("convert", "Convert events between ECS NDJSON and .klog");
  options->input.Register(*cmd);
  cmd->add_option("-o,--output", options->output, "Output file ('-' for stdout, NDJSON)")->required();
  cmd->add_option("--to", options->to, "Output format (default: from the output file's extension)")
      ->check(CLI::IsMember({"ndjson", "klog"}));
  cmd->add_option("--compress", options->compress, ".klog block compression")
      ->check(CLI::IsMember({"none", "zstd"}))
      ->capture_default_str();
  cmd->add_option("--zstd-level", options->zstd_level, "zstd level for --compress zstd")
      ->check(CLI::Range(1, 19))
      ->capture_default_str();
  return [options] { return RunConvert(*options); };
}

}  // namespace kestrel::cli
