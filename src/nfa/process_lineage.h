// ProcessLineage: a process table built from the events seen so far, answering python-eql's
// lineage predicates for the queries it watches. A process is identified by
// `process.entity_id`, else `process.pid` (Endgame: `unique_pid`); its parent by
// `process.parent.entity_id`, else `process.parent.pid` (`process.ppid`, Endgame `unique_ppid`).
// Feed every event with Observe() before evaluating the watched queries on it.
//   event of [q]       the event's process had an event matching q
//   child of [q]       its parent process did
//   descendant of [q]  some ancestor did (up to 64 generations)
// Bounded when `capacity` > 0: past it the process least recently seen is forgotten, with its
// marks (counted in evicted()). The table depends only on the events and their order, so every
// worker that observes the whole stream holds the same one.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "eql/compiler.h"
#include "eql/evaluator.h"

namespace kestrel::nfa {

class ProcessLineage {
 public:
  explicit ProcessLineage(const SchemaRegistry& registry, size_t capacity = 0);
  ~ProcessLineage();
  ProcessLineage(const ProcessLineage&) = delete;
  ProcessLineage& operator=(const ProcessLineage&) = delete;

  // Starts tracking the lineage queries of `query` (which must outlive the table); returns the
  // oracle that answers its lineage predicates.
  eql::LineageOracle* Watch(const eql::CompiledQuery& query);

  void Observe(const Event& event);

  size_t processes() const { return processes_.size(); }
  uint64_t evicted() const { return evicted_; }

 private:
  struct Watched;
  struct Process {
    std::string parent;                 // empty: unknown
    std::list<std::string>::iterator lru;  // position in lru_ (front: most recent)
  };

  std::optional<std::string> Identity(const Event& event, const std::vector<FieldId>& fields) const;
  bool Related(const Watched& w, eql::LineageKind kind, uint32_t index, const Event& event) const;
  Process& Touch(const std::string& key);

  std::vector<FieldId> self_fields_;
  std::vector<FieldId> parent_fields_;
  size_t capacity_;
  std::unordered_map<std::string, Process> processes_;
  std::list<std::string> lru_;
  std::vector<std::unique_ptr<Watched>> watched_;
  eql::Evaluator evaluator_;
  uint64_t evicted_ = 0;
};

}  // namespace kestrel::nfa
