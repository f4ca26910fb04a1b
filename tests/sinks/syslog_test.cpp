// The syslog sink against receivers the test binds itself: a UDP socket and a unix datagram
// socket (one message per datagram, parsed back field by field), and a TCP listener (octet
// counting frames). Also the address syntax, the severity mapping, SD escaping and reconnects.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <map>
#include <optional>
#include <thread>

#include "sink_test_util.h"
#include "sinks/alert_sink.h"
#include "sinks/syslog_format.h"

namespace kestrel::sinks {
namespace {

using testing::AlertLine;
using testing::TempDir;

// An RFC 5424 message taken apart; SD-PARAM values unescaped.
struct Parsed {
  int pri = -1;
  std::string version, timestamp, hostname, app_name, procid, msgid, sd_id;
  std::map<std::string, std::string> params;
  std::string msg;
};

std::optional<Parsed> ParseRfc5424(const std::string& text) {
  Parsed p;
  size_t pos = 0;
  if (text.empty() || text[0] != '<') return std::nullopt;
  size_t close = text.find('>');
  if (close == std::string::npos) return std::nullopt;
  p.pri = std::stoi(text.substr(1, close - 1));
  pos = close + 1;
  auto token = [&](std::string& out) {
    size_t space = text.find(' ', pos);
    if (space == std::string::npos) return false;
    out = text.substr(pos, space - pos);
    pos = space + 1;
    return true;
  };
  if (!token(p.version) || !token(p.timestamp) || !token(p.hostname) || !token(p.app_name) ||
      !token(p.procid) || !token(p.msgid)) {
    return std::nullopt;
  }
  if (text.compare(pos, 1, "[") != 0) return std::nullopt;
  ++pos;
  size_t end_id = text.find_first_of(" ]", pos);
  p.sd_id = text.substr(pos, end_id - pos);
  pos = end_id;
  while (pos < text.size() && text[pos] == ' ') {
    size_t eq = text.find("=\"", pos);
    if (eq == std::string::npos) return std::nullopt;
    std::string name = text.substr(pos + 1, eq - pos - 1);
    std::string value;
    for (pos = eq + 2; pos < text.size() && text[pos] != '"'; ++pos) {
      if (text[pos] == '\\' && pos + 1 < text.size()) ++pos;
      value += text[pos];
    }
    p.params[name] = value;
    ++pos;  // the closing quote
  }
  if (text.compare(pos, 2, "] ") != 0) return std::nullopt;
  p.msg = text.substr(pos + 2);
  return p;
}

// "2024-11-26T05:46:43.100000Z": digits where the pattern has '9'.
bool IsSyslogTimestamp(std::string_view s) {
  constexpr std::string_view kPattern = "9999-99-99T99:99:99.999999Z";
  if (s.size() != kPattern.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (kPattern[i] == '9' ? !std::isdigit(static_cast<unsigned char>(s[i])) : s[i] != kPattern[i]) {
      return false;
    }
  }
  return true;
}

// Receives one datagram, waiting at most two seconds.
std::string Receive(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 2000) != 1) return {};
  char buf[65536];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::string Payload(const std::string& line) { return line.substr(0, line.size() - 1); }

std::unique_ptr<AlertSink> MustOpen(const SyslogSinkOptions& options) {
  auto sink = OpenSyslogSink(options);
  EXPECT_TRUE(sink) << (sink ? "" : sink.error().ToString());
  return sink ? std::move(*sink) : nullptr;
}

int BindUnixDgram(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << path;
  return fd;
}

// A socket bound to 127.0.0.1 on a free port; *port receives the port.
int BindLoopback(int type, uint16_t* port) {
  int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

TEST(SyslogFormatTest, Addresses) {
  auto unix_addr = ParseSyslogAddress("unix:/dev/log");
  ASSERT_TRUE(unix_addr);
  EXPECT_EQ(unix_addr->transport, SyslogTransport::kUnix);
  EXPECT_EQ(unix_addr->path, "/dev/log");
  auto udp = ParseSyslogAddress("udp:10.0.0.1:514");
  ASSERT_TRUE(udp);
  EXPECT_EQ(udp->transport, SyslogTransport::kUdp);
  EXPECT_EQ(udp->host, "10.0.0.1");
  EXPECT_EQ(udp->port, 514);
  auto v6 = ParseSyslogAddress("tcp:[::1]:6514");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->transport, SyslogTransport::kTcp);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 6514);

  for (const char* bad : {"", "/dev/log", "unix:", "udp:host", "udp::514", "udp:host:0",
                          "udp:host:65536", "udp:host:5x", "tcp:::1:514", "sctp:host:1"}) {
    auto parsed = ParseSyslogAddress(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().location(), std::string("syslog ") + bad);
  }
  EXPECT_EQ(ParseSyslogAddress("sctp:h:1").error().ToString(),
            "syslog sctp:h:1: unknown transport 'sctp' (expected unix, udp or tcp)");
}

TEST(SyslogFormatTest, SeveritiesIdsAndEscaping) {
  EXPECT_EQ(ReadAlertSyslogFields(AlertLine(1, "low")).severity, 5);
  EXPECT_EQ(ReadAlertSyslogFields(AlertLine(1, "medium")).severity, 4);
  EXPECT_EQ(ReadAlertSyslogFields(AlertLine(1, "high")).severity, 3);
  EXPECT_EQ(ReadAlertSyslogFields(AlertLine(1, "critical")).severity, 2);
  EXPECT_EQ(ReadAlertSyslogFields(AlertLine(1, "bogus")).severity, 4);
  EXPECT_EQ(ReadAlertSyslogFields("not json").severity, 4);
  EXPECT_EQ(ReadAlertSyslogFields("{\"rule\":7}").rule_id, "");
  EXPECT_EQ(ReadAlertSyslogFields("[[[[[[[[[[").severity, 4);
  AlertSyslogFields fields = ReadAlertSyslogFields(AlertLine(42, "high", "r9"));
  EXPECT_EQ(fields.rule_id, "r9");
  EXPECT_EQ(fields.alert_id, "000000000000002a");

  EXPECT_EQ(EscapeSdParamValue(R"(a"b\c]d)"), R"(a\"b\\c\]d)");
  EXPECT_EQ(SyslogHeaderField("web 01\x01", 255), "web_01_");
  EXPECT_EQ(SyslogHeaderField("", 48), "-");
  EXPECT_EQ(SyslogHeaderField(std::string(100, 'a'), 48), std::string(48, 'a'));
  EXPECT_EQ(FormatSyslogTimestamp(1732600003100000000u), "2024-11-26T05:46:43.100000Z");

  SyslogHeader header{10, "host-1", "kestrel", "77"};
  EXPECT_EQ(FormatSyslogMessage(header, "{}", 0),
            "<84>1 1970-01-01T00:00:00.000000Z host-1 kestrel 77 alert [kestrel@32473] {}");
}

TEST(SyslogSinkTest, UdpMessageIsRfc5424) {
  uint16_t port = 0;
  int receiver = BindLoopback(SOCK_DGRAM, &port);
  SyslogSinkOptions options;
  options.address = fmt::format("udp:127.0.0.1:{}", port);
  options.hostname = "sensor 7";
  options.facility = 10;
  auto sink = MustOpen(options);
  ASSERT_TRUE(sink);
  EXPECT_EQ(sink->name(), "syslog");

  const std::string rule = R"(odd"rule\name]x)";
  std::string line = AlertLine(7, "high", rule);
  ASSERT_TRUE(sink->Write(line));
  std::string datagram = Receive(receiver);
  auto parsed = ParseRfc5424(datagram);
  ASSERT_TRUE(parsed) << datagram;
  EXPECT_EQ(parsed->pri, 10 * 8 + 3);
  EXPECT_EQ(parsed->version, "1");
  EXPECT_TRUE(IsSyslogTimestamp(parsed->timestamp)) << parsed->timestamp;
  EXPECT_EQ(parsed->hostname, "sensor_7");
  EXPECT_EQ(parsed->app_name, "kestrel");
  EXPECT_EQ(parsed->procid, std::to_string(::getpid()));
  EXPECT_EQ(parsed->msgid, "alert");
  EXPECT_EQ(parsed->sd_id, "kestrel@32473");
  EXPECT_EQ(parsed->params["rule_id"], rule);
  EXPECT_EQ(parsed->params["alert_id"], "0000000000000007");
  EXPECT_NE(datagram.find(R"(rule_id="odd\"rule\\name\]x")"), std::string::npos) << datagram;
  EXPECT_EQ(parsed->msg, Payload(line));

  ASSERT_TRUE(sink->Close());
  EXPECT_EQ(sink->stats().written, 1u);
  EXPECT_FALSE(sink->Write(line));
  ::close(receiver);
}

TEST(SyslogSinkTest, UnixDatagramSeveritiesAndReconnect) {
  TempDir dir;
  std::string path = dir.File("log.sock");
  int receiver = BindUnixDgram(path);
  SyslogSinkOptions options;
  options.address = "unix:" + path;
  options.app_name = "kestrel-test";
  options.facility = 4;
  auto sink = MustOpen(options);
  ASSERT_TRUE(sink);

  const std::pair<const char*, int> cases[] = {{"low", 5}, {"medium", 4}, {"high", 3}, {"critical", 2}};
  for (const auto& [severity, code] : cases) {
    std::string line = AlertLine(1, severity);
    ASSERT_TRUE(sink->Write(line));
    auto parsed = ParseRfc5424(Receive(receiver));
    ASSERT_TRUE(parsed) << severity;
    EXPECT_EQ(parsed->pri, 4 * 8 + code) << severity;
    EXPECT_EQ(parsed->app_name, "kestrel-test");
    EXPECT_EQ(parsed->msg, Payload(line));
  }

  // The receiver restarts (as a syslog daemon does): the sink reconnects and resends.
  ::close(receiver);
  ::unlink(path.c_str());
  receiver = BindUnixDgram(path);
  std::string line = AlertLine(9);
  ASSERT_TRUE(sink->Write(line));
  auto parsed = ParseRfc5424(Receive(receiver));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->msg, Payload(line));
  SinkStats stats = sink->stats();
  EXPECT_EQ(stats.written, 5u);
  EXPECT_EQ(stats.retries, 1u);
  EXPECT_EQ(stats.failures, 0u);

  // Gone for good: the write fails, says why, and is counted.
  ::close(receiver);
  ::unlink(path.c_str());
  auto failed = sink->Write(AlertLine(10));
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().ToString().find("syslog unix:" + path + ": cannot connect: "),
            std::string::npos)
      << failed.error().ToString();
  EXPECT_EQ(sink->stats().failures, 1u);
  EXPECT_EQ(sink->stats().dropped, 1u);
  EXPECT_TRUE(sink->Close());
}

TEST(SyslogSinkTest, OpenErrorsSayWhichSinkAndWhy) {
  TempDir dir;
  auto missing = OpenSyslogSink({.address = "unix:" + dir.File("none.sock")});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().ToString(), "syslog unix:" + dir.File("none.sock") +
                                            ": cannot connect: No such file or directory (errno 2)");

  uint16_t port = 0;
  int closed = BindLoopback(SOCK_STREAM, &port);  // bound, not listening: refused
  auto refused = OpenSyslogSink({.address = fmt::format("tcp:127.0.0.1:{}", port)});
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().ToString().find("cannot connect: Connection refused"), std::string::npos)
      << refused.error().ToString();
  ::close(closed);

  auto facility = OpenSyslogSink({.address = "udp:127.0.0.1:514", .facility = 24});
  ASSERT_FALSE(facility);
  EXPECT_EQ(facility.error().ToString(), "syslog udp:127.0.0.1:514: facility 24 is not 0..23");

  auto unresolved = OpenSyslogSink({.address = "udp:no-such-host.invalid:514"});
  ASSERT_FALSE(unresolved);
  EXPECT_NE(unresolved.error().ToString().find("cannot resolve no-such-host.invalid"),
            std::string::npos);
}

// Reads octet-counted frames ("LEN SP MSG") from a stream until `count` arrived or 2 s passed.
std::vector<std::string> ReadFrames(int fd, size_t count, std::string& carry) {
  std::vector<std::string> frames;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (frames.size() < count && std::chrono::steady_clock::now() < deadline) {
    size_t space = carry.find(' ');
    if (space != std::string::npos) {
      size_t len = std::stoul(carry.substr(0, space));
      if (carry.size() >= space + 1 + len) {
        frames.push_back(carry.substr(space + 1, len));
        carry.erase(0, space + 1 + len);
        continue;
      }
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) != 1) continue;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    carry.append(buf, static_cast<size_t>(n));
  }
  return frames;
}

int Accept(int listener) {
  pollfd p{listener, POLLIN, 0};
  if (::poll(&p, 1, 2000) != 1) return -1;
  return ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
}

TEST(SyslogSinkTest, TcpOctetCountingAndReconnect) {
  uint16_t port = 0;
  int listener = BindLoopback(SOCK_STREAM, &port);
  ASSERT_EQ(::listen(listener, 4), 0);
  SyslogSinkOptions options;
  options.address = fmt::format("tcp:127.0.0.1:{}", port);
  options.hostname = "h";
  options.timeout = std::chrono::milliseconds(500);
  auto sink = MustOpen(options);
  ASSERT_TRUE(sink);
  int conn = Accept(listener);
  ASSERT_GE(conn, 0);

  // Lengths count bytes: "é" and "☃" are 2 and 3 bytes of UTF-8.
  std::vector<std::string> lines = {AlertLine(1, "low", "caf\xC3\xA9"), AlertLine(2, "high", "\xE2\x98\x83"),
                                    AlertLine(3, "critical")};
  for (const auto& line : lines) ASSERT_TRUE(sink->Write(line));
  std::string carry;
  std::vector<std::string> frames = ReadFrames(conn, 3, carry);
  ASSERT_EQ(frames.size(), 3u);
  const int severities[] = {5, 3, 2};
  for (size_t i = 0; i < 3; ++i) {
    auto parsed = ParseRfc5424(frames[i]);
    ASSERT_TRUE(parsed) << frames[i];
    EXPECT_EQ(parsed->pri, 80 + severities[i]);
    EXPECT_EQ(parsed->msg, Payload(lines[i]));
  }
  EXPECT_EQ(ReadAlertSyslogFields(Payload(lines[0])).rule_id, "caf\xC3\xA9");

  // The server drops the connection: the next write reconnects and nothing is lost.
  ::close(conn);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let the FIN arrive
  ASSERT_TRUE(sink->Write(AlertLine(4)));
  conn = Accept(listener);
  ASSERT_GE(conn, 0);
  carry.clear();
  frames = ReadFrames(conn, 1, carry);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(ParseRfc5424(frames[0])->msg, Payload(AlertLine(4)));
  EXPECT_TRUE(sink->Close());
  SinkStats stats = sink->stats();
  EXPECT_EQ(stats.written, 4u);
  EXPECT_EQ(stats.retries, 1u);
  EXPECT_EQ(stats.dropped, 0u);
  ::close(conn);
  ::close(listener);
}

TEST(SyslogSinkTest, TcpServerGoneIsBoundedAndCounted) {
  uint16_t port = 0;
  int listener = BindLoopback(SOCK_STREAM, &port);
  ASSERT_EQ(::listen(listener, 4), 0);
  SyslogSinkOptions options;
  options.address = fmt::format("tcp:127.0.0.1:{}", port);
  options.timeout = std::chrono::milliseconds(300);
  options.max_buffer_bytes = 2000;
  auto sink = MustOpen(options);
  ASSERT_TRUE(sink);
  int conn = Accept(listener);
  ::close(conn);
  ::close(listener);  // nobody listens any more
  std::this_thread::sleep_for(std::chrono::milliseconds(20));

  auto start = std::chrono::steady_clock::now();
  size_t refused = 0;
  for (int i = 0; i < 50; ++i) {
    if (!sink->Write(AlertLine(i))) ++refused;  // buffered until the buffer is full
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
  EXPECT_GT(refused, 0u);
  SinkStats before = sink->stats();
  EXPECT_EQ(before.written, 0u);
  EXPECT_EQ(before.dropped, refused);
  EXPECT_EQ(before.queue_depth, 50u - refused);

  auto closed = sink->Close();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2000));
  ASSERT_FALSE(closed);
  EXPECT_NE(closed.error().ToString().find("alerts not sent within 300 ms"), std::string::npos)
      << closed.error().ToString();
  SinkStats after = sink->stats();
  EXPECT_EQ(after.dropped, 50u);
  EXPECT_EQ(after.failures, 50u - refused);
  EXPECT_EQ(after.queue_depth, 0u);
}

}  // namespace
}  // namespace kestrel::sinks
