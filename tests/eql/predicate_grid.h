// PredicateGrid: events holding every kind of value (nulls, arrays with nulls, nested arrays,
// numbers at the edges of their types, non-ASCII text, addresses, timestamps) and predicates over
// them: a grid of field x operator x constant (both operand orders), `in`, `:` / like / regex,
// cidrMatch, null tests, nodes the evaluator's fast path leaves to its stack, and and / or / not
// combinations of them. The fast-path test of the evaluator and the differential test of the
// predicate backends both run it.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "event/event.h"
#include "event/event_batch.h"
#include "event/event_builder.h"
#include "schema/schema_registry.h"

namespace kestrel::testing {

class PredicateGrid {
 public:
  PredicateGrid();

  // Each predicate (the text after `process where`) with the events to run it on.
  const std::vector<std::pair<std::string, const std::vector<Event>*>>& predicates() const { return predicates_; }
  size_t num_leaves() const { return num_leaves_; }
  static constexpr size_t kCombinations = 240;

  SchemaRegistry& registry() { return registry_; }
  std::string Json(const Event& e) const;

 private:
  std::vector<std::optional<Value>> Values();
  Event MakeEvent(const std::optional<Value>& v, const std::optional<Value>& w);
  static std::vector<std::string> Leaves();

  SchemaRegistry registry_ = SchemaRegistry::WithEcs();
  FieldId v_, w_;
  EventBatch batch_;
  EventBuilder builder_;
  std::vector<Event> rows_;  // each value of d.v once, with some d.w
  std::vector<Event> grid_;  // d.v x d.w
  std::vector<std::pair<std::string, const std::vector<Event>*>> predicates_;
  size_t num_leaves_ = 0;
};

}  // namespace kestrel::testing
