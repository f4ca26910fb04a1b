// The live source's user side without the kernel: the process table (seeded from a /proc-like
// folder, kept by fork / exec / exit, bounded), path resolution, and the normalizer turning
// hand-made ring buffer records into ECS events.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <unistd.h>

#include <cstring>

#include "common/hash.h"
#include "event/event_batch.h"
#include "event/ip_address.h"
#include "event/event_builder.h"
#include "sources/ebpf/bpf/records.h"
#include "sources/ebpf/normalizer.h"
#include "sources/ebpf/process_table.h"

namespace kestrel::ebpf {
namespace {

namespace fs = std::filesystem;

TEST(ResolvePathTest, MakesPathsAbsoluteAndNormal) {
  EXPECT_EQ(ResolvePath("/tmp/live", "work/a"), "/tmp/live/work/a");
  EXPECT_EQ(ResolvePath("/tmp/live", "./a/../b//c/."), "/tmp/live/b/c");
  EXPECT_EQ(ResolvePath("/tmp", "../../.."), "/");
  EXPECT_EQ(ResolvePath("/anything", "/etc//passwd"), "/etc/passwd");
  EXPECT_EQ(ResolvePath("/", "x"), "/x");
}

// A /proc entry: stat (with a comm holding a space and a parenthesis), cmdline, status, exe, cwd.
void FakeProcess(const fs::path& proc, int pid, int ppid, uint64_t start_ticks, const std::string& exe,
                 const std::string& cmdline, const std::string& cwd, int uid) {
  fs::path dir = proc / std::to_string(pid);
  fs::create_directories(dir);
  std::ofstream(dir / "stat") << pid << " (we ird) S " << ppid
                              << " 1 1 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 " << start_ticks << " 1000 100\n";
  std::ofstream(dir / "cmdline", std::ios::binary) << cmdline;
  std::ofstream(dir / "status") << "Name:\tx\nUid:\t" << uid << "\t" << uid << "\t" << uid << "\t" << uid
                                << "\nGid:\t7\t7\t7\t7\n";
  fs::create_symlink(exe, dir / "exe");
  fs::create_symlink(cwd, dir / "cwd");
}

class ProcessTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    proc_ = fs::temp_directory_path() / fmt::format("kestrel-proc-{}", ::getpid());
    fs::remove_all(proc_);
    FakeProcess(proc_, 1, 0, 5, "/sbin/init", std::string("/sbin/init\0splash\0", 18), "/", 0);
    FakeProcess(proc_, 4242, 1, 123456, "/usr/bin/bash", std::string("bash\0-i\0", 8), "/home/u", 1000);
    fs::create_directories(proc_ / "self");  // not a pid: ignored
  }
  void TearDown() override { fs::remove_all(proc_); }
  fs::path proc_;
};

TEST_F(ProcessTableTest, SeedsFromProcWithTheIdentityLiveRecordsGive) {
  ProcessTable table("boot-1");
  EXPECT_EQ(table.SeedFromProc(proc_.string()), 2u);
  const ProcessInfo* bash = table.Find(4242);
  ASSERT_NE(bash, nullptr);
  EXPECT_EQ(bash->ppid, 1u);
  EXPECT_EQ(bash->executable, "/usr/bin/bash");
  EXPECT_EQ(bash->name, "bash");
  EXPECT_EQ(bash->args, (std::vector<std::string>{"bash", "-i"}));
  EXPECT_EQ(bash->working_directory, "/home/u");
  EXPECT_EQ(bash->uid, 1000u);
  EXPECT_EQ(bash->gid, 7u);
  // A BPF record's start time (ns since boot) maps to the same ticks, hence the same entity id.
  uint64_t ns_per_tick = 1'000'000'000ull / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  EXPECT_EQ(StartTicks(123456 * ns_per_tick + ns_per_tick - 1), 123456u);
  EXPECT_EQ(bash->entity_id, table.EntityId(4242, 123456));
  EXPECT_NE(table.EntityId(4242, 123457), bash->entity_id);  // a reused pid is another process
  ProcessTable other_boot("boot-2");
  EXPECT_NE(other_boot.EntityId(4242, 123456), bash->entity_id);
  EXPECT_EQ(table.Find(4242, 999), nullptr);  // asked with another start time
}

TEST_F(ProcessTableTest, ForkInheritsExecReplacesExitReapsAfterTheGrace) {
  ProcessTable table("boot", /*capacity=*/100, /*exited_grace=*/2);
  table.SeedFromProc(proc_.string());
  const ProcessInfo& child = table.OnFork(4242, 123456, 5000, 200000);
  EXPECT_EQ(child.executable, "/usr/bin/bash");
  EXPECT_EQ(child.working_directory, "/home/u");
  EXPECT_EQ(child.ppid, 4242u);
  const ProcessInfo& exec = table.OnExec(5000, 200000, 4242, "/usr/bin/curl", {"curl", "x"}, "", 1000, 7);
  EXPECT_EQ(exec.name, "curl");
  EXPECT_EQ(exec.working_directory, "/home/u");  // kept: exec does not change it
  table.SetWorkingDirectory(5000, 200000, "/tmp");
  EXPECT_EQ(table.Find(5000)->working_directory, "/tmp");
  table.OnExit(5000);
  ASSERT_NE(table.Find(5000), nullptr);  // late records still find it
  EXPECT_TRUE(table.Find(5000)->exited);
  table.OnFork(4242, 123456, 5001, 200001);
  table.OnFork(4242, 123456, 5002, 200002);
  table.OnExit(5001);
  table.OnExit(5002);  // the third exit: 5000 leaves
  EXPECT_EQ(table.Find(5000), nullptr);
  EXPECT_NE(table.Find(5002), nullptr);
  EXPECT_EQ(table.stats().reaped, 1u);
}

TEST_F(ProcessTableTest, StaysWithinItsCapacity) {
  ProcessTable table("boot", /*capacity=*/3);
  table.SeedFromProc(proc_.string());
  table.Find(1);  // the most recently used: 4242 is the oldest now
  table.OnFork(1, 5, 10, 1000);
  table.OnFork(1, 5, 11, 1001);
  ProcessTableStats s = table.stats();
  EXPECT_EQ(s.size, 3u);
  EXPECT_EQ(s.evicted, 1u);
  EXPECT_EQ(table.Find(4242), nullptr);
  EXPECT_NE(table.Find(1), nullptr);
}

// Ring buffer records made by hand.
template <class R>
R Record(kr_type type, uint32_t pid, uint64_t ktime) {
  R r{};
  r.h.type = static_cast<__u16>(type);
  r.h.size = sizeof(R);
  r.h.ktime_ns = ktime;
  r.h.task.pid = r.h.task.tid = pid;
  r.h.task.ppid = 4242;
  r.h.task.uid = r.h.task.euid = 1000;
  r.h.task.gid = 7;
  r.h.task.start_ns = 300000ull * (1'000'000'000ull / static_cast<uint64_t>(sysconf(_SC_CLK_TCK)));
  r.h.task.parent_start_ns = 123456ull * (1'000'000'000ull / static_cast<uint64_t>(sysconf(_SC_CLK_TCK)));
  std::strcpy(r.h.task.comm, "comm");
  return r;
}

template <class R>
std::span<const uint8_t> Bytes(const R& r) {
  return {reinterpret_cast<const uint8_t*>(&r), sizeof r};
}

class NormalizerTest : public ProcessTableTest {
 protected:
  std::string Str(const Event& e, std::string_view field) {
    const Value* v = e.Find(*registry_.Find(field));
    if (v == nullptr) return "<none>";
    if (v->kind() == ValueKind::kString) return std::string(v->as_string());
    if (v->kind() == ValueKind::kI64) return std::to_string(v->as_i64());
    if (v->kind() == ValueKind::kIp) return FormatIp(v->as_ip());
    if (v->kind() == ValueKind::kArray) {
      std::string out;
      for (const Value& x : v->as_array()) out += std::string(out.empty() ? "" : ",") + std::string(x.as_string());
      return out;
    }
    return "<other>";
  }
  SchemaRegistry registry_ = SchemaRegistry::WithEcs();
  EventBatch batch_;
  EventBuilder builder_{&batch_.arena()};
};

TEST_F(NormalizerTest, ExecFileNetworkAndExitRecordsBecomeEcsEvents) {
  ProcessTable table("boot");
  table.SeedFromProc(proc_.string());
  Normalizer n(registry_, table, /*boot_to_wall_ns=*/1'700'000'000'000'000'000);

  auto exec = Record<kr_exec>(KR_EXEC, 6000, 1000);
  std::strcpy(exec.filename, "/usr/bin/nc");
  const char args[] = "nc\0-l\0-p\0" "4444";
  std::memcpy(exec.args, args, sizeof args);
  exec.args_len = sizeof args;  // ends with the NUL of "4444"
  auto e = n.Normalize(Bytes(exec), builder_);
  ASSERT_TRUE(e);
  EXPECT_EQ(Str(*e, "event.category"), "process");
  EXPECT_EQ(Str(*e, "event.action"), "exec");
  EXPECT_EQ(Str(*e, "process.name"), "nc");
  EXPECT_EQ(Str(*e, "process.args"), "nc,-l,-p,4444");
  EXPECT_EQ(Str(*e, "process.command_line"), "nc -l -p 4444");
  EXPECT_EQ(Str(*e, "process.args_count"), "4");
  EXPECT_EQ(Str(*e, "process.parent.name"), "bash");  // from the table
  EXPECT_EQ(Str(*e, "process.parent.entity_id"), table.EntityId(4242, 123456));
  EXPECT_EQ(Str(*e, "user.id"), "1000");
  EXPECT_EQ(e->ts_wall_ns(), 1'700'000'000'000'001'000u);
  std::string nc_entity = Str(*e, "process.entity_id");
  EXPECT_EQ(e->entity_key(), Hash64(nc_entity));

  // A working directory change, then an openat(AT_FDCWD, "out.txt", O_WRONLY|O_CREAT).
  auto chdir = Record<kr_syscall>(KR_CHDIR, 6000, 1100);
  chdir.nr = 80;
  std::strcpy(chdir.path, "/srv/data/../www");
  EXPECT_FALSE(n.Normalize(Bytes(chdir), builder_));
  auto open = Record<kr_syscall>(KR_OPEN, 6000, 1200);
  open.nr = 257;
  open.args[0] = -100;
  open.args[2] = 0101;
  open.ret = 3;
  std::strcpy(open.path, "out.txt");
  e = n.Normalize(Bytes(open), builder_);
  ASSERT_TRUE(e);
  EXPECT_EQ(Str(*e, "event.category"), "file");
  EXPECT_EQ(Str(*e, "event.type"), "creation");
  EXPECT_EQ(Str(*e, "file.path"), "/srv/www/out.txt");
  EXPECT_EQ(Str(*e, "file.name"), "out.txt");
  EXPECT_EQ(Str(*e, "file.directory"), "/srv/www");
  EXPECT_EQ(Str(*e, "file.extension"), "txt");
  EXPECT_EQ(Str(*e, "event.outcome"), "success");
  EXPECT_EQ(Str(*e, "process.entity_id"), nc_entity);
  EXPECT_EQ(Str(*e, "auditd.data.syscall"), "openat");  // as auditd names it, arguments in hex
  EXPECT_EQ(Str(*e, "auditd.data.a2"), "41");
  EXPECT_EQ(Str(*e, "host.os.type"), "linux");

  // connect to [::1]:4444 that failed; its clock is behind the previous record's.
  auto connect = Record<kr_syscall>(KR_CONNECT, 6000, 1150);
  connect.nr = 42;
  connect.ret = -111;
  connect.addr.family = 10;
  connect.addr.port = 4444;
  connect.addr.addr[15] = 1;
  e = n.Normalize(Bytes(connect), builder_);
  ASSERT_TRUE(e);
  EXPECT_EQ(Str(*e, "destination.ip"), "::1");
  EXPECT_EQ(Str(*e, "destination.port"), "4444");
  EXPECT_EQ(Str(*e, "network.type"), "ipv6");
  EXPECT_EQ(Str(*e, "event.outcome"), "failure");
  EXPECT_EQ(e->ts_mono_ns(), 1200u);  // raised: never behind an earlier event
  EXPECT_EQ(n.stats().reordered, 1u);

  auto exit = Record<kr_exit>(KR_EXIT, 6000, 1300);
  exit.exit_code = 9;  // killed by SIGKILL
  e = n.Normalize(Bytes(exit), builder_);
  ASSERT_TRUE(e);
  EXPECT_EQ(Str(*e, "event.action"), "end");
  EXPECT_EQ(Str(*e, "process.exit_code"), "137");
  EXPECT_EQ(Str(*e, "process.name"), "nc");

  kr_header short_record{};
  short_record.type = KR_OPEN;
  EXPECT_FALSE(n.Normalize(Bytes(short_record), builder_));
  EXPECT_EQ(n.stats().malformed, 1u);
  EXPECT_EQ(n.stats().events, 4u);
  EXPECT_EQ(n.stats().internal, 1u);
}

TEST_F(NormalizerTest, ForkMakesTheChildTheProcessAndTheForkerItsParent) {
  ProcessTable table("boot");
  table.SeedFromProc(proc_.string());
  Normalizer n(registry_, table, 0);
  uint64_t ns_per_tick = 1'000'000'000ull / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  // bash (4242, known from /proc) forks 7000.
  auto fork = Record<kr_fork>(KR_FORK, 4242, 500);
  fork.h.task.start_ns = 123456 * ns_per_tick;
  fork.h.task.ppid = 1;
  fork.h.task.tid = 4243;  // the forking thread: not reported for a fork
  fork.child_pid = 7000;
  fork.child_start_ns = 400000 * ns_per_tick;
  auto e = n.Normalize(Bytes(fork), builder_);
  ASSERT_TRUE(e);
  EXPECT_EQ(Str(*e, "event.action"), "fork");
  EXPECT_EQ(Str(*e, "event.type"), "start");
  EXPECT_EQ(Str(*e, "process.pid"), "7000");
  EXPECT_EQ(Str(*e, "process.entity_id"), table.EntityId(7000, 400000));
  EXPECT_EQ(Str(*e, "process.executable"), "/usr/bin/bash");  // inherited
  EXPECT_EQ(Str(*e, "process.parent.pid"), "4242");
  EXPECT_EQ(Str(*e, "process.parent.name"), "bash");
  EXPECT_EQ(Str(*e, "process.thread.id"), "<none>");
  EXPECT_EQ(Str(*e, "user.effective.id"), "1000");
  EXPECT_EQ(e->entity_key(), Hash64(table.EntityId(7000, 400000)));
  // A forker the table does not know: the record's pid, start time and comm.
  auto unknown = Record<kr_fork>(KR_FORK, 8000, 600);
  unknown.child_pid = 8001;
  unknown.child_start_ns = 400001 * ns_per_tick;
  e = n.Normalize(Bytes(unknown), builder_);
  ASSERT_TRUE(e);
  EXPECT_EQ(Str(*e, "process.pid"), "8001");
  EXPECT_EQ(Str(*e, "process.parent.pid"), "8000");
  EXPECT_EQ(Str(*e, "process.parent.name"), "comm");
  EXPECT_EQ(Str(*e, "process.parent.entity_id"), table.EntityId(8000, 300000));
  EXPECT_EQ(n.stats().by_type[KR_FORK], 2u);
}

TEST_F(NormalizerTest, ProcessesFoundAtStartUpBecomeAlreadyRunningEvents) {
  ProcessTable table("boot");
  table.SeedFromProc(proc_.string());
  Normalizer n(registry_, table, 0);
  std::vector<const ProcessInfo*> live = table.Live();
  ASSERT_EQ(live.size(), 2u);
  EXPECT_EQ(live[0]->pid, 1u);  // by pid
  Event init = n.AlreadyRunning(*live[0], builder_);
  Event bash = n.AlreadyRunning(*live[1], builder_);
  EXPECT_EQ(Str(init, "process.name"), "init");
  EXPECT_EQ(Str(init, "process.parent.pid"), "<none>");
  EXPECT_EQ(Str(bash, "event.category"), "process");
  EXPECT_EQ(Str(bash, "event.type"), "info");
  EXPECT_EQ(Str(bash, "event.action"), "already_running");
  EXPECT_EQ(Str(bash, "process.args"), "bash,-i");
  EXPECT_EQ(Str(bash, "process.working_directory"), "/home/u");
  EXPECT_EQ(Str(bash, "process.parent.entity_id"), table.EntityId(1, 5));
  EXPECT_EQ(Str(bash, "process.parent.name"), "init");
  EXPECT_EQ(Str(bash, "user.id"), "1000");
  EXPECT_EQ(Str(bash, "group.id"), "7");
  EXPECT_EQ(bash.event_id(), init.event_id() + 1);
  EXPECT_GE(bash.ts_mono_ns(), init.ts_mono_ns());
  EXPECT_EQ(n.stats().by_type[0], 2u);
  table.OnExit(4242);
  EXPECT_EQ(table.Live().size(), 1u);
}

}  // namespace
}  // namespace kestrel::ebpf
