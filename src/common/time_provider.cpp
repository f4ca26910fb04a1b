#include "common/time_provider.h"

#include <ctime>

namespace kestrel {
namespace {

uint64_t ReadClock(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

uint64_t RealTimeProvider::MonotonicNs() const { return ReadClock(CLOCK_MONOTONIC); }
uint64_t RealTimeProvider::WallNs() const { return ReadClock(CLOCK_REALTIME); }

}  // namespace kestrel
