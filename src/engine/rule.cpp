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

// The leading `// key: value` lines of a rule file.
Status ReadOptions(const std::string& path, std::string_view text, Rule& rule) {
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) continue;  // blank
    if (line.substr(first, 2) != "//") break;       // the query starts
    std::string_view body = line.substr(first + 2);
    size_t colon = body.find(':');
    if (colon == std::string_view::npos) continue;  // a plain comment
    auto trim = [](std::string_view s) {
      size_t b = s.find_first_not_of(" \t\r");
      size_t e = s.find_last_not_of(" \t\r");
      return b == std::string_view::npos ? std::string_view() : s.substr(b, e - b + 1);
    };
    std::string_view key = trim(body.substr(0, colon));
    std::string_view value = trim(body.substr(colon + 1));
    if (key != "backend") continue;  // other comments may hold colons
    auto backend = runtime::ParseBackend(value);
    if (!backend) {
      size_t col = static_cast<size_t>(value.data() - line.data()) + 1;
      return MakeErrorAt(fmt::format("{}:{}:{}", path, line_no, col), ErrorCode::kInvalidArgument,
                         fmt::format("unknown backend '{}' (native, wasm or lua)", value));
    }
    rule.backend = *backend;
  }
  return Ok();
}

}  // namespace

std::vector<const eql::Program*> Rule::Programs() const {
  std::vector<const eql::Program*> out;
  for (const eql::CompiledTerm& t : compiled->terms) out.push_back(&t.filter);
  if (compiled->until) out.push_back(&compiled->until->filter);
  return out;
}

Status CompileBackends(RuleSet& rules, runtime::Backend fallback, const SchemaRegistry& registry) {
  for (Rule& rule : rules.rules) {
    runtime::Backend want = rule.backend.value_or(fallback);
    rule.effective_backend = runtime::Backend::kNative;
    rule.backend_note.clear();
    rule.predicates.clear();
    if (want == runtime::Backend::kNative) continue;
    std::vector<runtime::CompiledPredicate> compiled;
    Status status = Ok();
    for (const eql::Program* p : rule.Programs()) {
      auto c = runtime::CompilePredicate(want, *p, registry, rule.query);
      if (!c) {
        status = tl::unexpected(c.error());
        break;
      }
      compiled.push_back(std::move(*c));
    }
    if (!status) {
      if (rule.backend) {
        return MakeErrorAt(rule.path, status.error().code(),
                           fmt::format("backend {}: {}", runtime::BackendName(want), status.error().message()));
      }
      rule.backend_note = status.error().message();
      continue;
    }
    rule.effective_backend = want;
    rule.predicates = std::move(compiled);
  }
  return Ok();
}

Result<Rule> CompileRule(const std::string& path, std::string text, const SchemaRegistry& registry,
                         const eql::CompileOptions& options) {
  Rule rule;
  KESTREL_TRY(ReadOptions(path, text, rule));
  eql::Source source(path, text);
  auto compiled = eql::Compile(source, registry, options);
  if (!compiled.query) {
    std::string rendered = source.RenderAll(compiled.diagnostics);
    while (!rendered.empty() && rendered.back() == '\n') rendered.pop_back();
    return MakeError(ErrorCode::kParse, rendered);
  }
  KESTREL_TRY(CheckSupported(path, *compiled.query));
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
