// .klog reader: maps the file and decodes one events block per Next() (docs/klog-format.md).
// This file reads the file header, block headers, payloads and schema blocks; the records of an
// events block are decoded by klog_record.cpp. Every size and count comes from the file, so each
// is checked against the bytes that remain before it is used; CRCs catch accidents, the checks
// keep forged files from reading out of bounds.
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
#include "event/klog_record.h"

namespace kestrel {
namespace {

using klog::BlockHeader;
using klog::BlockKind;
using klog::Corrupt;
using klog::Cursor;

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

  Result<BlockHeader> ReadBlockHeader(uint64_t offset) const;
  Status ReadBlock(const BlockHeader& h, uint64_t offset, EventBatch& batch);
  Result<std::span<const uint8_t>> Payload(const BlockHeader& h, uint64_t offset);
  Status ReadSchemaBlock(const BlockHeader& h, uint64_t offset, std::span<const uint8_t> payload);
  Status ReadSchemaEntry(Cursor& c);
  Status ReadEventsBlock(const BlockHeader& h, uint64_t offset, std::span<const uint8_t> payload,
                         EventBatch& batch);
  // The offset of the first block header at or after `from` whose CRC verifies, or the file size.
  uint64_t Resync(uint64_t from) const;

  std::unique_ptr<InputFile> input_;
  ReadOptions options_;
  SchemaRegistry* registry_;
  std::span<const uint8_t> data_;
  uint64_t pos_ = klog::kFileHeaderSize;
  std::optional<Error> failed_;  // reading stopped here; Next() keeps returning it

  std::vector<FieldId> file_fields_;     // file field id -> registry id
  std::vector<EventTypeId> file_types_;  // file event type id -> registry id
  std::vector<bool> field_named_;        // registry field id -> some file entry maps to it
  std::vector<bool> type_named_;

  std::unique_ptr<uint8_t[]> raw_;  // decompressed payload, valid until the next Next()
  size_t raw_capacity_ = 0;
  std::unique_ptr<ZSTD_DCtx, DCtxDeleter> dctx_;
};

Status KlogReader::Open() {
  KESTREL_ASSIGN_OR_RETURN(data_, input_->MapAll());
  stats_.total_bytes = data_.size();
  const uint8_t* p = data_.data();
  size_t n = data_.size();
  if (n > 0 && std::memcmp(p, kKlogMagic, std::min(n, sizeof(kKlogMagic))) != 0) {
    return tl::unexpected(At(0, "not a .klog file (bad magic)"));
  }
  if (n < klog::kFileHeaderSize) {
    return tl::unexpected(
        At(0, fmt::format("truncated file header: {} of {} bytes", n, klog::kFileHeaderSize)));
  }
  // The version comes before the CRC: a later version may lay out (and check) its header anew.
  uint16_t version = klog::LoadLe<uint16_t>(p + 8);
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
  if (uint16_t reserved = klog::LoadLe<uint16_t>(p + 10); reserved != 0) {
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
  while (pos_ < data_.size()) {
    uint64_t offset = pos_;
    Result<BlockHeader> header = ReadBlockHeader(offset);
    if (!header) {
      // Nothing in a bad header can be trusted, not even its kind or size: look for the next one.
      if (!options_.skip_bad) return Fail(std::move(header).error());
      NoteSkipped(std::move(header).error());
      pos_ = Resync(offset + 1);
      continue;
    }
    const BlockHeader& h = *header;
    uint64_t payload_offset = offset + klog::kBlockHeaderSize;
    bool truncated = h.stored_size > data_.size() - payload_offset;
    Status status =
        truncated
            ? Status(tl::unexpected(
                  At(offset, fmt::format("truncated block: header says {} payload bytes, {} remain",
                                         h.stored_size, data_.size() - payload_offset))))
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
      pos_ = truncated ? Resync(offset + 1) : payload_offset + h.stored_size;
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

Result<BlockHeader> KlogReader::ReadBlockHeader(uint64_t offset) const {
  uint64_t remain = data_.size() - offset;
  if (remain < klog::kBlockHeaderSize) {
    return tl::unexpected(At(offset, fmt::format("truncated block header: {} of {} bytes", remain,
                                                 klog::kBlockHeaderSize)));
  }
  const uint8_t* p = data_.data() + offset;
  if (std::memcmp(p, klog::kBlockMagic, sizeof(klog::kBlockMagic)) != 0) {
    return tl::unexpected(At(offset, "bad block magic (expected KBLK)"));
  }
  if (!klog::IsBlockHeader(p)) return tl::unexpected(At(offset, "block header crc mismatch"));
  return klog::LoadBlockHeader(p);
}

uint64_t KlogReader::Resync(uint64_t from) const {
  const uint8_t* base = data_.data();
  size_t size = data_.size();
  for (uint64_t p = from; p + klog::kBlockHeaderSize <= size; ++p) {
    const void* k =
        std::memchr(base + p, klog::kBlockMagic[0], size - klog::kBlockHeaderSize + 1 - p);
    if (k == nullptr) break;
    p = static_cast<uint64_t>(static_cast<const uint8_t*>(k) - base);
    if (klog::IsBlockHeader(base + p)) return p;
  }
  return size;
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
  const uint8_t* stored = data_.data() + offset + klog::kBlockHeaderSize;
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
  if (raw_capacity_ < std::max<size_t>(h.raw_size, 1)) {
    raw_capacity_ = std::max<size_t>(h.raw_size, 1);
    raw_ = std::make_unique_for_overwrite<uint8_t[]>(raw_capacity_);
  }
  if (dctx_ == nullptr) {
    dctx_.reset(ZSTD_createDCtx());
    if (dctx_ == nullptr) return MakeError(ErrorCode::kInternal, "cannot create a zstd context");
  }
  size_t n = ZSTD_decompressDCtx(dctx_.get(), raw_.get(), h.raw_size, stored, h.stored_size);
  if (ZSTD_isError(n)) {
    return tl::unexpected(
        At(offset, fmt::format("zstd decompression failed: {}", ZSTD_getErrorName(n))));
  }
  if (n != h.raw_size) {
    return tl::unexpected(
        At(offset, fmt::format("zstd decompressed {} bytes but raw_size says {}", n, h.raw_size)));
  }
  return std::span<const uint8_t>(raw_.get(), n);
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
  // Records of an uncompressed block are reported at their own file offset; inside a zstd
  // payload there is no such offset, so the block's is used and the index tells the record.
  bool in_place = h.compression == static_cast<uint8_t>(klog::BlockCompression::kNone);
  uint64_t payload_offset = offset + klog::kBlockHeaderSize;
  const klog::RemapTables tables{file_fields_.data(), file_fields_.size(), file_types_.data(),
                                 file_types_.size()};
  Arena& arena = batch.arena();
  const uint8_t* p = payload.data();
  const uint8_t* end = p + payload.size();
  for (uint32_t i = 0; i < h.count; ++i) {
    const uint8_t* record = p;
    Event event;
    p = klog::FastRecord(tables, record, end, arena, event);
    if (p == nullptr) [[unlikely]] {
      // The fast decoder does not say what is wrong: the precise one does.
      Cursor c(std::span<const uint8_t>(record, end));
      Result<Event> precise = klog::DecodeRecord(tables, *registry_, c, arena);
      assert(!precise && "the fast record decoder rejected a record the precise one accepts");
      if (!precise) {
        const Error& e = precise.error();
        uint64_t record_offset = payload_offset + static_cast<uint64_t>(record - payload.data());
        return tl::unexpected(At(in_place ? record_offset : offset,
                                 fmt::format("record {}: {}", i, e.message()), e.code()));
      }
      event = *precise;
      p = end - c.remaining();
    } else {
#ifndef NDEBUG
      Cursor c(std::span<const uint8_t>(record, end));
      Result<Event> precise = klog::DecodeRecord(tables, *registry_, c, arena);
      assert(precise && *precise == event && c.remaining() == static_cast<size_t>(end - p) &&
             "the fast record decoder disagrees with the precise one");
#endif
    }
    batch.Add(event);
  }
  if (p != end) {
    return tl::unexpected(At(
        offset, fmt::format("events block has {} bytes after its {} records", end - p, h.count)));
  }
  return Ok();
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
