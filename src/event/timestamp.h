// Timestamps as they appear in recordings: RFC 3339 / ISO 8601 strings, epoch milliseconds,
// and Windows FILETIME (Endgame). All map to ns since the Unix epoch, UTC.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kestrel {

// "2017-08-30T20:47:33Z", "2017-08-30T20:47:33.123456789+02:00", "2017-08-30 20:47:33",
// "2017-08-30" (midnight UTC), or an all-digit string of epoch milliseconds.
std::optional<int64_t> ParseTimestamp(std::string_view text);

// RFC 3339 in UTC with the shortest of 0, 3, 6 or 9 fraction digits that is exact.
std::string FormatTimestamp(int64_t ns);
// Appends the same text to `out` without allocating when it has capacity.
void AppendTimestamp(std::string& out, int64_t ns);

// Windows FILETIME (100 ns ticks since 1601-01-01) to ns since 1970-01-01.
inline constexpr int64_t kFileTimeUnixEpoch = 116444736000000000;
std::optional<int64_t> FileTimeToUnixNs(uint64_t filetime);

// Civil date <-> days since 1970-01-01 (proleptic Gregorian).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);

}  // namespace kestrel
