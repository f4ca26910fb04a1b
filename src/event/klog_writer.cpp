// .klog writer: buffers one events block at a time and writes each block, preceded by a schema
// block for the fields and event types it is the first to use (docs/klog-format.md).
#include "event/klog.h"

#include <fmt/format.h>
#include <zstd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <span>
#include <vector>

#include "event/klog_format.h"

namespace kestrel {
namespace {

using klog::AppendBytes;
using klog::AppendLe;

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* cctx) const { ZSTD_freeCCtx(cctx); }
};

class KlogWriter final : public EventWriter {
 public:
  KlogWriter(std::unique_ptr<OutputFile> output, const WriteOptions& options,
             const SchemaRegistry* registry)
      : output_(std::move(output)),
        options_(options),
        registry_(registry),
        block_bytes_(std::clamp<size_t>(options.block_bytes, 1, klog::kMaxBlockRawSize)) {}

  Status Start();
  Status Write(const Event& event) override;
  Status Close() override;

 private:
  static constexpr uint32_t kUnmapped = UINT32_MAX;

  Result<uint32_t> FileFieldId(FieldId id);
  Result<uint16_t> FileTypeId(EventTypeId id);
  Status EncodeRecord(const Event& event);
  Status EncodeValue(const Value& value, int depth);
  // Writes the pending schema entries, then the first `prefix` bytes of the events buffer as one
  // events block of `count` records, and drops them from the buffer.
  Status FlushEvents(size_t prefix, uint32_t count);
  Status FlushSchema();
  Status WriteBlock(klog::BlockKind kind, uint32_t count, std::span<const uint8_t> payload);
  Error WriteError(std::string message, ErrorCode code = ErrorCode::kInvalidArgument) const {
    return Error(code, std::move(message)).At(output_->path());
  }

  std::unique_ptr<OutputFile> output_;
  WriteOptions options_;
  const SchemaRegistry* registry_;
  size_t block_bytes_;
  bool closed_ = false;

  std::vector<uint32_t> field_map_;  // registry FieldId -> file id (kUnmapped: not yet)
  std::vector<uint32_t> type_map_;   // registry EventTypeId -> file id
  uint32_t next_field_id_ = 0;
  uint32_t next_type_id_ = 0;

  std::vector<uint8_t> schema_;  // schema entries not yet written
  uint32_t schema_count_ = 0;
  std::vector<uint8_t> events_;  // records of the current events block
  uint32_t event_count_ = 0;
  std::vector<uint8_t> compressed_;
  std::unique_ptr<ZSTD_CCtx, CCtxDeleter> cctx_;
};

Status KlogWriter::Start() {
  if (options_.compression == Compression::kZstd) {
    cctx_.reset(ZSTD_createCCtx());
    if (cctx_ == nullptr) return MakeError(ErrorCode::kInternal, "cannot create a zstd context");
  }
  uint8_t header[klog::kFileHeaderSize];
  std::memcpy(header, kKlogMagic, sizeof(kKlogMagic));
  klog::StoreLe<uint16_t>(header + 8, kKlogVersion);
  klog::StoreLe<uint16_t>(header + 10, 0);
  klog::StoreLe<uint32_t>(header + 12, Crc32c(header, klog::kFileHeaderCrcOffset));
  return output_->Write(header, sizeof(header));
}

Result<uint32_t> KlogWriter::FileFieldId(FieldId id) {
  if (id.value >= registry_->size()) {
    return tl::unexpected(WriteError(fmt::format("field id {} is not in the registry", id.value)));
  }
  if (id.value >= field_map_.size()) field_map_.resize(registry_->size(), kUnmapped);
  if (field_map_[id.value] != kUnmapped) return field_map_[id.value];

  const FieldInfo& info = registry_->info(id);
  if (info.name.size() > UINT16_MAX) {
    return tl::unexpected(
        WriteError(fmt::format("field name of {} bytes is too long", info.name.size())));
  }
  uint32_t file_id = next_field_id_++;
  field_map_[id.value] = file_id;
  AppendLe<uint8_t>(schema_, static_cast<uint8_t>(klog::EntryKind::kField));
  AppendLe<uint32_t>(schema_, file_id);
  AppendLe<uint8_t>(schema_, static_cast<uint8_t>(info.type.scalar));
  AppendLe<uint8_t>(schema_, info.type.is_array ? 1 : 0);
  AppendLe<uint16_t>(schema_, static_cast<uint16_t>(info.name.size()));
  AppendBytes(schema_, info.name.data(), info.name.size());
  ++schema_count_;
  return file_id;
}

Result<uint16_t> KlogWriter::FileTypeId(EventTypeId id) {
  if (id >= registry_->event_type_count()) {
    return tl::unexpected(WriteError(fmt::format("event type id {} is not in the registry", id)));
  }
  if (id >= type_map_.size()) type_map_.resize(registry_->event_type_count(), kUnmapped);
  // Registry event type ids are u16, so file ids (at most one per registry id) fit in u16 too.
  if (type_map_[id] != kUnmapped) return static_cast<uint16_t>(type_map_[id]);

  std::string_view name = registry_->event_type_name(id);
  if (name.size() > UINT16_MAX) {
    return tl::unexpected(
        WriteError(fmt::format("event type of {} bytes is too long", name.size())));
  }
  uint32_t file_id = next_type_id_++;
  type_map_[id] = file_id;
  AppendLe<uint8_t>(schema_, static_cast<uint8_t>(klog::EntryKind::kEventType));
  AppendLe<uint32_t>(schema_, file_id);
  AppendLe<uint16_t>(schema_, static_cast<uint16_t>(name.size()));
  AppendBytes(schema_, name.data(), name.size());
  ++schema_count_;
  return static_cast<uint16_t>(file_id);
}

Status KlogWriter::EncodeValue(const Value& value, int depth) {
  AppendLe<uint8_t>(events_, static_cast<uint8_t>(value.kind()));
  switch (value.kind()) {
    case ValueKind::kNull:
      return Ok();
    case ValueKind::kBool:
      AppendLe<uint8_t>(events_, value.as_bool() ? 1 : 0);
      return Ok();
    case ValueKind::kI64:
    case ValueKind::kU64:
    case ValueKind::kF64:
    case ValueKind::kTimestamp:
      AppendLe<uint64_t>(events_, value.as_u64());
      return Ok();
    case ValueKind::kString: {
      std::string_view s = value.as_string();
      AppendLe<uint32_t>(events_, static_cast<uint32_t>(s.size()));
      AppendBytes(events_, s.data(), s.size());
      return Ok();
    }
    case ValueKind::kIp:
      AppendBytes(events_, value.as_ip().bytes, 16);
      return Ok();
    case ValueKind::kArray: {
      if (depth >= klog::kMaxArrayDepth) {
        return tl::unexpected(
            WriteError(fmt::format("arrays nested deeper than {} levels", klog::kMaxArrayDepth)));
      }
      auto elements = value.as_array();
      AppendLe<uint32_t>(events_, static_cast<uint32_t>(elements.size()));
      for (const Value& element : elements) KESTREL_TRY(EncodeValue(element, depth + 1));
      return Ok();
    }
  }
  return tl::unexpected(
      WriteError(fmt::format("value kind {} cannot be stored", static_cast<int>(value.kind()))));
}

Status KlogWriter::EncodeRecord(const Event& event) {
  auto fields = event.fields();
  if (fields.size() > UINT16_MAX) {
    return tl::unexpected(
        WriteError(fmt::format("event has {} fields, at most 65535 fit a record", fields.size())));
  }
  KESTREL_ASSIGN_OR_RETURN(uint16_t type, FileTypeId(event.type()));
  size_t start = events_.size();
  AppendLe<uint32_t>(events_, 0);  // record_size, patched below
  AppendLe<uint16_t>(events_, type);
  AppendLe<uint16_t>(events_, static_cast<uint16_t>(fields.size()));
  AppendLe<uint64_t>(events_, event.ts_mono_ns());
  AppendLe<uint64_t>(events_, event.ts_wall_ns());
  AppendLe<uint64_t>(events_, event.event_id());
  AppendLe<uint64_t>(events_, event.entity_key());
  for (const Field& field : fields) {  // already in registry id order, one per id
    KESTREL_ASSIGN_OR_RETURN(uint32_t file_id, FileFieldId(field.id));
    AppendLe<uint32_t>(events_, file_id);
    KESTREL_TRY(EncodeValue(field.value, 0));
  }
  size_t record_size = events_.size() - start - 4;
  if (record_size > klog::kMaxBlockRawSize - 4) {
    return tl::unexpected(
        WriteError(fmt::format("event encodes to {} bytes, more than a .klog block holds (64 MiB)",
                               record_size + 4),
                   ErrorCode::kLimit));
  }
  klog::StoreLe<uint32_t>(events_.data() + start, static_cast<uint32_t>(record_size));
  return Ok();
}

Status KlogWriter::Write(const Event& event) {
  if (closed_) return tl::unexpected(WriteError("write after close"));
  size_t start = events_.size();
  Status encoded = EncodeRecord(event);
  if (!encoded) {
    // Drop the partial record. Schema entries it created stay pending: defining a field that no
    // record uses is harmless.
    events_.resize(start);
    return encoded;
  }
  ++event_count_;
  ++events_written_;
  if (events_.size() > klog::kMaxBlockRawSize) {
    // The new record would push the block past the reader's limit: write the block without it.
    KESTREL_TRY(FlushEvents(start, event_count_ - 1));
  }
  if (events_.size() >= block_bytes_) KESTREL_TRY(FlushEvents(events_.size(), event_count_));
  // Entries normally go out just before the events block that needs them; only a flood of long
  // new names is written early, to keep the schema block under the reader's limit.
  if (schema_.size() >= klog::kMaxBlockRawSize / 2) KESTREL_TRY(FlushSchema());
  return Ok();
}

Status KlogWriter::FlushSchema() {
  if (schema_count_ == 0) return Ok();
  KESTREL_TRY(WriteBlock(klog::BlockKind::kSchema, schema_count_, schema_));
  schema_.clear();
  schema_count_ = 0;
  return Ok();
}

Status KlogWriter::FlushEvents(size_t prefix, uint32_t count) {
  if (count == 0) return Ok();
  // Entries of a record still in the buffer may be written early; that is allowed.
  KESTREL_TRY(FlushSchema());
  KESTREL_TRY(WriteBlock(klog::BlockKind::kEvents, count, std::span(events_.data(), prefix)));
  events_.erase(events_.begin(), events_.begin() + static_cast<ptrdiff_t>(prefix));
  event_count_ -= count;
  return Ok();
}

Status KlogWriter::WriteBlock(klog::BlockKind kind, uint32_t count,
                              std::span<const uint8_t> payload) {
  if (payload.size() > klog::kMaxBlockRawSize) {
    // Only a schema block of tens of thousands of very long names gets here.
    return tl::unexpected(WriteError("schema block larger than 64 MiB", ErrorCode::kLimit));
  }
  klog::BlockHeader header;
  header.kind = static_cast<uint8_t>(kind);
  header.count = count;
  header.raw_size = static_cast<uint32_t>(payload.size());
  std::span<const uint8_t> stored = payload;
  if (cctx_ != nullptr && !payload.empty()) {
    size_t bound = ZSTD_compressBound(payload.size());
    if (compressed_.size() < bound) compressed_.resize(bound);
    size_t n = ZSTD_compressCCtx(cctx_.get(), compressed_.data(), compressed_.size(),
                                 payload.data(), payload.size(), options_.zstd_level);
    // A failed or useless compression is not an error: the payload is stored as it is.
    if (!ZSTD_isError(n) && n < payload.size()) {
      stored = std::span<const uint8_t>(compressed_.data(), n);
      header.compression = static_cast<uint8_t>(klog::BlockCompression::kZstd);
    }
  }
  header.stored_size = static_cast<uint32_t>(stored.size());
  header.payload_crc = Crc32c(stored.data(), stored.size());
  uint8_t bytes[klog::kBlockHeaderSize];
  klog::StoreBlockHeader(header, bytes);
  KESTREL_TRY(output_->Write(bytes, sizeof(bytes)));
  return output_->Write(stored.data(), stored.size());
}

Status KlogWriter::Close() {
  if (closed_) return Ok();
  closed_ = true;
  KESTREL_TRY(FlushEvents(events_.size(), event_count_));
  return output_->Close();
}

}  // namespace

Result<std::unique_ptr<EventWriter>> OpenKlogWriter(std::unique_ptr<OutputFile> output,
                                                    const WriteOptions& options,
                                                    const SchemaRegistry* registry) {
  auto writer = std::make_unique<KlogWriter>(std::move(output), options, registry);
  KESTREL_TRY(writer->Start());
  return writer;
}

}  // namespace kestrel
