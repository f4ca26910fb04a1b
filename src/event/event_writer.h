// EventWriter: writes events to ECS NDJSON or .klog.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "event/event.h"
#include "event/event_reader.h"
#include "schema/schema_registry.h"

namespace kestrel {

enum class Compression : uint8_t { kNone, kZstd };

struct WriteOptions {
  Compression compression = Compression::kNone;  // .klog only
  int zstd_level = 3;
  size_t block_bytes = size_t{256} * 1024;  // .klog: raw payload bytes per block before it is flushed
};

class EventWriter {
 public:
  virtual ~EventWriter() = default;
  virtual Status Write(const Event& event) = 0;
  // Flushes everything; a writer that was not closed loses its buffered tail.
  virtual Status Close() = 0;
  uint64_t events_written() const { return events_written_; }

 protected:
  uint64_t events_written_ = 0;
};

// Opens `path` ("-" is standard output) for writing in `format`. The registry must outlive
// the writer and name every field id the events use.
Result<std::unique_ptr<EventWriter>> OpenEventWriter(const std::string& path, FileFormat format,
                                                     const WriteOptions& options,
                                                     const SchemaRegistry* registry);

// Reads every event of `input` (whatever OpenEventReader reads) with the ECS registry and writes
// them to `output` as .klog with `options`.
Status ConvertToKlog(const std::string& input, const std::string& output, const WriteOptions& options);

}  // namespace kestrel
