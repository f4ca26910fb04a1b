// Hunting: runs one compiled query over recorded events (already in (ts_mono_ns, event_id)
// order) and returns the matches, after the query's pipes.
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "eql/compiler.h"
#include "eql/evaluator.h"
#include "event/event_batch.h"
#include "event/event_builder.h"
#include "event/event.h"
#include "query/backend_terms.h"

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
  std::deque<Event> events;         // storage for events the matches point to (streaming)
};

// Streaming form for event queries without lineage: feed batches as they are read; only the
// matching events are copied (into `store`, which must outlive the result). Finish sorts the
// matches into (ts_mono_ns, event_id) order and applies the pipes.
class EventQueryStream {
 public:
  // `backend` (may be null): the query's condition on a Wasm / Lua backend instead of native.
  explicit EventQueryStream(const eql::CompiledQuery& query, BackendTerms* backend = nullptr)
      : query_(query), backend_(backend) {}
  static bool Supports(const eql::CompiledQuery& query) {
    return query.kind == eql::QueryKind::kEvent && query.lineage.empty();
  }
  void Feed(const EventBatch& batch, EventBuilder& store);
  Result<HuntResult> Finish();
  uint64_t events_seen() const { return seen_; }

 private:
  const eql::CompiledQuery& query_;
  BackendTerms* backend_;
  eql::Evaluator evaluator_;
  std::vector<Event> matched_;
  uint64_t seen_ = 0;
};

// `backend` (may be null): the query's conditions on a Wasm / Lua backend instead of native.
Result<HuntResult> Hunt(const eql::CompiledQuery& query, const std::vector<Event>& events,
                        const SchemaRegistry& registry, BackendTerms* backend = nullptr);

}  // namespace kestrel::query
