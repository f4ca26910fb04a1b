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
      auto* copy = arena_->AllocateArray<Value>(elements.size());
      for (size_t i = 0; i < elements.size(); ++i) copy[i] = CopyValue(elements[i]);
      return Value::Array({copy, elements.size()});
    }
    default: return v;
  }
}

Event EventBuilder::Copy(const Event& event) {
  auto source = event.fields();
  auto* fields = arena_->AllocateArray<Field>(source.size());
  for (size_t i = 0; i < source.size(); ++i) fields[i] = Field{source[i].id, CopyValue(source[i].value)};
  return {event.header(), {fields, source.size()}};
}

void EventBuilder::Grow() { pending_.resize(std::max<size_t>(64, pending_.size() * 2)); }

const EventBuilder::Shape& EventBuilder::ShapeOfPending() {
  auto matches = [this](const Shape& shape) {
    if (shape.parts.size() != num_pending_) return false;
    for (size_t i = 0; i < num_pending_; ++i) {
      if (shape.parts[i] != ShapeKey(pending_[i])) return false;
    }
    return true;
  };
  if (matches(shapes_[last_shape_])) return shapes_[last_shape_];
  for (size_t s = 0; s < kShapes; ++s) {
    if (s != last_shape_ && matches(shapes_[s])) {
      last_shape_ = s;
      return shapes_[s];
    }
  }
  last_shape_ = next_shape_;
  next_shape_ = (next_shape_ + 1) % kShapes;
  Shape& shape = shapes_[last_shape_];
  Plan(shape);
  return shape;
}

void EventBuilder::Plan(Shape& shape) {
  // Sort 8-byte keys (id, order added) rather than the entries: parts of one field keep their
  // order, and std::sort on integers neither allocates nor moves much.
  sort_keys_.clear();
  for (size_t i = 0; i < num_pending_; ++i) sort_keys_.push_back(uint64_t{pending_[i].id.value} << 32 | i);
  std::sort(sort_keys_.begin(), sort_keys_.end());
  shape.parts.clear();
  shape.order.clear();
  shape.groups.clear();
  for (size_t i = 0; i < num_pending_; ++i) shape.parts.push_back(ShapeKey(pending_[i]));
  for (uint64_t key : sort_keys_) shape.order.push_back(static_cast<uint32_t>(key));
  auto id_of = [](uint64_t key) { return static_cast<uint32_t>(key >> 32); };
  for (size_t begin = 0; begin < sort_keys_.size();) {
    size_t end = begin + 1;
    while (end < sort_keys_.size() && id_of(sort_keys_[end]) == id_of(sort_keys_[begin])) ++end;
    Group group{FieldId{id_of(sort_keys_[begin])}, static_cast<uint32_t>(begin), static_cast<uint32_t>(end), 0, false};
    for (size_t i = begin; i < end; ++i) {
      Part part = pending_[shape.order[i]].part;
      if (part != Part::kScalar) group.is_array = true;
      if (part != Part::kArrayMarker) ++group.elements;
    }
    shape.groups.push_back(group);
    begin = end;
  }
}

Event EventBuilder::Finish() {
  const Shape& shape = ShapeOfPending();
  const size_t distinct = shape.groups.size();
  auto* fields = arena_->AllocateArray<Field>(distinct);
  for (size_t g = 0; g < distinct; ++g) {
    const Group& group = shape.groups[g];
    Field& field = fields[g];
    field.id = group.id;
    if (!group.is_array) {
      field.value = pending_[shape.order[group.end - 1]].value;  // the last scalar wins
      continue;
    }
    auto* values = arena_->AllocateArray<Value>(group.elements);
    size_t k = 0;
    for (uint32_t i = group.begin; i < group.end; ++i) {
      const Pending& p = pending_[shape.order[i]];
      if (p.part != Part::kArrayMarker) values[k++] = p.value;
    }
    field.value = Value::Array({values, group.elements});
  }
  num_pending_ = 0;
  return {header_, {fields, distinct}};
}

}  // namespace kestrel
