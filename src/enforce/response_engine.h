// ResponseEngine: what Kestrel does about a match besides alerting (docs/response.md).
//
// At start it plans each rule's actions against the kernel it runs on and says, per rule, how
// each is enforced or why it cannot be:
//   block exec / open   BPF-LSM where the kernel loads it; else the fanotify responder on the
//                       configured mounts, which runs the rule on the request within a deadline
//   block connect       kernel maps read by BPF-LSM socket_connect or by cgroup connect4/6
//                       programs on the configured cgroup: single-event rules whose whole
//                       condition is a destination port (exactly what the map can hold)
//   block, sequence     the last stage is blocked inline: when the stages before it matched for
//                       a process, that process is armed in the kernel (connect) or in the
//                       responder (exec) until maxspan passes, it exits, or the sequence completes
//   kill                single-event rules that are exactly "exec of these paths": SIGKILL from
//                       the exec tracepoint (bpf_send_signal) before the program runs; others:
//                       kill(2) of the deciding event's process, once its entity id is checked
//                       (a reused pid is not killed)
// In monitor mode (the default) nothing is denied or killed; the response alerts say would_block /
// would_kill. Kestrel, its parent, PID 1 and the allowlisted executables are never blocked or
// killed. Response alerts are separate lines (kestrel.alert.kind: response), so detection alerts
// stay the same live and in a replay.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "enforce/fanotify_responder.h"
#include "enforce/kernel_guard.h"
#include "engine/detection_engine.h"
#include "event/event_builder.h"

namespace kestrel::enforce {

struct ResponseOptions {
  std::vector<std::string> mounts;  // --enforce-mount: where the fanotify responder listens
  std::string cgroup;               // --enforce-cgroup: where the connect programs attach
  std::chrono::microseconds deadline{100'000};
  Answer fallback = Answer::kAllow;
  std::vector<std::string> allow_executables;  // never blocked or killed
  bool probe_lsm = true;                       // false: skip BPF-LSM (tests of the fallbacks)
  // Pushes kill rules that are exactly "exec of one of these paths" into the live source's exec
  // program (bpf_send_signal); the others, or all when null, are killed with kill(2).
  std::function<Status(const std::vector<std::string>& paths, const std::vector<uint32_t>& exempt)> kill_execs_in_kernel;
};

struct ResponseStats {
  uint64_t blocked = 0, would_block = 0, not_blocked = 0;
  uint64_t killed = 0, would_kill = 0, not_killed = 0;
  uint64_t armed = 0, disarmed = 0;
  ResponderStats responder;
  uint64_t kernel_denied_connects = 0;

  // Adds another engine's counts (a reload restarts the response engine); the responder's
  // figures are the other's.
  void Add(const ResponseStats& o) {
    blocked += o.blocked;
    would_block += o.would_block;
    not_blocked += o.not_blocked;
    killed += o.killed;
    would_kill += o.would_kill;
    not_killed += o.not_killed;
    armed += o.armed;
    disarmed += o.disarmed;
    kernel_denied_connects += o.kernel_denied_connects;
    responder = o.responder;
  }
};

class ResponseEngine {
 public:
  // Plans the responses of the rules with actions and starts what they need. An error when a
  // mechanism asked for explicitly (a mount, a cgroup) cannot be set up.
  static Result<std::unique_ptr<ResponseEngine>> Start(const engine::RuleSet& rules, SchemaRegistry& registry,
                                                       const ResponseOptions& options);
  ~ResponseEngine();

  // The start-up report: the mechanism of each action kind, and what each rule gets.
  const std::vector<std::string>& report() const { return report_; }
  bool active() const { return active_; }

  // On the engine thread, after the engine has processed `event`, whose alerts are `alerts`:
  // kills, response alerts for blocks, arming and disarming. Response alerts go to `out`.
  void OnEvent(const Event& event, std::span<const engine::Alert> alerts, std::vector<engine::Alert>& out);
  // Response alerts made by the responder's decisions since the last call.
  void Drain(std::vector<engine::Alert>& out);
  // Disarms the processes whose sequence's maxspan ended before `now_ns` (the events' clock,
  // CLOCK_BOOTTIME): called on every event, and by the run loop while no event comes.
  void Expire(uint64_t now_ns);
  // Stops the responder and detaches every program (also done by the destructor).
  void Stop();
  ResponseStats stats() const;

 private:
  struct Armed;
  struct Impl;
  explicit ResponseEngine(const engine::RuleSet& rules, const SchemaRegistry& registry);
  Answer Decide(const PermissionRequest& request);
  void Disarm(size_t k);  // armed entry k
  // The header type, event.category / type / action and the path and name fields of an exec
  // (process.executable / name) or an open (file.path / name) of `path`.
  void SetPathFields(EventBuilder& b, bool exec, std::string_view path) const;
  // The response alert of `rule` about `event` (event.action / outcome `action`), counted; its
  // ts and event_id are left to the caller.
  engine::Alert Respond(uint32_t rule, const Event& event, std::string_view action, std::string mechanism,
                        std::string detail);
  bool MayDeny(const PermissionRequest& request);
  // The paths of a rule that is exactly "exec (`exec`) or open of one of these paths" (checked by
  // evaluating it on an exec / open of each), else none: what a kernel map can hold without
  // blocking more than the rule.
  std::vector<std::string> ExactPaths(const eql::Program& program, bool exec);

  const engine::RuleSet& rules_;
  const SchemaRegistry& registry_;
  std::unique_ptr<Impl> impl_;
  std::vector<std::string> report_;
  bool active_ = false;
};

}  // namespace kestrel::enforce
