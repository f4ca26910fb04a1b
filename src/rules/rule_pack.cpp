#include "rules/rule_pack.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/hash.h"
#include "event/ndjson.h"
#include "event/timestamp.h"
#include "config/document.h"

namespace kestrel::rules {
namespace {

using config::DocNode;
using config::DocFormat;
using config::DocFormatOf;
using config::ParseDocument;

namespace fs = std::filesystem;

constexpr std::string_view kManifestNames[] = {"pack.yaml", "pack.yml", "pack.toml", "pack.json"};
// Keys a rule file may carry for people and other tools; Kestrel does not use them.
constexpr std::string_view kInformational[] = {"author", "references", "false_positives", "version", "license", "notes"};
// The first event of a test without @timestamp is at this time, the next one second later, ...
constexpr int64_t kTestEpochNs = 1'767'225'600'000'000'000;  // 2026-01-01T00:00:00Z

std::string At(const std::string& path, const DocNode& node) { return config::Where(path, node); }
tl::unexpected<Error> Bad(const std::string& path, const DocNode& node, std::string message) {
  return config::ErrorAt(path, node, std::move(message));
}

// A scalar field's text; lists of scalars joined with ", " (tags, actions).
Result<std::string> FieldText(const std::string& path, std::string_view key, const DocNode& n, bool list_ok) {
  if (n.kind == DocNode::Kind::kString || n.kind == DocNode::Kind::kInt || n.kind == DocNode::Kind::kFloat ||
      n.kind == DocNode::Kind::kBool) {
    return n.text;
  }
  if (n.kind == DocNode::Kind::kArray && list_ok) {
    std::string out;
    for (const DocNode& item : n.items) {
      if (item.kind != DocNode::Kind::kString) {
        return Bad(path, item, fmt::format("`{}` must be a list of strings, not of {}", key, item.KindName()));
      }
      if (item.text.find_first_of(", \t\n") != std::string::npos) {
        return Bad(path, item, fmt::format("an item of `{}` cannot hold spaces or commas: '{}'", key, item.text));
      }
      out += fmt::format("{}{}", out.empty() ? "" : ", ", item.text);
    }
    return out;
  }
  return Bad(path, n, fmt::format("`{}` must be {}, not {}", key, list_ok ? "a list of strings" : "a string",
                                  n.KindName()));
}

// Where the query text starts in the file, for diagnostics in file coordinates: its first
// non-blank line is looked for from the node's own line on.
engine::QueryOrigin FindQuery(std::string_view file, const DocNode& node) {
  engine::QueryOrigin origin{node.line, node.column, node.column - 1};
  std::string_view q = node.text;
  size_t skipped_lines = 0;
  size_t pos = 0;
  while (pos < q.size()) {
    size_t end = q.find('\n', pos);
    std::string_view line = q.substr(pos, end == std::string_view::npos ? q.size() - pos : end - pos);
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) {
      size_t lead = line.find_first_not_of(" \t");
      std::string_view needle = line.substr(lead);
      uint32_t file_line = 1;
      for (size_t at = 0; at < file.size(); ++file_line) {
        size_t stop = file.find('\n', at);
        if (stop == std::string_view::npos) stop = file.size();
        if (file_line >= node.line) {
          size_t col = file.substr(at, stop - at).find(needle);
          if (col != std::string_view::npos) {
            if (file_line - skipped_lines < 1) break;
            origin.line = static_cast<uint32_t>(file_line - skipped_lines);
            origin.indent = static_cast<uint32_t>(col - std::min(col, lead));
            origin.column = skipped_lines == 0 ? static_cast<uint32_t>(col - std::min(col, lead) + 1) : origin.indent + 1;
            return origin;
          }
        }
        at = stop + 1;
      }
      break;
    }
    ++skipped_lines;
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return origin;
}

Result<std::vector<RuleTest>> ReadTests(const std::string& path, const DocNode& list) {
  if (list.kind != DocNode::Kind::kArray) return Bad(path, list, fmt::format("`tests` must be a list, not {}", list.KindName()));
  std::vector<RuleTest> tests;
  for (const DocNode& t : list.items) {
    if (t.kind != DocNode::Kind::kObject) return Bad(path, t, "a test must be a mapping (name, expect, events)");
    RuleTest test;
    test.location = At(path, t);
    std::optional<bool> expect;
    const DocNode* events = nullptr;
    for (const auto& [key, v] : t.fields) {
      if (key == "name") {
        if (v.kind != DocNode::Kind::kString) return Bad(path, v, "a test's `name` must be a string");
        test.name = v.text;
      } else if (key == "expect") {
        if (v.kind != DocNode::Kind::kString || (v.text != "match" && v.text != "no_match")) {
          return Bad(path, v, "a test's `expect` must be match or no_match");
        }
        expect = v.text == "match";
      } else if (key == "alerts") {
        if (v.kind != DocNode::Kind::kInt || v.integer < 0) return Bad(path, v, "a test's `alerts` must be a count");
        test.alerts = static_cast<uint64_t>(v.integer);
      } else if (key == "events") {
        events = &v;
      } else {
        return Bad(path, v, fmt::format("unknown test field '{}' (name, expect, alerts, events)", key));
      }
    }
    if (test.name.empty()) return Bad(path, t, "a test needs a `name`");
    if (!expect) return Bad(path, t, fmt::format("test '{}' needs `expect: match` or `expect: no_match`", test.name));
    test.expect_match = *expect;
    if (test.alerts && (*test.alerts > 0) != test.expect_match) {
      return Bad(path, t, fmt::format("test '{}': `alerts: {}` contradicts `expect: {}`", test.name, *test.alerts,
                                      test.expect_match ? "match" : "no_match"));
    }
    if (events == nullptr || events->kind != DocNode::Kind::kArray || events->items.empty()) {
      return Bad(path, events != nullptr ? *events : t, fmt::format("test '{}' needs a non-empty `events` list", test.name));
    }
    for (size_t i = 0; i < events->items.size(); ++i) {
      const DocNode& e = events->items[i];
      if (e.kind != DocNode::Kind::kObject) return Bad(path, e, "a test event must be a mapping (an ECS document)");
      std::string json = "{";
      if (e.Find("@timestamp") == nullptr) {
        json += "\"@timestamp\":";
        AppendJsonString(json, FormatTimestamp(kTestEpochNs + static_cast<int64_t>(i) * 1'000'000'000));
        if (!e.fields.empty()) json += ',';
      }
      std::string body;
      e.AppendJson(body);
      json.append(body, 1, std::string::npos);
      test.events.push_back(std::move(json));
    }
    tests.push_back(std::move(test));
  }
  return tests;
}

// A YAML / TOML / JSON rule file.
Result<RuleFile> ReadStructuredRule(const std::string& path, std::string_view text, DocFormat format,
                                      const SchemaRegistry& registry, const eql::CompileOptions& compile) {
  KESTREL_ASSIGN_OR_RETURN(DocNode doc, ParseDocument(path, text, format));
  if (doc.kind != DocNode::Kind::kObject) {
    return Bad(path, doc, fmt::format("a rule file holds one mapping (id, name, query, ...), not {}", doc.KindName()));
  }
  RuleFile out;
  engine::Rule& rule = out.rule;
  rule.path = path;
  const DocNode* query = nullptr;
  const DocNode* id = nullptr;
  for (const auto& [key, v] : doc.fields) {
    if (key == "query") {
      if (v.kind != DocNode::Kind::kString) return Bad(path, v, fmt::format("`query` must be a string, not {}", v.KindName()));
      query = &v;
    } else if (key == "tests") {
      KESTREL_ASSIGN_OR_RETURN(out.tests, ReadTests(path, v));
    } else if (key == "predicate") {
      KESTREL_ASSIGN_OR_RETURN(std::string value, FieldText(path, key, v, false));
      KESTREL_TRY(engine::SetRulePredicate(rule, path, value, At(path, v)));
    } else if (std::find(std::begin(kInformational), std::end(kInformational), key) != std::end(kInformational)) {
      continue;
    } else {
      bool list_ok = key == "tags" || key == "actions";
      if (key == "description" && v.kind == DocNode::Kind::kNull) continue;
      KESTREL_ASSIGN_OR_RETURN(std::string value, FieldText(path, key, v, list_ok));
      if (key == "enabled" && v.kind != DocNode::Kind::kBool) return Bad(path, v, "`enabled` must be true or false");
      if (key == "risk_score" && v.kind != DocNode::Kind::kInt) return Bad(path, v, "`risk_score` must be a whole number");
      if (key == "id") id = &v;
      Status set = engine::SetRuleField(rule, key, value, At(path, v));
      if (!set) {
        // An unknown key: name every key a rule file may have.
        if (set.error().message().starts_with("unknown rule field")) {
          return Bad(path, v, fmt::format("unknown rule field '{}' (id, name, description, severity, risk_score, tags, "
                                          "query, actions, mode, rollout, enabled, backend, predicate, tests)", key));
        }
        return tl::unexpected(set.error());
      }
    }
  }
  if (id == nullptr) return Bad(path, doc, "a rule needs an `id`");
  if (query == nullptr) return Bad(path, doc, fmt::format("rule {} needs a `query`", rule.id));
  if (rule.name.empty()) rule.name = rule.id;
  rule.query = query->text;
  KESTREL_TRY(engine::CompileRuleQuery(rule, registry, compile, FindQuery(text, *query)));
  return out;
}

Result<PackManifest> ReadManifest(const std::string& path, std::string_view text) {
  KESTREL_ASSIGN_OR_RETURN(DocNode doc, ParseDocument(path, text, *DocFormatOf(path)));
  if (doc.kind != DocNode::Kind::kObject) return Bad(path, doc, "a pack manifest is a mapping (name, version, description)");
  PackManifest m;
  for (const auto& [key, v] : doc.fields) {
    if (!v.is_scalar() || v.kind == DocNode::Kind::kNull) return Bad(path, v, fmt::format("`{}` must be a string", key));
    if (key == "name") {
      m.name = v.text;
    } else if (key == "version") {
      m.version = v.text;
    } else if (key == "description") {
      m.description = v.text;
    } else {
      return Bad(path, v, fmt::format("unknown manifest field '{}' (name, version, description)", key));
    }
  }
  if (m.name.empty()) return Bad(path, doc, "a pack manifest needs a `name`");
  return m;
}

bool IsRuleFile(const fs::path& p) {
  std::string ext = p.extension().string();
  return ext == ".eql" || DocFormatOf(p.string()).has_value();
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeErrorAt(path, ErrorCode::kIo, "cannot read rule file");
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return MakeErrorAt(path, ErrorCode::kIo, "cannot read rule file");
  return text.str();
}

}  // namespace

Result<RuleFile> ReadRuleFile(const std::string& path, std::string_view text, const SchemaRegistry& registry,
                              const eql::CompileOptions& compile) {
  if (auto format = DocFormatOf(path)) return ReadStructuredRule(path, text, *format, registry, compile);
  KESTREL_ASSIGN_OR_RETURN(engine::Rule rule, engine::CompileRule(path, std::string(text), registry, compile));
  return RuleFile{std::move(rule), {}};
}

std::string Pack::HashHex() const { return fmt::format("{:016x}", hash); }

std::string Pack::Describe() const {
  if (manifest.name.empty()) return fmt::format("{} (hash {})", path, HashHex());
  return fmt::format("{} {} (hash {})", manifest.name, manifest.version.empty() ? "-" : manifest.version, HashHex());
}

std::string HostId() {
  std::ifstream in("/etc/machine-id");
  std::string id;
  if (in && std::getline(in, id) && !id.empty()) return id;
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) == 0) return name;
  return "unknown";
}

Result<Pack> LoadPack(const std::string& path, const SchemaRegistry& registry, const PackOptions& options) {
  std::error_code ec;
  Pack pack;
  pack.path = path;
  std::vector<std::string> files;
  std::string manifest;
  bool folder = fs::is_directory(path, ec);
  if (folder) {
    for (auto it = fs::recursive_directory_iterator(path, fs::directory_options::none, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (name.starts_with(".")) {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file() || !IsRuleFile(it->path())) continue;
      if (it.depth() == 0 && std::find(std::begin(kManifestNames), std::end(kManifestNames), name) != std::end(kManifestNames)) {
        manifest = it->path().string();
        continue;
      }
      files.push_back(it->path().string());
    }
    if (ec) return MakeErrorAt(path, ErrorCode::kIo, fmt::format("cannot list rules: {}", ec.message()));
    std::sort(files.begin(), files.end());
  } else if (fs::exists(path, ec)) {
    files.push_back(path);
  } else {
    return MakeErrorAt(path, ErrorCode::kIo, "no such rule file or folder");
  }
  uint64_t hash = 0;
  auto hash_file = [&](const std::string& file, std::string_view bytes) {
    std::string rel = folder ? fs::path(file).lexically_relative(path).string() : fs::path(file).filename().string();
    hash = Hash64(rel, hash);
    hash = Hash64(bytes, hash);
  };
  if (!manifest.empty()) {
    Result<std::string> text = ReadFile(manifest);
    Result<PackManifest> m = text ? ReadManifest(manifest, *text) : tl::unexpected(text.error());
    if (m) {
      pack.manifest = std::move(*m);
      hash_file(manifest, *text);
    } else {
      pack.errors.push_back(m.error());
    }
  }
  std::set<std::string> ids;
  std::string ruleset = pack.manifest.name.empty() ? "" : fmt::format("{} {}", pack.manifest.name, pack.manifest.version);
  while (!ruleset.empty() && ruleset.back() == ' ') ruleset.pop_back();
  for (const std::string& file : files) {
    Result<std::string> text = ReadFile(file);
    if (!text) {
      pack.errors.push_back(text.error());
      continue;
    }
    ++pack.files;
    hash_file(file, *text);
    Result<RuleFile> loaded = ReadRuleFile(file, *text, registry, options.compile);
    if (loaded && !ids.insert(loaded->rule.id).second) {
      loaded = MakeErrorAt(file, ErrorCode::kInvalidArgument, fmt::format("duplicate rule id '{}'", loaded->rule.id));
    }
    if (!loaded) {
      pack.errors.push_back(loaded.error());
      continue;
    }
    loaded->rule.ruleset = ruleset;
    if (!loaded->tests.empty()) pack.tests[loaded->rule.id] = std::move(loaded->tests);
    if (loaded->rule.enabled) {
      pack.rules.rules.push_back(std::move(loaded->rule));
    } else {
      pack.disabled.push_back(std::move(loaded->rule));
    }
  }
  pack.hash = hash;
  std::string host = options.host_id.empty() ? HostId() : options.host_id;
  engine::ApplyRollout(pack.rules.rules, host);
  engine::ApplyRollout(pack.disabled, host);
  return pack;
}

}  // namespace kestrel::rules
