// Helpers shared by the .klog tests: the format encoded by hand from docs/klog-format.md
// (independently of the implementation), CRC forging, and reading a file whole.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>
#include <zstd.h>

#include <cctype>
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/crc32c.h"
#include "event/event_builder.h"
#include "event/klog.h"
#include "event/test_files.h"

namespace kestrel::testing {

// ---- Files -------------------------------------------------------------------------------

inline std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void WriteBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  ::unlink(path.c_str());  // a new inode: truncating a file in place is slow on ext4
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

// ---- The format, encoded from docs/klog-format.md independently of the implementation ------

struct Bytes {
  std::vector<uint8_t> b;
  Bytes& U8(uint8_t v) { return Put(v, 1); }
  Bytes& U16(uint16_t v) { return Put(v, 2); }
  Bytes& U32(uint32_t v) { return Put(v, 4); }
  Bytes& U64(uint64_t v) { return Put(v, 8); }
  Bytes& Raw(std::string_view s) {
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& Append(const Bytes& other) {
    b.insert(b.end(), other.b.begin(), other.b.end());
    return *this;
  }
  Bytes& Put(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  size_t size() const { return b.size(); }
};

inline uint32_t GetU32(const std::vector<uint8_t>& b, size_t at) {
  return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (uint32_t{b[at + 3]} << 24);
}
inline void SetU32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

inline Bytes FileHeader(uint16_t version = 2) {
  Bytes h;
  h.Raw("KESTRLOG").U16(version).U16(0);
  return h.U32(Crc32c(h.b.data(), 12));
}

// Appends a block; `stored` is the payload as stored (compressed or not).
inline void AppendBlock(Bytes& file, uint8_t kind, uint8_t compression, uint32_t count,
                        const Bytes& stored, uint32_t raw_size) {
  Bytes h;
  h.Raw("KBLK").U8(kind).U8(compression).U16(0).U32(count).U32(raw_size).U32(stored.size());
  h.U32(Crc32c(stored.b.data(), stored.size()));
  h.U32(Crc32c(h.b.data(), 24));
  file.Append(h).Append(stored);
}
inline void AppendBlock(Bytes& file, uint8_t kind, uint32_t count, const Bytes& payload) {
  AppendBlock(file, kind, 0, count, payload, payload.size());
}
inline void AppendZstdBlock(Bytes& file, uint8_t kind, uint32_t count, const Bytes& payload) {
  std::vector<uint8_t> out(ZSTD_compressBound(payload.size()));
  size_t n = ZSTD_compress(out.data(), out.size(), payload.b.data(), payload.size(), 3);
  ASSERT_FALSE(ZSTD_isError(n));
  out.resize(n);
  AppendBlock(file, kind, 1, count, Bytes{out}, payload.size());
}

inline Bytes FieldEntry(uint32_t id, ValueKind kind, bool is_array, std::string_view name) {
  Bytes e;
  e.U8(1).U32(id).U8(static_cast<uint8_t>(kind)).U8(is_array).U16(name.size()).Raw(name);
  return e;
}
inline Bytes TypeEntry(uint32_t id, std::string_view name) {
  Bytes e;
  e.U8(2).U32(id).U16(name.size()).Raw(name);
  return e;
}
// An events block payload: value entries, shapes, heap and records, laid out at Build().
struct EventsPayload {
  uint8_t index_bytes = 4;
  std::vector<Bytes> values;  // 16-byte entries
  std::vector<Bytes> shapes;
  Bytes heap;
  struct Rec {
    uint16_t type, shape;
    std::vector<uint32_t> indices;
  };
  std::vector<Rec> records;
  Bytes trailer;  // bytes after the records

  EventsPayload& Entry(ValueKind kind, uint64_t bits, uint32_t size = 0, uint8_t reserved = 0) {
    Bytes e;
    e.U64(bits).U32(size).U8(static_cast<uint8_t>(kind)).U8(reserved).U16(0);
    values.push_back(e);
    return *this;
  }
  EventsPayload& String(std::string_view s) {
    Entry(ValueKind::kString, heap.size(), static_cast<uint32_t>(s.size()));
    heap.Raw(s);
    return *this;
  }
  EventsPayload& Shape(std::vector<uint32_t> file_ids) {
    Bytes sh;
    sh.U16(static_cast<uint16_t>(file_ids.size()));
    for (uint32_t id : file_ids) sh.U32(id);
    shapes.push_back(sh);
    return *this;
  }
  // A record with timestamps 1 and 2, event_id 3, entity_key 4.
  EventsPayload& Record(uint16_t type, uint16_t shape, std::vector<uint32_t> indices) {
    records.push_back({type, shape, std::move(indices)});
    return *this;
  }

  size_t ValueOffset(size_t i) const { return 16 + 16 * i; }
  size_t ShapeOffset(size_t s) const {
    size_t at = ValueOffset(values.size());
    for (size_t k = 0; k < s; ++k) at += shapes[k].size();
    return at;
  }
  size_t RecordOffset(size_t r) const {
    size_t at = ShapeOffset(shapes.size()) + heap.size();
    for (size_t k = 0; k < r; ++k) at += 36 + index_bytes * records[k].indices.size();
    return at;
  }

  Bytes Build() const {
    Bytes p;
    p.U32(values.size()).U32(shapes.size()).U32(heap.size()).U8(index_bytes).U8(0).U16(0);
    for (const Bytes& v : values) p.Append(v);
    for (const Bytes& sh : shapes) p.Append(sh);
    p.Append(heap);
    for (const Rec& r : records) {
      p.U16(r.type).U16(r.shape).U64(1).U64(2).U64(3).U64(4);
      for (uint32_t i : r.indices) p.Put(i, index_bytes);
    }
    return p.Append(trailer);
  }
};

// Recomputes the file header CRC and the CRCs of every block that can be walked by its sizes.
inline void FixCrcs(std::vector<uint8_t>& f) {
  if (f.size() >= 16) SetU32(f, 12, Crc32c(f.data(), 12));
  for (size_t pos = 16; pos + 28 <= f.size();) {
    uint32_t stored = GetU32(f, pos + 16);
    bool fits = stored <= f.size() - pos - 28;
    if (fits) SetU32(f, pos + 20, Crc32c(f.data() + pos + 28, stored));
    SetU32(f, pos + 24, Crc32c(f.data() + pos, 24));
    if (!fits) break;
    pos += 28 + stored;
  }
}

// Stores `v` (1 or 4 bytes) at `at`, then forges the CRCs so that only the value is wrong.
inline void Forge(std::vector<uint8_t>& f, size_t at, uint32_t v, int width = 1) {
  if (width == 4) {
    SetU32(f, at, v);
  } else {
    f[at] = static_cast<uint8_t>(v);
  }
  FixCrcs(f);
}

struct BlockInfo {
  size_t offset, end;
  uint8_t kind, compression;
  uint32_t count, raw_size;
  size_t first_event;  // index of the block's first event among all events
};

// Walks a well-formed file.
inline std::vector<BlockInfo> ListBlocks(const std::vector<uint8_t>& f) {
  std::vector<BlockInfo> blocks;
  size_t events = 0;
  for (size_t pos = 16; pos < f.size();) {
    BlockInfo b{pos,
                pos + 28 + GetU32(f, pos + 16),
                f[pos + 4],
                f[pos + 5],
                GetU32(f, pos + 8),
                GetU32(f, pos + 12),
                events};
    if (b.kind == 2) events += b.count;
    blocks.push_back(b);
    pos = b.end;
  }
  return blocks;
}

// ---- Writing and reading -----------------------------------------------------------------

inline Status WriteEvents(const std::string& path, const EventBatch& batch,
                          const SchemaRegistry& registry, const WriteOptions& options) {
  KESTREL_ASSIGN_OR_RETURN(auto output, OutputFile::Open(path));
  KESTREL_ASSIGN_OR_RETURN(auto writer, OpenKlogWriter(std::move(output), options, &registry));
  for (const Event& e : batch) KESTREL_TRY(writer->Write(e));
  KESTREL_TRY(writer->Close());
  if (writer->events_written() != batch.size()) return MakeError(ErrorCode::kInternal, "count");
  return Ok();
}

struct ReadOutcome {
  EventBatch events;  // deep copies, valid after the reader is gone
  ReadStats stats;
  std::optional<Error> error;
};

inline ReadOutcome ReadAll(const std::string& path, SchemaRegistry& registry,
                           bool skip_bad = false) {
  ReadOutcome out;
  auto input = InputFile::Open(path);
  if (!input) {
    out.error = input.error();
    return out;
  }
  ReadOptions options;
  options.skip_bad = skip_bad;
  auto reader = OpenKlogReader(std::move(*input), options, &registry);
  if (!reader) {
    out.error = reader.error();
    return out;
  }
  EventBuilder copier(&out.events.arena());
  static EventBatch batch;  // reused: its arena's blocks are recycled across reads
  for (;;) {
    Result<bool> more = (*reader)->Next(batch);
    if (!more) {
      out.error = more.error();
      break;
    }
    if (!*more) break;
    for (const Event& e : batch) out.events.Add(copier.Copy(e));
  }
  out.stats = (*reader)->stats();
  return out;
}

// The offset of an error located "path:OFFSET: ...", or -1 if it does not have that form.
inline int64_t ErrorOffset(const Error& error, const std::string& path) {
  std::string s = error.ToString();
  if (s.rfind(path + ":", 0) != 0) return -1;
  size_t i = path.size() + 1;
  size_t digits = 0;
  while (i + digits < s.size() && std::isdigit(static_cast<unsigned char>(s[i + digits]))) ++digits;
  if (digits == 0 || s.compare(i + digits, 2, ": ") != 0) return -1;
  return std::stoll(s.substr(i, digits));
}

inline WriteOptions Options(Compression compression, size_t block_bytes) {
  WriteOptions options;
  options.compression = compression;
  options.block_bytes = block_bytes;
  return options;
}

}  // namespace kestrel::testing
