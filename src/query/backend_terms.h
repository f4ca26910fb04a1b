// BackendTerms: a query's conditions (its terms' filters, then `until`) on a Wasm or Lua
// backend, for hunting with `kestrel query --backend`. The first failed evaluation (over budget,
// or a fault) is kept and reported: a hunt never silently drops an event.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/result.h"
#include "eql/compiler.h"
#include "runtime/predicate.h"

namespace kestrel::query {

class BackendTerms {
 public:
  // An error of code kUnsupported when the backend cannot run one of them.
  // `text`: the query's source, quoted in errors.
  static Result<std::unique_ptr<BackendTerms>> Create(const eql::CompiledQuery& query, std::string_view text,
                                                      const SchemaRegistry& registry, runtime::Backend backend,
                                                      uint64_t budget);

  bool Matches(uint32_t term, const Event& event);
  void set_lineage(eql::LineageOracle* oracle) {
    for (runtime::Predicate& p : predicates_) p.set_lineage(oracle);
  }
  // For SequenceRunner::set_term_predicate.
  static bool Callback(void* self, uint32_t term, const Event& event) {
    return static_cast<BackendTerms*>(self)->Matches(term, event);
  }
  const Status& status() const { return status_; }

 private:
  BackendTerms() = default;
  runtime::PredicateContext context_;
  std::vector<runtime::Predicate> predicates_;
  uint64_t budget_ = 0;
  Status status_ = Ok();
};

}  // namespace kestrel::query
