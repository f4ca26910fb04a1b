// The webhook sink: Write puts the alert on a bounded queue (full: the alert is dropped, never
// waited for); one thread POSTs the queue to the URL with cpp-httplib, one alert per request or,
// with batch_max > 1, a JSON array of up to batch_max. A connection error, 5xx or 429 is retried
// after initial, 2x, 4x, ... backoff (capped at backoff_max) up to max_retries times; any other
// answer but 2xx fails the alerts at once. Close drains for at most `timeout`, then aborts the
// request in flight and counts what is left as failed.
#include <pthread.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <httplib.h>
#include <mutex>
#include <thread>

#include "sinks/alert_sink.h"
#include "sinks/sink_util.h"

namespace kestrel::sinks {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct HttpUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // as written, IPv6 with its brackets
  int port = 0;
  std::string path;  // with the query, "/" at least
};

Result<HttpUrl> ParseHttpUrl(const std::string& url) {
  std::string location = "webhook " + url;
  auto bad = [&](std::string why) {
    return MakeErrorAt(location, ErrorCode::kInvalidArgument, std::move(why));
  };
  HttpUrl out;
  std::string_view rest = url;
  if (rest.starts_with("http://")) {
    out.scheme = "http";
    out.port = 80;
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
    return MakeErrorAt(location, ErrorCode::kUnsupported,
                       "https is not supported by this build (cpp-httplib without OpenSSL); use "
                       "http:// or a local TLS-terminating proxy");
#endif
    out.scheme = "https";
    out.port = 443;
    rest.remove_prefix(8);
  } else {
    return bad("expected a URL of the form http://host[:port]/path");
  }
  size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (size_t hash = path.find('#'); hash != std::string_view::npos) path = path.substr(0, hash);
  if (authority.find('@') != std::string_view::npos) {
    return bad("credentials in the URL are not supported; send an Authorization header instead");
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed '[' in the host");
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("expected ':PORT' after the IPv6 host");
      port = after.substr(1);
      if (port.empty()) return bad("empty port");
    }
  } else if (size_t colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return bad("empty port");
  }
  if (host.empty() || host == "[]") return bad("no host");
  if (!port.empty()) {
    int value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value <= 0 || value > 65535) {
      return bad(fmt::format("bad port '{}'", port));
    }
    out.port = value;
  }
  out.path = std::string(path);
  if (path.empty() || path.front() == '?') out.path.insert(out.path.begin(), '/');
  for (char c : out.path) {
    if (static_cast<unsigned char>(c) <= 32 || c == 127) return bad("space or control character in the path");
  }
  out.host = std::string(host);
  return out;
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

enum class Outcome : uint8_t { kDelivered, kRetry, kFail };

class WebhookSink final : public AlertSink {
 public:
  WebhookSink(WebhookSinkOptions options, HttpUrl url, std::unique_ptr<httplib::Client> client)
      : options_(std::move(options)),
        url_(std::move(url)),
        label_("webhook " + options_.url),
        client_(std::move(client)) {
    for (const auto& [key, value] : options_.headers) {
      if (EqualsIgnoringCase(key, "content-type")) {
        content_type_ = value;  // replaces ours rather than sending two
        continue;
      }
      headers_.emplace(key, value);
    }
  }
  ~WebhookSink() override { (void)Close(); }

  std::string_view name() const override { return "webhook"; }

  void Start() { worker_ = std::thread([this] { Run(); }); }

  Status Write(std::string_view line) override {
    if (closed_) return MakeErrorAt(label_, ErrorCode::kInvalidArgument, "write after close");
    auto payload = AlertPayload(line);
    if (!payload) {
      stats_.dropped.fetch_add(1, std::memory_order_relaxed);
      return tl::unexpected(std::move(payload).error().At(label_));
    }
    {
      std::lock_guard lock(mutex_);
      if (queue_.size() >= options_.queue_capacity) {
        stats_.dropped.fetch_add(1, std::memory_order_relaxed);
        return MakeErrorAt(label_, ErrorCode::kLimit,
                           fmt::format("queue full ({} alerts); alert dropped", queue_.size()));
      }
      queue_.emplace_back(*payload);
      stats_.queue_depth.store(queue_.size(), std::memory_order_relaxed);
    }
    wake_.notify_one();
    return Ok();
  }

  Status Close() override {
    if (closed_) return Ok();
    closed_ = true;
    Clock::time_point deadline = Clock::now() + options_.timeout;
    {
      std::unique_lock lock(mutex_);
      draining_ = true;
      wake_.notify_all();
      if (!done_.wait_until(lock, deadline, [&] { return finished_; })) {
        abort_ = true;
        wake_.notify_all();
      }
    }
    if (abort_) client_->stop();  // ends a request in flight (a connect ends by its timeout)
    if (worker_.joinable()) worker_.join();
    std::lock_guard lock(mutex_);
    if (abandoned_ > 0) {
      return MakeErrorAt(label_, ErrorCode::kIo,
                         fmt::format("{} alerts not delivered within {} ms: {}", abandoned_,
                                     options_.timeout.count(), last_error_));
    }
    return Ok();
  }

  SinkStats stats() const override { return stats_.Snapshot(); }

 private:
  void Run() {
    // cpp-httplib's client writes without MSG_NOSIGNAL: a server that hangs up must make the
    // write fail with EPIPE, not kill the process. SIGPIPE is raised in the writing thread,
    // so blocking it here is enough.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);

    std::vector<std::string> batch;
    for (;;) {
      batch.clear();
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return !queue_.empty() || draining_ || abort_; });
        if (abort_ || queue_.empty()) break;  // aborted, or drained while closing
        size_t n = std::min(queue_.size(), std::max<size_t>(options_.batch_max, 1));
        for (size_t i = 0; i < n; ++i) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        stats_.queue_depth.store(queue_.size(), std::memory_order_relaxed);
      }
      Deliver(batch);
    }
    std::lock_guard lock(mutex_);
    if (!queue_.empty()) {
      stats_.Failed(queue_.size());
      abandoned_ += queue_.size();
      queue_.clear();
      stats_.queue_depth.store(0, std::memory_order_relaxed);
    }
    finished_ = true;
    done_.notify_all();
  }

  void Deliver(const std::vector<std::string>& batch) {
    std::string body;
    if (options_.batch_max > 1) {
      body = '[';
      for (size_t i = 0; i < batch.size(); ++i) {
        if (i > 0) body += ',';
        body += batch[i];
      }
      body += ']';
    } else {
      body = batch.front();
    }
    milliseconds delay = options_.backoff_initial;
    for (uint32_t attempt = 0;; ++attempt) {
      std::string error;
      Outcome outcome = Post(body, error);
      if (outcome == Outcome::kDelivered) {
        stats_.written.fetch_add(batch.size(), std::memory_order_relaxed);
        return;
      }
      std::unique_lock lock(mutex_);
      if (outcome == Outcome::kRetry && attempt >= options_.max_retries) {
        error = fmt::format("gave up after {} retries: {}", attempt, error);
      }
      last_error_ = error;
      if (outcome == Outcome::kFail || attempt >= options_.max_retries || abort_) {
        stats_.Failed(batch.size());
        if (abort_) abandoned_ += batch.size();
        return;
      }
      stats_.retries.fetch_add(1, std::memory_order_relaxed);
      if (wake_.wait_for(lock, delay, [&] { return abort_; })) {
        stats_.Failed(batch.size());
        abandoned_ += batch.size();
        return;
      }
      delay = std::min(delay * 2, options_.backoff_max);
    }
  }

  Outcome Post(const std::string& body, std::string& error) {
    try {
      httplib::Result res = client_->Post(url_.path, headers_, body, content_type_);
      if (!res) {
        error = "request failed: " + httplib::to_string(res.error());
        return Outcome::kRetry;
      }
      int status = res->status;
      if (status >= 200 && status < 300) return Outcome::kDelivered;
      if (status == 429 || status >= 500) {
        error = fmt::format("server answered {}", status);
        return Outcome::kRetry;
      }
      error = fmt::format("server answered {} (not retried)", status);
      return Outcome::kFail;
    } catch (const std::exception& e) {  // cpp-httplib's own code may throw (std::regex, alloc)
      error = std::string("http client: ") + e.what();
      return Outcome::kFail;
    }
  }

  WebhookSinkOptions options_;
  HttpUrl url_;
  std::string label_;  // "webhook http://siem:8080/alerts": the location of every error
  std::unique_ptr<httplib::Client> client_;
  httplib::Headers headers_;
  std::string content_type_ = "application/json";
  bool closed_ = false;  // the writing thread's own

  std::mutex mutex_;  // guards what follows; never held across a request
  std::condition_variable wake_;  // the worker: an alert, closing or abort; a back-off ended early
  std::condition_variable done_;  // Close: the worker finished
  std::deque<std::string> queue_;
  bool draining_ = false;
  bool abort_ = false;
  bool finished_ = false;
  uint64_t abandoned_ = 0;  // alerts still queued or in flight when Close gave up
  std::string last_error_;

  std::thread worker_;
  AtomicSinkStats stats_;
};

bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n' || c == 0; });
}

}  // namespace

Result<std::unique_ptr<AlertSink>> OpenWebhookSink(const WebhookSinkOptions& options) {
  KESTREL_ASSIGN_OR_RETURN(HttpUrl url, ParseHttpUrl(options.url));
  std::string label = "webhook " + options.url;
  auto bad = [&](std::string why) {
    return MakeErrorAt(label, ErrorCode::kInvalidArgument, std::move(why));
  };
  if (options.queue_capacity == 0) return bad("queue_capacity must be at least 1");
  if (options.batch_max == 0) return bad("batch_max must be at least 1");
  if (options.timeout.count() <= 0) return bad("timeout must be positive");
  if (options.backoff_initial.count() < 0 || options.backoff_max < options.backoff_initial) {
    return bad("backoff must satisfy 0 <= backoff_initial <= backoff_max");
  }
  for (const auto& [key, value] : options.headers) {
    if (key.empty() || HasControl(key) || key.find(':') != std::string::npos || HasControl(value)) {
      return bad(fmt::format("bad header '{}'", key));
    }
  }
  std::unique_ptr<httplib::Client> client;
  try {
    if (url.scheme == "http") {
      std::string host = url.host;
      if (host.starts_with('[')) host = host.substr(1, host.size() - 2);
      client = std::make_unique<httplib::Client>(host, url.port);
    } else {
      client = std::make_unique<httplib::Client>(fmt::format("https://{}:{}", url.host, url.port));
    }
  } catch (const std::exception& e) {
    return MakeErrorAt(label, ErrorCode::kInternal, std::string("http client: ") + e.what());
  }
  if (!client->is_valid()) return bad("the HTTP client does not accept this URL");
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(options.timeout);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(options.timeout - seconds);
  client->set_connection_timeout(seconds.count(), micros.count());
  client->set_read_timeout(seconds.count(), micros.count());
  client->set_write_timeout(seconds.count(), micros.count());
  client->set_keep_alive(true);
  client->set_tcp_nodelay(true);  // one small request at a time: no Nagle / delayed-ACK stall

  auto sink = std::make_unique<WebhookSink>(options, std::move(url), std::move(client));
  sink->Start();
  return std::unique_ptr<AlertSink>(std::move(sink));
}

}  // namespace kestrel::sinks
