#include "query/hunt.h"

#include <fmt/format.h>

#include <algorithm>

#include <unordered_map>

#include "eql/evaluator.h"

#include "nfa/join_keys.h"
#include "nfa/process_lineage.h"
#include "nfa/sample_matcher.h"
#include "nfa/sequence_runner.h"

namespace kestrel::query {
namespace {

// The values of a pipe's arguments for one event, copied so they outlive the evaluator.
void PipeKey(eql::Evaluator& evaluator, const eql::CompiledPipe& pipe, const Event& event, HuntResult& result,
             std::vector<eql::Scalar>& values, std::string& bytes) {
  values.clear();
  bytes.clear();
  for (const eql::Program& arg : pipe.args) {
    const std::vector<eql::Scalar>& v = evaluator.Values(arg, event);
    eql::Scalar first = v.empty() ? eql::Scalar::Null() : v[0];
    if (first.kind == eql::SKind::kString) {
      result.strings.emplace_back(first.s);
      first.s = result.strings.back();
    }
    for (const eql::Scalar& x : v) nfa::AppendKeyBytes(bytes, x);
    bytes.push_back('\x1f');
    values.push_back(first);
  }
}

Status ApplyPipes(const eql::CompiledQuery& query, HuntResult& result) {
  std::vector<Match>& matches = result.matches;
  eql::Evaluator evaluator;
  std::vector<eql::Scalar> values;
  std::string bytes;
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
        if (!m.events.empty() && evaluator.Matches(pipe.args[0], *m.events[0])) kept.push_back(std::move(m));
      }
      matches = std::move(kept);
    } else if (pipe.name == "count" && pipe.args.empty()) {
      Match total;
      total.count = matches.size();
      matches.assign(1, total);
    } else if (pipe.name == "count" || pipe.name == "unique" || pipe.name == "unique_count") {
      // Groups by the argument values; the first event of each group represents it.
      std::unordered_map<std::string, size_t> index;
      std::vector<Match> groups;
      for (Match& m : matches) {
        if (m.events.empty() || m.events[0] == nullptr) continue;
        PipeKey(evaluator, pipe, *m.events[0], result, values, bytes);
        auto [it, inserted] = index.emplace(bytes, groups.size());
        if (inserted) {
          Match g = std::move(m);
          g.key = values;
          g.count = 0;
          groups.push_back(std::move(g));
        }
        ++*groups[it->second].count;
      }
      if (pipe.name == "unique") {
        for (Match& g : groups) {
          g.count.reset();
          g.key.clear();
        }
      }
      if (pipe.name == "count") {
        for (Match& g : groups) g.events.clear();
        // As python-eql: by count, then by key.
        std::stable_sort(groups.begin(), groups.end(), [](const Match& a, const Match& b) {
          if (*a.count != *b.count) return *a.count < *b.count;
          return nfa::KeyValuesLess(a.key, b.key);
        });
      }
      matches = std::move(groups);
    } else if (pipe.name == "sort") {
      std::vector<std::pair<std::vector<eql::Scalar>, size_t>> keyed;
      for (size_t i = 0; i < matches.size(); ++i) {
        if (matches[i].events.empty() || matches[i].events[0] == nullptr) continue;
        PipeKey(evaluator, pipe, *matches[i].events[0], result, values, bytes);
        keyed.emplace_back(values, i);
      }
      std::stable_sort(keyed.begin(), keyed.end(),
                       [](const auto& a, const auto& b) { return nfa::KeyValuesLess(a.first, b.first); });
      std::vector<Match> sorted;
      sorted.reserve(keyed.size());
      for (auto& [key, i] : keyed) sorted.push_back(std::move(matches[i]));
      matches = std::move(sorted);
    } else {
      return MakeError(ErrorCode::kInvalidArgument, fmt::format("unknown pipe '{}'", pipe.name));
    }
  }
  return Ok();
}

}  // namespace

void EventQueryStream::Feed(const EventBatch& batch, EventBuilder& store) {
  const eql::Program& filter = query_.terms[0].filter;
  for (const Event& e : batch) {
    bool match = backend_ != nullptr ? backend_->Matches(0, e) : evaluator_.Matches(filter, e);
    if (match) matched_.push_back(store.Copy(e));
  }
  seen_ += batch.size();
}

Result<HuntResult> EventQueryStream::Finish() {
  if (backend_ != nullptr) KESTREL_TRY(backend_->status());
  std::stable_sort(matched_.begin(), matched_.end(), OrderedBefore);
  HuntResult result;
  result.events.assign(matched_.begin(), matched_.end());  // the result owns the views it hands out
  for (const Event& e : result.events) result.matches.push_back(Match{{&e}, std::nullopt, {}});
  KESTREL_TRY(ApplyPipes(query_, result));
  return result;
}

Result<HuntResult> Hunt(const eql::CompiledQuery& query, const std::vector<Event>& events,
                        const SchemaRegistry& registry, BackendTerms* backend) {
  HuntResult result;
  nfa::ProcessLineage lineage(registry);  // unbounded: a hunt keeps the whole recording
  eql::LineageOracle* oracle = lineage.Watch(query);
  const bool track = !query.lineage.empty();
  if (track && backend != nullptr) backend->set_lineage(oracle);
  std::vector<Match>& matches = result.matches;
  if (query.kind == eql::QueryKind::kSample) {
    // Samples ignore time: candidates in document (input) order, i.e. by event_id.
    std::vector<const Event*> in_order;
    in_order.reserve(events.size());
    for (const Event& e : events) in_order.push_back(&e);
    std::stable_sort(in_order.begin(), in_order.end(),
                     [](const Event* a, const Event* b) { return a->event_id() < b->event_id(); });
    nfa::SampleTermPredicate predicate = backend != nullptr ? &BackendTerms::Callback : nullptr;
    for (auto& sample : nfa::FindSamples(query, in_order, predicate, backend)) {
      matches.push_back(Match{std::move(sample), std::nullopt, {}});
    }
    if (backend != nullptr) KESTREL_TRY(backend->status());
    KESTREL_TRY(ApplyPipes(query, result));
    return result;
  }
  if (query.kind == eql::QueryKind::kSequence) {
    KESTREL_TRY(nfa::SequenceRunner::Check(query));
    nfa::SequenceRunner runner(query, nfa::RunnerOptions{});  // unbounded; the events outlive it
    if (track) runner.set_lineage(oracle);
    if (backend != nullptr) runner.set_term_predicate(&BackendTerms::Callback, backend);
    std::vector<nfa::SequenceMatch> found;
    for (const Event& e : events) {
      if (track) lineage.Observe(e);
      runner.Process(e, found);
    }
    runner.Finish(found);
    if (backend != nullptr) KESTREL_TRY(backend->status());
    for (nfa::SequenceMatch& m : found) {
      Match match;
      for (const EventRef& e : m.events) match.events.push_back(e.get());
      matches.push_back(std::move(match));
    }
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
    KESTREL_TRY(ApplyPipes(query, result));
    return result;
  }
  eql::Evaluator evaluator;
  if (track) evaluator.set_lineage(oracle);
  const eql::Program& filter = query.terms[0].filter;
  for (const Event& e : events) {
    if (track) lineage.Observe(e);
    bool match = backend != nullptr ? backend->Matches(0, e) : evaluator.Matches(filter, e);
    if (match) matches.push_back(Match{{&e}, std::nullopt, {}});
  }
  if (backend != nullptr) KESTREL_TRY(backend->status());
  KESTREL_TRY(ApplyPipes(query, result));
  return result;
}

}  // namespace kestrel::query
