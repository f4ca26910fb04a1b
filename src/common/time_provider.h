// The only way detection code learns the time. Live runs use the system clocks; replay and tests
// use MockTimeProvider, driven by the events' own timestamps, so results never depend on when
// they are computed.
#pragma once

#include <cstdint>

namespace kestrel {

class TimeProvider {
 public:
  virtual ~TimeProvider() = default;
  virtual uint64_t MonotonicNs() const = 0;  // CLOCK_MONOTONIC (or boot-based in BPF records)
  virtual uint64_t WallNs() const = 0;       // ns since the Unix epoch
};

class RealTimeProvider final : public TimeProvider {
 public:
  uint64_t MonotonicNs() const override;
  uint64_t WallNs() const override;
};

class MockTimeProvider final : public TimeProvider {
 public:
  MockTimeProvider(uint64_t mono_ns = 0, uint64_t wall_ns = 0) : mono_ns_(mono_ns), wall_ns_(wall_ns) {}
  uint64_t MonotonicNs() const override { return mono_ns_; }
  uint64_t WallNs() const override { return wall_ns_; }
  void Set(uint64_t mono_ns, uint64_t wall_ns) {
    mono_ns_ = mono_ns;
    wall_ns_ = wall_ns;
  }
  void Advance(uint64_t ns) {
    mono_ns_ += ns;
    wall_ns_ += ns;
  }

 private:
  uint64_t mono_ns_;
  uint64_t wall_ns_;
};

}  // namespace kestrel
