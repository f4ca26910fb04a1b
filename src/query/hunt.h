// Hunting: runs one compiled query over recorded events (already in (ts_mono_ns, event_id)
// order) and returns the matches, after the query's pipes.
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "eql/compiler.h"
#include "event/event.h"

namespace kestrel::query {

struct Match {
  // The matched events in order; a sequence's missing-event stage (![...]) is nullptr.
  std::vector<const Event*> events;
  // Set by `count` (events empty) and `unique_count` (the first event of its key).
  std::optional<uint64_t> count;
  std::vector<eql::Scalar> key;  // the values counted by, in pipe-argument order
};

struct HuntResult {
  std::vector<Match> matches;
  std::deque<std::string> strings;  // storage for key strings computed by pipes
};

Result<HuntResult> Hunt(const eql::CompiledQuery& query, const std::vector<Event>& events,
                                const SchemaRegistry& registry);

}  // namespace kestrel::query
