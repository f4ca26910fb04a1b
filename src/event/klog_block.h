// .klog events block decoding, internal to the event module (docs/klog-format.md). The reader
// (klog_reader.cpp) owns the file, its block headers and its schema; this decodes one events
// block's payload into a batch: the value table and shapes go into the batch's arena, and each
// record becomes an Event that points at its value indices in the payload. Nothing is decoded
// per field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "event/event_batch.h"
#include "event/klog_format.h"
#include "schema/schema_registry.h"

namespace kestrel::klog {

inline tl::unexpected<Error> Corrupt(std::string message) {
  return MakeError(ErrorCode::kCorrupt, std::move(message));
}

// File id -> registry id tables.
struct RemapTables {
  const FieldId* fields;
  size_t num_fields;
  const EventTypeId* types;
  size_t num_types;
};

// Where an events block is wrong: the error and the offset in the payload of the value entry,
// shape or record that is, or kWholeBlock when the parts do not add up.
struct BlockDefect {
  static constexpr size_t kWholeBlock = SIZE_MAX;
  size_t offset;
  Error error;
};

// Scratch memory reused across blocks.
struct BlockScratch {
  std::vector<uint8_t> depths;                         // per value entry: array nesting
  std::vector<std::pair<FieldId, uint16_t>> sorted;    // a shape's (registry id, slot)
};

// Decodes the `count` records of an events block whose payload is `payload` and appends them to
// `batch`. The events point into `payload`, which must outlive them. `registry` names fields in
// errors.
tl::expected<void, BlockDefect> DecodeEventsBlock(const RemapTables& tables,
                                                  const SchemaRegistry& registry,
                                                  std::span<const uint8_t> payload, uint32_t count,
                                                  EventBatch& batch, BlockScratch& scratch);

}  // namespace kestrel::klog
