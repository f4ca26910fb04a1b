#include "nfa/process_lineage.h"

#include <charconv>

#include "nfa/join_keys.h"

namespace kestrel::nfa {

struct ProcessLineage::Watched final : eql::LineageOracle {
  ProcessLineage* table = nullptr;
  const eql::CompiledQuery* query = nullptr;
  std::vector<std::unordered_set<std::string>> marked;  // per lineage query: processes that matched

  bool Related(eql::LineageKind kind, uint32_t index, const Event& event) override {
    return table->Related(*this, kind, index, event);
  }
};

ProcessLineage::ProcessLineage(const SchemaRegistry& registry, size_t capacity) : capacity_(capacity) {
  for (const char* name : {"process.entity_id", "process.pid", "unique_pid"}) {
    if (auto id = registry.Find(name)) self_fields_.push_back(*id);
  }
  for (const char* name : {"process.parent.entity_id", "process.parent.pid", "process.ppid", "unique_ppid"}) {
    if (auto id = registry.Find(name)) parent_fields_.push_back(*id);
  }
}

ProcessLineage::~ProcessLineage() = default;

eql::LineageOracle* ProcessLineage::Watch(const eql::CompiledQuery& query) {
  auto w = std::make_unique<Watched>();
  w->table = this;
  w->query = &query;
  w->marked.resize(query.lineage.size());
  watched_.push_back(std::move(w));
  return watched_.back().get();
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
    AppendKeyBytes(key, s);
    return key;
  }
  return std::nullopt;
}

ProcessLineage::Process& ProcessLineage::Touch(const std::string& key) {
  auto [it, added] = processes_.try_emplace(key);
  if (!added) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return it->second;
  }
  lru_.push_front(key);
  it->second.lru = lru_.begin();
  if (capacity_ > 0 && processes_.size() > capacity_) {
    const std::string& oldest = lru_.back();
    for (auto& w : watched_) {
      for (auto& marked : w->marked) marked.erase(oldest);
    }
    processes_.erase(oldest);
    lru_.pop_back();
    ++evicted_;
  }
  return it->second;
}

void ProcessLineage::Observe(const Event& event) {
  auto self = Identity(event, self_fields_);
  if (!self) return;
  Process& p = Touch(*self);
  if (auto parent = Identity(event, parent_fields_); parent && *parent != *self) p.parent = *parent;
  for (auto& w : watched_) {
    for (size_t i = 0; i < w->query->lineage.size(); ++i) {
      if (evaluator_.Matches(w->query->lineage[i].query, event)) w->marked[i].insert(*self);
    }
  }
}

bool ProcessLineage::Related(const Watched& w, eql::LineageKind kind, uint32_t index, const Event& event) const {
  auto self = Identity(event, self_fields_);
  if (!self || index >= w.marked.size()) return false;
  const std::unordered_set<std::string>& marked = w.marked[index];
  if (kind == eql::LineageKind::kEvent) return marked.count(*self) > 0;
  std::string current = *self;
  for (int depth = 0; depth < 64; ++depth) {
    auto it = processes_.find(current);
    if (it == processes_.end() || it->second.parent.empty()) return false;
    if (marked.count(it->second.parent) > 0) return true;
    if (kind == eql::LineageKind::kChild) return false;
    current = it->second.parent;
  }
  return false;
}

}  // namespace kestrel::nfa
