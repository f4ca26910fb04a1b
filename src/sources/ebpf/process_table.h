// ProcessTable: what Kestrel knows of each live process — its identity (pid and start time,
// hence process.entity_id), executable, arguments, working directory, user and parent — seeded
// from /proc at start-up and kept up to date by fork, exec and exit records. Bounded: exited
// processes are reaped after a grace of later exits (late records of the process still find
// it), and past `capacity` the least recently used process is evicted (counted).
#pragma once

#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kestrel::ebpf {

// Start times in clock ticks since boot (/proc/PID/stat's field 22), the unit both /proc and
// the BPF records (start_boottime ns / 10 ms) give exactly.
uint64_t StartTicks(uint64_t boottime_ns);

struct ProcessInfo {
  uint32_t pid = 0;
  uint32_t ppid = 0;
  uint64_t start_ticks = 0;
  std::string entity_id;
  std::string executable;
  std::string name;  // the executable's base name (or comm before the first exec)
  std::vector<std::string> args;
  std::string working_directory;
  uint32_t uid = 0;
  uint32_t gid = 0;
  bool exited = false;
};

// The target of symbolic link `path` ("" when it cannot be read).
std::string ReadLink(const std::string& path);
// The last component of `path`.
std::string_view BaseName(std::string_view path);

// process.entity_id: a hash of the boot id, the pid and the start time.
std::string EntityIdOf(std::string_view boot_id, uint32_t pid, uint64_t start_ticks);
// /proc/sys/kernel/random/boot_id.
std::string ReadBootId();
// The start time (clock ticks since boot) of live process `pid` from /proc; 0 when it is gone.
uint64_t ProcStartTicks(uint32_t pid);

// `path` made absolute against `directory` and normalized lexically ("." and ".." resolved,
// repeated slashes folded); `path` itself when it is absolute already.
std::string ResolvePath(std::string_view directory, std::string_view path);

struct ProcessTableStats {
  uint64_t seeded = 0;   // processes read from /proc at start-up
  uint64_t evicted = 0;  // live processes dropped for capacity
  uint64_t reaped = 0;   // exited processes dropped
  size_t size = 0;
};

class ProcessTable {
 public:
  // `boot_id`: /proc/sys/kernel/random/boot_id, part of every entity id.
  ProcessTable(std::string boot_id, size_t capacity = 65536, size_t exited_grace = 1024);

  // Reads every process under `proc` (/proc); returns how many.
  size_t SeedFromProc(const std::string& proc = "/proc");

  // process.entity_id: a hash of the boot id, the pid and the start time.
  std::string EntityId(uint32_t pid, uint64_t start_ticks) const;

  // The process `pid` that started at `start_ticks` (0: whichever is known), or null.
  const ProcessInfo* Find(uint32_t pid, uint64_t start_ticks = 0);
  // A new process: the child inherits its parent's executable, arguments and directory.
  const ProcessInfo& OnFork(uint32_t parent, uint64_t parent_start, uint32_t child, uint64_t child_start);
  const ProcessInfo& OnExec(uint32_t pid, uint64_t start_ticks, uint32_t ppid, std::string executable,
                            std::vector<std::string> args, std::string working_directory, uint32_t uid, uint32_t gid);
  void SetWorkingDirectory(uint32_t pid, uint64_t start_ticks, std::string directory);
  // The live processes, by pid.
  std::vector<const ProcessInfo*> Live() const;
  // Marks `pid` exited; it stays findable until `exited_grace` more processes exit.
  void OnExit(uint32_t pid);

  ProcessTableStats stats() const;

 private:
  ProcessInfo& Upsert(uint32_t pid, uint64_t start_ticks);
  void Touch(uint32_t pid);
  void EvictIfFull();

  struct Entry {
    ProcessInfo info;
    std::list<uint32_t>::iterator lru;  // position in lru_ (front: most recent)
  };
  std::string boot_id_;
  size_t capacity_;
  size_t exited_grace_;
  std::unordered_map<uint32_t, Entry> by_pid_;
  std::list<uint32_t> lru_;
  std::list<std::pair<uint32_t, uint64_t>> exited_;  // (pid, start) in exit order
  ProcessTableStats stats_;
};

}  // namespace kestrel::ebpf
