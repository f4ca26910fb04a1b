// .klog writer: buffers one events block at a time and writes each block, preceded by a schema
// block for the fields and event types it is the first to use (docs/klog-format.md).
#include "event/klog.h"

#include <fmt/format.h>
#include <zstd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/hash.h"
#include "event/klog_format.h"

namespace kestrel {
namespace {

using klog::AppendBytes;
using klog::AppendLe;

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* cctx) const { ZSTD_freeCCtx(cctx); }
};

// Heterogeneous lookup for maps keyed by std::string.
struct KeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return Hash64(s); }
};
using KeyIndex = std::unordered_map<std::string, uint32_t, KeyHash, std::equal_to<>>;

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

  // A value entry of the block being built (docs/klog-format.md).
  struct Entry {
    uint64_t bits = 0;
    uint32_t size = 0;
    ValueKind kind = ValueKind::kNull;
  };

  Result<uint32_t> FileFieldId(FieldId id);
  Result<uint16_t> FileTypeId(EventTypeId id);
  // The block's entry for `value`, added (with its elements) when the block has none yet.
  Result<uint32_t> ValueIndex(const Value& value, int depth);
  // A new entry for `value` (an array's elements are added first).
  Result<Entry> MakeEntry(const Value& value, int depth);
  uint32_t HeapOffset(const void* bytes, size_t size);
  // The block's index of the shape whose fields are shape_key_.
  uint32_t ShapeIndex(uint32_t field_count);
  // Bytes the block's payload holds so far.
  size_t PayloadSize() const {
    return kPayloadHeaderSize + values_.size() * kEntrySize + shapes_.size() + heap_.size() +
           records_.size();
  }
  Status EncodeRecord(const Event& event);
  Status FlushEvents();
  Status FlushSchema();
  Status WriteBlock(klog::BlockKind kind, uint32_t count, std::span<const uint8_t> payload);
  Error WriteError(std::string message, ErrorCode code = ErrorCode::kInvalidArgument) const {
    return Error(code, std::move(message)).At(output_->path());
  }

  static constexpr size_t kPayloadHeaderSize = klog::kEventsPayloadHeaderSize;
  static constexpr size_t kEntrySize = klog::kValueEntrySize;

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

  // The events block being built.
  std::vector<Entry> values_;
  KeyIndex value_index_;  // ValueKey -> entry
  std::vector<uint8_t> heap_;
  KeyIndex heap_index_;  // bytes -> heap offset
  std::vector<uint8_t> shapes_;
  std::vector<uint16_t> shape_sizes_;
  KeyIndex shape_index_;  // file field ids -> shape
  std::vector<uint8_t> records_;  // records with 4-byte value indices
  uint32_t event_count_ = 0;

  std::string shape_key_;  // scratch
  std::vector<uint32_t> record_indices_;
  std::vector<uint8_t> payload_;
  std::vector<uint8_t> compressed_;
  std::unique_ptr<ZSTD_CCtx, CCtxDeleter> cctx_;
};

// A byte string that identifies a value: equal values (deeply, f64 bitwise) have equal keys.
void AppendValueKey(const Value& v, std::string& key) {
  key.push_back(static_cast<char>(v.kind()));
  auto append_raw = [&](const void* p, size_t n) { key.append(static_cast<const char*>(p), n); };
  switch (v.kind()) {
    case ValueKind::kNull:
      return;
    case ValueKind::kString: {
      std::string_view s = v.as_string();
      auto n = static_cast<uint32_t>(s.size());
      append_raw(&n, 4);
      key.append(s);
      return;
    }
    case ValueKind::kIp:
      append_raw(v.as_ip().bytes, 16);
      return;
    case ValueKind::kArray: {
      uint32_t n = static_cast<uint32_t>(v.as_array().size());
      append_raw(&n, 4);
      for (const Value& e : v.as_array()) AppendValueKey(e, key);
      return;
    }
    default: {
      uint64_t bits = v.as_u64();
      append_raw(&bits, 8);
      return;
    }
  }
}

// Bytes `v` can add to a block at most: its entry, elements and heap bytes.
size_t EncodedBound(const Value& v) {
  size_t n = klog::kValueEntrySize;
  if (v.kind() == ValueKind::kString) n += v.as_string().size();
  if (v.kind() == ValueKind::kIp) n += sizeof(IpAddress);
  if (v.kind() == ValueKind::kArray) {
    for (const Value& e : v.as_array()) n += EncodedBound(e) + klog::kValueEntrySize;
  }
  return n;
}

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

uint32_t KlogWriter::HeapOffset(const void* bytes, size_t size) {
  std::string_view key(static_cast<const char*>(bytes), size);
  if (auto it = heap_index_.find(key); it != heap_index_.end()) return it->second;
  auto offset = static_cast<uint32_t>(heap_.size());
  AppendBytes(heap_, bytes, size);
  heap_index_.emplace(std::string(key), offset);
  return offset;
}

Result<KlogWriter::Entry> KlogWriter::MakeEntry(const Value& value, int depth) {
  Entry entry;
  entry.kind = value.kind();
  switch (value.kind()) {
    case ValueKind::kNull:
      return entry;
    case ValueKind::kBool:
      entry.bits = value.as_bool() ? 1 : 0;
      return entry;
    case ValueKind::kI64:
    case ValueKind::kU64:
    case ValueKind::kF64:
    case ValueKind::kTimestamp:
      entry.bits = value.as_u64();
      return entry;
    case ValueKind::kString: {
      std::string_view s = value.as_string();
      entry.bits = HeapOffset(s.data(), s.size());
      entry.size = static_cast<uint32_t>(s.size());
      return entry;
    }
    case ValueKind::kIp:
      entry.bits = HeapOffset(value.as_ip().bytes, sizeof(IpAddress));
      return entry;
    case ValueKind::kArray: {
      if (depth >= klog::kMaxArrayDepth) {
        return tl::unexpected(
            WriteError(fmt::format("arrays nested deeper than {} levels", klog::kMaxArrayDepth)));
      }
      // Elements are a run of consecutive entries; an element that is an array refers to a run
      // of its own, which must come first.
      auto elements = value.as_array();
      std::vector<Entry> run;
      run.reserve(elements.size());
      for (const Value& element : elements) {
        if (element.kind() == ValueKind::kArray) {
          KESTREL_ASSIGN_OR_RETURN(uint32_t nested, ValueIndex(element, depth + 1));
          run.push_back(values_[nested]);
        } else {
          KESTREL_ASSIGN_OR_RETURN(Entry e, MakeEntry(element, depth + 1));
          run.push_back(e);
        }
      }
      entry.bits = values_.size();
      entry.size = static_cast<uint32_t>(run.size());
      values_.insert(values_.end(), run.begin(), run.end());
      return entry;
    }
  }
  return tl::unexpected(
      WriteError(fmt::format("value kind {} cannot be stored", static_cast<int>(value.kind()))));
}

Result<uint32_t> KlogWriter::ValueIndex(const Value& value, int depth) {
  std::string key;
  AppendValueKey(value, key);
  if (auto it = value_index_.find(key); it != value_index_.end()) return it->second;
  KESTREL_ASSIGN_OR_RETURN(Entry entry, MakeEntry(value, depth));
  auto index = static_cast<uint32_t>(values_.size());
  values_.push_back(entry);
  value_index_.emplace(std::move(key), index);
  return index;
}

uint32_t KlogWriter::ShapeIndex(uint32_t field_count) {
  if (auto it = shape_index_.find(shape_key_); it != shape_index_.end()) return it->second;
  auto index = static_cast<uint32_t>(shape_sizes_.size());
  AppendLe<uint16_t>(shapes_, static_cast<uint16_t>(field_count));
  AppendBytes(shapes_, shape_key_.data(), shape_key_.size());
  shape_sizes_.push_back(static_cast<uint16_t>(field_count));
  shape_index_.emplace(shape_key_, index);
  return index;
}

Status KlogWriter::EncodeRecord(const Event& event) {
  FieldList fields = event.fields();
  if (fields.size() > UINT16_MAX) {
    return tl::unexpected(
        WriteError(fmt::format("event has {} fields, at most 65535 fit a record", fields.size())));
  }
  KESTREL_ASSIGN_OR_RETURN(uint16_t type, FileTypeId(event.type()));
  shape_key_.clear();
  size_t bound = klog::kRecordHeaderSize + 2 + 8 * fields.size();
  for (const Field& field : fields) {  // in registry id order, one per id
    KESTREL_ASSIGN_OR_RETURN(uint32_t file_id, FileFieldId(field.id));
    char bytes[4];
    klog::StoreLe<uint32_t>(reinterpret_cast<uint8_t*>(bytes), file_id);
    shape_key_.append(bytes, 4);
    bound += EncodedBound(field.value);
  }
  if (kPayloadHeaderSize + bound > klog::kMaxBlockRawSize) {
    return tl::unexpected(WriteError(
        fmt::format("event encodes to up to {} bytes, more than a .klog block holds (64 MiB)",
                    kPayloadHeaderSize + bound),
        ErrorCode::kLimit));
  }
  // Start a new block when this record might not fit the current one, or its shape would be
  // the 65537th.
  bool shape_full = shape_sizes_.size() > UINT16_MAX && !shape_index_.contains(shape_key_);
  if (event_count_ > 0 && (PayloadSize() + bound > klog::kMaxBlockRawSize || shape_full)) {
    KESTREL_TRY(FlushEvents());
  }
  record_indices_.clear();
  for (const Field& field : fields) {
    KESTREL_ASSIGN_OR_RETURN(uint32_t index, ValueIndex(field.value, 0));
    record_indices_.push_back(index);
  }
  uint32_t shape = ShapeIndex(static_cast<uint32_t>(fields.size()));
  AppendLe<uint16_t>(records_, type);
  AppendLe<uint16_t>(records_, static_cast<uint16_t>(shape));
  AppendLe<uint64_t>(records_, event.ts_mono_ns());
  AppendLe<uint64_t>(records_, event.ts_wall_ns());
  AppendLe<uint64_t>(records_, event.event_id());
  AppendLe<uint64_t>(records_, event.entity_key());
  for (uint32_t index : record_indices_) AppendLe<uint32_t>(records_, index);
  return Ok();
}

Status KlogWriter::Write(const Event& event) {
  if (closed_) return tl::unexpected(WriteError("write after close"));
  size_t start = records_.size();
  Status encoded = EncodeRecord(event);
  if (!encoded) {
    // Drop the partial record. Entries it created stay: an entry or schema entry that no record
    // uses is harmless.
    records_.resize(std::min(start, records_.size()));
    return encoded;
  }
  ++event_count_;
  ++events_written_;
  if (PayloadSize() >= block_bytes_) KESTREL_TRY(FlushEvents());
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

Status KlogWriter::FlushEvents() {
  if (event_count_ > 0) {
    // Entries of a record still being encoded may be written early; that is allowed.
    KESTREL_TRY(FlushSchema());
    uint8_t index_bytes = values_.size() <= (1u << 16) ? 2 : 4;
    payload_.clear();
    AppendLe<uint32_t>(payload_, static_cast<uint32_t>(values_.size()));
    AppendLe<uint32_t>(payload_, static_cast<uint32_t>(shape_sizes_.size()));
    AppendLe<uint32_t>(payload_, static_cast<uint32_t>(heap_.size()));
    AppendLe<uint8_t>(payload_, index_bytes);
    AppendLe<uint8_t>(payload_, 0);
    AppendLe<uint16_t>(payload_, 0);
    for (const Entry& e : values_) {
      AppendLe<uint64_t>(payload_, e.bits);
      AppendLe<uint32_t>(payload_, e.size);
      AppendLe<uint8_t>(payload_, static_cast<uint8_t>(e.kind));
      AppendLe<uint8_t>(payload_, 0);
      AppendLe<uint16_t>(payload_, 0);
    }
    AppendBytes(payload_, shapes_.data(), shapes_.size());
    AppendBytes(payload_, heap_.data(), heap_.size());
    if (index_bytes == 4) {
      AppendBytes(payload_, records_.data(), records_.size());
    } else {
      const uint8_t* p = records_.data();
      for (uint32_t i = 0; i < event_count_; ++i) {
        auto shape = klog::LoadLe<uint16_t>(p + 2);
        AppendBytes(payload_, p, klog::kRecordHeaderSize);
        p += klog::kRecordHeaderSize;
        for (uint16_t k = 0; k < shape_sizes_[shape]; ++k, p += 4) {
          AppendLe<uint16_t>(payload_, static_cast<uint16_t>(klog::LoadLe<uint32_t>(p)));
        }
      }
    }
    KESTREL_TRY(WriteBlock(klog::BlockKind::kEvents, event_count_, payload_));
  }
  values_.clear();
  value_index_.clear();
  heap_.clear();
  heap_index_.clear();
  shapes_.clear();
  shape_sizes_.clear();
  shape_index_.clear();
  records_.clear();
  event_count_ = 0;
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
  KESTREL_TRY(FlushEvents());
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
