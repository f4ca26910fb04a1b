// Builtin functions of EQL (Elasticsearch's, plus arrayContains, match and wildcard from
// python-eql). Null in, null out, unless a function says otherwise. String functions map over
// the elements of a multi-valued first argument.
#include <charconv>
#include <cmath>
#include <cstring>

#include "eql/evaluator.h"
#include "eql/matcher.h"
#include "event/ip_address.h"

namespace kestrel::eql {
namespace {

bool StartsWith(std::string_view s, std::string_view p, bool ci) {
  if (p.size() > s.size()) return false;
  if (!ci) return s.substr(0, p.size()) == p;
  for (size_t i = 0; i < p.size(); ++i) {
    if (AsciiLower(s[i]) != AsciiLower(p[i])) return false;
  }
  return true;
}

size_t Find(std::string_view s, std::string_view p, size_t from, bool ci) {
  if (!ci) return s.find(p, from);
  for (size_t i = from; i + p.size() <= s.size(); ++i) {
    if (StartsWith(s.substr(i), p, true)) return i;
  }
  return std::string_view::npos;
}

std::optional<Scalar> ParseNumber(std::string_view s, int base) {
  std::string_view t = s;
  bool negative = false;
  if (!t.empty() && (t[0] == '-' || t[0] == '+')) {
    negative = t[0] == '-';
    t.remove_prefix(1);
  }
  if ((base == 16 || base == 0) && t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
    t.remove_prefix(2);
    base = 16;
  }
  if (base == 0) base = 10;
  if (t.empty()) return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v, base);
  if (ec == std::errc() && p == t.data() + t.size()) return Scalar::Int(negative ? -v : v);
  if (base != 10) return std::nullopt;
  double d = 0;
  auto [q, ec2] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec2 == std::errc() && q == s.data() + s.size()) return Scalar::Float(d);
  return std::nullopt;
}

bool CidrContains(const IpAddress& ip, std::string_view cidr) {
  auto net = ParseNetwork(cidr);
  return net && NetworkContains(*net, ip);
}

// Strings are UTF-8; positions and lengths in EQL count characters (code points).
bool IsContinuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

int64_t CharCount(std::string_view s) {
  int64_t n = 0;
  for (char c : s) n += IsContinuation(c) ? 0 : 1;
  return n;
}

// Byte offset of character index `chars` (clamped to the end).
size_t ByteOffset(std::string_view s, int64_t chars) {
  size_t i = 0;
  for (int64_t k = 0; k < chars && i < s.size(); ++k) {
    ++i;
    while (i < s.size() && IsContinuation(s[i])) ++i;
  }
  return i;
}

}  // namespace

Evaluator::Range Evaluator::EvalCall(const Program& p, const IrNode& n, const Event* event, uint32_t base) {
  if (n.builtin == Builtin::kArrayCount || n.builtin == Builtin::kArraySearch) {
    // Binds each element of the array to the variable and evaluates the predicate.
    Range array = Eval(p, n.children[0], event);
    std::vector<Scalar> elements(stack_.begin() + array.begin, stack_.begin() + array.end);
    int64_t count = 0;
    for (const Scalar& element : elements) {
      if (element.is_null()) continue;
      BindVariable(n.index, element);
      auto top = static_cast<uint32_t>(stack_.size());
      if (TruthOf(Eval(p, n.children[1], event)) == Tri::kTrue) ++count;
      stack_.resize(top);
    }
    return Push(base, n.builtin == Builtin::kArrayCount ? Scalar::Int(count) : Scalar::Bool(count > 0));
  }
  auto arg_base = static_cast<uint32_t>(args_.size());
  for (uint32_t child : n.children) args_.push_back(Eval(p, child, event));
  Call call{n.builtin, n.insensitive, {}, nullptr};
  if (n.builtin == Builtin::kMatch || n.builtin == Builtin::kWildcard) {  // patterns compiled into matchers
    call.matchers = std::span<const Matcher>(p.matchers).subspan(n.index, n.count);
    call.exact = n.exact_set != UINT32_MAX ? &p.sets[n.exact_set] : nullptr;
  }
  Range r = CallInto(call, std::span<const Range>(args_).subspan(arg_base), base);
  args_.resize(arg_base);
  return r;
}

Evaluator::Range Evaluator::CallInto(const Call& call, std::span<const Range> args, uint32_t base) {
  auto arg = [&](size_t k) { return args[k]; };
  auto first = [&](size_t k) -> Scalar { return stack_[arg(k).begin]; };
  const size_t argc = args.size();
  const bool ci = call.insensitive;
  result_.clear();

  // Functions of one string (mapped over the elements of the first argument).
  auto map_strings = [&](auto fn) {
    Range a = arg(0);
    for (uint32_t i = a.begin; i < a.end; ++i) {
      const Scalar& x = stack_[i];
      if (x.is_null()) {
        result_.push_back(Scalar::Null());
        continue;
      }
      result_.push_back(fn(Text(x)));
    }
  };
  auto second_text = [&](size_t k) -> std::optional<std::string_view> {
    Scalar s = first(k);
    if (s.is_null()) return std::nullopt;
    return Text(s);
  };

  switch (call.builtin) {
    case Builtin::kAdd:
    case Builtin::kSubtract:
    case Builtin::kMultiply:
    case Builtin::kDivide:
    case Builtin::kModulo: {
      Op op = call.builtin == Builtin::kAdd        ? Op::kAdd
              : call.builtin == Builtin::kSubtract ? Op::kSub
              : call.builtin == Builtin::kMultiply ? Op::kMul
              : call.builtin == Builtin::kDivide   ? Op::kDiv
                                                : Op::kMod;
      // The operators' semantics; a NaN result (from infinities) is null here, as before.
      auto r = Arithmetic(op, first(0), first(1));
      bool nan = r && r->kind == SKind::kFloat && std::isnan(r->f);
      result_.push_back(r && !nan ? *r : Scalar::Null());
      break;
    }
    case Builtin::kBetween: {
      auto left = second_text(1), right = second_text(2);
      bool greedy = argc > 3 && first(3).kind == SKind::kBool && first(3).b;
      if (!left || !right) {
        result_.push_back(Scalar::Null());
        break;
      }
      map_strings([&](std::string_view s) {
        if (left->empty() || right->empty()) return Scalar::String(s);  // as Elasticsearch
        size_t l = Find(s, *left, 0, ci);
        if (l == std::string_view::npos) return Scalar::String("");
        size_t from = l + left->size();
        size_t r = std::string_view::npos;
        if (greedy) {
          for (size_t i = s.size() >= right->size() ? s.size() - right->size() + 1 : 0; i-- > from;) {
            if (StartsWith(s.substr(i), *right, ci)) {
              r = i;
              break;
            }
          }
        } else {
          r = Find(s, *right, from, ci);
        }
        if (r == std::string_view::npos) return Scalar::String("");
        return Scalar::String(s.substr(from, r - from));
      });
      break;
    }
    case Builtin::kCidrMatch: {
      Range a = arg(0);
      bool any_value = false, found = false;
      for (uint32_t i = a.begin; i < a.end && !found; ++i) {
        const Scalar& x = stack_[i];
        std::optional<IpAddress> ip;
        if (x.kind == SKind::kIp) ip = x.ip;
        if (x.kind == SKind::kString) ip = ParseIp(x.s);
        if (!ip) continue;
        any_value = true;
        for (size_t k = 1; k < argc && !found; ++k) {
          Scalar c = first(k);
          if (c.kind == SKind::kString) found = CidrContains(*ip, c.s);
        }
      }
      result_.push_back(any_value ? Scalar::Bool(found) : Scalar::Null());
      break;
    }
    case Builtin::kConcat: {
      std::string out;
      bool null = false;
      for (size_t k = 0; k < argc && !null; ++k) {
        Scalar x = first(k);
        if (x.is_null()) {
          null = true;
        } else {
          out += Text(x);
        }
      }
      result_.push_back(null ? Scalar::Null() : Scalar::String(scratch_.CopyString(out)));
      break;
    }
    case Builtin::kEndsWith:
    case Builtin::kStartsWith:
    case Builtin::kStringContains: {
      auto needle = second_text(1);
      if (!needle) {
        result_.push_back(Scalar::Null());
        break;
      }
      Builtin b = call.builtin;
      map_strings([&](std::string_view s) {
        if (b == Builtin::kStartsWith) return Scalar::Bool(StartsWith(s, *needle, ci));
        if (b == Builtin::kEndsWith) {
          return Scalar::Bool(s.size() >= needle->size() && StartsWith(s.substr(s.size() - needle->size()), *needle, ci));
        }
        return Scalar::Bool(Find(s, *needle, 0, ci) != std::string_view::npos);
      });
      break;
    }
    case Builtin::kIndexOf: {
      auto needle = second_text(1);
      int64_t start = argc > 2 && first(2).kind == SKind::kInt ? std::max<int64_t>(0, first(2).i) : 0;
      if (!needle || (argc > 2 && first(2).is_null())) {
        result_.push_back(Scalar::Null());
        break;
      }
      map_strings([&](std::string_view s) {
        if (start > CharCount(s)) return Scalar::Null();
        size_t at = Find(s, *needle, ByteOffset(s, start), ci);
        return at == std::string_view::npos ? Scalar::Null() : Scalar::Int(CharCount(s.substr(0, at)));
      });
      break;
    }
    case Builtin::kLength:
      map_strings([&](std::string_view s) { return Scalar::Int(CharCount(s)); });
      break;
    case Builtin::kNumber: {
      int base_value = 0;
      if (argc > 1 && !first(1).is_null()) {  // a null base means the default
        Scalar b = first(1);
        if (b.kind != SKind::kInt || b.i < 2 || b.i > 36) {
          result_.push_back(Scalar::Null());
          break;
        }
        base_value = static_cast<int>(b.i);
      }
      Range a = arg(0);
      for (uint32_t i = a.begin; i < a.end; ++i) {
        const Scalar& x = stack_[i];
        if (x.is_number()) {
          result_.push_back(x);
        } else if (x.kind == SKind::kString) {
          result_.push_back(ParseNumber(x.s, base_value).value_or(Scalar::Null()));
        } else {
          result_.push_back(Scalar::Null());
        }
      }
      break;
    }
    case Builtin::kString: {
      Range a = arg(0);
      for (uint32_t i = a.begin; i < a.end; ++i) {
        const Scalar& x = stack_[i];
        result_.push_back(x.is_null() ? Scalar::Null() : Scalar::String(Text(x)));
      }
      break;
    }
    case Builtin::kSubstring: {
      Scalar s0 = first(1);
      if (s0.kind != SKind::kInt || (argc > 2 && first(2).kind != SKind::kInt)) {
        result_.push_back(Scalar::Null());
        break;
      }
      bool has_end = argc > 2;
      int64_t e0 = has_end ? first(2).i : 0;
      map_strings([&](std::string_view s) {
        int64_t len = CharCount(s);
        int64_t b = s0.i < 0 ? std::max<int64_t>(0, len + s0.i) : std::min(s0.i, len);
        int64_t e = !has_end ? len : (e0 < 0 ? std::max<int64_t>(0, len + e0) : std::min(e0, len));
        if (e < b) e = b;
        size_t from = ByteOffset(s, b);
        return Scalar::String(s.substr(from, ByteOffset(s, e) - from));
      });
      break;
    }
    case Builtin::kArrayContains: {
      Range a = arg(0);
      bool found = false, any = false;
      for (uint32_t i = a.begin; i < a.end && !found; ++i) {
        if (stack_[i].is_null()) continue;
        any = true;
        for (size_t k = 1; k < argc && !found; ++k) {
          auto c = CompareScalars(stack_[i], first(k), ci);
          found = c && *c == 0;
        }
      }
      result_.push_back(any ? Scalar::Bool(found) : Scalar::Null());
      break;
    }
    case Builtin::kArrayCount:
    case Builtin::kArraySearch: break;  // loops over a predicate: EvalCall, or the caller's code
    case Builtin::kMatch:
    case Builtin::kWildcard: {
      // The patterns were compiled into matchers.
      Range a = arg(0);
      bool found = false, any = false;
      for (uint32_t i = a.begin; i < a.end && !found; ++i) {
        if (stack_[i].is_null()) continue;
        any = true;
        found = MatchesAny(call.matchers, call.exact, Text(stack_[i]));
      }
      result_.push_back(any ? Scalar::Bool(found) : Scalar::Null());
      break;
    }
  }
  stack_.resize(base);
  stack_.insert(stack_.end(), result_.begin(), result_.end());
  if (stack_.size() == base) stack_.push_back(Scalar::Null());
  return {base, static_cast<uint32_t>(stack_.size())};
}

}  // namespace kestrel::eql
