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

// What the engine runs: event queries and sequences, without pipes.
Status CheckSupported(const std::string& path, const eql::CompiledQuery& q) {
  auto refuse = [&](std::string_view what) {
    return MakeErrorAt(path + ":1:1", ErrorCode::kInvalidArgument,
                       fmt::format("{} are for hunting (kestrel query); detection rules cannot use them", what));
  };
  if (q.kind == eql::QueryKind::kSample) return refuse("sample queries");
  if (!q.pipes.empty()) return refuse("pipes");
  if (q.kind == eql::QueryKind::kSequence) {
    if (auto checked = nfa::SequenceRunner::Check(q); !checked) {
      return MakeErrorAt(path + ":1:1", checked.error().code(), checked.error().message());
    }
  }
  return Ok();
}

// `// predicate: wasm FILE [EXPORT]` or `// predicate: lua FILE`: reads FILE (relative to the rule
// file) into the rule.
Status ReadUserPredicate(const std::string& path, const std::string& where, std::string_view value, Rule& rule) {
  std::vector<std::string> words;
  std::istringstream in{std::string(value)};
  for (std::string w; in >> w;) words.push_back(w);
  const bool wasm = !words.empty() && words[0] == "wasm";
  const bool lua = !words.empty() && words[0] == "lua";
  if ((!wasm && !lua) || words.size() < 2 || words.size() > (wasm ? 3u : 2u)) {
    return MakeErrorAt(where, ErrorCode::kInvalidArgument,
                       "expected `predicate: wasm FILE [EXPORT]` or `predicate: lua FILE`");
  }
  runtime::UserPredicateSource source;
  source.backend = wasm ? runtime::Backend::kWasm : runtime::Backend::kLua;
  std::filesystem::path file = std::filesystem::path(path).parent_path() / words[1];
  source.name = file.string();
  if (words.size() == 3) source.function = words[2];
  std::ifstream f(file, std::ios::binary);
  if (!f) return MakeErrorAt(where, ErrorCode::kIo, fmt::format("cannot read predicate file {}", source.name));
  source.code.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  rule.user_predicate = std::move(source);
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
    std::string where = fmt::format("{}:{}:{}", path, line_no, static_cast<size_t>(value.data() - line.data()) + 1);
    if (key == "backend") {
      auto backend = runtime::ParseBackend(value);
      if (!backend) {
        return MakeErrorAt(where, ErrorCode::kInvalidArgument,
                           fmt::format("unknown backend '{}' (native, wasm or lua)", value));
      }
      rule.backend = *backend;
    } else if (key == "predicate") {
      KESTREL_TRY(ReadUserPredicate(path, where, value, rule));
    } else if (key == "actions") {
      std::string list(value);
      std::replace(list.begin(), list.end(), ',', ' ');
      std::istringstream words(list);
      for (std::string w; words >> w;) {
        if (w == "block") {
          rule.actions.block = true;
        } else if (w == "kill") {
          rule.actions.kill = true;
        } else if (w != "alert") {
          return MakeErrorAt(where, ErrorCode::kInvalidArgument,
                             fmt::format("unknown action '{}' (alert, block or kill)", w));
        }
      }
    } else if (key == "mode") {
      if (value == "monitor") {
        rule.actions.mode = RuleMode::kMonitor;
      } else if (value == "enforce") {
        rule.actions.mode = RuleMode::kEnforce;
      } else {
        return MakeErrorAt(where, ErrorCode::kInvalidArgument, fmt::format("unknown mode '{}' (monitor or enforce)", value));
      }
    }  // other comments may hold colons
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
  rule.compile_options = options;
  KESTREL_TRY(ReadOptions(path, text, rule));
  eql::Source source(path, text);
  auto compiled = eql::Compile(source, registry, options);
  if (!compiled.query) {
    std::string rendered = source.RenderAll(compiled.diagnostics);
    while (!rendered.empty() && rendered.back() == '\n') rendered.pop_back();
    return MakeError(ErrorCode::kParse, rendered);
  }
  KESTREL_TRY(CheckSupported(path, *compiled.query));
  if (rule.user_predicate) {
    if (compiled.query->kind != eql::QueryKind::kEvent) {
      return MakeErrorAt(path + ":1:1", ErrorCode::kInvalidArgument,
                         "a user-written predicate (`// predicate:`) applies to event rules, not sequences");
    }
    // Loaded once here, so that a bad module or chunk fails the load and names its file.
    runtime::PredicateContext context;
    KESTREL_TRY(runtime::Predicate::LoadUser(*rule.user_predicate, registry, context));
  }
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
