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
namespace ondemand = simdjson::ondemand;

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

// One JSON scalar, as either simdjson API delivers it.
struct JsonScalar {
  ValueKind kind = ValueKind::kNull;  // kString, kI64, kU64, kF64, kBool or kNull
  std::string_view str;
  int64_t i64 = 0;
  uint64_t u64 = 0;
  double f64 = 0;
  bool boolean = false;
};

JsonScalar ScalarOf(dom::element element) {
  JsonScalar s;
  switch (element.type()) {
    case dom::element_type::STRING:
      s.kind = ValueKind::kString;
      s.str = element.get_string().value_unsafe();
      break;
    case dom::element_type::INT64:
      s.kind = ValueKind::kI64;
      s.i64 = element.get_int64().value_unsafe();
      break;
    case dom::element_type::UINT64:
      s.kind = ValueKind::kU64;
      s.u64 = element.get_uint64().value_unsafe();
      break;
    case dom::element_type::DOUBLE:
      s.kind = ValueKind::kF64;
      s.f64 = element.get_double().value_unsafe();
      break;
    case dom::element_type::BOOL:
      s.kind = ValueKind::kBool;
      s.boolean = element.get_bool().value_unsafe();
      break;
    default: break;
  }
  return s;
}

// A key's bytes straight from the input; false when it holds escapes (left to the DOM path).
bool RawKey(const char* begin, std::string_view& key) {
  const char* p = begin;
  for (; *p != '"'; ++p) {
    if (*p == '\\') return false;
  }
  key = {begin, static_cast<size_t>(p - begin)};
  return true;
}

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

  // Two ways to decode a record. The fast one (On-Demand) handles records whose every path and
  // field earlier records have registered, and gives up ("bails") on anything else: a new path
  // or field, a key with escapes, any error at all. The DOM walk then decodes the record from
  // scratch. It is the reference: it owns every error message and every registration, so the
  // fast path never changes what a record decodes to, only how fast.
  Result<Event> Decode(const JsonRecord& record) {
    if (FastWalk(record)) {
      KESTREL_TRY(FillHeader());
      return builder_.Finish();
    }
    return DomDecode(record);
  }

  // ---- The fast path: simdjson On-Demand, known paths only --------------------------------

  enum class Meta : uint8_t { kBail, kOrdinary, kConsumed };

  bool FastWalk(const JsonRecord& record) {
    ondemand::document doc;
    if (ondemand_.iterate(record.data, record.size, record.size + simdjson::SIMDJSON_PADDING).get(doc)) return false;
    ondemand::object object;
    if (doc.get_object().get(object)) return false;
    builder_.Start();
    special_ = Special{};
    if (!FastObject(object, JsonPathTree::kRoot, 0, false)) return false;
    return doc.current_location().error() == simdjson::OUT_OF_BOUNDS;  // nothing after the object
  }

  bool FastObject(ondemand::object& object, uint32_t node, int depth, bool in_array) {
    if (depth > kMaxDepth) return false;
    for (auto result : object) {
      ondemand::field field;
      if (std::move(result).get(field)) return false;
      const char* raw = field.key().raw();
      const JsonPathTree::Edge* known = paths_.FindRaw(node, raw);
      std::string_view key;
      if (known != nullptr) {
        key = known->key();
      } else if (!RawKey(raw, key)) {
        return false;
      }
      ondemand::value& value = field.value();
      if (depth == 0 && key.starts_with("kestrel")) {
        Meta meta = FastMeta(key, value);
        if (meta == Meta::kBail) return false;
        if (meta == Meta::kConsumed) continue;
      }
      uint32_t child = known != nullptr ? known->node : paths_.Find(node, key);
      if (child == JsonPathTree::kNotFound || !FastValue(value, child, depth, in_array)) return false;
    }
    return true;
  }

  // A value: containers recurse through FastContainer; scalars, most values, stay inline.
  [[gnu::always_inline]] bool FastValue(ondemand::value& value, uint32_t node, int depth, bool in_array) {
    ondemand::json_type type;
    if (value.type().get(type)) return false;
    if (type == ondemand::json_type::object || type == ondemand::json_type::array) {
      return FastContainer(value, type, node, depth, in_array);
    }
    return FastScalar(value, type, node, in_array);
  }

  [[gnu::noinline]] bool FastContainer(ondemand::value& value, ondemand::json_type type, uint32_t node, int depth, bool in_array) {
    if (type == ondemand::json_type::object) {
      ondemand::object object;
      return !value.get_object().get(object) && FastObject(object, node, depth + 1, in_array);
    }
    ondemand::array array;
    if (depth > kMaxDepth || value.get_array().get(array)) return false;
    size_t elements = 0;
    for (auto result : array) {
      ondemand::value element;
      if (result.get(element) || !FastValue(element, node, depth + 1, true)) return false;
      ++elements;
    }
    if (elements > 0) return true;
    FieldId id;
    if (!CachedField(node, ValueKind::kNull, id)) return false;
    builder_.MarkArray(id);
    return true;
  }

  [[gnu::always_inline]] bool FastScalar(ondemand::value& value, ondemand::json_type type, uint32_t node, bool in_array) {
    JsonScalar s;
    switch (type) {
      case ondemand::json_type::object:
      case ondemand::json_type::array: return false;  // FastContainer's
      case ondemand::json_type::string:
        s.kind = ValueKind::kString;
        if (value.get_string().get(s.str)) return false;
        break;
      case ondemand::json_type::number: {
        ondemand::number number;
        if (value.get_number().get(number)) return false;
        switch (number.get_number_type()) {
          case ondemand::number_type::signed_integer:
            s.kind = ValueKind::kI64;
            s.i64 = number.get_int64();
            break;
          case ondemand::number_type::unsigned_integer:
            s.kind = ValueKind::kU64;
            s.u64 = number.get_uint64();
            break;
          case ondemand::number_type::floating_point_number:
            s.kind = ValueKind::kF64;
            s.f64 = number.get_double();
            break;
        }
        break;
      }
      case ondemand::json_type::boolean:
        s.kind = ValueKind::kBool;
        if (value.get_bool().get(s.boolean)) return false;
        break;
      case ondemand::json_type::null: {
        bool is_null = false;
        if (value.is_null().get(is_null) || !is_null) return false;
        break;
      }
    }
    const JsonPathTree::Node& n = paths_.node(node);
    if (!n.field || (n.declared == ValueKind::kNull && s.kind != ValueKind::kNull)) return false;  // see LeafField
    const FieldId id = *n.field;
    Value v;
    // Convert's two commonest cases inline: a string stays a string, an integer an integer.
    if (s.kind == ValueKind::kString && n.declared != ValueKind::kIp && n.declared != ValueKind::kTimestamp) {
      v = builder_.StringValue(s.str);
    } else if (s.kind == ValueKind::kI64 && n.declared == ValueKind::kI64) {
      v = Value::I64(s.i64);
    } else {
      auto converted = Convert(s, id, n.declared);
      if (!converted) return false;
      v = *converted;
    }
    if (in_array) {
      builder_.Append(id, v);
    } else {
      builder_.Set(id, v);
    }
    if (n.header_source) NoteSpecial(id, v);
    return true;
  }

  // The field cached for a path, when LeafField would return it without touching the registry.
  bool CachedField(uint32_t node, ValueKind kind, FieldId& id) {
    const JsonPathTree::Node& n = paths_.node(node);
    if (!n.field || (n.declared == ValueKind::kNull && kind != ValueKind::kNull)) return false;
    id = *n.field;
    return true;
  }

  // ReadMeta for On-Demand values.
  Meta FastMeta(std::string_view key, ondemand::value& value) {
    if (key != "kestrel") return key.starts_with("kestrel.") ? FastMetaField(key.substr(8), value) : Meta::kOrdinary;
    ondemand::json_type type;
    if (value.type().get(type)) return Meta::kBail;
    if (type != ondemand::json_type::object) return Meta::kOrdinary;
    ondemand::object object;
    if (value.get_object().get(object)) return Meta::kBail;
    for (auto result : object) {
      ondemand::field field;
      std::string_view field_key;
      if (std::move(result).get(field) || !RawKey(field.key().raw(), field_key)) return Meta::kBail;
      ondemand::value& field_value = field.value();
      Meta meta = FastMetaField(field_key, field_value);
      if (meta == Meta::kBail) return meta;
      if (meta == Meta::kConsumed) continue;
      uint32_t kestrel = paths_.Find(JsonPathTree::kRoot, "kestrel");
      if (kestrel == JsonPathTree::kNotFound) return Meta::kBail;
      uint32_t child = paths_.Find(kestrel, field_key);
      if (child == JsonPathTree::kNotFound || !FastValue(field_value, child, 1, false)) return Meta::kBail;
    }
    return Meta::kConsumed;
  }

  Meta FastMetaField(std::string_view key, ondemand::value& value) {
    MetaHeader& meta = special_.meta;
    if (key == "event_type") {
      std::string_view s;
      if (value.get_string().get(s)) return Meta::kBail;
      meta.event_type = builder_.arena().CopyString(s);
      return Meta::kConsumed;
    }
    std::optional<uint64_t>* slot = MetaSlot(key);
    if (slot == nullptr) return Meta::kOrdinary;
    uint64_t v = 0;
    if (value.get_uint64().get(v)) return Meta::kBail;
    *slot = v;
    return Meta::kConsumed;
  }

  std::optional<uint64_t>* MetaSlot(std::string_view key) {
    MetaHeader& meta = special_.meta;
    return key == "event_id"     ? &meta.event_id
           : key == "ts_mono_ns" ? &meta.ts_mono_ns
           : key == "ts_wall_ns" ? &meta.ts_wall_ns
           : key == "entity_key" ? &meta.entity_key
                                 : nullptr;
  }

  // ---- The reference path: simdjson DOM ---------------------------------------------------

  Result<Event> DomDecode(const JsonRecord& record) {
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
      default: return AddScalar(ScalarOf(value), node, in_array);
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
    n.header_source = *id == timestamp_id_ || *id == type_field_id_ || *id == entity_id_id_ || *id == pid_id_ ||
                      *id == unique_pid_id_ || *id == filetime_id_;  // the fields NoteSpecial reads
    return *id;
  }

  Status AddScalar(const JsonScalar& scalar, uint32_t node, bool in_array) {
    KESTREL_ASSIGN_OR_RETURN(FieldId id, LeafField(node, {scalar.kind, in_array}));
    KESTREL_ASSIGN_OR_RETURN(Value value, Convert(scalar, id, paths_.node(node).declared));
    Store(id, value, in_array);
    return Ok();
  }

  // ---- Shared by both paths ---------------------------------------------------------------

  void Store(FieldId id, Value value, bool in_array) {
    if (in_array) {
      builder_.Append(id, value);
    } else {
      builder_.Set(id, value);
    }
    NoteSpecial(id, value);
  }

  // A JSON scalar as a Value, guided by the field's declared kind.
  Result<Value> Convert(const JsonScalar& scalar, FieldId id, ValueKind declared) {
    switch (scalar.kind) {
      case ValueKind::kString: {
        std::string_view s = scalar.str;
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
      case ValueKind::kI64: {
        int64_t v = scalar.i64;
        if (declared == ValueKind::kTimestamp) return EpochMillis(id, static_cast<double>(v), v);
        if (declared == ValueKind::kU64 && v >= 0) return Value::U64(static_cast<uint64_t>(v));
        if (declared == ValueKind::kF64) return Value::F64(static_cast<double>(v));
        return Value::I64(v);
      }
      case ValueKind::kU64: return Value::U64(scalar.u64);
      case ValueKind::kF64: {
        double d = scalar.f64;
        if (declared == ValueKind::kTimestamp) return EpochMillis(id, d, std::nullopt);
        return Value::F64(d);
      }
      case ValueKind::kBool: return Value::Bool(scalar.boolean);
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
    std::optional<uint64_t>* slot = MetaSlot(key);
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
  ondemand::parser ondemand_;
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
