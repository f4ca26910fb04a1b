// SequenceMatcher: matches a compiled `sequence` query over events fed in (ts_mono_ns, event_id)
// order, with Elasticsearch EQL's semantics (docs/sequences.md):
// - each stage keeps, per join key, the partial matches that completed it; an event matching
//   stage k advances the most recent partial match of stage k-1 with its key and drops the
//   older ones; an event matching stage 0 starts a new partial match;
// - stages are tried from the last to the first, so one event never advances itself twice;
// - `maxspan` drops a partial match whose next event is more than maxspan after its first;
// - `until` drops the partial matches of its key; `with runs=N` repeats a stage N times;
// - join keys: a null key excludes the event unless the key is optional (`?field`); a
//   multi-valued key gives one key per distinct value (several: their cartesian product).
// Missing-event stages (![...]) are checked when a match completes, against the events seen.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "eql/compiler.h"
#include "eql/evaluator.h"
#include "event/event.h"
#include "nfa/join_keys.h"

namespace kestrel::nfa {

struct SequenceMatch {
  std::vector<const Event*> events;  // one per stage; nullptr for a missing-event stage
};

class SequenceMatcher {
 public:
  explicit SequenceMatcher(const eql::CompiledQuery& query);

  // Feeds the next event. Matches completed by it are appended to `out`, in completion order.
  // The event must stay alive as long as the matcher (partial matches point to it).
  void Process(const Event& event, std::vector<SequenceMatch>& out);

  // Call after the last event: completes matches that waited on trailing missing-event stages.
  void Finish(std::vector<SequenceMatch>& out);

  size_t pending() const;

  // Lineage predicates in the stage queries ask this oracle.
  void set_lineage(eql::LineageOracle* oracle) { evaluator_.set_lineage(oracle); }

 private:
  struct Stage {
    const eql::CompiledTerm* term;
    bool missing;
  };
  struct Partial {
    std::vector<const Event*> events;  // positive stages only
    uint64_t first_ts = 0;
  };
  using KeyMap = std::unordered_map<std::string, std::vector<Partial>>;

  // The join keys of `event` for `term`, serialized; empty if a required key is null.
  void Keys(const eql::CompiledTerm& term, const Event& event, std::vector<std::string>& keys);
  bool MissingSatisfied(const std::string& key, const std::vector<const Event*>& events);
  void Emit(const std::string& key, Partial&& partial, std::vector<SequenceMatch>& out);

  const eql::CompiledQuery& query_;
  std::vector<const eql::CompiledTerm*> positive_;  // positive stages, runs expanded
  std::vector<size_t> positive_index_;              // stage index (with missing stages) of each
  size_t total_stages_ = 0;
  struct MissingStage {
    const eql::CompiledTerm* term;
    size_t after_positive;  // number of positive stages before it
  };
  std::vector<MissingStage> missing_;
  std::vector<KeyMap> pending_;  // per positive stage except the last
  // Events of missing-event stages, per stage and key, for the completion check.
  std::vector<std::unordered_map<std::string, std::vector<const Event*>>> missing_seen_;
  // Matches whose trailing missing stages can still be contradicted by later events.
  struct Waiting {
    std::string key;
    Partial partial;
  };
  std::vector<Waiting> waiting_;
  eql::Evaluator evaluator_;
  std::vector<std::string> keys_;
  JoinKeyExtractor keys_extractor_;
  std::vector<JoinKey> join_keys_;
};

}  // namespace kestrel::nfa
