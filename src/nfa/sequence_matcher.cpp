#include "nfa/sequence_matcher.h"

#include <algorithm>
#include <cstring>

namespace kestrel::nfa {

SequenceMatcher::SequenceMatcher(const eql::CompiledQuery& query) : query_(query) {
  size_t stage = 0;
  for (const eql::CompiledTerm& term : query.terms) {
    if (term.missing) {
      for (int64_t r = 0; r < term.runs; ++r) {
        missing_.push_back({&term, positive_.size()});
        ++stage;
      }
      continue;
    }
    for (int64_t r = 0; r < term.runs; ++r) {
      positive_.push_back(&term);
      positive_index_.push_back(stage++);
    }
  }
  total_stages_ = stage;
  pending_.resize(positive_.size() > 0 ? positive_.size() - 1 : 0);
  missing_seen_.resize(missing_.size());
}

size_t SequenceMatcher::pending() const {
  size_t n = waiting_.size();
  for (const KeyMap& m : pending_) {
    for (const auto& [key, list] : m) n += list.size();
  }
  return n;
}

void SequenceMatcher::Keys(const eql::CompiledTerm& term, const Event& event, std::vector<std::string>& keys) {
  keys_extractor_.Extract(term, event, join_keys_);
  keys.clear();
  for (JoinKey& k : join_keys_) keys.push_back(std::move(k.bytes));
}

void SequenceMatcher::Process(const Event& event, std::vector<SequenceMatch>& out) {
  const uint64_t ts = event.ts_mono_ns();
  // Missing-event stages only record what they saw; matches are checked against it.
  for (size_t m = 0; m < missing_.size(); ++m) {
    if (!evaluator_.Matches(missing_[m].term->filter, event)) continue;
    Keys(*missing_[m].term, event, keys_);
    for (const std::string& key : keys_) missing_seen_[m][key].push_back(&event);
  }
  const size_t last = positive_.size() - 1;
  for (size_t k = positive_.size(); k-- > 0;) {
    const eql::CompiledTerm& term = *positive_[k];
    if (!evaluator_.Matches(term.filter, event)) continue;
    Keys(term, event, keys_);
    for (const std::string& key : keys_) {
      if (k == 0) {
        Partial p;
        p.events.push_back(&event);
        p.first_ts = ts;
        if (last == 0) {
          Emit(key, std::move(p), out);
        } else {
          pending_[0][key].push_back(std::move(p));
        }
        continue;
      }
      auto it = pending_[k - 1].find(key);
      if (it == pending_[k - 1].end() || it->second.empty()) continue;
      Partial p = std::move(it->second.back());
      pending_[k - 1].erase(it);  // the older partial matches of this key are dropped
      if (query_.maxspan_ns && ts - p.first_ts > static_cast<uint64_t>(*query_.maxspan_ns)) continue;
      p.events.push_back(&event);
      if (k == last) {
        Emit(key, std::move(p), out);
      } else {
        pending_[k][key].push_back(std::move(p));
      }
    }
  }
  // `until` after the stages: an event that both completes a match and ends its key counts
  // for the match, as in Elasticsearch.
  if (query_.until && evaluator_.Matches(query_.until->filter, event)) {
    Keys(*query_.until, event, keys_);
    for (const std::string& key : keys_) {
      for (KeyMap& stage : pending_) stage.erase(key);
    }
  }
}

void SequenceMatcher::Emit(const std::string& key, Partial&& partial, std::vector<SequenceMatch>& out) {
  if (!missing_.empty()) {
    // Decided once every event is known (trailing stages look ahead): see Finish.
    waiting_.push_back({key, std::move(partial)});
    return;
  }
  out.push_back({std::move(partial.events)});
}

bool SequenceMatcher::MissingSatisfied(const std::string& key, const std::vector<const Event*>& events) {
  const uint64_t first = events.front()->ts_mono_ns();
  const uint64_t last = events.back()->ts_mono_ns();
  const uint64_t maxspan = query_.maxspan_ns ? static_cast<uint64_t>(*query_.maxspan_ns) : UINT64_MAX;
  bool has_leading = false, has_trailing = false;
  const Event* latest_leading = nullptr;
  const Event* earliest_trailing = nullptr;
  for (size_t m = 0; m < missing_.size(); ++m) {
    size_t after = missing_[m].after_positive;
    auto it = missing_seen_[m].find(key);
    const std::vector<const Event*>* seen = it == missing_seen_[m].end() ? nullptr : &it->second;
    if (after == 0) {
      has_leading = true;
      if (seen == nullptr) continue;
      for (const Event* e : *seen) {
        if (e->ts_mono_ns() < first && (latest_leading == nullptr || OrderedBefore(*latest_leading, *e))) {
          latest_leading = e;
        }
      }
    } else if (after == events.size()) {
      has_trailing = true;
      if (seen == nullptr) continue;
      for (const Event* e : *seen) {
        if (e->ts_mono_ns() > last && (earliest_trailing == nullptr || OrderedBefore(*e, *earliest_trailing))) {
          earliest_trailing = e;
        }
      }
    } else if (seen != nullptr) {
      // A middle stage: any event strictly between its neighbours discards the match.
      uint64_t lo = events[after - 1]->ts_mono_ns();
      uint64_t hi = events[after]->ts_mono_ns();
      for (const Event* e : *seen) {
        if (e->ts_mono_ns() > lo && e->ts_mono_ns() < hi) return false;
      }
    }
  }
  if (has_leading && has_trailing) {
    if (latest_leading == nullptr || earliest_trailing == nullptr) return true;
    return earliest_trailing->ts_mono_ns() - latest_leading->ts_mono_ns() > maxspan;
  }
  if (has_leading) return latest_leading == nullptr || last - latest_leading->ts_mono_ns() > maxspan;
  if (has_trailing) return earliest_trailing == nullptr || earliest_trailing->ts_mono_ns() - first > maxspan;
  return true;
}

void SequenceMatcher::Finish(std::vector<SequenceMatch>& out) {
  std::vector<Waiting> waiting = std::move(waiting_);
  waiting_.clear();
  for (Waiting& w : waiting) {
    if (!MissingSatisfied(w.key, w.partial.events)) continue;
    SequenceMatch match;
    match.events.assign(total_stages_, nullptr);
    for (size_t i = 0; i < w.partial.events.size(); ++i) match.events[positive_index_[i]] = w.partial.events[i];
    out.push_back(std::move(match));
  }
}

}  // namespace kestrel::nfa
