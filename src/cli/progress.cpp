#include "cli/progress.h"

#include <unistd.h>

#include <fmt/format.h>

namespace kestrel::cli {

Progress::Progress(std::string label)
    : label_(std::move(label)),
      enabled_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() { Finish(); }

void Progress::Update(uint64_t done_bytes, uint64_t total_bytes, uint64_t events) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  double secs = std::chrono::duration<double>(now - start_).count();
  double mb = static_cast<double>(done_bytes) / 1e6;
  std::string bar;
  if (total_bytes > 0) {
    constexpr int kWidth = 30;
    int filled = static_cast<int>(kWidth * std::min(1.0, static_cast<double>(done_bytes) / static_cast<double>(total_bytes)));
    bar = fmt::format("[{}{}] {:3.0f}% ", std::string(filled, '#'), std::string(kWidth - filled, ' '),
                      100.0 * filled / kWidth);
  }
  fmt::print(stderr, "\r{} {}{:.1f} MB, {} events, {:.1f} MB/s\x1b[K", label_, bar, mb, events,
             secs > 0 ? mb / secs : 0.0);
  drawn_ = true;
}

void Progress::Finish() {
  if (drawn_) fmt::print(stderr, "\r\x1b[K");
  drawn_ = false;
}

}  // namespace kestrel::cli
