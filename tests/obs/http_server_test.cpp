#include "obs/http_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <string>

namespace kestrel::obs {
namespace {

class MetricsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = MetricsServer::Start("127.0.0.1:0", registry_, [this] {
      if (healthy_) return HealthStatus{true, R"({"events_read":12,"sources":["ebpf"]})"};
      return HealthStatus{false, "event bus stalled for 30 s"};
    });
    ASSERT_TRUE(server) << server.error().ToString();
    server_ = std::move(*server);
    ASSERT_NE(server_->port(), 0);
  }

  httplib::Result Get(const std::string& path) {
    httplib::Client client("127.0.0.1", server_->port());
    client.set_connection_timeout(5);
    return client.Get(path.c_str());
  }

  MetricsRegistry registry_;
  std::atomic<bool> healthy_{true};
  std::unique_ptr<MetricsServer> server_;
};

TEST_F(MetricsServerTest, ServesMetricsThatMoveBetweenScrapes) {
  Counter& events =
      registry_.GetCounter("kestrel_events_total", "Events read", {{"source", "ebpf"}});
  events.Add(3);
  auto first = Get("/metrics");
  ASSERT_TRUE(first) << httplib::to_string(first.error());
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(first->body.find("# TYPE kestrel_events_total counter\n"), std::string::npos);
  EXPECT_NE(first->body.find("kestrel_events_total{source=\"ebpf\"} 3\n"), std::string::npos)
      << first->body;

  events.Add(2);
  auto second = Get("/metrics");
  ASSERT_TRUE(second);
  EXPECT_NE(second->body.find("kestrel_events_total{source=\"ebpf\"} 5\n"), std::string::npos)
      << second->body;
}

TEST_F(MetricsServerTest, HealthIs200Or503WithJson) {
  auto ok = Get("/healthz");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  auto body = nlohmann::json::parse(ok->body);
  EXPECT_EQ(body["status"], "ok");
  EXPECT_EQ(body["events_read"], 12);
  EXPECT_EQ(body["sources"][0], "ebpf");
  EXPECT_EQ(ok->body.rfind(R"({"status":"ok")", 0), 0u) << ok->body;  // "status" comes first

  healthy_ = false;
  auto degraded = Get("/healthz");
  ASSERT_TRUE(degraded);
  EXPECT_EQ(degraded->status, 503);
  body = nlohmann::json::parse(degraded->body);
  EXPECT_EQ(body["status"], "degraded");
  EXPECT_EQ(body["reason"], "event bus stalled for 30 s");
}

TEST_F(MetricsServerTest, OtherPathsAre404) {
  auto res = Get("/nope");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  res = Get("/metrics/extra");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

TEST_F(MetricsServerTest, SecondServerOnTheSamePortFailsNamingTheAddress) {
  std::string address = "127.0.0.1:" + std::to_string(server_->port());
  auto second = MetricsServer::Start(address, registry_);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), ErrorCode::kIo);
  EXPECT_NE(second.error().ToString().find("'" + address + "'"), std::string::npos)
      << second.error().ToString();
  EXPECT_NE(second.error().ToString().find("in use"), std::string::npos)
      << second.error().ToString();
  // The first one still serves.
  auto res = Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(MetricsServerTest, StopIsIdempotentAndClosesThePort) {
  uint16_t port = server_->port();
  server_->Stop();
  server_->Stop();
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1);
  EXPECT_FALSE(client.Get("/metrics"));
  server_.reset();  // the destructor after Stop
}

TEST(MetricsServerAddressTest, MalformedAddressesFailNamingThem) {
  MetricsRegistry registry;
  for (const char* address :
       {"localhost", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:80x", ":9464", "::1:9464"}) {
    auto server = MetricsServer::Start(address, registry);
    ASSERT_FALSE(server) << address;
    EXPECT_EQ(server.error().code(), ErrorCode::kInvalidArgument) << address;
    EXPECT_NE(server.error().ToString().find(std::string("'") + address + "'"), std::string::npos)
        << server.error().ToString();
  }
  // TEST-NET-1: not an address of this machine.
  auto not_local = MetricsServer::Start("192.0.2.1:9464", registry);
  ASSERT_FALSE(not_local);
  EXPECT_EQ(not_local.error().code(), ErrorCode::kIo);
  EXPECT_NE(not_local.error().ToString().find("'192.0.2.1:9464'"), std::string::npos)
      << not_local.error().ToString();
}

TEST(MetricsServerAddressTest, StartAndStopRightAway) {
  MetricsRegistry registry;
  for (int i = 0; i < 20; ++i) {
    auto server = MetricsServer::Start("127.0.0.1:0", registry);
    ASSERT_TRUE(server) << server.error().ToString();
  }  // each destroyed at once: Stop must not hang if the thread has not reached its loop yet
}

}  // namespace
}  // namespace kestrel::obs
