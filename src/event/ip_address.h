// Text form of IP addresses.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "event/value.h"

namespace kestrel {

// "10.0.0.1", "::1", "fe80::1" (an IPv6 zone "%eth0" is not accepted).
std::optional<IpAddress> ParseIp(std::string_view text);
// Dotted quad for IPv4 (v4-mapped), RFC 5952 for IPv6.
void AppendIp(std::string& out, const IpAddress& ip);
std::string FormatIp(const IpAddress& ip);

}  // namespace kestrel
