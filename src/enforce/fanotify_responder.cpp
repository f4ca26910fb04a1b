#include "enforce/fanotify_responder.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <unordered_map>

#include "sources/ebpf/process_table.h"

namespace kestrel::enforce {

namespace {

std::string Errno(int err) { return fmt::format("{} ({})", std::strerror(err), err); }

// `path` is a mount point other than the root: the only places Kestrel marks.
Status CheckMount(const std::string& path) {
  char real[PATH_MAX];
  if (realpath(path.c_str(), real) == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("enforce mount {}: {}", path, Errno(errno)));
  }
  std::string r(real);
  if (r == "/") {
    return MakeError(ErrorCode::kInvalidArgument,
                     "enforce mount /: refusing to mark the root file system (every process of the host would wait "
                     "on Kestrel); name the mounts that hold what the rules block");
  }
  struct stat self {}, parent {};
  if (stat(r.c_str(), &self) != 0 || stat((r + "/..").c_str(), &parent) != 0) {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("enforce mount {}: {}", path, Errno(errno)));
  }
  if (self.st_dev == parent.st_dev && self.st_ino != parent.st_ino) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("enforce mount {} is not a mount point (fanotify would mark the whole mount it is on)", path));
  }
  return Ok();
}

}  // namespace

Result<std::unique_ptr<FanotifyResponder>> FanotifyResponder::Start(const ResponderOptions& options, Decide decide) {
  if (options.mounts.empty()) return MakeError(ErrorCode::kInvalidArgument, "no mount to enforce on (--enforce-mount)");
  if (!options.exec && !options.open) return MakeError(ErrorCode::kInvalidArgument, "nothing to watch");
  for (const std::string& m : options.mounts) KESTREL_TRY(CheckMount(m));
  std::unique_ptr<FanotifyResponder> r(new FanotifyResponder());
  r->options_ = options;
  r->decide_ = std::move(decide);
  r->exempt_.insert(options.exempt.begin(), options.exempt.end());
  r->fan_fd_ = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
  if (r->fan_fd_ < 0) {
    int err = errno;
    return MakeError(ErrorCode::kUnsupported, fmt::format("fanotify_init: {}{}", Errno(err),
                                                          err == EPERM ? " (needs root / CAP_SYS_ADMIN)" : ""));
  }
  r->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (r->wake_fd_ < 0) return MakeError(ErrorCode::kIo, fmt::format("eventfd: {}", Errno(errno)));
  uint64_t mask = (options.exec ? FAN_OPEN_EXEC_PERM : 0) | (options.open ? FAN_OPEN_PERM : 0);
  for (const std::string& m : options.mounts) {
    if (fanotify_mark(r->fan_fd_, FAN_MARK_ADD | FAN_MARK_MOUNT, mask, AT_FDCWD, m.c_str()) != 0) {
      return MakeError(ErrorCode::kUnsupported, fmt::format("fanotify_mark {}: {}", m, Errno(errno)));
    }
  }
  r->decider_ = std::thread([p = r.get()] { p->DecideLoop(); });
  r->responder_ = std::thread([p = r.get()] { p->RespondLoop(); });
  return r;
}

FanotifyResponder::~FanotifyResponder() {
  Stop();
  if (wake_fd_ >= 0) close(wake_fd_);
}

void FanotifyResponder::Stop() {
  if (stop_.exchange(true)) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  }
  uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!write(wake_fd_, &one, sizeof one);
  if (responder_.joinable()) responder_.join();
  if (decider_.joinable()) decider_.join();
  if (fan_fd_ >= 0) close(fan_fd_);  // removes every mark
  fan_fd_ = -1;
}

ResponderStats FanotifyResponder::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void FanotifyResponder::Write(int fd, Answer answer, std::chrono::steady_clock::time_point received) {
  fanotify_response response{};
  response.fd = fd;
  response.response = answer == Answer::kAllow ? FAN_ALLOW : FAN_DENY;
  // Measured up to the answer: once written, the process it frees may run on this CPU first.
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - received).count();
  (void)!write(fan_fd_, &response, sizeof response);
  close(fd);
  std::lock_guard<std::mutex> lock(mu_);
  ++(answer == Answer::kAllow ? stats_.allowed : stats_.denied);
  stats_.answer_ns.Add(static_cast<uint64_t>(ns));
}

bool FanotifyResponder::Claim(uint64_t id, Pending& out) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(id);
  if (it == pending_.end()) return false;
  out = it->second;
  pending_.erase(it);
  return true;
}

void FanotifyResponder::RespondLoop() {
  alignas(fanotify_event_metadata) char buf[16384];
  std::vector<Pending> expired;
  while (true) {
    auto now = std::chrono::steady_clock::now();
    // Past their deadline: the fallback. The soonest deadline left sets the poll timeout.
    int timeout_ms = 100;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->second.deadline <= now) {
          expired.push_back(it->second);
          ++stats_.late;
          it = pending_.erase(it);
          continue;
        }
        auto left = std::chrono::duration_cast<std::chrono::microseconds>(it->second.deadline - now).count();
        timeout_ms = std::min<int>(timeout_ms, static_cast<int>(left / 1000) + 1);
        ++it;
      }
    }
    for (const Pending& p : expired) Write(p.fd, options_.fallback, p.received);
    expired.clear();
    if (stop_.load()) break;
    pollfd fds[2] = {{fan_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int n = poll(fds, 2, timeout_ms);
    if (n < 0 && errno != EINTR) break;
    if (fds[1].revents & POLLIN) {
      uint64_t count;
      (void)!read(wake_fd_, &count, sizeof count);
    }
    if ((fds[0].revents & POLLIN) == 0) continue;
    ssize_t len = read(fan_fd_, buf, sizeof buf);
    if (len <= 0) continue;
    auto* md = reinterpret_cast<fanotify_event_metadata*>(buf);
    for (; FAN_EVENT_OK(md, len); md = FAN_EVENT_NEXT(md, len)) {
      if (md->vers != FANOTIFY_METADATA_VERSION || md->fd < 0) continue;
      auto received = std::chrono::steady_clock::now();
      if ((md->mask & (FAN_OPEN_EXEC_PERM | FAN_OPEN_PERM)) == 0) {
        close(md->fd);
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.requests;
      }
      if (exempt_.count(md->pid) > 0) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          ++stats_.exempt;
        }
        Write(md->fd, Answer::kAllow, received);
        continue;
      }
      bool full;
      {
        std::lock_guard<std::mutex> lock(mu_);
        full = pending_.size() >= options_.max_pending;
        if (full) ++stats_.overflow;
      }
      if (full) {
        Write(md->fd, options_.fallback, received);
        continue;
      }
      PermissionRequest request;
      request.id = next_id_++;
      request.exec = (md->mask & FAN_OPEN_EXEC_PERM) != 0;
      request.pid = md->pid;
      request.path = ebpf::ReadLink(fmt::format("/proc/self/fd/{}", md->fd));
      if (options_.may_deny && !options_.may_deny(request)) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          ++stats_.fast;
        }
        Write(md->fd, Answer::kAllow, received);
        continue;
      }
      std::lock_guard<std::mutex> lock(mu_);
      pending_[request.id] = Pending{md->fd, received, received + options_.deadline};
      requests_.push_back(std::move(request));
      cv_.notify_one();
    }
  }
  // Stopping: whatever is still pending gets the fallback now.
  std::unordered_map<uint64_t, Pending> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    left.swap(pending_);
  }
  for (auto& [id, p] : left) Write(p.fd, options_.fallback, p.received);
}

void FanotifyResponder::DecideLoop() {
  while (true) {
    PermissionRequest request;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_.load() || !requests_.empty(); });
      if (stop_.load()) return;
      request = std::move(requests_.front());
      requests_.pop_front();
    }
    Answer answer = decide_(request);
    if (Pending p; Claim(request.id, p)) Write(p.fd, answer, p.received);  // else: answered at its deadline
  }
}

}  // namespace kestrel::enforce
