#include "query/hunt.h"

#include <fmt/format.h>

#include <algorithm>

#include "eql/evaluator.h"
#include "nfa/sample_matcher.h"
#include "nfa/sequence_matcher.h"

namespace kestrel::query {
namespace {

Status ApplyPipes(const eql::CompiledQuery& query, std::vector<Match>& matches) {
  eql::Evaluator evaluator;
  for (const eql::CompiledPipe& pipe : query.pipes) {
    if (pipe.name == "head") {
      if (matches.size() > static_cast<size_t>(pipe.number)) matches.resize(static_cast<size_t>(pipe.number));
    } else if (pipe.name == "tail") {
      if (matches.size() > static_cast<size_t>(pipe.number)) {
        matches.erase(matches.begin(), matches.end() - pipe.number);
      }
    } else if (pipe.name == "filter") {
      std::vector<Match> kept;
      for (Match& m : matches) {
        if (evaluator.Matches(pipe.args[0], *m.events[0])) kept.push_back(std::move(m));
      }
      matches = std::move(kept);
    } else {
      return MakeError(ErrorCode::kInvalidArgument, fmt::format("the '{}' pipe is not supported yet", pipe.name));
    }
  }
  return Ok();
}

}  // namespace

Result<std::vector<Match>> Hunt(const eql::CompiledQuery& query, const std::vector<Event>& events,
                                const SchemaRegistry& registry) {
  (void)registry;
  std::vector<Match> matches;
  if (query.kind == eql::QueryKind::kSample) {
    // Samples ignore time: candidates in document (input) order, i.e. by event_id.
    std::vector<const Event*> in_order;
    for (const Event& e : events) in_order.push_back(&e);
    std::stable_sort(in_order.begin(), in_order.end(),
                     [](const Event* a, const Event* b) { return a->event_id() < b->event_id(); });
    for (auto& sample : nfa::FindSamples(query, in_order)) matches.push_back(Match{std::move(sample)});
    KESTREL_TRY(ApplyPipes(query, matches));
    return matches;
  }
  if (query.kind == eql::QueryKind::kSequence) {
    nfa::SequenceMatcher matcher(query);
    std::vector<nfa::SequenceMatch> found;
    for (const Event& e : events) matcher.Process(e, found);
    matcher.Finish(found);
    for (nfa::SequenceMatch& m : found) matches.push_back(Match{std::move(m.events)});
    if (!found.empty() && std::any_of(query.terms.begin(), query.terms.end(), [](const auto& t) { return t.missing; })) {
      // Matches with missing-event stages are decided at the end: order them by their last event.
      auto last = [](const Match& m) {
        const Event* e = nullptr;
        for (const Event* x : m.events) {
          if (x != nullptr) e = x;
        }
        return e;
      };
      std::stable_sort(matches.begin(), matches.end(),
                       [&](const Match& a, const Match& b) { return OrderedBefore(*last(a), *last(b)); });
    }
    KESTREL_TRY(ApplyPipes(query, matches));
    return matches;
  }
  eql::Evaluator evaluator;
  const eql::Program& filter = query.terms[0].filter;
  for (const Event& e : events) {
    if (evaluator.Matches(filter, e)) matches.push_back(Match{{&e}});
  }
  KESTREL_TRY(ApplyPipes(query, matches));
  return matches;
}

}  // namespace kestrel::query
