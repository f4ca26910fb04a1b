#include "event/stored_event.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace kestrel {
namespace {

// Bytes a deep copy of `v` needs beyond its own 16 (strings, addresses, array elements).
size_t ExtraBytes(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kString: return v.as_string().size();
    case ValueKind::kIp: return sizeof(IpAddress);
    case ValueKind::kArray: {
      size_t n = v.as_array().size() * sizeof(Value);
      for (const Value& e : v.as_array()) n += ExtraBytes(e);
      return n;
    }
    default: return 0;
  }
}

// Copies what `v` points to into [cursor, ...) and returns the copy. Values are laid out
// before bytes, so every Value stays 8-byte aligned.
Value CopyInto(const Value& v, uint8_t*& values, uint8_t*& bytes) {
  switch (v.kind()) {
    case ValueKind::kString: {
      std::string_view s = v.as_string();
      if (!s.empty()) std::memcpy(bytes, s.data(), s.size());
      Value copy = Value::String({reinterpret_cast<const char*>(bytes), s.size()});
      bytes += s.size();
      return copy;
    }
    case ValueKind::kIp: {
      std::memcpy(bytes, v.as_ip().bytes, sizeof(IpAddress));
      Value copy = Value::Ip(reinterpret_cast<const IpAddress*>(bytes));
      bytes += sizeof(IpAddress);
      return copy;
    }
    case ValueKind::kArray: {
      auto elements = v.as_array();
      auto* out = reinterpret_cast<Value*>(values);
      values += elements.size() * sizeof(Value);
      for (size_t i = 0; i < elements.size(); ++i) new (&out[i]) Value(CopyInto(elements[i], values, bytes));
      return Value::Array({out, elements.size()});
    }
    default:
      return v;
  }
}

size_t ArrayValueBytes(const Value& v) {  // Value slots of nested arrays
  if (v.kind() != ValueKind::kArray) return 0;
  size_t n = v.as_array().size() * sizeof(Value);
  for (const Value& e : v.as_array()) n += ArrayValueBytes(e);
  return n;
}

}  // namespace

StoredEvent* StoredEvent::Create(const Event& event) {
  FieldList fields = event.fields();
  size_t value_bytes = fields.size() * sizeof(Field);
  size_t byte_bytes = 0;
  for (const Field& f : fields) {
    value_bytes += ArrayValueBytes(f.value);
    byte_bytes += ExtraBytes(f.value) - ArrayValueBytes(f.value);
  }
  size_t total = sizeof(StoredEvent) + value_bytes + byte_bytes;
  void* memory = std::malloc(total);
  if (memory == nullptr) throw std::bad_alloc();
  auto* stored = new (memory) StoredEvent();
  auto* field_out = reinterpret_cast<Field*>(stored + 1);
  auto* values = reinterpret_cast<uint8_t*>(field_out + fields.size());
  uint8_t* bytes = reinterpret_cast<uint8_t*>(stored + 1) + value_bytes;
  size_t k = 0;
  for (const Field& f : fields) {
    new (&field_out[k]) Field{f.id, CopyInto(f.value, values, bytes)};
    ++k;
  }
  stored->event_ = Event(event.header(), {field_out, fields.size()});
  stored->bytes_ = total;
  return stored;
}

void StoredEvent::Unref() {
  if (--refs_ == 0) {
    this->~StoredEvent();
    std::free(this);
  }
}

}  // namespace kestrel
