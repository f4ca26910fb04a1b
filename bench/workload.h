// A deterministic synthetic ECS workload: a Linux host's process, file and network events
// with realistic shapes and sizes (about 600 bytes of NDJSON per event).
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace kestrel::bench {

// Writes `events` events as ECS NDJSON to `path`.
Status WriteWorkloadNdjson(const std::string& path, uint64_t events, uint64_t seed = 1);

// Returns the path of a cached workload file of `events` events in `format` ("ndjson", "klog",
// "klog.zst"), creating it (under $KESTREL_BENCH_DIR or /tmp) on first use.
Result<std::string> CachedWorkload(uint64_t events, const std::string& format);

}  // namespace kestrel::bench
