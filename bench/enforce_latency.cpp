// Latency of the operations Kestrel's responses sit in front of (bench/enforce_overhead.sh):
//   kestrel_enforce_latency exec N PATH    N execs of PATH (posix_spawn + waitpid), one at a time
//   kestrel_enforce_latency connect N      N TCP connects to a listener on 127.0.0.1 (connect(2) only)
// Prints "p50 p99 mean" of one operation, in microseconds.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <vector>

extern char** environ;

int main(int argc, char** argv) {
  if (argc < 3 || (std::strcmp(argv[1], "exec") == 0 && argc < 4)) {
    std::fprintf(stderr, "usage: %s exec N PATH | connect N\n", argv[0]);
    return 2;
  }
  long n = std::atol(argv[2]);
  std::vector<double> us;
  us.reserve(static_cast<size_t>(n));
  using Clock = std::chrono::steady_clock;
  if (std::strcmp(argv[1], "exec") == 0) {
    char* child_argv[] = {argv[3], nullptr};
    for (long i = 0; i < n; ++i) {
      auto t0 = Clock::now();
      pid_t pid;
      if (posix_spawn(&pid, argv[3], nullptr, nullptr, child_argv, environ) != 0) {
        std::perror("posix_spawn");
        return 1;
      }
      int status;
      waitpid(pid, &status, 0);
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
  } else {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listener, 1024) != 0 || getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      std::perror("listener");
      return 1;
    }
    for (long i = 0; i < n; ++i) {
      int c = socket(AF_INET, SOCK_STREAM, 0);
      auto t0 = Clock::now();
      int rc = connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      if (rc != 0) {
        std::perror("connect");
        return 1;
      }
      close(accept(listener, nullptr, nullptr));
      close(c);
    }
  }
  std::vector<double> sorted = us;
  std::sort(sorted.begin(), sorted.end());
  auto at = [&](double q) { return sorted[std::min(sorted.size() - 1, static_cast<size_t>(q * sorted.size()))]; };
  std::printf("%.2f %.2f %.2f\n", at(0.5), at(0.99), std::accumulate(us.begin(), us.end(), 0.0) / us.size());
  return 0;
}
