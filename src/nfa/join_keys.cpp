#include "nfa/join_keys.h"

#include <algorithm>

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
  std::string x, y;
  AppendKeyBytes(x, a);
  AppendKeyBytes(y, b);
  return x == y;
}

}  // namespace

void JoinKeyExtractor::Extract(const eql::CompiledTerm& term, const Event& event, std::vector<JoinKey>& out) {
  out.clear();
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
      if (k >= term.key_optional.size() || !term.key_optional[k]) return;  // a required key is null
      part.push_back(eql::Scalar::Null());
    }
  }
  out.emplace_back();
  for (const std::vector<eql::Scalar>& part : parts_) {
    if (part.size() == 1) {
      for (JoinKey& key : out) {
        AppendKeyBytes(key.bytes, part[0]);
        key.values.push_back(part[0]);
      }
      continue;
    }
    std::vector<JoinKey> grown;
    for (const JoinKey& key : out) {
      for (const eql::Scalar& p : part) {
        JoinKey g = key;
        AppendKeyBytes(g.bytes, p);
        g.values.push_back(p);
        grown.push_back(std::move(g));
      }
    }
    out = std::move(grown);
  }
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
