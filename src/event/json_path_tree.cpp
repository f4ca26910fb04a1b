#include "event/json_path_tree.h"

#include <cstring>

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
  nodes_.push_back(Node{std::move(name), std::nullopt, ValueKind::kNull, false, {}, 0});  // may move nodes_: index again below
  Node& p = nodes_[parent];
  Edge edge{std::string(key), id, key.find_first_of("\"\\") == std::string_view::npos, 0, 0};
  const size_t rest = key.size() % 8;  // 0..7 bytes of the key, then the quote
  char tail[8] = {};
  if (rest > 0) std::memcpy(tail, key.data() + key.size() - rest, rest);
  tail[rest] = '"';
  std::memcpy(&edge.tail, tail, 8);
  edge.tail_mask = rest == 7 ? ~uint64_t{0} : (uint64_t{1} << (8 * (rest + 1))) - 1;
  p.children.push_back(std::move(edge));
  p.next_guess = static_cast<uint32_t>(p.children.size());
  return id;
}

}  // namespace kestrel
