#include "workload.h"

#include <sys/stat.h>

#include <cstdlib>
#include <random>

#include <fmt/format.h>

#include "event/event_reader.h"
#include "event/event_writer.h"
#include "event/file_io.h"

namespace kestrel::bench {
namespace {

constexpr const char* kBinaries[] = {"/usr/bin/bash", "/usr/bin/curl", "/usr/bin/ls",     "/usr/bin/python3",
                                     "/usr/sbin/sshd", "/usr/bin/cat",  "/usr/bin/grep",   "/usr/lib/systemd/systemd",
                                     "/usr/bin/sudo",  "/usr/bin/tar",  "/usr/bin/wget",   "/usr/bin/nc"};
constexpr const char* kPaths[] = {"/etc/passwd", "/etc/shadow", "/tmp/build/out.o", "/var/log/syslog",
                                  "/home/alice/.ssh/authorized_keys", "/etc/cron.d/backup", "/usr/lib/libc.so.6"};

std::string_view BaseName(std::string_view path) { return path.substr(path.rfind('/') + 1); }

void AppendEvent(std::string& out, std::mt19937_64& rng, uint64_t i) {
  auto pick = [&](auto& array) { return array[rng() % std::size(array)]; };
  uint64_t ts_ms = 1732600000000 + i * 3 + rng() % 3;
  int64_t pid = 1000 + static_cast<int64_t>(rng() % 30000);
  int64_t ppid = 1 + static_cast<int64_t>(rng() % 1000);
  std::string_view exe = pick(kBinaries);
  std::string_view pexe = pick(kBinaries);
  uint64_t kind = rng() % 10;
  const char* category = kind < 5 ? "process" : kind < 8 ? "file" : "network";
  fmt::format_to(std::back_inserter(out),
                 R"({{"@timestamp":"{}","event":{{"category":["{}"],"type":["{}"],"action":"{}","kind":"event"}},)"
                 R"("host":{{"id":"8c1f4a52c9d34b3e","name":"web-{:02d}","os":{{"type":"linux"}}}},)"
                 R"("process":{{"pid":{},"entity_id":"ent-{}-{}","name":"{}","executable":"{}",)"
                 R"("args":["{}","-c","echo {}"],"args_count":3,"command_line":"{} -c echo {}",)"
                 R"("working_directory":"/home/alice","user":{{"id":"{}","name":"alice"}},)"
                 R"("parent":{{"pid":{},"entity_id":"ent-{}","name":"{}","executable":"{}"}}}})",
                 fmt::format("2024-11-26T{:02d}:{:02d}:{:02d}.{:03d}Z", ts_ms / 3600000 % 24, ts_ms / 60000 % 60,
                             ts_ms / 1000 % 60, ts_ms % 1000),
                 category, kind < 5 ? "start" : kind < 8 ? "creation" : "connection",
                 kind < 5 ? "exec" : kind < 8 ? "open" : "connection_attempted", rng() % 16, pid, pid, i % 7,
                 BaseName(exe), exe, exe, i, exe, i, 1000 + rng() % 3, ppid, ppid, BaseName(pexe), pexe);
  if (kind >= 5 && kind < 8) {
    std::string_view path = pick(kPaths);
    fmt::format_to(std::back_inserter(out), R"(,"file":{{"path":"{}","name":"{}","size":{}}})", path, BaseName(path),
                   rng() % 100000);
  } else if (kind >= 8) {
    fmt::format_to(std::back_inserter(out),
                   R"(,"destination":{{"ip":"10.{}.{}.{}","port":{}}},"source":{{"ip":"192.168.1.5","port":{}}},)"
                   R"("network":{{"transport":"tcp","direction":"egress"}})",
                   rng() % 256, rng() % 256, rng() % 256, 1 + rng() % 65535, 30000 + rng() % 30000);
  }
  out.append("}\n");
}

}  // namespace

Status WriteWorkloadNdjson(const std::string& path, uint64_t events, uint64_t seed) {
  KESTREL_ASSIGN_OR_RETURN(auto out, OutputFile::Open(path));
  std::mt19937_64 rng(seed);
  std::string chunk;
  for (uint64_t i = 0; i < events; ++i) {
    AppendEvent(chunk, rng, i);
    if (chunk.size() > (1 << 20)) {
      KESTREL_TRY(out->Write(chunk));
      chunk.clear();
    }
  }
  KESTREL_TRY(out->Write(chunk));
  return out->Close();
}

Result<std::string> CachedWorkload(uint64_t events, const std::string& format) {
  const char* dir = std::getenv("KESTREL_BENCH_DIR");
  std::string base = fmt::format("{}/kestrel-bench-{}", dir != nullptr ? dir : "/tmp", events);
  std::string ndjson = base + ".ndjson";
  struct stat st {};
  if (::stat(ndjson.c_str(), &st) != 0) {
    std::string tmp = ndjson + ".tmp";
    KESTREL_TRY(WriteWorkloadNdjson(tmp, events));
    if (std::rename(tmp.c_str(), ndjson.c_str()) != 0) {
      return MakeError(ErrorCode::kIo, fmt::format("cannot rename {}", tmp));
    }
  }
  if (format == "ndjson") return ndjson;
  std::string path = base + "." + format;
  if (::stat(path.c_str(), &st) == 0) return path;
  WriteOptions options;
  if (format == "klog.zst") options.compression = Compression::kZstd;
  std::string tmp = path + ".tmp";
  KESTREL_TRY(ConvertToKlog(ndjson, tmp, options));
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return MakeError(ErrorCode::kIo, fmt::format("cannot rename {}", tmp));
  return path;
}

}  // namespace kestrel::bench
