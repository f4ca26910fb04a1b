#!/usr/bin/env bash
# The live source end to end: `kestrel run` with a rule pack while a scripted workload runs (a
# marker binary with arguments, files created / renamed / deleted, a connection on 127.0.0.1, a
# setuid in a child), then: the expected alerts, the expected ECS events with their fields, a
# graceful stop on SIGINT, and a replay of the recording that writes the same alerts.
# Needs root and a kernel that loads tp_btf programs: otherwise it exits 77, which CTest reports
# as skipped, with the reason. Needs KESTREL (the binary).
set -uo pipefail

KESTREL=${KESTREL:?path to the kestrel binary}
source "$(dirname "$0")/check.sh"
skip_unless_root "the live source loads BPF programs, which needs root"
WORK=$(mktemp -d /tmp/kestrel-live.XXXXXX)
KPID=""
cleanup() {
  [ -n "$KPID" ] && kill -KILL "$KPID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# The per-syscall tracepoints are looked up in tracefs (kestrel falls back to the raw ones, with a
# warning, when it is not mounted; the test wants the usual path).
mountpoint -q /sys/kernel/tracing || mount -t tracefs none /sys/kernel/tracing 2>/dev/null || true

PORT=$((40000 + $$ % 20000))
mkdir -p "$WORK/rules" "$WORK/files"
cat >"$WORK/rules/marker.eql" <<EQL
process where event.action == "exec" and process.name == "kestrel-marker" and process.args == "--flag=live"
EQL
cat >"$WORK/rules/file_rename.eql" <<EQL
file where event.action == "rename" and file.path : "$WORK/files/*" and file.Ext.original.path : "*.txt"
EQL
cat >"$WORK/rules/connect.eql" <<EQL
network where event.action == "connection_attempted" and destination.ip == "127.0.0.1" and destination.port == $PORT
EQL
cat >"$WORK/rules/setuid.eql" <<EQL
process where event.action == "setuid" and user.changes.id == "65534"
EQL
# Lineage from the live process table: the marker is a grandchild of the shell that runs this
# script's parent ($PPID), a process that was running before kestrel started (it knows it from
# its already_running event).
cat >"$WORK/rules/lineage.eql" <<EQL
process where event.action == "exec" and process.name == "kestrel-marker" and
  descendant of [process where event.action == "already_running" and process.pid == $PPID]
EQL
cat >"$WORK/rules/lineage_child.eql" <<EQL
process where event.action == "exec" and process.name == "kestrel-marker" and
  child of [process where event.action == "already_running" and process.pid == $PPID]
EQL
# Rules that never alert (pid -1) but ask for the other kinds of records, so that the recording
# holds every event the workload makes (the pushdown leaves out what no rule could match).
cat >"$WORK/rules/watch_files.eql" <<EQL
file where event.action in ("creation", "deletion", "attributes_modified") and file.path : "$WORK/files/*" and process.pid == -1
EQL
cat >"$WORK/rules/watch_sockets.eql" <<EQL
network where event.action in ("connection_accepted", "bind", "listen") and process.pid == -1
EQL
cat >"$WORK/rules/watch_processes.eql" <<EQL
process where event.action in ("setgid", "memfd_create", "ptrace") and process.pid == -1
EQL
# A rule id that JSON must escape (the metrics name every rule).
echo 'process where event.action == "exec" and process.pid == -1' >"$WORK/rules/watch\"quoted.eql"
cat >"$WORK/rules/exec_then_connect.eql" <<EQL
sequence by process.entity_id with maxspan=1m
  [process where event.action == "exec" and process.args : "*kestrel-live-client*"]
  [network where event.action == "connection_attempted" and destination.port == $PORT]
EQL

timeout 120 "$KESTREL" run --rules "$WORK/rules" --record "$WORK/events.klog" -o "$WORK/alerts.ndjson" \
  --metrics "$WORK/metrics.json" \
  2>"$WORK/err" &
KPID=$!
for _ in $(seq 300); do
  grep -q "watching" "$WORK/err" 2>/dev/null && break
  kill -0 "$KPID" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q "watching" "$WORK/err"; then
  wait "$KPID"
  KPID=""
  if grep -qE "built without the live eBPF source|has no BTF|refused" "$WORK/err"; then
    echo "SKIP: kestrel run cannot watch this host: $(head -c 600 "$WORK/err")"
    exit 77
  fi
  echo "FAIL: kestrel run did not start:" >&2
  cat "$WORK/err" >&2
  exit 1
fi

# The workload.
cp /bin/true "$WORK/kestrel-marker"
"$WORK/kestrel-marker" --flag=live alpha beta
echo hello >"$WORK/files/new.txt"
mv "$WORK/files/new.txt" "$WORK/files/renamed.txt"
(cd "$WORK/files" && rm renamed.txt)
cat >"$WORK/kestrel-live-client.py" <<PY
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", $PORT)); s.listen()
c = socket.socket(); c.connect(("127.0.0.1", $PORT)); a, _ = s.accept()
PY
python3 "$WORK/kestrel-live-client.py"
chmod 600 "$WORK/files/keep.dat" 2>/dev/null || { echo x >"$WORK/files/keep.dat"; chmod 600 "$WORK/files/keep.dat"; }
chown 65534 "$WORK/files/keep.dat"
python3 - "$PORT" <<'PY'
import ctypes, os, socket, sys
port = int(sys.argv[1])
os.close(os.memfd_create("kestrel-live-memfd"))
ctypes.CDLL(None, use_errno=True).ptrace(0, 0, 0, 0)  # PTRACE_TRACEME
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::1", port)); s.listen()
c = socket.socket(socket.AF_INET6); c.connect(("::1", port)); a, _ = s.accept()
try:  # a port no rule names: the pushdown filter drops this connect in the kernel
    socket.create_connection(("127.0.0.1", port + 1), timeout=1)
except OSError:
    pass
pid = os.fork()
if pid == 0:
    os.setgid(65534)
    os.setuid(65534)
    os._exit(0)
os.waitpid(pid, 0)
PY
sleep 1
kill -INT "$KPID"
wait "$KPID"
code=$?
KPID=""
check "SIGINT stops kestrel run cleanly (exit $code)" test "$code" -eq 0
check "the summary counts events" grep -qE "^run: [0-9]+ events" "$WORK/err"
check "the metrics count the lost records and the alerts by rule" python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
assert m["lost"] == 0 and m["events"] > 0 and m["events_by_type"]["exec"] > 0, m
assert m["events_by_type"]["already_running"] == m["process_table"]["seeded"] > 0, m
assert m["lineage"]["processes"] > m["process_table"]["seeded"] / 2, m
assert m["alerts_by_rule"]["marker"] == 1 and m["alerts_by_rule"]["watch\"quoted"] == 0, m' "$WORK/metrics.json"
check "no record was lost" contains "$WORK/err" "lost: 0 records"
check "the pushdown filters files and connections" contains "$WORK/err" "files under 1 prefixes; connections to 1 ports"
check "system calls come from the per-syscall tracepoints" contains "$WORK/err" "on_syscall_enter (syscalls:sys_enter_*,"

alert_rules=$(python3 -c '
import json, sys
print(" ".join(sorted({json.loads(l)["rule"]["id"] for l in open(sys.argv[1])})))' "$WORK/alerts.ndjson")
check "the alerts are the expected rules (got: $alert_rules)" \
  test "$alert_rules" = "connect exec_then_connect file_rename lineage marker setuid"

"$KESTREL" convert "$WORK/events.klog" -o "$WORK/events.ndjson" 2>"$WORK/convert.err"
check "the recording converts to NDJSON" test -s "$WORK/events.ndjson"
python3 - "$WORK/events.ndjson" "$WORK" "$PORT" "$$" >"$WORK/fields.out" 2>&1 <<'PY'
import json, sys
path, work, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
events = [json.loads(l) for l in open(path)]
def get(e, dotted):
    for part in dotted.split("."):
        if not isinstance(e, dict) or part not in e:
            return None
        e = e[part]
    return e
def find(**want):
    for e in events:
        if all(get(e, k.replace("__", ".")) == v for k, v in want.items()):
            return e
    return None
problems = []
def expect(what, e, **fields):
    if e is None:
        problems.append(f"no {what} event")
        return
    for k, v in fields.items():
        got = get(e, k.replace("__", "."))
        if got != v:
            problems.append(f"{what}: {k.replace('__', '.')} is {got!r}, expected {v!r} in {json.dumps(e)[:400]}")
marker = find(event__action="exec", process__name="kestrel-marker")
expect("marker exec", marker, event__category="process", event__type="start",
       process__executable=f"{work}/kestrel-marker",
       process__args=[f"{work}/kestrel-marker", "--flag=live", "alpha", "beta"], process__args_count=4,
       process__working_directory=None if marker is None else get(marker, "process.working_directory") or "?",
       user__id="0")
if marker is not None and not get(marker, "process.parent.name"):
    problems.append("marker exec: no process.parent.name")
if marker is not None and len(get(marker, "process.entity_id") or "") != 16:
    problems.append("marker exec: no process.entity_id")
expect("file creation", find(event__action="creation", file__path=f"{work}/files/new.txt"),
       event__category="file", event__type="creation", file__name="new.txt", file__extension="txt",
       file__directory=f"{work}/files", event__outcome="success")
expect("rename", find(event__action="rename", file__path=f"{work}/files/renamed.txt"),
       file__Ext__original__path=f"{work}/files/new.txt", event__type="change")
expect("deletion (relative path, after cd)", find(event__action="deletion", file__path=f"{work}/files/renamed.txt"),
       event__type="deletion", process__name="rm")
expect("connect", find(event__action="connection_attempted", destination__port=port),
       event__category="network", destination__ip="127.0.0.1", network__type="ipv4", network__direction="egress",
       network__transport="tcp")
expect("accept", find(event__action="connection_accepted", source__ip="127.0.0.1"), event__category="network",
       network__transport="tcp")
expect("listen", find(event__action="listen", source__port=port), event__category="network", source__ip="127.0.0.1",
       network__transport="tcp")
expect("setuid", find(event__action="setuid", user__changes__id="65534"), event__category="process",
       event__outcome="success")
expect("setgid", find(event__action="setgid"), event__category="process")
expect("chmod", find(event__action="attributes_modified", file__mode="600"), file__path=f"{work}/files/keep.dat")
expect("chown", find(event__action="attributes_modified", file__uid="65534"), file__path=f"{work}/files/keep.dat")
expect("memfd_create", find(event__action="memfd_create"), file__name="kestrel-live-memfd")
expect("ptrace", find(event__action="ptrace", process__name="python3.11") or find(event__action="ptrace", auditd__data__a0="0"),
       auditd__data__syscall="ptrace", auditd__data__a0="0", host__os__type="linux")
expect("IPv6 connect", find(event__action="connection_attempted", destination__ip="::1"),
       destination__port=port, network__type="ipv6", network__transport="tcp")
expect("bind", find(event__action="bind", source__ip="::1"), source__port=port)
if find(event__action="connection_attempted", destination__port=port + 1) is not None:
    problems.append("a connect to a port no rule names was recorded: the port filter did not drop it")
fork = find(event__action="fork")
expect("fork", fork, event__category="process")
if fork is not None and get(fork, "process.parent.pid") is None:
    problems.append("fork: no process.parent.pid")
end = find(event__action="end", process__name="kestrel-marker")
expect("marker exit", end, process__exit_code=0, event__type="end")
shell = find(event__action="already_running", process__pid=int(sys.argv[4]))
expect("already_running (the test's shell)", shell, event__category="process", event__type="info",
       process__name="bash")
if get(events[0], "event.action") != "already_running":
    problems.append("the recording does not start with the already_running events")
print("\n".join(problems) if problems else "ok")
PY
check "the recorded ECS events have their fields: $(tr '\n' ';' <"$WORK/fields.out")" \
  test "$(cat "$WORK/fields.out")" = "ok"

"$KESTREL" replay --rules "$WORK/rules" --input "$WORK/events.klog" -o "$WORK/replayed.ndjson" 2>"$WORK/replay.err"
check "replaying the recording writes the live alerts, byte for byte" cmp -s "$WORK/alerts.ndjson" "$WORK/replayed.ndjson"

# Rules that only look at execs: the system call programs are not even attached.
mkdir -p "$WORK/exec_rules"
echo 'process where event.action == "exec" and process.name == "kestrel-marker"' >"$WORK/exec_rules/marker.eql"
timeout 60 "$KESTREL" run --rules "$WORK/exec_rules" --duration 1 -o /dev/null 2>"$WORK/exec_only.err"
check "exec-only rules attach only the process programs" contains "$WORK/exec_only.err" "3 programs attached"

# The raw syscall tracepoints, where the per-syscall ones are missing (forced here).
echo "file where event.action == \"creation\" and file.path == \"$WORK/files/raw.txt\"" >"$WORK/exec_rules/raw.eql"
timeout 60 "$KESTREL" run --rules "$WORK/exec_rules" --syscall-tracepoints raw -o "$WORK/raw.ndjson" 2>"$WORK/raw.err" &
KPID=$!
for _ in $(seq 300); do grep -q "watching" "$WORK/raw.err" 2>/dev/null && break; sleep 0.1; done
echo raw >"$WORK/files/raw.txt"
sleep 0.5
kill -INT "$KPID"
wait "$KPID"
KPID=""
check "--syscall-tracepoints raw attaches the raw programs" contains "$WORK/raw.err" "on_sys_enter (tp_btf/sys_enter)"
check "... and they see the file creation" contains "$WORK/raw.ndjson" "$WORK/files/raw.txt"
check "... and say why no file is watched" contains "$WORK/exec_only.err" "every file (no rule looks at files)"

# Not root: a clear message, not a crash.
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
  chmod 755 "$WORK" "$WORK/rules"
  setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
    "$KESTREL" run --rules "$WORK/rules" --duration 1 >/dev/null 2>"$WORK/nonroot.err"
  nonroot=$?
  check "without privileges kestrel run fails (exit $nonroot)" test "$nonroot" -eq 1
  check "... saying it needs root" contains "$WORK/nonroot.err" "needs root"
fi

finish
