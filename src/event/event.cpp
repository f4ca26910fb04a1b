#include "event/event.h"

namespace kestrel {

bool operator==(const Event& a, const Event& b) {
  if (!(a.header_ == b.header_) || a.num_fields_ != b.num_fields_) return false;
  for (uint32_t i = 0; i < a.num_fields_; ++i) {
    if (a.fields_[i].id != b.fields_[i].id || !(a.fields_[i].value == b.fields_[i].value)) return false;
  }
  return true;
}

}  // namespace kestrel
