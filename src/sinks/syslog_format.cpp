// RFC 5424 messages and syslog addresses (see syslog_format.h).
#include "sinks/syslog_format.h"

#include <fmt/format.h>

#include <charconv>
#include <ctime>
#include <nlohmann/json.hpp>

namespace kestrel::sinks {
namespace {

constexpr size_t kMaxSdValue = 255;  // longer ids are cut (at a UTF-8 boundary)

const nlohmann::json* Member(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string StringAt(const nlohmann::json& root, std::initializer_list<const char*> path) {
  const nlohmann::json* node = &root;
  for (const char* key : path) {
    node = Member(*node, key);
    if (node == nullptr) return {};
  }
  return node->is_string() ? node->get<std::string>() : std::string();
}

std::string CutUtf8(std::string s, size_t max) {
  if (s.size() <= max) return s;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  s.resize(end);
  return s;
}

}  // namespace

Result<SyslogAddress> ParseSyslogAddress(std::string_view address) {
  std::string location = fmt::format("syslog {}", address);
  auto bad = [&](std::string why) {
    return MakeErrorAt(location, ErrorCode::kInvalidArgument, std::move(why));
  };
  SyslogAddress out;
  size_t colon = address.find(':');
  if (colon == std::string_view::npos) {
    return bad("expected unix:PATH, udp:HOST:PORT or tcp:HOST:PORT");
  }
  std::string_view scheme = address.substr(0, colon);
  std::string_view rest = address.substr(colon + 1);
  if (scheme == "unix") {
    if (rest.empty()) return bad("no socket path");
    if (rest.size() >= 108) return bad("socket path longer than 107 bytes");
    out.transport = SyslogTransport::kUnix;
    out.path = std::string(rest);
    return out;
  }
  if (scheme == "udp") {
    out.transport = SyslogTransport::kUdp;
  } else if (scheme == "tcp") {
    out.transport = SyslogTransport::kTcp;
  } else {
    return bad(fmt::format("unknown transport '{}' (expected unix, udp or tcp)", scheme));
  }
  size_t port_colon = rest.rfind(':');
  if (port_colon == std::string_view::npos) return bad("no port (expected HOST:PORT)");
  std::string_view host = rest.substr(0, port_colon);
  std::string_view port = rest.substr(port_colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad("an IPv6 host goes in brackets: [::1]:514");
  }
  if (host.empty()) return bad("no host");
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 ||
      value > 65535) {
    return bad(fmt::format("bad port '{}'", port));
  }
  out.host = std::string(host);
  out.port = static_cast<uint16_t>(value);
  return out;
}

AlertSyslogFields ReadAlertSyslogFields(std::string_view alert_json) {
  AlertSyslogFields out;
  nlohmann::json root = nlohmann::json::parse(alert_json.begin(), alert_json.end(), nullptr,
                                              /*allow_exceptions=*/false);
  if (root.is_discarded()) return out;
  std::string severity = StringAt(root, {"rule", "severity"});
  if (severity == "low") out.severity = kSeverityNotice;
  if (severity == "medium") out.severity = kSeverityWarning;
  if (severity == "high") out.severity = kSeverityError;
  if (severity == "critical") out.severity = kSeverityCritical;
  out.rule_id = CutUtf8(StringAt(root, {"rule", "id"}), kMaxSdValue);
  out.alert_id = CutUtf8(StringAt(root, {"kestrel", "alert", "id"}), kMaxSdValue);
  return out;
}

std::string SyslogHeaderField(std::string_view value, size_t max_len) {
  std::string out;
  for (char c : value.substr(0, max_len)) out += (c > 32 && c < 127) ? c : '_';
  return out.empty() ? "-" : out;
}

std::string EscapeSdParamValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '"' || c == '\\' || c == ']') out += '\\';
    out += c;
  }
  return out;
}

std::string FormatSyslogTimestamp(uint64_t wall_ns) {
  auto seconds = static_cast<time_t>(wall_ns / 1000000000u);
  struct tm tm {};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (wall_ns % 1000000000u) / 1000u);
}

std::string FormatSyslogMessage(const SyslogHeader& header, std::string_view payload,
                                uint64_t wall_ns) {
  AlertSyslogFields fields = ReadAlertSyslogFields(payload);
  std::string sd = "[kestrel@32473";
  if (!fields.rule_id.empty()) sd += fmt::format(" rule_id=\"{}\"", EscapeSdParamValue(fields.rule_id));
  if (!fields.alert_id.empty()) {
    sd += fmt::format(" alert_id=\"{}\"", EscapeSdParamValue(fields.alert_id));
  }
  sd += ']';
  return fmt::format("<{}>1 {} {} {} {} alert {} {}", header.facility * 8 + fields.severity,
                     FormatSyslogTimestamp(wall_ns), header.hostname, header.app_name,
                     header.procid, sd, payload);
}

}  // namespace kestrel::sinks
