#include "nfa/join_keys.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include <fmt/format.h>

namespace kestrel::nfa {
void AppendKeyBytes(std::string& out, const eql::Scalar& s) {
  out.push_back(static_cast<char>(s.kind));
  switch (s.kind) {
    case eql::SKind::kNull: break;
    case eql::SKind::kBool: out.push_back(s.b ? '1' : '0'); break;
    case eql::SKind::kInt:
    case eql::SKind::kTimestamp: out.append(reinterpret_cast<const char*>(&s.i), sizeof(s.i)); break;
    case eql::SKind::kFloat: out.append(reinterpret_cast<const char*>(&s.f), sizeof(s.f)); break;
    case eql::SKind::kIp: out.append(reinterpret_cast<const char*>(s.ip.bytes), 16); break;
    case eql::SKind::kString: {
      auto n = static_cast<uint32_t>(s.s.size());
      out.append(reinterpret_cast<const char*>(&n), sizeof(n));
      out.append(s.s);
      break;
    }
  }
}

namespace {

bool SameScalar(const eql::Scalar& a, const eql::Scalar& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case eql::SKind::kNull: return true;
    case eql::SKind::kBool: return a.b == b.b;
    case eql::SKind::kInt:
    case eql::SKind::kTimestamp: return a.i == b.i;
    case eql::SKind::kFloat:  // bitwise, as the key bytes compare
      return std::bit_cast<uint64_t>(a.f) == std::bit_cast<uint64_t>(b.f);
    case eql::SKind::kIp: return std::memcmp(a.ip.bytes, b.ip.bytes, 16) == 0;
    case eql::SKind::kString: return a.s == b.s;
  }
  return false;
}

void Append(JoinKey& key, const eql::Scalar& value) {
  AppendKeyBytes(key.bytes, value);
  key.values.push_back(value);
}

}  // namespace

std::span<JoinKey> JoinKeyExtractor::Extract(const eql::CompiledTerm& term, const Event& event) {
  parts_.resize(term.keys.size());
  for (size_t k = 0; k < term.keys.size(); ++k) {
    std::vector<eql::Scalar>& part = parts_[k];
    part.clear();
    for (const eql::Scalar& v : evaluator_.Values(term.keys[k], event)) {
      if (v.is_null()) continue;  // null elements of a multi-valued key are ignored
      bool seen = false;
      for (const eql::Scalar& p : part) seen = seen || SameScalar(p, v);
      if (!seen) part.push_back(v);
    }
    if (part.empty()) {
      if (k >= term.key_optional.size() || !term.key_optional[k]) return {};  // a required key is null
      part.push_back(eql::Scalar::Null());
    }
  }
  // The cartesian product of the parts, in order, built in place.
  if (keys_.empty()) keys_.emplace_back();
  keys_[0].bytes.clear();
  keys_[0].values.clear();
  size_t count = 1;
  for (const std::vector<eql::Scalar>& part : parts_) {
    if (part.size() == 1) {
      for (size_t i = 0; i < count; ++i) Append(keys_[i], part[0]);
      continue;
    }
    const size_t m = part.size();
    if (keys_.size() < count * m) keys_.resize(count * m);
    for (size_t i = count; i-- > 0;) {  // key i becomes keys i*m .. i*m+m-1 (never below i)
      base_ = keys_[i];
      for (size_t j = 0; j < m; ++j) {
        keys_[i * m + j] = base_;
        Append(keys_[i * m + j], part[j]);
      }
    }
    count *= m;
  }
  return {keys_.data(), count};
}

uint32_t SharedJoinKeys::ClassOf(const eql::CompiledTerm& term) {
  std::string signature;
  for (size_t k = 0; k < term.keys.size(); ++k) {
    const eql::Program& p = term.keys[k];
    bool optional = k < term.key_optional.size() && term.key_optional[k];
    if (p.nodes.size() == 1 && p.nodes[p.root].op == eql::IrOp::kField) {
      signature += fmt::format("f{}{};", p.nodes[p.root].field.value, optional ? "?" : "");
    } else {
      signature += fmt::format("t{}:{};", static_cast<const void*>(&term), k);  // not shared
    }
  }
  for (size_t c = 0; c < classes_.size(); ++c) {
    if (classes_[c].signature == signature) return static_cast<uint32_t>(c);
  }
  classes_.push_back(Class{std::move(signature), {}, {}, false});
  return static_cast<uint32_t>(classes_.size() - 1);
}

std::span<JoinKey> SharedJoinKeys::Extract(uint32_t cls, const eql::CompiledTerm& term, const Event& event) {
  Class& c = classes_[cls];
  if (!c.ready) {
    c.keys = c.extractor.Extract(term, event);
    c.ready = true;
    ready_.push_back(cls);
  }
  return c.keys;
}

void SharedJoinKeys::Release() {
  for (uint32_t c : ready_) classes_[c].ready = false;
  ready_.clear();
}

bool KeyValuesLess(const std::vector<eql::Scalar>& a, const std::vector<eql::Scalar>& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (a[i].is_null() != b[i].is_null()) return a[i].is_null();
    if (a[i].is_null()) continue;
    auto c = eql::CompareScalars(a[i], b[i]);
    if (c && *c != 0) return *c < 0;
    if (!c && a[i].kind != b[i].kind) return a[i].kind < b[i].kind;
  }
  return a.size() < b.size();
}

}  // namespace kestrel::nfa
