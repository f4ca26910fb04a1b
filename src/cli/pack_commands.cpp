// The rule pack commands (docs/rules.md):
//   kestrel validate PATH...   every error of every rule file, `file:line:col`; exit 1 if any
//   kestrel list PATH          a table of the rules: id, name, severity, effective mode, backend, events
//   kestrel test PATH          runs the rules' embedded tests; last line `N passed, N failed`
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "cli/commands.h"
#include "cli/rule_setup.h"
#include "event/file_io.h"
#include "event/ndjson.h"
#include "rules/rule_pack.h"
#include "rules/rule_tests.h"

namespace kestrel::cli {
namespace {

struct PackCommandOptions {
  std::vector<std::string> paths;
  std::string dialect = "es";
  std::string host_id;
  std::string filter;  // test: only rules whose id contains it
  std::string junit;   // test: also write a JUnit XML report here
  bool strict = false;
  bool json = false;
  bool verbose = false;
};

rules::PackOptions PackOptionsOf(const PackCommandOptions& o) {
  rules::PackOptions p;
  p.compile = CompileOptionsFor(o.dialect);
  p.host_id = o.host_id;
  return p;
}

// The problems `--strict` adds: what a shareable pack should have.
std::vector<std::string> StrictProblems(const rules::Pack& pack, const engine::Rule& rule) {
  std::vector<std::string> out;
  if (rule.description.empty()) out.emplace_back("has no description");
  if (rule.techniques().empty()) out.emplace_back("has no ATT&CK technique id among its tags (such as T1059.004)");
  auto tests = pack.tests.find(rule.id);
  bool match = false, no_match = false;
  if (tests != pack.tests.end()) {
    for (const rules::RuleTest& t : tests->second) (t.expect_match ? match : no_match) = true;
  }
  if (!match) out.emplace_back("has no test that expects a match");
  if (!no_match) out.emplace_back("has no test that expects no match");
  return out;
}

int RunValidate(const PackCommandOptions& o) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  size_t errors = 0, rules_seen = 0, files = 0;
  for (const std::string& path : o.paths) {
    auto pack = rules::LoadPack(path, registry, PackOptionsOf(o));
    if (!pack) {
      fmt::print(stderr, "{}\n", pack.error().ToString());
      ++errors;
      continue;
    }
    files += pack->files;
    for (const Error& e : pack->errors) fmt::print(stderr, "{}\n", e.ToString());
    errors += pack->errors.size();
    auto check = [&](const std::vector<engine::Rule>& rules) {
      for (const engine::Rule& r : rules) {
        ++rules_seen;
        if (!o.strict) continue;
        for (const std::string& p : StrictProblems(*pack, r)) {
          fmt::print(stderr, "{}: error: rule {} {}\n", r.path, r.id, p);
          ++errors;
        }
      }
    };
    check(pack->rules.rules);
    check(pack->disabled);
    if (pack->errors.empty()) {
      // Backends: a rule that chose wasm or lua must compile there too.
      Status b = engine::CompileBackends(pack->rules, runtime::Backend::kNative, registry);
      if (!b) {
        fmt::print(stderr, "{}\n", b.error().ToString());
        ++errors;
      }
    }
  }
  fmt::print("validate: {} rule file{}, {} rule{}, {} error{}\n", files, files == 1 ? "" : "s", rules_seen,
             rules_seen == 1 ? "" : "s", errors, errors == 1 ? "" : "s");
  return errors == 0 ? kExitOk : kExitFailure;
}

// The event categories a rule's terms look at ("any" when a term takes every category).
std::string EventTypesOf(const engine::Rule& rule) {
  std::vector<std::string> out;
  for (const eql::Program* p : rule.Programs()) {
    std::string c = p->category.empty() ? "any" : p->category;
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  }
  std::string joined;
  for (const std::string& c : out) joined += fmt::format("{}{}", joined.empty() ? "" : ",", c);
  return joined;
}

// "enforce", "monitor", or "monitor (rollout 25%, enforce elsewhere)" for a canary outside it.
std::string ModeOf(const engine::Rule& rule) {
  std::string mode = rule.actions.enforce() ? "enforce" : "monitor";
  if (rule.declared_mode == engine::RuleMode::kEnforce && rule.rollout_percent < 100) {
    mode += fmt::format(" (rollout {}%{})", rule.rollout_percent,
                        rule.actions.enforce() ? "" : ": not this host");
  }
  if (!rule.enabled) mode = "disabled";
  return mode;
}

std::string ActionsOf(const engine::Rule& rule) {
  std::string a = "alert";
  if (rule.actions.block) a += ",block";
  if (rule.actions.kill) a += ",kill";
  return a;
}

int RunList(const PackCommandOptions& o) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  auto pack = rules::LoadPack(o.paths.front(), registry, PackOptionsOf(o));
  if (!pack) {
    fmt::print(stderr, "error: {}\n", pack.error().ToString());
    return kExitFailure;
  }
  for (const Error& e : pack->errors) fmt::print(stderr, "warning: not listed: {}\n", e.ToString());
  (void)engine::CompileBackends(pack->rules, runtime::Backend::kNative, registry);
  std::vector<const engine::Rule*> all;
  for (const engine::Rule& r : pack->rules.rules) all.push_back(&r);
  for (const engine::Rule& r : pack->disabled) all.push_back(&r);
  std::sort(all.begin(), all.end(), [](const engine::Rule* a, const engine::Rule* b) { return a->id < b->id; });
  if (o.json) {
    std::string out = "{\"pack\":";
    AppendJsonString(out, pack->manifest.name);
    out += ",\"version\":";
    AppendJsonString(out, pack->manifest.version);
    out += fmt::format(R"(,"hash":"{}","rules":[)", pack->HashHex());
    for (size_t i = 0; i < all.size(); ++i) {
      const engine::Rule& r = *all[i];
      out += i > 0 ? ",{\"id\":" : "{\"id\":";
      AppendJsonString(out, r.id);
      out += ",\"name\":";
      AppendJsonString(out, r.name);
      if (r.risk_score) out += fmt::format(",\"risk_score\":{}", *r.risk_score);
      out += fmt::format(",\"severity\":\"{}\",\"enabled\":{},\"mode\":\"{}\",\"declared_mode\":\"{}\",\"rollout\":{},"
                         "\"actions\":\"{}\",\"backend\":\"{}\",\"kind\":\"{}\",\"event_types\":\"{}\",\"tests\":{},"
                         "\"path\":",
                         engine::SeverityName(r.severity), r.enabled, r.actions.enforce() ? "enforce" : "monitor",
                         r.declared_mode == engine::RuleMode::kEnforce ? "enforce" : "monitor", r.rollout_percent,
                         ActionsOf(r), runtime::BackendName(r.effective_backend),
                         r.is_sequence() ? "sequence" : "event", EventTypesOf(r),
                         pack->tests.count(r.id) ? pack->tests.at(r.id).size() : 0);
      AppendJsonString(out, r.path);
      out += ",\"techniques\":[";
      std::vector<std::string> t = r.techniques();
      for (size_t k = 0; k < t.size(); ++k) {
        if (k > 0) out += ',';
        AppendJsonString(out, t[k]);
      }
      out += "]}";
    }
    out += "]}\n";
    fmt::print("{}", out);
    return pack->errors.empty() ? kExitOk : kExitFailure;
  }
  struct Row {
    std::string cells[8];
  };
  std::vector<Row> rows;
  rows.push_back({{"ID", "NAME", "SEVERITY", "MODE", "ACTIONS", "BACKEND", "KIND", "EVENTS"}});
  for (const engine::Rule* r : all) {
    rows.push_back({{r->id, r->name, std::string(engine::SeverityName(r->severity)), ModeOf(*r), ActionsOf(*r),
                     std::string(runtime::BackendName(r->effective_backend)), r->is_sequence() ? "sequence" : "event",
                     EventTypesOf(*r)}});
  }
  size_t width[8] = {};
  for (const Row& row : rows) {
    for (size_t c = 0; c < 8; ++c) width[c] = std::max(width[c], std::min<size_t>(row.cells[c].size(), c == 1 ? 48 : 60));
  }
  fmt::print("pack: {}; {} rules ({} disabled); host bucket {} for rollouts\n", pack->Describe(), all.size(),
             pack->disabled.size(), engine::RolloutBucket(o.host_id.empty() ? rules::HostId() : o.host_id));
  for (const Row& row : rows) {
    std::string line;
    for (size_t c = 0; c < 8; ++c) {
      std::string cell = row.cells[c];
      if (cell.size() > width[c]) cell = cell.substr(0, width[c] - 1) + "~";
      line += c + 1 < 8 ? fmt::format("{:<{}}  ", cell, width[c]) : cell;
    }
    fmt::print("{}\n", line);
  }
  return pack->errors.empty() ? kExitOk : kExitFailure;
}

// `s` escaped for an XML attribute or text.
std::string Xml(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') {
          out += ' ';
        } else {
          out += c;
        }
    }
  }
  return out;
}

int RunTest(const PackCommandOptions& o) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  size_t passed = 0, failed = 0;
  std::string cases;  // JUnit <testcase> elements
  for (const std::string& path : o.paths) {
    auto pack = rules::LoadPack(path, registry, PackOptionsOf(o));
    if (!pack) {
      fmt::print("FAIL {}: {}\n", path, pack.error().ToString());
      ++failed;
      continue;
    }
    for (const Error& e : pack->errors) {  // a rule that does not load fails its tests
      fmt::print("FAIL {}\n", e.ToString());
      ++failed;
      cases += fmt::format("  <testcase classname=\"{}\" name=\"loads\"><failure message=\"{}\"/></testcase>\n",
                           Xml(path), Xml(e.ToString()));
    }
    auto outcomes = rules::RunPackTests(*pack, registry, o.filter);
    if (!outcomes) {
      fmt::print("FAIL {}\n", outcomes.error().ToString());
      ++failed;
      continue;
    }
    std::set<std::string> tested;
    for (const rules::TestOutcome& t : *outcomes) {
      tested.insert(t.rule_id);
      cases += fmt::format("  <testcase classname=\"{}\" name=\"{}\" file=\"{}\">{}</testcase>\n", Xml(t.rule_id),
                           Xml(t.test), Xml(t.location),
                           t.passed ? "" : fmt::format("<failure message=\"{}\"/>", Xml(t.reason)));
      if (t.passed) {
        ++passed;
        if (o.verbose) fmt::print("ok   {} :: {}\n", t.rule_id, t.test);
        continue;
      }
      ++failed;
      fmt::print("FAIL {} :: {} ({}): {}\n", t.rule_id, t.test, t.location, t.reason);
      for (const std::string& a : t.alerts) fmt::print("     alert: {}\n", a);
      fmt::print("     why: kestrel explain --rules {} --rule {} --test '{}'\n", path, t.rule_id, t.test);
    }
    size_t untested = 0;
    for (const engine::Rule& r : pack->rules.rules) {
      if (!tested.count(r.id) && r.id.find(o.filter) != std::string::npos) ++untested;
    }
    if (untested > 0) fmt::print("note: {}: {} rule{} without tests\n", path, untested, untested == 1 ? "" : "s");
  }
  if (!o.junit.empty()) {
    std::string xml = fmt::format("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"kestrel test\" "
                                  "tests=\"{}\" failures=\"{}\">\n{}</testsuite>\n",
                                  passed + failed, failed, cases);
    if (Status w = OutputFile::WriteAll(o.junit, xml); !w) {
      fmt::print(stderr, "error: {}\n", w.error().ToString());
      return kExitFailure;
    }
  }
  fmt::print("{} passed, {} failed\n", passed, failed);
  return failed == 0 ? kExitOk : kExitFailure;
}

void AddCommonOptions(CLI::App* cmd, PackCommandOptions& o) {
  cmd->add_option("--dialect", o.dialect, "Rule language dialect")->check(CLI::IsMember({"es", "eql"}))->capture_default_str();
  cmd->add_option("--host-id", o.host_id, "The host id rollouts are decided for (default: /etc/machine-id)");
}

}  // namespace

CommandFn AddValidateCommand(CLI::App& app) {
  auto o = std::make_shared<PackCommandOptions>();
  CLI::App* cmd = app.add_subcommand("validate", "Check rule files and packs: every error, with file:line:col");
  cmd->add_option("paths", o->paths, "Rule files or pack folders")->required();
  cmd->add_flag("--strict", o->strict,
                "Also require a description, an ATT&CK technique tag and tests for both outcomes in every rule");
  AddCommonOptions(cmd, *o);
  return [o] { return RunValidate(*o); };
}

CommandFn AddListCommand(CLI::App& app) {
  auto o = std::make_shared<PackCommandOptions>();
  CLI::App* cmd = app.add_subcommand("list", "List a pack's rules: id, name, severity, effective mode, backend, events");
  cmd->add_option("path", o->paths, "A rule file or pack folder")->required()->expected(1);
  cmd->add_flag("--json", o->json, "One JSON object instead of the table");
  AddCommonOptions(cmd, *o);
  return [o] { return RunList(*o); };
}

CommandFn AddTestCommand(CLI::App& app) {
  auto o = std::make_shared<PackCommandOptions>();
  CLI::App* cmd = app.add_subcommand("test", "Run the tests embedded in rules; the last line is `N passed, N failed`");
  cmd->add_option("paths", o->paths, "Rule files or pack folders")->required();
  cmd->add_option("--rule", o->filter, "Only the rules whose id contains this");
  cmd->add_flag("-v,--verbose", o->verbose, "Also list the tests that pass");
  cmd->add_option("--junit", o->junit, "Also write the results as JUnit XML to this file (for CI)");
  AddCommonOptions(cmd, *o);
  return [o] { return RunTest(*o); };
}

}  // namespace kestrel::cli
