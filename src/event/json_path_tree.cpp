#include "event/json_path_tree.h"

#include <fmt/format.h>

namespace kestrel {

Result<uint32_t> JsonPathTree::AddChild(uint32_t parent, std::string_view key) {
  if (nodes_.size() >= max_nodes_) {
    return MakeError(ErrorCode::kLimit, fmt::format("too many distinct JSON paths (limit {})", max_nodes_));
  }
  std::string name = nodes_[parent].name;
  if (!name.empty()) name.push_back('.');
  name.append(key);
  auto id = static_cast<uint32_t>(nodes_.size());
  nodes_.push_back(Node{std::move(name), std::nullopt, ValueKind::kNull, {}, 0});  // may move nodes_: index again below
  Node& p = nodes_[parent];
  p.children.emplace_back(std::string(key), id);
  p.next_guess = static_cast<uint32_t>(p.children.size());
  return id;
}

}  // namespace kestrel
