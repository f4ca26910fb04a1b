#include "rule_sets.h"

#include <cstdlib>

#include <fmt/format.h>

#include "event/event_builder.h"
#include "event/event_reader.h"
#include "workload.h"

namespace kestrel::bench {

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::strtoull(v, nullptr, 10) : fallback;
}

namespace {

constexpr const char* kBins[] = {"bash", "curl", "ls", "python3", "sshd", "cat", "grep", "systemd", "sudo", "tar", "wget", "nc"};
constexpr const char* kPaths[] = {"/etc/passwd", "/etc/shadow", "/tmp/build/out.o", "/var/log/syslog",
                                  "/home/alice/.ssh/authorized_keys", "/etc/cron.d/backup", "/usr/lib/libc.so.6"};

}  // namespace

std::vector<std::string> SingleRules(int count) {
  std::vector<std::string> rules;
  for (int i = 0; i < count; ++i) {
    const char* bin = kBins[i % std::size(kBins)];
    const char* bin2 = kBins[(i * 5 + 3) % std::size(kBins)];
    const char* path = kPaths[i % std::size(kPaths)];
    switch (i % 10) {
      case 0: rules.push_back(fmt::format(R"(process where process.name == "{}" and process.args : "-x{}")", bin, i)); break;
      case 1: rules.push_back(fmt::format(R"(process where process.executable : "/usr/bin/{}*" and user.name == "mallory")", bin)); break;
      case 2: rules.push_back(fmt::format(R"(file where file.path == "{}" and event.action == "delete")", path)); break;
      case 3: rules.push_back(fmt::format(R"(network where destination.port == {} and process.name == "{}")", 1000 + i, bin)); break;
      case 4: rules.push_back(fmt::format(R"(process where process.name in ("{}", "{}") and process.parent.name == "nginx")", bin, bin2)); break;
      case 5: rules.push_back(fmt::format(R"(process where process.command_line : "*echo 99{}9*")", i)); break;
      case 6: rules.push_back(fmt::format(R"(any where host.name == "web-{:02d}" and process.name == "{}" and process.pid < 1100)", i % 16, bin)); break;
      case 7: rules.push_back(fmt::format(R"(file where file.name : "{}" and file.size > 99990)", path + std::string_view(path).rfind('/') + 1)); break;
      case 8: rules.push_back(fmt::format(R"(process where length(process.command_line) > {} and process.name == "{}")", 60 + i, bin)); break;
      default: rules.push_back(fmt::format(R"(network where network.transport == "udp" and destination.port < {})", 10 + i)); break;
    }
  }
  return rules;
}

std::vector<std::string> SequenceRules() {
  std::vector<std::string> rules;
  constexpr const char* kKeys[] = {"process.entity_id", "process.parent.entity_id", "user.name", "host.id"};
  constexpr const char* kNames[] = {"bash", "curl", "chmod", "sh", "python3", "ls", "cat", "sshd", "nc", "wget"};
  for (int i = 0; i < 50; ++i) {
    const char* key = kKeys[i % 4];
    const char* a = kNames[i % 10];
    const char* b = kNames[(i * 3 + 1) % 10];
    switch (i % 5) {
      case 0: rules.push_back(fmt::format(R"(sequence by {} with maxspan=30s [process where process.name == "{}"] [file where file.path == "/etc/shadow"])", key, a)); break;
      case 1: rules.push_back(fmt::format(R"(sequence by {} with maxspan=10s [process where process.name == "{}"] [process where process.name == "{}"] [network where destination.port == 4444])", key, a, b)); break;
      case 2: rules.push_back(fmt::format(R"(sequence by {} [process where process.name == "{}" and event.action == "exec"] [network where true] until [process where event.action == "end"])", key, a)); break;
      case 3: rules.push_back(fmt::format(R"(sequence by {} with maxspan=5s [process where process.name == "{}"] ![process where event.action == "end"])", key, a)); break;
      default: rules.push_back(fmt::format(R"(sequence by {} with maxspan=1m [file where file.path : "/tmp/*"] [process where process.name == "{}"])", key, b)); break;
    }
  }
  return rules;
}

engine::RuleSet Compile(const std::vector<std::string>& texts, const SchemaRegistry& registry) {
  engine::RuleSet set;
  for (size_t i = 0; i < texts.size(); ++i) {
    auto rule = engine::CompileRule(fmt::format("r{:03}.eql", i), texts[i], registry, {});
    if (!rule) {
      fmt::print(stderr, "{}\n", rule.error().ToString());
      std::abort();
    }
    set.rules.push_back(std::move(*rule));
  }
  return set;
}

std::unique_ptr<InMemory> LoadInMemory(const std::string& path) {
  auto m = std::make_unique<InMemory>();
  auto reader = OpenEventReader(path, {}, &m->registry);
  if (!reader) {
    fmt::print(stderr, "{}\n", reader.error().ToString());
    std::abort();
  }
  EventBuilder copier(&m->store.arena());
  EventBatch batch;
  for (;;) {
    auto more = (*reader)->Next(batch);
    if (!more) {
      fmt::print(stderr, "{}\n", more.error().ToString());
      std::abort();
    }
    if (!*more) break;
    for (const Event& e : batch) m->events.push_back(copier.Copy(e));
  }
  return m;
}

const InMemory& Workload() {
  static InMemory* memory = [] {
    auto path = CachedWorkload(EnvOr("KESTREL_BENCH_EVENTS", 1'000'000), "klog");
    if (!path) std::abort();
    return LoadInMemory(*path).release();
  }();
  return *memory;
}

}  // namespace kestrel::bench
