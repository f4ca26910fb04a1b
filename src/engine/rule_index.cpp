#include "engine/rule_index.h"

#include <algorithm>

#include "eql/matcher.h"

namespace kestrel::engine {

RuleIndex::RuleIndex(const std::vector<Entry>& rules, const SchemaRegistry& registry) : registry_(&registry) {
  category_field_ = registry.Find("event.category");
  rules_ = rules.size();
  for (const Entry& entry : rules) {
    Bucket& bucket = BucketFor(*entry.program);
    // The most selective necessary condition (eql::RankOf): one prefilter, or a choice of
    // prefilters (one per branch of an `or`) ranked by their worst and their total of values.
    auto usable = [&](const eql::Prefilter& p) {
      if (registry.info(p.field).type.scalar != ValueKind::kString) return false;
      return !p.values.empty() ||
             (!p.globs.empty() && std::all_of(p.globs.begin(), p.globs.end(), PatternSet::Indexable));
    };
    std::vector<std::vector<eql::Prefilter>> choices;
    for (eql::Prefilter& p : eql::ExtractPrefilters(*entry.program)) {
      if (usable(p)) choices.push_back({std::move(p)});
    }
    for (std::vector<eql::Prefilter>& alternatives : eql::ExtractAlternatives(*entry.program, registry)) {
      if (std::all_of(alternatives.begin(), alternatives.end(), usable)) choices.push_back(std::move(alternatives));
    }
    auto rank = [&](const std::vector<eql::Prefilter>& choice) {
      eql::PrefilterRank r{false, false, 0};
      for (const eql::Prefilter& p : choice) {
        eql::PrefilterRank one = eql::RankOf(p, registry);
        r = {r.low_cardinality || one.low_cardinality, r.globs || one.globs, r.values + one.values};
      }
      return r;
    };
    const std::vector<eql::Prefilter>* best = nullptr;
    for (const auto& choice : choices) {
      if (best == nullptr || rank(choice) < rank(*best)) best = &choice;
    }
    if (best == nullptr) {
      bucket.always.push_back(entry.rule);
      continue;
    }
    for (const eql::Prefilter& p : *best) File(bucket, p, entry.rule);
  }
  BuildPatterns(any_);
  for (Bucket& bucket : by_type_) BuildPatterns(bucket);
  for (auto& [name, bucket] : by_name_) BuildPatterns(bucket);
  // Rules are in one bucket each: those not always offered are indexed.
  size_t always = any_.always.size();
  for (const Bucket& bucket : by_type_) always += bucket.always.size();
  for (const auto& [name, bucket] : by_name_) always += bucket.always.size();
  indexed_ = rules_ - always;
}

void RuleIndex::File(Bucket& bucket, const eql::Prefilter& prefilter, uint32_t rule) {
  if (prefilter.values.empty()) {
    AddPatterns(bucket, prefilter, rule);
    return;
  }
  auto table = std::find_if(bucket.tables.begin(), bucket.tables.end(), [&](const FieldTable& t) {
    return t.field == prefilter.field && t.insensitive == prefilter.insensitive;
  });
  if (table == bucket.tables.end()) {
    bucket.tables.push_back(FieldTable{prefilter.field, prefilter.insensitive, {}, {}});
    table = bucket.tables.end() - 1;
  }
  if (table->all.empty() || table->all.back() != rule) table->all.push_back(rule);
  for (const std::string& v : prefilter.values) {
    std::vector<uint32_t>& list = table->rules_by_value[prefilter.insensitive ? eql::FoldCase(v) : v];
    if (list.empty() || list.back() != rule) list.push_back(rule);
  }
}

void RuleIndex::AddPatterns(Bucket& bucket, const eql::Prefilter& prefilter, uint32_t rule) {
  auto table = std::find_if(bucket.patterns.begin(), bucket.patterns.end(),
                            [&](const PatternTable& t) { return t.field == prefilter.field; });
  if (table == bucket.patterns.end()) {
    bucket.patterns.push_back(PatternTable{prefilter.field, {}, {}, {}});
    table = bucket.patterns.end() - 1;
  }
  if (table->all.empty() || table->all.back() != rule) table->all.push_back(rule);
  for (const std::string& glob : prefilter.globs) {
    uint32_t id = table->set.Add(glob, prefilter.insensitive);
    if (id == table->rules_by_pattern.size()) table->rules_by_pattern.emplace_back();
    std::vector<uint32_t>& list = table->rules_by_pattern[id];
    if (list.empty() || list.back() != rule) list.push_back(rule);
  }
}

// Compiles the bucket's pattern sets; a set that does not compile leaves its rules always
// candidates (slower, never wrong).
void RuleIndex::BuildPatterns(Bucket& bucket) {
  for (auto it = bucket.patterns.begin(); it != bucket.patterns.end();) {
    if (it->set.Build(scratch_)) {
      ++it;
      continue;
    }
    bucket.always.insert(bucket.always.end(), it->all.begin(), it->all.end());
    it = bucket.patterns.erase(it);
  }
  std::sort(bucket.always.begin(), bucket.always.end());
  bucket.always.erase(std::unique(bucket.always.begin(), bucket.always.end()), bucket.always.end());
}

RuleIndex::Bucket& RuleIndex::BucketFor(const eql::Program& program) {
  if (program.category.empty()) return any_;
  if (program.category_type) {
    if (by_type_.size() <= *program.category_type) by_type_.resize(*program.category_type + 1);
    return by_type_[*program.category_type];
  }
  return by_name_[program.category];
}

void RuleIndex::AddValue(const FieldTable& table, const Value& value, std::vector<uint32_t>& out) {
  if (value.kind() == ValueKind::kArray) {
    for (const Value& e : value.as_array()) AddValue(table, e, out);
    return;
  }
  if (value.kind() != ValueKind::kString) {
    // Not a string: the index cannot tell, so every rule of the table is a candidate.
    if (value.kind() != ValueKind::kNull) out.insert(out.end(), table.all.begin(), table.all.end());
    return;
  }
  std::string_view key = value.as_string();
  if (table.insensitive) {
    eql::FoldCaseInto(folded_, key);
    key = folded_;
  }
  if (const std::vector<uint32_t>* rules = table.rules_by_value.Find(key)) out.insert(out.end(), rules->begin(), rules->end());
}

void RuleIndex::AddMatches(const PatternTable& table, const Value& value, std::vector<uint32_t>& out) {
  if (value.kind() == ValueKind::kArray) {
    for (const Value& e : value.as_array()) AddMatches(table, e, out);
    return;
  }
  if (value.kind() == ValueKind::kNull) return;
  if (value.kind() != ValueKind::kString || !eql::IsAscii(value.as_string())) {
    // Numbers (matched as text) and non-ASCII text (UTF-8 `?`, Unicode case folding) are the
    // evaluator's business: every rule of the table is a candidate.
    out.insert(out.end(), table.all.begin(), table.all.end());
    return;
  }
  matched_.clear();
  table.set.Scan(value.as_string(), scratch_, matched_);
  for (uint32_t id : matched_) {
    const std::vector<uint32_t>& rules = table.rules_by_pattern[id];
    out.insert(out.end(), rules.begin(), rules.end());
  }
}

void RuleIndex::AddBucket(const Bucket& bucket, const Event& event, std::vector<uint32_t>& out) {
  out.insert(out.end(), bucket.always.begin(), bucket.always.end());
  // A missing field makes the rule's necessary condition null: it cannot match.
  for (const FieldTable& table : bucket.tables) {
    if (const Value* v = event.Find(table.field)) AddValue(table, *v, out);
  }
  for (const PatternTable& table : bucket.patterns) {
    if (const Value* v = event.Find(table.field)) AddMatches(table, *v, out);
  }
}

void RuleIndex::Candidates(const Event& event, std::vector<uint32_t>& out) {
  size_t start = out.size();
  AddBucket(any_, event, out);
  if (event.type() < by_type_.size()) AddBucket(by_type_[event.type()], event, out);
  // Other categories the event lists in event.category.
  if (category_field_) {
    if (const Value* v = event.Find(*category_field_)) {
      std::string_view type_name = registry_->event_type_name(event.type());
      auto visit = [&](const Value& c) {
        if (c.kind() != ValueKind::kString || c.as_string() == type_name) return;
        if (auto type = registry_->FindEventType(c.as_string())) {
          if (*type < by_type_.size()) AddBucket(by_type_[*type], event, out);
        }
        if (!by_name_.empty()) {
          auto it = by_name_.find(std::string(c.as_string()));
          if (it != by_name_.end()) AddBucket(it->second, event, out);
        }
      };
      if (v->kind() == ValueKind::kArray) {
        for (const Value& c : v->as_array()) visit(c);
      } else {
        visit(*v);
      }
    }
  }
  if (out.size() - start > 1) {
    std::sort(out.begin() + static_cast<ptrdiff_t>(start), out.end());
    out.erase(std::unique(out.begin() + static_cast<ptrdiff_t>(start), out.end()), out.end());
  }
}

}  // namespace kestrel::engine
