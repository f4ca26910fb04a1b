#include "nfa/sequence_runner.h"

#include <fmt/format.h>

#include <algorithm>

namespace kestrel::nfa {

Status SequenceRunner::Check(const eql::CompiledQuery& query) {
  int64_t positive = 0, missing = 0;
  for (const eql::CompiledTerm& term : query.terms) (term.missing ? missing : positive) += term.runs;
  if (positive > kFirstMissingSlot || missing > kWaitingSlot - kFirstMissingSlot) {
    return MakeError(ErrorCode::kLimit,
                     fmt::format("sequence has {} stages and {} missing-event stages; at most {} and {} are supported",
                                 positive, missing, kFirstMissingSlot, kWaitingSlot - kFirstMissingSlot));
  }
  return Ok();
}

SequenceRunner::SequenceRunner(const eql::CompiledQuery& query, const RunnerOptions& options)
    : query_(query), options_(options), store_(options.limits) {
  size_t stage = 0;
  for (size_t t = 0; t < query.terms.size(); ++t) {
    const eql::CompiledTerm& term = query.terms[t];
    for (int64_t r = 0; r < term.runs; ++r) {
      if (term.missing) {
        missing_.push_back({&term, positive_.size(), static_cast<uint32_t>(t)});
      } else {
        positive_.push_back({&term, static_cast<uint32_t>(t), static_cast<uint32_t>(stage)});
      }
      ++stage;
    }
  }
  total_stages_ = stage;
  if (query.until) until_ = &*query.until;
  until_index_ = static_cast<uint32_t>(query.terms.size());
  term_matches_.assign(TermCount(), kUnknown);
  for (const MissingStage& m : missing_) {
    has_leading_ |= m.after_positive == 0;
    has_trailing_ |= m.after_positive == positive_.size();
  }
}

void SequenceRunner::set_shared_keys(SharedJoinKeys* keys) {
  shared_keys_ = keys;
  key_class_.clear();
  if (keys == nullptr) return;
  for (const eql::CompiledTerm& term : query_.terms) key_class_.push_back(keys->ClassOf(term));
  if (query_.until) key_class_.push_back(keys->ClassOf(*query_.until));
}

bool SequenceRunner::TermMatches(uint64_t may_match, uint32_t term_index, const eql::CompiledTerm& term,
                                 const Event& event) {
  if (!MayMatch(may_match, term_index)) return false;
  uint8_t& known = term_matches_[term_index];
  if (known == kUnknown) {
    bool yes;
    if (term_predicate_ != nullptr) {
      yes = term_predicate_(term_predicate_context_, term_index, event);
    } else {
      ++native_evaluations_;
      yes = evaluator_.Matches(term.filter, event);
    }
    known = yes ? kYes : kNo;
  }
  return known == kYes;
}

std::span<JoinKey> SequenceRunner::KeysOf(uint32_t term_index, const eql::CompiledTerm& term, const Event& event) {
  if (shared_keys_ != nullptr) return shared_keys_->Extract(key_class_[term_index], term, event);
  return keys_extractor_.Extract(term, event);
}

uint64_t SequenceRunner::DeadlineFrom(uint64_t ts) const {
  uint64_t span = query_.maxspan_ns ? static_cast<uint64_t>(*query_.maxspan_ns) : options_.limits.ttl_ns;
  if (span == 0 && !query_.maxspan_ns) return UINT64_MAX;
  return ts > UINT64_MAX - span ? UINT64_MAX - 1 : ts + span;
}

EventRef SequenceRunner::Ref(const Event& event) {
  if (!options_.store_events) return EventRef::Borrowed(&event);
  SharedEventCopy& copy = shared_copy_ != nullptr ? *shared_copy_ : own_copy_;
  return EventRef::Stored(copy.For(event));
}

uint64_t SequenceRunner::HitBefore(size_t m, const std::string& key, uint64_t ts) {
  StateStore::Entry* e = store_.Find(static_cast<uint8_t>(kFirstMissingSlot + m), key);
  if (e == nullptr) return PendingMatch::kNoHit;
  // The entry holds the latest hit and the latest one before it; hits are never after `ts`.
  return e->match.first_ts < ts ? e->match.first_ts : e->match.leading_hit;
}

bool SequenceRunner::HitBetween(size_t m, const std::string& key, uint64_t lo, uint64_t hi) {
  uint64_t hit = HitBefore(m, key, hi);
  return hit != PendingMatch::kNoHit && hit > lo;
}

void SequenceRunner::RecordMissingHit(size_t m, const JoinKey& key, const Event& event) {
  const uint64_t ts = event.ts_mono_ns();
  if (missing_[m].after_positive == positive_.size() && !positive_.empty()) {
    // A trailing stage's hit discards the matches of its key that completed before it. Nothing
    // else asks for its hits (only leading and middle stages' hits are looked up), so they are
    // not kept.
    StateStore::Entry* w = store_.Find(kWaitingSlot, key.bytes);
    if (w == nullptr) return;
    auto& waiting = w->waiting;
    size_t before = waiting.size();
    std::erase_if(waiting, [&](const PendingMatch& p) { return p.events.back()->ts_mono_ns() < ts; });
    if (waiting.size() == before) return;
    if (waiting.empty()) {
      EvictReason terminated = EvictReason::kTerminated;
      store_.Erase(*w, &terminated);
    } else {
      store_.Account(*w);
    }
    return;
  }
  auto slot = static_cast<uint8_t>(kFirstMissingSlot + m);
  uint64_t latest = PendingMatch::kNoHit, previous = PendingMatch::kNoHit;
  if (StateStore::Entry* e = store_.Find(slot, key.bytes)) {
    latest = e->match.first_ts;
    previous = e->match.leading_hit;
  }
  if (latest != PendingMatch::kNoHit && latest < ts) previous = latest;
  StateStore::Entry& e = store_.Insert(slot, key.bytes, event.entity_key(), DeadlineFrom(ts), false);
  e.match.first_ts = ts;
  e.match.leading_hit = previous;
}

void SequenceRunner::Process(const Event& event, std::vector<SequenceMatch>& out, uint64_t may_match) {
  const uint64_t ts = event.ts_mono_ns();
  store_.Expire(ts, [&](StateStore::Entry& e) { return OnExpire(e, ts, &event, &out); });
  if (may_match == 0) return;
  std::fill(term_matches_.begin(), term_matches_.end(), kUnknown);

  for (size_t m = 0; m < missing_.size(); ++m) {
    const eql::CompiledTerm& term = *missing_[m].term;
    if (!TermMatches(may_match, missing_[m].term_index, term, event)) continue;
    for (const JoinKey& key : KeysOf(missing_[m].term_index, term, event)) RecordMissingHit(m, key, event);
  }

  const size_t last = positive_.size() - 1;
  for (size_t k = positive_.size(); k-- > 0;) {
    const PositiveStage& stage = positive_[k];
    if (!TermMatches(may_match, stage.term_index, *stage.term, event)) continue;
    for (const JoinKey& key : KeysOf(stage.term_index, *stage.term, event)) {
      if (k == 0) {
        PendingMatch p;
        p.first_ts = ts;
        p.events.push_back(Ref(event));
        for (size_t m = 0; m < missing_.size(); ++m) {
          if (missing_[m].after_positive != 0) continue;
          uint64_t hit = HitBefore(m, key.bytes, ts);
          if (hit != PendingMatch::kNoHit && (p.leading_hit == PendingMatch::kNoHit || hit > p.leading_hit)) {
            p.leading_hit = hit;
          }
        }
        if (last == 0) {
          Complete(key, std::move(p), event, out);
          continue;
        }
        StateStore::Entry& e = store_.Insert(0, key.bytes, event.entity_key(), DeadlineFrom(ts), true);
        e.match = std::move(p);
        store_.Account(e);
        continue;
      }
      StateStore::Entry* prev = store_.Find(static_cast<uint8_t>(k - 1), key.bytes);
      if (prev == nullptr) continue;
      if (query_.maxspan_ns && ts - prev->match.first_ts > static_cast<uint64_t>(*query_.maxspan_ns)) {
        EvictReason expired = EvictReason::kExpired;  // normally expired already, by its deadline
        store_.Erase(*prev, &expired);
        continue;
      }
      // A middle missing stage's hit dooms the match, but, as in Elasticsearch (which checks
      // missing stages only once a sequence is complete), it still advances like any other:
      // it supersedes the older partial match of its next stage and key.
      uint64_t previous_ts = prev->match.events.back()->ts_mono_ns();
      bool discarded = prev->match.discarded;
      for (size_t m = 0; m < missing_.size() && !discarded; ++m) {
        discarded = missing_[m].after_positive == k && HitBetween(m, key.bytes, previous_ts, ts);
      }
      if (discarded && k == last) {
        EvictReason terminated = EvictReason::kTerminated;
        store_.Erase(*prev, &terminated);
        continue;
      }
      PendingMatch p = std::move(prev->match);
      uint64_t entity = prev->entity;
      store_.Erase(*prev, nullptr);  // advanced
      p.events.push_back(Ref(event));
      if (k == last) {
        Complete(key, std::move(p), event, out);
        continue;
      }
      p.discarded = discarded;
      StateStore::Entry& e = store_.Insert(static_cast<uint8_t>(k), key.bytes, entity, DeadlineFrom(p.first_ts), true);
      e.match = std::move(p);
      store_.Account(e);
    }
  }
  // `until` after the stages: an event that both completes a match and matches `until` still
  // completes it, as in Elasticsearch.
  if (until_ != nullptr && TermMatches(may_match, until_index_, *until_, event)) {
    for (const JoinKey& key : KeysOf(until_index_, *until_, event)) {
      for (size_t k = 0; k < last; ++k) {
        if (StateStore::Entry* e = store_.Find(static_cast<uint8_t>(k), key.bytes)) {
          EvictReason terminated = EvictReason::kTerminated;
          store_.Erase(*e, &terminated);
        }
      }
    }
  }
  own_copy_.Release();  // the references taken above keep it
}

void SequenceRunner::Complete(const JoinKey& key, PendingMatch&& match, const Event& last,
                              std::vector<SequenceMatch>& out) {
  const uint64_t ts = last.ts_mono_ns();
  const uint64_t maxspan = query_.maxspan_ns ? static_cast<uint64_t>(*query_.maxspan_ns) : UINT64_MAX;
  const uint64_t leading = match.leading_hit;
  if (has_leading_ && !has_trailing_) {
    if (leading == PendingMatch::kNoHit || ts - leading > maxspan) Emit(key, std::move(match), ts, last.event_id(), out);
    return;
  }
  if (!has_trailing_) {
    Emit(key, std::move(match), ts, last.event_id(), out);
    return;
  }
  // Trailing missing stages: a hit after `ts` and at most maxspan after the first event (or,
  // with leading stages too, after the leading hit) would discard the match; wait until then.
  uint64_t from = has_leading_ ? leading : match.first_ts;
  if (has_leading_ && leading == PendingMatch::kNoHit) {
    Emit(key, std::move(match), ts, last.event_id(), out);
    return;
  }
  uint64_t deadline = maxspan == UINT64_MAX || from > UINT64_MAX - maxspan ? UINT64_MAX : from + maxspan;
  if (deadline <= ts) {
    Emit(key, std::move(match), ts, last.event_id(), out);
    return;
  }
  match.deadline = deadline;
  StateStore::Entry* w = store_.Find(kWaitingSlot, key.bytes);
  if (w == nullptr) {
    w = &store_.Insert(kWaitingSlot, key.bytes, last.entity_key(), deadline, false);
  } else if (deadline < w->deadline) {
    store_.Reschedule(*w, deadline);
  }
  w->waiting.push_back(std::move(match));
  store_.Account(*w);
}

bool SequenceRunner::OnExpire(StateStore::Entry& e, uint64_t now, const Event* by, std::vector<SequenceMatch>* out) {
  if (e.slot != kWaitingSlot) return false;
  // Waiting matches past their deadline stand: no later event can discard them.
  std::vector<PendingMatch> due;
  uint64_t next = UINT64_MAX;
  std::vector<PendingMatch> keep;
  for (PendingMatch& p : e.waiting) {
    if (p.deadline < now) {
      due.push_back(std::move(p));
    } else {
      next = std::min(next, p.deadline);
      keep.push_back(std::move(p));
    }
  }
  std::string key_bytes = e.key;
  if (keep.empty()) {
    store_.Erase(e, nullptr);
  } else {
    e.waiting = std::move(keep);
    store_.Reschedule(e, next);
    store_.Account(e);
  }
  for (PendingMatch& p : due) {
    // The key's values, from the match's last event.
    JoinKey key;
    key.bytes = key_bytes;
    for (JoinKey& k : keys_extractor_.Extract(*positive_.back().term, *p.events.back())) {
      if (k.bytes == key_bytes) key = std::move(k);
    }
    Emit(key, std::move(p), by ? by->ts_mono_ns() : UINT64_MAX, by ? by->event_id() : UINT64_MAX, *out);
  }
  return true;
}

void SequenceRunner::Emit(const JoinKey& key, PendingMatch&& match, uint64_t ts, uint64_t event_id,
                          std::vector<SequenceMatch>& out) {
  SequenceMatch m;
  m.events.resize(total_stages_);
  for (size_t i = 0; i < match.events.size(); ++i) m.events[positive_[i].stage_index] = std::move(match.events[i]);
  m.key = key;
  m.decided_ts = ts;
  m.decided_event_id = event_id;
  out.push_back(std::move(m));
  ++matches_;
}

void SequenceRunner::Finish(std::vector<SequenceMatch>& out) {
  for (StateStore::Entry* e : store_.EntriesOfSlot(kWaitingSlot)) {
    for (PendingMatch& p : e->waiting) p.deadline = 0;
    OnExpire(*e, UINT64_MAX, nullptr, &out);
  }
}

}  // namespace kestrel::nfa
