// Micro-benchmarks of the per-event hot functions (docs/performance.md, "Micro-benchmarks"),
// each through the project's own API, one operation per iteration:
// - BM_MicroFieldFind/<field>/<form>: Event::Find(FieldId), the evaluator's only way to read a
//   field (a path is resolved to a FieldId at compile time), on a workload process event built
//   by the NDJSON reader (`built`: binary search over sorted Fields) or read from a .klog
//   (`klog`: the block's FieldShape table); `array2` also walks process.args to its third
//   element with VisitElements, as the evaluator expands a multi-valued field.
// - BM_MicroMatch/<case>/<hit|miss>: the evaluator's field tests (CompareField, FieldMatches)
//   on the node the compiler makes of `==`, `:` (exact, prefix, suffix, contains, glob), like
//   and regex (RE2): the fast path Evaluator::Matches takes for such a node.
// - BM_MicroPatternSet/<n>/<hit|miss>: the rule index's vectorscan prefilter (PatternSet::Scan)
//   over n case-insensitive globs.
// - BM_MicroInSet/<n>/<cs|ci>/<hit|miss>: `in` / `in~` over n string literals (FieldInSet on the
//   compiled LiteralSet, a StringSet hash table).
// - BM_MicroSequenceStep/<stages>/<warm>/<mode>: one event through SequenceRunner::Process for
//   `sequence by process.entity_id` with `warm` keys holding a partial match, with the detection
//   engine's options (events stored); `cycle` feeds a key's later stages (its partial match
//   advances and completes) then its first stage (a new partial match), `start` only the first
//   stage (supersedes the key's partial match), `miss` an event that matches no stage.
// - BM_MicroStateInsert/N, BM_MicroStateExpire/N, BM_MicroStateExpireNone/N: the mechanism that
//   expires sequence state by maxspan / TTL. There is no timer wheel: StateStore keeps deadlines
//   in a binary min-heap (std::priority_queue, lazy deletion), so these time StateStore::Insert
//   (heap push included), StateStore::Expire removing one due entry, and Expire when nothing is
//   due (the check every event pays), with N live entries.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/arena.h"
#include "engine/pattern_set.h"
#include "eql/compiler.h"
#include "eql/evaluator.h"
#include "event/event_builder.h"
#include "event/event_reader.h"
#include "nfa/sequence_runner.h"
#include "nfa/state_store.h"
#include "workload.h"

namespace kestrel::bench {
namespace {

using eql::Tri;

// ---------------------------------------------------------------------------------------------
// Field lookup

// The first 256 process events of a small cached workload, in one form, with their registry.
struct ProcessEvents {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  std::vector<EventBatch> batches;  // own the events
  std::vector<Event> events;
  std::string error;
};

ProcessEvents LoadProcessEvents(const std::string& format) {
  ProcessEvents out;
  auto path = CachedWorkload(1000, format);
  if (!path) {
    out.error = path.error().ToString();
    return out;
  }
  auto reader = OpenEventReader(*path, {}, &out.registry);
  if (!reader) {
    out.error = reader.error().ToString();
    return out;
  }
  auto process = out.registry.FindEventType("process");
  while (out.events.size() < 256) {
    EventBatch& batch = out.batches.emplace_back();
    auto more = (*reader)->Next(batch);
    if (!more || !*more) break;
    for (const Event& e : batch) {
      if (process && e.type() == *process && out.events.size() < 256) out.events.push_back(e);
    }
  }
  if (out.events.size() < 256) out.error = "fewer than 256 process events in the workload";
  return out;
}

const ProcessEvents& Loaded(bool klog) {
  static const ProcessEvents kBuilt = LoadProcessEvents("ndjson");
  static const ProcessEvents kRecord = LoadProcessEvents("klog");
  return klog ? kRecord : kBuilt;
}

enum class Lookup : uint8_t { kPresent, kAbsent, kNested, kArrayElement };

void FieldFind(benchmark::State& state, Lookup lookup, const char* field, bool klog) {
  const ProcessEvents& w = Loaded(klog);
  if (!w.error.empty()) {
    state.SkipWithError(w.error.c_str());
    return;
  }
  auto id = w.registry.Find(field);
  if (!id) {
    state.SkipWithError("field not in the registry");
    return;
  }
  const FieldId fid = *id;
  const bool expect_found = lookup != Lookup::kAbsent;
  const Event* events = w.events.data();
  uint64_t i = 0, found = 0;
  for (auto _ : state) {
    const Event* e = &events[i++ & 255];
    benchmark::DoNotOptimize(e);
    const Value* v = e->Find(fid);
    if (lookup == Lookup::kArrayElement) {
      // The third element, reached the way the evaluator expands a field (VisitElements).
      const Value* third = nullptr;
      uint32_t n = 0;
      eql::VisitElements(v, [&](const Value& x) {
        if (++n < 3) return false;
        third = &x;
        return true;
      });
      v = third;
    }
    benchmark::DoNotOptimize(v);
    found += v != nullptr ? 1 : 0;
  }
  if (found != (expect_found ? static_cast<uint64_t>(state.iterations()) : 0)) {
    state.SkipWithError("lookup result differs from the expected one");
    return;
  }
  state.SetItemsProcessed(state.iterations());
}

struct FieldCase {
  const char* name;
  Lookup lookup;
  const char* field;
};
constexpr FieldCase kFieldCases[] = {
    {"present", Lookup::kPresent, "process.name"},
    {"absent", Lookup::kAbsent, "file.path"},  // a catalog field process events lack
    {"nested", Lookup::kNested, "process.parent.executable"},  // {"process":{"parent":{...}}} in the JSON
    {"array2", Lookup::kArrayElement, "process.args"},  // ["/usr/bin/x", "-c", "echo N"]: the third
};

// ---------------------------------------------------------------------------------------------
// String matchers and sets: the compiled node of `any where <condition>`.

struct CompiledLeaf {
  std::unique_ptr<eql::CompiledQuery> query;
  std::string error;
  const eql::Program& program() const { return query->terms[0].filter; }
  const eql::IrNode& root() const { return program().nodes[program().root]; }
};

CompiledLeaf CompileLeaf(const std::string& condition) {
  static const SchemaRegistry kRegistry = SchemaRegistry::WithEcs();
  eql::Source source("<micro>", "any where " + condition);
  auto result = eql::Compile(source, kRegistry);
  CompiledLeaf out;
  if (!result.query) {
    out.error = source.RenderAll(result.diagnostics);
    return out;
  }
  out.query = std::move(result.query);
  return out;
}

// The evaluator's field test for the node (EvalBool's fast path for a field against constants).
Tri TestLeaf(const eql::Program& p, const eql::IrNode& n, const Value* v, Arena& scratch) {
  switch (n.op) {
    case eql::IrOp::kCompare: {
      const eql::IrNode& k = p.nodes[n.children[1]];
      return eql::CompareField(v, n.cmp, k.constant, n.insensitive);
    }
    case eql::IrOp::kMatch:
      return eql::FieldMatches(v, std::span<const eql::Matcher>(p.matchers).subspan(n.index, n.count),
                               n.exact_set != UINT32_MAX ? &p.sets[n.exact_set] : nullptr, scratch);
    case eql::IrOp::kInSet: return eql::FieldInSet(v, p.sets[n.index]);
    default: return Tri::kNull;
  }
}

bool IsFieldLeaf(const CompiledLeaf& leaf) {
  const eql::IrNode& n = leaf.root();
  if (n.op != eql::IrOp::kCompare && n.op != eql::IrOp::kMatch && n.op != eql::IrOp::kInSet) return false;
  if (leaf.program().nodes[n.children[0]].op != eql::IrOp::kField) return false;
  return n.op != eql::IrOp::kCompare || leaf.program().nodes[n.children[1]].op == eql::IrOp::kConst;
}

void RunLeaf(benchmark::State& state, const std::string& condition, const std::string& text, bool hit) {
  CompiledLeaf leaf = CompileLeaf(condition);
  if (!leaf.error.empty()) {
    state.SkipWithError(leaf.error.c_str());
    return;
  }
  if (!IsFieldLeaf(leaf)) {
    state.SkipWithError("the compiler did not make a field test of the condition");
    return;
  }
  const eql::Program& p = leaf.program();
  const eql::IrNode& n = leaf.root();
  const Value value = Value::String(text);
  const Tri expected = hit ? Tri::kTrue : Tri::kFalse;
  Arena scratch(4096);
  uint64_t wrong = 0;
  for (auto _ : state) {
    const Value* v = &value;
    benchmark::DoNotOptimize(v);
    Tri t = TestLeaf(p, n, v, scratch);
    benchmark::DoNotOptimize(t);
    wrong += t != expected ? 1 : 0;
  }
  if (wrong != 0) {
    state.SkipWithError("the test gave the wrong answer");
    return;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(n.op == eql::IrOp::kMatch ? p.matchers[n.index].Describe() : "");
}

struct MatchCase {
  const char* name;
  const char* condition;
  const char* hit;
  const char* miss;
};

// Texts of workload-like length; the misses share no prefix / suffix with the pattern.
constexpr const char* kCommandHit =
    "/usr/bin/python3 /opt/app/manage.py runserver --settings=app.Foo.production --noreload";
constexpr const char* kCommandMiss =
    "/usr/bin/python3 /opt/app/manage.py runserver --settings=app.bar.production --noreload";

constexpr MatchCase kMatchCases[] = {
    {"eq", R"(process.name == "bash")", "bash", "curl"},
    {"eq_ci", R"(process.name : "bash")", "Bash", "curl"},
    {"prefix_ci", R"(process.executable : "/tmp/*")", "/tmp/.x/payload", "/usr/bin/python3"},
    {"suffix_ci", R"(process.executable : "*.sh")", "/home/alice/deploy.sh", "/usr/bin/python3"},
    {"infix_ci", R"(process.command_line : "*foo*")", kCommandHit, kCommandMiss},
    {"infix_cs", R"(process.command_line like "*Foo*")", kCommandHit, kCommandMiss},
    {"glob_ci", R"(process.executable : "/tmp/*/x*.sh")", "/tmp/build/xrun.sh", "/tmp/build/run.sh"},
    {"like_prefix", R"(process.name like "cu*")", "curl", "wget"},
    {"regex", R"(process.executable regex "/(tmp|dev/shm|var/tmp)/[^/]+")", "/dev/shm/payload", "/usr/bin/python3"},
    {"regex_ci", R"(process.executable regex~ "/(tmp|dev/shm|var/tmp)/[^/]+")", "/DEV/SHM/payload",
     "/usr/bin/python3"},
};

// `process.name in (...)` over n literals "name0000", ...; the hit is one in the middle.
std::string InSetCondition(size_t n, bool insensitive) {
  std::string s = insensitive ? "process.name in~ (" : "process.name in (";
  for (size_t i = 0; i < n; ++i) s += fmt::format("{}\"name{:04}\"", i == 0 ? "" : ", ", i);
  return s + ")";
}

// ---------------------------------------------------------------------------------------------
// PatternSet (vectorscan): the rule index's glob prefilter.

void PatternSetScan(benchmark::State& state, size_t n, bool hit) {
  engine::PatternSet set;
  set.Add("/tmp/*", true);
  set.Add("*.sh", true);
  set.Add("*foo*", true);
  for (size_t i = set.size(); i < n; ++i) {
    switch (i % 3) {
      case 0: set.Add(fmt::format("/opt/app{}/*", i), true); break;
      case 1: set.Add(fmt::format("*.ext{}", i), true); break;
      default: set.Add(fmt::format("*needle{}*", i), true); break;
    }
  }
  engine::PatternSet::Scratch scratch;
  if (auto st = set.Build(scratch); !st) {
    state.SkipWithError(st.error().ToString().c_str());
    return;
  }
  const std::string text = hit ? "/tmp/.x/payload" : "/usr/bin/python3";
  std::vector<uint32_t> ids;
  uint64_t wrong = 0;
  for (auto _ : state) {
    ids.clear();
    set.Scan(text, scratch, ids);
    benchmark::DoNotOptimize(ids.data());
    wrong += ids.empty() == hit ? 1 : 0;
  }
  if (wrong != 0) {
    state.SkipWithError("the scan gave the wrong answer");
    return;
  }
  state.SetItemsProcessed(state.iterations());
}

// ---------------------------------------------------------------------------------------------
// Sequence runner: one event per step.

enum class StepMode : uint8_t { kCycle, kStart, kMiss };

constexpr const char* kSequence2 =
    R"(sequence by process.entity_id with maxspan=5m
       [process where process.name == "curl"] [process where process.name == "chmod"])";
constexpr const char* kSequence3 =
    R"(sequence by process.entity_id with maxspan=5m
       [process where process.name == "curl"] [process where process.name == "chmod"]
       [process where process.executable : "/tmp/*"])";

// Events for `stages` stages (and one that matches no stage, last) of the sequences above: a
// process event's sorted fields, whose process.entity_id is set per step.
struct StepEvents {
  EventHeader header;
  std::vector<std::vector<Field>> fields;  // per stage, then the non-matching event
  std::vector<size_t> key_slot;            // process.entity_id's index in each
  Arena arena{4096};
};

bool MakeStepEvents(const SchemaRegistry& registry, size_t stages, StepEvents& out) {
  auto name = registry.Find("process.name");
  auto exe = registry.Find("process.executable");
  auto entity = registry.Find("process.entity_id");
  auto process = registry.FindEventType("process");
  if (!name || !exe || !entity || !process) return false;
  out.header.type = *process;
  const std::pair<const char*, const char*> shapes[] = {
      {"curl", "/usr/bin/curl"}, {"chmod", "/usr/bin/chmod"}, {"payload", "/tmp/.x/payload"}};
  EventBuilder builder(&out.arena);
  for (size_t s = 0; s <= stages; ++s) {
    auto [n, x] = s < stages ? shapes[s] : std::pair<const char*, const char*>{"ls", "/usr/bin/ls"};
    builder.Start();
    builder.Set(*name, builder.StringValue(n));
    builder.Set(*exe, builder.StringValue(x));
    builder.Set(*entity, builder.StringValue("placeholder"));
    Event e = builder.Finish();
    std::vector<Field>& fields = out.fields.emplace_back();
    for (Field f : e.fields()) {
      if (f.id == *entity) out.key_slot.push_back(fields.size());
      fields.push_back(f);
    }
  }
  return out.key_slot.size() == stages + 1;
}

void SequenceStep(benchmark::State& state, size_t stages, size_t warm, StepMode mode) {
  const SchemaRegistry registry = SchemaRegistry::WithEcs();
  eql::Source source("<micro>", stages == 2 ? kSequence2 : kSequence3);
  auto compiled = eql::Compile(source, registry);
  if (!compiled.query) {
    state.SkipWithError(source.RenderAll(compiled.diagnostics).c_str());
    return;
  }
  StepEvents ev;
  if (!MakeStepEvents(registry, stages, ev)) {
    state.SkipWithError("cannot build the step events");
    return;
  }
  std::vector<std::string> keys;
  keys.reserve(warm);
  for (size_t k = 0; k < warm; ++k) keys.push_back(fmt::format("ent-{}-{}", 1000 + k, k % 7));
  // The detection engine's options (engine/detection_engine.cpp and BM_EngineSequences).
  nfa::RunnerOptions options;
  options.store_events = true;
  options.limits.max_entries = 1'000'000;
  options.limits.ttl_ns = 3600ull * 1'000'000'000;
  nfa::SequenceRunner runner(*compiled.query, options);
  std::vector<nfa::SequenceMatch> out;
  uint64_t ts = 1'000'000'000, event_id = 0;
  auto step = [&](size_t shape, size_t k) {
    ev.fields[shape][ev.key_slot[shape]].value = Value::String(keys[k]);
    EventHeader h = ev.header;
    h.ts_mono_ns = h.ts_wall_ns = (ts += 1000);  // 1 µs apart: nothing reaches the 5 min maxspan
    h.event_id = ++event_id;
    h.entity_key = k;
    runner.Process(Event(h, ev.fields[shape]), out);
  };
  for (size_t k = 0; k < warm; ++k) step(0, k);  // one partial match per key
  if (runner.stats().entries != warm || runner.matches() != 0) {
    state.SkipWithError("warm-up did not leave one partial match per key");
    return;
  }
  uint64_t i = 0, events = 0;
  for (auto _ : state) {
    const size_t k = i++ % warm;
    switch (mode) {
      case StepMode::kCycle:
        // The key's partial match advances through the later stages and completes; its first
        // stage then starts a new one, so the state stays at `warm` partial matches.
        for (size_t s = 1; s < stages; ++s) step(s, k);
        step(0, k);
        events += stages;
        out.clear();
        break;
      case StepMode::kStart:
        step(0, k);
        ++events;
        break;
      case StepMode::kMiss:
        step(stages, k);
        ++events;
        break;
    }
  }
  const uint64_t expected_matches = mode == StepMode::kCycle ? i : 0;
  const uint64_t entries = runner.stats().entries;
  if (runner.matches() != expected_matches || entries != warm) {
    state.SkipWithError(fmt::format("unexpected state: {} matches, {} entries", runner.matches(), entries).c_str());
    return;
  }
  state.SetItemsProcessed(static_cast<int64_t>(events));
  state.counters["entries"] = static_cast<double>(entries);
}

// ---------------------------------------------------------------------------------------------
// StateStore deadlines (the TTL / maxspan mechanism: a min-heap, no timer wheel).

constexpr uint64_t kFar = uint64_t{1} << 60;  // deadlines of the warm entries: never due here

std::vector<std::string> Keys(const char* prefix, size_t n) {
  std::vector<std::string> keys;
  keys.reserve(n);
  for (size_t i = 0; i < n; ++i) keys.push_back(fmt::format("{}{:08}", prefix, i));
  return keys;
}

void FillStore(nfa::StateStore& store, const std::vector<std::string>& keys, uint64_t first_deadline) {
  for (size_t i = 0; i < keys.size(); ++i) store.Insert(0, keys[i], i, first_deadline + i, false);
}

// Insert with N live entries: batches of 4096 new keys with near deadlines, expired (untimed)
// after each batch so the store stays at N .. N + 4096.
void BM_MicroStateInsert(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  constexpr size_t kBatch = 4096;
  const std::vector<std::string> warm = Keys("warm-", n);
  const std::vector<std::string> fresh = Keys("new-", kBatch);
  nfa::StateStore store(nfa::StateLimits{});
  FillStore(store, warm, kFar);
  uint64_t now = 1, expired = 0;
  size_t j = 0;
  auto count = [&](nfa::StateStore::Entry&) {
    ++expired;
    return false;
  };
  for (auto _ : state) {
    nfa::StateStore::Entry& e = store.Insert(0, fresh[j], j, now + j, false);
    benchmark::DoNotOptimize(&e);
    if (++j == kBatch) {
      state.PauseTiming();
      now += kBatch + 1;
      store.Expire(now, count);
      j = 0;
      state.ResumeTiming();
    }
  }
  if (store.stats().entries != n + j || expired % kBatch != 0) {
    state.SkipWithError("the store does not hold what was inserted");
    return;
  }
  state.SetItemsProcessed(state.iterations());
}

// Expire(now) removing exactly one due entry, with up to N live entries (refilled, untimed,
// when drained).
void BM_MicroStateExpire(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  const std::vector<std::string> keys = Keys("key-", n);
  nfa::StateStore store(nfa::StateLimits{});
  uint64_t now = 1, expired = 0;
  FillStore(store, keys, now);  // deadlines now .. now + n - 1
  size_t left = n;
  auto count = [&](nfa::StateStore::Entry&) {
    ++expired;
    return false;
  };
  for (auto _ : state) {
    store.Expire(++now, count);  // removes the entry due at now - 1
    if (--left == 0) {
      state.PauseTiming();
      FillStore(store, keys, now);
      left = n;
      state.ResumeTiming();
    }
  }
  if (expired != static_cast<uint64_t>(state.iterations()) || store.stats().entries != left) {
    state.SkipWithError("Expire did not remove one entry per call");
    return;
  }
  state.SetItemsProcessed(state.iterations());
}

// Expire(now) with nothing due: what every event of a sequence rule pays.
void BM_MicroStateExpireNone(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  nfa::StateStore store(nfa::StateLimits{});
  FillStore(store, Keys("key-", n), kFar);
  uint64_t now = 1, expired = 0;
  auto count = [&](nfa::StateStore::Entry&) {
    ++expired;
    return false;
  };
  for (auto _ : state) {
    uint64_t t = ++now;
    benchmark::DoNotOptimize(t);
    store.Expire(t, count);
  }
  if (expired != 0 || store.stats().entries != n) {
    state.SkipWithError("Expire removed an entry that was not due");
    return;
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_MicroStateInsert)->Arg(1'000)->Arg(100'000);
BENCHMARK(BM_MicroStateExpire)->Arg(1'000)->Arg(100'000);
BENCHMARK(BM_MicroStateExpireNone)->Arg(1'000)->Arg(100'000);

// Named registrations: the case names make the table readable.
const bool kRegistered = [] {
  for (const FieldCase& c : kFieldCases) {
    for (bool klog : {false, true}) {
      benchmark::RegisterBenchmark(fmt::format("BM_MicroFieldFind/{}/{}", c.name, klog ? "klog" : "built").c_str(),
                                   [c, klog](benchmark::State& s) { FieldFind(s, c.lookup, c.field, klog); });
    }
  }
  for (const MatchCase& c : kMatchCases) {
    for (bool hit : {true, false}) {
      benchmark::RegisterBenchmark(fmt::format("BM_MicroMatch/{}/{}", c.name, hit ? "hit" : "miss").c_str(),
                                   [c, hit](benchmark::State& s) { RunLeaf(s, c.condition, hit ? c.hit : c.miss, hit); });
    }
  }
  for (size_t n : {3, 64}) {
    for (bool hit : {true, false}) {
      benchmark::RegisterBenchmark(fmt::format("BM_MicroPatternSet/{}/{}", n, hit ? "hit" : "miss").c_str(),
                                   [n, hit](benchmark::State& s) { PatternSetScan(s, n, hit); });
    }
  }
  for (size_t n : {4, 64, 1024}) {
    for (bool ci : {false, true}) {
      for (bool hit : {true, false}) {
        benchmark::RegisterBenchmark(
            fmt::format("BM_MicroInSet/{}/{}/{}", n, ci ? "ci" : "cs", hit ? "hit" : "miss").c_str(),
            [n, ci, hit](benchmark::State& s) {
              std::string text = hit ? fmt::format("name{:04}", n / 2) : "python3";
              if (hit && ci) text[0] = 'N';  // folded before the lookup
              RunLeaf(s, InSetCondition(n, ci), text, hit);
            });
      }
    }
  }
  for (size_t stages : {2, 3}) {
    for (size_t warm : {1'000, 100'000}) {
      for (StepMode mode : {StepMode::kCycle, StepMode::kStart, StepMode::kMiss}) {
        const char* mode_name = mode == StepMode::kCycle ? "cycle" : mode == StepMode::kStart ? "start" : "miss";
        benchmark::RegisterBenchmark(fmt::format("BM_MicroSequenceStep/{}/{}/{}", stages, warm, mode_name).c_str(),
                                     [stages, warm, mode](benchmark::State& s) { SequenceStep(s, stages, warm, mode); });
      }
    }
  }
  return true;
}();

}  // namespace
}  // namespace kestrel::bench
