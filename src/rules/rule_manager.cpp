#include "rules/rule_manager.h"

#include <fmt/format.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace kestrel::rules {

namespace fs = std::filesystem;

RuleManager::RuleManager(RuleManagerOptions options, const SchemaRegistry& registry)
    : options_(std::move(options)), registry_(registry) {}

Result<std::unique_ptr<RuleManager>> RuleManager::Start(RuleManagerOptions options, const SchemaRegistry& registry) {
  std::unique_ptr<RuleManager> m(new RuleManager(std::move(options), registry));
  KESTREL_ASSIGN_OR_RETURN(m->initial_, m->Load(1));
  m->current_hash_ = m->initial_->pack.hash;
  m->stats_.generation = 1;
  m->stats_.pack = m->initial_->pack.Describe();
  m->stats_.pack_hash = m->initial_->pack.hash;
  m->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (m->wake_fd_ < 0) return MakeError(ErrorCode::kIo, fmt::format("eventfd: {}", std::strerror(errno)));
  if (m->options_.watch) {
    m->inotify_fd_ = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (m->inotify_fd_ < 0) {
      return MakeErrorAt(m->options_.path, ErrorCode::kIo,
                         fmt::format("cannot watch the rules for changes (inotify: {}); SIGHUP still reloads",
                                     std::strerror(errno)));
    }
    m->WatchFolders();
  }
  m->thread_ = std::thread([mp = m.get()] { mp->Loop(); });
  return m;
}

RuleManager::~RuleManager() {
  stop_.store(true);
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  if (inotify_fd_ >= 0) close(inotify_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

void RuleManager::RequestReload() {
  reload_requested_.store(true);
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
}

void RuleManager::WatchFolders() {
  std::error_code ec;
  fs::path root = fs::is_directory(options_.path, ec) ? fs::path(options_.path) : fs::path(options_.path).parent_path();
  if (root.empty()) root = ".";
  constexpr uint32_t kMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB;
  inotify_add_watch(inotify_fd_, root.c_str(), kMask);
  if (!fs::is_directory(options_.path, ec)) return;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec)) inotify_add_watch(inotify_fd_, it->path().c_str(), kMask);  // a watched folder again: same watch
  }
}

Result<std::shared_ptr<Generation>> RuleManager::Load(uint64_t number) {
  auto gen = std::make_shared<Generation>();
  gen->number = number;
  KESTREL_ASSIGN_OR_RETURN(gen->pack, LoadPack(options_.path, registry_, options_.pack));
  if (!gen->pack.errors.empty() && options_.skip_bad) {
    for (const Error& e : gen->pack.errors) spdlog::warn("skipped rule: {}", e.ToString());
  } else if (!gen->pack.errors.empty()) {
    std::string all;
    for (const Error& e : gen->pack.errors) all += (all.empty() ? "" : "\n") + e.ToString();
    return MakeError(gen->pack.errors.front().code(),
                     fmt::format("{}\n{} rule file{} failed", all, gen->pack.errors.size(),
                                 gen->pack.errors.size() == 1 ? "" : "s"));
  }
  if (gen->pack.rules.rules.empty()) {
    return MakeErrorAt(options_.path, ErrorCode::kInvalidArgument, "no rules to run");
  }
  KESTREL_TRY(engine::CompileBackends(gen->pack.rules, options_.backend, registry_));
  if (options_.check) KESTREL_TRY(options_.check(gen->pack));
  engine::EngineOptions eo = options_.engine_options ? options_.engine_options(gen->pack.rules) : engine::EngineOptions{};
  gen->engine = std::make_unique<engine::DetectionEngine>(gen->pack.rules, registry_, eo);
  return gen;
}

void RuleManager::Reload() {
  auto gen = Load(next_number_);
  std::lock_guard lock(mu_);
  if (!gen) {
    ++stats_.failures;
    stats_.last_error = gen.error().ToString();
    spdlog::error("rule reload failed; still running {}: {}", stats_.pack, stats_.last_error);
  } else if ((*gen)->pack.hash == current_hash_) {
    ++stats_.unchanged;
    spdlog::info("rule reload: {} unchanged", (*gen)->pack.Describe());
    retired_.push_back(std::move(*gen));
  } else {
    ++next_number_;
    ++stats_.successes;
    stats_.last_error.clear();  // the pack in use is good again
    current_hash_ = (*gen)->pack.hash;
    spdlog::info("rule reload: loaded {} ({} rules) as generation {}", (*gen)->pack.Describe(),
                 (*gen)->pack.rules.rules.size(), (*gen)->number);
    if (pending_) retired_.push_back(std::move(pending_));  // never taken: the newer one wins
    pending_ = std::move(*gen);
    pending_ready_.store(true, std::memory_order_release);
  }
  attempted_.notify_all();
}

std::shared_ptr<Generation> RuleManager::TakePending() {
  std::lock_guard lock(mu_);
  pending_ready_.store(false, std::memory_order_relaxed);
  std::shared_ptr<Generation> gen = std::move(pending_);
  if (gen) {
    stats_.generation = gen->number;
    stats_.pack = gen->pack.Describe();
    stats_.pack_hash = gen->pack.hash;
  }
  return gen;
}

void RuleManager::Retire(std::shared_ptr<Generation> old) {
  if (!old) return;
  {
    std::lock_guard lock(mu_);
    retired_.push_back(std::move(old));
  }
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
}

ReloadStats RuleManager::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

bool RuleManager::WaitForAttempts(uint64_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return attempted_.wait_for(lock, timeout, [&] { return stats_.successes + stats_.failures + stats_.unchanged >= n; });
}

void RuleManager::Loop() {
  using Clock = std::chrono::steady_clock;
  std::optional<Clock::time_point> due;  // a file changed: reload once they are quiet until then
  while (!stop_.load()) {
    int timeout = -1;
    if (due) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*due - Clock::now()).count();
      timeout = static_cast<int>(std::max<int64_t>(left, 0));
    }
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {inotify_fd_, POLLIN, 0}};
    int n = poll(fds, inotify_fd_ >= 0 ? 2 : 1, timeout);
    if (n < 0 && errno != EINTR) break;
    if (fds[0].revents & POLLIN) {
      uint64_t v;
      (void)!read(wake_fd_, &v, sizeof v);
    }
    if (inotify_fd_ >= 0 && (fds[1].revents & POLLIN)) {
      alignas(inotify_event) char buf[4096];
      bool folder_added = false;
      for (ssize_t got; (got = read(inotify_fd_, buf, sizeof buf)) > 0;) {
        for (char* p = buf; p < buf + got;) {
          auto* ev = reinterpret_cast<inotify_event*>(p);
          if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO))) folder_added = true;
          p += sizeof(inotify_event) + ev->len;
        }
      }
      if (folder_added) WatchFolders();
      due = Clock::now() + options_.quiet;
    }
    std::vector<std::shared_ptr<Generation>> free_here;
    {
      std::lock_guard lock(mu_);
      free_here.swap(retired_);
    }
    free_here.clear();  // engines and their state are freed here, not on the event thread
    if (stop_.load()) break;
    if (reload_requested_.exchange(false) || (due && Clock::now() >= *due)) {
      due.reset();
      Reload();
    }
  }
}

}  // namespace kestrel::rules
