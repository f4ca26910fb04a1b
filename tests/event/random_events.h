// Random events for property tests: every value kind, arrays (including empty and nested
// ones), unusual strings (empty, quotes, control bytes, invalid UTF-8), catalog and dynamic
// fields.
#pragma once

#include <cstddef>
#include <cstdint>

#include "event/event_batch.h"
#include "schema/schema_registry.h"

namespace kestrel::testing {

struct RandomEventOptions {
  bool json_safe = false;  // only values that survive JSON text exactly (see ndjson round trip)
};

// Appends n events to `batch`, deterministic for a given seed. Registers dynamic fields and
// event types in `registry`.
void MakeRandomEvents(uint64_t seed, size_t n, SchemaRegistry& registry, EventBatch& batch,
                      RandomEventOptions options = {});

}  // namespace kestrel::testing
