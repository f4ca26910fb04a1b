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

// The join keys of the current event for many sequence rules at once: rules whose terms are
// keyed by the same plain fields (`by process.entity_id`) share one extraction per event.
// The engine releases it after each event.
class SharedJoinKeys {
 public:
  // The class of `term`'s keys: terms keyed by the same fields (and the same optional flags)
  // share one; keys that are expressions get a class of their own.
  uint32_t ClassOf(const eql::CompiledTerm& term);
  // The keys of `event` for a term of class `cls`, extracted on the first call for the event.
  std::span<JoinKey> Extract(uint32_t cls, const eql::CompiledTerm& term, const Event& event);
  // The event is done: the next Extract extracts again.
  void Release();

 private:
  struct Class {
    std::string signature;
    JoinKeyExtractor extractor;
    std::span<JoinKey> keys;
    bool ready = false;
  };
  std::vector<Class> classes_;
  std::vector<uint32_t> ready_;  // the classes extracted for the current event
};

// Appends one value to a serialized key: kind, then bytes (so 5 and "5" differ).
void AppendKeyBytes(std::string& out, const eql::Scalar& s);

// Orders keys by their values, element by element (null first).
bool KeyValuesLess(const std::vector<eql::Scalar>& a, const std::vector<eql::Scalar>& b);

}  // namespace kestrel::nfa
