// JsonPathTree: the dotted field names met while decoding JSON, as a tree keyed by JSON key.
// Events from one producer repeat the same keys in the same order, so each node remembers where
// its last child lookup succeeded and tries the next child first: a known path costs one short
// key comparison per level instead of building and hashing the dotted name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "schema/schema_registry.h"

namespace kestrel {

class JsonPathTree {
 public:
  static constexpr uint32_t kRoot = 0;

  struct Node {
    std::string name;              // the dotted field name ("" for the root)
    std::optional<FieldId> field;  // set once a value was stored under this name
    ValueKind declared = ValueKind::kNull;  // the field's declared kind, cached from the registry
    std::vector<std::pair<std::string, uint32_t>> children;
    uint32_t next_guess = 0;  // where the next child lookup starts
  };

  explicit JsonPathTree(uint32_t max_nodes = 1u << 20) : max_nodes_(max_nodes) { nodes_.emplace_back(); }

  Node& node(uint32_t id) { return nodes_[id]; }

  // The child of `parent` under `key`, created on first use. Fails past max_nodes.
  Result<uint32_t> Child(uint32_t parent, std::string_view key) {
    if (uint32_t child = Find(parent, key); child != kNotFound) return child;
    return AddChild(parent, key);
  }

  // The child of `parent` under `key`, or kNotFound; never adds one.
  static constexpr uint32_t kNotFound = UINT32_MAX;
  uint32_t Find(uint32_t parent, std::string_view key) {
    Node& p = nodes_[parent];
    const size_t n = p.children.size();
    for (size_t i = p.next_guess; i < n; ++i) {
      if (p.children[i].first == key) return Hit(p, i);
    }
    for (size_t i = 0; i < p.next_guess && i < n; ++i) {
      if (p.children[i].first == key) return Hit(p, i);
    }
    return kNotFound;
  }

 private:
  static uint32_t Hit(Node& p, size_t i) {
    p.next_guess = static_cast<uint32_t>(i + 1);
    return p.children[i].second;
  }
  Result<uint32_t> AddChild(uint32_t parent, std::string_view key);

  uint32_t max_nodes_;
  std::vector<Node> nodes_;
};

}  // namespace kestrel
