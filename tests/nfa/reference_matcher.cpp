#include "nfa/reference_matcher.h"

#include <algorithm>
#include <cstdlib>
#include <optional>

#include "eql/evaluator.h"
#include "nfa/join_keys.h"

namespace kestrel::nfa::testing {
namespace {

struct Stage {
  const eql::CompiledTerm* term;
  bool missing;
};

// A partial or completed match of the positive stages: indices into the event vector.
struct Partial {
  size_t stage;     // the last positive stage it completed
  std::string key;  // serialized join key
  std::vector<size_t> events;
};

class Reference {
 public:
  Reference(const eql::CompiledQuery& query, const std::vector<Event>& events) : query_(query), events_(events) {
    for (const eql::CompiledTerm& term : query.terms) {
      for (int64_t r = 0; r < term.runs; ++r) stages_.push_back({&term, term.missing});
    }
    for (const Stage& s : stages_) {
      if (!s.missing) positive_.push_back(s.term);
    }
  }

  std::vector<ReferenceMatch> Run() {
    for (size_t i = 1; i < events_.size(); ++i) {
      if (OrderedBefore(events_[i], events_[i - 1])) std::abort();  // the caller sorts
    }
    std::vector<Partial> completed = MatchPositiveStages();
    std::vector<ReferenceMatch> out;
    std::vector<size_t> last_event;  // of each output match, for the final ordering
    for (const Partial& p : completed) {
      if (!MissingStagesAllow(p)) continue;
      ReferenceMatch m;
      size_t next_positive = 0;
      for (const Stage& s : stages_) {
        m.event_ids.push_back(s.missing ? -1 : static_cast<int64_t>(events_[p.events[next_positive++]].event_id()));
      }
      out.push_back(std::move(m));
      last_event.push_back(p.events.back());
    }
    // Hunting prints matches by their last positive event (they complete in that order anyway).
    std::vector<size_t> order(out.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return last_event[a] < last_event[b]; });
    std::vector<ReferenceMatch> sorted;
    for (size_t i : order) sorted.push_back(out[i]);
    return sorted;
  }

 private:
  uint64_t Ts(size_t i) const { return events_[i].ts_mono_ns(); }

  // The serialized join keys of event i for `term`; none when its filter does not match.
  std::vector<std::string> Keys(const eql::CompiledTerm& term, size_t i) {
    std::vector<std::string> out;
    if (!evaluator_.Matches(term.filter, events_[i])) return out;
    for (const JoinKey& k : extractor_.Extract(term, events_[i])) out.push_back(k.bytes);
    return out;
  }

  static void Remove(std::vector<Partial>& partials, size_t stage, const std::string& key) {
    std::erase_if(partials, [&](const Partial& p) { return p.stage == stage && p.key == key; });
  }

  // Positive stages only, as if the missing-event stages were not there. Returns the
  // completed matches in completion order.
  std::vector<Partial> MatchPositiveStages() {
    const size_t last = positive_.size() - 1;
    std::vector<Partial> partials;  // at most one per (stage, key)
    std::vector<Partial> completed;
    for (size_t i = 0; i < events_.size(); ++i) {
      // From the last stage to the first: an event never advances a match twice.
      for (size_t k = positive_.size(); k-- > 0;) {
        for (const std::string& key : Keys(*positive_[k], i)) {
          Partial p;
          if (k == 0) {
            p = Partial{0, key, {i}};
          } else {
            // The pending match of stage k-1 with this key, if any.
            std::optional<Partial> prev;
            for (const Partial& q : partials) {
              if (q.stage == k - 1 && q.key == key) prev = q;
            }
            if (!prev) continue;
            Remove(partials, k - 1, key);  // advanced, or dropped for maxspan
            if (query_.maxspan_ns && Ts(i) - Ts(prev->events.front()) > static_cast<uint64_t>(*query_.maxspan_ns)) {
              continue;
            }
            p = std::move(*prev);
            p.stage = k;
            p.events.push_back(i);
          }
          if (k == last) {
            completed.push_back(std::move(p));
          } else {
            Remove(partials, k, key);  // one pending match per stage and key: the newest wins
            partials.push_back(std::move(p));
          }
        }
      }
      // `until` after the stages: it drops the pending matches of its key, not completed ones.
      if (query_.until) {
        for (const std::string& key : Keys(*query_.until, i)) {
          std::erase_if(partials, [&](const Partial& p) { return p.key == key; });
        }
      }
    }
    return completed;
  }

  // Does event i hit the missing stage `term` with this key?
  bool Hit(const eql::CompiledTerm& term, size_t i, const std::string& key) {
    for (const std::string& k : Keys(term, i)) {
      if (k == key) return true;
    }
    return false;
  }

  // The missing-event checks of docs/sequences.md, with every event known.
  bool MissingStagesAllow(const Partial& p) {
    const uint64_t first = Ts(p.events.front());
    const uint64_t last = Ts(p.events.back());
    bool has_leading = false, has_trailing = false;
    std::optional<uint64_t> leading_hit;   // latest hit of a leading stage before `first`
    std::optional<uint64_t> trailing_hit;  // earliest hit of a trailing stage after `last`
    size_t positives_before = 0;
    for (const Stage& s : stages_) {
      if (!s.missing) {
        ++positives_before;
        continue;
      }
      if (positives_before == 0) {
        has_leading = true;
        for (size_t i = 0; i < events_.size(); ++i) {
          if (Ts(i) < first && Hit(*s.term, i, p.key) && (!leading_hit || Ts(i) > *leading_hit)) leading_hit = Ts(i);
        }
      } else if (positives_before == positive_.size()) {
        has_trailing = true;
        for (size_t i = 0; i < events_.size(); ++i) {
          if (Ts(i) > last && Hit(*s.term, i, p.key) && (!trailing_hit || Ts(i) < *trailing_hit)) trailing_hit = Ts(i);
        }
      } else {
        // Between two positive stages: any hit strictly between their timestamps discards.
        const uint64_t lo = Ts(p.events[positives_before - 1]);
        const uint64_t hi = Ts(p.events[positives_before]);
        for (size_t i = 0; i < events_.size(); ++i) {
          if (Ts(i) > lo && Ts(i) < hi && Hit(*s.term, i, p.key)) return false;
        }
      }
    }
    const uint64_t maxspan = static_cast<uint64_t>(*query_.maxspan_ns);  // required with missing stages
    if (has_leading && has_trailing) return !(leading_hit && trailing_hit && *trailing_hit - *leading_hit <= maxspan);
    if (has_leading) return !leading_hit || last - *leading_hit > maxspan;
    if (has_trailing) return !trailing_hit || *trailing_hit - first > maxspan;
    return true;
  }

  const eql::CompiledQuery& query_;
  const std::vector<Event>& events_;
  std::vector<Stage> stages_;                       // runs expanded
  std::vector<const eql::CompiledTerm*> positive_;  // the positive ones
  eql::Evaluator evaluator_;
  JoinKeyExtractor extractor_;
};

}  // namespace

std::vector<ReferenceMatch> ReferenceSequenceMatches(const eql::CompiledQuery& query,
                                                     const std::vector<Event>& events) {
  return Reference(query, events).Run();
}

std::string FormatMatch(const ReferenceMatch& match) {
  std::string s = "[";
  for (size_t i = 0; i < match.event_ids.size(); ++i) {
    if (i > 0) s += ' ';
    s += std::to_string(match.event_ids[i]);
  }
  return s + "]";
}

}  // namespace kestrel::nfa::testing
