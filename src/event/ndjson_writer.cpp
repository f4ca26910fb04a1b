// Events -> ECS NDJSON: nested objects rebuilt from dotted field names, header under "kestrel".
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

#include "event/ip_address.h"
#include <fmt/format.h>

#include "event/ndjson.h"
#include "event/timestamp.h"

namespace kestrel {
namespace {

void AppendUtf8Replacing(std::string& out, std::string_view s) {
  // Slow path for invalid UTF-8: each bad byte becomes U+FFFD.
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<uint8_t>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len > 0 && i + len <= s.size() && simdjson::validate_utf8(s.data() + i, len)) {
      out.append(s.data() + i, len);
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;
  auto flush = [&](size_t end) {
    std::string_view chunk = s.substr(run, end - run);
    if (simdjson::validate_utf8(chunk.data(), chunk.size())) {
      out.append(chunk);
    } else {
      AppendUtf8Replacing(out, chunk);
    }
  };
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<uint8_t>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    flush(i);
    run = i + 1;
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
    }
  }
  flush(s.size());
  out.push_back('"');
}

namespace {

template <class T>
void AppendNumber(std::string& out, T v) {
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, p);
}

void AppendDouble(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out.append("null");  // JSON has no NaN or infinity
    return;
  }
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), d);
  out.append(buf, p);
  // Keep a float a float when read back: "3" would come back as an integer.
  if (std::find_if(buf, p, [](char c) { return c == '.' || c == 'e' || c == 'E'; }) == p) out.append(".0");
}

void AppendValue(std::string& out, const Value& v) {
  switch (v.kind()) {
    case ValueKind::kNull: out.append("null"); return;
    case ValueKind::kBool: out.append(v.as_bool() ? "true" : "false"); return;
    case ValueKind::kI64: AppendNumber(out, v.as_i64()); return;
    case ValueKind::kU64: AppendNumber(out, v.as_u64()); return;
    case ValueKind::kF64: AppendDouble(out, v.as_f64()); return;
    case ValueKind::kString: AppendJsonString(out, v.as_string()); return;
    case ValueKind::kIp:
      out.push_back('"');
      AppendIp(out, v.as_ip());
      out.push_back('"');
      return;
    case ValueKind::kTimestamp:
      out.push_back('"');
      AppendTimestamp(out, v.as_timestamp_ns());
      out.push_back('"');
      return;
    case ValueKind::kArray: {
      out.push_back('[');
      bool first = true;
      for (const Value& element : v.as_array()) {
        if (!first) out.push_back(',');
        first = false;
        AppendValue(out, element);
      }
      out.push_back(']');
      return;
    }
  }
}

// Field names in lexicographic order, so that names sharing a dotted prefix are adjacent.
class NameOrder {
 public:
  uint32_t Rank(const SchemaRegistry& registry, FieldId id) {
    if (rank_.size() != registry.size() || serial_ != registry.serial()) Rebuild(registry);
    return rank_[id.value];
  }

 private:
  void Rebuild(const SchemaRegistry& registry) {
    std::vector<uint32_t> ids(registry.size());
    std::iota(ids.begin(), ids.end(), 0u);
    std::sort(ids.begin(), ids.end(),
              [&](uint32_t a, uint32_t b) { return registry.name(FieldId{a}) < registry.name(FieldId{b}); });
    rank_.assign(ids.size(), 0);
    for (uint32_t r = 0; r < ids.size(); ++r) rank_[ids[r]] = r;
    serial_ = registry.serial();
  }
  std::vector<uint32_t> rank_;
  uint64_t serial_ = 0;
};

// Builds one JSON object from an event, reusing its scratch vectors across events.
class JsonObjectWriter {
 public:
  void Append(std::string& out, const Event& event, const SchemaRegistry& registry, bool header = true) {
    const auto fields = event.fields();
    order_.resize(fields.size());
    std::iota(order_.begin(), order_.end(), 0u);
    std::sort(order_.begin(), order_.end(), [&](uint32_t a, uint32_t b) {
      return names_.Rank(registry, fields[a].id) < names_.Rank(registry, fields[b].id);
    });
    out.push_back('{');
    levels_.assign(1, Level{});
    open_.clear();
    bool own_kestrel = false;  // the event has a field named kestrel or kestrel.*
    for (uint32_t index : order_) {
      const Field& field = fields[index];
      Split(registry.name(field.id));
      size_t common = 0;
      while (common < open_.size() && common + 1 < segments_.size() && open_[common] == segments_[common]) {
        ++common;
      }
      while (open_.size() > common) Close(out);
      size_t depth = common;
      while (depth + 1 < segments_.size() && !levels_[depth].HasLeaf(segments_[depth])) {
        Key(out, segments_[depth]);
        out.push_back('{');
        open_.push_back(segments_[depth]);
        levels_.push_back(Level{});
        ++depth;
      }
      // The leaf; if an object of that name could not be opened (a leaf took the key),
      // the remaining segments stay as one dotted key, which readers accept.
      std::string_view name = registry.name(field.id);
      own_kestrel = own_kestrel || segments_[0] == "kestrel";
      std::string_view leaf = name.substr(static_cast<size_t>(segments_[depth].data() - name.data()));
      Key(out, leaf);
      levels_[depth].leaves.push_back(leaf);
      AppendValue(out, field.value);
    }
    while (!open_.empty()) Close(out);
    if (header) AppendHeader(out, event.header(), registry, own_kestrel);
    out.push_back('}');
  }

 private:
  struct Level {
    bool first = true;
    std::vector<std::string_view> leaves;
    bool HasLeaf(std::string_view key) const { return std::find(leaves.begin(), leaves.end(), key) != leaves.end(); }
  };

  void Split(std::string_view name) {
    segments_.clear();
    size_t start = 0;
    for (;;) {
      size_t dot = name.find('.', start);
      if (dot == std::string_view::npos) break;
      segments_.push_back(name.substr(start, dot - start));
      start = dot + 1;
    }
    segments_.push_back(name.substr(start));
  }

  void Key(std::string& out, std::string_view key) {
    Level& level = levels_.back();
    if (!level.first) out.push_back(',');
    level.first = false;
    AppendJsonString(out, key);
    out.push_back(':');
  }

  void Close(std::string& out) {
    out.push_back('}');
    open_.pop_back();
    levels_.pop_back();
  }

  // The header under "kestrel"; as dotted "kestrel.*" keys when the event has fields of that name
  // (one object cannot be written twice, and readers accept both forms).
  void AppendHeader(std::string& out, const EventHeader& h, const SchemaRegistry& registry, bool dotted) {
    const char* prefix = dotted ? "\"kestrel." : "\"";
    if (dotted) {
      if (!levels_.back().first) out.push_back(',');
    } else {
      Key(out, "kestrel");
      out.push_back('{');
    }
    out.append(fmt::format("{}event_type\":", prefix));
    AppendJsonString(out, registry.event_type_name(h.type));
    out.append(fmt::format(",{}event_id\":", prefix));
    AppendNumber(out, h.event_id);
    out.append(fmt::format(",{}ts_mono_ns\":", prefix));
    AppendNumber(out, h.ts_mono_ns);
    out.append(fmt::format(",{}ts_wall_ns\":", prefix));
    AppendNumber(out, h.ts_wall_ns);
    out.append(fmt::format(",{}entity_key\":", prefix));
    AppendNumber(out, h.entity_key);
    if (!dotted) out.push_back('}');
  }

  NameOrder names_;
  std::vector<uint32_t> order_;
  std::vector<std::string_view> segments_;
  std::vector<std::string_view> open_;
  std::vector<Level> levels_;
};

class NdjsonWriter final : public EventWriter {
 public:
  NdjsonWriter(std::unique_ptr<OutputFile> output, const SchemaRegistry* registry)
      : output_(std::move(output)), registry_(registry) {}

  Status Write(const Event& event) override {
    line_.clear();
    object_.Append(line_, event, *registry_);
    line_.push_back('\n');
    KESTREL_TRY(output_->Write(line_));
    ++events_written_;
    return Ok();
  }

  Status Close() override { return output_->Close(); }

 private:
  std::unique_ptr<OutputFile> output_;
  const SchemaRegistry* registry_;
  JsonObjectWriter object_;
  std::string line_;
};

}  // namespace

void AppendValueJson(std::string& out, const Value& value) { AppendValue(out, value); }

// One writer per thread keeps its name order across calls (rebuilt when the registry changes).
void AppendEventJson(std::string& out, const Event& event, const SchemaRegistry& registry) {
  thread_local JsonObjectWriter writer;
  writer.Append(out, event, registry);
}

void AppendFieldsJson(std::string& out, std::span<const Field> fields, const SchemaRegistry& registry) {
  thread_local JsonObjectWriter writer;
  writer.Append(out, Event(EventHeader{}, fields), registry, /*header=*/false);
}

Result<std::unique_ptr<EventWriter>> OpenNdjsonWriter(std::unique_ptr<OutputFile> output,
                                                      const SchemaRegistry* registry) {
  return std::unique_ptr<EventWriter>(std::make_unique<NdjsonWriter>(std::move(output), registry));
}

}  // namespace kestrel
