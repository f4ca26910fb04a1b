/* Maps shared by Kestrel's enforcement programs (enforce.bpf.c) and user space
 * (kernel_guard.cpp). docs/response.md. */
#ifndef KESTREL_ENFORCE_H
#define KESTREL_ENFORCE_H

/* NOLINTBEGIN(readability-identifier-naming): C names, as on the BPF side */
#define KE_PATH_MAX 256

/* A destination: IPv6 bytes (IPv4 as ::ffff:a.b.c.d) and port, host order. */
struct ke_endpoint {
  __u8 addr[16];
  __u16 port;
  __u16 pad;
};

/* An executable path, NUL-padded (exec deny on the BPF-LSM path). */
struct ke_path {
  char bytes[KE_PATH_MAX];
};

/* NOLINTEND(readability-identifier-naming) */

#endif
