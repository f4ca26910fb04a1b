// Helpers of the sinks tests: a temporary directory and alert lines as the engine renders them.
#pragma once

#include <fmt/format.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace kestrel::sinks::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "kestrel-sinks-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(std::string_view name) const { return fmt::format("{}/{}", path_, name); }

 private:
  std::string path_;
};

// One alert line (with its '\n'), shaped as docs/alerts.md says.
inline std::string AlertLine(int n, std::string_view severity = "medium",
                             std::string_view rule_id = "rule_one") {
  nlohmann::json alert = {
      {"@timestamp", "2024-11-26T05:46:43.100Z"},
      {"event", {{"kind", "alert"}}},
      {"rule", {{"id", rule_id}, {"name", rule_id}, {"severity", severity}, {"tags", nlohmann::json::array()}}},
      {"kestrel", {{"alert", {{"version", 1}, {"id", fmt::format("{:016x}", n)}, {"kind", "event"}}}}}};
  return alert.dump() + "\n";
}

inline std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace kestrel::sinks::testing
