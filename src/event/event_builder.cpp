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
  // Sort 8-byte keys (id, order added) rather than the entries: parts of one field keep their
  // order, and std::sort on integers neither allocates nor moves much.
  // Events from one producer usually repeat the previous event's field order: then the sorted
  // keys are the same as last time and the sort is skipped.
  bool same_shape = pending_.size() == last_ids_.size();
  for (size_t i = 0; same_shape && i < pending_.size(); ++i) same_shape = pending_[i].id.value == last_ids_[i];
  if (!same_shape) {
    keys_.clear();
    last_ids_.clear();
    for (const Pending& p : pending_) {
      keys_.push_back(uint64_t{p.id.value} << 32 | p.seq);
      last_ids_.push_back(p.id.value);
    }
    std::sort(keys_.begin(), keys_.end());
  }
  auto id_of = [](uint64_t key) { return static_cast<uint32_t>(key >> 32); };
  size_t distinct = 0;
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (i == 0 || id_of(keys_[i]) != id_of(keys_[i - 1])) ++distinct;
  }
  Field* fields = arena_->AllocateArray<Field>(distinct);
  size_t out = 0;
  for (size_t begin = 0; begin < keys_.size();) {
    size_t end = begin + 1;
    while (end < keys_.size() && id_of(keys_[end]) == id_of(keys_[begin])) ++end;
    bool is_array = false;
    size_t elements = 0;
    for (size_t i = begin; i < end; ++i) {
      Part part = pending_[static_cast<uint32_t>(keys_[i])].part;
      if (part != Part::kScalar) is_array = true;
      if (part != Part::kArrayMarker) ++elements;
    }
    Field& field = fields[out++];
    field.id = FieldId{id_of(keys_[begin])};
    if (!is_array) {
      field.value = pending_[static_cast<uint32_t>(keys_[end - 1])].value;  // the last scalar wins
    } else {
      Value* values = arena_->AllocateArray<Value>(elements);
      size_t k = 0;
      for (size_t i = begin; i < end; ++i) {
        const Pending& p = pending_[static_cast<uint32_t>(keys_[i])];
        if (p.part != Part::kArrayMarker) values[k++] = p.value;
      }
      field.value = Value::Array({values, elements});
    }
    begin = end;
  }
  pending_.clear();
  return Event(header_, {fields, distinct});
}

}  // namespace kestrel
