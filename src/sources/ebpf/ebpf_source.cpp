#include "sources/ebpf/ebpf_source.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>

#include <unistd.h>

#include "records.h"

#ifdef KESTREL_HAVE_EBPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kestrel.skel.h"
#endif

namespace kestrel::ebpf {

uint64_t AllRecordTypes() { return ((uint64_t{1} << KR_TYPE_COUNT) - 1) & ~uint64_t{1}; }

#ifndef KESTREL_HAVE_EBPF

std::string Unavailable() { return "this kestrel was built without the live eBPF source: " KESTREL_EBPF_MISSING; }

struct EbpfSource::Impl {};
EbpfSource::~EbpfSource() = default;
Result<std::unique_ptr<EbpfSource>> EbpfSource::Open(const EbpfOptions&, RecordFn) {
  return MakeError(ErrorCode::kUnsupported, Unavailable());
}
Result<size_t> EbpfSource::Poll(int) { return size_t{0}; }
void EbpfSource::Detach() {}
uint64_t EbpfSource::lost() const { return 0; }
Status EbpfSource::SetInterest(uint64_t) { return Ok(); }
Status EbpfSource::SetFilters(const std::vector<EbpfOptions::Prefix>&, const std::vector<uint16_t>&) { return Ok(); }
Status EbpfSource::KillExecs(const std::vector<std::string>&, const std::vector<uint32_t>&) {
  return MakeError(ErrorCode::kUnsupported, Unavailable());
}

#else

namespace {

// libbpf's messages of the load in progress, for the error that explains a failure (warnings and
// errors only; later ones go to stderr).
std::mutex g_log_mutex;
std::string* g_log = nullptr;

int LibbpfPrint(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[1024];
  int n = std::vsnprintf(line, sizeof line, format, args);
  if (g_log == nullptr) {
    std::fputs(line, stderr);  // after loading: libbpf's warnings go to the log as they come
  } else if (g_log->size() < size_t{64} * 1024) {
    g_log->append(line);
  }
  return n;
}

// What each program makes, for the message when the kernel refuses it.
struct ProgramInfo {
  const char* name;
  const char* events;
};
constexpr ProgramInfo kProcessPrograms[] = {
    {"on_exec", "process exec events (event.action: exec)"},
    {"on_fork", "process fork events (event.action: fork)"},
    {"on_exit", "process end events (event.action: end)"},
};
constexpr const char* kSyscallEvents =
    "file, network and privilege events (open, rename, unlink, chmod, chown, connect, accept, bind, listen, setuid, "
    "setgid, capset, ptrace, memfd_create) and working directory changes";

// The system calls behind each record type (x86_64 names; records.h).
struct SyscallGroup {
  int type;
  const char* names[5];
};
constexpr SyscallGroup kSyscalls[] = {
    {KR_OPEN, {"open", "creat", "openat", "openat2"}},
    {KR_RENAME, {"rename", "renameat", "renameat2"}},
    {KR_UNLINK, {"unlink", "rmdir", "unlinkat"}},
    {KR_CHMOD, {"chmod", "fchmod", "fchmodat"}},
    {KR_CHOWN, {"chown", "fchown", "lchown", "fchownat"}},
    {KR_CONNECT, {"connect"}},
    {KR_ACCEPT, {"accept", "accept4"}},
    {KR_BIND, {"bind"}},
    {KR_LISTEN, {"listen"}},
    {KR_SETUID, {"setuid", "setreuid", "setresuid"}},
    {KR_SETGID, {"setgid", "setregid", "setresgid"}},
    {KR_CAPSET, {"capset"}},
    {KR_PTRACE, {"ptrace"}},
    {KR_MEMFD, {"memfd_create"}},
    {KR_CHDIR, {"chdir", "fchdir"}},
};

// Where libbpf looks the tracepoints up.
bool HaveSyscallTracepoints() {
  return access("/sys/kernel/tracing/events/syscalls", F_OK) == 0 ||
         access("/sys/kernel/debug/tracing/events/syscalls", F_OK) == 0;
}

constexpr uint64_t Bit(int type) { return uint64_t{1} << type; }

std::string Errno(int err) { return fmt::format("{} ({})", std::strerror(err < 0 ? -err : err), err < 0 ? -err : err); }

}  // namespace

std::string Unavailable() {
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) return "this kernel has no BTF (/sys/kernel/btf/vmlinux)";
  return "";
}

struct EbpfSource::Impl {
  kestrel_bpf* skel = nullptr;
  ring_buffer* ring = nullptr;
  std::vector<bpf_link*> links;
  RecordFn on_record;

  ~Impl() {
    for (bpf_link* l : links) bpf_link__destroy(l);
    if (ring != nullptr) ring_buffer__free(ring);
    if (skel != nullptr) kestrel_bpf__destroy(skel);
  }
  static int OnRecord(void* ctx, void* data, size_t size) {
    static_cast<Impl*>(ctx)->on_record(std::span<const uint8_t>(static_cast<const uint8_t*>(data), size));
    return 0;
  }
};

EbpfSource::~EbpfSource() = default;

Result<std::unique_ptr<EbpfSource>> EbpfSource::Open(const EbpfOptions& options, RecordFn on_record) {
  if (std::string why = Unavailable(); !why.empty()) return MakeError(ErrorCode::kUnsupported, why);
  if ((options.ring_bytes & (options.ring_bytes - 1)) != 0 || options.ring_bytes < 4096) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("ring buffer size {} is not a power of two of at least 4096 bytes", options.ring_bytes));
  }
  std::unique_ptr<EbpfSource> source(new EbpfSource());
  source->impl_ = std::make_unique<Impl>();
  Impl& im = *source->impl_;
  im.on_record = std::move(on_record);

  std::lock_guard<std::mutex> lock(g_log_mutex);
  std::string log;
  g_log = &log;
  libbpf_set_print(LibbpfPrint);
  struct Reset {
    ~Reset() { g_log = nullptr; }
  } reset;
  auto failure = [&](std::string_view what, int err) {
    std::string hint = err == -EPERM || err == -EACCES || geteuid() != 0
                           ? " (loading BPF programs needs root, or CAP_BPF with CAP_PERFMON)"
                           : "";
    while (!log.empty() && log.back() == '\n') log.pop_back();
    std::string detail = log.empty() ? "" : fmt::format("\n{}", log.substr(0, 4000));
    return MakeError(ErrorCode::kUnsupported, fmt::format("{}: {}{}{}", what, Errno(err), hint, detail));
  };

  im.skel = kestrel_bpf__open();
  if (im.skel == nullptr) return failure("cannot open the BPF object", -errno);
  im.skel->rodata->kestrel_tgid = static_cast<__u32>(getpid());
  if (int err = bpf_map__set_max_entries(im.skel->maps.events, options.ring_bytes); err != 0) {
    return failure("cannot size the ring buffer", err);
  }
  if (int err = kestrel_bpf__load(im.skel); err != 0) return failure("the kernel refused Kestrel's BPF programs", err);
  const uint64_t interest = options.interest == 0 ? AllRecordTypes() : options.interest;
  KESTREL_TRY(source->SetInterest(interest));
  KESTREL_TRY(source->SetFilters(options.file_prefixes, options.connect_ports));
  // Interest pushdown at attach time: without a rule on system call records, the syscall
  // programs are not attached at all (every system call of the host would pay for them).
  const bool syscalls = (interest & ~(Bit(KR_EXEC) | Bit(KR_FORK) | Bit(KR_EXIT) | Bit(KR_CHDIR))) != 0;

  auto refused = [&](bpf_program* prog, const char* name, int err, const std::string& events) {
    source->warnings_.push_back(fmt::format("program {} ({}) was refused: {}; {} will be missing", name,
                                            prog == nullptr ? "?" : bpf_program__section_name(prog), Errno(err), events));
  };
  for (const ProgramInfo& p : kProcessPrograms) {
    bpf_program* prog = bpf_object__find_program_by_name(im.skel->obj, p.name);
    bpf_link* link = prog == nullptr ? nullptr : bpf_program__attach(prog);
    if (link == nullptr) {
      refused(prog, p.name, prog == nullptr ? -ENOENT : -errno, p.events);
      continue;
    }
    im.links.push_back(link);
    source->attached_.push_back(fmt::format("{} ({})", p.name, bpf_program__section_name(prog)));
  }
  if (syscalls) KESTREL_TRY(source->AttachSyscalls(options, interest));
  if (im.links.empty()) return failure("no BPF program could be attached", -EPERM);
  im.ring = ring_buffer__new(bpf_map__fd(im.skel->maps.events), &Impl::OnRecord, &im, nullptr);
  if (im.ring == nullptr) return failure("cannot open the ring buffer", -errno);
  return source;
}

Status EbpfSource::AttachSyscalls(const EbpfOptions& options, uint64_t interest) {
  Impl& im = *impl_;
  auto refused = [&](const char* name, int err, std::string_view events) {
    warnings_.push_back(fmt::format("program {} was refused: {}; {} will be missing", name, Errno(err), events));
  };
  SyscallTracepoints mode = options.syscall_tracepoints;
  if (mode == SyscallTracepoints::kAuto) {
    mode = HaveSyscallTracepoints() ? SyscallTracepoints::kPerSyscall : SyscallTracepoints::kRaw;
    if (mode == SyscallTracepoints::kRaw) {
      warnings_.emplace_back(
          "no per-syscall tracepoints (tracefs is not mounted at /sys/kernel/tracing, or the kernel lacks "
          "CONFIG_FTRACE_SYSCALLS): using the raw syscall tracepoints, which run for every system call of the host "
          "(mount -t tracefs none /sys/kernel/tracing for the cheaper ones)");
    }
  }
  if (mode == SyscallTracepoints::kRaw) {
    for (const char* name : {"on_sys_enter", "on_sys_exit"}) {
      bpf_program* prog = bpf_object__find_program_by_name(im.skel->obj, name);
      bpf_link* link = prog == nullptr ? nullptr : bpf_program__attach(prog);
      if (link == nullptr) {
        refused(name, prog == nullptr ? -ENOENT : -errno, kSyscallEvents);
        continue;
      }
      im.links.push_back(link);
      syscalls_attached_ = true;
      attached_.push_back(fmt::format("{} ({})", name, bpf_program__section_name(prog)));
    }
    return Ok();
  }
  // One program for every entry, one for every exit, each attached to the tracepoints of the
  // system calls the rules need (and chdir / fchdir, for working directories).
  bpf_program* enter = bpf_object__find_program_by_name(im.skel->obj, "on_syscall_enter");
  bpf_program* exit = bpf_object__find_program_by_name(im.skel->obj, "on_syscall_exit");
  if (enter == nullptr || exit == nullptr) {
    refused("on_syscall_enter", -ENOENT, kSyscallEvents);
    return Ok();
  }
  size_t enters = 0, exits = 0;
  for (const SyscallGroup& group : kSyscalls) {
    if (group.type != KR_CHDIR && ((interest >> group.type) & 1) == 0) continue;
    for (const char* name : group.names) {
      if (name == nullptr) break;
      for (bool entry : {true, false}) {
        std::string tracepoint = fmt::format("sys_{}_{}", entry ? "enter" : "exit", name);
        bpf_link* link = bpf_program__attach_tracepoint(entry ? enter : exit, "syscalls", tracepoint.c_str());
        if (link == nullptr) {
          int err = -errno;
          warnings_.push_back(fmt::format("tracepoint syscalls:{} could not be attached: {}; {} calls will be missing",
                                          tracepoint, Errno(err), name));
          continue;
        }
        im.links.push_back(link);
        ++(entry ? enters : exits);
      }
    }
  }
  if (enters > 0 && exits > 0) {
    syscalls_attached_ = true;
    attached_.push_back(fmt::format("on_syscall_enter (syscalls:sys_enter_*, {} tracepoints)", enters));
    attached_.push_back(fmt::format("on_syscall_exit (syscalls:sys_exit_*, {} tracepoints)", exits));
  }
  return Ok();
}

Result<size_t> EbpfSource::Poll(int timeout_ms) {
  // The programs wake the reader only when the ring fills up (kestrel.bpf.c): wait for that or
  // the timeout, then take whatever is there.
  int n = ring_buffer__poll(impl_->ring, timeout_ms);
  if (n < 0 && n != -EINTR) return MakeError(ErrorCode::kIo, fmt::format("reading the ring buffer: {}", Errno(n)));
  int more = ring_buffer__consume(impl_->ring);
  if (more < 0) return MakeError(ErrorCode::kIo, fmt::format("reading the ring buffer: {}", Errno(more)));
  return static_cast<size_t>(std::max(n, 0) + more);
}

void EbpfSource::Detach() {
  for (bpf_link* l : impl_->links) bpf_link__destroy(l);
  impl_->links.clear();
}

uint64_t EbpfSource::lost() const {
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return 0;
  std::vector<uint64_t> per_cpu(static_cast<size_t>(cpus));
  uint32_t key = 0;
  if (bpf_map__lookup_elem(impl_->skel->maps.lost, &key, sizeof key, per_cpu.data(), per_cpu.size() * sizeof(uint64_t),
                           0) != 0) {
    return 0;
  }
  uint64_t total = 0;
  for (uint64_t n : per_cpu) total += n;
  return total;
}

Status EbpfSource::SetFilters(const std::vector<EbpfOptions::Prefix>& file_prefixes,
                              const std::vector<uint16_t>& connect_ports) {
  if (file_prefixes.size() > KR_PREFIXES) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{} file path prefixes; the filter holds {}", file_prefixes.size(), KR_PREFIXES));
  }
  if (connect_ports.size() > KR_PORTS) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("{} connect ports; the filter holds {}", connect_ports.size(), KR_PORTS));
  }
  auto failure = [](std::string_view what, int err) {
    return MakeError(ErrorCode::kIo, fmt::format("{}: {}", what, Errno(err)));
  };
  auto& maps = impl_->skel->maps;
  // A count of 0 passes everything: the filters are off while their entries change, so a
  // record is never dropped that either the old or the new filter passes.
  uint32_t zero = 0;
  if (int err = bpf_map__update_elem(maps.file_prefix_count, &zero, sizeof zero, &zero, sizeof zero, 0); err != 0) {
    return failure("cannot set the file path filter", err);
  }
  if (int err = bpf_map__update_elem(maps.connect_port_count, &zero, sizeof zero, &zero, sizeof zero, 0); err != 0) {
    return failure("cannot set the connect port filter", err);
  }
  for (uint32_t k = 0; k < file_prefixes.size(); ++k) {
    const std::string& prefix = file_prefixes[k].bytes;
    kr_prefix value{};
    value.insensitive = file_prefixes[k].insensitive ? 1 : 0;
    if (prefix.empty() || prefix.size() > KR_PREFIX_MAX) {
      return MakeError(ErrorCode::kInvalidArgument, fmt::format("file path prefix \"{}\" is empty or longer than {} bytes",
                                                                prefix, KR_PREFIX_MAX));
    }
    value.len = static_cast<__u32>(prefix.size());
    for (size_t i = 0; i < prefix.size(); ++i) {
      char c = prefix[i];
      value.bytes[i] = value.insensitive && c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
    }
    if (int err = bpf_map__update_elem(maps.file_prefixes, &k, sizeof k, &value, sizeof value, 0); err != 0) {
      return failure("cannot set the file path filter", err);
    }
  }
  // The previous ports out, the new ones in.
  std::vector<uint16_t> old;
  uint16_t key = 0, next = 0;
  for (int more = bpf_map__get_next_key(maps.connect_ports, nullptr, &next, sizeof next); more == 0;
       more = bpf_map__get_next_key(maps.connect_ports, &key, &next, sizeof next)) {
    old.push_back(next);
    key = next;
  }
  for (uint16_t port : old) bpf_map__delete_elem(maps.connect_ports, &port, sizeof port, 0);
  for (uint16_t port : connect_ports) {
    uint8_t one = 1;
    if (int err = bpf_map__update_elem(maps.connect_ports, &port, sizeof port, &one, sizeof one, 0); err != 0) {
      return failure("cannot set the connect port filter", err);
    }
  }
  auto count = static_cast<uint32_t>(file_prefixes.size());
  if (int err = bpf_map__update_elem(maps.file_prefix_count, &zero, sizeof zero, &count, sizeof count, 0); err != 0) {
    return failure("cannot set the file path filter", err);
  }
  auto ports = static_cast<uint32_t>(connect_ports.size());
  if (int err = bpf_map__update_elem(maps.connect_port_count, &zero, sizeof zero, &ports, sizeof ports, 0); err != 0) {
    return failure("cannot set the connect port filter", err);
  }
  return Ok();
}

Status EbpfSource::SetInterest(uint64_t interest) {
  uint32_t key = 0;
  if (int err = bpf_map__update_elem(impl_->skel->maps.interest, &key, sizeof key, &interest, sizeof interest, 0);
      err != 0) {
    return MakeError(ErrorCode::kIo, fmt::format("cannot set the interest map: {}", Errno(err)));
  }
  return Ok();
}

Status EbpfSource::KillExecs(const std::vector<std::string>& paths, const std::vector<uint32_t>& exempt) {
  kestrel_bpf* skel = impl_->skel;
  for (uint32_t pid : exempt) {
    uint8_t one = 1;
    if (int err = bpf_map__update_elem(skel->maps.kill_exempt, &pid, sizeof pid, &one, sizeof one, 0); err != 0) {
      return MakeError(ErrorCode::kIo, fmt::format("cannot update the kill_exempt map: {}", Errno(err)));
    }
  }
  for (uint32_t i = 0; i < paths.size(); ++i) {
    kr_path key{};
    if (paths[i].empty() || paths[i].size() >= sizeof key.bytes) {
      return MakeError(ErrorCode::kInvalidArgument, fmt::format("kill path \"{}\" is empty or too long", paths[i]));
    }
    std::memcpy(key.bytes, paths[i].data(), paths[i].size());
    if (int err = bpf_map__update_elem(skel->maps.kill_execs, &key, sizeof key, &i, sizeof i, 0); err != 0) {
      return MakeError(ErrorCode::kIo, fmt::format("cannot update the kill_execs map: {}", Errno(err)));
    }
  }
  uint32_t zero = 0, count = static_cast<uint32_t>(paths.size());
  if (int err = bpf_map__update_elem(skel->maps.kill_exec_count, &zero, sizeof zero, &count, sizeof count, 0); err != 0) {
    return MakeError(ErrorCode::kIo, fmt::format("cannot update the kill_exec_count map: {}", Errno(err)));
  }
  return Ok();
}

#endif

}  // namespace kestrel::ebpf
