// CRC-32C (Castagnoli), as used by .klog blocks. Hardware-accelerated on x86-64 with SSE4.2.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kestrel {

// Extends `crc` (0 for a fresh checksum) over `data`.
uint32_t Crc32c(const void* data, size_t size, uint32_t crc = 0);

}  // namespace kestrel
