// Scalar: one runtime value of the evaluator (a field element, a literal, a function result).
// Strings are views: into the event, the compiled query, or the evaluation's scratch arena.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eql/ast.h"
#include "event/value.h"

namespace kestrel::eql {

enum class SKind : uint8_t { kNull, kBool, kInt, kFloat, kString, kIp, kTimestamp };

struct Scalar {
  SKind kind = SKind::kNull;
  bool b = false;
  int64_t i = 0;  // kInt, kTimestamp (ns)
  double f = 0;
  std::string_view s;
  IpAddress ip{};

  static Scalar Null() { return {}; }
  static Scalar Bool(bool v) { Scalar x; x.kind = SKind::kBool; x.b = v; return x; }
  static Scalar Int(int64_t v) { Scalar x; x.kind = SKind::kInt; x.i = v; return x; }
  static Scalar Float(double v) { Scalar x; x.kind = SKind::kFloat; x.f = v; return x; }
  static Scalar String(std::string_view v) { Scalar x; x.kind = SKind::kString; x.s = v; return x; }
  static Scalar Ip(const IpAddress& v) { Scalar x; x.kind = SKind::kIp; x.ip = v; return x; }
  static Scalar Timestamp(int64_t ns) { Scalar x; x.kind = SKind::kTimestamp; x.i = ns; return x; }

  bool is_null() const { return kind == SKind::kNull; }
  bool is_number() const { return kind == SKind::kInt || kind == SKind::kFloat; }
  double as_double() const { return kind == SKind::kInt ? static_cast<double>(i) : f; }
};

// A stored event value as a scalar (arrays are expanded by the caller).
Scalar FromValue(const Value& v);

// Three-way comparison of two strings: by bytes, or when insensitive ASCII case-folded (and
// through FoldCase when either is not ASCII). What CompareScalars does for two strings.
int CompareStrings(std::string_view a, std::string_view b, bool insensitive);

// Three-way comparison; nullopt when the two cannot be compared (either is null, or the kinds
// have no common order). Strings compare by bytes, or ASCII case-folded when insensitive.
std::optional<int> CompareScalars(const Scalar& a, const Scalar& b, bool insensitive = false);

// `+ - * / %` on numbers: integer arithmetic on two integers (`/` truncates), floating point
// otherwise; nullopt for non-numbers, integer overflow and division by zero.
std::optional<Scalar> Arithmetic(Op op, const Scalar& a, const Scalar& b);

// Appends `s` as JSON (strings escaped, IPs and timestamps as Kestrel writes them in events).
void AppendScalarJson(std::string& out, const Scalar& s);
// Appends `values` as a JSON array.
void AppendScalarsJson(std::string& out, const std::vector<Scalar>& values);

}  // namespace kestrel::eql
