// ECS / Endgame JSON documents -> Events. See docs/events.md for the mapping.
#include <simdjson.h>

#include <cmath>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "common/hash.h"
#include "event/event_builder.h"
#include "event/ip_address.h"
#include "event/json_path_tree.h"
#include "event/json_records.h"
#include "event/ndjson.h"
#include "event/timestamp.h"

namespace kestrel {
namespace {

namespace dom = simdjson::dom;

constexpr int kMaxDepth = 64;

std::string_view JsonTypeName(dom::element_type type) {
  switch (type) {
    case dom::element_type::ARRAY: return "an array";
    case dom::element_type::OBJECT: return "an object";
    case dom::element_type::STRING: return "a string";
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE: return "a number";
    case dom::element_type::BOOL: return "a boolean";
    case dom::element_type::NULL_VALUE: return "null";
  }
  return "a value";
}

// Header values a record may carry under "kestrel" (written by Kestrel's own writer).
struct MetaHeader {
  std::optional<uint64_t> event_id, ts_mono_ns, ts_wall_ns, entity_key;
  std::optional<std::string_view> event_type;
};

class NdjsonReader final : public EventReader {
 public:
  NdjsonReader(std::unique_ptr<InputFile> input, const ReadOptions& options, SchemaRegistry* registry)
      : EventReader(input->path()),
        input_(std::move(input)),
        options_(options),
        registry_(registry),
        splitter_(input_.get(), options.max_record_bytes, simdjson::SIMDJSON_PADDING),
        builder_(nullptr),
        next_event_id_(options.first_event_id) {
    stats_.total_bytes = input_->size();
  }

  Status Init() {
    KESTREL_ASSIGN_OR_RETURN(timestamp_id_, registry_->Intern("@timestamp", {ValueKind::kTimestamp, false}));
    KESTREL_ASSIGN_OR_RETURN(category_id_, registry_->Intern("event.category", {ValueKind::kString, true}));
    KESTREL_ASSIGN_OR_RETURN(entity_id_id_, registry_->Intern("process.entity_id", {ValueKind::kString, false}));
    KESTREL_ASSIGN_OR_RETURN(pid_id_, registry_->Intern("process.pid", {ValueKind::kI64, false}));
    type_field_id_ = category_id_;
    if (options_.profile == InputProfile::kEndgame) {
      KESTREL_ASSIGN_OR_RETURN(type_field_id_, registry_->Intern("event_type", {ValueKind::kString, false}));
      KESTREL_ASSIGN_OR_RETURN(filetime_id_, registry_->Intern("timestamp", {ValueKind::kU64, false}));
      KESTREL_ASSIGN_OR_RETURN(unique_pid_id_, registry_->Intern("unique_pid", {ValueKind::kI64, false}));
    }
    return Ok();
  }

  Result<bool> Next(EventBatch& batch) override {
    batch.Clear();
    builder_.set_arena(&batch.arena());
    while (batch.size() < options_.batch_events) {
      KESTREL_ASSIGN_OR_RETURN(auto record, splitter_.Next());
      stats_.bytes = splitter_.bytes_consumed();
      if (!record) break;
      auto decoded = Decode(*record);
      if (decoded) {
        batch.Add(*decoded);
        ++stats_.records;
        continue;
      }
      Error error = std::move(decoded).error().At(fmt::format("{}:{}", path_, record->line));
      if (!options_.skip_bad) return tl::unexpected(std::move(error));
      NoteSkipped(std::move(error));
    }
    return !batch.empty();
  }

 private:
  // Per-record state gathered while walking the document.
  struct Special {
    std::optional<int64_t> ts_wall_ns;
    std::optional<uint64_t> filetime;
    std::string_view category;  // first event.category / event_type value
    std::string_view entity_id;
    std::optional<int64_t> pid;
    MetaHeader meta;
  };

  Result<Event> Decode(const JsonRecord& record) {
    dom::element doc;
    if (auto err = parser_.parse(record.data, record.size, false).get(doc); err) {
      return MakeError(ErrorCode::kParse, fmt::format("invalid JSON: {}", simdjson::error_message(err)));
    }
    dom::object object;
    if (doc.get(object) != simdjson::SUCCESS) {
      return MakeError(ErrorCode::kParse, fmt::format("expected a JSON object, found {}", JsonTypeName(doc.type())));
    }
    builder_.Start();
    special_ = Special{};
    KESTREL_TRY(WalkObject(object, JsonPathTree::kRoot, 0, false));
    KESTREL_TRY(FillHeader());
    return builder_.Finish();
  }

  Status WalkObject(dom::object object, uint32_t node, int depth, bool in_array) {
    if (depth > kMaxDepth) return MakeError(ErrorCode::kParse, fmt::format("objects nested deeper than {}", kMaxDepth));
    for (dom::key_value_pair field : object) {
      if (depth == 0 && field.key.starts_with("kestrel")) {
        KESTREL_ASSIGN_OR_RETURN(bool consumed, ReadMeta(field.key, field.value));
        if (consumed) continue;
      }
      KESTREL_ASSIGN_OR_RETURN(uint32_t child, paths_.Child(node, field.key));
      KESTREL_TRY(WalkValue(field.value, child, depth, in_array));
    }
    return Ok();
  }

  Status WalkValue(dom::element value, uint32_t node, int depth, bool in_array) {
    switch (value.type()) {
      case dom::element_type::OBJECT:
        return WalkObject(value.get_object().value_unsafe(), node, depth + 1, in_array);
      case dom::element_type::ARRAY: {
        if (depth > kMaxDepth) return MakeError(ErrorCode::kParse, fmt::format("arrays nested deeper than {}", kMaxDepth));
        dom::array array = value.get_array().value_unsafe();
        if (array.size() == 0) {
          KESTREL_ASSIGN_OR_RETURN(FieldId id, LeafField(node, {ValueKind::kNull, true}));
          builder_.MarkArray(id);
          return Ok();
        }
        // Arrays (also of objects, and nested) flatten into one array per leaf name, as in ES.
        for (dom::element element : array) KESTREL_TRY(WalkValue(element, node, depth + 1, true));
        return Ok();
      }
      default: return AddScalar(value, node, in_array);
    }
  }

  // The field of a path, interned once and then cached in the path tree.
  Result<FieldId> LeafField(uint32_t node, FieldType type) {
    JsonPathTree::Node& n = paths_.node(node);
    if (n.field && !(n.declared == ValueKind::kNull && type.scalar != ValueKind::kNull)) return *n.field;
    auto id = registry_->Intern(n.name, type);  // new, or a dynamic field first seen as null
    if (!id) return tl::unexpected(std::move(id).error());
    n.field = *id;
    n.declared = registry_->info(*id).type.scalar;
    return *id;
  }

  Status AddScalar(dom::element element, uint32_t node, bool in_array) {
    ValueKind natural = ValueKind::kNull;
    switch (element.type()) {
      case dom::element_type::STRING: natural = ValueKind::kString; break;
      case dom::element_type::INT64: natural = ValueKind::kI64; break;
      case dom::element_type::UINT64: natural = ValueKind::kU64; break;
      case dom::element_type::DOUBLE: natural = ValueKind::kF64; break;
      case dom::element_type::BOOL: natural = ValueKind::kBool; break;
      default: break;
    }
    KESTREL_ASSIGN_OR_RETURN(FieldId id, LeafField(node, {natural, in_array}));
    KESTREL_ASSIGN_OR_RETURN(Value value, Convert(element, id, paths_.node(node).declared));
    if (in_array) {
      builder_.Append(id, value);
    } else {
      builder_.Set(id, value);
    }
    NoteSpecial(id, value);
    return Ok();
  }

  // A JSON scalar as a Value, guided by the field's declared kind.
  Result<Value> Convert(dom::element element, FieldId id, ValueKind declared) {
    switch (element.type()) {
      case dom::element_type::STRING: {
        std::string_view s = element.get_string().value_unsafe();
        if (declared == ValueKind::kIp) {
          if (auto ip = ParseIp(s)) return builder_.IpValue(*ip);
        } else if (declared == ValueKind::kTimestamp) {
          if (auto ts = ParseTimestamp(s)) return Value::Timestamp(*ts);
          if (id == timestamp_id_) {
            return MakeError(ErrorCode::kParse, fmt::format("field '@timestamp': invalid timestamp \"{}\"", s));
          }
        }
        return builder_.StringValue(s);
      }
      case dom::element_type::INT64: {
        int64_t v = element.get_int64().value_unsafe();
        if (declared == ValueKind::kTimestamp) return EpochMillis(id, static_cast<double>(v), v);
        if (declared == ValueKind::kU64 && v >= 0) return Value::U64(static_cast<uint64_t>(v));
        if (declared == ValueKind::kF64) return Value::F64(static_cast<double>(v));
        return Value::I64(v);
      }
      case dom::element_type::UINT64: return Value::U64(element.get_uint64().value_unsafe());
      case dom::element_type::DOUBLE: {
        double d = element.get_double().value_unsafe();
        if (declared == ValueKind::kTimestamp) return EpochMillis(id, d, std::nullopt);
        return Value::F64(d);
      }
      case dom::element_type::BOOL: return Value::Bool(element.get_bool().value_unsafe());
      default: return Value::Null();
    }
  }

  Result<Value> EpochMillis(FieldId id, double approx, std::optional<int64_t> exact) {
    constexpr double kLimit = 9.2e12;  // ~ year 2262: the end of int64 nanoseconds
    if (!(std::fabs(approx) < kLimit)) {
      return MakeError(ErrorCode::kParse, fmt::format("field '{}': epoch milliseconds out of range", registry_->name(id)));
    }
    if (exact) return Value::Timestamp(*exact * 1'000'000);
    return Value::Timestamp(std::llround(approx * 1e6));
  }

  void NoteSpecial(FieldId id, const Value& value) {
    if (id == timestamp_id_ && value.kind() == ValueKind::kTimestamp) {
      special_.ts_wall_ns = value.as_timestamp_ns();
    } else if (id == type_field_id_ && value.kind() == ValueKind::kString && special_.category.empty()) {
      special_.category = value.as_string();
    } else if (id == entity_id_id_ && value.kind() == ValueKind::kString) {
      special_.entity_id = value.as_string();
    } else if ((id == pid_id_ || id == unique_pid_id_) && value.kind() == ValueKind::kI64) {
      if (!special_.pid || id == unique_pid_id_) special_.pid = value.as_i64();
    } else if (id == filetime_id_ && (value.kind() == ValueKind::kU64 || value.kind() == ValueKind::kI64)) {
      special_.filetime = value.as_u64();
    }
  }

  // The "kestrel" object (or "kestrel.*" dotted keys) carries the event header.
  Result<bool> ReadMeta(std::string_view key, dom::element value) {
    if (key == "kestrel") {
      dom::object object;
      if (value.get(object) != simdjson::SUCCESS) return false;
      for (dom::key_value_pair field : object) {
        KESTREL_ASSIGN_OR_RETURN(bool known, ReadMetaField(field.key, field.value));
        if (known) continue;
        // Not a header field: an ordinary one.
        KESTREL_ASSIGN_OR_RETURN(uint32_t kestrel, paths_.Child(JsonPathTree::kRoot, "kestrel"));
        KESTREL_ASSIGN_OR_RETURN(uint32_t child, paths_.Child(kestrel, field.key));
        KESTREL_TRY(WalkValue(field.value, child, 1, false));
      }
      return true;
    }
    if (!key.starts_with("kestrel.")) return false;
    return ReadMetaField(key.substr(8), value);
  }

  Result<bool> ReadMetaField(std::string_view key, dom::element value) {
    MetaHeader& meta = special_.meta;
    if (key == "event_type") {
      std::string_view s;
      if (value.get(s) != simdjson::SUCCESS) return BadMeta(key);
      meta.event_type = builder_.arena().CopyString(s);
      return true;
    }
    std::optional<uint64_t>* slot = key == "event_id"     ? &meta.event_id
                                    : key == "ts_mono_ns" ? &meta.ts_mono_ns
                                    : key == "ts_wall_ns" ? &meta.ts_wall_ns
                                    : key == "entity_key" ? &meta.entity_key
                                                          : nullptr;
    if (slot == nullptr) return false;
    uint64_t v = 0;
    if (value.get(v) != simdjson::SUCCESS) return BadMeta(key);
    *slot = v;
    return true;
  }

  tl::unexpected<Error> BadMeta(std::string_view key) {
    return MakeError(ErrorCode::kParse, fmt::format("header field 'kestrel.{}' has the wrong type", key));
  }

  Status FillHeader() {
    EventHeader& h = builder_.header();
    const MetaHeader& meta = special_.meta;
    std::string_view type_name = meta.event_type ? *meta.event_type : special_.category;
    if (!type_name.empty()) {
      KESTREL_ASSIGN_OR_RETURN(h.type, registry_->InternEventType(type_name));
    }
    std::optional<int64_t> wall = special_.ts_wall_ns;
    if (options_.profile == InputProfile::kEndgame && special_.filetime) {
      wall = FileTimeToUnixNs(*special_.filetime);
      if (!wall) return MakeError(ErrorCode::kParse, "field 'timestamp': FILETIME out of range");
    }
    if (wall && *wall < 0) return MakeError(ErrorCode::kParse, "timestamp before 1970-01-01 is not supported");
    h.ts_wall_ns = meta.ts_wall_ns ? *meta.ts_wall_ns : static_cast<uint64_t>(wall.value_or(0));
    h.ts_mono_ns = meta.ts_mono_ns ? *meta.ts_mono_ns : h.ts_wall_ns;
    h.event_id = meta.event_id ? *meta.event_id : next_event_id_++;
    if (meta.entity_key) {
      h.entity_key = *meta.entity_key;
    } else if (!special_.entity_id.empty()) {
      h.entity_key = Hash64(special_.entity_id);
    } else if (special_.pid) {
      int64_t pid = *special_.pid;
      h.entity_key = Hash64(&pid, sizeof(pid), /*seed=*/1);
    }
    return Ok();
  }

  std::unique_ptr<InputFile> input_;
  ReadOptions options_;
  SchemaRegistry* registry_;
  JsonRecordSplitter splitter_;
  dom::parser parser_;
  EventBuilder builder_;
  uint64_t next_event_id_;
  JsonPathTree paths_;
  Special special_;
  FieldId timestamp_id_, category_id_, entity_id_id_, pid_id_;
  FieldId type_field_id_;  // event.category (ECS) or event_type (Endgame)
  FieldId filetime_id_{UINT32_MAX}, unique_pid_id_{UINT32_MAX};  // Endgame only
};

}  // namespace

Result<std::unique_ptr<EventReader>> OpenNdjsonReader(std::unique_ptr<InputFile> input,
                                                      const ReadOptions& options, SchemaRegistry* registry) {
  auto reader = std::make_unique<NdjsonReader>(std::move(input), options, registry);
  KESTREL_TRY(reader->Init());
  return std::unique_ptr<EventReader>(std::move(reader));
}

}  // namespace kestrel
