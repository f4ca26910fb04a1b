// RuleIndex: which single-event rules an event can match, without evaluating the others.
//
// Rules are bucketed by the event category their query needs (any category: its own bucket).
// Within a bucket, a rule with a literal prefilter (the optimizer's necessary condition
// `field == one of values`) is indexed under each value in a hash table per field; a rule with
// a wildcard prefilter (`field : one of globs`) under each glob in a PatternSet per field, which
// names the globs an event's value matches in one scan; the rest are always candidates. An event meets the buckets of its type and of every value of its
// `event.category`, and in each only the rules whose prefilter value it has.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/string_map.h"
#include "engine/pattern_set.h"
#include "eql/evaluator.h"
#include "eql/optimizer.h"
#include "event/event.h"
#include "schema/schema_registry.h"

namespace kestrel::engine {

class RuleIndex {
 public:
  struct Entry {
    uint32_t rule;                 // the caller's rule number
    const eql::Program* program;   // its filter
  };

  RuleIndex() = default;
  // `rules` are the single-event rules' filters, numbered by their position's `rule`.
  RuleIndex(const std::vector<Entry>& rules, const SchemaRegistry& registry);

  // Appends to `out` every rule `event` may match, each once, in ascending rule number.
  void Candidates(const Event& event, std::vector<uint32_t>& out);

  size_t size() const { return rules_; }
  size_t indexed() const { return indexed_; }  // rules with a prefilter

 private:
  struct FieldTable {
    FieldId field;
    bool insensitive;
    StringMap<std::vector<uint32_t>> rules_by_value;
    std::vector<uint32_t> all;  // every rule of the table, for values that are not strings
  };
  struct PatternTable {
    FieldId field;
    PatternSet set;
    std::vector<std::vector<uint32_t>> rules_by_pattern;  // by pattern id
    std::vector<uint32_t> all;  // every rule of the table, for values the set cannot scan
  };
  struct Bucket {
    std::vector<uint32_t> always;
    std::vector<FieldTable> tables;
    std::vector<PatternTable> patterns;
  };

  Bucket& BucketFor(const eql::Program& program);
  void AddBucket(const Bucket& bucket, const Event& event, std::vector<uint32_t>& out);
  void AddValue(const FieldTable& table, const Value& value, std::vector<uint32_t>& out);
  void AddMatches(const PatternTable& table, const Value& value, std::vector<uint32_t>& out);
  void File(Bucket& bucket, const eql::Prefilter& prefilter, uint32_t rule);
  void AddPatterns(Bucket& bucket, const eql::Prefilter& prefilter, uint32_t rule);
  void BuildPatterns(Bucket& bucket);

  const SchemaRegistry* registry_ = nullptr;
  size_t rules_ = 0;
  size_t indexed_ = 0;
  Bucket any_;                                         // rules without a category
  std::vector<Bucket> by_type_;                        // by EventTypeId
  std::unordered_map<std::string, Bucket> by_name_;    // categories the registry does not know
  std::optional<FieldId> category_field_;
  std::string folded_;
  PatternSet::Scratch scratch_;
  std::vector<uint32_t> matched_;  // pattern ids of one scan
};

}  // namespace kestrel::engine
