#include "runtime/host_state.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "eql/evaluator.h"
#include "runtime/host_api.h"

namespace kestrel::runtime {

using eql::Scalar;
using eql::SKind;

bool HostState::BadHandle(int32_t handle, size_t size, std::string_view what) {
  if (handle >= 0 && static_cast<size_t>(handle) < size) return false;
  Fault(fmt::format("bad {} handle {}", what, handle));
  return true;
}

int32_t HostState::FieldIdOf(std::string_view name) {
  fields_.push_back(registry_.Find(name));  // an unknown field is never in an event
  return static_cast<int32_t>(fields_.size() - 1);
}

int32_t HostState::ConstNew(int32_t kind, int64_t bits, std::string_view text) {
  Scalar s;
  switch (static_cast<ElementKind>(kind)) {
    case ElementKind::kNull: break;
    case ElementKind::kBool: s = Scalar::Bool(bits != 0); break;
    case ElementKind::kInt: s = Scalar::Int(bits); break;
    case ElementKind::kFloat: {
      double d;
      std::memcpy(&d, &bits, sizeof d);
      s = Scalar::Float(d);
      break;
    }
    case ElementKind::kString: s = Scalar::String(texts_.emplace_back(text)); break;
    case ElementKind::kIp: {
      if (text.size() != sizeof(IpAddress)) {
        Fault(fmt::format("an ip constant takes 16 bytes, not {}", text.size()));
        return -1;
      }
      IpAddress ip{};
      std::memcpy(&ip, text.data(), sizeof ip);
      s = Scalar::Ip(ip);
      break;
    }
    case ElementKind::kTimestamp: s = Scalar::Timestamp(bits); break;
    default: Fault(fmt::format("bad constant kind {}", kind)); return -1;
  }
  constants_.push_back(s);
  return static_cast<int32_t>(constants_.size() - 1);
}

int32_t HostState::SetNew(bool insensitive) {
  sets_.emplace_back().insensitive = insensitive;
  return static_cast<int32_t>(sets_.size() - 1);
}

int32_t HostState::SetAdd(int32_t set, int32_t konst) {
  if (BadHandle(set, sets_.size(), "set") || BadHandle(konst, constants_.size(), "constant")) return -1;
  eql::LiteralSet& s = sets_[set];
  const Scalar& c = constants_[konst];
  if (c.kind == SKind::kString) {
    s.strings.Insert(s.insensitive ? eql::FoldCase(c.s) : std::string(c.s));
  } else if (!c.is_null()) {
    s.others.push_back(c);
  }
  return 0;
}

int32_t HostState::MatcherNew() {
  matchers_.emplace_back();
  return static_cast<int32_t>(matchers_.size() - 1);
}

int32_t HostState::MatcherAdd(int32_t matcher, bool regex, std::string_view pattern, bool insensitive) {
  if (BadHandle(matcher, matchers_.size(), "matcher")) return -1;
  MatcherGroup& g = matchers_[matcher];
  g.exact_ready = false;
  if (!regex) {
    g.matchers.push_back(eql::Matcher::Wildcard(pattern, insensitive));
    return 0;
  }
  auto m = eql::Matcher::Regex(pattern, insensitive);
  if (!m) {
    Fault(m.error().message());
    return -1;
  }
  g.matchers.push_back(std::move(*m));
  return 0;
}

HostState::MatcherGroup* HostState::Group(int32_t matcher) {
  if (BadHandle(matcher, matchers_.size(), "matcher")) return nullptr;
  MatcherGroup& g = matchers_[matcher];
  if (!g.exact_ready) {
    g.exact = eql::ExactSetOf(g.matchers);
    g.exact_ready = true;
  }
  return &g;
}

int32_t HostState::NetNew() {
  nets_.emplace_back();
  return static_cast<int32_t>(nets_.size() - 1);
}

int32_t HostState::NetAdd(int32_t net, std::string_view cidr) {
  if (BadHandle(net, nets_.size(), "network")) return -1;
  auto parsed = eql::ParseNetwork(cidr);
  if (!parsed) {
    Fault(fmt::format("invalid network \"{}\"", cidr));
    return -1;
  }
  nets_[net].push_back(*parsed);
  return 0;
}

const Value* HostState::FieldValue(int32_t ev, int32_t field) {
  if (ev != 0 || event_ == nullptr) return nullptr;
  if (field == cached_field_) return cached_value_;
  if (BadHandle(field, fields_.size(), "field") || !fields_[field]) return nullptr;
  cached_field_ = field;
  cached_value_ = event_->Find(*fields_[field]);
  flat_.clear();
  if (cached_value_ != nullptr && cached_value_->kind() == ValueKind::kArray) {
    auto elements = cached_value_->as_array();
    bool nested = std::any_of(elements.begin(), elements.end(),
                              [](const Value& e) { return e.kind() == ValueKind::kArray; });
    if (nested) {  // index the elements the evaluator visits
      eql::VisitElements(cached_value_, [&](const Value& e) {
        flat_.push_back(&e);
        return false;
      });
    }
  }
  return cached_value_;
}

int32_t HostState::ArrayLen(int32_t ev, int32_t field) {
  const Value* v = FieldValue(ev, field);
  if (v == nullptr) return 0;
  if (v->kind() != ValueKind::kArray) return 1;
  return static_cast<int32_t>(flat_.empty() ? v->as_array().size() : flat_.size());
}

const Value* HostState::Element(int32_t ev, int32_t field, int32_t idx) {
  const Value* v = FieldValue(ev, field);
  int32_t n = ArrayLen(ev, field);
  if (idx < 0 || idx >= n) {
    Fault(fmt::format("element {} of a field with {}", idx, n));
    return nullptr;
  }
  if (v->kind() != ValueKind::kArray) return v;
  return flat_.empty() ? &v->as_array()[idx] : flat_[idx];
}

Scalar HostState::ElementScalar(int32_t ev, int32_t field, int32_t idx) {
  const Value* e = Element(ev, field, idx);
  return e == nullptr ? Scalar::Null() : eql::FromValue(*e);
}

int32_t HostState::Has(int32_t ev, int32_t field) { return eql::FieldIsNull(FieldValue(ev, field)) ? 0 : 1; }

int32_t HostState::Kind(int32_t ev, int32_t field, int32_t idx) {
  return static_cast<int32_t>(ElementScalar(ev, field, idx).kind);
}

int64_t HostState::GetI64(int32_t ev, int32_t field, int32_t idx) {
  eql::Scalar s = ElementScalar(ev, field, idx);
  if (s.kind == SKind::kBool) return s.b ? 1 : 0;
  return s.kind == SKind::kFloat ? static_cast<int64_t>(s.f) : s.i;
}

int64_t HostState::GetU64(int32_t ev, int32_t field, int32_t idx) {
  const Value* e = Element(ev, field, idx);
  if (e != nullptr && e->kind() == ValueKind::kU64) return static_cast<int64_t>(e->as_u64());
  return GetI64(ev, field, idx);
}

double HostState::GetF64(int32_t ev, int32_t field, int32_t idx) {
  eql::Scalar s = ElementScalar(ev, field, idx);
  return s.is_number() ? s.as_double() : 0.0;
}

int32_t HostState::GetStr(int32_t ev, int32_t field, int32_t idx, char* buf, int32_t cap) {
  eql::Scalar s = ElementScalar(ev, field, idx);
  if (s.is_null()) return -1;
  std::string_view text = eql::ScalarText(s, scratch_);
  size_t n = std::min(text.size(), static_cast<size_t>(std::max(cap, 0)));
  if (n > 0) std::memcpy(buf, text.data(), n);
  return static_cast<int32_t>(std::min<size_t>(text.size(), INT32_MAX));
}

int32_t HostState::GetIp(int32_t ev, int32_t field, int32_t idx, char* buf, int32_t cap) {
  const Value* e = Element(ev, field, idx);
  auto ip = e == nullptr ? std::nullopt : eql::ElementIp(*e);
  if (!ip) return 0;
  if (cap < static_cast<int32_t>(sizeof(IpAddress))) {
    Fault("event_get_ip needs 16 bytes");
    return 0;
  }
  std::memcpy(buf, &*ip, sizeof(IpAddress));
  return 1;
}

int32_t HostState::FieldCompare(int32_t ev, int32_t field, int32_t op, int32_t konst, bool insensitive) {
  if (BadHandle(konst, constants_.size(), "constant") || BadHandle(op, std::size(kHostCompareOps), "operator")) {
    return 2;
  }
  return static_cast<int32_t>(
      eql::CompareField(FieldValue(ev, field), kHostCompareOps[op], constants_[konst], insensitive));
}

int32_t HostState::FieldInSet(int32_t ev, int32_t field, int32_t set) {
  if (BadHandle(set, sets_.size(), "set")) return 2;
  return static_cast<int32_t>(eql::FieldInSet(FieldValue(ev, field), sets_[set]));
}

int32_t HostState::FieldMatch(int32_t ev, int32_t field, int32_t matcher) {
  MatcherGroup* g = Group(matcher);
  if (g == nullptr) return 2;
  return static_cast<int32_t>(
      eql::FieldMatches(FieldValue(ev, field), g->matchers, g->exact ? &*g->exact : nullptr, scratch_));
}

int32_t HostState::FieldCidr(int32_t ev, int32_t field, int32_t net) {
  if (BadHandle(net, nets_.size(), "network")) return 2;
  return static_cast<int32_t>(eql::FieldInNetworks(FieldValue(ev, field), nets_[net]));
}

int32_t HostState::FieldIsNull(int32_t ev, int32_t field) { return eql::FieldIsNull(FieldValue(ev, field)) ? 1 : 0; }

int32_t HostState::StrMatch(int32_t matcher, std::string_view text) {
  MatcherGroup* g = Group(matcher);
  if (g == nullptr) return 0;
  return eql::MatchesAny(g->matchers, g->exact ? &*g->exact : nullptr, text) ? 1 : 0;
}

int32_t HostState::CidrMatch(int32_t net, std::string_view ip16) {
  if (BadHandle(net, nets_.size(), "network")) return 0;
  if (ip16.size() != sizeof(IpAddress)) {
    Fault("cidr_match takes a 16-byte address");
    return 0;
  }
  IpAddress ip{};
  std::memcpy(&ip, ip16.data(), sizeof ip);
  for (const eql::IpNetwork& n : nets_[net]) {
    if (eql::NetworkContains(n, ip)) return 1;
  }
  return 0;
}

namespace {
constexpr int32_t kMaxRegisters = 1 << 16;
constexpr uint32_t kMaxValues = 1 << 20;  // per evaluation
}  // namespace

std::optional<HostState::Range> HostState::Reg(int64_t reg) {
  if (reg >= 0 && static_cast<size_t>(reg) < regs_.size()) {
    Range r = regs_[reg];
    if (r.end > r.begin && r.end <= values_.stack_size()) return r;
  }
  Fault(fmt::format("register {} holds no value", reg));
  return std::nullopt;
}

void HostState::SetReg(int32_t dst, Range r) {
  if (dst < 0 || dst >= kMaxRegisters) return Fault(fmt::format("bad register {}", dst));
  if (values_.stack_size() > kMaxValues) return Fault(fmt::format("more than {} values in one evaluation", kMaxValues));
  if (static_cast<size_t>(dst) >= regs_.size()) regs_.resize(dst + 1, Range{0, 0});
  regs_[dst] = r;
}

void HostState::ValField(int32_t dst, int32_t ev, int32_t field) { SetReg(dst, values_.PushField(FieldValue(ev, field))); }

void HostState::ValConst(int32_t dst, int32_t konst) {
  if (BadHandle(konst, constants_.size(), "constant")) return;
  SetReg(dst, values_.PushValue(constants_[konst]));
}

void HostState::ValTri(int32_t dst, int32_t tri) {
  SetReg(dst, values_.PushValue(tri == 0 || tri == 1 ? Scalar::Bool(tri == 1) : Scalar::Null()));
}

void HostState::ValI64(int32_t dst, int64_t value) { SetReg(dst, values_.PushValue(Scalar::Int(value))); }

void HostState::ValVar(int32_t dst, int32_t slot) {
  if (slot < 0) return Fault(fmt::format("bad variable {}", slot));
  SetReg(dst, values_.PushValue(values_.Variable(static_cast<uint32_t>(slot))));
}

void HostState::ValArith(int32_t dst, int32_t op, int32_t a, int32_t b) {
  if (BadHandle(op, std::size(kHostArithOps), "arithmetic operator")) return;
  auto ra = Reg(a), rb = Reg(b);
  if (ra && rb) SetReg(dst, values_.PushArith(kHostArithOps[op], *ra, *rb));
}

void HostState::ValNeg(int32_t dst, int32_t a) {
  if (auto ra = Reg(a)) SetReg(dst, values_.PushNeg(*ra));
}

void HostState::ValCall(int32_t dst, int32_t fn, int32_t args, int32_t argc, bool insensitive, int32_t matcher) {
  if (BadHandle(fn, std::size(kHostBuiltins), "function") || argc < 0 || argc > 256) {
    return Fault(fmt::format("bad call of function {} with {} arguments", fn, argc));
  }
  eql::Evaluator::Call call{kHostBuiltins[fn], insensitive, {}, nullptr};
  if (call.builtin == eql::Builtin::kMatch || call.builtin == eql::Builtin::kWildcard) {
    MatcherGroup* g = Group(matcher);
    if (g == nullptr) return;
    call.matchers = g->matchers;
    call.exact = g->exact ? &*g->exact : nullptr;
  }
  if (argc < 1) return Fault(fmt::format("function {} called without arguments", fn));
  list_.clear();
  for (int32_t k = 0; k < argc; ++k) {
    auto r = Reg(int64_t{args} + k);
    if (!r) return;
    list_.push_back(*r);
  }
  SetReg(dst, values_.PushCall(call, list_));
}

int32_t HostState::ValLen(int32_t reg) {
  auto r = Reg(reg);
  return r ? static_cast<int32_t>(r->size()) : 0;
}

int32_t HostState::ValBind(int32_t slot, int32_t reg, int32_t idx) {
  auto r = Reg(reg);
  if (!r) return 0;
  if (slot < 0 || slot >= kMaxRegisters || idx < 0 || static_cast<uint32_t>(idx) >= r->size()) {
    Fault(fmt::format("cannot bind element {} of register {} to variable {}", idx, reg, slot));
    return 0;
  }
  const Scalar& s = values_.value(r->begin + idx);
  if (s.is_null()) return 0;
  values_.BindVariable(static_cast<uint32_t>(slot), s);
  return 1;
}

int32_t HostState::ValTruth(int32_t reg) {
  auto r = Reg(reg);
  return r ? static_cast<int32_t>(values_.TruthOf(*r)) : 2;
}

int32_t HostState::ValCompare(int32_t op, int32_t a, int32_t b, bool insensitive) {
  if (BadHandle(op, std::size(kHostCompareOps), "operator")) return 2;
  auto ra = Reg(a), rb = Reg(b);
  if (!ra || !rb) return 2;
  return static_cast<int32_t>(values_.CompareValues(kHostCompareOps[op], *ra, *rb, insensitive));
}

int32_t HostState::ValIsNull(int32_t reg) {
  auto r = Reg(reg);
  return r && values_.IsNull(*r) ? 1 : 0;
}

int32_t HostState::ValInSet(int32_t reg, int32_t set) {
  if (BadHandle(set, sets_.size(), "set")) return 2;
  auto r = Reg(reg);
  return r ? static_cast<int32_t>(values_.InSet(*r, sets_[set])) : 2;
}

int32_t HostState::ValInList(int32_t reg, int32_t items, int32_t count, bool insensitive) {
  auto r = Reg(reg);
  if (!r) return 2;
  if (count < 0 || count > kMaxRegisters) {
    Fault(fmt::format("bad list of {} registers", count));
    return 2;
  }
  list_.clear();
  for (int32_t k = 0; k < count; ++k) {
    auto item = Reg(int64_t{items} + k);
    if (!item) return 2;
    list_.push_back(*item);
  }
  return static_cast<int32_t>(values_.InList(*r, list_, insensitive));
}

int32_t HostState::ValMatch(int32_t reg, int32_t matcher) {
  MatcherGroup* g = Group(matcher);
  auto r = g == nullptr ? std::nullopt : Reg(reg);
  if (!r) return 2;
  return static_cast<int32_t>(values_.MatchValues(*r, g->matchers, g->exact ? &*g->exact : nullptr));
}

int32_t HostState::Lineage(int32_t ev, int32_t kind, int32_t query) {
  if (BadHandle(kind, std::size(kHostLineageKinds), "lineage kind") || query < 0) return 2;
  return static_cast<int32_t>(
      values_.LineageOf(kHostLineageKinds[kind], static_cast<uint32_t>(query), ev == 0 ? event_ : nullptr));
}

void HostState::AlertEmit(int32_t ev, std::string_view text) {
  constexpr size_t kMaxNotes = 8;
  constexpr size_t kMaxNoteBytes = 1024;
  if (ev != 0 || notes_.size() >= kMaxNotes) return;
  notes_.emplace_back(text.substr(0, kMaxNoteBytes));
}

// The C table: each entry forwards to the HostState method. Its signature comes from the .def
// (HostApiV1's member types), so an entry that disagrees with the .def does not compile.
namespace {

std::string_view Bytes(const char* p, int32_t n) { return {p, static_cast<size_t>(std::max(n, 0))}; }

const HostApiV1 kTable = {
    .field_id = [](HostState* h, const char* name, int32_t len) { return h->FieldIdOf(Bytes(name, len)); },
    .const_new = [](HostState* h, int32_t kind, int64_t bits, const char* text, int32_t len) {
      return h->ConstNew(kind, bits, Bytes(text, len));
    },
    .set_new = [](HostState* h, int32_t insensitive) { return h->SetNew(insensitive != 0); },
    .set_add = [](HostState* h, int32_t set, int32_t konst) { return h->SetAdd(set, konst); },
    .matcher_new = [](HostState* h, int32_t) { return h->MatcherNew(); },
    .matcher_add = [](HostState* h, int32_t m, int32_t regex, const char* p, int32_t len, int32_t ins) {
      return h->MatcherAdd(m, regex != 0, Bytes(p, len), ins != 0);
    },
    .net_new = [](HostState* h, int32_t) { return h->NetNew(); },
    .net_add = [](HostState* h, int32_t net, const char* p, int32_t len) { return h->NetAdd(net, Bytes(p, len)); },
    .event_has = [](HostState* h, int32_t ev, int32_t f) { return h->Has(ev, f); },
    .event_array_len = [](HostState* h, int32_t ev, int32_t f) { return h->ArrayLen(ev, f); },
    .event_kind = [](HostState* h, int32_t ev, int32_t f, int32_t i) { return h->Kind(ev, f, i); },
    .event_get_i64 = [](HostState* h, int32_t ev, int32_t f, int32_t i) { return h->GetI64(ev, f, i); },
    .event_get_u64 = [](HostState* h, int32_t ev, int32_t f, int32_t i) { return h->GetU64(ev, f, i); },
    .event_get_f64 = [](HostState* h, int32_t ev, int32_t f, int32_t i) { return h->GetF64(ev, f, i); },
    .event_get_str = [](HostState* h, int32_t ev, int32_t f, int32_t i, char* buf, int32_t cap) {
      return h->GetStr(ev, f, i, buf, cap);
    },
    .event_get_ip = [](HostState* h, int32_t ev, int32_t f, int32_t i, char* buf, int32_t cap) {
      return h->GetIp(ev, f, i, buf, cap);
    },
    .field_compare = [](HostState* h, int32_t ev, int32_t f, int32_t op, int32_t k, int32_t ins) {
      return h->FieldCompare(ev, f, op, k, ins != 0);
    },
    .field_in_set = [](HostState* h, int32_t ev, int32_t f, int32_t s) { return h->FieldInSet(ev, f, s); },
    .field_match = [](HostState* h, int32_t ev, int32_t f, int32_t m) { return h->FieldMatch(ev, f, m); },
    .field_cidr = [](HostState* h, int32_t ev, int32_t f, int32_t n) { return h->FieldCidr(ev, f, n); },
    .field_is_null = [](HostState* h, int32_t ev, int32_t f) { return h->FieldIsNull(ev, f); },
    .val_field = [](HostState* h, int32_t d, int32_t ev, int32_t f) { h->ValField(d, ev, f); },
    .val_const = [](HostState* h, int32_t d, int32_t k) { h->ValConst(d, k); },
    .val_tri = [](HostState* h, int32_t d, int32_t t) { h->ValTri(d, t); },
    .val_i64 = [](HostState* h, int32_t d, int64_t v) { h->ValI64(d, v); },
    .val_var = [](HostState* h, int32_t d, int32_t s) { h->ValVar(d, s); },
    .val_arith = [](HostState* h, int32_t d, int32_t op, int32_t a, int32_t b) { h->ValArith(d, op, a, b); },
    .val_neg = [](HostState* h, int32_t d, int32_t a) { h->ValNeg(d, a); },
    .val_call = [](HostState* h, int32_t d, int32_t fn, int32_t args, int32_t argc, int32_t ins, int32_t m) {
      h->ValCall(d, fn, args, argc, ins != 0, m);
    },
    .val_len = [](HostState* h, int32_t r) { return h->ValLen(r); },
    .val_bind = [](HostState* h, int32_t s, int32_t r, int32_t i) { return h->ValBind(s, r, i); },
    .val_truth = [](HostState* h, int32_t r) { return h->ValTruth(r); },
    .val_compare = [](HostState* h, int32_t op, int32_t a, int32_t b, int32_t ins) {
      return h->ValCompare(op, a, b, ins != 0);
    },
    .val_is_null = [](HostState* h, int32_t r) { return h->ValIsNull(r); },
    .val_in_set = [](HostState* h, int32_t r, int32_t s) { return h->ValInSet(r, s); },
    .val_in_list = [](HostState* h, int32_t r, int32_t items, int32_t n, int32_t ins) {
      return h->ValInList(r, items, n, ins != 0);
    },
    .val_match = [](HostState* h, int32_t r, int32_t m) { return h->ValMatch(r, m); },
    .lineage = [](HostState* h, int32_t ev, int32_t kind, int32_t q) { return h->Lineage(ev, kind, q); },
    .str_match = [](HostState* h, int32_t m, const char* p, int32_t len) { return h->StrMatch(m, Bytes(p, len)); },
    .cidr_match = [](HostState* h, int32_t n, const char* p, int32_t len) { return h->CidrMatch(n, Bytes(p, len)); },
    .alert_emit = [](HostState* h, int32_t ev, const char* p, int32_t len) { h->AlertEmit(ev, Bytes(p, len)); },
};

}  // namespace

const HostApiV1& HostApi() { return kTable; }

}  // namespace kestrel::runtime
