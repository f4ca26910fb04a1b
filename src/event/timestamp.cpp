#include "event/timestamp.h"

#include <charconv>
#include <limits>

namespace kestrel {
namespace {

constexpr int64_t kNsPerSec = 1'000'000'000;

bool ReadDigits(std::string_view s, size_t& pos, size_t n, int64_t& out) {
  if (pos + n > s.size()) return false;
  int64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  pos += n;
  out = v;
  return true;
}

void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

void Append2(std::string& out, unsigned v) {
  out.push_back(static_cast<char>('0' + v / 10));
  out.push_back(static_cast<char>('0' + v % 10));
}

// The common form "2017-08-30T20:47:33.25Z" ('T', 0-9 fraction digits, 'Z') read at fixed
// positions. nullopt when the text is not exactly that form or a check fails: the general
// parser below then decides, so this only ever returns what it would.
std::optional<int64_t> ParseUtcFast(std::string_view s) {
  const size_t n = s.size();
  if (n < 20 || n > 30 || s[n - 1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
      s[16] != ':') {
    return std::nullopt;
  }
  auto digit = [&](size_t i) { return static_cast<unsigned>(static_cast<unsigned char>(s[i]) - '0'); };
  bool bad = false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18}) bad |= digit(i) > 9;
  int64_t frac_ns = 0;
  if (n > 20) {
    bad |= s[19] != '.' || n == 21;
    int64_t scale = 100'000'000;
    for (size_t i = 20; i < n - 1; ++i, scale /= 10) {
      bad |= digit(i) > 9;
      frac_ns += digit(i) * scale;
    }
  }
  if (bad) return std::nullopt;
  const int64_t year = digit(0) * 1000 + digit(1) * 100 + digit(2) * 10 + digit(3);
  const unsigned month = digit(5) * 10 + digit(6), day = digit(8) * 10 + digit(9);
  const int64_t hour = digit(11) * 10 + digit(12), minute = digit(14) * 10 + digit(15),
                second = digit(17) * 10 + digit(18);
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) || hour > 23 || minute > 59 ||
      second > 60) {
    return std::nullopt;
  }
  int64_t secs = DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  if (secs > std::numeric_limits<int64_t>::max() / kNsPerSec - 1 ||
      secs < std::numeric_limits<int64_t>::min() / kNsPerSec + 1) {
    return std::nullopt;
  }
  return secs * kNsPerSec + frac_ns;
}

}  // namespace

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::optional<int64_t> ParseTimestamp(std::string_view s) {
  if (auto fast = ParseUtcFast(s)) return fast;
  if (s.empty()) return std::nullopt;
  if (s.size() <= 18 && s.find_first_not_of("0123456789") == std::string_view::npos) {
    int64_t ms = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), ms);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    if (ms > std::numeric_limits<int64_t>::max() / 1'000'000) return std::nullopt;
    return ms * 1'000'000;
  }
  size_t pos = 0;
  int64_t year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, frac_ns = 0;
  if (!ReadDigits(s, pos, 4, year) || pos >= s.size() || s[pos++] != '-') return std::nullopt;
  if (!ReadDigits(s, pos, 2, month) || pos >= s.size() || s[pos++] != '-') return std::nullopt;
  if (!ReadDigits(s, pos, 2, day)) return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, static_cast<unsigned>(month))) {
    return std::nullopt;
  }
  int64_t offset_s = 0;
  if (pos < s.size()) {
    if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') return std::nullopt;
    ++pos;
    if (!ReadDigits(s, pos, 2, hour) || pos >= s.size() || s[pos++] != ':') return std::nullopt;
    if (!ReadDigits(s, pos, 2, minute)) return std::nullopt;
    if (pos < s.size() && s[pos] == ':') {
      ++pos;
      if (!ReadDigits(s, pos, 2, second)) return std::nullopt;
      if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
        ++pos;
        size_t digits = 0;
        int64_t scale = 100'000'000;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
          if (digits < 9) frac_ns += (s[pos] - '0') * scale;
          scale /= 10;
          ++digits;
          ++pos;
        }
        if (digits == 0) return std::nullopt;
      }
    }
    if (hour > 23 || minute > 59 || second > 60) return std::nullopt;  // 60: leap second
    if (pos < s.size()) {
      char z = s[pos];
      if ((z == 'Z' || z == 'z') && pos + 1 == s.size()) {
        pos = s.size();
      } else if (z == '+' || z == '-') {
        ++pos;
        int64_t oh = 0, om = 0;
        if (!ReadDigits(s, pos, 2, oh)) return std::nullopt;
        if (pos < s.size() && s[pos] == ':') ++pos;
        if (!ReadDigits(s, pos, 2, om) || pos != s.size() || oh > 23 || om > 59) return std::nullopt;
        offset_s = (oh * 3600 + om * 60) * (z == '+' ? 1 : -1);
      } else {
        return std::nullopt;
      }
    }
  }
  int64_t days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  if (secs > std::numeric_limits<int64_t>::max() / kNsPerSec - 1 ||
      secs < std::numeric_limits<int64_t>::min() / kNsPerSec + 1) {
    return std::nullopt;
  }
  return secs * kNsPerSec + frac_ns;
}

void AppendTimestamp(std::string& out, int64_t ns) {
  int64_t secs = ns / kNsPerSec;
  int64_t frac = ns % kNsPerSec;
  if (frac < 0) {
    frac += kNsPerSec;
    --secs;
  }
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  int64_t year;
  unsigned month, day;
  CivilFromDays(days, year, month, day);
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), year);
  for (ptrdiff_t pad = 4 - (p - buf); year >= 0 && pad > 0; --pad) out.push_back('0');
  out.append(buf, p);
  out.push_back('-');
  Append2(out, month);
  out.push_back('-');
  Append2(out, day);
  out.push_back('T');
  Append2(out, static_cast<unsigned>(rem / 3600));
  out.push_back(':');
  Append2(out, static_cast<unsigned>(rem / 60 % 60));
  out.push_back(':');
  Append2(out, static_cast<unsigned>(rem % 60));
  if (frac != 0) {
    int digits = frac % 1'000'000 == 0 ? 3 : (frac % 1'000 == 0 ? 6 : 9);
    int64_t v = frac / (digits == 3 ? 1'000'000 : (digits == 6 ? 1'000 : 1));
    out.push_back('.');
    char f[9];
    for (int i = digits - 1; i >= 0; --i) {
      f[i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
    out.append(f, static_cast<size_t>(digits));
  }
  out.push_back('Z');
}

std::string FormatTimestamp(int64_t ns) {
  std::string out;
  AppendTimestamp(out, ns);
  return out;
}

std::optional<int64_t> FileTimeToUnixNs(uint64_t filetime) {
  constexpr auto kMaxTicks = static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / 100);
  if (filetime > kMaxTicks + static_cast<uint64_t>(kFileTimeUnixEpoch)) return std::nullopt;
  int64_t ticks = static_cast<int64_t>(filetime) - kFileTimeUnixEpoch;
  // Before about 1678 the nanoseconds since 1970 do not fit in an int64.
  if (ticks < std::numeric_limits<int64_t>::min() / 100) return std::nullopt;
  return ticks * 100;
}

}  // namespace kestrel
