#include "event/json_path_tree.h"

#include <gtest/gtest.h>

#include <string>

namespace kestrel {
namespace {

// `json` (the text after a key's opening quote) in a buffer padded as simdjson pads records.
std::string Padded(std::string json) {
  json.append(64, ' ');
  return json;
}

TEST(JsonPathTreeTest, ChildBuildsDottedNamesAndFindsThemAgain) {
  JsonPathTree tree;
  uint32_t process = tree.Child(JsonPathTree::kRoot, "process").value();
  uint32_t pid = tree.Child(process, "pid").value();
  EXPECT_EQ(tree.node(pid).name, "process.pid");
  EXPECT_EQ(tree.Child(process, "pid").value(), pid);
  EXPECT_EQ(tree.Find(process, "pid"), pid);
  EXPECT_EQ(tree.Find(process, "ppid"), JsonPathTree::kNotFound);
}

TEST(JsonPathTreeTest, FindRawMatchesWholeKeysOfEveryLength) {
  JsonPathTree tree;
  std::vector<uint32_t> ids;
  for (size_t n = 0; n <= 20; ++n) ids.push_back(tree.Child(JsonPathTree::kRoot, std::string(n, 'k')).value());
  for (size_t n = 0; n <= 20; ++n) {
    std::string key(n, 'k');
    std::string exact = Padded(key + "\":1}");
    const JsonPathTree::Edge* edge = tree.FindRaw(JsonPathTree::kRoot, exact.data());
    ASSERT_NE(edge, nullptr) << n;
    EXPECT_EQ(edge->node, ids[n]);
    EXPECT_EQ(edge->key(), key);
    // A longer key, or other bytes, is not this key.
    std::string other = Padded(key + "x\":1}");
    EXPECT_EQ(tree.FindRaw(JsonPathTree::kRoot, other.data()), nullptr) << n;
  }
}

TEST(JsonPathTreeTest, FindRawLeavesKeysWithEscapesToFind) {
  JsonPathTree tree;
  uint32_t quoted = tree.Child(JsonPathTree::kRoot, "a\"b").value();
  uint32_t slash = tree.Child(JsonPathTree::kRoot, "a\\b").value();
  std::string raw_quoted = Padded("a\\\"b\":1}");
  std::string raw_slash = Padded("a\\\\b\":1}");
  std::string raw_escape = Padded("a\\b\":1}");  // "a\b": a backspace, not a backslash
  EXPECT_EQ(tree.FindRaw(JsonPathTree::kRoot, raw_quoted.data()), nullptr);
  EXPECT_EQ(tree.FindRaw(JsonPathTree::kRoot, raw_slash.data()), nullptr);
  EXPECT_EQ(tree.FindRaw(JsonPathTree::kRoot, raw_escape.data()), nullptr);
  EXPECT_EQ(tree.Find(JsonPathTree::kRoot, "a\"b"), quoted);
  EXPECT_EQ(tree.Find(JsonPathTree::kRoot, "a\\b"), slash);
}

}  // namespace
}  // namespace kestrel
