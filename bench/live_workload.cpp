// The live source's overhead workload (bench/live_overhead.sh): N execs of /bin/true, M opens
// and closes of a file, and C TCP connections to a listener on 127.0.0.1, as fast as one thread
// can make them. Prints the wall time in seconds. Usage: kestrel_live_workload EXECS OPENS CONNECTS [DIR]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

extern char** environ;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s EXECS OPENS CONNECTS [DIR]\n", argv[0]);
    return 2;
  }
  long execs = std::atol(argv[1]), opens = std::atol(argv[2]), connects = std::atol(argv[3]);
  std::string file = std::string(argc > 4 ? argv[4] : "/tmp") + "/kestrel-live-workload.dat";
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listener, 128) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("listener");
    return 1;
  }
  auto t0 = std::chrono::steady_clock::now();
  char true_path[] = "/bin/true";
  char* child_argv[] = {true_path, nullptr};
  for (long i = 0; i < execs; ++i) {
    pid_t pid;
    if (posix_spawn(&pid, true_path, nullptr, nullptr, child_argv, environ) != 0) {
      std::perror("posix_spawn");
      return 1;
    }
    int status;
    waitpid(pid, &status, 0);
  }
  for (long i = 0; i < opens; ++i) {
    int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
      std::perror("open");
      return 1;
    }
    close(fd);
  }
  for (long i = 0; i < connects; ++i) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      std::perror("connect");
      return 1;
    }
    int a = accept(listener, nullptr, nullptr);
    close(a);
    close(c);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  unlink(file.c_str());
  std::printf("%.3f\n", seconds);
  return 0;
}
