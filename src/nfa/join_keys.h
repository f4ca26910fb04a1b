// Join keys of an event for one query term (`by` fields): one composite key per combination of
// the distinct non-null values of multi-valued key fields; none when a required key is null.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "eql/compiler.h"
#include "eql/evaluator.h"

namespace kestrel::nfa {

struct JoinKey {
  std::string bytes;                // serialized, for hashing: 5 and "5" differ
  std::vector<eql::Scalar> values;  // the values, for ordering and display
};

class JoinKeyExtractor {
 public:
  // The keys of `event` for `term` (none when a required key is null), valid until the next
  // call. Keys live in storage reused from call to call: no allocation once warmed up.
  std::span<JoinKey> Extract(const eql::CompiledTerm& term, const Event& event);

 private:
  eql::Evaluator evaluator_;
  std::vector<std::vector<eql::Scalar>> parts_;
  std::vector<JoinKey> keys_;  // the first `count` are the result
  JoinKey base_;
};

// Appends one value to a serialized key: kind, then bytes (so 5 and "5" differ).
void AppendKeyBytes(std::string& out, const eql::Scalar& s);

// Orders keys by their values, element by element (null first).
bool KeyValuesLess(const std::vector<eql::Scalar>& a, const std::vector<eql::Scalar>& b);

}  // namespace kestrel::nfa
