// `kestrel query`: hunt over recorded events with one EQL query; prints every match.
#include <algorithm>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/input_options.h"
#include "eql/compiler.h"
#include "eql/evaluator.h"
#include "eql/parser.h"
#include "event/event_builder.h"
#include "event/ndjson.h"
#include "query/hunt.h"

namespace kestrel::cli {
namespace {

// A generated predicate has no loops; this only bounds a pathological one.
constexpr uint64_t kHuntBudget = 100'000'000;

struct QueryOptions {
  InputOptions input;
  std::string query;
  std::string dialect = "es";
  bool case_sensitive = false;
  bool case_insensitive = false;
  std::string id_field;
  std::string backend = "native";
};

std::string KeyJson(const std::vector<eql::Scalar>& key) {
  std::string out;
  eql::AppendScalarsJson(out, key);
  return out;
}

// The query's conditions on --backend (null for native).
Result<std::unique_ptr<query::BackendTerms>> BackendTermsFor(const QueryOptions& o, const eql::CompiledQuery& q,
                                                             const SchemaRegistry& registry) {
  runtime::Backend b = *runtime::ParseBackend(o.backend);
  if (b == runtime::Backend::kNative) return std::unique_ptr<query::BackendTerms>();
  return query::BackendTerms::Create(q, o.query, registry, b, kHuntBudget);
}

// Reads every input into `events` (copies), registering their fields.
Status LoadAll(const QueryOptions& o, SchemaRegistry& registry, EventBuilder& copier, std::vector<Event>& events) {
  KESTREL_TRY(ReadInputs(o.input, registry, [&](const EventBatch& batch) -> Result<Flow> {
    for (const Event& e : batch) events.push_back(copier.Copy(e));
    return Flow::kContinue;
  }));
  std::stable_sort(events.begin(), events.end(), OrderedBefore);
  return Ok();
}

// Event queries stream: the query is compiled once the first batch has registered the data's
// fields, and only matching events are kept. Returns nullopt (having read at most one batch)
// when the query needs everything in memory first: sequences, samples, lineage, or fields the
// first batch did not have.
Result<std::optional<query::HuntResult>> TryStream(const QueryOptions& o, SchemaRegistry& registry,
                                                   const eql::Source& source, const eql::CompileOptions& options,
                                                   EventBuilder& store) {
  auto parsed = eql::Parse(source, options.dialect);
  if (!parsed.query || parsed.query->kind != eql::QueryKind::kEvent) return std::optional<query::HuntResult>();
  std::unique_ptr<eql::CompiledQuery> compiled;
  std::unique_ptr<query::EventQueryStream> stream;
  std::unique_ptr<query::BackendTerms> backend;
  Status backend_status = Ok();
  auto compile = [&]() {
    auto result = eql::CompileQuery(*parsed.query, registry, options);
    if (!result.query || !query::EventQueryStream::Supports(*result.query)) return false;
    compiled = std::move(result.query);
    auto terms = BackendTermsFor(o, *compiled, registry);
    if (!terms) {
      backend_status = tl::unexpected(terms.error());
      return false;
    }
    backend = std::move(*terms);
    stream = std::make_unique<query::EventQueryStream>(*compiled, backend.get());
    return true;
  };
  bool unsupported = false;
  KESTREL_ASSIGN_OR_RETURN(ReadSummary read, ReadInputs(o.input, registry, [&](const EventBatch& batch) -> Result<Flow> {
    if (!stream && !compile()) {
      unsupported = true;  // the slow path reports the diagnostics
      return Flow::kStop;
    }
    stream->Feed(batch, store);
    return Flow::kContinue;
  }));
  KESTREL_TRY(backend_status);
  if (unsupported || (!stream && !compile())) return std::optional<query::HuntResult>();
  (void)read;
  KESTREL_ASSIGN_OR_RETURN(query::HuntResult result, stream->Finish());
  return std::optional<query::HuntResult>(std::move(result));
}

int RunQuery(const QueryOptions& o) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  EventBatch store;
  EventBuilder copier(&store.arena());
  eql::Source source("<query>", o.query);
  eql::CompileOptions compile_options;
  compile_options.dialect = o.dialect == "eql" ? eql::Dialect::kPythonEql : eql::Dialect::kElasticsearch;
  compile_options.case_insensitive =
      o.case_insensitive || (compile_options.dialect == eql::Dialect::kPythonEql && !o.case_sensitive);

  bool has_stdin = std::find(o.input.inputs.begin(), o.input.inputs.end(), "-") != o.input.inputs.end();
  std::optional<query::HuntResult> streamed;
  if (!has_stdin) {  // a fallback to loading everything re-reads the inputs
    auto tried = TryStream(o, registry, source, compile_options, copier);
    if (!tried) {
      fmt::print(stderr, "error: {}\n", tried.error().ToString());
      return kExitFailure;
    }
    streamed = std::move(*tried);
  }
  std::vector<Event> events;
  std::unique_ptr<eql::CompiledQuery> compiled_query;
  if (!streamed) {
    SchemaRegistry fresh = SchemaRegistry::WithEcs();
    registry = std::move(fresh);
    if (auto loaded = LoadAll(o, registry, copier, events); !loaded) {
      fmt::print(stderr, "error: {}\n", loaded.error().ToString());
      return kExitFailure;
    }
    auto compiled = eql::Compile(source, registry, compile_options);
    if (!compiled.query) {
      fmt::print(stderr, "{}", source.RenderAll(compiled.diagnostics));
      return kExitFailure;
    }
    compiled_query = std::move(compiled.query);
  }
  std::optional<FieldId> id_field;
  if (!o.id_field.empty()) {
    id_field = registry.Find(o.id_field);
    if (!id_field) {
      fmt::print(stderr, "error: --id-field: no event has a field '{}'\n", o.id_field);
      return kExitUsage;
    }
  }
  std::unique_ptr<query::BackendTerms> backend;
  if (!streamed) {
    auto terms = BackendTermsFor(o, *compiled_query, registry);
    if (!terms) {
      fmt::print(stderr, "error: {}\n", terms.error().ToString());
      return kExitFailure;
    }
    backend = std::move(*terms);
  }
  Result<query::HuntResult> matches = streamed ? Result<query::HuntResult>(std::move(*streamed))
                                               : query::Hunt(*compiled_query, events, registry, backend.get());
  if (!matches) {
    fmt::print(stderr, "error: {}\n", matches.error().ToString());
    return kExitFailure;
  }
  std::string out;
  for (const query::Match& m : matches->matches) {
    out.clear();
    if (m.count && m.events.empty()) {  // `count`
      out += fmt::format("{{\"count\":{}", *m.count);
      if (!m.key.empty()) out += ",\"key\":" + KeyJson(m.key);
      out += "}\n";
      fwrite(out.data(), 1, out.size(), stdout);
      continue;
    }
    if (m.count && !id_field) {  // `unique_count`: the count, the key and the group's first event
      out += fmt::format(R"({{"count":{},"key":{},"event":)", *m.count, KeyJson(m.key));
      AppendEventJson(out, *m.events[0], registry);
      out += "}\n";
      fwrite(out.data(), 1, out.size(), stdout);
      continue;
    }
    if (id_field) {
      for (size_t k = 0; k < m.events.size(); ++k) {
        if (k > 0) out.push_back(' ');
        const Event* e = m.events[k];
        const Value* v = e != nullptr ? e->Find(*id_field) : nullptr;
        if (e == nullptr) {
          out += "-1";  // a missing event of a ![...] stage
        } else if (v == nullptr) {
          out += "null";
        } else if (v->kind() == ValueKind::kString) {
          out += v->as_string();
        } else {
          AppendValueJson(out, *v);
        }
      }
    } else if (m.events.size() == 1 && m.events[0] != nullptr) {
      AppendEventJson(out, *m.events[0], registry);
    } else {
      out += "{\"sequence\":[";
      for (size_t k = 0; k < m.events.size(); ++k) {
        if (k > 0) out.push_back(',');
        if (m.events[k] == nullptr) {
          out += "null";
        } else {
          AppendEventJson(out, *m.events[k], registry);
        }
      }
      out += "]}";
    }
    out.push_back('\n');
    fwrite(out.data(), 1, out.size(), stdout);
  }
  return kExitOk;
}

}  // namespace

CommandFn AddQueryCommand(CLI::App& app) {
  auto options = std::make_shared<QueryOptions>();
  CLI::App* cmd = app.add_subcommand("query", "Run one EQL query over recorded events and print the matches");
  cmd->add_option("query", options->query, "The EQL query")->required();
  cmd->add_option("-i,--input", options->input.inputs, "Event file (NDJSON or .klog; '-' for stdin); repeat for more")
      ->required()
      ->allow_extra_args(false);
  cmd->add_option("--profile", options->input.profile, "JSON input profile")
      ->check(CLI::IsMember({"ecs", "endgame"}))
      ->capture_default_str();
  cmd->add_flag("--skip-bad", options->input.skip_bad, "Skip records that fail to decode, and report how many");
  cmd->add_option("--dialect", options->dialect, "es (Elasticsearch EQL) or eql (python-eql)")
      ->check(CLI::IsMember({"es", "eql"}))
      ->capture_default_str();
  auto* cs = cmd->add_flag("--case-sensitive", options->case_sensitive, "== and in compare exactly (the es default)");
  cmd->add_flag("--case-insensitive", options->case_insensitive, "== and in ignore ASCII case (the eql default)")
      ->excludes(cs);
  cmd->add_option("--backend", options->backend, "Predicate backend: native, wasm or lua")
      ->check(CLI::IsMember({"native", "wasm", "lua"}))
      ->capture_default_str();
  cmd->add_option("--id-field", options->id_field,
                  "Print only this field of each matched event, space-separated, one match per line");
  return [options] { return RunQuery(*options); };
}

}  // namespace kestrel::cli
