#include "engine/rule.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <charconv>
#include <cctype>

#include "common/hash.h"
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
Status CheckSupported(const std::string& where, const eql::CompiledQuery& q) {
  auto refuse = [&](std::string_view what) {
    return MakeErrorAt(where, ErrorCode::kInvalidArgument,
                       fmt::format("{} are for hunting (kestrel query); detection rules cannot use them", what));
  };
  if (q.kind == eql::QueryKind::kSample) return refuse("sample queries");
  if (!q.pipes.empty()) return refuse("pipes");
  if (q.kind == eql::QueryKind::kSequence) {
    if (auto checked = nfa::SequenceRunner::Check(q); !checked) {
      return MakeErrorAt(where, checked.error().code(), checked.error().message());
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
  std::error_code ec;
  constexpr uintmax_t kMaxPredicateBytes = 16u << 20;
  if (!std::filesystem::is_regular_file(file, ec)) {
    return MakeErrorAt(where, ErrorCode::kIo, fmt::format("cannot read predicate file {}: {}", source.name, std::filesystem::exists(file, ec) ? "not a regular file" : "no such file"));
  }
  if (std::filesystem::file_size(file, ec) > kMaxPredicateBytes) {
    return MakeErrorAt(where, ErrorCode::kLimit, fmt::format("predicate file {} is larger than 16 MiB", source.name));
  }
  std::ifstream f(file, std::ios::binary);
  if (!f) return MakeErrorAt(where, ErrorCode::kIo, fmt::format("cannot read predicate file {}", source.name));
  source.code.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  rule.user_predicate = std::move(source);
  return Ok();
}

constexpr std::string_view kRuleFields[] = {"id",   "name",   "description", "severity", "risk_score", "tags",
                                           "mode", "actions", "backend",    "rollout",  "enabled"};
bool IsRuleField(std::string_view key) {
  return std::find(std::begin(kRuleFields), std::end(kRuleFields), key) != std::end(kRuleFields);
}

std::string_view Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r");
  size_t e = s.find_last_not_of(" \t\r");
  return b == std::string_view::npos ? std::string_view() : s.substr(b, e - b + 1);
}

// "a, b c" -> {"a", "b", "c"}: the list form of the `.eql` header (structured rule files give
// lists as lists, joined with commas before they come here).
std::vector<std::string> Words(std::string_view value) {
  std::string list(value);
  std::replace(list.begin(), list.end(), ',', ' ');
  std::istringstream in(list);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
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
    std::string_view key = Trim(body.substr(0, colon));
    std::string_view value = Trim(body.substr(colon + 1));
    std::string where = fmt::format("{}:{}:{}", path, line_no, static_cast<size_t>(value.data() - line.data()) + 1);
    if (key == "predicate") {
      KESTREL_TRY(SetRulePredicate(rule, path, value, where));
    } else if (IsRuleField(key)) {
      KESTREL_TRY(SetRuleField(rule, key, value, where));
    }  // other comments may hold colons
  }
  return Ok();
}

}  // namespace

std::optional<Severity> ParseSeverity(std::string_view name) {
  for (Severity s : {Severity::kLow, Severity::kMedium, Severity::kHigh, Severity::kCritical}) {
    if (SeverityName(s) == name) return s;
  }
  return std::nullopt;
}

bool IsTechniqueId(std::string_view tag) {
  auto digits = [&](size_t from, size_t n) {
    if (tag.size() < from + n) return false;
    for (size_t i = from; i < from + n; ++i) {
      if (tag[i] < '0' || tag[i] > '9') return false;
    }
    return true;
  };
  if (tag.size() != 5 && tag.size() != 9) return false;
  return tag[0] == 'T' && digits(1, 4) && (tag.size() == 5 || (tag[5] == '.' && digits(6, 3)));
}

std::vector<std::string> Rule::techniques() const {
  std::vector<std::string> out;
  for (const std::string& t : tags) {
    if (IsTechniqueId(t)) out.push_back(t);
  }
  return out;
}

uint32_t RolloutBucket(std::string_view host_id) { return static_cast<uint32_t>(Hash64(host_id) % 100); }

void ApplyRollout(std::vector<Rule>& rules, std::string_view host_id) {
  uint32_t bucket = RolloutBucket(host_id);
  for (Rule& r : rules) {
    bool enforce = r.declared_mode == RuleMode::kEnforce && bucket < r.rollout_percent;
    r.actions.mode = enforce ? RuleMode::kEnforce : RuleMode::kMonitor;
  }
}

Status SetRuleField(Rule& rule, std::string_view key, std::string_view value, const std::string& where) {
  auto bad = [&](std::string message) { return MakeErrorAt(where, ErrorCode::kInvalidArgument, std::move(message)); };
  if (key == "id") {
    if (value.empty() || !std::all_of(value.begin(), value.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
        })) {
      return bad(fmt::format("rule id '{}' must be letters, digits, '-', '_' or '.'", value));
    }
    rule.id = value;
  } else if (key == "name") {
    if (value.empty()) return bad("the rule name is empty");
    rule.name = value;
  } else if (key == "description") {
    rule.description = value;
  } else if (key == "severity") {
    auto severity = ParseSeverity(value);
    if (!severity) return bad(fmt::format("unknown severity '{}' (low, medium, high or critical)", value));
    rule.severity = *severity;
  } else if (key == "risk_score") {
    uint32_t n = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || end != value.data() + value.size() || n > 100) {
      return bad(fmt::format("risk_score '{}' must be a whole number from 0 to 100", value));
    }
    rule.risk_score = n;
  } else if (key == "tags") {
    rule.tags = Words(value);
  } else if (key == "backend") {
    auto backend = runtime::ParseBackend(value);
    if (!backend) return bad(fmt::format("unknown backend '{}' (native, wasm or lua)", value));
    rule.backend = *backend;
  } else if (key == "actions") {
    rule.actions.block = rule.actions.kill = false;
    for (const std::string& w : Words(value)) {
      if (w == "block") {
        rule.actions.block = true;
      } else if (w == "kill") {
        rule.actions.kill = true;
      } else if (w != "alert") {
        return bad(fmt::format("unknown action '{}' (alert, block or kill)", w));
      }
    }
  } else if (key == "mode") {
    if (value == "monitor") {
      rule.declared_mode = RuleMode::kMonitor;
    } else if (value == "enforce") {
      rule.declared_mode = RuleMode::kEnforce;
    } else {
      return bad(fmt::format("unknown mode '{}' (monitor or enforce)", value));
    }
    rule.actions.mode = rule.declared_mode;
  } else if (key == "rollout") {
    std::string_view digits = value.ends_with('%') ? value.substr(0, value.size() - 1) : value;
    uint32_t n = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || n > 100) {
      return bad(fmt::format("rollout '{}' must be a percentage from 0% to 100%", value));
    }
    rule.rollout_percent = n;
  } else if (key == "enabled") {
    if (value != "true" && value != "false") return bad(fmt::format("enabled '{}' must be true or false", value));
    rule.enabled = value == "true";
  } else {
    return bad(fmt::format("unknown rule field '{}'", key));
  }
  return Ok();
}

Status SetRulePredicate(Rule& rule, const std::string& rule_path, std::string_view value, const std::string& where) {
  return ReadUserPredicate(rule_path, where, value, rule);
}

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

Status CompileRuleQuery(Rule& rule, const SchemaRegistry& registry, const eql::CompileOptions& options,
                        const QueryOrigin& origin) {
  const std::string& path = rule.path;
  rule.compile_options = options;
  eql::Source source(path, rule.query);
  source.SetOrigin(origin.line, origin.column, origin.indent);
  auto compiled = eql::Compile(source, registry, options);
  if (!compiled.query) {
    std::string rendered = source.RenderAll(compiled.diagnostics);
    while (!rendered.empty() && rendered.back() == '\n') rendered.pop_back();
    return MakeError(ErrorCode::kParse, rendered);
  }
  KESTREL_TRY(CheckSupported(fmt::format("{}:{}:{}", path, origin.line, origin.column), *compiled.query));
  if (rule.user_predicate) {
    if (compiled.query->kind != eql::QueryKind::kEvent) {
      return MakeErrorAt(path, ErrorCode::kInvalidArgument,
                         "a user-written predicate (`predicate:`) applies to event rules, not sequences");
    }
    // Loaded once here, so that a bad module or chunk fails the load and names its file.
    runtime::PredicateContext context;
    KESTREL_TRY(runtime::Predicate::LoadUser(*rule.user_predicate, registry, context));
  }
  if (rule.rollout_percent < 100 && rule.declared_mode != RuleMode::kEnforce) {
    return MakeErrorAt(path, ErrorCode::kInvalidArgument, "`rollout` only applies to rules in `mode: enforce`");
  }
  rule.compiled = std::move(compiled.query);
  // What decides the rule's behaviour: a reload keeps nothing else.
  std::string key = fmt::format("{}\x1f{}\x1f{}\x1f{}{}{}\x1f{}\x1f{}{}", rule.id, rule.query,
                                rule.backend ? runtime::BackendName(*rule.backend) : "", rule.actions.block,
                                rule.actions.kill, static_cast<int>(rule.declared_mode), rule.rollout_percent,
                                static_cast<int>(options.dialect), options.case_insensitive);
  if (rule.user_predicate) {
    key.append(rule.user_predicate->code.begin(), rule.user_predicate->code.end());
    key += rule.user_predicate->function;
  }
  rule.fingerprint = Hash64(key);
  return Ok();
}

Result<Rule> CompileRule(const std::string& path, std::string text, const SchemaRegistry& registry,
                         const eql::CompileOptions& options) {
  Rule rule;
  rule.path = path;
  KESTREL_TRY(ReadOptions(path, text, rule));
  if (rule.id.empty()) rule.id = std::filesystem::path(path).stem().string();
  if (rule.name.empty()) rule.name = rule.id;
  rule.query = std::move(text);
  KESTREL_TRY(CompileRuleQuery(rule, registry, options));
  return rule;
}

}  // namespace kestrel::engine
