// Hunting: runs one compiled query over recorded events (already in (ts_mono_ns, event_id)
// order) and returns the matches, after the query's pipes.
#pragma once

#include <vector>

#include "common/result.h"
#include "eql/compiler.h"
#include "event/event.h"

namespace kestrel::query {

struct Match {
  // The matched events in order; a sequence's missing-event stage (![...]) is nullptr.
  std::vector<const Event*> events;
};

Result<std::vector<Match>> Hunt(const eql::CompiledQuery& query, const std::vector<Event>& events,
                                const SchemaRegistry& registry);

}  // namespace kestrel::query
