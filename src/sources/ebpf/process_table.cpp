#include "sources/ebpf/process_table.h"

#include <dirent.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include "common/hash.h"

namespace kestrel::ebpf {

uint64_t StartTicks(uint64_t boottime_ns) {
  static const long kHz = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
  return boottime_ns / (1'000'000'000ull / static_cast<uint64_t>(kHz));
}

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}



uint64_t ParseU64(std::string_view s) {
  uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

}  // namespace

std::string ReadLink(const std::string& path) {
  char buf[4096];
  ssize_t n = readlink(path.c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::string_view BaseName(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

ProcessTable::ProcessTable(std::string boot_id, size_t capacity, size_t exited_grace)
    : boot_id_(std::move(boot_id)), capacity_(capacity), exited_grace_(exited_grace) {}

std::string EntityIdOf(std::string_view boot_id, uint32_t pid, uint64_t start_ticks) {
  std::string key = fmt::format("{}/{}/{}", boot_id, pid, start_ticks);
  return fmt::format("{:016x}", Hash64(key));
}

std::string ReadBootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

uint64_t ProcStartTicks(uint32_t pid) {
  std::string stat = ReadFile(fmt::format("/proc/{}/stat", pid));
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  for (int k = 3; k <= 22 && rest >> field; ++k) {
    if (k == 22) return ParseU64(field);
  }
  return 0;
}

std::string ProcessTable::EntityId(uint32_t pid, uint64_t start_ticks) const {
  return EntityIdOf(boot_id_, pid, start_ticks);
}

ProcessInfo& ProcessTable::Upsert(uint32_t pid, uint64_t start_ticks) {
  auto it = by_pid_.find(pid);
  if (it != by_pid_.end()) {
    Touch(pid);
    ProcessInfo& info = it->second.info;
    if (info.start_ticks != start_ticks) {  // the pid was reused: a new process
      info = ProcessInfo{};
      info.pid = pid;
      info.start_ticks = start_ticks;
      info.entity_id = EntityId(pid, start_ticks);
    }
    return info;
  }
  EvictIfFull();
  lru_.push_front(pid);
  Entry& e = by_pid_[pid];
  e.lru = lru_.begin();
  e.info.pid = pid;
  e.info.start_ticks = start_ticks;
  e.info.entity_id = EntityId(pid, start_ticks);
  return e.info;
}

void ProcessTable::Touch(uint32_t pid) {
  auto it = by_pid_.find(pid);
  if (it == by_pid_.end()) return;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
}

void ProcessTable::EvictIfFull() {
  while (by_pid_.size() >= capacity_ && !lru_.empty()) {
    uint32_t victim = lru_.back();
    lru_.pop_back();
    by_pid_.erase(victim);
    ++stats_.evicted;
  }
}

size_t ProcessTable::SeedFromProc(const std::string& proc) {
  DIR* dir = opendir(proc.c_str());
  if (dir == nullptr) return 0;
  size_t n = 0;
  while (dirent* d = readdir(dir)) {
    std::string_view name(d->d_name);
    if (name.empty() || name.find_first_not_of("0123456789") != std::string_view::npos) continue;
    std::string base = proc + "/" + std::string(name);
    std::string stat = ReadFile(base + "/stat");
    // pid (comm) state ppid ... : comm may hold spaces and parentheses, so split at the last ')'.
    size_t close = stat.rfind(')');
    size_t open = stat.find('(');
    if (close == std::string::npos || open == std::string::npos) continue;
    std::vector<std::string_view> f;
    std::string_view rest(stat);
    rest.remove_prefix(close + 2);
    while (!rest.empty()) {
      size_t sp = rest.find(' ');
      f.push_back(rest.substr(0, sp));
      if (sp == std::string_view::npos) break;
      rest.remove_prefix(sp + 1);
    }
    if (f.size() < 20) continue;  // fields 3.. : state ppid ... starttime is field 22 (f[19])
    auto pid = static_cast<uint32_t>(ParseU64(name));
    ProcessInfo& info = Upsert(pid, ParseU64(f[19]));
    info.ppid = static_cast<uint32_t>(ParseU64(f[1]));
    info.executable = ReadLink(base + "/exe");
    std::string cmdline = ReadFile(base + "/cmdline");
    info.args.clear();
    for (size_t at = 0; at < cmdline.size();) {
      size_t nul = cmdline.find('\0', at);
      if (nul == std::string::npos) nul = cmdline.size();
      info.args.emplace_back(cmdline.substr(at, nul - at));
      at = nul + 1;
    }
    info.name = info.executable.empty() ? stat.substr(open + 1, close - open - 1)
                                        : std::string(BaseName(info.executable));
    info.working_directory = ReadLink(base + "/cwd");
    std::istringstream status(ReadFile(base + "/status"));
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("Uid:", 0) == 0) info.uid = static_cast<uint32_t>(std::stoul(line.substr(4)));
      if (line.rfind("Gid:", 0) == 0) info.gid = static_cast<uint32_t>(std::stoul(line.substr(4)));
    }
    ++n;
  }
  closedir(dir);
  stats_.seeded += n;
  return n;
}

std::vector<const ProcessInfo*> ProcessTable::Live() const {
  std::vector<const ProcessInfo*> live;
  for (const auto& [pid, entry] : by_pid_) {
    if (!entry.info.exited) live.push_back(&entry.info);
  }
  std::sort(live.begin(), live.end(), [](const ProcessInfo* a, const ProcessInfo* b) { return a->pid < b->pid; });
  return live;
}

const ProcessInfo* ProcessTable::Find(uint32_t pid, uint64_t start_ticks) {
  auto it = by_pid_.find(pid);
  if (it == by_pid_.end()) return nullptr;
  if (start_ticks != 0 && it->second.info.start_ticks != start_ticks) return nullptr;
  Touch(pid);
  return &it->second.info;
}

const ProcessInfo& ProcessTable::OnFork(uint32_t parent, uint64_t parent_start, uint32_t child, uint64_t child_start) {
  ProcessInfo inherited;
  if (const ProcessInfo* p = Find(parent, parent_start)) inherited = *p;
  ProcessInfo& c = Upsert(child, child_start);
  c.ppid = parent;
  c.executable = std::move(inherited.executable);
  c.name = std::move(inherited.name);
  c.args = std::move(inherited.args);
  c.working_directory = std::move(inherited.working_directory);
  c.uid = inherited.uid;
  c.gid = inherited.gid;
  c.exited = false;
  return c;
}

const ProcessInfo& ProcessTable::OnExec(uint32_t pid, uint64_t start_ticks, uint32_t ppid, std::string executable,
                                        std::vector<std::string> args, std::string working_directory, uint32_t uid,
                                        uint32_t gid) {
  ProcessInfo& p = Upsert(pid, start_ticks);
  p.ppid = ppid;
  p.name = std::string(BaseName(executable));
  p.executable = std::move(executable);
  p.args = std::move(args);
  if (!working_directory.empty()) p.working_directory = std::move(working_directory);
  p.uid = uid;
  p.gid = gid;
  p.exited = false;
  return p;
}

void ProcessTable::SetWorkingDirectory(uint32_t pid, uint64_t start_ticks, std::string directory) {
  Upsert(pid, start_ticks).working_directory = std::move(directory);
}

std::string ResolvePath(std::string_view directory, std::string_view path) {
  std::string joined = path.starts_with('/') ? std::string(path) : fmt::format("{}/{}", directory, path);
  std::vector<std::string_view> parts;
  std::string_view rest(joined);
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (std::string_view part : parts) {
    out += '/';
    out += part;
  }
  return out.empty() ? "/" : out;
}

void ProcessTable::OnExit(uint32_t pid) {
  auto it = by_pid_.find(pid);
  if (it == by_pid_.end()) return;
  it->second.info.exited = true;
  exited_.emplace_back(pid, it->second.info.start_ticks);
  while (exited_.size() > exited_grace_) {
    auto [old, start] = exited_.front();
    exited_.pop_front();
    auto e = by_pid_.find(old);
    if (e != by_pid_.end() && e->second.info.exited && e->second.info.start_ticks == start) {
      lru_.erase(e->second.lru);
      by_pid_.erase(e);
      ++stats_.reaped;
    }
  }
}

ProcessTableStats ProcessTable::stats() const {
  ProcessTableStats s = stats_;
  s.size = by_pid_.size();
  return s;
}

}  // namespace kestrel::ebpf
