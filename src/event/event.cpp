#include "event/event.h"

#include <algorithm>

namespace kestrel {

int32_t FieldShape::SearchSlot(FieldId id) const {
  const FieldId* end = ids + num_fields;
  const FieldId* it = std::lower_bound(ids, end, id);
  return it != end && *it == id ? int32_t{slots[it - ids]} : -1;
}

bool operator==(const Event& a, const Event& b) {
  if (!(a.header_ == b.header_) || a.num_fields_ != b.num_fields_) return false;
  FieldList fa = a.fields();
  FieldList fb = b.fields();
  for (uint32_t i = 0; i < a.num_fields_; ++i) {
    Field x = fa[i];
    Field y = fb[i];
    if (x.id != y.id || !(x.value == y.value)) return false;
  }
  return true;
}

}  // namespace kestrel
