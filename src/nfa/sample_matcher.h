// Samples (`sample by k [q1] [q2] ...`): for each join key, one event per query, all distinct,
// taken in document order (not time order) and regardless of their relative order in time.
// Each key gives at most one sample; samples come out sorted by their key values.
#pragma once

#include <cstdint>
#include <vector>

#include "eql/compiler.h"
#include "event/event.h"

namespace kestrel::nfa {

// `events` in document (input) order. `term_predicate` (with `context`), when set, decides
// whether an event matches a term's filter instead of the native evaluator (another backend).
using SampleTermPredicate = bool (*)(void* context, uint32_t term_index, const Event& event);
std::vector<std::vector<const Event*>> FindSamples(const eql::CompiledQuery& query,
                                                   const std::vector<const Event*>& events,
                                                   SampleTermPredicate term_predicate = nullptr,
                                                   void* context = nullptr);

}  // namespace kestrel::nfa
