// A synthetic host event stream for engine tests: process starts and ends, file and network
// activity of many processes on a few hosts, deterministic from a seed.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include <fmt/format.h>

#include "common/hash.h"
#include "event/event_batch.h"
#include "event/event_builder.h"

namespace kestrel::testing {

class SyntheticStream {
 public:
  // `keys`: distinct processes (entity ids); `hosts`: distinct hosts. `benign_percent` of the
  // events are routine activity: names, paths and ports from a large vocabulary that the
  // suspicious values the tests' rules look for never appear in (0: every event is drawn from
  // the small suspicious vocabulary, so rules match very often).
  SyntheticStream(SchemaRegistry& registry, uint64_t seed, uint64_t keys, uint64_t hosts = 8, uint64_t benign_percent = 0)
      : registry_(registry), rng_(seed), keys_(keys), hosts_(hosts), benign_percent_(benign_percent) {
    process_ = *registry.InternEventType("process");
    file_ = *registry.InternEventType("file");
    network_ = *registry.InternEventType("network");
    auto field = [&](const char* name) { return *registry.Find(name); };
    name_ = field("process.name");
    entity_ = field("process.entity_id");
    parent_entity_ = field("process.parent.entity_id");
    user_ = field("user.name");
    host_ = field("host.id");
    action_ = field("event.action");
    path_ = field("file.path");
    port_ = field("destination.port");
    category_ = field("event.category");
  }

  // Fills `batch` (cleared first) with the next `n` events.
  void Next(EventBatch& batch, size_t n) {
    batch.Clear();
    EventBuilder b(&batch.arena());
    static constexpr const char* kNames[] = {"bash", "curl", "chmod", "sh", "python3", "ls", "cat", "sshd", "nc", "wget"};
    static constexpr const char* kActions[] = {"exec", "end", "open", "creation", "connection_attempted"};
    static constexpr const char* kPaths[] = {"/etc/shadow", "/tmp/x", "/etc/cron.d/job", "/var/log/syslog"};
    static constexpr const char* kUsers[] = {"root", "alice", "bob", "www-data"};
    for (size_t i = 0; i < n; ++i) {
      uint64_t key = rng_() % keys_;
      uint64_t kind = rng_() % 10;
      ts_ += rng_() % 3 == 0 ? 0 : 1'000'000 * (1 + rng_() % 50);  // equal timestamps happen
      b.Start();
      EventHeader& h = b.header();
      h.type = kind < 6 ? process_ : kind < 8 ? file_ : network_;
      h.ts_mono_ns = h.ts_wall_ns = ts_;
      h.event_id = ++id_;
      h.entity_key = Hash64(&key, sizeof(key));
      const char* category = kind < 6 ? "process" : kind < 8 ? "file" : "network";
      b.Append(category_, b.StringValue(category));
      b.Set(entity_, b.StringValue(fmt::format("ent-{}", key)));
      b.Set(parent_entity_, b.StringValue(fmt::format("ent-{}", key / 4)));
      bool benign = benign_percent_ > 0 && rng_() % 100 < benign_percent_;
      uint64_t routine = benign ? rng_() % kRoutine : 0;
      if (benign) {
        b.Set(name_, b.StringValue(fmt::format("svc-{}", routine)));
      } else {
        b.Set(name_, b.StringValue(kNames[(key * 7 + rng_() % 2) % std::size(kNames)]));
      }
      b.Set(user_, b.StringValue(kUsers[key % std::size(kUsers)]));
      b.Set(host_, b.StringValue(fmt::format("host-{}", key % hosts_)));
      if (kind < 6) {
        b.Set(action_, b.StringValue(kActions[kind % 2]));
      } else if (kind < 8) {
        b.Set(action_, b.StringValue(kActions[2 + kind % 2]));
        b.Set(path_, benign ? b.StringValue(fmt::format("/var/lib/app/{}", routine))
                            : b.StringValue(kPaths[rng_() % std::size(kPaths)]));
      } else {
        b.Set(action_, b.StringValue(kActions[4]));
        int64_t port = benign ? 8000 + static_cast<int64_t>(routine) : (rng_() % 4 == 0 ? 4444 : 443);
        b.Set(port_, Value::I64(port));
      }
      batch.Add(b.Finish());
    }
  }

 private:
  SchemaRegistry& registry_;
  std::mt19937_64 rng_;
  static constexpr uint64_t kRoutine = 1000;  // routine names, paths and ports
  uint64_t keys_, hosts_, benign_percent_;
  uint64_t ts_ = 1'700'000'000'000'000'000;
  uint64_t id_ = 0;
  EventTypeId process_, file_, network_;
  FieldId name_, entity_, parent_entity_, user_, host_, action_, path_, port_, category_;
};

}  // namespace kestrel::testing
