// A one-line progress bar on stderr, drawn only when stderr is a terminal (never in CI or pipes).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace kestrel::cli {

class Progress {
 public:
  explicit Progress(std::string label);
  ~Progress();

  // Redraws at most ten times a second.
  void Update(uint64_t done_bytes, uint64_t total_bytes, uint64_t events);
  void Finish();

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace kestrel::cli
