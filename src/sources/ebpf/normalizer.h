// Normalizer: a ring buffer record (bpf/records.h) becomes an ECS event: event.category / type /
// action / outcome, process.* and process.parent.* (from the record and the process table),
// user.*, file.*, source.* / destination.* / network.*. Event headers: event_id counts from 1;
// ts_wall_ns is the record's boot-time clock plus the boot-to-wall offset; ts_mono_ns is the
// boot-time clock, raised where needed so that it never goes back: records from different CPUs
// reach the ring slightly out of order, and the order Kestrel processes them in must be the
// (ts_mono_ns, event_id) order a replay of the recording sorts by (docs/live.md).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "event/event.h"
#include "event/event_builder.h"
#include "schema/schema_registry.h"
#include "sources/ebpf/process_table.h"

namespace kestrel::ebpf {

struct NormalizerStats {
  uint64_t events = 0;
  uint64_t malformed = 0;  // records too short or of an unknown type
  uint64_t internal = 0;   // records that only update the process table (chdir)
  uint64_t reordered = 0;  // records whose clock was behind an earlier one's (ts_mono_ns raised)
  std::array<uint64_t, 32> by_type{};  // by record type
};

class Normalizer {
 public:
  // `boot_to_wall_ns`: CLOCK_REALTIME - CLOCK_BOOTTIME, measured at start-up.
  Normalizer(SchemaRegistry& registry, ProcessTable& processes, int64_t boot_to_wall_ns);

  // The event of `record`, built with `b` (whose arena must outlive it); nullopt for a
  // malformed record (counted). Fork, exec and exit records also update the process table.
  std::optional<Event> Normalize(std::span<const uint8_t> record, EventBuilder& b);

  // An `already_running` event (event.type info, as Elastic's endpoint reports a process it found
  // at start-up) for a process of the table, stamped now. Emitted for every process seeded from
  // /proc, so that a recording holds the processes its lineage starts from.
  Event AlreadyRunning(const ProcessInfo& p, EventBuilder& b);

  const NormalizerStats& stats() const { return stats_; }
  // Without the system call programs no chdir is seen: an exec then takes its working directory
  // from /proc while the process lives (else the one it inherited).
  void set_cwd_from_proc(bool on) { cwd_from_proc_ = on; }

  // CLOCK_REALTIME - CLOCK_BOOTTIME now.
  static int64_t BootToWallNow();

 private:
  struct Fields;
  void SetStrings(EventBuilder& b, FieldId id, std::initializer_list<std::string_view> values);
  void SetProcess(EventBuilder& b, const ProcessInfo& p, bool parent);
  void SetHost(EventBuilder& b);  // host.os.type, host.name, host.id, host.os.kernel, host.architecture
  // Starts an event at boot-time clock `ktime_ns`: header, @timestamp, event.kind.
  EventHeader& Begin(EventBuilder& b, uint64_t ktime_ns);
  // What every event ends with: its process and its parent (pid 0: none), the user ids, host.*,
  // event.category and the header's type and entity key; counted as an event of `record_type`.
  Event Complete(EventBuilder& b, std::string_view category, const ProcessInfo& process, const ProcessInfo& parent,
                 uint32_t uid, uint32_t gid, std::optional<uint32_t> euid, uint16_t record_type);
  // A system call's path argument made absolute: against the process's working directory, or
  // the directory `dirfd` is open on (read from /proc while the process lives); as given when
  // neither is known.
  std::string Absolute(const ProcessInfo* p, uint32_t pid, int64_t dirfd, std::string_view path) const;

  SchemaRegistry& registry_;
  ProcessTable& processes_;
  int64_t boot_to_wall_ns_;
  std::shared_ptr<const Fields> f_;
  std::optional<EventTypeId> types_[3];  // process, file, network
  uint64_t last_mono_ = 0;
  bool cwd_from_proc_ = false;
  std::string host_name_, host_id_, kernel_;
  uint64_t next_id_ = 1;
  NormalizerStats stats_;
};

}  // namespace kestrel::ebpf
