// JsonPathTree: the dotted field names met while decoding JSON, as a tree keyed by JSON key.
// Events from one producer repeat the same keys in the same order, so each node remembers where
// its last child lookup succeeded and tries the next child first: a known path costs one short
// key comparison per level instead of building and hashing the dotted name.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
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
  static constexpr uint32_t kNotFound = UINT32_MAX;

  struct Edge {  // a child, under its key
    std::string key_text;
    uint32_t node;
    // For MatchesRaw, when the key has no '"' or '\' (so its JSON text is its bytes between
    // quotes): the key's whole 8-byte words, then the last word with the closing quote, masked.
    bool plain;
    uint64_t tail, tail_mask;
    std::string_view key() const { return key_text; }
  };

  struct Node {
    std::string name;              // the dotted field name ("" for the root)
    std::optional<FieldId> field;  // set once a value was stored under this name
    ValueKind declared = ValueKind::kNull;  // the field's declared kind, cached from the registry
    bool header_source = false;  // the reader derives the event header from this field's values
    std::vector<Edge> children;
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
  uint32_t Find(uint32_t parent, std::string_view key) {
    Node& p = nodes_[parent];
    const size_t n = p.children.size();
    for (size_t i = p.next_guess; i < n; ++i) {
      if (p.children[i].key() == key) return Hit(p, i).node;
    }
    for (size_t i = 0; i < p.next_guess && i < n; ++i) {
      if (p.children[i].key() == key) return Hit(p, i).node;
    }
    return kNotFound;
  }

  // Find for a key still in its JSON text (little-endian words, see MatchesRaw): `raw` points just past the opening quote, inside a
  // buffer readable for at least 8 bytes past the closing quote (simdjson's padding). Finds only
  // plain keys; nullptr means "not found this way" (a new key, or one with escapes).
  const Edge* FindRaw(uint32_t parent, const char* raw) {
    Node& p = nodes_[parent];
    const size_t n = p.children.size();
    for (size_t i = p.next_guess; i < n; ++i) {
      if (MatchesRaw(p.children[i], raw)) return &Hit(p, i);
    }
    for (size_t i = 0; i < p.next_guess && i < n; ++i) {
      if (MatchesRaw(p.children[i], raw)) return &Hit(p, i);
    }
    return nullptr;
  }

 private:
  static const Edge& Hit(Node& p, size_t i) {
    p.next_guess = static_cast<uint32_t>(i + 1);
    return p.children[i];
  }

  // Whether the JSON string at `raw` is exactly the plain key `c`: its bytes, then the closing
  // quote, compared 8 bytes at a time. Reading ahead is safe: the bytes matched so far hold no
  // quote, so the string goes on at least to the current offset, and the buffer is readable
  // for 8 bytes past its end.
  static bool MatchesRaw(const Edge& c, const char* raw) {
    static_assert(std::endian::native == std::endian::little);
    if (!c.plain) return false;
    const size_t words = c.key_text.size() / 8;
    uint64_t a, b;
    for (size_t i = 0; i < words; ++i) {
      std::memcpy(&a, raw + 8 * i, 8);
      std::memcpy(&b, c.key_text.data() + 8 * i, 8);
      if (a != b) return false;
    }
    std::memcpy(&a, raw + 8 * words, 8);
    return (a & c.tail_mask) == c.tail;
  }

  Result<uint32_t> AddChild(uint32_t parent, std::string_view key);

  uint32_t max_nodes_;
  std::vector<Node> nodes_;
};

}  // namespace kestrel
