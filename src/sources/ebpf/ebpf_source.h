// EbpfSource: Kestrel's BPF programs loaded into the kernel, attached, and read: each record of
// the ring buffer (bpf/records.h) goes to a callback. It says which programs the kernel refused
// and which events will be missing because of it; records the ring had no room for are counted
// (lost()), never dropped silently. docs/live.md.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace kestrel::ebpf {

// Record types (bpf/records.h's enum kr_type) as interest bits.
uint64_t AllRecordTypes();

// Where system calls are watched from: the per-syscall tracepoints (syscalls:sys_enter_NAME,
// run only for the calls Kestrel records; need tracefs), the raw ones (raw_syscalls, run for
// every system call), or the first when the kernel has them.
enum class SyscallTracepoints { kAuto, kPerSyscall, kRaw };

struct EbpfOptions {
  uint32_t ring_bytes = 8u << 20;  // a power of two, at least a page
  uint64_t interest = 0;           // bit t: records of type t (0: all)
  // File records only for paths under one of these (empty: every path); at most 16 of at most
  // 64 bytes. Relative and unnormalized paths always pass (user space resolves them).
  struct Prefix {
    std::string bytes;
    bool insensitive = false;  // ASCII case folded
  };
  std::vector<Prefix> file_prefixes;
  // Connect records only to these destination ports (empty: every connect); at most 64.
  std::vector<uint16_t> connect_ports;
  SyscallTracepoints syscall_tracepoints = SyscallTracepoints::kAuto;
};

// Why this build or this machine cannot run the live source ("" when it can try).
std::string Unavailable();

class EbpfSource {
 public:
  using RecordFn = std::function<void(std::span<const uint8_t> record)>;

  // Loads and attaches the programs. An error when none could be loaded or attached (not root,
  // no BTF, ...); programs the kernel refused while others attached are in warnings().
  static Result<std::unique_ptr<EbpfSource>> Open(const EbpfOptions& options, RecordFn on_record);
  ~EbpfSource();
  EbpfSource(const EbpfSource&) = delete;
  EbpfSource& operator=(const EbpfSource&) = delete;

  // Hands every record available within `timeout_ms` to the callback; returns how many.
  Result<size_t> Poll(int timeout_ms);
  // Detaches every program: no record is made after this; those in the ring can still be read.
  void Detach();
  // Records the ring had no room for, over every CPU.
  uint64_t lost() const;
  // Sets which record types the programs make (bit t: type t).
  Status SetInterest(uint64_t interest);
  // The kernel-side file path and connect port filters (EbpfOptions), replaced while records
  // flow (a rule reload): both are off while they change, so nothing either filter passes is lost.
  Status SetFilters(const std::vector<EbpfOptions::Prefix>& file_prefixes, const std::vector<uint16_t>& connect_ports);
  // Kill rules pushed into the exec program: an exec of one of `paths` gets SIGKILL from the
  // kernel before it runs (bpf_send_signal), except for the `exempt` processes and PID 1.
  Status KillExecs(const std::vector<std::string>& paths, const std::vector<uint32_t>& exempt);

  const std::vector<std::string>& attached() const { return attached_; }
  // Whether the system call programs run (not when no rule needs their records).
  bool syscalls_attached() const { return syscalls_attached_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  EbpfSource() = default;
  Status AttachSyscalls(const EbpfOptions& options, uint64_t interest);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<std::string> attached_;
  std::vector<std::string> warnings_;
  bool syscalls_attached_ = false;
};

}  // namespace kestrel::ebpf
