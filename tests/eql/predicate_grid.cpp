#include "eql/predicate_grid.h"

#include <fmt/format.h>

#include <cmath>

#include "event/ip_address.h"
#include "event/ndjson.h"

namespace kestrel::testing {

PredicateGrid::PredicateGrid() : builder_(&batch_.arena()) {
  v_ = *registry_.Intern("d.v", {});
  w_ = *registry_.Intern("d.w", {});
  std::vector<std::optional<Value>> values = Values();
  const size_t n = values.size();
    auto add = [&](std::vector<Event>& out, size_t i, size_t j) { out.push_back(MakeEvent(values[i], values[j])); };
  for (size_t i = 0; i < n; ++i) {
    add(rows_, i, (i * 7 + 3) % n);
    for (size_t j = 0; j < n; ++j) add(grid_, i, j);
  }

  std::vector<std::string> leaves = Leaves();
  for (const std::string& leaf : leaves) predicates_.emplace_back(leaf, &rows_);
  auto on_w = [](std::string s) {
    for (size_t at = s.find("d.v"); at != std::string::npos; at = s.find("d.v", at)) s[at + 2] = 'w';
    return s;
  };
  for (size_t k = 0; k < kCombinations; ++k) {
    const std::string& a = leaves[(k * 37) % leaves.size()];
    const std::string& b = on_w(leaves[(k * 101 + 13) % leaves.size()]);
    const std::string& c = leaves[(k * 59 + 7) % leaves.size()];
    switch (k % 4) {
      case 0: predicates_.emplace_back(fmt::format("({}) and ({})", a, b), &grid_); break;
      case 1: predicates_.emplace_back(fmt::format("({}) or ({})", a, b), &grid_); break;
      case 2: predicates_.emplace_back(fmt::format("not (({}) and ({}))", b, a), &grid_); break;
      default: predicates_.emplace_back(fmt::format("(not ({}) or ({})) and not ({})", a, b, c), &grid_); break;
    }
  }

  num_leaves_ = leaves.size();
}

std::string PredicateGrid::Json(const Event& e) const {
  std::string out;
  AppendEventJson(out, e, registry_);
  return out;
}

  // The values a field takes; nullopt: the field is missing.
std::vector<std::optional<Value>> PredicateGrid::Values() {
    auto s = [&](std::string_view x) { return builder_.StringValue(x); };
    auto ip = [&](std::string_view x) { return builder_.IpValue(*ParseIp(x)); };
    auto array = [&](std::initializer_list<Value> elements) {
      Value* out = batch_.arena().AllocateArray<Value>(elements.size());
      std::copy(elements.begin(), elements.end(), out);
      return Value::Array({out, elements.size()});
    };
    const Value null = Value::Null();
    return {
        std::nullopt, null, Value::Bool(true), Value::Bool(false),
        Value::I64(0), Value::I64(4), Value::I64(-7), Value::I64(INT64_MAX), Value::I64(INT64_MIN),
        Value::U64(4), Value::U64(uint64_t{INT64_MAX}), Value::U64(uint64_t{INT64_MAX} + 1), Value::U64(UINT64_MAX),
        Value::F64(4.0), Value::F64(2.5), Value::F64(-0.0), Value::F64(NAN), Value::F64(INFINITY), Value::F64(1e7),
        s("4"), s("2.5"), s("-7"), s(""), s("bash"), s("BASH"), s("Bash"), s("/usr/bin/bash"), s("été"), s("ÉTÉ"),
        s("Été!"), s("10.0.0.1"), s("1970-01-01T00:00:00Z"), s("true"), s("4 "), s("1.0E7"),
        ip("10.0.0.1"), ip("::1"),
        Value::Timestamp(0), Value::Timestamp(1'000'000), Value::Timestamp(4'000'000),
        array({}), array({null}), array({null, null}), array({s("bash"), null}), array({null, Value::I64(4)}),
        array({Value::I64(4), s("bash")}), array({s("BASH"), s("été")}),
        array({Value::U64(UINT64_MAX), Value::F64(2.5)}),
        array({ip("10.0.0.1"), Value::Timestamp(0), Value::Bool(true)}),
        array({array({Value::I64(1), Value::I64(4)}), array({s("bash")})}), array({array({})}),
        array({array({null}), null}), array({array({array({s("bash")}), s("x")}), Value::I64(-7)}),
        array({array({array({s("bash")})})}),  // deeper than Eval flattens: null
    };
  }

Event PredicateGrid::MakeEvent(const std::optional<Value>& v, const std::optional<Value>& w) {
    builder_.Start();
    builder_.header().type = *registry_.InternEventType("process");
    if (v) builder_.Set(v_, *v);
    if (w) builder_.Set(w_, *w);
    return builder_.Finish();
  }

std::vector<std::string> PredicateGrid::Leaves() {
    std::vector<std::string> out;
    const char* constants[] = {"4", "-7", "0", "2.5", "4.0", "1e7", "9223372036854775807", "18446744073709551615",
                               R"("4")", R"("2.5")", R"("bash")", R"("BASH")", R"("été")", R"("ÉTÉ")", R"("")",
                               R"("10.0.0.1")", R"("::1")", R"("1970-01-01T00:00:00Z")", R"("true")", "true",
                               "false", "null"};
    for (const char* op : {"==", "!=", "<", "<=", ">", ">="}) {
      for (const char* c : constants) {
        out.push_back(fmt::format("d.v {} {}", op, c));
        out.push_back(fmt::format("{} {} d.v", c, op));
      }
    }
    // cidrMatch with constant networks (parsed once by the optimizer)
    for (const char* c : {R"(cidrMatch(d.v, "10.0.0.0/8"))", R"(cidrMatch(d.v, "192.168.0.0/16", "::1", "0.0.0.0/0"))",
                          R"(cidrMatch(d.v, "::/0"))", R"(cidrMatch(d.v, "10.0.0.1"))", R"(not cidrMatch(d.v, "10.0.0.0/8"))"}) {
      out.emplace_back(c);
    }
    for (const char* m : {R"(: "ba*")", R"(: "BASH")", R"(: "4")", R"(: "2.5")", R"(: "1.0E7")", R"(: "true")",
                          R"(: "10.0.0.*")", R"(: "*É*")", R"(: ("x*", "*sh"))", R"(like "ba*")", R"(like~ "BA*")",
                          R"(regex "-?[0-9]+")", R"(regex~ "B.SH")", R"(: "1970*")", R"(: "::1")", R"(: "*")",
                          R"(: "")", R"(in ("bash", "4"))", R"(in (4, "bash"))", R"(in (2.5, true))",
                          R"(in~ ("BASH", "ÉTÉ"))", R"(not in ("bash", "4"))", R"(in ("10.0.0.1", "::1"))",
                          R"(in (-7, 0))", R"(in ("1970-01-01T00:00:00Z"))", R"(not in~ ("été", 4))",
                          R"(in (18446744073709551615, 1e7))", "== null", "!= null"}) {
      out.push_back(fmt::format("d.v {}", m));
    }
    // Nodes the fast path leaves to the stack.
    for (const char* g : {"null != d.v", "d.v == d.w", "d.v < d.w", "d.v + 1 == 5", "length(d.v) > 3",
                          R"(startsWith(d.v, "ba"))", "d.v in (d.w, 4)", R"(string(d.v) : "4*")",
                          R"(cidrMatch(string(d.v), "10.0.0.0/8"))", "-d.v < 0", "d.v"}) {
      out.emplace_back(g);
    }
    return out;
  }

}  // namespace kestrel::testing
