#include "eql/scalar.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>

#include "eql/matcher.h"
#include "event/ip_address.h"
#include "event/ndjson.h"
#include "event/timestamp.h"

namespace kestrel::eql {
namespace {

int Sign(double d) { return d < 0 ? -1 : (d > 0 ? 1 : 0); }

std::optional<Scalar> StringAsNumber(std::string_view s) {
  int64_t i = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
  if (ec == std::errc() && p == s.data() + s.size()) return Scalar::Int(i);
  double d = 0;
  auto [q, ec2] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec2 == std::errc() && q == s.data() + s.size()) return Scalar::Float(d);
  return std::nullopt;
}

// A timestamp against something else: epoch milliseconds (numbers) or a date string.
std::optional<int64_t> AsTimestampNs(const Scalar& x) {
  switch (x.kind) {
    case SKind::kTimestamp: return x.i;
    // Milliseconds beyond the nanosecond range saturate: later (or earlier) than any timestamp.
    case SKind::kInt: {
      int64_t ns = 0;
      if (__builtin_mul_overflow(x.i, int64_t{1'000'000}, &ns)) return x.i < 0 ? INT64_MIN : INT64_MAX;
      return ns;
    }
    case SKind::kFloat: {
      if (std::isnan(x.f)) return std::nullopt;
      double ns = x.f * 1e6;
      if (ns >= 9.2e18) return INT64_MAX;
      if (ns <= -9.2e18) return INT64_MIN;
      return static_cast<int64_t>(ns);
    }
    case SKind::kString: return ParseTimestamp(x.s);
    default: return std::nullopt;
  }
}

}  // namespace

int CompareStrings(std::string_view a, std::string_view b, bool insensitive) {
  if (!insensitive) {
    int c = a.compare(b);
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (!IsAscii(a) || !IsAscii(b)) {
    int c = FoldCase(a).compare(FoldCase(b));
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  size_t n = std::min(a.size(), b.size());
  for (size_t k = 0; k < n; ++k) {
    int x = static_cast<unsigned char>(AsciiLower(a[k]));
    int y = static_cast<unsigned char>(AsciiLower(b[k]));
    if (x != y) return x < y ? -1 : 1;
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

Scalar FromValue(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kBool: return Scalar::Bool(v.as_bool());
    case ValueKind::kI64: return Scalar::Int(v.as_i64());
    case ValueKind::kU64:
      return v.as_u64() <= static_cast<uint64_t>(INT64_MAX) ? Scalar::Int(static_cast<int64_t>(v.as_u64()))
                                                            : Scalar::Float(static_cast<double>(v.as_u64()));
    case ValueKind::kF64: return Scalar::Float(v.as_f64());
    case ValueKind::kString: return Scalar::String(v.as_string());
    case ValueKind::kIp: return Scalar::Ip(v.as_ip());
    case ValueKind::kTimestamp: return Scalar::Timestamp(v.as_timestamp_ns());
    default: return Scalar::Null();
  }
}

std::optional<int> CompareScalars(const Scalar& a, const Scalar& b, bool insensitive) {
  if (a.is_null() || b.is_null()) return std::nullopt;
  if (a.kind == SKind::kInt && b.kind == SKind::kInt) return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
  if (a.is_number() && b.is_number()) return Sign(a.as_double() - b.as_double());
  if (a.kind == SKind::kString && b.kind == SKind::kString) return CompareStrings(a.s, b.s, insensitive);
  if (a.kind == SKind::kBool && b.kind == SKind::kBool) return static_cast<int>(a.b) - static_cast<int>(b.b);
  if (a.kind == SKind::kTimestamp || b.kind == SKind::kTimestamp) {
    auto x = AsTimestampNs(a);
    auto y = AsTimestampNs(b);
    if (!x || !y) return std::nullopt;
    return *x < *y ? -1 : (*x > *y ? 1 : 0);
  }
  if (a.kind == SKind::kIp || b.kind == SKind::kIp) {
    auto ip_of = [](const Scalar& x) -> std::optional<IpAddress> {
      if (x.kind == SKind::kIp) return x.ip;
      if (x.kind == SKind::kString) return ParseIp(x.s);
      return std::nullopt;
    };
    auto x = ip_of(a);
    auto y = ip_of(b);
    if (!x || !y) return std::nullopt;
    int c = std::memcmp(x->bytes, y->bytes, 16);
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  // A number against a numeric string ("4" == 4), as Elasticsearch coerces keyword and long.
  if (a.kind == SKind::kString && b.is_number()) {
    auto n = StringAsNumber(a.s);
    return n ? CompareScalars(*n, b) : std::nullopt;
  }
  if (a.is_number() && b.kind == SKind::kString) {
    auto n = StringAsNumber(b.s);
    return n ? CompareScalars(a, *n) : std::nullopt;
  }
  return std::nullopt;
}

std::optional<Scalar> Arithmetic(Op op, const Scalar& a, const Scalar& b) {
  if (!a.is_number() || !b.is_number()) return std::nullopt;
  if (a.kind == SKind::kInt && b.kind == SKind::kInt) {
    int64_t x = a.i, y = b.i, r = 0;
    switch (op) {
      case Op::kAdd: if (__builtin_add_overflow(x, y, &r)) return std::nullopt; return Scalar::Int(r);
      case Op::kSub: if (__builtin_sub_overflow(x, y, &r)) return std::nullopt; return Scalar::Int(r);
      case Op::kMul: if (__builtin_mul_overflow(x, y, &r)) return std::nullopt; return Scalar::Int(r);
      case Op::kDiv: if (y == 0 || (x == INT64_MIN && y == -1)) return std::nullopt; return Scalar::Int(x / y);
      case Op::kMod: if (y == 0 || (x == INT64_MIN && y == -1)) return std::nullopt; return Scalar::Int(x % y);
      default: return std::nullopt;
    }
  }
  double x = a.as_double(), y = b.as_double();
  switch (op) {
    case Op::kAdd: return Scalar::Float(x + y);
    case Op::kSub: return Scalar::Float(x - y);
    case Op::kMul: return Scalar::Float(x * y);
    case Op::kDiv: if (y == 0) return std::nullopt; return Scalar::Float(x / y);
    case Op::kMod: if (y == 0) return std::nullopt; return Scalar::Float(std::fmod(x, y));
    default: return std::nullopt;
  }
}

void AppendScalarJson(std::string& out, const Scalar& s) {
  switch (s.kind) {
    case SKind::kNull: out += "null"; return;
    case SKind::kBool: out += s.b ? "true" : "false"; return;
    case SKind::kInt: out += std::to_string(s.i); return;
    case SKind::kFloat: AppendValueJson(out, Value::F64(s.f)); return;
    case SKind::kString: AppendJsonString(out, s.s); return;
    case SKind::kIp: AppendValueJson(out, Value::Ip(&s.ip)); return;
    case SKind::kTimestamp: AppendValueJson(out, Value::Timestamp(s.i)); return;
  }
}

void AppendScalarsJson(std::string& out, const std::vector<Scalar>& values) {
  out += '[';
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    AppendScalarJson(out, values[i]);
  }
  out += ']';
}

}  // namespace kestrel::eql
