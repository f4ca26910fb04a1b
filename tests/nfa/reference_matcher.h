// A slow, obviously correct reference for the sequence semantics of docs/sequences.md, for the
// differential test of nfa::SequenceRunner. Test-only: never linked into kestrel.
//
// It sees every event at once and follows the document literally, with plain vectors and
// linear scans: first the positive stages are matched (partial matches kept as (stage, key,
// events), one per stage and key), then each completed match is checked against its
// missing-event stages with all events known. Only eql::Evaluator (a term's filter) and
// nfa::JoinKeyExtractor (a term's join keys) are borrowed from the engine.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "eql/compiler.h"
#include "event/event.h"

namespace kestrel::nfa::testing {

struct ReferenceMatch {
  // One per stage, runs expanded: the event id, or -1 for a missing-event stage.
  std::vector<int64_t> event_ids;

  friend bool operator==(const ReferenceMatch&, const ReferenceMatch&) = default;
};

// The matches of the sequence `query` over `events`, which must be sorted by
// (ts_mono_ns, event_id), in the order hunting prints them: by their last positive event.
std::vector<ReferenceMatch> ReferenceSequenceMatches(const eql::CompiledQuery& query,
                                                     const std::vector<Event>& events);

std::string FormatMatch(const ReferenceMatch& match);  // "[1 -1 4]"

// For GoogleTest's messages.
inline void PrintTo(const ReferenceMatch& match, std::ostream* os) { *os << FormatMatch(match); }

}  // namespace kestrel::nfa::testing
