#include "enforce/kernel_guard.h"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <vector>

#ifdef KESTREL_HAVE_EBPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "enforce.h"
#include "enforce.skel.h"
#endif

namespace kestrel::enforce {

namespace {
std::string Errno(int err) { return fmt::format("{} ({})", std::strerror(err < 0 ? -err : err), err < 0 ? -err : err); }
}  // namespace

#ifndef KESTREL_HAVE_EBPF

struct KernelGuard::Impl {};
KernelGuard::~KernelGuard() = default;
std::string KernelGuard::ProbeLsm() { return "this kestrel was built without BPF: " KESTREL_EBPF_MISSING; }
Result<std::unique_ptr<KernelGuard>> KernelGuard::Open(const GuardOptions&) {
  return MakeError(ErrorCode::kUnsupported, "this kestrel was built without BPF: " KESTREL_EBPF_MISSING);
}
Status KernelGuard::DenyPort(uint16_t, uint32_t) { return Ok(); }
Status KernelGuard::DenyEndpoint(const IpAddress&, uint16_t, uint32_t) { return Ok(); }
Status KernelGuard::DenyAddress(const IpAddress&, uint32_t) { return Ok(); }
Status KernelGuard::DenyExec(const std::string&, uint32_t) { return Ok(); }
Status KernelGuard::DenyOpen(const std::string&, uint32_t) { return Ok(); }
Status KernelGuard::ArmConnect(uint32_t, uint32_t) { return Ok(); }
Status KernelGuard::ArmExec(uint32_t, uint32_t) { return Ok(); }
void KernelGuard::Disarm(uint32_t) {}
Status KernelGuard::Exempt(uint32_t) { return Ok(); }
void KernelGuard::Unexempt(uint32_t) {}
uint64_t KernelGuard::Denied(uint32_t) const { return 0; }

#else

struct KernelGuard::Impl {
  enforce_bpf* skel = nullptr;
  std::vector<bpf_link*> links;
  int cgroup_fd = -1;
  ~Impl() {
    for (bpf_link* l : links) bpf_link__destroy(l);
    if (cgroup_fd >= 0) close(cgroup_fd);
    if (skel != nullptr) enforce_bpf__destroy(skel);
  }
};

KernelGuard::~KernelGuard() = default;

namespace {

// Quiet libbpf while probing: a refusal is an answer, not an error to print.
int Silent(enum libbpf_print_level, const char*, va_list) { return 0; }

void SetAutoload(enforce_bpf* skel, bool lsm, bool file_open = true) {
  bpf_program__set_autoload(skel->progs.lsm_connect, lsm);
  bpf_program__set_autoload(skel->progs.lsm_exec, lsm);
  bpf_program__set_autoload(skel->progs.lsm_file_open, lsm && file_open);
  bpf_program__set_autoload(skel->progs.deny_connect4, !lsm);
  bpf_program__set_autoload(skel->progs.deny_connect6, !lsm);
}

}  // namespace

std::string KernelGuard::ProbeLsm() {
  libbpf_print_fn_t old = libbpf_set_print(Silent);
  std::string why;
  enforce_bpf* skel = enforce_bpf__open();
  if (skel == nullptr) {
    why = fmt::format("cannot open the BPF object: {}", Errno(-errno));
  } else {
    SetAutoload(skel, true);
    bpf_program__set_autoload(skel->progs.lsm_exec, false);  // one program answers for all
    bpf_program__set_autoload(skel->progs.lsm_file_open, false);
    if (int err = enforce_bpf__load(skel); err != 0) {
      why = fmt::format("the kernel refused a BPF-LSM program: {}", Errno(err));
    } else if (bpf_link* link = bpf_program__attach_lsm(skel->progs.lsm_connect); link == nullptr) {
      why = fmt::format("the kernel refused to attach a BPF-LSM program: {}", Errno(-errno));
    } else {
      bpf_link__destroy(link);
    }
    enforce_bpf__destroy(skel);
  }
  libbpf_set_print(old);
  return why;
}

Result<std::unique_ptr<KernelGuard>> KernelGuard::Open(const GuardOptions& options) {
  std::unique_ptr<KernelGuard> guard(new KernelGuard());
  guard->impl_ = std::make_unique<Impl>();
  Impl& im = *guard->impl_;
  guard->lsm_ = options.lsm;
  if (!options.lsm && options.cgroup.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "no cgroup to attach the connect programs to (--enforce-cgroup)");
  }
  im.skel = enforce_bpf__open();
  if (im.skel == nullptr) return MakeError(ErrorCode::kUnsupported, fmt::format("cannot open the enforcement programs: {}", Errno(-errno)));
  SetAutoload(im.skel, options.lsm);
  int err = enforce_bpf__load(im.skel);
  if (err != 0 && options.lsm) {
    // file_open needs bpf_d_path, which some kernels refuse there: without it, opens are left to
    // the fanotify responder.
    enforce_bpf__destroy(im.skel);
    im.skel = enforce_bpf__open();
    if (im.skel == nullptr) return MakeError(ErrorCode::kUnsupported, fmt::format("cannot open the enforcement programs: {}", Errno(-errno)));
    SetAutoload(im.skel, true, false);
    err = enforce_bpf__load(im.skel);
  } else {
    guard->lsm_file_open_ = options.lsm;
  }
  if (err != 0) {
    return MakeError(ErrorCode::kUnsupported, fmt::format("the kernel refused Kestrel's enforcement programs: {}", Errno(err)));
  }
  auto attach = [&](bpf_program* prog, const char* what) -> Status {
    bpf_link* link = options.lsm ? bpf_program__attach_lsm(prog) : bpf_program__attach_cgroup(prog, im.cgroup_fd);
    if (link == nullptr) {
      return MakeError(ErrorCode::kUnsupported, fmt::format("cannot attach {}: {}", what, Errno(-errno)));
    }
    im.links.push_back(link);
    return Ok();
  };
  if (options.lsm) {
    KESTREL_TRY(attach(im.skel->progs.lsm_connect, "lsm/socket_connect"));
    KESTREL_TRY(attach(im.skel->progs.lsm_exec, "lsm/bprm_check_security"));
    if (guard->lsm_file_open_) KESTREL_TRY(attach(im.skel->progs.lsm_file_open, "lsm/file_open"));
    guard->connect_mechanism_ = "bpf_lsm socket_connect (every process)";
  } else {
    im.cgroup_fd = open(options.cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (im.cgroup_fd < 0) {
      return MakeError(ErrorCode::kIo, fmt::format("cannot open cgroup {}: {}", options.cgroup, Errno(-errno)));
    }
    KESTREL_TRY(attach(im.skel->progs.deny_connect4, fmt::format("cgroup/connect4 to {}", options.cgroup).c_str()));
    KESTREL_TRY(attach(im.skel->progs.deny_connect6, fmt::format("cgroup/connect6 to {}", options.cgroup).c_str()));
    guard->connect_mechanism_ = fmt::format("cgroup connect4/connect6 (processes in {})", options.cgroup);
  }
  return guard;
}

namespace {
Status Update(bpf_map* map, const void* key, size_t key_size, const void* value, size_t value_size, const char* what) {
  if (int err = bpf_map__update_elem(map, key, key_size, value, value_size, 0); err != 0) {
    return MakeError(ErrorCode::kIo, fmt::format("cannot update the {} map: {}", what, Errno(err)));
  }
  return Ok();
}
}  // namespace

Status KernelGuard::DenyPort(uint16_t port, uint32_t rule) {
  return Update(impl_->skel->maps.deny_ports, &port, sizeof port, &rule, sizeof rule, "deny_ports");
}

Status KernelGuard::DenyEndpoint(const IpAddress& ip, uint16_t port, uint32_t rule) {
  ke_endpoint e{};
  std::memcpy(e.addr, ip.bytes, 16);
  e.port = port;
  return Update(impl_->skel->maps.deny_endpoints, &e, sizeof e, &rule, sizeof rule, "deny_endpoints");
}

Status KernelGuard::DenyAddress(const IpAddress& ip, uint32_t rule) {
  ke_endpoint e{};
  std::memcpy(e.addr, ip.bytes, 16);
  return Update(impl_->skel->maps.deny_addresses, &e, sizeof e, &rule, sizeof rule, "deny_addresses");
}

Status KernelGuard::DenyExec(const std::string& path, uint32_t rule) {
  ke_path key{};
  if (path.size() >= sizeof key.bytes) return MakeError(ErrorCode::kInvalidArgument, fmt::format("path too long: {}", path));
  std::memcpy(key.bytes, path.data(), path.size());
  return Update(impl_->skel->maps.deny_execs, &key, sizeof key, &rule, sizeof rule, "deny_execs");
}

Status KernelGuard::DenyOpen(const std::string& path, uint32_t rule) {
  ke_path key{};
  if (path.size() >= sizeof key.bytes) return MakeError(ErrorCode::kInvalidArgument, fmt::format("path too long: {}", path));
  std::memcpy(key.bytes, path.data(), path.size());
  return Update(impl_->skel->maps.deny_files, &key, sizeof key, &rule, sizeof rule, "deny_files");
}

Status KernelGuard::ArmConnect(uint32_t tgid, uint32_t rule) {
  return Update(impl_->skel->maps.armed_connect, &tgid, sizeof tgid, &rule, sizeof rule, "armed_connect");
}

Status KernelGuard::ArmExec(uint32_t tgid, uint32_t rule) {
  return Update(impl_->skel->maps.armed_exec, &tgid, sizeof tgid, &rule, sizeof rule, "armed_exec");
}

void KernelGuard::Disarm(uint32_t tgid) {
  bpf_map__delete_elem(impl_->skel->maps.armed_connect, &tgid, sizeof tgid, 0);
  bpf_map__delete_elem(impl_->skel->maps.armed_exec, &tgid, sizeof tgid, 0);
}

Status KernelGuard::Exempt(uint32_t tgid) {
  uint8_t one = 1;
  return Update(impl_->skel->maps.exempt, &tgid, sizeof tgid, &one, sizeof one, "exempt");
}

void KernelGuard::Unexempt(uint32_t tgid) { bpf_map__delete_elem(impl_->skel->maps.exempt, &tgid, sizeof tgid, 0); }

uint64_t KernelGuard::Denied(uint32_t kind) const {
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return 0;
  std::vector<uint64_t> per_cpu(static_cast<size_t>(cpus));
  if (bpf_map__lookup_elem(impl_->skel->maps.denied, &kind, sizeof kind, per_cpu.data(),
                           per_cpu.size() * sizeof(uint64_t), 0) != 0) {
    return 0;
  }
  uint64_t total = 0;
  for (uint64_t n : per_cpu) total += n;
  return total;
}

#endif

}  // namespace kestrel::enforce
