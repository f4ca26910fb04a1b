// Value: one typed field value, a 16-byte non-owning view. Strings, IP addresses and array
// elements live elsewhere (the batch's arena, or a memory-mapped .klog) for as long as the
// event that holds the value.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "schema/field_type.h"

namespace kestrel {

// An IPv4 or IPv6 address. IPv4 is stored v4-mapped (::ffff:a.b.c.d) so comparisons are uniform.
// Alignment 1 so a value can point straight into a file.
struct IpAddress {
  uint8_t bytes[16];
  bool is_v4() const;
  friend bool operator==(const IpAddress& a, const IpAddress& b) {
    return std::memcmp(a.bytes, b.bytes, 16) == 0;
  }
};
static_assert(sizeof(IpAddress) == 16 && alignof(IpAddress) == 1);

class Value {
 public:
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): u_ initializes the union with ptr_
  constexpr Value() : u_(0), size_(0), kind_(ValueKind::kNull) {}

  static Value Null() { return {}; }
  static Value Bool(bool v) { return {ValueKind::kBool, static_cast<uint64_t>(v)}; }
  static Value I64(int64_t v) { return {ValueKind::kI64, static_cast<uint64_t>(v)}; }
  static Value U64(uint64_t v) { return {ValueKind::kU64, v}; }
  static Value F64(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    return {ValueKind::kF64, bits};
  }
  static Value Timestamp(int64_t ns) { return {ValueKind::kTimestamp, static_cast<uint64_t>(ns)}; }
  // The caller keeps the bytes alive (see EventBuilder, which copies them into its arena).
  static Value String(std::string_view s) {
    Value v;
    v.kind_ = ValueKind::kString;
    v.ptr_ = s.data();
    v.size_ = static_cast<uint32_t>(s.size());
    return v;
  }
  static Value Ip(const IpAddress* ip) {
    Value v;
    v.kind_ = ValueKind::kIp;
    v.ptr_ = ip;
    return v;
  }
  static Value Array(std::span<const Value> elements) {
    Value v;
    v.kind_ = ValueKind::kArray;
    v.ptr_ = elements.data();
    v.size_ = static_cast<uint32_t>(elements.size());
    return v;
  }

  // A value from its parts, for decoders that have checked them: `word` is a scalar's bits, or
  // the address of a string's bytes, an IP address or an array's first element. (GCC and Clang
  // define reading the other member of a union.)
  static Value FromParts(ValueKind kind, uint64_t word, uint32_t size) {
    Value v;
    v.kind_ = kind;
    v.u_ = word;
    v.size_ = size;
    return v;
  }

  ValueKind kind() const { return kind_; }
  bool is_null() const { return kind_ == ValueKind::kNull; }

  bool as_bool() const { return u_ != 0; }
  int64_t as_i64() const { return static_cast<int64_t>(u_); }
  uint64_t as_u64() const { return u_; }
  double as_f64() const {
    double d;
    std::memcpy(&d, &u_, 8);
    return d;
  }
  int64_t as_timestamp_ns() const { return static_cast<int64_t>(u_); }
  std::string_view as_string() const { return {static_cast<const char*>(ptr_), size_}; }
  const IpAddress& as_ip() const { return *static_cast<const IpAddress*>(ptr_); }
  std::span<const Value> as_array() const { return {static_cast<const Value*>(ptr_), size_}; }

  // Deep equality: same kind and same contents (f64 compared bitwise, so NaN == NaN here).
  friend bool operator==(const Value& a, const Value& b);

 private:
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): u_ initializes the union with ptr_
  Value(ValueKind kind, uint64_t bits) : u_(bits), size_(0), kind_(kind) {}

  union {
    uint64_t u_;
    const void* ptr_;
  };
  uint32_t size_;  // string length or array element count
  ValueKind kind_;
};
static_assert(sizeof(Value) == 16);

}  // namespace kestrel
