// Kestrel's BPF programs: process exec / fork / exit from the sched tracepoints (BTF-enabled,
// tp_btf), and the system calls Kestrel records (records.h lists them) from the per-syscall
// tracepoints (syscalls:sys_enter_NAME / sys_exit_NAME, one program attached to each wanted one),
// or, where the kernel has none (no CONFIG_FTRACE_SYSCALLS), from the raw syscall tracepoints
// (tp_btf sys_enter / sys_exit), which run for every system call of the host. All CO-RE, so one
// object runs on any kernel >= 5.8 with BTF. Every record goes to one
// ring buffer; a record the buffer has no room for is counted in `lost`, never dropped silently.
// User space sets `interest` (a bitmask of record types) from the rules it loaded, and the
// programs drop what no rule (and no part of Kestrel) needs before it reaches the ring.
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "records.h"

char LICENSE[] SEC("license") = "GPL";

// Set by user space before loading: Kestrel's own process, whose activity is not recorded.
const volatile __u32 kestrel_tgid = 0;

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 8 << 20);  // user space sets the configured size before loading
} events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} interest SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} lost SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} file_prefix_count SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, KR_PREFIXES);
  __type(key, __u32);
  __type(value, struct kr_prefix);
} file_prefixes SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} connect_port_count SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, KR_PORTS);
  __type(key, __u16);
  __type(value, __u8);
} connect_ports SEC(".maps");

// A system call between its entry and its exit, by thread id.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, __u32);
  __type(value, struct kr_syscall);
} inflight SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct kr_syscall);
} scratch SEC(".maps");

// Kill rules pushed down by user space: an exec of one of these paths is killed (SIGKILL) in the
// exec tracepoint, before the new program runs a single instruction. Processes in kill_exempt
// (Kestrel's parent, the allowlist) and PID 1 never are.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, struct kr_path);
  __type(value, __u32);  // the rule number
} kill_execs SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} kill_exec_count SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, __u32);
  __type(value, __u8);
} kill_exempt SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct kr_path);
} path_scratch SEC(".maps");

static __always_inline int wanted(__u32 type) {
  __u32 k = 0;
  __u64* mask = bpf_map_lookup_elem(&interest, &k);
  return mask != 0 && ((*mask >> type) & 1);
}

static __always_inline void count_lost(void) {
  __u32 k = 0;
  __u64* n = bpf_map_lookup_elem(&lost, &k);
  if (n) *n += 1;  // per CPU: no other writer
}

// Records are batched: the reader is woken only once the ring is a quarter full, and reads on its
// own every few milliseconds otherwise. A wakeup per record costs the traced process more than
// the record itself.
static __always_inline __u64 wakeup_flags(void) {
  __u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
  __u64 size = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE);
  return avail * 4 >= size ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline int is_self(void) { return (bpf_get_current_pid_tgid() >> 32) == kestrel_tgid; }

static __always_inline void fill_header(struct kr_header* h, __u16 type, __u16 size, struct task_struct* task) {
  h->type = type;
  h->size = size;
  h->cpu = bpf_get_smp_processor_id();
  h->ktime_ns = bpf_ktime_get_boot_ns();
  struct kr_task* t = &h->task;
  t->pid = BPF_CORE_READ(task, tgid);
  t->tid = BPF_CORE_READ(task, pid);
  struct task_struct* parent = BPF_CORE_READ(task, real_parent);
  t->ppid = BPF_CORE_READ(parent, tgid);
  t->uid = BPF_CORE_READ(task, cred, uid.val);
  t->gid = BPF_CORE_READ(task, cred, gid.val);
  t->euid = BPF_CORE_READ(task, cred, euid.val);
  t->egid = BPF_CORE_READ(task, cred, egid.val);
  t->pad = 0;
  t->start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
  t->parent_start_ns = BPF_CORE_READ(parent, group_leader, start_boottime);
  BPF_CORE_READ_STR_INTO(&t->comm, task, comm);
}

// 1 when the exec of `bprm` matches a pushed-down kill rule: SIGKILL is sent to the new program.
static __always_inline __u32 kill_if_ruled(struct linux_binprm* bprm) {
  __u32 k = 0;
  __u32* kills = bpf_map_lookup_elem(&kill_exec_count, &k);
  if (!kills || *kills == 0) return 0;
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  if (tgid <= 1 || tgid == kestrel_tgid || bpf_map_lookup_elem(&kill_exempt, &tgid)) return 0;
  struct kr_path* key = bpf_map_lookup_elem(&path_scratch, &k);
  if (!key) return 0;
  __builtin_memset(key->bytes, 0, sizeof(key->bytes));
  bpf_probe_read_kernel_str(key->bytes, sizeof(key->bytes), BPF_CORE_READ(bprm, filename));
  if (!bpf_map_lookup_elem(&kill_execs, key)) return 0;
  bpf_send_signal(9);
  return 1;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct* p, pid_t old_pid, struct linux_binprm* bprm) {
  __u32 killed = kill_if_ruled(bprm);
  if (!wanted(KR_EXEC) || is_self()) return 0;
  struct kr_exec* e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    count_lost();
    return 0;
  }
  fill_header(&e->h, KR_EXEC, sizeof(*e), p);
  e->filename[0] = 0;
  bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename));
  unsigned long start = BPF_CORE_READ(p, mm, arg_start);
  unsigned long end = BPF_CORE_READ(p, mm, arg_end);
  unsigned long len = end > start ? end - start : 0;
  e->truncated = len > KR_ARGS_MAX;
  if (len > KR_ARGS_MAX) len = KR_ARGS_MAX;
  e->argc = 0;  // user space counts the NULs
  e->killed = killed;
  e->args_len = 0;
  __u32 n = len & (2 * KR_ARGS_MAX - 1);  // bounds the size for the verifier
  if (n > KR_ARGS_MAX) n = KR_ARGS_MAX;
  if (n > 0 && bpf_probe_read_user(e->args, n, (void*)start) == 0) e->args_len = n;
  bpf_ringbuf_submit(e, wakeup_flags());
  return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct* parent, struct task_struct* child) {
  if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid)) return 0;  // a new thread
  if (!wanted(KR_FORK) || is_self()) return 0;
  struct kr_fork* f = bpf_ringbuf_reserve(&events, sizeof(*f), 0);
  if (!f) {
    count_lost();
    return 0;
  }
  fill_header(&f->h, KR_FORK, sizeof(*f), parent);
  f->child_pid = BPF_CORE_READ(child, tgid);
  f->pad = 0;
  f->child_start_ns = BPF_CORE_READ(child, start_boottime);
  bpf_ringbuf_submit(f, wakeup_flags());
  return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct* p) {
  __u32 tid = BPF_CORE_READ(p, pid);
  bpf_map_delete_elem(&inflight, &tid);  // a thread killed inside a system call
  if (tid != BPF_CORE_READ(p, tgid)) return 0;  // a thread, not the process
  if (!wanted(KR_EXIT) || is_self()) return 0;
  struct kr_exit* x = bpf_ringbuf_reserve(&events, sizeof(*x), 0);
  if (!x) {
    count_lost();
    return 0;
  }
  fill_header(&x->h, KR_EXIT, sizeof(*x), p);
  x->exit_code = BPF_CORE_READ(p, exit_code);
  x->pad = 0;
  bpf_ringbuf_submit(x, wakeup_flags());
  return 0;
}

// x86_64 system call numbers. Which argument holds a path: PATH_ARG0 / PATH_ARG1.
static __always_inline __u32 syscall_type(long nr) {
  switch (nr) {
    case 2: case 85: case 257: case 437: return KR_OPEN;       // open creat openat openat2
    case 82: case 264: case 316: return KR_RENAME;             // rename renameat renameat2
    case 87: case 84: case 263: return KR_UNLINK;              // unlink rmdir unlinkat
    case 90: case 91: case 268: return KR_CHMOD;               // chmod fchmod fchmodat
    case 92: case 93: case 94: case 260: return KR_CHOWN;      // chown fchown lchown fchownat
    case 42: return KR_CONNECT;
    case 43: case 288: return KR_ACCEPT;                       // accept accept4
    case 49: return KR_BIND;
    case 50: return KR_LISTEN;
    case 105: case 113: case 117: return KR_SETUID;            // setuid setreuid setresuid
    case 106: case 114: case 119: return KR_SETGID;            // setgid setregid setresgid
    case 126: return KR_CAPSET;
    case 101: return KR_PTRACE;
    case 319: return KR_MEMFD;
    case 80: case 81: return KR_CHDIR;                         // chdir fchdir
    default: return 0;
  }
}

// Does a file record with this path pass the pushdown filter (records.h)?
static __always_inline int path_wanted(const char* path) {
  __u32 k = 0;
  __u32* count = bpf_map_lookup_elem(&file_prefix_count, &k);
  if (!count || *count == 0 || path[0] != '/') return 1;
  char prev = 0;
  for (int i = 0; i < KR_PATH_MAX; i++) {
    char c = path[i];
    if (c == 0) break;
    if (prev == '/' && (c == '/' || c == '.')) return 1;  // "//", "/./", "/../", "/.x": user space decides
    prev = c;
  }
  for (__u32 p = 0; p < KR_PREFIXES; p++) {
    if (p >= *count) break;
    __u32 key = p;
    struct kr_prefix* prefix = bpf_map_lookup_elem(&file_prefixes, &key);
    if (!prefix) break;
    int same = 1;
    for (int i = 0; i < KR_PREFIX_MAX; i++) {
      if (i >= prefix->len) break;
      char c = path[i];
      if (prefix->insensitive && c >= 'A' && c <= 'Z') c += 'a' - 'A';
      if (c != prefix->bytes[i]) {
        same = 0;
        break;
      }
    }
    if (same) return 1;
  }
  return 0;
}

static __always_inline void read_sockaddr(struct kr_sockaddr* out, const void* uaddr) {
  __u8 raw[28] = {};
  out->family = 0;
  out->port = 0;
  if (!uaddr || bpf_probe_read_user(raw, sizeof(raw), uaddr) != 0) return;
  __u16 family = raw[0] | (raw[1] << 8);
  __u16 port = (raw[2] << 8) | raw[3];  // network order in memory
  if (family == 2) {  // AF_INET: v4-mapped
    __builtin_memset(out->addr, 0, 10);
    out->addr[10] = 0xff;
    out->addr[11] = 0xff;
    __builtin_memcpy(&out->addr[12], &raw[4], 4);
  } else if (family == 10) {  // AF_INET6
    __builtin_memcpy(out->addr, &raw[8], 16);
  } else {
    return;
  }
  out->family = family;
  out->port = port;
}

// How many arguments each recorded system call takes (the others are reported as 0).
static __always_inline int syscall_args(long nr) {
  switch (nr) {
    case 87: case 84: case 105: case 106: case 80: case 81: return 1;  // unlink rmdir setuid setgid chdir fchdir
    case 85: case 82: case 90: case 91: case 50: case 113: case 114: case 126: case 319:
      return 2;  // creat rename chmod fchmod listen setreuid setregid capset memfd_create
    case 2: case 263: case 268: case 92: case 93: case 94: case 42: case 43: case 49: case 117: case 119:
      return 3;  // open unlinkat fchmodat chown fchown lchown connect accept bind setresuid setresgid
    case 257: case 437: case 264: case 288: case 101: return 4;  // openat openat2 renameat accept4 ptrace
    default: return 5;                                           // renameat2 fchownat
  }
}

// A system call's entry: its record waits in `inflight` for the exit, unless the interest or
// the pushdown filters drop it. `args` as the call got them.
static __always_inline int sys_enter(long nr, const __u64* args) {
  __u32 type = syscall_type(nr);
  if (type == 0 || !wanted(type) || is_self()) return 0;
  __u32 k = 0;
  struct kr_syscall* s = bpf_map_lookup_elem(&scratch, &k);
  if (!s) return 0;
  s->h.type = type;
  s->nr = nr;
  s->sock_type = 0;
  s->protocol = 0;
  s->ret = 0;
  int n = syscall_args(nr);
  for (int i = 0; i < 6; i++) s->args[i] = i < n ? args[i] : 0;
  s->path[0] = 0;
  s->path2[0] = 0;
  __builtin_memset(&s->addr, 0, sizeof(s->addr));
  const char* path = 0;
  const char* path2 = 0;
  switch (nr) {
    case 2: case 85: case 87: case 84: case 90: case 92: case 94: case 319: case 80:
      path = (const char*)s->args[0];
      break;
    case 257: case 437: case 263: case 268: case 260:
      path = (const char*)s->args[1];
      break;
    case 82:
      path = (const char*)s->args[0];
      path2 = (const char*)s->args[1];
      break;
    case 264: case 316:
      path = (const char*)s->args[1];
      path2 = (const char*)s->args[3];
      break;
    case 42: case 49:
      read_sockaddr(&s->addr, (const void*)s->args[1]);
      break;
    default: break;
  }
  if (path) bpf_probe_read_user_str(s->path, sizeof(s->path), path);
  if (path2) bpf_probe_read_user_str(s->path2, sizeof(s->path2), path2);
  if (type == KR_CONNECT) {
    __u32* ports = bpf_map_lookup_elem(&connect_port_count, &k);
    __u16 port = s->addr.port;
    if (ports && *ports > 0 && !bpf_map_lookup_elem(&connect_ports, &port)) return 0;  // no rule's port
  }
  if ((type == KR_OPEN || type == KR_RENAME || type == KR_UNLINK || type == KR_CHMOD || type == KR_CHOWN) &&
      !path_wanted(s->path) && !(path2 && path_wanted(s->path2))) {
    return 0;  // no rule looks at this file
  }
  __u32 tid = (__u32)bpf_get_current_pid_tgid();
  if (bpf_map_update_elem(&inflight, &tid, s, BPF_ANY) != 0) count_lost();
  return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs* regs, long nr) {
  if (syscall_type(nr) == 0) return 0;  // the common case: one switch, no map lookup
  __u64 args[6] = {BPF_CORE_READ(regs, di), BPF_CORE_READ(regs, si), BPF_CORE_READ(regs, dx),
                   BPF_CORE_READ(regs, r10), BPF_CORE_READ(regs, r8), BPF_CORE_READ(regs, r9)};
  return sys_enter(nr, args);
}

// The context of a syscalls:sys_enter_NAME tracepoint program (the kernel's syscall_tp_t): the
// arguments the call takes, the rest undefined.
struct kr_tp_enter {
  __u64 common;
  __s32 nr;
  __u32 pad;
  __u64 args[6];
};

// Attached by user space to syscalls:sys_enter_NAME of each system call the rules need. The
// kernel refuses to attach a program that reads its context past the tracepoint's own fields
// (16 bytes + 8 per argument), so the arguments are copied, not read in place: the context
// always has room for six.
SEC("tracepoint/syscalls/sys_enter_openat")
int on_syscall_enter(struct kr_tp_enter* ctx) {
  __u64 args[6];
  if (bpf_probe_read_kernel(args, sizeof(args), ctx->args) != 0) return 0;
  return sys_enter(ctx->nr, args);
}

// The socket behind `fd` of the current task: its type and protocol, and for listen its local
// address. Leaves them 0 when `fd` is not an open socket.
static __always_inline void read_socket(struct kr_syscall* s, long fd, int local_address) {
  if (fd < 0) return;
  struct task_struct* task = (struct task_struct*)bpf_get_current_task_btf();
  struct fdtable* fdt = BPF_CORE_READ(task, files, fdt);
  if ((unsigned long)fd >= BPF_CORE_READ(fdt, max_fds)) return;
  struct file** fds = BPF_CORE_READ(fdt, fd);
  struct file* file = 0;
  if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) != 0 || file == 0) return;
  struct socket* sock = BPF_CORE_READ(file, private_data);
  if (sock == 0) return;
  struct sock* sk = BPF_CORE_READ(sock, sk);
  if (sk == 0) return;
  s->sock_type = BPF_CORE_READ(sock, type);
  s->protocol = BPF_CORE_READ(sk, sk_protocol);
  if (!local_address) return;
  __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
  s->addr.port = BPF_CORE_READ(sk, __sk_common.skc_num);
  if (family == 2) {
    __u32 v4 = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
    __builtin_memset(s->addr.addr, 0, 10);
    s->addr.addr[10] = 0xff;
    s->addr.addr[11] = 0xff;
    __builtin_memcpy(&s->addr.addr[12], &v4, 4);
    s->addr.family = family;
  } else if (family == 10) {
    BPF_CORE_READ_INTO(&s->addr.addr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
    s->addr.family = family;
  }
}

// A system call's exit: its record, completed with the result, goes to the ring.
static __always_inline int sys_exit(long nr, long ret) {
  __u32 tid = (__u32)bpf_get_current_pid_tgid();
  struct kr_syscall* s = bpf_map_lookup_elem(&inflight, &tid);
  if (!s) return 0;
  s->ret = ret;
  if ((nr == 43 || nr == 288) && ret >= 0) read_sockaddr(&s->addr, (const void*)s->args[1]);
  // Network calls on a socket (not ENOTSOCK 88, EBADF 9): accept's new one, the others' argument.
  if ((nr == 42 || nr == 43 || nr == 288 || nr == 49 || nr == 50) && ret != -88 && ret != -9) {
    read_socket(s, (nr == 43 || nr == 288) ? ret : s->args[0], nr == 50);
  }
  fill_header(&s->h, s->h.type, sizeof(*s), (struct task_struct*)bpf_get_current_task_btf());
  if (bpf_ringbuf_output(&events, s, sizeof(*s), wakeup_flags()) != 0) count_lost();
  bpf_map_delete_elem(&inflight, &tid);
  return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs* regs, long ret) {
  long nr = BPF_CORE_READ(regs, orig_ax);
  if (syscall_type(nr) == 0) return 0;  // not one Kestrel records: no map lookup
  return sys_exit(nr, ret);
}

// The context of a syscalls:sys_exit_NAME tracepoint program.
struct kr_tp_exit {
  __u64 common;
  __s32 nr;
  __u32 pad;
  __s64 ret;
};

SEC("tracepoint/syscalls/sys_exit_openat")
int on_syscall_exit(struct kr_tp_exit* ctx) { return sys_exit(ctx->nr, ctx->ret); }
