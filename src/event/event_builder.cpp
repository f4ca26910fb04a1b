#include "event/event_builder.h"

#include <algorithm>

namespace kestrel {

Value EventBuilder::IpValue(const IpAddress& ip) {
  auto* copy = arena_->AllocateArray<IpAddress>(1);
  *copy = ip;
  return Value::Ip(copy);
}

Value EventBuilder::CopyValue(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kString: return StringValue(v.as_string());
    case ValueKind::kIp: return IpValue(v.as_ip());
    case ValueKind::kArray: {
      auto elements = v.as_array();
      Value* copy = arena_->AllocateArray<Value>(elements.size());
      for (size_t i = 0; i < elements.size(); ++i) copy[i] = CopyValue(elements[i]);
      return Value::Array({copy, elements.size()});
    }
    default: return v;
  }
}

Event EventBuilder::Copy(const Event& event) {
  auto source = event.fields();
  Field* fields = arena_->AllocateArray<Field>(source.size());
  for (size_t i = 0; i < source.size(); ++i) fields[i] = Field{source[i].id, CopyValue(source[i].value)};
  return Event(event.header(), {fields, source.size()});
}

Event EventBuilder::Finish() {
  // Stable: parts of one field keep the order they were added in.
  std::stable_sort(pending_.begin(), pending_.end(),
                   [](const Pending& a, const Pending& b) { return a.id < b.id; });
  size_t distinct = 0;
  for (size_t i = 0; i < pending_.size(); ++i) {
    if (i == 0 || pending_[i].id != pending_[i - 1].id) ++distinct;
  }
  Field* fields = arena_->AllocateArray<Field>(distinct);
  size_t out = 0;
  for (size_t begin = 0; begin < pending_.size();) {
    size_t end = begin + 1;
    while (end < pending_.size() && pending_[end].id == pending_[begin].id) ++end;
    bool is_array = false;
    size_t elements = 0;
    for (size_t i = begin; i < end; ++i) {
      if (pending_[i].part != Part::kScalar) is_array = true;
      if (pending_[i].part != Part::kArrayMarker) ++elements;
    }
    Field& field = fields[out++];
    field.id = pending_[begin].id;
    if (!is_array) {
      field.value = pending_[end - 1].value;  // the last scalar wins
    } else {
      Value* values = arena_->AllocateArray<Value>(elements);
      size_t k = 0;
      for (size_t i = begin; i < end; ++i) {
        if (pending_[i].part != Part::kArrayMarker) values[k++] = pending_[i].value;
      }
      field.value = Value::Array({values, elements});
    }
    begin = end;
  }
  pending_.clear();
  return Event(header_, {fields, distinct});
}

}  // namespace kestrel
