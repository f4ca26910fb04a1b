// Internals shared by the .klog reader and writer: the layout of docs/klog-format.md and
// little-endian load/store helpers. Not part of the event module's public API.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "common/crc32c.h"

namespace kestrel::klog {

inline constexpr size_t kFileHeaderSize = 16;  // magic[8] u16 version u16 reserved u32 crc
inline constexpr size_t kFileHeaderCrcOffset = 12;
inline constexpr size_t kBlockHeaderSize = 28;
inline constexpr size_t kBlockHeaderCrcOffset = 24;
inline constexpr char kBlockMagic[4] = {'K', 'B', 'L', 'K'};

enum class BlockKind : uint8_t { kSchema = 1, kEvents = 2 };
enum class BlockCompression : uint8_t { kNone = 0, kZstd = 1 };
enum class EntryKind : uint8_t { kField = 1, kEventType = 2 };

// Largest raw payload of one block: what a reader is willing to decompress, and what the writer
// keeps its blocks under.
inline constexpr uint32_t kMaxBlockRawSize = 64u << 20;
// Arrays nest at most this deep: a top-level array is level 1.
inline constexpr int kMaxArrayDepth = 8;

// An events block's payload starts with u32 value_count u32 shape_count u32 heap_size
// u8 index_bytes u8 reserved[3].
inline constexpr size_t kEventsPayloadHeaderSize = 16;
// A value entry: u64 bits u32 size u8 kind u8 reserved[3].
inline constexpr size_t kValueEntrySize = 16;
// A record: u16 event_type u16 shape and four u64 (36 bytes), then the value indices.
inline constexpr size_t kRecordHeaderSize = 36;
inline constexpr size_t kMinRecordSize = kRecordHeaderSize;
// The smallest schema entry: an event type with an empty name (u8 kind u32 id u16 len).
inline constexpr size_t kMinSchemaEntrySize = 1 + 4 + 2;
// Record ids of event types are u16.
inline constexpr uint32_t kMaxFileEventTypes = 1u << 16;

template <class T>
T LoadLe(const uint8_t* p) {
  static_assert(std::is_unsigned_v<T>);
  T v;
  std::memcpy(&v, p, sizeof(T));
  if constexpr (std::endian::native == std::endian::big && sizeof(T) > 1) {
    if constexpr (sizeof(T) == 2) v = __builtin_bswap16(v);
    if constexpr (sizeof(T) == 4) v = __builtin_bswap32(v);
    if constexpr (sizeof(T) == 8) v = __builtin_bswap64(v);
  }
  return v;
}

template <class T>
void StoreLe(uint8_t* p, T v) {
  static_assert(std::is_unsigned_v<T>);
  if constexpr (std::endian::native == std::endian::big && sizeof(T) > 1) {
    if constexpr (sizeof(T) == 2) v = __builtin_bswap16(v);
    if constexpr (sizeof(T) == 4) v = __builtin_bswap32(v);
    if constexpr (sizeof(T) == 8) v = __builtin_bswap64(v);
  }
  std::memcpy(p, &v, sizeof(T));
}

template <class T>
void AppendLe(std::vector<uint8_t>& out, T v) {
  size_t n = out.size();
  out.resize(n + sizeof(T));
  StoreLe<T>(out.data() + n, v);
}

inline void AppendBytes(std::vector<uint8_t>& out, const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  out.insert(out.end(), p, p + size);
}

struct BlockHeader {
  uint8_t kind = 0;
  uint8_t compression = 0;
  uint16_t reserved = 0;
  uint32_t count = 0;
  uint32_t raw_size = 0;
  uint32_t stored_size = 0;
  uint32_t payload_crc = 0;
  uint32_t header_crc = 0;
};

// Decodes the 28 bytes at `p` without checking anything.
inline BlockHeader LoadBlockHeader(const uint8_t* p) {
  BlockHeader h;
  h.kind = p[4];
  h.compression = p[5];
  h.reserved = LoadLe<uint16_t>(p + 6);
  h.count = LoadLe<uint32_t>(p + 8);
  h.raw_size = LoadLe<uint32_t>(p + 12);
  h.stored_size = LoadLe<uint32_t>(p + 16);
  h.payload_crc = LoadLe<uint32_t>(p + 20);
  h.header_crc = LoadLe<uint32_t>(p + 24);
  return h;
}

// Encodes `h` into 28 bytes at `out`, computing the header CRC (h.header_crc is ignored).
inline void StoreBlockHeader(const BlockHeader& h, uint8_t* out) {
  std::memcpy(out, kBlockMagic, 4);
  out[4] = h.kind;
  out[5] = h.compression;
  StoreLe<uint16_t>(out + 6, h.reserved);
  StoreLe<uint32_t>(out + 8, h.count);
  StoreLe<uint32_t>(out + 12, h.raw_size);
  StoreLe<uint32_t>(out + 16, h.stored_size);
  StoreLe<uint32_t>(out + 20, h.payload_crc);
  StoreLe<uint32_t>(out + 24, Crc32c(out, kBlockHeaderCrcOffset));
}

// True when the 28 bytes at `p` start with "KBLK" and carry a matching header CRC.
inline bool IsBlockHeader(const uint8_t* p) {
  return std::memcmp(p, kBlockMagic, 4) == 0 &&
         LoadLe<uint32_t>(p + kBlockHeaderCrcOffset) == Crc32c(p, kBlockHeaderCrcOffset);
}

}  // namespace kestrel::klog
