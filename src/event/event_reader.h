// EventReader: a stream of events from a recording (ECS/Endgame NDJSON or .klog), read in
// batches. OpenEventReader picks the format from the first bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "event/event_batch.h"
#include "schema/schema_registry.h"

namespace kestrel {

enum class InputProfile : uint8_t {
  kEcs,      // ECS documents: `@timestamp`, `event.category`, nested or dotted keys
  kEndgame,  // flat Endgame events: `event_type`, `timestamp` as Windows FILETIME
};

struct ReadOptions {
  InputProfile profile = InputProfile::kEcs;
  // Skip records that fail to decode (counted, first few kept) instead of failing.
  bool skip_bad = false;
  // event_id given to the first record that does not carry `kestrel.event_id`; later records
  // count up from it in input order.
  uint64_t first_event_id = 1;
  // Events per batch returned by Next (a .klog reader returns whole blocks, which may be larger).
  size_t batch_events = 4096;
  // A single JSON record larger than this is an error (bounds memory on hostile input).
  size_t max_record_bytes = 64u << 20;
};

struct ReadStats {
  uint64_t records = 0;        // events produced
  uint64_t skipped = 0;        // bad records skipped under skip_bad
  uint64_t bytes = 0;          // input bytes consumed so far
  uint64_t total_bytes = 0;    // input size when known (regular files), else 0
  std::vector<Error> skipped_errors;  // the first few reasons for skipping, with locations
};

class EventReader {
 public:
  virtual ~EventReader() = default;

  // Clears `batch` and fills it with the next events. Returns false (and an empty batch) at the
  // end of input. Events stay valid until the next call to Next or until the batch is cleared.
  virtual Result<bool> Next(EventBatch& batch) = 0;

  const ReadStats& stats() const { return stats_; }
  const std::string& path() const { return path_; }

 protected:
  explicit EventReader(std::string path) : path_(std::move(path)) {}
  // Records a skipped record under skip_bad.
  void NoteSkipped(Error error);

  std::string path_;
  ReadStats stats_;
};

enum class FileFormat : uint8_t { kNdjson, kKlog };

// Opens `path` ("-" is standard input) and detects NDJSON or .klog from its first bytes.
// The registry receives the dynamic fields and event types met while reading.
Result<std::unique_ptr<EventReader>> OpenEventReader(const std::string& path, const ReadOptions& options,
                                                     SchemaRegistry* registry);

}  // namespace kestrel
