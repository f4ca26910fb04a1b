// "Why did (or didn't) this rule fire?" (`kestrel explain --rule ID --event FILE`): for each
// event, each term of the rule (its whole condition for an event rule) with the truth of every
// and / or / not and of every predicate under them, as the native evaluator decides them
// (true, false or null: EQL's null is neither), then what the rule does on the events in order.
#pragma once

#include <span>
#include <string>

#include "common/result.h"
#include "engine/rule.h"

namespace kestrel::rules {

// `rule` must have been compiled against `registry`; `events` are in stream order. The rule is
// lent to a detection engine to run it over the events, and put back.
Result<std::string> ExplainRule(engine::Rule& rule, std::span<const Event> events, const SchemaRegistry& registry);

}  // namespace kestrel::rules
