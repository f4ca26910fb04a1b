// The webhook sink against an httplib::Server on 127.0.0.1 that answers as each test needs:
// delivery, retries on 503 / 429 / refused connections with their counts, giving up, 4xx not
// retried, batches, a full queue that drops without blocking, a Close bounded by `timeout`.
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "sink_test_util.h"
#include "sinks/alert_sink.h"

namespace kestrel::sinks {
namespace {

using namespace std::chrono_literals;
using testing::AlertLine;
using Clock = std::chrono::steady_clock;

std::string Payload(const std::string& line) { return line.substr(0, line.size() - 1); }

// Answers POST /alerts with answer(n) for the n-th request (1-based); records what it got.
class TestServer {
 public:
  explicit TestServer(std::function<int(int)> answer) : answer_(std::move(answer)) {
    server_.Post("/alerts", [this](const httplib::Request& req, httplib::Response& res) {
      int n = 0;
      {
        std::unique_lock lock(mutex_);
        bodies_.push_back(req.body);
        content_type_ = req.get_header_value("Content-Type");
        token_ = req.get_header_value("X-Token");
        n = static_cast<int>(bodies_.size());
        arrived_.notify_all();
        if (hold_) released_.wait_for(lock, 5s, [&] { return !hold_; });  // bounded
      }
      res.status = answer_(n);
      res.set_content("{}", "application/json");
    });
    server_.set_tcp_nodelay(true);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 200 && !server_.is_running(); ++i) std::this_thread::sleep_for(5ms);
  }
  ~TestServer() {
    Release();
    server_.stop();
    thread_.join();
  }

  std::string url() const { return fmt::format("http://127.0.0.1:{}/alerts", port_); }

  // While held, requests wait in the handler (a server that does not answer).
  void Hold() {
    std::lock_guard lock(mutex_);
    hold_ = true;
  }
  void Release() {
    std::lock_guard lock(mutex_);
    hold_ = false;
    released_.notify_all();
  }
  bool WaitForRequests(size_t n) {
    std::unique_lock lock(mutex_);
    return arrived_.wait_for(lock, 5s, [&] { return bodies_.size() >= n; });
  }
  std::vector<std::string> bodies() const {
    std::lock_guard lock(mutex_);
    return bodies_;
  }
  std::string content_type() const {
    std::lock_guard lock(mutex_);
    return content_type_;
  }
  std::string token() const {
    std::lock_guard lock(mutex_);
    return token_;
  }

 private:
  std::function<int(int)> answer_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::condition_variable released_;
  bool hold_ = false;
  std::vector<std::string> bodies_;
  std::string content_type_;
  std::string token_;
};

WebhookSinkOptions FastOptions(const std::string& url) {
  WebhookSinkOptions options;
  options.url = url;
  options.backoff_initial = 1ms;
  options.backoff_max = 4ms;
  options.timeout = 2000ms;
  return options;
}

std::unique_ptr<AlertSink> MustOpen(const WebhookSinkOptions& options) {
  auto sink = OpenWebhookSink(options);
  EXPECT_TRUE(sink) << (sink ? "" : sink.error().ToString());
  return sink ? std::move(*sink) : nullptr;
}

TEST(WebhookSinkTest, DeliversEveryLine) {
  TestServer server([](int) { return 200; });
  WebhookSinkOptions options = FastOptions(server.url());
  options.headers = {{"X-Token", "s3cret"}};
  auto sink = MustOpen(options);
  ASSERT_TRUE(sink);
  EXPECT_EQ(sink->name(), "webhook");
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(sink->Write(AlertLine(i)));
  ASSERT_TRUE(sink->Close());

  std::vector<std::string> bodies = server.bodies();
  ASSERT_EQ(bodies.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(bodies[i], Payload(AlertLine(i)));
  EXPECT_EQ(server.content_type(), "application/json");
  EXPECT_EQ(server.token(), "s3cret");
  SinkStats stats = sink->stats();
  EXPECT_EQ(stats.written, 20u);
  EXPECT_EQ(stats.retries, 0u);
  EXPECT_EQ(stats.dropped, 0u);
  EXPECT_EQ(stats.queue_depth, 0u);
  EXPECT_FALSE(sink->Write(AlertLine(21)));
}

TEST(WebhookSinkTest, RetriesUnavailableThenDelivers) {
  TestServer server([](int n) { return n <= 2 ? 503 : 200; });
  auto sink = MustOpen(FastOptions(server.url()));
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->Write(AlertLine(1)));
  ASSERT_TRUE(sink->Close());
  EXPECT_EQ(server.bodies().size(), 3u);
  SinkStats stats = sink->stats();
  EXPECT_EQ(stats.written, 1u);
  EXPECT_EQ(stats.retries, 2u);
  EXPECT_EQ(stats.failures, 0u);
}

TEST(WebhookSinkTest, TooManyRequestsIsRetried) {
  TestServer server([](int n) { return n == 1 ? 429 : 204; });
  WebhookSinkOptions options = FastOptions(server.url());
  options.headers = {{"content-type", "application/vnd.siem+json"}};  // replaces the default
  auto sink = MustOpen(options);
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->Write(AlertLine(1)));
  ASSERT_TRUE(sink->Close());
  EXPECT_EQ(server.content_type(), "application/vnd.siem+json");
  EXPECT_EQ(sink->stats().written, 1u);
  EXPECT_EQ(sink->stats().retries, 1u);
}

TEST(WebhookSinkTest, GivesUpAfterMaxRetries) {
  TestServer server([](int) { return 500; });
  WebhookSinkOptions options = FastOptions(server.url());
  options.max_retries = 3;
  auto sink = MustOpen(options);
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->Write(AlertLine(1)));
  ASSERT_TRUE(sink->Write(AlertLine(2)));
  ASSERT_TRUE(sink->Close());
  EXPECT_EQ(server.bodies().size(), 8u);  // 2 alerts x (1 + 3 retries)
  SinkStats stats = sink->stats();
  EXPECT_EQ(stats.written, 0u);
  EXPECT_EQ(stats.retries, 6u);
  EXPECT_EQ(stats.failures, 2u);
  EXPECT_EQ(stats.dropped, 2u);
}

TEST(WebhookSinkTest, BadRequestIsNotRetried) {
  TestServer server([](int n) { return n == 1 ? 400 : 200; });
  auto sink = MustOpen(FastOptions(server.url()));
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->Write(AlertLine(1)));
  ASSERT_TRUE(sink->Write(AlertLine(2)));
  ASSERT_TRUE(sink->Close());
  EXPECT_EQ(server.bodies().size(), 2u);
  SinkStats stats = sink->stats();
  EXPECT_EQ(stats.written, 1u);
  EXPECT_EQ(stats.retries, 0u);
  EXPECT_EQ(stats.failures, 1u);
  EXPECT_EQ(stats.dropped, 1u);
}

TEST(WebhookSinkTest, RefusedConnectionsAreRetriedThenCounted) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);  // a port nobody listens on
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  WebhookSinkOptions options = FastOptions(fmt::format("http://127.0.0.1:{}/x", ntohs(addr.sin_port)));
  options.max_retries = 2;
  auto sink = MustOpen(options);
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->Write(AlertLine(1)));
  ASSERT_TRUE(sink->Close());
  ::close(fd);
  SinkStats stats = sink->stats();
  EXPECT_EQ(stats.retries, 2u);
  EXPECT_EQ(stats.failures, 1u);
  EXPECT_EQ(stats.dropped, 1u);
}

TEST(WebhookSinkTest, BatchesAreJsonArrays) {
  TestServer server([](int) { return 200; });
  WebhookSinkOptions options = FastOptions(server.url());
  options.batch_max = 5;
  auto sink = MustOpen(options);
  ASSERT_TRUE(sink);
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(sink->Write(AlertLine(i)));
  ASSERT_TRUE(sink->Close());
  int next = 0;
  for (const std::string& body : server.bodies()) {
    nlohmann::json batch = nlohmann::json::parse(body, nullptr, false);
    ASSERT_TRUE(batch.is_array()) << body;
    EXPECT_GE(batch.size(), 1u);
    EXPECT_LE(batch.size(), 5u);
    for (const auto& alert : batch) EXPECT_EQ(alert.dump(), Payload(AlertLine(next++)));
  }
  EXPECT_EQ(next, 12);
  EXPECT_EQ(sink->stats().written, 12u);
}

TEST(WebhookSinkTest, FullQueueDropsAndWriteNeverBlocks) {
  TestServer server([](int) { return 200; });
  server.Hold();
  WebhookSinkOptions options = FastOptions(server.url());
  options.queue_capacity = 4;
  auto sink = MustOpen(options);
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->Write(AlertLine(0)));
  ASSERT_TRUE(server.WaitForRequests(1));  // the sender now waits for an answer

  auto slowest = Clock::duration::zero();
  int refused = 0;
  for (int i = 1; i <= 50; ++i) {
    auto start = Clock::now();
    auto status = sink->Write(AlertLine(i));
    slowest = std::max(slowest, Clock::now() - start);
    if (!status) {
      ++refused;
      EXPECT_EQ(status.error().code(), ErrorCode::kLimit);
      EXPECT_NE(status.error().ToString().find("webhook " + server.url() + ": queue full"),
                std::string::npos);
    }
  }
  EXPECT_LT(slowest, 50ms);
  EXPECT_EQ(refused, 46);
  SinkStats held = sink->stats();
  EXPECT_EQ(held.dropped, 46u);
  EXPECT_EQ(held.failures, 0u);
  EXPECT_EQ(held.queue_depth, 4u);

  server.Release();
  ASSERT_TRUE(sink->Close());
  SinkStats stats = sink->stats();
  EXPECT_EQ(stats.written, 5u);
  EXPECT_EQ(stats.dropped, 46u);
  EXPECT_EQ(server.bodies().size(), 5u);
}

TEST(WebhookSinkTest, CloseIsBoundedWhenTheServerHangs) {
  TestServer server([](int) { return 200; });
  server.Hold();
  WebhookSinkOptions options = FastOptions(server.url());
  options.timeout = 300ms;
  auto sink = MustOpen(options);
  ASSERT_TRUE(sink);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(sink->Write(AlertLine(i)));
  ASSERT_TRUE(server.WaitForRequests(1));
  auto start = Clock::now();
  auto closed = sink->Close();
  EXPECT_LT(Clock::now() - start, 1500ms);
  ASSERT_FALSE(closed);
  EXPECT_NE(closed.error().ToString().find("not delivered within 300 ms"), std::string::npos)
      << closed.error().ToString();
  SinkStats stats = sink->stats();
  EXPECT_EQ(stats.written, 0u);
  EXPECT_EQ(stats.dropped, 3u);
  EXPECT_EQ(stats.failures, 3u);
  EXPECT_EQ(stats.queue_depth, 0u);
}

TEST(WebhookSinkTest, BadOptionsSayWhy) {
  auto scheme = OpenWebhookSink({.url = "ftp://example.org/x"});
  ASSERT_FALSE(scheme);
  EXPECT_EQ(scheme.error().ToString(),
            "webhook ftp://example.org/x: expected a URL of the form http://host[:port]/path");
  for (const char* url : {"http://", "http://host:0/", "http://host:99999/", "http://host:/x",
                          "http://[::1/x", "http://u:p@host/x", "http://host/a b"}) {
    auto bad = OpenWebhookSink({.url = url});
    ASSERT_FALSE(bad) << url;
    EXPECT_EQ(bad.error().location(), std::string("webhook ") + url);
  }
  auto header = OpenWebhookSink({.url = "http://127.0.0.1:9/x", .headers = {{"X-A", "1\r\nX-B: 2"}}});
  ASSERT_FALSE(header);
  EXPECT_NE(header.error().ToString().find("bad header 'X-A'"), std::string::npos);
  EXPECT_FALSE(OpenWebhookSink({.url = "http://127.0.0.1:9/x", .queue_capacity = 0}));
  EXPECT_FALSE(OpenWebhookSink({.url = "http://127.0.0.1:9/x", .batch_max = 0}));
  EXPECT_FALSE(OpenWebhookSink({.url = "http://127.0.0.1:9/x", .timeout = 0ms}));

  auto https = OpenWebhookSink({.url = "https://127.0.0.1:9/x"});
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  EXPECT_TRUE(https) << https.error().ToString();
#else
  ASSERT_FALSE(https);
  EXPECT_EQ(https.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(https.error().ToString().find("https is not supported"), std::string::npos);
#endif
  auto ipv6 = OpenWebhookSink({.url = "http://[::1]:9"});
  EXPECT_TRUE(ipv6) << ipv6.error().ToString();
}

}  // namespace
}  // namespace kestrel::sinks
