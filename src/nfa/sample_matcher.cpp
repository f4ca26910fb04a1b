#include "nfa/sample_matcher.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "eql/evaluator.h"
#include "nfa/join_keys.h"

namespace kestrel::nfa {

std::vector<std::vector<const Event*>> FindSamples(const eql::CompiledQuery& query,
                                                   const std::vector<const Event*>& events,
                                                   SampleTermPredicate term_predicate, void* context) {
  const size_t stages = query.terms.size();
  struct Candidates {
    std::vector<eql::Scalar> values;
    std::vector<std::vector<const Event*>> per_stage;
  };
  std::unordered_map<std::string, Candidates> by_key;
  eql::Evaluator evaluator;
  JoinKeyExtractor extractor;
  for (const Event* e : events) {
    for (size_t s = 0; s < stages; ++s) {
      const eql::CompiledTerm& term = query.terms[s];
      bool match = term_predicate != nullptr ? term_predicate(context, static_cast<uint32_t>(s), *e)
                                             : evaluator.Matches(term.filter, *e);
      if (!match) continue;
      for (JoinKey& key : extractor.Extract(term, *e)) {
        Candidates& c = by_key[key.bytes];
        if (c.per_stage.empty()) {
          c.per_stage.resize(stages);
          c.values = key.values;
        }
        c.per_stage[s].push_back(e);
      }
    }
  }
  std::vector<const Candidates*> ordered;
  ordered.reserve(by_key.size());
  for (const auto& [bytes, c] : by_key) ordered.push_back(&c);
  std::sort(ordered.begin(), ordered.end(),
            [](const Candidates* a, const Candidates* b) { return KeyValuesLess(a->values, b->values); });
  std::vector<std::vector<const Event*>> samples;
  for (const Candidates* c : ordered) {
    // Greedy, stage by stage: the first candidate that no earlier stage took.
    std::vector<const Event*> sample;
    for (size_t s = 0; s < stages; ++s) {
      const Event* pick = nullptr;
      for (const Event* e : c->per_stage[s]) {
        if (std::find(sample.begin(), sample.end(), e) == sample.end()) {
          pick = e;
          break;
        }
      }
      if (pick == nullptr) break;
      sample.push_back(pick);
    }
    if (sample.size() == stages) samples.push_back(std::move(sample));
  }
  return samples;
}

}  // namespace kestrel::nfa
