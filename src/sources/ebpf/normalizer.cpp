#include "sources/ebpf/normalizer.h"

#include <unistd.h>

#include <fmt/format.h>

#include <cstring>
#include <ctime>
#include <fstream>

#include "common/hash.h"
#include "records.h"

namespace kestrel::ebpf {

struct Normalizer::Fields {
  FieldId timestamp, kind, category, type, action, outcome;
  FieldId pid, entity_id, name, executable, args, args_count, command_line, working_directory, thread_id, exit_code;
  FieldId ppid, parent_entity_id, parent_name, parent_executable, parent_args, parent_command_line;
  FieldId user_id, group_id, effective_id, changes_id, group_changes_id;
  FieldId file_path, file_name, file_directory, file_extension, original_path, file_mode, file_uid, file_gid;
  FieldId dst_ip, dst_port, src_ip, src_port, transport, net_type, direction;
  FieldId syscall, a0, a1, a2, a3;
  FieldId host_os_type, host_name, host_id, host_kernel, host_arch;
};

namespace {

template <class T>
const T* As(std::span<const uint8_t> record) {
  return record.size() >= sizeof(T) ? reinterpret_cast<const T*>(record.data()) : nullptr;
}

// A NUL-terminated string inside a fixed array.
std::string_view Text(const char* s, size_t cap) { return {s, strnlen(s, cap)}; }

// x86_64 names of the system calls the programs record.
std::string_view SyscallName(uint32_t nr) {
  switch (nr) {
    case 2: return "open";
    case 85: return "creat";
    case 257: return "openat";
    case 437: return "openat2";
    case 82: return "rename";
    case 264: return "renameat";
    case 316: return "renameat2";
    case 87: return "unlink";
    case 84: return "rmdir";
    case 263: return "unlinkat";
    case 90: return "chmod";
    case 91: return "fchmod";
    case 268: return "fchmodat";
    case 92: return "chown";
    case 93: return "fchown";
    case 94: return "lchown";
    case 260: return "fchownat";
    case 42: return "connect";
    case 43: return "accept";
    case 288: return "accept4";
    case 49: return "bind";
    case 50: return "listen";
    case 105: return "setuid";
    case 113: return "setreuid";
    case 117: return "setresuid";
    case 106: return "setgid";
    case 114: return "setregid";
    case 119: return "setresgid";
    case 126: return "capset";
    case 101: return "ptrace";
    case 319: return "memfd_create";
    case 80: return "chdir";
    case 81: return "fchdir";
    default: return "unknown";
  }
}

std::string ReadLine(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}


}  // namespace

int64_t Normalizer::BootToWallNow() {
  timespec wall{}, boot{};
  clock_gettime(CLOCK_REALTIME, &wall);
  clock_gettime(CLOCK_BOOTTIME, &boot);
  return (static_cast<int64_t>(wall.tv_sec) - boot.tv_sec) * 1'000'000'000 + (wall.tv_nsec - boot.tv_nsec);
}

Normalizer::Normalizer(SchemaRegistry& registry, ProcessTable& processes, int64_t boot_to_wall_ns)
    : registry_(registry), processes_(processes), boot_to_wall_ns_(boot_to_wall_ns) {
  auto field = [&](std::string_view name, FieldType type) {
    if (auto id = registry_.Find(name)) return *id;
    return registry_.Intern(name, type).value();  // Kestrel's own names: valid by construction
  };
  auto f = std::make_shared<Fields>();
  const FieldType s{ValueKind::kString, false}, i{ValueKind::kI64, false};
  f->timestamp = field("@timestamp", FieldType{ValueKind::kTimestamp, false});
  f->kind = field("event.kind", s);
  f->category = field("event.category", s);
  f->type = field("event.type", s);
  f->action = field("event.action", s);
  f->outcome = field("event.outcome", s);
  f->pid = field("process.pid", i);
  f->entity_id = field("process.entity_id", s);
  f->name = field("process.name", s);
  f->executable = field("process.executable", s);
  f->args = field("process.args", s);
  f->args_count = field("process.args_count", i);
  f->command_line = field("process.command_line", s);
  f->working_directory = field("process.working_directory", s);
  f->thread_id = field("process.thread.id", i);
  f->exit_code = field("process.exit_code", i);
  f->ppid = field("process.parent.pid", i);
  f->parent_entity_id = field("process.parent.entity_id", s);
  f->parent_name = field("process.parent.name", s);
  f->parent_executable = field("process.parent.executable", s);
  f->parent_args = field("process.parent.args", s);
  f->parent_command_line = field("process.parent.command_line", s);
  f->user_id = field("user.id", s);
  f->group_id = field("group.id", s);
  f->effective_id = field("user.effective.id", s);
  f->changes_id = field("user.changes.id", s);
  f->group_changes_id = field("group.changes.id", s);
  f->file_path = field("file.path", s);
  f->file_name = field("file.name", s);
  f->file_directory = field("file.directory", s);
  f->file_extension = field("file.extension", s);
  f->original_path = field("file.Ext.original.path", s);
  f->file_mode = field("file.mode", s);
  f->file_uid = field("file.uid", s);
  f->file_gid = field("file.gid", s);
  f->dst_ip = field("destination.ip", FieldType{ValueKind::kIp, false});
  f->dst_port = field("destination.port", i);
  f->src_ip = field("source.ip", FieldType{ValueKind::kIp, false});
  f->src_port = field("source.port", i);
  f->transport = field("network.transport", s);
  f->net_type = field("network.type", s);
  f->direction = field("network.direction", s);
  // As auditd reports a system call (Elastic's Linux rules read these): its name, and the first
  // four arguments in hex.
  f->syscall = field("auditd.data.syscall", s);
  f->a0 = field("auditd.data.a0", s);
  f->a1 = field("auditd.data.a1", s);
  f->a2 = field("auditd.data.a2", s);
  f->a3 = field("auditd.data.a3", s);
  f->host_os_type = field("host.os.type", s);
  f->host_name = field("host.name", s);
  f->host_id = field("host.id", s);
  f->host_kernel = field("host.os.kernel", s);
  f->host_arch = field("host.architecture", s);
  f_ = std::move(f);
  host_name_ = ReadLine("/proc/sys/kernel/hostname");
  host_id_ = ReadLine("/etc/machine-id");
  kernel_ = ReadLine("/proc/sys/kernel/osrelease");
  const char* names[] = {"process", "file", "network"};
  for (int k = 0; k < 3; ++k) {
    auto t = registry_.InternEventType(names[k]);
    if (t) types_[k] = *t;
  }
}

void Normalizer::SetHost(EventBuilder& b) {
  const Fields& f = *f_;
  b.Set(f.host_os_type, b.StringValue("linux"));
  if (!host_name_.empty()) b.Set(f.host_name, b.StringValue(host_name_));
  if (!host_id_.empty()) b.Set(f.host_id, b.StringValue(host_id_));
  if (!kernel_.empty()) b.Set(f.host_kernel, b.StringValue(kernel_));
  b.Set(f.host_arch, b.StringValue("x86_64"));
}

void Normalizer::SetStrings(EventBuilder& b, FieldId id, std::initializer_list<std::string_view> values) {
  if (values.size() == 1) return b.Set(id, b.StringValue(*values.begin()));
  auto* out = b.arena().AllocateArray<Value>(values.size());
  size_t k = 0;
  for (std::string_view v : values) out[k++] = b.StringValue(v);
  b.Set(id, Value::Array({out, values.size()}));
}

void Normalizer::SetProcess(EventBuilder& b, const ProcessInfo& p, bool parent) {
  const Fields& f = *f_;
  b.Set(parent ? f.ppid : f.pid, Value::I64(p.pid));
  b.Set(parent ? f.parent_entity_id : f.entity_id, b.StringValue(p.entity_id));
  if (!p.name.empty()) b.Set(parent ? f.parent_name : f.name, b.StringValue(p.name));
  if (!p.executable.empty()) b.Set(parent ? f.parent_executable : f.executable, b.StringValue(p.executable));
  if (!p.args.empty()) {
    auto* args = b.arena().AllocateArray<Value>(p.args.size());
    std::string line;
    for (size_t k = 0; k < p.args.size(); ++k) {
      args[k] = b.StringValue(p.args[k]);
      if (k > 0) line += ' ';
      line += p.args[k];
    }
    b.Set(parent ? f.parent_args : f.args, Value::Array({args, p.args.size()}));
    b.Set(parent ? f.parent_command_line : f.command_line, b.StringValue(line));
    if (!parent) b.Set(f.args_count, Value::I64(static_cast<int64_t>(p.args.size())));
  }
  if (!parent && !p.working_directory.empty()) b.Set(f.working_directory, b.StringValue(p.working_directory));
}

std::string Normalizer::Absolute(const ProcessInfo* p, uint32_t pid, int64_t dirfd, std::string_view path) const {
  constexpr int64_t kAtFdCwd = -100;
  if (path.empty() || path.starts_with('/')) return std::string(path);
  std::string directory;
  if (static_cast<int32_t>(dirfd) == kAtFdCwd) {
    if (p != nullptr) directory = p->working_directory;
  } else {
    std::string target = ReadLink(fmt::format("/proc/{}/fd/{}", pid, static_cast<int32_t>(dirfd)));
    if (target.starts_with('/')) directory = std::move(target);
  }
  if (directory.empty()) return std::string(path);
  return ResolvePath(directory, path);
}

std::optional<Event> Normalizer::Normalize(std::span<const uint8_t> record, EventBuilder& b) {
  const Fields& f = *f_;
  const auto* h = As<kr_header>(record);
  size_t need = h == nullptr           ? sizeof(kr_header)
                : h->type == KR_EXEC  ? sizeof(kr_exec)
                : h->type == KR_FORK  ? sizeof(kr_fork)
                : h->type == KR_EXIT  ? sizeof(kr_exit)
                                      : sizeof(kr_syscall);
  if (h == nullptr || h->type == 0 || h->type >= KR_TYPE_COUNT || record.size() < need) {
    ++stats_.malformed;  // every record of a type has that type's size: the typed views below hold
    return std::nullopt;
  }
  const kr_task& t = h->task;
  const uint64_t start = StartTicks(t.start_ns);
  const uint64_t parent_start = StartTicks(t.parent_start_ns);
  std::string_view category = "process";
  // event.category, event.type and event.action.
  auto classify = [&](std::string_view cat, std::initializer_list<std::string_view> types, std::string_view action) {
    category = cat;
    SetStrings(b, f.type, types);
    b.Set(f.action, b.StringValue(action));
  };
  if (h->type == KR_CHDIR) {
    const auto* s = As<kr_syscall>(record);
    ++stats_.internal;
    if (s->ret != 0) return std::nullopt;
    std::string directory;
    if (s->nr == 80) {
      directory = Absolute(processes_.Find(t.pid, start), t.pid, -100, Text(s->path, sizeof s->path));
    } else {  // fchdir: where the process is now, while it lives
      directory = ReadLink(fmt::format("/proc/{}/cwd", t.pid));
    }
    if (directory.starts_with('/')) processes_.SetWorkingDirectory(t.pid, start, std::move(directory));
    return std::nullopt;
  }

  Begin(b, h->ktime_ns);

  auto syscall_outcome = [&](const kr_syscall& s) {
    b.Set(f.outcome, b.StringValue(s.ret >= 0 ? "success" : "failure"));
  };

  switch (h->type) {
    case KR_EXEC: {
      const auto* e = As<kr_exec>(record);
      std::vector<std::string> args;
      size_t len = std::min<size_t>(e->args_len, sizeof e->args);
      for (size_t at = 0; at < len;) {
        size_t end = at;
        while (end < len && e->args[end] != '\0') ++end;
        args.emplace_back(e->args + at, end - at);
        at = end + 1;
      }
      std::string cwd;
      if (cwd_from_proc_) cwd = ReadLink(fmt::format("/proc/{}/cwd", t.pid));
      const ProcessInfo* known = processes_.Find(t.pid, start);
      if (cwd.empty() && known != nullptr) cwd = known->working_directory;
      processes_.OnExec(t.pid, start, t.ppid, std::string(Text(e->filename, sizeof e->filename)),
                                               std::move(args), std::move(cwd), t.uid, t.gid);
      classify("process", {"start"}, "exec");
      break;
    }
    case KR_FORK:
      classify("process", {"start"}, "fork");
      break;
    case KR_EXIT: {
      const auto* x = As<kr_exit>(record);
      classify("process", {"end"}, "end");
      // wait(2) status: the exit status, or 128 + the signal that ended the process (a shell's $?).
      int code = x->exit_code;
      b.Set(f.exit_code, Value::I64((code & 0x7f) != 0 ? 128 + (code & 0x7f) : (code >> 8) & 0xff));
      break;
    }
    default: {
      const auto* s = As<kr_syscall>(record);
      syscall_outcome(*s);
      b.Set(f.syscall, b.StringValue(SyscallName(s->nr)));
      const FieldId arg_fields[] = {f.a0, f.a1, f.a2, f.a3};
      for (int k = 0; k < 4; ++k) {
        b.Set(arg_fields[k], b.StringValue(fmt::format("{:x}", static_cast<uint64_t>(s->args[k]))));
      }
      // The *at calls' first argument is the directory a relative path starts from.
      const bool at = s->nr == 257 || s->nr == 437 || s->nr == 263 || s->nr == 268 || s->nr == 260 ||
                      s->nr == 264 || s->nr == 316;
      const ProcessInfo* actor = processes_.Find(t.pid, start);
      std::string absolute = h->type == KR_MEMFD ? std::string(Text(s->path, sizeof s->path))
                                                  : Absolute(actor, t.pid, at ? s->args[0] : -100,
                                                             Text(s->path, sizeof s->path));
      std::string_view path = absolute;
      auto set_file = [&](std::string_view p) {
        b.Set(f.file_path, b.StringValue(p));
        std::string_view name = BaseName(p);
        b.Set(f.file_name, b.StringValue(name));
        if (name.size() < p.size()) b.Set(f.file_directory, b.StringValue(p.substr(0, p.size() - name.size() - (p.size() - name.size() > 1 ? 1 : 0))));
        size_t dot = name.rfind('.');
        if (dot != std::string_view::npos && dot > 0 && dot + 1 < name.size()) {
          b.Set(f.file_extension, b.StringValue(name.substr(dot + 1)));
        }
      };
      auto set_transport = [&] {
        std::string_view transport = s->protocol == 6 ? "tcp" : s->protocol == 17 ? "udp"
                                   : s->protocol == 1 || s->protocol == 58 ? "icmp" : "";
        if (!transport.empty()) b.Set(f.transport, b.StringValue(transport));
      };
      auto set_addr = [&](FieldId ip, FieldId port) {
        set_transport();
        if (s->addr.family != 2 && s->addr.family != 10) return;
        IpAddress a{};
        std::memcpy(a.bytes, s->addr.addr, 16);
        b.Set(ip, b.IpValue(a));
        b.Set(port, Value::I64(s->addr.port));
        b.Set(f.net_type, b.StringValue(s->addr.family == 2 ? "ipv4" : "ipv6"));
      };
      switch (h->type) {
        case KR_OPEN: {
          // open(2) flags: O_WRONLY 1, O_RDWR 2, O_CREAT 0100, O_TRUNC 01000; creat = O_CREAT|O_WRONLY|O_TRUNC.
          int64_t flags = s->nr == 85 ? 01101 : s->nr == 2 ? s->args[1] : s->args[2];
          if (s->nr == 437) flags = 0;  // openat2: flags sit in a struct how; reported as an open
          bool create = (flags & 0100) != 0, change = (flags & 3) != 0 || (flags & 01000) != 0;
          if (create) {
            classify("file", {"creation"}, "creation");
          } else if (change) {
            classify("file", {"change"}, "modification");
          } else {
            classify("file", {"access"}, "open");
          }
          set_file(path);
          break;
        }
        case KR_RENAME:
          classify("file", {"change"}, "rename");
          set_file(Absolute(actor, t.pid, at ? s->args[2] : -100, Text(s->path2, sizeof s->path2)));
          b.Set(f.original_path, b.StringValue(path));
          break;
        case KR_UNLINK:
          classify("file", {"deletion"}, "deletion");
          set_file(path);
          break;
        case KR_CHMOD:
          classify("file", {"change"}, "attributes_modified");
          if (!path.empty()) set_file(path);
          b.Set(f.file_mode, b.StringValue(fmt::format("{:o}", s->nr == 268 ? s->args[2] : s->args[1])));
          break;
        case KR_CHOWN: {
          classify("file", {"change"}, "attributes_modified");
          if (!path.empty()) set_file(path);
          b.Set(f.file_uid, b.StringValue(fmt::format("{}", static_cast<int32_t>(s->args[at ? 2 : 1]))));
          b.Set(f.file_gid, b.StringValue(fmt::format("{}", static_cast<int32_t>(s->args[at ? 3 : 2]))));
          break;
        }
        case KR_CONNECT:
          classify("network", {"connection", "start"}, "connection_attempted");
          b.Set(f.direction, b.StringValue("egress"));
          set_addr(f.dst_ip, f.dst_port);
          break;
        case KR_ACCEPT:
          classify("network", {"connection", "start"}, "connection_accepted");
          b.Set(f.direction, b.StringValue("ingress"));
          set_addr(f.src_ip, f.src_port);
          break;
        case KR_BIND:
          classify("network", {"start"}, "bind");
          set_addr(f.src_ip, f.src_port);
          break;
        case KR_LISTEN:
          classify("network", {"start"}, "listen");
          set_addr(f.src_ip, f.src_port);  // the socket's local address
          break;
        case KR_SETUID:
        case KR_SETGID: {
          bool uid = h->type == KR_SETUID;
          classify("process", {"change"}, uid ? "setuid" : "setgid");
          // setuid(u), setreuid(r, e), setresuid(r, e, s): the effective id asked for (-1: unchanged).
          int64_t wanted = (s->nr == 105 || s->nr == 106) ? s->args[0] : s->args[1];
          if (static_cast<int32_t>(wanted) != -1) {
            b.Set(uid ? f.changes_id : f.group_changes_id, b.StringValue(fmt::format("{}", static_cast<uint32_t>(wanted))));
          }
          break;
        }
        case KR_CAPSET:
          classify("process", {"change"}, "capset");
          break;
        case KR_PTRACE:
          classify("process", {"access"}, "ptrace");  // request and target pid: auditd.data.a0, a1
          break;
        case KR_MEMFD:
          classify("process", {"creation"}, "memfd_create");
          b.Set(f.file_name, b.StringValue(path));
          break;
        default: break;
      }
      break;
    }
  }

  // The acting process (a fork's child) from the table, else what the record says; its parent
  // likewise (a fork's parent is the record's task).
  ProcessInfo process_fallback, parent_fallback;
  auto known = [&](uint32_t pid, uint64_t start_ticks, std::string_view comm, ProcessInfo& fallback) -> const ProcessInfo& {
    if (const ProcessInfo* p = processes_.Find(pid, start_ticks)) return *p;
    fallback.pid = pid;
    fallback.start_ticks = start_ticks;
    if (pid != 0) fallback.entity_id = processes_.EntityId(pid, start_ticks);
    fallback.name = std::string(comm);
    return fallback;
  };
  const std::string_view comm = Text(t.comm, sizeof t.comm);
  const ProcessInfo* process;
  const ProcessInfo* parent;
  if (h->type == KR_FORK) {
    const auto* fk = As<kr_fork>(record);
    process = &processes_.OnFork(t.pid, start, fk->child_pid, StartTicks(fk->child_start_ns));
    parent = &known(t.pid, start, comm, parent_fallback);
  } else {
    process = &known(t.pid, start, comm, process_fallback);
    parent = &known(t.ppid, parent_start, "", parent_fallback);
    if (t.tid != t.pid) b.Set(f.thread_id, Value::I64(t.tid));
  }
  Event event = Complete(b, category, *process, *parent, t.uid, t.gid, t.euid, h->type);
  if (h->type == KR_EXIT) processes_.OnExit(t.pid);
  return event;
}

EventHeader& Normalizer::Begin(EventBuilder& b, uint64_t ktime_ns) {
  b.Start();
  EventHeader& header = b.header();
  header.event_id = next_id_++;
  if (ktime_ns < last_mono_) ++stats_.reordered;
  last_mono_ = std::max<uint64_t>(last_mono_, ktime_ns);
  header.ts_mono_ns = last_mono_;
  header.ts_wall_ns = static_cast<uint64_t>(static_cast<int64_t>(ktime_ns) + boot_to_wall_ns_);
  b.Set(f_->timestamp, Value::Timestamp(static_cast<int64_t>(header.ts_wall_ns)));
  b.Set(f_->kind, b.StringValue("event"));
  return header;
}

Event Normalizer::Complete(EventBuilder& b, std::string_view category, const ProcessInfo& process,
                           const ProcessInfo& parent, uint32_t uid, uint32_t gid, std::optional<uint32_t> euid,
                           uint16_t record_type) {
  const Fields& f = *f_;
  SetProcess(b, process, false);
  if (parent.pid != 0) SetProcess(b, parent, true);
  b.Set(f.user_id, b.StringValue(fmt::format("{}", uid)));
  b.Set(f.group_id, b.StringValue(fmt::format("{}", gid)));
  if (euid) b.Set(f.effective_id, b.StringValue(fmt::format("{}", *euid)));
  SetHost(b);
  b.Set(f.category, b.StringValue(category));
  EventHeader& header = b.header();
  header.type = category == "process" ? *types_[0] : category == "file" ? *types_[1] : *types_[2];
  header.entity_key = Hash64(process.entity_id);
  ++stats_.events;
  ++stats_.by_type[record_type];
  return b.Finish();
}

Event Normalizer::AlreadyRunning(const ProcessInfo& p, EventBuilder& b) {
  timespec now{};
  clock_gettime(CLOCK_BOOTTIME, &now);
  Begin(b, static_cast<uint64_t>(now.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(now.tv_nsec));
  b.Set(f_->type, b.StringValue("info"));
  b.Set(f_->action, b.StringValue("already_running"));
  ProcessInfo none;
  const ProcessInfo* parent = p.ppid != 0 ? processes_.Find(p.ppid) : nullptr;
  return Complete(b, "process", p, parent != nullptr ? *parent : none, p.uid, p.gid, std::nullopt, 0);
}

}  // namespace kestrel::ebpf
