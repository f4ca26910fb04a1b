/* The records Kestrel's BPF programs write to the ring buffer: shared by the BPF side
 * (kestrel.bpf.c, compiled with clang -target bpf against vmlinux.h) and user space
 * (ebpf_source.cpp). Fixed-size, little-endian, no pointers; strings are NUL-terminated within
 * their arrays. docs/live.md describes every field. */
#ifndef KESTREL_EBPF_RECORDS_H
#define KESTREL_EBPF_RECORDS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* NOLINTBEGIN(readability-identifier-naming): C names, as on the BPF side */
#define KR_PATH_MAX 256
#define KR_ARGS_MAX 1024 /* exec argv bytes, NUL-separated; longer lists are cut (flag) */
#define KR_COMM_MAX 16
#define KR_PREFIXES 16    /* file path prefixes of the pushdown filter */
#define KR_PREFIX_MAX 64

/* Interest pushdown: file records are made only for absolute, normalized paths that start with
 * one of `count` prefixes (count 0: every path); relative or unnormalized paths always pass,
 * since only user space can resolve them. Connect records are made only for the destination
 * ports in `connect_ports`, when it has any. */
#define KR_PORTS 64 /* destination ports of the connect filter */

struct kr_prefix {
  __u32 len;
  __u32 insensitive; /* 1: bytes are lower case, and ASCII letters of the path are folded */
  char bytes[KR_PREFIX_MAX];
};

/* Record types; bit `type` of the interest mask enables one. */
enum kr_type {
  KR_EXEC = 1,
  KR_FORK = 2,
  KR_EXIT = 3,
  KR_OPEN = 4,    /* open, openat, openat2, creat */
  KR_RENAME = 5,  /* rename, renameat, renameat2 */
  KR_UNLINK = 6,  /* unlink, unlinkat, rmdir */
  KR_CHMOD = 7,   /* chmod, fchmod, fchmodat */
  KR_CHOWN = 8,   /* chown, lchown, fchown, fchownat */
  KR_CONNECT = 9,
  KR_ACCEPT = 10, /* accept, accept4 */
  KR_BIND = 11,
  KR_LISTEN = 12,
  KR_SETUID = 13, /* setuid, setreuid, setresuid */
  KR_SETGID = 14, /* setgid, setregid, setresgid */
  KR_CAPSET = 15,
  KR_PTRACE = 16,
  KR_MEMFD = 17,  /* memfd_create */
  KR_CHDIR = 18,  /* chdir, fchdir: no event; keeps the process table's working directory */
  KR_TYPE_COUNT = 19,
};

/* The task a record is about (for fork: the parent). Times are CLOCK_BOOTTIME ns. */
struct kr_task {
  __u32 pid;  /* tgid */
  __u32 tid;
  __u32 ppid; /* real parent's tgid */
  __u32 uid, gid, euid, egid;
  __u32 pad;
  __u64 start_ns;        /* the process's (group leader's) start time */
  __u64 parent_start_ns; /* the real parent's */
  char comm[KR_COMM_MAX];
};

struct kr_header {
  __u16 type; /* enum kr_type */
  __u16 size; /* bytes of the whole record */
  __u32 cpu;
  __u64 ktime_ns; /* bpf_ktime_get_boot_ns() when the record was made */
  struct kr_task task;
};

/* An executable path, NUL-padded: the key of the kill_execs map. */
struct kr_path {
  char bytes[KR_PATH_MAX];
};

struct kr_exec {
  struct kr_header h;
  __u32 argc;       /* arguments copied into args */
  __u32 args_len;   /* bytes of args used */
  __u32 truncated;  /* 1: argv was longer than KR_ARGS_MAX */
  __u32 killed;     /* 1: a kill rule pushed into kill_execs matched; SIGKILL was sent */
  char filename[KR_PATH_MAX];
  char args[KR_ARGS_MAX];
};

struct kr_fork {
  struct kr_header h; /* the parent */
  __u32 child_pid;
  __u32 pad;
  __u64 child_start_ns;
};

struct kr_exit {
  struct kr_header h;
  __s32 exit_code; /* as wait(2) reports it: status << 8 | signal */
  __u32 pad;
};

struct kr_sockaddr {
  __u16 family; /* AF_INET 2, AF_INET6 10; 0 when unknown */
  __u16 port;   /* host order */
  __u8 addr[16];
};

/* A system call, recorded at its exit with the arguments read at its entry. */
struct kr_syscall {
  struct kr_header h;
  __u32 nr;         /* the architecture's system call number */
  __u16 sock_type;  /* network calls: SOCK_STREAM 1, SOCK_DGRAM 2, ...; 0 when unknown */
  __u16 protocol;   /* network calls: IPPROTO_TCP 6, IPPROTO_UDP 17, ...; 0 when unknown */
  __s64 ret; /* the result: >= 0, or -errno */
  __s64 args[6];
  struct kr_sockaddr addr; /* connect / bind: the address; accept: the peer; listen: the local address */
  char path[KR_PATH_MAX];  /* the first path argument (rename: the old path); memfd: its name */
  char path2[KR_PATH_MAX]; /* rename: the new path */
};

/* NOLINTEND(readability-identifier-naming) */

#endif
