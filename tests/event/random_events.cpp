#include "event/random_events.h"

#include <random>
#include <string>

#include "event/event_builder.h"

namespace kestrel::testing {
namespace {

class Generator {
 public:
  Generator(uint64_t seed, SchemaRegistry& registry, EventBuilder& builder, RandomEventOptions options)
      : rng_(seed), registry_(registry), builder_(builder), options_(options) {}

  uint64_t Uniform(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }

  std::string RandomString() {
    static constexpr const char* kSamples[] = {"",          "bash",  "/usr/bin/curl", "a\"b\\c",
                                               "tab\there", "new\nline", "ünïcødé ✓",     "x"};
    if (Uniform(4) != 0) return kSamples[Uniform(std::size(kSamples))];
    std::string s(Uniform(40), ' ');
    for (char& c : s) {
      // JSON-safe strings stay valid UTF-8 (control bytes are escaped, so they are fine).
      c = options_.json_safe ? static_cast<char>(Uniform(0x7F) + 1) : static_cast<char>(Uniform(256));
    }
    return s;
  }

  Value Scalar(ValueKind kind) {
    switch (kind) {
      case ValueKind::kNull: return Value::Null();
      case ValueKind::kBool: return Value::Bool(Uniform(2) != 0);
      case ValueKind::kI64: return Value::I64(static_cast<int64_t>(rng_()) >> Uniform(63));
      case ValueKind::kU64:
        // Values that JSON text cannot tell apart from i64 are kept above INT64_MAX when json_safe.
        return Value::U64(options_.json_safe ? (rng_() | (1ull << 63)) : rng_());
      case ValueKind::kF64: {
        double choices[] = {0.5, -1.25, 3.141592653589793, 1e300, -2.5e-310, 12345.678};
        return Value::F64(Uniform(2) ? choices[Uniform(std::size(choices))]
                                     : std::uniform_real_distribution<double>(-1e9, 1e9)(rng_));
      }
      case ValueKind::kString: return builder_.StringValue(RandomString());
      case ValueKind::kIp: {
        IpAddress ip{};
        for (auto& b : ip.bytes) b = static_cast<uint8_t>(rng_());
        if (Uniform(2)) {
          std::fill(ip.bytes, ip.bytes + 10, 0);
          ip.bytes[10] = ip.bytes[11] = 0xFF;
        }
        return builder_.IpValue(ip);
      }
      case ValueKind::kTimestamp:
        return Value::Timestamp(1'500'000'000'000'000'000 + static_cast<int64_t>(Uniform(1ull << 50)));
      case ValueKind::kArray: break;
    }
    return Value::Null();
  }

  void AddField() {
    // Catalog fields with their declared kinds, or dynamic fields of any kind.
    if (Uniform(2) == 0 && registry_.size() > 0) {
      FieldId id{static_cast<uint32_t>(Uniform(registry_.size()))};
      const FieldInfo& info = registry_.info(id);
      ValueKind kind = info.type.scalar == ValueKind::kNull ? ValueKind::kString : info.type.scalar;
      if (options_.json_safe && info.dynamic) return;  // dynamic kinds may differ from a first value
      if (info.type.is_array) {
        size_t n = Uniform(4);
        builder_.MarkArray(id);
        for (size_t i = 0; i < n; ++i) builder_.Append(id, Scalar(kind));
      } else {
        builder_.Set(id, Scalar(kind));
      }
      return;
    }
    auto kind = static_cast<ValueKind>(Uniform(kMaxValueKind));  // any scalar kind
    if (options_.json_safe && (kind == ValueKind::kIp || kind == ValueKind::kTimestamp)) {
      kind = ValueKind::kString;  // undeclared fields read back from JSON as strings
    }
    std::string name = "custom.k" + std::to_string(static_cast<int>(kind)) + ".f" + std::to_string(Uniform(5));
    auto id = registry_.Intern(name, FieldType{kind, false});
    if (!id) return;
    if (Uniform(5) == 0) {
      builder_.MarkArray(*id);
      for (size_t i = Uniform(4); i > 0; --i) builder_.Append(*id, Scalar(kind));
    } else {
      builder_.Set(*id, Scalar(kind));
    }
  }

 private:
  std::mt19937_64 rng_;
  SchemaRegistry& registry_;
  EventBuilder& builder_;
  RandomEventOptions options_;
};

}  // namespace

void MakeRandomEvents(uint64_t seed, size_t n, SchemaRegistry& registry, EventBatch& batch,
                      RandomEventOptions options) {
  EventBuilder builder(&batch.arena());
  Generator gen(seed, registry, builder, options);
  for (size_t i = 0; i < n; ++i) {
    builder.Start();
    EventHeader& h = builder.header();
    auto type = registry.InternEventType(gen.Uniform(3) == 0 ? "custom_type" : "process");
    h.type = type ? *type : kUnknownEventType;
    h.ts_wall_ns = 1'600'000'000'000'000'000ull + gen.Uniform(1ull << 40);
    h.ts_mono_ns = gen.Uniform(4) == 0 ? h.ts_wall_ns : gen.Uniform(1ull << 50);
    h.event_id = i + 1;
    h.entity_key = gen.Uniform(1ull << 63);
    for (size_t f = gen.Uniform(20); f > 0; --f) gen.AddField();
    batch.Add(builder.Finish());
  }
}

}  // namespace kestrel::testing
