#include "event/value.h"

namespace kestrel {

bool IpAddress::is_v4() const {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  return std::memcmp(bytes, kMapped, 12) == 0;
}

bool operator==(const Value& a, const Value& b) {
  if (a.kind_ != b.kind_) return false;
  switch (a.kind_) {
    case ValueKind::kNull: return true;
    case ValueKind::kString: return a.as_string() == b.as_string();
    case ValueKind::kIp: return a.as_ip() == b.as_ip();
    case ValueKind::kArray: {
      auto x = a.as_array();
      auto y = b.as_array();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!(x[i] == y[i])) return false;
      }
      return true;
    }
    default: return a.u_ == b.u_;
  }
}

}  // namespace kestrel
