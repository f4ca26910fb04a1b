// ProcessLineage: a process table built from the events seen so far, answering python-eql's
// lineage predicates. A process is identified by `process.entity_id`, else `process.pid`
// (Endgame: `unique_pid`); its parent by `process.parent.entity_id`, else `process.parent.pid`
// (`process.ppid`, Endgame `unique_ppid`). Feed every event with Observe() before evaluating
// queries on it.
//   event of [q]       the event's process had an event matching q
//   child of [q]       its parent process did
//   descendant of [q]  some ancestor did (up to 64 generations)
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "eql/compiler.h"
#include "eql/evaluator.h"

namespace kestrel::query {

class ProcessLineage final : public eql::LineageOracle {
 public:
  ProcessLineage(const eql::CompiledQuery& query, const SchemaRegistry& registry);

  void Observe(const Event& event);
  bool Related(eql::LineageKind kind, uint32_t index, const Event& event) override;

  size_t processes() const { return parent_.size(); }

 private:
  std::optional<std::string> Identity(const Event& event, const std::vector<FieldId>& fields) const;

  const eql::CompiledQuery& query_;
  std::vector<FieldId> self_fields_;
  std::vector<FieldId> parent_fields_;
  std::unordered_map<std::string, std::string> parent_;  // process -> parent process
  std::vector<std::unordered_set<std::string>> marked_;  // per lineage query: processes that matched
  eql::Evaluator evaluator_;
};

}  // namespace kestrel::query
