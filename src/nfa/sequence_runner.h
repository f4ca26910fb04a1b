// SequenceRunner: matches one compiled `sequence` query over a stream of events fed in
// (ts_mono_ns, event_id) order, with Elasticsearch EQL's semantics (docs/sequences.md), deciding
// everything online: partial matches, `until`, maxspan, runs, and missing-event stages, whose
// matches are held back only as long as a later event could still discard them. Its state is a
// StateStore, bounded by StateLimits; hunting runs it unbounded, the detection engine bounded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "eql/compiler.h"
#include "eql/evaluator.h"
#include "event/stored_event.h"
#include "nfa/join_keys.h"
#include "nfa/state_store.h"

namespace kestrel::nfa {

struct SequenceMatch {
  // One per stage, runs expanded; empty for a missing-event stage.
  std::vector<EventRef> events;
  JoinKey key;  // values point into the match's events (or the current event)
  // The event whose arrival decided the match: its last event, or for a match held back by
  // trailing missing stages the first event past its deadline (null at end of stream).
  uint64_t decided_ts = 0;
  uint64_t decided_event_id = 0;
};

struct RunnerOptions {
  StateLimits limits;
  // Keep copies of the events partial matches hold (the detection engine, whose batches are
  // recycled); otherwise the caller keeps every event alive (hunting).
  bool store_events = false;
};

class SequenceRunner {
 public:
  // Sequences with more stages than a StateStore has slots are refused.
  static Status Check(const eql::CompiledQuery& query);

  SequenceRunner(const eql::CompiledQuery& query, const RunnerOptions& options);

  // Feeds the next event; matches it decides are appended to `out` in the order they complete.
  void Process(const Event& event, std::vector<SequenceMatch>& out) { Process(event, out, kAllTerms); }
  // The same, when a caller knows (from a rule index) which terms the event may match: bit t of
  // `may_match` for query.terms[t], bit TermCount()-1 for `until`. Terms whose bit is clear are
  // taken not to match and are not evaluated. With no bit set, only time advances.
  void Process(const Event& event, std::vector<SequenceMatch>& out, uint64_t may_match);
  static constexpr uint64_t kAllTerms = ~uint64_t{0};
  // The number of terms a mask covers (terms, then `until`); masks are used only up to 64.
  size_t TermCount() const { return query_.terms.size() + (query_.until ? 1 : 0); }
  // Until an event is later than this, Process with no term bit set does nothing (nothing can
  // expire), so a caller may skip it.
  uint64_t next_deadline() const { return store_.next_deadline(); }
  // End of stream: decides the matches still waiting on trailing missing stages.
  void Finish(std::vector<SequenceMatch>& out);

  // Events kept by this runner are copied through `copy`, which the caller releases after each
  // event (so several runners share one copy of an event). Without it the runner keeps its own.
  void set_shared_copy(SharedEventCopy* copy) { shared_copy_ = copy; }
  // Join keys of the current event come from `keys`, which the caller releases after each
  // event (so rules keyed by the same fields extract them once). Without it the runner extracts
  // its own.
  void set_shared_keys(SharedJoinKeys* keys);

  // Term predicates on another backend: `fn(context, term_index, event)` decides whether the
  // event matches query term `term_index` (terms.size(): `until`) instead of the native
  // evaluator. A plain function pointer: no virtual call per event.
  using TermPredicate = bool (*)(void* context, uint32_t term_index, const Event& event);
  void set_term_predicate(TermPredicate fn, void* context) {
    term_predicate_ = fn;
    term_predicate_context_ = context;
  }

  // Takes the partial matches of `old`, a runner of the same query (a rule reloaded unchanged).
  void AdoptState(SequenceRunner& old) { store_.AdoptEntries(old.store_); }

  const StateStats& stats() const { return store_.stats(); }
  // Stage conditions this runner evaluated itself (without a term predicate).
  uint64_t native_evaluations() const { return native_evaluations_; }
  uint64_t matches() const { return matches_; }
  void set_lineage(eql::LineageOracle* oracle) { evaluator_.set_lineage(oracle); }

 private:
  static constexpr uint8_t kFirstMissingSlot = 128;
  static constexpr uint8_t kWaitingSlot = 255;

  struct MissingStage {
    const eql::CompiledTerm* term;
    size_t after_positive;  // number of positive stages before it
    uint32_t term_index;    // in query.terms
  };
  bool MayMatch(uint64_t mask, uint32_t term_index) const {
    return term_index >= 64 || (mask >> term_index) & 1;
  }

  uint64_t DeadlineFrom(uint64_t ts) const;
  // Does the current event match query term `term_index` (terms.size(): `until`; not evaluated
  // when its bit in `may_match` is clear)? A term repeated by `runs` is evaluated once per event.
  bool TermMatches(uint64_t may_match, uint32_t term_index, const eql::CompiledTerm& term, const Event& event);
  // The join keys of the current event for query term `term_index` (terms.size(): `until`).
  std::span<JoinKey> KeysOf(uint32_t term_index, const eql::CompiledTerm& term, const Event& event);
  EventRef Ref(const Event& event);
  void RecordMissingHit(size_t m, const JoinKey& key, const Event& event);
  // The latest hit of missing stage m for `key` strictly before `ts` (PendingMatch::kNoHit).
  uint64_t HitBefore(size_t m, const std::string& key, uint64_t ts);
  // Any hit of missing stage m strictly between lo and hi?
  bool HitBetween(size_t m, const std::string& key, uint64_t lo, uint64_t hi);
  void Complete(const JoinKey& key, PendingMatch&& match, const Event& last, std::vector<SequenceMatch>& out);
  void Emit(const JoinKey& key, PendingMatch&& match, uint64_t ts, uint64_t event_id,
            std::vector<SequenceMatch>& out);
  bool OnExpire(StateStore::Entry& entry, uint64_t now, const Event* by, std::vector<SequenceMatch>* out);

  const eql::CompiledQuery& query_;
  RunnerOptions options_;
  struct PositiveStage {
    const eql::CompiledTerm* term;
    uint32_t term_index;   // in query.terms
    uint32_t stage_index;  // among all stages, missing ones included
  };
  std::vector<PositiveStage> positive_;  // runs expanded
  const eql::CompiledTerm* until_ = nullptr;  // query.until, if any
  uint32_t until_index_ = 0;                  // its bit in a term mask
  static constexpr uint8_t kUnknown = 0, kNo = 1, kYes = 2;
  std::vector<uint8_t> term_matches_;  // per query term and `until`, for the current event
  std::vector<MissingStage> missing_;
  size_t total_stages_ = 0;
  bool has_leading_ = false;
  bool has_trailing_ = false;
  StateStore store_;
  eql::Evaluator evaluator_;
  TermPredicate term_predicate_ = nullptr;
  uint64_t native_evaluations_ = 0;
  void* term_predicate_context_ = nullptr;
  JoinKeyExtractor keys_extractor_;
  SharedJoinKeys* shared_keys_ = nullptr;
  std::vector<uint32_t> key_class_;  // per term index, with shared_keys_
  SharedEventCopy own_copy_;                 // the current event's copy, when no shared one is set
  SharedEventCopy* shared_copy_ = nullptr;
  uint64_t matches_ = 0;
};

}  // namespace kestrel::nfa
