// The syslog sink's text: its address ("unix:/dev/log", "udp:HOST:PORT", "tcp:HOST:PORT") and
// the RFC 5424 message made of one alert:
//   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID alert [kestrel@32473 rule_id=".." alert_id=".."] MSG
// with PRI = facility * 8 + severity (from the alert's rule.severity) and MSG the alert's JSON.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace kestrel::sinks {

enum class SyslogTransport : uint8_t { kUnix, kUdp, kTcp };

struct SyslogAddress {
  SyslogTransport transport = SyslogTransport::kUnix;
  std::string path;  // kUnix
  std::string host;  // kUdp, kTcp: a name or an address (IPv6 without its brackets)
  uint16_t port = 0;
};

// Errors are located at "syslog <address>".
Result<SyslogAddress> ParseSyslogAddress(std::string_view address);

// RFC 5424 severities used for alerts.
inline constexpr int kSeverityCritical = 2;
inline constexpr int kSeverityError = 3;
inline constexpr int kSeverityWarning = 4;
inline constexpr int kSeverityNotice = 5;

// rule.severity low / medium / high / critical -> notice / warning / error / critical; anything
// else (missing, unknown, not JSON) -> warning.
struct AlertSyslogFields {
  int severity = kSeverityWarning;
  std::string rule_id;   // rule.id, empty when absent
  std::string alert_id;  // kestrel.alert.id, empty when absent
};
AlertSyslogFields ReadAlertSyslogFields(std::string_view alert_json);

// The fixed part of every message: header fields already made valid (see SyslogHeaderField).
struct SyslogHeader {
  int facility = 10;
  std::string hostname;
  std::string app_name;
  std::string procid;
};

// A header field as RFC 5424 allows it: printable US-ASCII without spaces (others become '_'),
// at most max_len characters, "-" when empty.
std::string SyslogHeaderField(std::string_view value, size_t max_len);

// An SD-PARAM value: '"', '\\' and ']' escaped with a backslash.
std::string EscapeSdParamValue(std::string_view value);

// "2024-11-26T05:46:43.100000Z" (UTC, microseconds).
std::string FormatSyslogTimestamp(uint64_t wall_ns);

// The whole message for one alert (payload: the JSON without its newline).
std::string FormatSyslogMessage(const SyslogHeader& header, std::string_view payload,
                                uint64_t wall_ns);

}  // namespace kestrel::sinks
