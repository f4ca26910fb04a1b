// The syslog sink's transport: a unix datagram socket, UDP, or TCP with octet-counting framing
// (RFC 6587: "LEN SP MSG"). Sockets are non-blocking and Write never waits on the network:
// a datagram the receiver cannot take now is dropped; TCP frames wait in a bounded buffer that
// each Write (and Close, for at most `timeout`) pushes out. A broken connection is reconnected
// at once, then with a doubling back-off (100 ms .. 30 s) while the server stays away.
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>

#include "sinks/alert_sink.h"
#include "sinks/sink_util.h"
#include "sinks/syslog_format.h"

namespace kestrel::sinks {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kBackoffInitial{100};
constexpr milliseconds kBackoffMax{30000};

enum class Conn : uint8_t { kDown, kConnecting, kUp };

uint64_t WallNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 1 << 30));
}

class SyslogSink final : public AlertSink {
 public:
  SyslogSink(SyslogSinkOptions options, SyslogAddress address, SyslogHeader header)
      : options_(std::move(options)),
        address_(std::move(address)),
        header_(std::move(header)),
        label_("syslog " + options_.address) {}
  ~SyslogSink() override { CloseSocket(); }

  std::string_view name() const override { return "syslog"; }

  Status Resolve() {
    std::memset(&addr_, 0, sizeof addr_);
    if (address_.transport == SyslogTransport::kUnix) {
      sockaddr_un un{};
      un.sun_family = AF_UNIX;
      std::memcpy(un.sun_path, address_.path.data(), address_.path.size());
      std::memcpy(&addr_, &un, sizeof un);
      addr_len_ = sizeof un;
      family_ = AF_UNIX;
      return Ok();
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = Stream() ? SOCK_STREAM : SOCK_DGRAM;
    addrinfo* found = nullptr;
    std::string port = std::to_string(address_.port);
    int rc = ::getaddrinfo(address_.host.c_str(), port.c_str(), &hints, &found);
    if (rc != 0 || found == nullptr) {
      return MakeErrorAt(label_, ErrorCode::kIo,
                         fmt::format("cannot resolve {}: {}", address_.host,
                                     rc == EAI_SYSTEM ? ErrnoText(errno) : ::gai_strerror(rc)));
    }
    std::memcpy(&addr_, found->ai_addr, found->ai_addrlen);
    addr_len_ = found->ai_addrlen;
    family_ = found->ai_family;
    ::freeaddrinfo(found);
    return Ok();
  }

  // The first connection, waited for (up to `timeout`) so that a wrong address fails at start.
  Status Connect() {
    if (!StartConnect()) return MakeErrorAt(label_, ErrorCode::kIo, last_error_);
    if (conn_ == Conn::kConnecting && !FinishConnect(static_cast<int>(options_.timeout.count()))) {
      if (conn_ == Conn::kConnecting) {
        last_error_ = fmt::format("cannot connect: no answer within {} ms", options_.timeout.count());
      }
      CloseSocket();
      return MakeErrorAt(label_, ErrorCode::kIo, last_error_);
    }
    return Ok();
  }

  Status Write(std::string_view line) override {
    if (closed_) return MakeErrorAt(label_, ErrorCode::kInvalidArgument, "write after close");
    auto payload = AlertPayload(line);
    if (!payload) {
      stats_.dropped.fetch_add(1, std::memory_order_relaxed);
      return tl::unexpected(std::move(payload).error().At(label_));
    }
    std::string message = FormatSyslogMessage(header_, *payload, WallNs());
    if (!Stream()) return SendDatagram(message);

    std::string frame = fmt::format("{} {}", message.size(), message);
    if (!pending_.empty() && pending_bytes_ + frame.size() > options_.max_buffer_bytes) {
      stats_.dropped.fetch_add(1, std::memory_order_relaxed);
      Pump(Clock::now());
      return MakeErrorAt(label_, ErrorCode::kLimit,
                         fmt::format("{} bytes wait to be sent ({}); alert dropped", pending_bytes_,
                                     last_error_.empty() ? "server is slow" : last_error_));
    }
    pending_bytes_ += frame.size();
    pending_.push_back(std::move(frame));
    Pump(Clock::now());
    return Ok();
  }

  Status Close() override {
    if (closed_) return Ok();
    closed_ = true;
    size_t left = 0;
    if (Stream()) {
      next_connect_ = Clock::now();  // one more attempt even during a back-off
      Pump(Clock::now() + options_.timeout);
      left = pending_.size();
      if (left > 0) stats_.Failed(left);
      pending_.clear();
      pending_bytes_ = 0;
      stats_.queue_depth.store(0, std::memory_order_relaxed);
    }
    CloseSocket();
    if (left > 0) {
      return MakeErrorAt(label_, ErrorCode::kIo,
                         fmt::format("{} alerts not sent within {} ms: {}", left,
                                     options_.timeout.count(), last_error_));
    }
    return Ok();
  }

  SinkStats stats() const override { return stats_.Snapshot(); }

 private:
  bool Stream() const { return address_.transport == SyslogTransport::kTcp; }

  void CloseSocket() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    conn_ = Conn::kDown;
  }

  void Down(std::string why, bool reconnect_now) {
    last_error_ = std::move(why);
    CloseSocket();
    if (reconnect_now) {
      next_connect_ = Clock::now();
      return;
    }
    next_connect_ = Clock::now() + backoff_;
    backoff_ = std::min(backoff_ * 2, kBackoffMax);
  }

  void Up() {
    conn_ = Conn::kUp;
    backoff_ = kBackoffInitial;
  }

  // Starts a connection (datagram sockets and most local TCP ones connect at once). False, with
  // last_error_ and a back-off set, when it failed.
  bool StartConnect() {
    CloseSocket();
    if (connect_attempts_++ > 0) stats_.retries.fetch_add(1, std::memory_order_relaxed);
    int type = (Stream() ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC | SOCK_NONBLOCK;
    fd_ = ::socket(family_, type, 0);
    if (fd_ < 0) {
      Down("cannot create a socket: " + ErrnoText(errno), false);
      return false;
    }
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr_), addr_len_) == 0) {
      Up();
      return true;
    }
    if (Stream() && errno == EINPROGRESS) {
      conn_ = Conn::kConnecting;
      return true;
    }
    Down("cannot connect: " + ErrnoText(errno), false);
    return false;
  }

  // Waits up to timeout_ms for a connection in progress; true once it is up.
  bool FinishConnect(int timeout_ms) {
    pollfd p{fd_, POLLOUT, 0};
    int rc = ::poll(&p, 1, timeout_ms);
    if (rc == 0 || (rc < 0 && errno == EINTR)) return false;
    int err = 0;
    socklen_t len = sizeof err;
    if (rc < 0) err = errno;
    if (rc > 0 && ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) {
      Down("cannot connect: " + ErrnoText(err), false);
      return false;
    }
    Up();
    return true;
  }

  // A TCP server that closed its end is noticed before an alert is sent into the dead socket.
  bool PeerClosed() {
    pollfd p{fd_, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) return true;
    char sink[512];
    for (int i = 0; i < 8; ++i) {  // a server has nothing to say; whatever it sent is discarded
      ssize_t n = ::recv(fd_, sink, sizeof sink, MSG_DONTWAIT);
      if (n == 0) return true;
      if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
    }
    return false;
  }

  Status SendDatagram(const std::string& message) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (conn_ != Conn::kUp) {
        if (Clock::now() < next_connect_) {
          stats_.Failed();
          return MakeErrorAt(label_, ErrorCode::kIo,
                             fmt::format("{} (next attempt in {} ms); alert dropped", last_error_,
                                         RemainingMs(next_connect_)));
        }
        if (!StartConnect()) break;
      }
      ssize_t n = ::send(fd_, message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n >= 0 && static_cast<size_t>(n) == message.size()) {
        stats_.written.fetch_add(1, std::memory_order_relaxed);
        return Ok();
      }
      int err = n < 0 ? errno : EMSGSIZE;
      if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
        stats_.Failed();
        return MakeErrorAt(label_, ErrorCode::kLimit,
                           "the receiver is not keeping up (" + ErrnoText(err) + "); alert dropped");
      }
      if (err == EMSGSIZE) {
        stats_.Failed();
        return MakeErrorAt(label_, ErrorCode::kLimit,
                           fmt::format("a message of {} bytes is too large for a datagram "
                                       "(use tcp:); alert dropped",
                                       message.size()));
      }
      // The receiver went away (ECONNREFUSED, ENOTCONN, ...): reconnect once and resend.
      Down("cannot send: " + ErrnoText(err), attempt == 0);
    }
    stats_.Failed();
    return MakeErrorAt(label_, ErrorCode::kIo, last_error_ + "; alert dropped");
  }

  // Sends buffered TCP frames until the buffer is empty, the socket would block past
  // `deadline`, or the server is away. A frame cut by a broken connection is lost (the rest of
  // it cannot be resent without corrupting the stream); whole frames wait for the reconnect.
  void Pump(Clock::time_point deadline) {
    bool checked_peer = false;
    bool reconnected_now = false;
    while (!pending_.empty()) {
      if (conn_ == Conn::kDown) {
        if (Clock::now() < next_connect_ || !StartConnect()) break;
      }
      if (conn_ == Conn::kConnecting && !FinishConnect(RemainingMs(deadline))) break;
      if (!checked_peer && front_sent_ == 0) {
        checked_peer = true;
        if (PeerClosed()) {
          Down("connection closed by the server", !reconnected_now);
          reconnected_now = true;
          continue;
        }
      }
      const std::string& front = pending_.front();
      ssize_t n = ::send(fd_, front.data() + front_sent_, front.size() - front_sent_,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        front_sent_ += static_cast<size_t>(n);
        if (front_sent_ == front.size()) {
          pending_bytes_ -= front.size();
          pending_.pop_front();
          front_sent_ = 0;
          stats_.written.fetch_add(1, std::memory_order_relaxed);
        }
        continue;
      }
      int err = n < 0 ? errno : EPIPE;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        int ms = RemainingMs(deadline);
        if (ms <= 0) break;
        pollfd p{fd_, POLLOUT, 0};
        ::poll(&p, 1, ms);
        continue;
      }
      if (front_sent_ > 0) {
        pending_bytes_ -= front.size();
        pending_.pop_front();
        front_sent_ = 0;
        stats_.Failed();
      }
      Down("cannot send: " + ErrnoText(err), !reconnected_now);
      reconnected_now = true;
      checked_peer = true;
    }
    stats_.queue_depth.store(pending_.size(), std::memory_order_relaxed);
  }

  SyslogSinkOptions options_;
  SyslogAddress address_;
  SyslogHeader header_;
  std::string label_;  // "syslog udp:10.0.0.1:514": the location of every error
  sockaddr_storage addr_{};
  socklen_t addr_len_ = 0;
  int family_ = AF_UNSPEC;

  int fd_ = -1;
  Conn conn_ = Conn::kDown;
  uint64_t connect_attempts_ = 0;
  Clock::time_point next_connect_{};
  milliseconds backoff_ = kBackoffInitial;
  std::string last_error_;
  bool closed_ = false;

  std::deque<std::string> pending_;  // tcp: whole frames; the first may be partly sent
  size_t front_sent_ = 0;
  size_t pending_bytes_ = 0;

  AtomicSinkStats stats_;
};

}  // namespace

Result<std::unique_ptr<AlertSink>> OpenSyslogSink(const SyslogSinkOptions& options) {
  KESTREL_ASSIGN_OR_RETURN(SyslogAddress address, ParseSyslogAddress(options.address));
  std::string label = "syslog " + options.address;
  if (options.facility < 0 || options.facility > 23) {
    return MakeErrorAt(label, ErrorCode::kInvalidArgument,
                       fmt::format("facility {} is not 0..23", options.facility));
  }
  if (options.timeout.count() < 0) {
    return MakeErrorAt(label, ErrorCode::kInvalidArgument, "negative timeout");
  }
  SyslogHeader header;
  header.facility = options.facility;
  std::string hostname = options.hostname;
  if (hostname.empty()) {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) == 0) hostname = buf;
  }
  header.hostname = SyslogHeaderField(hostname, 255);
  header.app_name = SyslogHeaderField(options.app_name, 48);
  header.procid = std::to_string(::getpid());

  auto sink = std::make_unique<SyslogSink>(options, std::move(address), std::move(header));
  KESTREL_TRY(sink->Resolve());
  KESTREL_TRY(sink->Connect());
  return std::unique_ptr<AlertSink>(std::move(sink));
}

}  // namespace kestrel::sinks
