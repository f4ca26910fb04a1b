#include "event/ip_address.h"

#include <arpa/inet.h>

#include <cstring>

namespace kestrel {

std::optional<IpAddress> ParseIp(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress ip{};
  in_addr v4{};
  if (inet_pton(AF_INET, buf, &v4) == 1) {
    ip.bytes[10] = 0xFF;
    ip.bytes[11] = 0xFF;
    std::memcpy(ip.bytes + 12, &v4, 4);
    return ip;
  }
  if (inet_pton(AF_INET6, buf, ip.bytes) == 1) return ip;
  return std::nullopt;
}

void AppendIp(std::string& out, const IpAddress& ip) {
  char buf[INET6_ADDRSTRLEN];
  const char* text = ip.is_v4() ? inet_ntop(AF_INET, ip.bytes + 12, buf, sizeof(buf))
                                : inet_ntop(AF_INET6, ip.bytes, buf, sizeof(buf));
  if (text != nullptr) out.append(text);
}

std::string FormatIp(const IpAddress& ip) {
  std::string out;
  AppendIp(out, ip);
  return out;
}

}  // namespace kestrel
