#include "enforce/response_engine.h"

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <cstdlib>
#include <set>
#include <thread>

#include "eql/evaluator.h"
#include "eql/optimizer.h"
#include "event/event_batch.h"
#include "event/event_builder.h"
#include "engine/rule_index.h"
#include "event/ip_address.h"
#include "nfa/sequence_runner.h"
#include "sources/ebpf/process_table.h"

namespace kestrel::enforce {

namespace {

enum class Target : uint8_t { kNone, kExec, kOpen, kConnect };

std::string_view TargetName(Target t) {
  switch (t) {
    case Target::kExec: return "exec";
    case Target::kOpen: return "open";
    case Target::kConnect: return "connect";
    case Target::kNone: break;
  }
  return "none";
}

Target TargetOf(const eql::Program& p) {
  if (p.category == "process") return Target::kExec;
  if (p.category == "file") return Target::kOpen;
  if (p.category == "network") return Target::kConnect;
  return Target::kNone;
}

using ebpf::BaseName;
using ebpf::ReadLink;

// The fields a program reads.
std::set<FieldId> FieldsOf(const eql::Program& p) {
  std::set<FieldId> out;
  for (const eql::IrNode& n : p.nodes) {
    if (n.op == eql::IrOp::kField) out.insert(n.field);
  }
  return out;
}

// What a connect block rule denies in the kernel: connects to any of `ips` (empty: any address)
// on any of `ports` (empty: any port).
struct ConnectDeny {
  std::vector<IpAddress> ips;
  std::vector<uint16_t> ports;
  std::string Describe() const {
    std::string out;
    if (!ips.empty()) {
      out += "addresses";
      for (const IpAddress& ip : ips) out += " " + FormatIp(ip);
    }
    if (!ports.empty()) {
      out += out.empty() ? "ports" : "; ports";
      for (uint16_t p : ports) out += fmt::format(" {}", p);
    }
    return out;
  }
};

// The addresses and ports a connect rule requires, when they are its whole condition (besides
// event.action / event.type / event.category / network.direction) and it matches a connect to
// each of their combinations: what the kernel maps can deny without denying more than the rule.
std::optional<ConnectDeny> ExactConnectDeny(const eql::Program& p, SchemaRegistry& registry, eql::Evaluator& evaluator) {
  std::optional<FieldId> port = registry.Find("destination.port"), ip = registry.Find("destination.ip");
  if (!port || !ip) return std::nullopt;
  ConnectDeny deny;
  for (int64_t v : eql::RequiredIntegers(p, *port)) {
    if (v < 0 || v > 65535) return std::nullopt;
    deny.ports.push_back(static_cast<uint16_t>(v));
  }
  for (const eql::Prefilter& pf : eql::ExtractPrefilters(p)) {
    if (pf.field != *ip) continue;
    if (!pf.globs.empty()) return std::nullopt;
    for (const std::string& text : pf.values) {
      std::optional<IpAddress> a = ParseIp(text);
      if (!a) return std::nullopt;
      deny.ips.push_back(*a);
    }
  }
  if (deny.ips.empty() && deny.ports.empty()) return std::nullopt;
  std::set<std::string_view> allowed = {"destination.port", "destination.ip", "event.action", "event.type",
                                        "event.category", "network.direction"};
  std::set<FieldId> fields = FieldsOf(p);
  for (FieldId f : fields) {
    if (allowed.count(registry.name(f)) == 0) return std::nullopt;
  }
  // A field the maps leave open (any address, any port) must not be read by the rule at all.
  if ((deny.ips.empty() && fields.count(*ip) > 0) || (deny.ports.empty() && fields.count(*port) > 0)) {
    return std::nullopt;
  }
  EventBatch batch;
  EventBuilder b(&batch.arena());
  auto matches = [&](const IpAddress* a, std::optional<uint16_t> v) {
    b.Start();
    b.header().type = registry.InternEventType("network").value_or(0);
    b.Set(*registry.Find("event.category"), b.StringValue("network"));
    b.Set(*registry.Find("event.action"), b.StringValue("connection_attempted"));
    Value types[2] = {b.StringValue("connection"), b.StringValue("start")};
    b.Set(*registry.Find("event.type"), Value::Array({types, 2}));
    if (auto dir = registry.Find("network.direction")) b.Set(*dir, b.StringValue("egress"));
    if (a != nullptr) b.Set(*ip, b.IpValue(*a));
    if (v) b.Set(*port, Value::I64(*v));
    Event e = b.Finish();
    return evaluator.Matches(p, e);
  };
  // Every combination the maps would deny must match.
  if (deny.ips.empty()) {
    for (uint16_t v : deny.ports) {
      if (!matches(nullptr, v)) return std::nullopt;
    }
  } else if (deny.ports.empty()) {
    for (const IpAddress& a : deny.ips) {
      if (!matches(&a, std::nullopt)) return std::nullopt;
    }
  } else {
    for (const IpAddress& a : deny.ips) {
      for (uint16_t v : deny.ports) {
        if (!matches(&a, v)) return std::nullopt;
      }
    }
  }
  return deny;
}

}  // namespace

// A process armed by a sequence rule's stages before the last.
struct ResponseEngine::Armed {
  uint32_t pid;
  uint32_t rule;
  uint64_t deadline;  // event time (ts_mono_ns) past which it is disarmed; 0: none
  Target target;
};

struct ResponseEngine::Impl {
  struct Plan {
    Target target = Target::kNone;  // what its block denies
    bool inline_block = false;      // enforce mode, and a mechanism can deny it inline
    bool kernel_kill = false;       // its kill runs in the exec tracepoint
    bool lsm_exec = false;          // its exec (open) block is in an LSM program's map
    ConnectDeny deny;               // connect rules: what the kernel maps deny
    std::string mechanism;          // how (or, when !inline_block, why not)
    std::unique_ptr<eql::CompiledQuery> prefix;  // sequences: the stages before the last
    std::unique_ptr<nfa::SequenceRunner> prefix_runner;
  };
  std::vector<Plan> plans;  // by rule
  std::unique_ptr<KernelGuard> guard;
  std::unique_ptr<FanotifyResponder> responder;
  ResponseOptions options;
  std::string boot_id;
  std::set<std::string> allow;
  int32_t self = 0, parent = 0;
  std::vector<uint32_t> exec_rules, open_rules;  // decided by the responder
  std::vector<Armed> armed;                      // engine thread
  std::set<uint32_t> exempt_pids;                // engine thread: allowlisted, exempt in the kernel
  // KESTREL_FAILPOINT_DECIDE_DELAY_MS: every decision takes this long (tests of the deadline).
  std::chrono::milliseconds decide_delay{0};
  // What a decision reads from /proc, only when a rule (or the allowlist) needs it: the
  // requester's start time (process.entity_id) and executable.
  bool needs_entity = false, needs_requester = false;
  // The responder thread's quick check: the exec / open rules indexed by their prefilters, run
  // on an event of the request's path alone (sound when no rule needs what /proc would add).
  bool fast = false;
  engine::RuleIndex fast_index;
  EventBatch fast_batch;
  EventBuilder fast_builder{&fast_batch.arena()};
  std::vector<uint32_t> candidates;

  // The decision thread's own event and evaluator.
  EventBatch batch;
  EventBuilder builder{&batch.arena()};
  eql::Evaluator evaluator;
  EventTypeId process_type = 0, file_type = 0;
  FieldId category, type, action, pid, executable, name, entity_id, file_path, file_name;

  mutable std::mutex mu;  // guards what follows
  std::vector<engine::Alert> alerts;                   // made by the decision thread
  std::unordered_map<uint32_t, uint32_t> armed_exec;   // pid -> rule (the responder's check)
  ResponseStats stats;
  uint64_t ordinal = 0;
};

ResponseEngine::ResponseEngine(const engine::RuleSet& rules, const SchemaRegistry& registry)
    : rules_(rules), registry_(registry), impl_(std::make_unique<Impl>()) {}

ResponseEngine::~ResponseEngine() { Stop(); }

Result<std::unique_ptr<ResponseEngine>> ResponseEngine::Start(const engine::RuleSet& rules, SchemaRegistry& registry,
                                                             const ResponseOptions& options) {
  std::unique_ptr<ResponseEngine> r(new ResponseEngine(rules, registry));
  Impl& im = *r->impl_;
  im.options = options;
  im.boot_id = ebpf::ReadBootId();
  im.allow.insert(options.allow_executables.begin(), options.allow_executables.end());
  im.self = static_cast<int32_t>(getpid());
  if (const char* delay = std::getenv("KESTREL_FAILPOINT_DECIDE_DELAY_MS")) {
    im.decide_delay = std::chrono::milliseconds(std::strtol(delay, nullptr, 10));
    r->report_.push_back(fmt::format("failpoint: every exec / open decision is delayed by {} ms", im.decide_delay.count()));
  }
  im.parent = static_cast<int32_t>(getppid());
  auto field = [&](std::string_view name) { return registry.Find(name).value_or(FieldId{}); };
  im.category = field("event.category");
  im.type = field("event.type");
  im.action = field("event.action");
  im.pid = field("process.pid");
  im.executable = field("process.executable");
  im.name = field("process.name");
  im.entity_id = field("process.entity_id");
  im.file_path = field("file.path");
  im.file_name = field("file.name");
  im.process_type = registry.InternEventType("process").value_or(0);
  im.file_type = registry.InternEventType("file").value_or(0);
  im.plans.resize(rules.rules.size());

  bool any = false, want_guard = false, want_exec = false, want_open = false;
  for (size_t i = 0; i < rules.rules.size(); ++i) {
    const engine::Rule& rule = rules.rules[i];
    if (rule.actions.any()) any = true;
    if (!rule.actions.block) continue;
    Impl::Plan& plan = im.plans[i];
    const eql::CompiledQuery& q = *rule.compiled;
    plan.target = TargetOf(q.terms.back().filter);
    if (!rule.actions.enforce()) continue;
    if (plan.target == Target::kNone) {
      plan.mechanism = fmt::format("cannot block {} events (exec, open and connect can be)",
                                   q.terms.back().filter.category.empty() ? "any" : q.terms.back().filter.category);
      continue;
    }
    if (rule.is_sequence()) {
      if (plan.target == Target::kOpen || q.terms.size() < 2 || q.terms.back().missing ||
          q.terms[q.terms.size() - 2].missing) {
        plan.mechanism = "a sequence is blocked by arming its last stage, which must be an exec or a connect after "
                         "a positive stage";
        continue;
      }
      eql::Source source(rule.path, rule.query);
      auto compiled = eql::Compile(source, registry, rule.compile_options);
      if (!compiled.query) {
        plan.mechanism = "its stages could not be compiled again for arming";
        continue;
      }
      compiled.query->terms.pop_back();
      plan.prefix = std::move(compiled.query);
      nfa::RunnerOptions runner_options;
      runner_options.store_events = true;
      plan.prefix_runner = std::make_unique<nfa::SequenceRunner>(*plan.prefix, runner_options);
      plan.inline_block = true;
      if (plan.target == Target::kConnect) want_guard = true;
      if (plan.target == Target::kExec) want_exec = true;
      continue;
    }
    if (plan.target == Target::kConnect) {
      // Only a rule whose whole condition is destination addresses and / or ports: exactly what
      // the maps hold.
      std::optional<ConnectDeny> deny = ExactConnectDeny(q.terms[0].filter, registry, im.evaluator);
      if (!deny) {
        plan.mechanism = "only connect rules whose whole condition is destination.ip and / or destination.port "
                         "(== or in) are denied in the kernel; this one is alerted on, not blocked";
        continue;
      }
      plan.inline_block = true;
      plan.deny = std::move(*deny);
      plan.mechanism = plan.deny.Describe();
      want_guard = true;
      continue;
    }
    plan.inline_block = true;
    (plan.target == Target::kExec ? im.exec_rules : im.open_rules).push_back(static_cast<uint32_t>(i));
    (plan.target == Target::kExec ? want_exec : want_open) = true;
  }
  if (!any) return r;
  r->active_ = true;

  // Kill rules that are exactly "exec of one of these paths": killed in the exec tracepoint.
  std::vector<std::string> kill_paths;
  std::vector<uint32_t> kill_rules;
  if (options.kill_execs_in_kernel) {
    for (size_t i = 0; i < rules.rules.size(); ++i) {
      const engine::Rule& rule = rules.rules[i];
      if (!rule.actions.kill || !rule.actions.enforce() || rule.is_sequence()) continue;
      std::vector<std::string> paths = r->ExactPaths(rule.compiled->terms[0].filter, true);
      if (paths.empty()) continue;
      kill_paths.insert(kill_paths.end(), paths.begin(), paths.end());
      kill_rules.push_back(static_cast<uint32_t>(i));
    }
  }
  if (!kill_paths.empty()) {
    Status pushed = options.kill_execs_in_kernel(kill_paths, {static_cast<uint32_t>(im.self), static_cast<uint32_t>(im.parent)});
    if (pushed) {
      for (uint32_t i : kill_rules) im.plans[i].kernel_kill = true;
    } else {
      r->report_.push_back(fmt::format("kill: the exec program could not take the kill rules ({}); kill(2) instead",
                                       pushed.error().message()));
    }
  }
  im.needs_requester = !im.allow.empty();
  for (const auto* list : {&im.exec_rules, &im.open_rules}) {
    for (uint32_t i : *list) {
      std::set<FieldId> fields = FieldsOf(rules.rules[i].compiled->terms[0].filter);
      im.needs_entity = im.needs_entity || fields.count(im.entity_id) > 0;
      if (list == &im.open_rules) {
        im.needs_requester = im.needs_requester || fields.count(im.executable) > 0 || fields.count(im.name) > 0;
      }
    }
  }

  // The kernel: BPF-LSM, else cgroup programs and fanotify.
  std::string lsm_why = options.probe_lsm ? KernelGuard::ProbeLsm() : "not probed (--no-lsm)";
  const bool lsm = lsm_why.empty();
  r->report_.push_back(lsm ? "BPF-LSM: available; connects and armed execs are denied by LSM programs"
                           : fmt::format("BPF-LSM: unavailable ({}); using the fallbacks", lsm_why));
  if (want_guard || (lsm && (want_exec || want_open))) {
    GuardOptions g;
    g.lsm = lsm;
    g.cgroup = options.cgroup;
    if (!lsm && options.cgroup.empty()) {
      r->report_.emplace_back("connect deny: no --enforce-cgroup given: connect block rules are alerted on, not blocked");
      for (auto& plan : im.plans) {
        if (plan.target == Target::kConnect && plan.inline_block) {
          plan.inline_block = false;
          plan.mechanism = "no cgroup to enforce on (--enforce-cgroup)";
        }
      }
    } else {
      auto guard = KernelGuard::Open(g);
      if (!guard) return tl::unexpected(guard.error());
      im.guard = std::move(*guard);
      for (int32_t pid : {im.self, im.parent, int32_t{1}}) KESTREL_TRY(im.guard->Exempt(static_cast<uint32_t>(pid)));
      r->report_.push_back(fmt::format("connect deny: {}", im.guard->connect_mechanism()));
      for (size_t i = 0; i < im.plans.size(); ++i) {
        Impl::Plan& plan = im.plans[i];
        if (plan.target != Target::kConnect || !plan.inline_block || plan.prefix) continue;
        const ConnectDeny& d = plan.deny;
        const auto rule = static_cast<uint32_t>(i);
        if (d.ips.empty()) {
          for (uint16_t port : d.ports) KESTREL_TRY(im.guard->DenyPort(port, rule));
        } else if (d.ports.empty()) {
          for (const IpAddress& ip : d.ips) KESTREL_TRY(im.guard->DenyAddress(ip, rule));
        } else {
          for (const IpAddress& ip : d.ips) {
            for (uint16_t port : d.ports) KESTREL_TRY(im.guard->DenyEndpoint(ip, port, rule));
          }
        }
        plan.mechanism = fmt::format("{} ({})", im.guard->connect_mechanism(), plan.mechanism);
      }
      if (lsm) {  // rules that are exactly "exec (open) of these paths": denied by bprm_check_security (file_open)
        for (bool exec : {true, false}) {
          if (!exec && !im.guard->lsm_file_open()) continue;
          std::vector<uint32_t>& list = exec ? im.exec_rules : im.open_rules;
          for (auto it = list.begin(); it != list.end();) {
            std::vector<std::string> paths = r->ExactPaths(rules.rules[*it].compiled->terms[0].filter, exec);
            bool pushed = !paths.empty();
            for (const std::string& path : paths) {
              pushed = pushed && static_cast<bool>(exec ? im.guard->DenyExec(path, *it) : im.guard->DenyOpen(path, *it));
            }
            if (!pushed) {
              ++it;
              continue;
            }
            im.plans[*it].mechanism = exec ? "bpf_lsm bprm_check_security (exec paths in its deny map)"
                                           : "bpf_lsm file_open (paths in its deny map)";
            im.plans[*it].lsm_exec = true;
            it = list.erase(it);
          }
        }
        want_open = !im.open_rules.empty();
        want_exec = !im.exec_rules.empty() || std::any_of(im.plans.begin(), im.plans.end(), [](const Impl::Plan& p) {
          return p.prefix && p.target == Target::kExec && !p.lsm_exec;
        });
      }
    }
  }
  if (want_exec || want_open) {
    if (options.mounts.empty()) {
      r->report_.emplace_back("exec / open deny: no --enforce-mount given: those block rules are alerted on, not blocked");
      for (auto& plan : im.plans) {
        if ((plan.target == Target::kExec || plan.target == Target::kOpen) && plan.inline_block &&
            !(plan.prefix && lsm) && !plan.lsm_exec) {
          plan.inline_block = false;
          plan.mechanism = "no mount to enforce on (--enforce-mount)";
        }
      }
      im.exec_rules.clear();
      im.open_rules.clear();
    } else {
      ResponderOptions ro;
      ro.mounts = options.mounts;
      ro.exec = want_exec;
      ro.open = want_open;
      ro.deadline = options.deadline;
      ro.fallback = options.fallback;
      ro.exempt = {im.self, im.parent, 1};
      ResponseEngine* self = r.get();
      im.fast = !im.needs_entity && (im.open_rules.empty() || !im.needs_requester);
      if (im.fast) {
        std::vector<engine::RuleIndex::Entry> entries;
        for (const auto* list : {&im.exec_rules, &im.open_rules}) {
          for (uint32_t i : *list) entries.push_back({i, &rules.rules[i].compiled->terms[0].filter});
        }
        im.fast_index = engine::RuleIndex(entries, registry);
        ro.may_deny = [self](const PermissionRequest& req) { return self->MayDeny(req); };
      }
      auto responder = FanotifyResponder::Start(ro, [self](const PermissionRequest& req) { return self->Decide(req); });
      if (!responder) return tl::unexpected(responder.error());
      im.responder = std::move(*responder);
      std::string mounts;
      for (const std::string& m : options.mounts) mounts += (mounts.empty() ? "" : ", ") + m;
      r->report_.push_back(fmt::format("exec / open deny: fanotify permission events on {} ({} within {} ms, else {})",
                                       mounts, want_exec && want_open ? "execs and opens" : want_exec ? "execs" : "opens",
                                       static_cast<double>(options.deadline.count()) / 1000.0,
                                       options.fallback == Answer::kAllow ? "allowed (fail-open)" : "denied (fail-closed)"));
      for (auto& plan : im.plans) {
        if ((plan.target == Target::kExec || plan.target == Target::kOpen) && plan.inline_block && !plan.prefix &&
            !plan.lsm_exec) {
          plan.mechanism = fmt::format("fanotify on {}", mounts);
        }
      }
    }
  }
  for (size_t i = 0; i < im.plans.size(); ++i) {
    Impl::Plan& plan = im.plans[i];
    if (plan.prefix && plan.inline_block) {
      plan.mechanism = plan.target == Target::kConnect
                           ? (im.guard ? "armed after the stages before the last: " + im.guard->connect_mechanism()
                                       : std::string("no cgroup to enforce on (--enforce-cgroup)"))
                           : (im.responder || lsm ? "armed after the stages before the last: the exec is denied"
                                                  : std::string("no mount to enforce on (--enforce-mount)"));
      if ((plan.target == Target::kConnect && !im.guard) ||
          (plan.target == Target::kExec && !im.responder && !lsm)) {
        plan.inline_block = false;
      }
    }
  }
  r->report_.emplace_back("kill: bpf_send_signal(SIGKILL) in the exec tracepoint for rules that are exactly an exec of "
                          "given paths; otherwise kill(2) of the deciding event's process, once its entity id is checked");
  for (size_t i = 0; i < rules.rules.size(); ++i) {
    const engine::Rule& rule = rules.rules[i];
    if (!rule.actions.any()) continue;
    const Impl::Plan& plan = im.plans[i];
    std::string what;
    if (rule.actions.block) {
      what += rule.actions.enforce()
                  ? (plan.inline_block ? fmt::format("block {}: {}", TargetName(plan.target), plan.mechanism)
                                       : fmt::format("block: NOT enforced: {}", plan.mechanism))
                  : fmt::format("block {}: monitor (would_block)", TargetName(plan.target));
    }
    if (rule.actions.kill) {
      what += fmt::format("{}kill: {}", what.empty() ? "" : "; ",
                          !rule.actions.enforce() ? "monitor (would_kill)"
                          : plan.kernel_kill      ? "enforce (bpf_send_signal in the exec tracepoint)"
                                                  : "enforce (kill(2))");
    }
    r->report_.push_back(fmt::format("rule {}: {}", rule.id, what));
  }
  return r;
}

// The event of the request's path alone (what Decide's event holds but for /proc's fields).
void ResponseEngine::SetPathFields(EventBuilder& b, bool exec, std::string_view path) const {
  const Impl& im = *impl_;
  b.header().type = exec ? im.process_type : im.file_type;
  b.Set(im.category, b.StringValue(exec ? "process" : "file"));
  b.Set(im.type, b.StringValue(exec ? "start" : "access"));
  b.Set(im.action, b.StringValue(exec ? "exec" : "open"));
  b.Set(exec ? im.executable : im.file_path, b.StringValue(path));
  b.Set(exec ? im.name : im.file_name, b.StringValue(BaseName(path)));
}

bool ResponseEngine::MayDeny(const PermissionRequest& request) {
  Impl& im = *impl_;
  if (request.exec) {
    std::lock_guard<std::mutex> lock(im.mu);
    if (im.armed_exec.count(static_cast<uint32_t>(request.pid)) > 0) return true;
  }
  im.fast_batch.Clear();
  im.fast_builder.Start();
  SetPathFields(im.fast_builder, request.exec, request.path);
  im.fast_builder.Set(im.pid, Value::I64(request.pid));
  Event e = im.fast_builder.Finish();
  im.candidates.clear();
  im.fast_index.Candidates(e, im.candidates);
  return !im.candidates.empty();
}

std::vector<std::string> ResponseEngine::ExactPaths(const eql::Program& p, bool exec) {
  Impl& im = *impl_;
  if (p.category != (exec ? "process" : "file")) return {};
  const FieldId path_field = exec ? im.executable : im.file_path;
  std::set<FieldId> allowed = {path_field, im.action, im.type, im.category};
  for (FieldId f : FieldsOf(p)) {
    if (allowed.count(f) == 0) return {};
  }
  std::vector<std::string> paths;
  for (const eql::Prefilter& pf : eql::ExtractPrefilters(p)) {
    if (pf.field == path_field && pf.globs.empty() && !pf.insensitive) paths = pf.values;
  }
  EventBatch batch;
  EventBuilder b(&batch.arena());
  for (const std::string& path : paths) {  // and it matches an exec (an open) of each
    b.Start();
    SetPathFields(b, exec, path);
    Event e = b.Finish();
    if (path.size() >= 256 || !path.starts_with('/') || im.allow.count(path) > 0 || !im.evaluator.Matches(p, e)) return {};
  }
  return paths;
}

Answer ResponseEngine::Decide(const PermissionRequest& request) {
  Impl& im = *impl_;
  if (im.decide_delay.count() > 0) std::this_thread::sleep_for(im.decide_delay);  // the stall failpoint
  im.batch.Clear();
  EventBuilder& b = im.builder;
  b.Start();
  EventHeader& h = b.header();
  auto now = std::chrono::system_clock::now().time_since_epoch();
  h.ts_wall_ns = h.ts_mono_ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
  const auto pid = static_cast<uint32_t>(request.pid);
  std::string requester = im.needs_requester ? ReadLink(fmt::format("/proc/{}/exe", pid)) : std::string();
  b.Set(im.pid, Value::I64(request.pid));
  if (im.needs_entity) b.Set(im.entity_id, b.StringValue(ebpf::EntityIdOf(im.boot_id, pid, ebpf::ProcStartTicks(pid))));
  SetPathFields(b, request.exec, request.path);
  if (!request.exec && !requester.empty()) {
    b.Set(im.executable, b.StringValue(requester));
    b.Set(im.name, b.StringValue(BaseName(requester)));
  }
  Event event = b.Finish();
  auto respond = [&](uint32_t rule, std::string_view action, std::string detail) {
    engine::Alert alert = Respond(rule, event, action, "fanotify", std::move(detail));
    std::lock_guard<std::mutex> lock(im.mu);
    im.alerts.push_back(std::move(alert));
  };
  const bool allowlisted = im.allow.count(requester) > 0 || (request.exec && im.allow.count(request.path) > 0);
  if (request.exec) {
    std::optional<uint32_t> armed;
    {
      std::lock_guard<std::mutex> lock(im.mu);
      if (auto it = im.armed_exec.find(pid); it != im.armed_exec.end()) armed = it->second;
    }
    if (armed) {
      if (allowlisted) {
        respond(*armed, "not_blocked", "the executable is on the allowlist");
        return Answer::kAllow;
      }
      respond(*armed, "blocked", "the process was armed by the sequence's earlier stages");
      return Answer::kDeny;
    }
  }
  for (uint32_t r : request.exec ? im.exec_rules : im.open_rules) {
    if (!im.evaluator.Matches(rules_.rules[r].compiled->terms[0].filter, event)) continue;
    if (allowlisted) {
      respond(r, "not_blocked", "the executable is on the allowlist");
      return Answer::kAllow;
    }
    respond(r, "blocked", "");
    return Answer::kDeny;
  }
  return Answer::kAllow;
}

void ResponseEngine::OnEvent(const Event& event, std::span<const engine::Alert> alerts, std::vector<engine::Alert>& out) {
  if (!active_) return;
  Impl& im = *impl_;
  auto text = [&](FieldId f) -> std::string_view {
    const Value* v = event.Find(f);
    return v != nullptr && v->kind() == ValueKind::kString ? v->as_string() : std::string_view();
  };
  const Value* pid_value = event.Find(im.pid);
  const int64_t pid = pid_value != nullptr && pid_value->kind() == ValueKind::kI64 ? pid_value->as_i64() : 0;
  const uint64_t now = event.ts_mono_ns();
  auto respond = [&](uint32_t rule, std::string_view action, std::string mechanism, std::string detail) {
    engine::Alert alert = Respond(rule, event, action, std::move(mechanism), std::move(detail));
    alert.ts = event.ts_mono_ns();
    alert.event_id = event.event_id();
    out.push_back(std::move(alert));
  };
  auto disarm = [&](size_t k) { Disarm(k); };

  for (const engine::Alert& alert : alerts) {
    if (alert.event_id != event.event_id()) continue;  // decided by time, not by this event
    const engine::Rule& rule = rules_.rules[alert.rule];
    if (!rule.actions.any()) continue;
    const Impl::Plan& plan = im.plans[alert.rule];
    const bool failed = text(*registry_.Find("event.outcome")) == "failure";
    if (rule.actions.block) {
      if (!rule.actions.enforce()) {
        respond(alert.rule, "would_block", std::string(TargetName(plan.target)), "monitor mode");
      } else if (!plan.inline_block) {
        respond(alert.rule, "not_blocked", "none", plan.mechanism);
      } else if (plan.target == Target::kConnect && failed) {
        respond(alert.rule, "blocked", plan.mechanism, "");
      } else {
        respond(alert.rule, "not_blocked", plan.mechanism,
                plan.target == Target::kConnect ? "the connect went through: the process is outside the enforced cgroup"
                                                 : "it happened outside the enforced mounts, or its decision was late");
      }
      for (size_t k = 0; k < im.armed.size(); ++k) {
        if (im.armed[k].rule == alert.rule && im.armed[k].pid == pid) {
          disarm(k);
          break;
        }
      }
    }
    if (rule.actions.kill) {
      std::string exe(text(im.executable));
      std::string why;
      if (rule.is_sequence() && rule.compiled->terms.back().missing) {
        why = "the match was decided by time (its last stage is a missing event): the deciding event's process "
              "is not the match's";
      } else if (pid <= 1) {
        why = "no process to kill (or PID 1)";
      } else if (pid == im.self || pid == im.parent) {
        why = "Kestrel never kills itself or its parent";
      } else if (im.allow.count(exe) > 0) {
        why = "the executable is on the allowlist";
      } else if (rule.actions.enforce() && !plan.kernel_kill) {
        auto p = static_cast<uint32_t>(pid);
        std::string entity(text(im.entity_id));
        uint64_t ticks = ebpf::ProcStartTicks(p);
        if (ticks == 0) {
          why = "the process has already exited";
        } else if (entity.empty() || ebpf::EntityIdOf(im.boot_id, p, ticks) != entity) {
          why = "the pid now belongs to another process (entity id differs)";
        } else if (kill(static_cast<pid_t>(pid), SIGKILL) != 0) {
          why = fmt::format("kill: {}", std::strerror(errno));
        }
      }
      if (!rule.actions.enforce() && why.empty()) {
        respond(alert.rule, "would_kill", "kill(2)", "monitor mode");
      } else if (plan.kernel_kill && why.empty()) {
        respond(alert.rule, "killed", "bpf_send_signal", "SIGKILL in the exec tracepoint, before the program ran");
      } else if (why.empty()) {
        respond(alert.rule, "killed", "kill(2)", fmt::format("SIGKILL to pid {}", pid));
      } else {
        respond(alert.rule, "not_killed", "kill(2)", why);
      }
    }
  }

  // Processes running an allowlisted executable are exempt in the kernel too, while they live.
  if (im.guard && !im.allow.empty() && pid > 1) {
    std::string_view action = text(im.action);
    if ((action == "exec" || action == "already_running") && im.allow.count(std::string(text(im.executable))) > 0) {
      if (im.guard->Exempt(static_cast<uint32_t>(pid))) im.exempt_pids.insert(static_cast<uint32_t>(pid));
    } else if ((action == "exec" || action == "end") && im.exempt_pids.erase(static_cast<uint32_t>(pid)) > 0) {
      im.guard->Unexempt(static_cast<uint32_t>(pid));  // it runs something else now, or ended
    }
  }

  // Arming: the stages before a blocking sequence's last one matched for a process.
  for (size_t i = 0; i < im.plans.size(); ++i) {
    Impl::Plan& plan = im.plans[i];
    if (!plan.prefix_runner || !plan.inline_block) continue;
    std::vector<nfa::SequenceMatch> matches;
    plan.prefix_runner->Process(event, matches);
    for (const nfa::SequenceMatch& m : matches) {
      const Event* last = nullptr;
      for (const EventRef& e : m.events) {
        if (e.get() != nullptr) last = e.get();
      }
      const Value* v = last != nullptr ? last->Find(im.pid) : nullptr;
      if (v == nullptr || v->kind() != ValueKind::kI64 || v->as_i64() <= 1 || v->as_i64() == im.self ||
          v->as_i64() == im.parent) {
        continue;
      }
      Armed a{static_cast<uint32_t>(v->as_i64()), static_cast<uint32_t>(i), 0, plan.target};
      if (plan.prefix->maxspan_ns && !m.events.empty() && m.events.front().get() != nullptr) {
        a.deadline = m.events.front().get()->ts_mono_ns() + static_cast<uint64_t>(*plan.prefix->maxspan_ns);
      }
      bool ok = true;
      if (a.target == Target::kConnect && im.guard) ok = static_cast<bool>(im.guard->ArmConnect(a.pid, a.rule));
      if (a.target == Target::kExec && im.guard && im.guard->lsm()) ok = static_cast<bool>(im.guard->ArmExec(a.pid, a.rule));
      if (!ok) continue;
      std::lock_guard<std::mutex> lock(im.mu);
      if (a.target == Target::kExec) im.armed_exec[a.pid] = a.rule;
      ++im.stats.armed;
      im.armed.push_back(a);
    }
  }
  // Disarming: maxspan passed, or the process ended.
  Expire(now);
  if (text(im.action) == "end") {
    for (size_t k = im.armed.size(); k-- > 0;) {
      if (im.armed[k].pid == pid) disarm(k);
    }
  }
}

engine::Alert ResponseEngine::Respond(uint32_t rule, const Event& event, std::string_view action, std::string mechanism,
                                     std::string detail) {
  engine::AlertResponse response{std::string(action), std::string(action), std::move(mechanism), std::move(detail)};
  engine::Alert alert;
  alert.rule = rule;
  alert.json = engine::RenderAlert(rules_.rules[rule], {&event}, {}, registry_, {}, &response);
  std::lock_guard<std::mutex> lock(impl_->mu);
  ResponseStats& s = impl_->stats;
  ++(action == "blocked" ? s.blocked : action == "would_block" ? s.would_block : action == "not_blocked" ? s.not_blocked
     : action == "killed" ? s.killed : action == "would_kill" ? s.would_kill : s.not_killed);
  alert.ordinal = impl_->ordinal++;
  return alert;
}

void ResponseEngine::Expire(uint64_t now_ns) {
  for (size_t k = impl_->armed.size(); k-- > 0;) {
    if (impl_->armed[k].deadline != 0 && now_ns > impl_->armed[k].deadline) Disarm(k);
  }
}

void ResponseEngine::Disarm(size_t k) {
  Impl& im = *impl_;
  Armed a = im.armed[k];
  if (im.guard) im.guard->Disarm(a.pid);
  {
    std::lock_guard<std::mutex> lock(im.mu);
    im.armed_exec.erase(a.pid);
    ++im.stats.disarmed;
  }
  im.armed.erase(im.armed.begin() + static_cast<std::ptrdiff_t>(k));
}

void ResponseEngine::Drain(std::vector<engine::Alert>& out) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (engine::Alert& a : impl_->alerts) out.push_back(std::move(a));
  impl_->alerts.clear();
}

void ResponseEngine::Stop() {
  if (impl_->responder) impl_->responder->Stop();
  if (impl_->guard) {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stats.kernel_denied_connects = impl_->guard->denied_connects();
  }
  impl_->guard.reset();  // detaches the programs, frees the maps
}

ResponseStats ResponseEngine::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  ResponseStats s = impl_->stats;
  if (impl_->responder) s.responder = impl_->responder->stats();
  if (impl_->guard) s.kernel_denied_connects = impl_->guard->denied_connects();  // else: as Stop() left it
  return s;
}

}  // namespace kestrel::enforce
