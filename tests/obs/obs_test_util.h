// Helpers for the obs tests: a fresh temporary directory and reading a file's lines.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <string>
#include <vector>

namespace kestrel::obs::testing {

inline std::string MakeTempDir() {
  std::string templ = ::testing::TempDir() + "kestrel_obs_XXXXXX";
  char* dir = mkdtemp(templ.data());
  EXPECT_NE(dir, nullptr);
  return templ;
}

inline std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace kestrel::obs::testing
