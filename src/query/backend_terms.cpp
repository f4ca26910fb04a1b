#include "query/backend_terms.h"

#include <fmt/format.h>

namespace kestrel::query {

Result<std::unique_ptr<BackendTerms>> BackendTerms::Create(const eql::CompiledQuery& query, std::string_view text,
                                                           const SchemaRegistry& registry, runtime::Backend backend,
                                                           uint64_t budget) {
  std::unique_ptr<BackendTerms> terms(new BackendTerms());
  terms->budget_ = budget;
  std::vector<const eql::Program*> programs;
  for (const eql::CompiledTerm& t : query.terms) programs.push_back(&t.filter);
  if (query.until) programs.push_back(&query.until->filter);
  for (const eql::Program* p : programs) {
    KESTREL_ASSIGN_OR_RETURN(runtime::Predicate pred,
                             runtime::Predicate::Create(backend, *p, registry, text, terms->context_));
    terms->predicates_.push_back(std::move(pred));
  }
  return terms;
}

bool BackendTerms::Matches(uint32_t term, const Event& event) {
  runtime::Predicate& p = predicates_[term];
  runtime::Verdict v = p.Eval(event, budget_);
  if ((v == runtime::Verdict::kOverBudget || v == runtime::Verdict::kFault) && status_) {
    status_ = MakeError(ErrorCode::kLimit, fmt::format("the {} predicate failed on event {}: it {}",
                                                       runtime::BackendName(p.backend()), event.event_id(),
                                                       p.last_error()));
  }
  return v == runtime::Verdict::kTrue;
}

}  // namespace kestrel::query
