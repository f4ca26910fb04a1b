#include "query/process_lineage.h"

#include <charconv>

#include "nfa/join_keys.h"

namespace kestrel::query {

ProcessLineage::ProcessLineage(const eql::CompiledQuery& query, const SchemaRegistry& registry)
    : query_(query), marked_(query.lineage.size()) {
  for (const char* name : {"process.entity_id", "process.pid", "unique_pid"}) {
    if (auto id = registry.Find(name)) self_fields_.push_back(*id);
  }
  for (const char* name : {"process.parent.entity_id", "process.parent.pid", "process.ppid", "unique_ppid"}) {
    if (auto id = registry.Find(name)) parent_fields_.push_back(*id);
  }
}

std::optional<std::string> ProcessLineage::Identity(const Event& event, const std::vector<FieldId>& fields) const {
  for (FieldId f : fields) {
    const Value* v = event.Find(f);
    if (v == nullptr || v->is_null() || v->kind() == ValueKind::kArray) continue;
    eql::Scalar s = eql::FromValue(*v);
    // Numeric and string spellings of one pid name the same process.
    if (s.kind == eql::SKind::kString) {
      int64_t n = 0;
      auto [p, ec] = std::from_chars(s.s.data(), s.s.data() + s.s.size(), n);
      if (ec == std::errc() && p == s.s.data() + s.s.size()) s = eql::Scalar::Int(n);
    }
    std::string key;
    nfa::AppendKeyBytes(key, s);
    return key;
  }
  return std::nullopt;
}

void ProcessLineage::Observe(const Event& event) {
  auto self = Identity(event, self_fields_);
  if (!self) return;
  if (auto parent = Identity(event, parent_fields_); parent && *parent != *self) parent_[*self] = *parent;
  for (size_t i = 0; i < query_.lineage.size(); ++i) {
    if (evaluator_.Matches(query_.lineage[i].query, event)) marked_[i].insert(*self);
  }
}

bool ProcessLineage::Related(eql::LineageKind kind, uint32_t index, const Event& event) {
  auto self = Identity(event, self_fields_);
  if (!self || index >= marked_.size()) return false;
  const std::unordered_set<std::string>& marked = marked_[index];
  if (kind == eql::LineageKind::kEvent) return marked.count(*self) > 0;
  std::string current = *self;
  for (int depth = 0; depth < 64; ++depth) {
    auto it = parent_.find(current);
    if (it == parent_.end()) return false;
    if (marked.count(it->second) > 0) return true;
    if (kind == eql::LineageKind::kChild) return false;
    current = it->second;
  }
  return false;
}

}  // namespace kestrel::query
