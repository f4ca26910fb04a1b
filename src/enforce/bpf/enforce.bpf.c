// Kestrel's enforcement programs (docs/response.md). Connect deny: cgroup/connect4 and
// cgroup/connect6 on the configured cgroup, or BPF-LSM socket_connect where the kernel allows
// it. Exec deny on the BPF-LSM path: bprm_check_security. Each looks the operation up in maps
// user space fills from the rules in enforce mode: a port, an endpoint (address and port), a
// process armed by a sequence rule's second-to-last stage, or an executable path. Processes in
// `exempt` (Kestrel, its parent, PID 1, the allowlist) are never denied.
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "enforce.h"

char LICENSE[] SEC("license") = "GPL";

#define EPERM 1

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, __u16);
  __type(value, __u32);  // the rule number
} deny_ports SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, struct ke_endpoint);
  __type(value, __u32);
} deny_endpoints SEC(".maps");

// Addresses denied on any port (keyed with port 0).
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, struct ke_endpoint);
  __type(value, __u32);
} deny_addresses SEC(".maps");

// Processes (tgid) whose next connect is denied: armed by a sequence whose last stage blocks.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, __u32);
  __type(value, __u32);
} armed_connect SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, __u32);
  __type(value, __u32);
} armed_exec SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, struct ke_path);
  __type(value, __u32);
} deny_execs SEC(".maps");

// Files whose opens are denied on the BPF-LSM path, by path.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, struct ke_path);
  __type(value, __u32);
} deny_files SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct ke_path);
} path_scratch SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, __u32);
  __type(value, __u8);
} exempt SEC(".maps");

// Operations denied, by kind: 0 connect, 1 exec, 2 open.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 3);
  __type(key, __u32);
  __type(value, __u64);
} denied SEC(".maps");

static __always_inline void count_denied(__u32 kind) {
  __u64* n = bpf_map_lookup_elem(&denied, &kind);
  if (n) *n += 1;
}

static __always_inline int connect_denied(struct ke_endpoint* e) {
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  if (bpf_map_lookup_elem(&exempt, &tgid)) return 0;
  int denied = bpf_map_lookup_elem(&deny_ports, &e->port) || bpf_map_lookup_elem(&deny_endpoints, e) ||
               bpf_map_lookup_elem(&armed_connect, &tgid);
  if (!denied) {
    __u16 port = e->port;
    e->port = 0;
    denied = bpf_map_lookup_elem(&deny_addresses, e) != 0;
    e->port = port;
  }
  if (denied) count_denied(0);
  return denied;
}

SEC("cgroup/connect4")
int deny_connect4(struct bpf_sock_addr* ctx) {
  struct ke_endpoint e = {};
  __u32 ip = ctx->user_ip4;  // network order
  e.addr[10] = 0xff;
  e.addr[11] = 0xff;
  __builtin_memcpy(&e.addr[12], &ip, 4);
  e.port = bpf_ntohs((__u16)ctx->user_port);
  return connect_denied(&e) ? 0 : 1;  // 0: the connect fails with EPERM
}

SEC("cgroup/connect6")
int deny_connect6(struct bpf_sock_addr* ctx) {
  struct ke_endpoint e = {};
  // Constant offsets: the verifier refuses context reads through a moved pointer.
  __u32 w[4] = {ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3]};
  __builtin_memcpy(e.addr, w, 16);
  e.port = bpf_ntohs((__u16)ctx->user_port);
  return connect_denied(&e) ? 0 : 1;
}

// The BPF-LSM path: loaded only where the kernel allows LSM programs (kernel_guard.cpp probes).
SEC("lsm/socket_connect")
int BPF_PROG(lsm_connect, struct socket* sock, struct sockaddr* address, int addrlen, int ret) {
  if (ret != 0) return ret;
  struct ke_endpoint e = {};
  __u16 family = BPF_CORE_READ(address, sa_family);
  if (family == 2) {
    struct sockaddr_in* in = (struct sockaddr_in*)address;
    __u32 ip = BPF_CORE_READ(in, sin_addr.s_addr);
    e.addr[10] = 0xff;
    e.addr[11] = 0xff;
    __builtin_memcpy(&e.addr[12], &ip, 4);
    e.port = bpf_ntohs(BPF_CORE_READ(in, sin_port));
  } else if (family == 10) {
    struct sockaddr_in6* in6 = (struct sockaddr_in6*)address;
    BPF_CORE_READ_INTO(&e.addr, in6, sin6_addr.in6_u.u6_addr8);
    e.port = bpf_ntohs(BPF_CORE_READ(in6, sin6_port));
  } else {
    return 0;
  }
  return connect_denied(&e) ? -EPERM : 0;
}

SEC("lsm/bprm_check_security")
int BPF_PROG(lsm_exec, struct linux_binprm* bprm, int ret) {
  if (ret != 0) return ret;
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  if (bpf_map_lookup_elem(&exempt, &tgid)) return 0;
  struct ke_path path = {};
  bpf_probe_read_kernel_str(path.bytes, sizeof(path.bytes), BPF_CORE_READ(bprm, filename));
  if (bpf_map_lookup_elem(&deny_execs, &path) || bpf_map_lookup_elem(&armed_exec, &tgid)) {
    count_denied(1);
    return -EPERM;
  }
  return 0;
}

SEC("lsm/file_open")
int BPF_PROG(lsm_file_open, struct file* file, int ret) {
  if (ret != 0) return ret;
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  if (bpf_map_lookup_elem(&exempt, &tgid)) return 0;
  __u32 k = 0;
  struct ke_path* path = bpf_map_lookup_elem(&path_scratch, &k);
  if (!path) return 0;
  __builtin_memset(path->bytes, 0, sizeof(path->bytes));
  if (bpf_d_path((struct path*)&file->f_path, path->bytes, sizeof(path->bytes)) < 0) return 0;
  if (bpf_map_lookup_elem(&deny_files, path)) {
    count_denied(2);
    return -EPERM;
  }
  return 0;
}
