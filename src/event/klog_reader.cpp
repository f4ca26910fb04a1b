// .klog reader: reads one events block per Next() (docs/klog-format.md). This file reads the file
// header, block headers, payloads and schema blocks; an events block's payload is decoded by
// klog_block.cpp. A regular file is read block by block with pread into a reused buffer (cheaper
// than mapping it: the kernel's copy is the only pass over memory, and the CRC and the decoder
// then run on cached bytes); other input is read whole first. Every size and count comes from the
// file, so each is checked against the bytes that remain before it is used; CRCs catch
// accidents, the checks keep forged files from reading out of bounds.
#include "event/klog.h"

#include <fmt/format.h>
#include <zstd.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "event/klog_format.h"
#include "event/klog_block.h"

namespace kestrel {
namespace {

using klog::BlockHeader;
using klog::BlockKind;
using klog::Corrupt;

// Bounds-checked little-endian reads over a schema block's payload.
class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> bytes) : p_(bytes.data()), end_(bytes.data() + bytes.size()) {}

  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

  template <class T>
  bool Read(T& out) {
    if (remaining() < sizeof(T)) return false;
    out = klog::LoadLe<T>(p_);
    p_ += sizeof(T);
    return true;
  }

  bool Take(size_t n, const uint8_t*& out) {
    if (remaining() < n) return false;
    out = p_;
    p_ += n;
    return true;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

// A growable byte buffer that is not zeroed.
class Buffer {
 public:
  uint8_t* Reserve(size_t n) {
    if (capacity_ < n) {
      capacity_ = std::max(n, capacity_ * 2);
      data_ = std::make_unique_for_overwrite<uint8_t[]>(capacity_);
    }
    return data_.get();
  }

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t capacity_ = 0;
};

struct DCtxDeleter {
  void operator()(ZSTD_DCtx* dctx) const { ZSTD_freeDCtx(dctx); }
};

class KlogReader final : public EventReader {
 public:
  KlogReader(std::unique_ptr<InputFile> input, const ReadOptions& options, SchemaRegistry* registry)
      : EventReader(input->path()),
        input_(std::move(input)),
        options_(options),
        registry_(registry) {}

  Status Open();
  Result<bool> Next(EventBatch& batch) override;

 private:
  Error At(uint64_t offset, std::string message, ErrorCode code = ErrorCode::kCorrupt) const {
    return Error(code, std::move(message)).At(path_ + ":" + std::to_string(offset));
  }
  tl::unexpected<Error> Fail(Error error);

  // Exactly n bytes at `offset` (the caller has checked that the file holds them), valid until
  // `buffer` is used again.
  Result<std::span<const uint8_t>> Fetch(uint64_t offset, size_t n, Buffer& buffer);
  Result<BlockHeader> ReadBlockHeader(uint64_t offset);
  Status ReadBlock(const BlockHeader& h, uint64_t offset, EventBatch& batch);
  Result<std::span<const uint8_t>> Payload(const BlockHeader& h, uint64_t offset);
  Status ReadSchemaBlock(const BlockHeader& h, uint64_t offset, std::span<const uint8_t> payload);
  Status ReadSchemaEntry(Cursor& c);
  Status ReadEventsBlock(const BlockHeader& h, uint64_t offset, std::span<const uint8_t> payload,
                         EventBatch& batch);
  // The offset of the first block header at or after `from` whose CRC verifies, or the file size.
  Result<uint64_t> Resync(uint64_t from);

  std::unique_ptr<InputFile> input_;
  ReadOptions options_;
  SchemaRegistry* registry_;
  std::span<const uint8_t> data_;  // the whole input when it is not a regular file
  bool in_memory_ = false;
  uint64_t size_ = 0;
  uint64_t pos_ = klog::kFileHeaderSize;
  std::optional<Error> failed_;  // reading stopped here; Next() keeps returning it

  std::vector<FieldId> file_fields_;     // file field id -> registry id
  std::vector<EventTypeId> file_types_;  // file event type id -> registry id
  std::vector<bool> field_named_;        // registry field id -> some file entry maps to it
  std::vector<bool> type_named_;

  Buffer header_buffer_;
  Buffer stored_;  // the stored payload of the current block
  Buffer raw_;     // its decompressed payload; events point into one of the two until Next()
  klog::BlockScratch scratch_;
  std::unique_ptr<ZSTD_DCtx, DCtxDeleter> dctx_;
};

Status KlogReader::Open() {
  if (input_->is_regular()) {
    size_ = input_->size();
  } else {
    KESTREL_ASSIGN_OR_RETURN(data_, input_->ReadAll());
    in_memory_ = true;
    size_ = data_.size();
  }
  stats_.total_bytes = size_;
  auto n = static_cast<size_t>(std::min<uint64_t>(size_, klog::kFileHeaderSize));
  KESTREL_ASSIGN_OR_RETURN(std::span<const uint8_t> head, Fetch(0, n, header_buffer_));
  const uint8_t* p = head.data();
  if (n > 0 && std::memcmp(p, kKlogMagic, std::min(n, sizeof(kKlogMagic))) != 0) {
    return tl::unexpected(At(0, "not a .klog file (bad magic)"));
  }
  if (n < klog::kFileHeaderSize) {
    return tl::unexpected(
        At(0, fmt::format("truncated file header: {} of {} bytes", n, klog::kFileHeaderSize)));
  }
  // The version comes before the CRC: a later version may lay out (and check) its header anew.
  auto version = klog::LoadLe<uint16_t>(p + 8);
  if (version != kKlogVersion) {
    return tl::unexpected(
        At(8,
           fmt::format("unsupported .klog format version {} (this build reads version {})", version,
                       kKlogVersion),
           ErrorCode::kUnsupportedVersion));
  }
  if (klog::LoadLe<uint32_t>(p + klog::kFileHeaderCrcOffset) !=
      Crc32c(p, klog::kFileHeaderCrcOffset)) {
    return tl::unexpected(At(0, "file header crc mismatch"));
  }
  if (auto reserved = klog::LoadLe<uint16_t>(p + 10); reserved != 0) {
    return tl::unexpected(
        At(0, fmt::format("file header reserved field is {}, expected 0", reserved)));
  }
  pos_ = klog::kFileHeaderSize;
  stats_.bytes = pos_;
  return Ok();
}

tl::unexpected<Error> KlogReader::Fail(Error error) {
  failed_ = error;
  stats_.bytes = pos_;
  return tl::unexpected(std::move(error));
}

Result<bool> KlogReader::Next(EventBatch& batch) {
  batch.Clear();
  if (failed_) return tl::unexpected(*failed_);
  while (pos_ < size_) {
    uint64_t offset = pos_;
    Result<BlockHeader> header = ReadBlockHeader(offset);
    if (!header) {
      // Nothing in a bad header can be trusted, not even its kind or size: look for the next one.
      if (!options_.skip_bad) return Fail(std::move(header).error());
      NoteSkipped(std::move(header).error());
      KESTREL_ASSIGN_OR_RETURN(pos_, Resync(offset + 1));
      continue;
    }
    const BlockHeader& h = *header;
    uint64_t payload_offset = offset + klog::kBlockHeaderSize;
    bool truncated = h.stored_size > size_ - payload_offset;
    Status status =
        truncated
            ? Status(tl::unexpected(
                  At(offset, fmt::format("truncated block: header says {} payload bytes, {} remain",
                                         h.stored_size, size_ - payload_offset))))
            : ReadBlock(h, offset, batch);
    if (!status) {
      // A schema block cannot be skipped: the file ids it defines are used by every later block.
      if (!options_.skip_bad || h.kind != static_cast<uint8_t>(BlockKind::kEvents)) {
        return Fail(std::move(status).error());
      }
      batch.Clear();  // drops the records decoded before the bad one
      NoteSkipped(std::move(status).error());
      // The header is intact, so its count is how many records were lost; NoteSkipped counted one.
      if (h.count > 1) stats_.skipped += h.count - 1;
      // A truncated payload may hide a shorter block (only a forged size gets here): rescan it.
      if (truncated) {
        KESTREL_ASSIGN_OR_RETURN(pos_, Resync(offset + 1));
      } else {
        pos_ = payload_offset + h.stored_size;
      }
      continue;
    }
    pos_ = payload_offset + h.stored_size;
    if (!batch.empty()) {
      stats_.records += batch.size();
      stats_.bytes = pos_;
      return true;
    }
  }
  stats_.bytes = pos_;
  return false;
}

Result<std::span<const uint8_t>> KlogReader::Fetch(uint64_t offset, size_t n, Buffer& buffer) {
  if (in_memory_) return data_.subspan(offset, n);
  uint8_t* bytes = buffer.Reserve(std::max<size_t>(n, 1));
  KESTREL_ASSIGN_OR_RETURN(size_t got, input_->ReadAt(offset, bytes, n));
  if (got != n) {
    // The file shrank after it was opened.
    return tl::unexpected(At(offset, fmt::format("file ended early: read {} of {} bytes", got, n),
                             ErrorCode::kIo));
  }
  return std::span<const uint8_t>(bytes, n);
}

Result<BlockHeader> KlogReader::ReadBlockHeader(uint64_t offset) {
  uint64_t remain = size_ - offset;
  if (remain < klog::kBlockHeaderSize) {
    return tl::unexpected(At(offset, fmt::format("truncated block header: {} of {} bytes", remain,
                                                 klog::kBlockHeaderSize)));
  }
  KESTREL_ASSIGN_OR_RETURN(std::span<const uint8_t> bytes,
                           Fetch(offset, klog::kBlockHeaderSize, header_buffer_));
  const uint8_t* p = bytes.data();
  if (std::memcmp(p, klog::kBlockMagic, sizeof(klog::kBlockMagic)) != 0) {
    return tl::unexpected(At(offset, "bad block magic (expected KBLK)"));
  }
  if (!klog::IsBlockHeader(p)) return tl::unexpected(At(offset, "block header crc mismatch"));
  return klog::LoadBlockHeader(p);
}

Result<uint64_t> KlogReader::Resync(uint64_t from) {
  // Scans in chunks that overlap by a block header, so a header across a chunk edge is seen.
  constexpr size_t kChunk = 1 << 20;
  for (uint64_t start = from; start + klog::kBlockHeaderSize <= size_;
       start += kChunk - klog::kBlockHeaderSize + 1) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, size_ - start));
    KESTREL_ASSIGN_OR_RETURN(std::span<const uint8_t> chunk, Fetch(start, n, stored_));
    const uint8_t* base = chunk.data();
    for (size_t p = 0; p + klog::kBlockHeaderSize <= n; ++p) {
      const void* k = std::memchr(base + p, klog::kBlockMagic[0], n - klog::kBlockHeaderSize + 1 - p);
      if (k == nullptr) break;
      p = static_cast<size_t>(static_cast<const uint8_t*>(k) - base);
      if (klog::IsBlockHeader(base + p)) return start + p;
    }
  }
  return size_;
}

Status KlogReader::ReadBlock(const BlockHeader& h, uint64_t offset, EventBatch& batch) {
  if (h.kind != static_cast<uint8_t>(BlockKind::kSchema) &&
      h.kind != static_cast<uint8_t>(BlockKind::kEvents)) {
    return tl::unexpected(At(offset, fmt::format("unknown block kind {}", h.kind)));
  }
  if (h.compression > static_cast<uint8_t>(klog::BlockCompression::kZstd)) {
    return tl::unexpected(At(offset, fmt::format("unknown block compression {}", h.compression)));
  }
  if (h.reserved != 0) {
    return tl::unexpected(
        At(offset, fmt::format("block header reserved field is {}, expected 0", h.reserved)));
  }
  if (h.raw_size > klog::kMaxBlockRawSize) {
    return tl::unexpected(
        At(offset, fmt::format("block raw_size {} exceeds the 64 MiB limit", h.raw_size)));
  }
  bool compressed = h.compression == static_cast<uint8_t>(klog::BlockCompression::kZstd);
  if (!compressed && h.raw_size != h.stored_size) {
    return tl::unexpected(
        At(offset, fmt::format("uncompressed block has raw_size {} but stored_size {}", h.raw_size,
                               h.stored_size)));
  }
  bool schema = h.kind == static_cast<uint8_t>(BlockKind::kSchema);
  size_t min_size = schema ? klog::kMinSchemaEntrySize : klog::kMinRecordSize;
  if (h.count > h.raw_size / min_size) {
    return tl::unexpected(At(offset, fmt::format("block count {} does not fit in {} payload bytes",
                                                 h.count, h.raw_size)));
  }
  KESTREL_ASSIGN_OR_RETURN(std::span<const uint8_t> payload, Payload(h, offset));
  if (schema) return ReadSchemaBlock(h, offset, payload);
  return ReadEventsBlock(h, offset, payload, batch);
}

Result<std::span<const uint8_t>> KlogReader::Payload(const BlockHeader& h, uint64_t offset) {
  KESTREL_ASSIGN_OR_RETURN(std::span<const uint8_t> stored_bytes,
                           Fetch(offset + klog::kBlockHeaderSize, h.stored_size, stored_));
  const uint8_t* stored = stored_bytes.data();
  if (Crc32c(stored, h.stored_size) != h.payload_crc) {
    return tl::unexpected(At(offset, "block payload crc mismatch"));
  }
  if (h.compression == static_cast<uint8_t>(klog::BlockCompression::kNone)) {
    return std::span<const uint8_t>(stored, h.stored_size);
  }
  unsigned long long content = ZSTD_getFrameContentSize(stored, h.stored_size);
  if (content == ZSTD_CONTENTSIZE_ERROR) {
    return tl::unexpected(At(offset, "zstd payload is not a zstd frame"));
  }
  if (content == ZSTD_CONTENTSIZE_UNKNOWN) {
    return tl::unexpected(At(offset, "zstd frame does not record its content size"));
  }
  if (content != h.raw_size) {
    return tl::unexpected(At(offset, fmt::format("zstd frame holds {} bytes but raw_size says {}",
                                                 content, h.raw_size)));
  }
  size_t frame_size = ZSTD_findFrameCompressedSize(stored, h.stored_size);
  if (ZSTD_isError(frame_size) || frame_size != h.stored_size) {
    return tl::unexpected(At(offset, "zstd payload is not exactly one frame"));
  }
  uint8_t* raw = raw_.Reserve(std::max<size_t>(h.raw_size, 1));
  if (dctx_ == nullptr) {
    dctx_.reset(ZSTD_createDCtx());
    if (dctx_ == nullptr) return MakeError(ErrorCode::kInternal, "cannot create a zstd context");
  }
  size_t n = ZSTD_decompressDCtx(dctx_.get(), raw, h.raw_size, stored, h.stored_size);
  if (ZSTD_isError(n)) {
    return tl::unexpected(
        At(offset, fmt::format("zstd decompression failed: {}", ZSTD_getErrorName(n))));
  }
  if (n != h.raw_size) {
    return tl::unexpected(
        At(offset, fmt::format("zstd decompressed {} bytes but raw_size says {}", n, h.raw_size)));
  }
  return std::span<const uint8_t>(raw, n);
}

Status KlogReader::ReadSchemaBlock(const BlockHeader& h, uint64_t offset,
                                   std::span<const uint8_t> payload) {
  Cursor c(payload);
  for (uint32_t i = 0; i < h.count; ++i) {
    Status entry = ReadSchemaEntry(c);
    if (!entry) {
      const Error& e = entry.error();
      return tl::unexpected(
          At(offset, fmt::format("schema entry {}: {}", i, e.message()), e.code()));
    }
  }
  if (c.remaining() != 0) {
    return tl::unexpected(At(offset, fmt::format("schema block has {} bytes after its {} entries",
                                                 c.remaining(), h.count)));
  }
  return Ok();
}

Status KlogReader::ReadSchemaEntry(Cursor& c) {
  uint8_t kind = 0;
  uint32_t file_id = 0;
  if (!c.Read(kind) || !c.Read(file_id)) return Corrupt("truncated entry");
  if (kind == static_cast<uint8_t>(klog::EntryKind::kField)) {
    uint8_t scalar = 0;
    uint8_t is_array = 0;
    uint16_t len = 0;
    const uint8_t* name = nullptr;
    if (!c.Read(scalar) || !c.Read(is_array) || !c.Read(len) || !c.Take(len, name)) {
      return Corrupt("truncated entry");
    }
    if (file_id != file_fields_.size()) {
      return Corrupt(
          fmt::format("field file id {} is not the next id {}", file_id, file_fields_.size()));
    }
    if (scalar > kMaxValueKind) return Corrupt(fmt::format("unknown value kind {}", scalar));
    if (is_array > 1) return Corrupt(fmt::format("is_array is {}, expected 0 or 1", is_array));
    std::string_view name_view(reinterpret_cast<const char*>(name), len);
    KESTREL_ASSIGN_OR_RETURN(
        FieldId id,
        registry_->Intern(name_view, FieldType{static_cast<ValueKind>(scalar), is_array == 1}));
    if (id.value >= field_named_.size()) field_named_.resize(id.value + 1, false);
    if (field_named_[id.value]) return Corrupt(fmt::format("duplicate field name '{}'", name_view));
    field_named_[id.value] = true;
    file_fields_.push_back(id);
    return Ok();
  }
  if (kind == static_cast<uint8_t>(klog::EntryKind::kEventType)) {
    uint16_t len = 0;
    const uint8_t* name = nullptr;
    if (!c.Read(len) || !c.Take(len, name)) return Corrupt("truncated entry");
    if (file_id != file_types_.size()) {
      return Corrupt(
          fmt::format("event type file id {} is not the next id {}", file_id, file_types_.size()));
    }
    if (file_id >= klog::kMaxFileEventTypes) return Corrupt("more than 65536 event types");
    std::string_view name_view(reinterpret_cast<const char*>(name), len);
    KESTREL_ASSIGN_OR_RETURN(EventTypeId id, registry_->InternEventType(name_view));
    if (id >= type_named_.size()) type_named_.resize(id + 1, false);
    if (type_named_[id]) return Corrupt(fmt::format("duplicate event type '{}'", name_view));
    type_named_[id] = true;
    file_types_.push_back(id);
    return Ok();
  }
  return Corrupt(fmt::format("unknown entry kind {}", kind));
}

Status KlogReader::ReadEventsBlock(const BlockHeader& h, uint64_t offset,
                                   std::span<const uint8_t> payload, EventBatch& batch) {
  const klog::RemapTables tables{file_fields_.data(), file_fields_.size(), file_types_.data(),
                                 file_types_.size()};
  auto decoded = klog::DecodeEventsBlock(tables, *registry_, payload, h.count, batch, scratch_);
  if (decoded) return Ok();
  // A defect in an uncompressed block is reported at its own file offset; inside a zstd payload
  // there is no such offset, so the block's is used and the message names the part.
  bool in_place = h.compression == static_cast<uint8_t>(klog::BlockCompression::kNone);
  size_t part = decoded.error().offset;
  uint64_t defect_offset = in_place && part != klog::BlockDefect::kWholeBlock
                               ? offset + klog::kBlockHeaderSize + part
                               : offset;
  const Error& e = decoded.error().error;
  return tl::unexpected(At(defect_offset, e.message(), e.code()));
}

}  // namespace

Result<std::unique_ptr<EventReader>> OpenKlogReader(std::unique_ptr<InputFile> input,
                                                    const ReadOptions& options,
                                                    SchemaRegistry* registry) {
  auto reader = std::make_unique<KlogReader>(std::move(input), options, registry);
  KESTREL_TRY(reader->Open());
  return reader;
}

}  // namespace kestrel
