// RuleManager: the rule pack a long-running `kestrel run` uses, reloaded while events flow.
//
// A manager thread watches the pack (inotify on its folders; RequestReload, which SIGHUP
// calls) and, after the files have been quiet for a moment, loads, validates and compiles the
// pack and builds a detection engine for it, all off the hot path. If anything fails, the pack in
// use stays (keep-last-good): the failure is logged with its file:line:col and counted. A pack
// whose content hash did not change is not swapped.
//
// The event thread calls TakeUpdate between two events: one atomic load when nothing is
// pending; otherwise it gets the new generation (pack + engine) and switches to it before the
// next event. So every event is evaluated by exactly one rule set: none is lost or evaluated
// twice across a swap. The caller moves the partial matches of unchanged sequence rules into the
// new engine (DetectionEngine::AdoptState); changed rules start afresh. The old generation is
// handed back and freed on the manager thread (its engine first reset on the event thread when
// it gave state away: the events that state holds are shared).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "engine/detection_engine.h"
#include "rules/rule_pack.h"

namespace kestrel::rules {

// One loaded pack and the engine built for it (the engine reads the pack's rules).
struct Generation {
  uint64_t number = 0;  // 1 for the pack loaded at start
  Pack pack;
  std::unique_ptr<engine::DetectionEngine> engine;
};

struct ReloadStats {
  uint64_t successes = 0;  // reloads swapped in
  uint64_t failures = 0;   // reloads refused (the last good pack stayed)
  uint64_t unchanged = 0;  // reloads whose pack hash was the one in use
  uint64_t generation = 0; // of the pack in use (taken by the event thread)
  std::string last_error;  // of the last failure, until a reload succeeds
  std::string pack;        // the pack in use: Pack::Describe()
  uint64_t pack_hash = 0;
};

struct RuleManagerOptions {
  std::string path;  // rule file or pack folder
  PackOptions pack;
  runtime::Backend backend = runtime::Backend::kNative;  // for rules that do not choose
  bool watch = true;  // reload on file changes (inotify); RequestReload works either way
  bool skip_bad = false;  // run the rules that load, logging the others, instead of refusing the pack
  std::chrono::milliseconds quiet{200};  // how long the files must be still before a reload
  // The engine options for a rule set (state bounds depend on its sequence rules).
  std::function<engine::EngineOptions(const engine::RuleSet&)> engine_options;
  // Checks a loaded pack before it is offered (e.g. that the live source can feed it); an error
  // refuses the reload like a bad rule. Runs on the manager thread.
  std::function<Status(const Pack&)> check;
};

class RuleManager {
 public:
  // Loads the first pack (every error fails the start) and starts the manager thread.
  static Result<std::unique_ptr<RuleManager>> Start(RuleManagerOptions options, const SchemaRegistry& registry);
  ~RuleManager();
  RuleManager(const RuleManager&) = delete;
  RuleManager& operator=(const RuleManager&) = delete;

  // Asks for a reload now (async-signal-safe: a SIGHUP handler may call it).
  void RequestReload();

  // The event thread, between two events: the newly loaded generation if there is one (the
  // caller switches to it and releases the previous one), else null.
  std::shared_ptr<Generation> TakeUpdate() {
    if (!pending_ready_.load(std::memory_order_acquire)) return nullptr;
    return TakePending();
  }
  // The generation handed out at start (the event thread then follows TakeUpdate).
  std::shared_ptr<Generation> initial() const { return initial_; }
  // Hands a replaced generation back to be freed on the manager thread.
  void Retire(std::shared_ptr<Generation> old);

  ReloadStats stats() const;
  // Waits until the manager has finished `n` reload attempts in all (successes, failures and
  // unchanged), or the timeout passes; for tests and tools. True when it got there.
  bool WaitForAttempts(uint64_t n, std::chrono::milliseconds timeout) const;

 private:
  RuleManager(RuleManagerOptions options, const SchemaRegistry& registry);
  Result<std::shared_ptr<Generation>> Load(uint64_t number);
  std::shared_ptr<Generation> TakePending();
  void Loop();
  void Reload();
  void WatchFolders();

  RuleManagerOptions options_;
  const SchemaRegistry& registry_;
  std::shared_ptr<Generation> initial_;
  int inotify_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: reload requests and stop
  std::atomic<bool> stop_{false};
  std::atomic<bool> reload_requested_{false};
  std::atomic<bool> pending_ready_{false};
  mutable std::mutex mu_;
  mutable std::condition_variable attempted_;
  std::shared_ptr<Generation> pending_;
  std::vector<std::shared_ptr<Generation>> retired_;
  ReloadStats stats_;
  uint64_t next_number_ = 2;
  uint64_t current_hash_ = 0;  // of the newest pack loaded (in use or pending)
  std::thread thread_;
};

}  // namespace kestrel::rules
