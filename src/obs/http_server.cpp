#include "obs/http_server.h"

#include <fmt/format.h>
#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <exception>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>

namespace kestrel::obs {
namespace {

constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kJsonContentType = "application/json";
// Scrapes are serialized by the registry lock anyway; a few threads keep /healthz answering
// while a scraper holds a keep-alive connection.
constexpr size_t kServerThreads = 3;

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

Result<HostPort> ParseAddress(const std::string& address) {
  auto bad = [&](std::string_view why) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("metrics address '{}': {} (expected HOST:PORT, e.g. "
                                 "127.0.0.1:9464 or [::1]:9464)",
                                 address, why));
  };
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return bad("no port");
  HostPort out;
  std::string_view host(address.data(), colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad("an IPv6 host goes in brackets");
  }
  if (host.empty()) return bad("no host");
  out.host = std::string(host);
  std::string_view port(address.data() + colon + 1, address.size() - colon - 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    return bad(fmt::format("invalid port '{}'", port));
  }
  out.port = static_cast<uint16_t>(value);
  return out;
}

// httplib's default sets SO_REUSEPORT, which would let a second server share the port silently.
void ListenSocketOptions(socket_t sock) {
  int yes = 1;
  setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
}

void ServeHealth(const std::function<HealthStatus()>& health, httplib::Response& res) {
  HealthStatus status;
  if (health) {
    try {
      status = health();
    } catch (const std::exception& e) {
      status = {false, fmt::format("health check failed: {}", e.what())};
    } catch (...) {
      status = {false, "health check failed"};
    }
  }
  nlohmann::ordered_json body;
  if (status.ok) {
    body["status"] = "ok";
    if (!status.detail_json_or_reason.empty()) {
      auto details = nlohmann::ordered_json::parse(status.detail_json_or_reason, nullptr, false);
      if (details.is_object()) {
        for (auto& [key, value] : details.items()) {
          if (key != "status") body[key] = value;
        }
      } else {
        body["detail"] = status.detail_json_or_reason;
      }
    }
  } else {
    body["status"] = "degraded";
    body["reason"] = status.detail_json_or_reason;
  }
  res.status = status.ok ? 200 : 503;
  res.set_content(body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace),
                  kJsonContentType);
}

}  // namespace

struct MetricsServer::Impl {
  httplib::Server server;
  std::string host;
  uint16_t port = 0;
  std::thread thread;
  std::atomic<bool> finished{false};
};

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsServer::~MetricsServer() { Stop(); }

const std::string& MetricsServer::host() const { return impl_->host; }
uint16_t MetricsServer::port() const { return impl_->port; }

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& address,
                                                            MetricsRegistry& registry,
                                                            std::function<HealthStatus()> health) {
  KESTREL_ASSIGN_OR_RETURN(HostPort where, ParseAddress(address));
  auto impl = std::make_unique<Impl>();
  httplib::Server& server = impl->server;
  // httplib owns the queue it gets from this factory (its API takes a raw pointer).
  server.new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
  server.set_socket_options(ListenSocketOptions);
  server.set_read_timeout(5, 0);
  server.set_write_timeout(5, 0);
  server.set_payload_max_length(size_t{64} * 1024);

  server.Get("/metrics", [&registry](const httplib::Request&, httplib::Response& res) {
    res.set_content(registry.Render(), kMetricsContentType);
  });
  server.Get("/healthz",
             [health = std::move(health)](const httplib::Request&, httplib::Response& res) {
               ServeHealth(health, res);
             });
  server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.status == 404) res.set_content("not found\n", "text/plain");
  });

  errno = 0;
  int port = -1;
  if (where.port == 0) {
    port = server.bind_to_any_port(where.host);
  } else if (server.bind_to_port(where.host, where.port)) {
    port = where.port;
  }
  if (port < 0) {
    int err = errno;  // left by the failed bind (or 0 when the host did not resolve)
    return MakeError(ErrorCode::kIo,
                     fmt::format("cannot listen on metrics address '{}': {}", address,
                                 err != 0 ? std::strerror(err) : "host not found or not local"));
  }
  impl->host = where.host;
  impl->port = static_cast<uint16_t>(port);

  Impl* raw = impl.get();
  try {
    impl->thread = std::thread([raw] {
      raw->server.listen_after_bind();
      raw->finished.store(true, std::memory_order_release);
    });
  } catch (const std::system_error& e) {
    return MakeError(ErrorCode::kIo, fmt::format("metrics address '{}': cannot start a thread: {}",
                                                 address, e.what()));
  }
  return std::make_unique<MetricsServer>(std::move(impl));
}

void MetricsServer::Stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  // httplib's stop() does nothing until the thread has entered its accept loop; repeat until the
  // thread has left it.
  while (!impl_->finished.load(std::memory_order_acquire)) {
    impl_->server.stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  impl_->thread.join();
}

}  // namespace kestrel::obs
