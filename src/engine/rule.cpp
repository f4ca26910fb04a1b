#include "engine/rule.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "nfa/sequence_runner.h"

namespace kestrel::engine {

std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kLow: return "low";
    case Severity::kMedium: return "medium";
    case Severity::kHigh: return "high";
    case Severity::kCritical: return "critical";
  }
  return "medium";
}

namespace {

// What the engine runs: event queries and sequences, without pipes or lineage.
Status CheckSupported(const std::string& path, const eql::CompiledQuery& q) {
  auto refuse = [&](std::string_view what) {
    return MakeErrorAt(path + ":1:1", ErrorCode::kInvalidArgument,
                       fmt::format("{} are for hunting (kestrel query); detection rules cannot use them", what));
  };
  if (q.kind == eql::QueryKind::kSample) return refuse("sample queries");
  if (!q.pipes.empty()) return refuse("pipes");
  if (!q.lineage.empty()) return refuse("lineage predicates (descendant of, child of, event of)");
  if (q.kind == eql::QueryKind::kSequence) {
    if (auto checked = nfa::SequenceRunner::Check(q); !checked) {
      return MakeErrorAt(path + ":1:1", checked.error().code(), checked.error().message());
    }
  }
  return Ok();
}

}  // namespace

Result<Rule> CompileRule(const std::string& path, std::string text, const SchemaRegistry& registry,
                         const eql::CompileOptions& options) {
  eql::Source source(path, text);
  auto compiled = eql::Compile(source, registry, options);
  if (!compiled.query) {
    std::string rendered = source.RenderAll(compiled.diagnostics);
    while (!rendered.empty() && rendered.back() == '\n') rendered.pop_back();
    return MakeError(ErrorCode::kParse, rendered);
  }
  KESTREL_TRY(CheckSupported(path, *compiled.query));
  Rule rule;
  rule.path = path;
  rule.id = std::filesystem::path(path).stem().string();
  rule.name = rule.id;
  rule.query = std::move(text);
  rule.compiled = std::move(compiled.query);
  return rule;
}

Result<RuleSet> LoadRules(const std::string& path, const SchemaRegistry& registry, const RuleLoadOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> files;
  if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      if (entry.is_regular_file() && entry.path().extension() == ".eql") files.push_back(entry.path().string());
    }
    if (ec) return MakeErrorAt(path, ErrorCode::kIo, fmt::format("cannot list rules: {}", ec.message()));
    std::sort(files.begin(), files.end());
  } else if (fs::exists(path, ec)) {
    files.push_back(path);
  } else {
    return MakeErrorAt(path, ErrorCode::kIo, "no such rule file or folder");
  }
  RuleSet set;
  std::set<std::string> ids;
  for (const std::string& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return MakeErrorAt(file, ErrorCode::kIo, "cannot read rule file");
    std::stringstream text;
    text << in.rdbuf();
    Result<Rule> rule = CompileRule(file, text.str(), registry, options.compile);
    if (rule && !ids.insert(rule->id).second) {
      rule = MakeErrorAt(file, ErrorCode::kInvalidArgument, fmt::format("duplicate rule id '{}'", rule->id));
    }
    if (!rule) {
      if (!options.skip_bad) return tl::unexpected(rule.error());
      set.skipped.push_back(rule.error());
      continue;
    }
    set.rules.push_back(std::move(*rule));
  }
  return set;
}

}  // namespace kestrel::engine
