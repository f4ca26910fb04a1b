// KernelGuard: Kestrel's enforcement programs (bpf/enforce.bpf.c) loaded and attached, and the
// maps that say what they deny. Connects are denied by cgroup/connect4 and connect6 programs on
// a configured cgroup v2, or by BPF-LSM socket_connect where the kernel allows LSM programs;
// execs by BPF-LSM bprm_check_security (only there: elsewhere the fanotify responder decides).
// Destroying the guard detaches every program and frees every map. docs/response.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "event/ip_address.h"

namespace kestrel::enforce {

struct GuardOptions {
  bool lsm = false;    // the BPF-LSM programs (ProbeLsm() said the kernel takes them)
  std::string cgroup;  // else: the cgroup v2 directory the connect programs attach to
};

class KernelGuard {
 public:
  // "" when this kernel loads and attaches BPF-LSM programs, else why not.
  static std::string ProbeLsm();
  static Result<std::unique_ptr<KernelGuard>> Open(const GuardOptions& options);
  ~KernelGuard();
  KernelGuard(const KernelGuard&) = delete;
  KernelGuard& operator=(const KernelGuard&) = delete;

  // Connects to `port` (any address), or to `ip`:`port`, are denied (rule: for the record).
  Status DenyPort(uint16_t port, uint32_t rule);
  Status DenyEndpoint(const IpAddress& ip, uint16_t port, uint32_t rule);
  Status DenyAddress(const IpAddress& ip, uint32_t rule);  // any port
  // Execs / opens of `path` are denied (the LSM path only; opens only when file_open loaded).
  Status DenyExec(const std::string& path, uint32_t rule);
  Status DenyOpen(const std::string& path, uint32_t rule);
  bool lsm_file_open() const { return lsm_file_open_; }
  // The next connects / execs of process `tgid` are denied, until disarmed.
  Status ArmConnect(uint32_t tgid, uint32_t rule);
  Status ArmExec(uint32_t tgid, uint32_t rule);
  void Disarm(uint32_t tgid);
  // `tgid` is never denied anything (until Unexempt).
  Status Exempt(uint32_t tgid);
  void Unexempt(uint32_t tgid);
  // Operations denied so far: connects, execs.
  uint64_t denied_connects() const { return Denied(0); }
  uint64_t denied_execs() const { return Denied(1); }

  bool lsm() const { return lsm_; }
  // How connects are denied, for the start-up log.
  const std::string& connect_mechanism() const { return connect_mechanism_; }

 private:
  KernelGuard() = default;
  uint64_t Denied(uint32_t kind) const;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool lsm_ = false;
  bool lsm_file_open_ = false;
  std::string connect_mechanism_;
};

}  // namespace kestrel::enforce
