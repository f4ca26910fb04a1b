// Rule packs: a folder of rule files (docs/rules.md), loaded, validated and compiled into a
// RuleSet, with each rule's embedded tests and the pack's identity (manifest, content hash).
//
//   rules/linux/pack.yaml                     name, version, description (optional)
//   rules/linux/execution/reverse_shell.yaml  one rule per file: .yaml / .yml, .toml, .json
//   rules/linux/legacy/exec.eql               or a plain query with `// key: value` header lines
//
// Folders are read recursively, in path order; hidden files and folders and other extensions
// are skipped. Every problem is reported (not just the first) with `file:line:col`.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "engine/rule.h"

namespace kestrel::rules {

// One embedded test: the events a rule is run on alone, and what it must do.
struct RuleTest {
  std::string name;
  std::string location;  // file:line:col of the test
  bool expect_match = true;
  std::optional<uint64_t> alerts;   // the exact number of alerts, when given
  std::vector<std::string> events;  // ECS documents as JSON objects, in order, @timestamp set
};

// One rule file as read: the rule (compiled) and its tests.
struct RuleFile {
  engine::Rule rule;
  std::vector<RuleTest> tests;
};

// Reads one rule file's text: YAML / TOML / JSON by the extension of `path`, else an `.eql`
// query with header comments. Every error names `path:line:col`.
Result<RuleFile> ReadRuleFile(const std::string& path, std::string_view text, const SchemaRegistry& registry,
                              const eql::CompileOptions& compile);

struct PackManifest {
  std::string name;  // empty: the pack has no manifest
  std::string version;
  std::string description;
};

struct Pack {
  std::string path;
  PackManifest manifest;
  uint64_t hash = 0;  // xxHash64 of every file's relative path and bytes, in path order
  size_t files = 0;   // rule files read
  engine::RuleSet rules;                // the enabled rules, compiled, in path order
  std::vector<engine::Rule> disabled;   // `enabled: false`, compiled (so they are validated too)
  std::map<std::string, std::vector<RuleTest>> tests;  // by rule id
  std::vector<Error> errors;            // every rule file that failed, with its location

  std::string HashHex() const;
  // "kestrel-linux 0.1.0 (sha 1a2b3c4d5e6f7a8b)" or "rules/ (sha ...)" without a manifest.
  std::string Describe() const;
};

struct PackOptions {
  eql::CompileOptions compile;
  // The host this runs on, for `rollout: N%` (HostId() when empty).
  std::string host_id;
};

// Loads `path` (a rule file or a pack folder). Fails only when the path cannot be read at all;
// each bad rule file is in `errors` and is left out.
Result<Pack> LoadPack(const std::string& path, const SchemaRegistry& registry, const PackOptions& options);

// This host's id for rollouts: /etc/machine-id, else the host name.
std::string HostId();

}  // namespace kestrel::rules
