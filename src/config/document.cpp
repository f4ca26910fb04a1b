#include "config/document.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#define TOML_EXCEPTIONS 1
#include <toml++/toml.h>

#include "common/utf8.h"
#include "event/ndjson.h"

namespace kestrel::config {
namespace {

constexpr uint32_t kMaxDepth = 64;

// ---- YAML ------------------------------------------------------------------------------------

// A plain (unquoted) YAML scalar, typed the way YAML 1.2's core schema types it.
void TypePlainScalar(DocNode& n) {
  const std::string& t = n.text;
  if (t.empty() || t == "~" || t == "null" || t == "Null" || t == "NULL") {
    n.kind = DocNode::Kind::kNull;
  } else if (t == "true" || t == "True" || t == "TRUE" || t == "false" || t == "False" || t == "FALSE") {
    n.kind = DocNode::Kind::kBool;
    n.boolean = t[0] == 't' || t[0] == 'T';
  } else {
    int64_t i = 0;
    const char* end = t.data() + t.size();
    const char* begin = t.data() + (t[0] == '+' ? 1 : 0);
    if (auto [p, ec] = std::from_chars(begin, end, i); ec == std::errc() && p == end) {
      n.kind = DocNode::Kind::kInt;
      n.integer = i;
      return;
    }
    char* stop = nullptr;
    errno = 0;
    double d = std::strtod(t.c_str(), &stop);
    bool numeric = stop == t.c_str() + t.size() && errno == 0 && std::isfinite(d) &&
                   t.find_first_of("0123456789") != std::string::npos && t.find_first_of("xXpP") == std::string::npos;
    n.kind = numeric ? DocNode::Kind::kFloat : DocNode::Kind::kString;
    n.number = d;
  }
}

Result<DocNode> FromYaml(const std::string& path, const YAML::Node& y, uint32_t depth) {
  DocNode n;
  YAML::Mark mark = y.Mark();
  n.line = mark.line >= 0 ? static_cast<uint32_t>(mark.line) + 1 : 1;
  n.column = mark.column >= 0 ? static_cast<uint32_t>(mark.column) + 1 : 1;
  if (depth > kMaxDepth) {
    return MakeErrorAt(fmt::format("{}:{}:{}", path, n.line, n.column), ErrorCode::kLimit,
                       fmt::format("nested more than {} levels deep", kMaxDepth));
  }
  switch (y.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      n.kind = DocNode::Kind::kNull;
      break;
    case YAML::NodeType::Scalar:
      n.text = y.Scalar();
      n.kind = DocNode::Kind::kString;
      if (y.Tag() == "?") TypePlainScalar(n);  // "!" marks a quoted (or block) scalar: a string
      break;
    case YAML::NodeType::Sequence:
      n.kind = DocNode::Kind::kArray;
      for (const YAML::Node& item : y) {
        KESTREL_ASSIGN_OR_RETURN(DocNode child, FromYaml(path, item, depth + 1));
        n.items.push_back(std::move(child));
      }
      break;
    case YAML::NodeType::Map: {
      n.kind = DocNode::Kind::kObject;
      std::set<std::string> seen;
      for (auto it = y.begin(); it != y.end(); ++it) {
        if (!it->first.IsScalar()) {
          YAML::Mark k = it->first.Mark();
          return MakeErrorAt(fmt::format("{}:{}:{}", path, k.line + 1, k.column + 1), ErrorCode::kParse,
                             "a key must be a plain string");
        }
        std::string key = it->first.Scalar();
        if (!seen.insert(key).second) {
          YAML::Mark k = it->first.Mark();
          return MakeErrorAt(fmt::format("{}:{}:{}", path, k.line + 1, k.column + 1), ErrorCode::kParse,
                             fmt::format("duplicate key '{}'", key));
        }
        KESTREL_ASSIGN_OR_RETURN(DocNode child, FromYaml(path, it->second, depth + 1));
        n.fields.push_back(DocField{std::move(key), std::move(child)});
      }
      break;
    }
  }
  return n;
}

Result<DocNode> ParseYaml(const std::string& path, std::string_view text) {
  // One document: a `---` line after the first document's content starts a second one. (Not
  // YAML::LoadAll: yaml-cpp 0.7's loops forever on some malformed input, found by fuzz_rules.)
  uint32_t line_no = 0;
  bool content = false;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = std::min(text.find('\n', pos), text.size());
    std::string_view line = text.substr(pos, end - pos);
    ++line_no;
    if (line.starts_with("---") && (line.size() == 3 || line[3] == ' ' || line[3] == '\r') && content) {
      return MakeErrorAt(fmt::format("{}:{}:1", path, line_no), ErrorCode::kParse,
                         "a second YAML document: one document (one rule) per file");
    }
    if (!line.empty() && line[0] != '#' && line[0] != '%' && !line.starts_with("---")) content = true;
    pos = end + 1;
  }
  try {
    return FromYaml(path, YAML::Load(std::string(text)), 0);
  } catch (const YAML::Exception& e) {
    return MakeErrorAt(fmt::format("{}:{}:{}", path, e.mark.line + 1, e.mark.column + 1), ErrorCode::kParse,
                       e.msg);
  } catch (const std::exception& e) {  // yaml-cpp's own limits (deep recursion) and allocation
    return MakeErrorAt(path, ErrorCode::kParse, e.what());
  }
}

// ---- TOML ------------------------------------------------------------------------------------

Result<DocNode> FromToml(const std::string& path, const toml::node& t, uint32_t depth) {
  DocNode n;
  const toml::source_region& src = t.source();
  n.line = src.begin.line > 0 ? src.begin.line : 1;
  n.column = src.begin.column > 0 ? src.begin.column : 1;
  if (depth > kMaxDepth) {
    return MakeErrorAt(fmt::format("{}:{}:{}", path, n.line, n.column), ErrorCode::kLimit,
                       fmt::format("nested more than {} levels deep", kMaxDepth));
  }
  if (const toml::table* table = t.as_table()) {
    n.kind = DocNode::Kind::kObject;
    for (const auto& [key, value] : *table) {
      KESTREL_ASSIGN_OR_RETURN(DocNode child, FromToml(path, value, depth + 1));
      n.fields.push_back(DocField{std::string(key.str()), std::move(child)});
    }
  } else if (const toml::array* array = t.as_array()) {
    n.kind = DocNode::Kind::kArray;
    for (const toml::node& item : *array) {
      KESTREL_ASSIGN_OR_RETURN(DocNode child, FromToml(path, item, depth + 1));
      n.items.push_back(std::move(child));
    }
  } else if (auto s = t.value<std::string>(); s && t.is_string()) {
    n.kind = DocNode::Kind::kString;
    n.text = *s;
  } else if (t.is_integer()) {
    n.kind = DocNode::Kind::kInt;
    n.integer = *t.value<int64_t>();
    n.text = std::to_string(n.integer);
  } else if (t.is_floating_point()) {
    n.kind = DocNode::Kind::kFloat;
    n.number = *t.value<double>();
    n.text = fmt::format("{}", n.number);
  } else if (t.is_boolean()) {
    n.kind = DocNode::Kind::kBool;
    n.boolean = *t.value<bool>();
    n.text = n.boolean ? "true" : "false";
  } else {  // dates and times: as the RFC 3339 text TOML wrote them
    std::ostringstream text;
    t.visit([&](const auto& v) { text << v; });
    n.kind = DocNode::Kind::kString;
    n.text = text.str();
  }
  return n;
}

Result<DocNode> ParseToml(const std::string& path, std::string_view text) {
  try {
    toml::table table = toml::parse(text, path);
    return FromToml(path, table, 0);
  } catch (const toml::parse_error& e) {
    const toml::source_position& at = e.source().begin;
    return MakeErrorAt(fmt::format("{}:{}:{}", path, at.line, at.column), ErrorCode::kParse,
                       std::string(e.description()));
  } catch (const std::exception& e) {
    return MakeErrorAt(path, ErrorCode::kParse, e.what());
  }
}

// ---- JSON ------------------------------------------------------------------------------------

// A strict JSON reader (RFC 8259) that keeps every value's position.
class JsonParser {
 public:
  JsonParser(const std::string& path, std::string_view text) : path_(path), text_(text) {}

  Result<DocNode> Parse() {
    KESTREL_ASSIGN_OR_RETURN(DocNode root, Value(0));
    SkipSpace();
    if (pos_ != text_.size()) return Fail("unexpected text after the JSON value");
    return root;
  }

 private:
  tl::unexpected<Error> Fail(std::string_view reason) {
    auto [line, col] = LineCol();
    return MakeErrorAt(fmt::format("{}:{}:{}", path_, line, col), ErrorCode::kParse, std::string(reason));
  }
  std::pair<uint32_t, uint32_t> LineCol() const {
    uint32_t line = 1, col = 1;
    for (size_t i = 0; i < pos_ && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return {line, col};
  }
  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Result<DocNode> Value(uint32_t depth) {
    SkipSpace();
    DocNode n;
    std::tie(n.line, n.column) = LineCol();
    if (depth > kMaxDepth) return Fail(fmt::format("nested more than {} levels deep", kMaxDepth));
    if (pos_ >= text_.size()) return Fail("unexpected end of the file");
    char c = text_[pos_];
    if (c == '{') {
      ++pos_;
      n.kind = DocNode::Kind::kObject;
      std::set<std::string> seen;
      SkipSpace();
      if (pos_ < text_.size() && text_[pos_] == '}') {
        ++pos_;
        return n;
      }
      for (;;) {
        SkipSpace();
        if (pos_ >= text_.size() || text_[pos_] != '"') return Fail("expected a string key");
        KESTREL_ASSIGN_OR_RETURN(std::string key, String());
        if (!seen.insert(key).second) return Fail(fmt::format("duplicate key '{}'", key));
        SkipSpace();
        if (pos_ >= text_.size() || text_[pos_] != ':') return Fail("expected ':'");
        ++pos_;
        KESTREL_ASSIGN_OR_RETURN(DocNode child, Value(depth + 1));
        n.fields.push_back(DocField{std::move(key), std::move(child)});
        SkipSpace();
        if (pos_ < text_.size() && text_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < text_.size() && text_[pos_] == '}') {
          ++pos_;
          return n;
        }
        return Fail("expected ',' or '}'");
      }
    }
    if (c == '[') {
      ++pos_;
      n.kind = DocNode::Kind::kArray;
      SkipSpace();
      if (pos_ < text_.size() && text_[pos_] == ']') {
        ++pos_;
        return n;
      }
      for (;;) {
        KESTREL_ASSIGN_OR_RETURN(DocNode child, Value(depth + 1));
        n.items.push_back(std::move(child));
        SkipSpace();
        if (pos_ < text_.size() && text_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < text_.size() && text_[pos_] == ']') {
          ++pos_;
          return n;
        }
        return Fail("expected ',' or ']'");
      }
    }
    if (c == '"') {
      n.kind = DocNode::Kind::kString;
      KESTREL_ASSIGN_OR_RETURN(n.text, String());
      return n;
    }
    if (Literal("true") || Literal("false")) {
      n.kind = DocNode::Kind::kBool;
      n.boolean = c == 't';
      n.text = n.boolean ? "true" : "false";
      return n;
    }
    if (Literal("null")) return n;
    if (c == '-' || (c >= '0' && c <= '9')) return Number(std::move(n));
    return Fail(fmt::format("unexpected character '{}'", c));
  }

  Result<DocNode> Number(DocNode n) {
    size_t start = pos_;
    if (text_[pos_] == '-') ++pos_;
    auto digits = [&] {
      size_t from = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      return pos_ - from;
    };
    size_t int_digits = digits();
    if (int_digits == 0) return Fail("a number needs digits");
    if (int_digits > 1 && text_[pos_ - int_digits] == '0') return Fail("a number cannot start with 0");
    bool real = false;
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      real = true;
      if (digits() == 0) return Fail("a number needs digits after '.'");
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      real = true;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (digits() == 0) return Fail("a number needs digits in its exponent");
    }
    n.text = std::string(text_.substr(start, pos_ - start));
    if (!real) {
      if (auto [p, ec] = std::from_chars(n.text.data(), n.text.data() + n.text.size(), n.integer); ec == std::errc()) {
        n.kind = DocNode::Kind::kInt;
        return n;
      }
    }
    n.kind = DocNode::Kind::kFloat;
    n.number = std::strtod(n.text.c_str(), nullptr);
    return n;
  }

  Result<uint32_t> Hex4() {
    if (pos_ + 4 > text_.size()) return Fail("a \\u escape needs 4 hex digits");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char h = text_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') {
        v |= static_cast<uint32_t>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        v |= static_cast<uint32_t>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        v |= static_cast<uint32_t>(h - 'A' + 10);
      } else {
        return Fail("a \\u escape needs 4 hex digits");
      }
    }
    return v;
  }

  Result<std::string> String() {
    ++pos_;  // the opening quote
    std::string out;
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) return Fail("a control character in a string (escape it)");
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) break;
      char e = text_[pos_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          KESTREL_ASSIGN_OR_RETURN(uint32_t cp, Hex4());
          if (cp >= 0xD800 && cp < 0xDC00 && text_.substr(pos_, 2) == "\\u") {
            pos_ += 2;
            KESTREL_ASSIGN_OR_RETURN(uint32_t low, Hex4());
            if (low < 0xDC00 || low > 0xDFFF) return Fail("an unpaired surrogate in a \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xD800 && cp <= 0xDFFF) {
            return Fail("an unpaired surrogate in a \\u escape");
          }
          AppendUtf8(out, cp);
          break;
        }
        default:
          return Fail(fmt::format("unknown escape '\\{}'", e));
      }
    }
    return Fail("unterminated string");
  }

  const std::string& path_;
  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

const DocNode* DocNode::Find(std::string_view key) const {
  for (const auto& [k, v] : fields) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::string_view DocNode::KindName() const {
  switch (kind) {
    case Kind::kNull: return "null";
    case Kind::kBool: return "a boolean";
    case Kind::kInt: return "an integer";
    case Kind::kFloat: return "a number";
    case Kind::kString: return "a string";
    case Kind::kArray: return "a list";
    case Kind::kObject: return "a mapping";
  }
  return "?";
}

void DocNode::AppendJson(std::string& out) const {
  switch (kind) {
    case Kind::kNull: out += "null"; break;
    case Kind::kBool: out += boolean ? "true" : "false"; break;
    case Kind::kInt: out += std::to_string(integer); break;
    case Kind::kFloat: out += fmt::format("{}", number); break;
    case Kind::kString: AppendJsonString(out, text); break;
    case Kind::kArray:
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += ',';
        items[i].AppendJson(out);
      }
      out += ']';
      break;
    case Kind::kObject:
      out += '{';
      for (size_t i = 0; i < fields.size(); ++i) {
        if (i > 0) out += ',';
        AppendJsonString(out, fields[i].first);
        out += ':';
        fields[i].second.AppendJson(out);
      }
      out += '}';
      break;
  }
}

std::optional<DocFormat> DocFormatOf(std::string_view path) {
  if (path.ends_with(".yaml") || path.ends_with(".yml")) return DocFormat::kYaml;
  if (path.ends_with(".toml")) return DocFormat::kToml;
  if (path.ends_with(".json")) return DocFormat::kJson;
  return std::nullopt;
}

std::string Where(const std::string& path, const DocNode& node) {
  return fmt::format("{}:{}:{}", path, node.line, node.column);
}

tl::unexpected<Error> ErrorAt(const std::string& path, const DocNode& node, std::string message) {
  return MakeErrorAt(Where(path, node), ErrorCode::kInvalidArgument, std::move(message));
}

Result<DocNode> ParseFile(const std::string& path) {
  auto format = DocFormatOf(path);
  if (!format) return MakeErrorAt(path, ErrorCode::kInvalidArgument, "expected a .yaml, .yml, .toml or .json file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeErrorAt(path, ErrorCode::kIo, fmt::format("cannot read: {}", std::strerror(errno)));
  std::stringstream text;
  text << in.rdbuf();
  return ParseDocument(path, text.str(), *format);
}

Result<DocNode> ParseDocument(const std::string& path, std::string_view text, DocFormat format) {
  switch (format) {
    case DocFormat::kYaml: return ParseYaml(path, text);
    case DocFormat::kToml: return ParseToml(path, text);
    case DocFormat::kJson: return JsonParser(path, text).Parse();
  }
  return MakeError(ErrorCode::kInternal, "unknown document format");
}

}  // namespace kestrel::config
