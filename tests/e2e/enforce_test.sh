#!/usr/bin/env bash
# Responses end to end (docs/response.md), in a sandbox this script makes and removes: a tmpfs
# mount for exec / open denial through fanotify, a child cgroup v2 for connect denial through
# cgroup BPF, processes that complete sequences (kill; armed block of the last stage), monitor
# mode, the decision deadline with a stalled engine (failpoint), the exemption of Kestrel's
# parent, and that nothing is left behind once kestrel stops.
# Needs root: otherwise it exits 77 (CTest: skipped), with the reason. Needs KESTREL.
set -uo pipefail

KESTREL=${KESTREL:?path to the kestrel binary}
source "$(dirname "$0")/check.sh"
skip_unless_root "enforcement needs root (fanotify permission events, BPF)"
WORK=$(mktemp -d /tmp/kestrel-enforce.XXXXXX)
MNT=$WORK/mnt
CGROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
CG=""
KPID=""
LISTENER=""
cleanup() {
  [ -n "$KPID" ] && kill -KILL "$KPID" 2>/dev/null
  [ -n "$LISTENER" ] && kill -KILL "$LISTENER" 2>/dev/null
  wait 2>/dev/null
  if [ -n "$CG" ] && [ -d "$CG" ]; then
    while read -r p; do echo "$p" >"$CGROOT/cgroup.procs" 2>/dev/null; done <"$CG/cgroup.procs"
    rmdir "$CG" 2>/dev/null
  fi
  mountpoint -q "$MNT" && umount -l "$MNT"
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$MNT" "$WORK/victim" "$WORK/rules" "$WORK/monitor"
if ! mount -t tmpfs kestrel-enforce "$MNT"; then
  echo "SKIP: cannot mount a tmpfs to enforce on"
  exit 77
fi
cp /bin/true "$MNT/evil"
cp /bin/true "$MNT/good"
echo secret >"$MNT/secret"
echo fine >"$MNT/public"
if [ -n "$CGROOT" ]; then
  CG=$CGROOT/kestrel-test-$$
  mkdir "$CG" || CG=""
fi
P1=$((41000 + $$ % 10000))  # denied for every process of the cgroup
P2=$((P1 + 1))             # denied for armed processes only
P3=$((P1 + 2))             # never denied

cat >"$WORK/rules/exec_block.eql" <<EQL
// actions: block
// mode: enforce
process where event.action == "exec" and process.executable == "$MNT/evil"
EQL
cat >"$WORK/rules/open_block.eql" <<EQL
// actions: block
// mode: enforce
file where event.action == "open" and file.path == "$MNT/secret"
EQL
cat >"$WORK/rules/connect_block.eql" <<EQL
// actions: block
// mode: enforce
network where event.action == "connection_attempted" and destination.port == $P1
EQL
cat >"$WORK/rules/exec_kill.eql" <<EQL
// actions: kill
// mode: enforce
process where event.action == "exec" and process.executable == "$WORK/kestrel-doomed"
EQL
cat >"$WORK/rules/address_block.eql" <<EQL
// actions: block
// mode: enforce
network where event.action == "connection_attempted" and destination.ip == "127.0.0.2"
EQL
cat >"$WORK/rules/kill_sequence.eql" <<EQL
// actions: kill
// mode: enforce
sequence by process.entity_id with maxspan=30s
  [process where event.action == "exec" and process.name == "kestrel-victim"]
  [file where event.action == "creation" and file.path : "$WORK/victim/*"]
EQL
cat >"$WORK/rules/armed_sequence.eql" <<EQL
// actions: block
// mode: enforce
sequence by process.entity_id with maxspan=30s
  [process where event.action == "exec" and process.name == "kestrel-armed"]
  [network where event.action == "connection_attempted" and destination.port == $P2]
EQL
cat >"$WORK/rules/armed_expiring.eql" <<EQL
// actions: block
// mode: enforce
sequence by process.entity_id with maxspan=1s
  [process where event.action == "exec" and process.name == "kestrel-expiring"]
  [network where event.action == "connection_attempted" and destination.port == $P2]
EQL
cat >"$WORK/rules/armed_exec.eql" <<EQL
// actions: block
// mode: enforce
sequence by process.entity_id with maxspan=30s
  [process where event.action == "exec" and process.name == "kestrel-armed-sh"]
  [process where event.action == "exec" and process.executable == "$MNT/good"]
EQL
cat >"$WORK/connect.py" <<PY
import socket, sys, time
time.sleep(float(sys.argv[1]))
for target in sys.argv[2:]:  # PORT (on 127.0.0.1) or HOST:PORT
    host, _, port = target.rpartition(":")
    c = socket.socket()
    try:
        c.connect((host or "127.0.0.1", int(port)))
        print(target, "connected")
    except OSError as e:
        print(target, "errno", e.errno)
PY
listen() {
  python3 - "$@" <<'PY' &
import socket, sys, time
socks = []
for port in map(int, sys.argv[1:]):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port)); s.listen(64); socks.append(s)
time.sleep(60)
PY
  LISTENER=$!
}
in_cgroup() { sh -c "echo \$\$ >'$CG/cgroup.procs' && exec \"\$@\"" sh "$@"; }
start() {  # start ERR OUT ARGS...: kestrel run in the background, waiting until it watches
  local err=$1 out=$2
  shift 2
  timeout 120 "$KESTREL" run -o "$out" "$@" 2>"$err" &
  KPID=$!
  for _ in $(seq 300); do
    grep -q "watching" "$err" 2>/dev/null && return 0
    kill -0 "$KPID" 2>/dev/null || break
    sleep 0.1
  done
  wait "$KPID"
  KPID=""
  if grep -qE "built without|has no BTF|refused|fanotify_init" "$err"; then
    echo "SKIP: kestrel run cannot enforce on this host: $(head -c 600 "$err")"
    exit 77
  fi
  echo "FAIL: kestrel run did not start:" >&2
  cat "$err" >&2
  exit 1
}
stop() {
  kill -INT "$KPID"
  wait "$KPID"
  local code=$?
  KPID=""
  return $code
}
# response ALERTS RULE ACTION: a response alert of RULE with event.action ACTION is in ALERTS.
response() {
  python3 - "$@" <<'PY'
import json, sys
path, rule, action = sys.argv[1:4]
for line in open(path):
    a = json.loads(line)
    if a["rule"]["id"] == rule and a["kestrel"]["alert"]["kind"] == "response" and a["event"].get("action") == action:
        sys.exit(0)
sys.exit(1)
PY
}
elapsed() {  # elapsed CMD...: runs CMD, prints "RC SECONDS"
  local t0 t1 rc
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  rc=$?
  t1=$(date +%s.%N)
  echo "$rc $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')"
}

# --- enforce ---------------------------------------------------------------------------------
args=(--rules "$WORK/rules" --enforce-mount "$MNT" --deadline-ms 100)
[ -n "$CG" ] && args+=(--enforce-cgroup "$CG")
start "$WORK/enforce.err" "$WORK/enforce.ndjson" "${args[@]}"
check "the start-up report names the fanotify fallback" contains "$WORK/enforce.err" "exec / open deny: fanotify permission events on $MNT"
check "... and says BPF-LSM is not used, with the reason" grep -q "response: BPF-LSM: " "$WORK/enforce.err"

"$MNT/evil" 2>"$WORK/evil.err"
check "a blocked exec fails (exit $?)" contains "$WORK/evil.err" "Operation not permitted"
"$MNT/good"
check "an allowed binary on the same mount still runs" test $? -eq 0
cat "$MNT/secret" >/dev/null 2>"$WORK/secret.err"
check "a blocked open fails" contains "$WORK/secret.err" "Operation not permitted"
check "another file on the mount still opens" test "$(cat "$MNT/public")" = fine

cp /bin/sleep "$WORK/kestrel-doomed"
res=$(elapsed "$WORK/kestrel-doomed" 5)
check "an exec-kill rule kills the program in the exec tracepoint (exit, seconds: $res)" \
  sh -c "[ ${res%% *} -eq 137 ] && awk 'BEGIN { exit !(${res#* } < 1) }'"
check "... the plan says so" contains "$WORK/enforce.err" "rule exec_kill: kill: enforce (bpf_send_signal in the exec tracepoint)"

cp /bin/bash "$WORK/kestrel-victim"
res=$(elapsed "$WORK/kestrel-victim" -c "echo x >'$WORK/victim/f'; sleep 5; echo survived >'$WORK/victim/survived'")
check "the process completing the kill sequence is killed (exit, seconds: $res)" test "${res%% *}" -eq 137
check "... before it could go on" test ! -e "$WORK/victim/survived"

cp /bin/dash "$WORK/kestrel-armed-sh" 2>/dev/null || cp /bin/sh "$WORK/kestrel-armed-sh"
"$WORK/kestrel-armed-sh" -c "sleep 0.5; exec '$MNT/good'" 2>"$WORK/armed_exec.err"
check "the last stage of an armed exec sequence is denied (exit $?)" contains "$WORK/armed_exec.err" "Operation not permitted"
"$MNT/good"
check "... while the same binary still runs for others" test $? -eq 0

if [ -n "$CG" ]; then
  listen "$P1" "$P2" "$P3"
  sleep 0.3
  in_cgroup python3 "$WORK/connect.py" 0 "$P1" "$P3" "127.0.0.2:$P3" >"$WORK/connect.out"
  check "a connect to a blocked port from the cgroup is denied" contains "$WORK/connect.out" "$P1 errno 1"
  check "... another port still connects" contains "$WORK/connect.out" "$P3 connected"
  check "... a connect to a blocked address is denied (EPERM, not refused)" contains "$WORK/connect.out" "127.0.0.2:$P3 errno 1"
  python3 "$WORK/connect.py" 0 "$P1" >"$WORK/outside.out"
  check "outside the cgroup the blocked port connects" contains "$WORK/outside.out" "$P1 connected"
  ln -s "$(python3 -c 'import os, sys; print(os.path.realpath(sys.executable))')" "$WORK/kestrel-armed"
  in_cgroup "$WORK/kestrel-armed" "$WORK/connect.py" 1 "$P2" >"$WORK/armed.out"
  check "the last stage of an armed sequence is denied" contains "$WORK/armed.out" "$P2 errno 1"
  in_cgroup python3 "$WORK/connect.py" 0 "$P2" >"$WORK/unarmed.out"
  check "... while a process that did not exec kestrel-armed connects" contains "$WORK/unarmed.out" "$P2 connected"
  ln -s "$(readlink "$WORK/kestrel-armed")" "$WORK/kestrel-expiring"
  in_cgroup "$WORK/kestrel-expiring" "$WORK/connect.py" 2 "$P2" >"$WORK/expired.out"
  check "... and once maxspan has passed the process is disarmed (no event needed)" contains "$WORK/expired.out" "$P2 connected"
  kill "$LISTENER"
  wait "$LISTENER" 2>/dev/null
else
  echo "note: no cgroup v2 mount: the connect cases are not run"
fi

stop
check "kestrel run stops cleanly" test $? -eq 0
check "the blocked exec has a response alert: blocked" response "$WORK/enforce.ndjson" exec_block blocked
check "the blocked open has one" response "$WORK/enforce.ndjson" open_block blocked
check "the kill has one: killed" response "$WORK/enforce.ndjson" kill_sequence killed
check "the kill in the exec tracepoint has one" response "$WORK/enforce.ndjson" exec_kill killed
check "the armed exec has one" response "$WORK/enforce.ndjson" armed_exec blocked
if [ -n "$CG" ]; then
  check "the blocked connect has one" response "$WORK/enforce.ndjson" connect_block blocked
  check "the connect outside the cgroup says not_blocked" response "$WORK/enforce.ndjson" connect_block not_blocked
  check "the armed sequence's connect has one" response "$WORK/enforce.ndjson" armed_sequence blocked
  check "the summary counts the connects the kernel denied" grep -qE "kernel denied [1-9][0-9]* connects" "$WORK/enforce.err"
fi

# Kestrel's parent is exempt: a shell that starts kestrel and then execs the blocked binary.
timeout 30 sh -c "\"$KESTREL\" run --rules '$WORK/rules' --enforce-mount '$MNT' --duration 3 -o /dev/null 2>'$WORK/parent.err' &
  echo \$! >'$WORK/parent.pid'
  for i in \$(seq 100); do grep -q watching '$WORK/parent.err' 2>/dev/null && break; sleep 0.1; done
  exec '$MNT/evil'"
check "Kestrel's parent is never blocked" test $? -eq 0
while kill -0 "$(cat "$WORK/parent.pid")" 2>/dev/null; do sleep 0.1; done

# Nothing is left behind.
"$MNT/evil"
check "after kestrel stops, the binary runs again (no mark left)" test $? -eq 0
"$WORK/kestrel-doomed" 0
check "... and the doomed program runs (no kill rule left in the kernel)" test $? -eq 0
if [ -n "$CG" ]; then
  listen "$P1"
  sleep 0.3
  in_cgroup python3 "$WORK/connect.py" 0 "$P1" >"$WORK/after.out"
  check "... and the port connects from the cgroup (no program left)" contains "$WORK/after.out" "$P1 connected"
  kill "$LISTENER"
  wait "$LISTENER" 2>/dev/null
  if command -v bpftool >/dev/null; then
    check "... and bpftool lists no program on the cgroup" test -z "$(bpftool cgroup show "$CG" 2>/dev/null | tail -n +2)"
  fi
fi

# --- the allowlist ---------------------------------------------------------------------------
PY_EXE=$(python3 -c 'import os, sys; print(os.path.realpath(sys.executable))')
args=(--rules "$WORK/rules" --enforce-mount "$MNT" --allow-exe "$MNT/evil" --allow-exe "$PY_EXE")
[ -n "$CG" ] && args+=(--enforce-cgroup "$CG")
start "$WORK/allow.err" "$WORK/allow.ndjson" "${args[@]}"
"$MNT/evil"
check "an allowlisted executable is never blocked" test $? -eq 0
if [ -n "$CG" ]; then
  listen "$P1"
  in_cgroup "$PY_EXE" "$WORK/connect.py" 0.5 "$P1" >"$WORK/allowed.out"  # the pause: until Kestrel saw it start
  check "... nor its connects (exempt in the kernel once Kestrel saw it start)" contains "$WORK/allowed.out" "$P1 connected"
  kill "$LISTENER"
  wait "$LISTENER" 2>/dev/null
  LISTENER=""
fi
stop
check "... and the response alert says not_blocked" response "$WORK/allow.ndjson" exec_block not_blocked

# --- monitor ---------------------------------------------------------------------------------
for f in exec_block open_block kill_sequence; do
  sed 's/^\/\/ mode: enforce/\/\/ mode: monitor/' "$WORK/rules/$f.eql" >"$WORK/monitor/$f.eql"
done
start "$WORK/monitor.err" "$WORK/monitor.ndjson" --rules "$WORK/monitor" --enforce-mount "$MNT"
"$MNT/evil"
check "monitor mode: the exec goes through" test $? -eq 0
check "... and so does the open" test "$(cat "$MNT/secret")" = secret
"$WORK/kestrel-victim" -c "echo x >'$WORK/victim/g'; sleep 1; echo survived >'$WORK/victim/survived2'"
check "... and the sequence's process is not killed" test -e "$WORK/victim/survived2"
sleep 0.3
stop
check "monitor mode logs would_block for the exec" response "$WORK/monitor.ndjson" exec_block would_block
check "... and for the open" response "$WORK/monitor.ndjson" open_block would_block
check "... and would_kill for the sequence" response "$WORK/monitor.ndjson" kill_sequence would_kill

# --- the deadline, with every decision stalled for 2 s ----------------------------------------
rm -f "$WORK/rules/kill_sequence.eql" "$WORK/rules/armed_sequence.eql" "$WORK/rules/connect_block.eql" \
  "$WORK/rules/address_block.eql" "$WORK/rules/armed_expiring.eql" \
  "$WORK/rules/exec_kill.eql" "$WORK/rules/armed_exec.eql"
printf '[enforce]\nmounts = ["%s"]\ndeadline = "150ms"\n' "$MNT" >"$WORK/kestrel.toml"  # the mount from the configuration
KESTREL_FAILPOINT_DECIDE_DELAY_MS=2000 start "$WORK/stall.err" "$WORK/stall.ndjson" --rules "$WORK/rules" \
  --config "$WORK/kestrel.toml"
check "the failpoint is reported" contains "$WORK/stall.err" "failpoint"
check "the configuration's enforce.mounts and deadline are used" contains "$WORK/stall.err" "fanotify permission events on $MNT (execs and opens within 150 ms"
res=$(elapsed "$MNT/evil")
check "stalled engine, fail-open: the exec completes within the deadline (exit, seconds: $res)" \
  sh -c "[ ${res%% *} -eq 0 ] && awk 'BEGIN { exit !(${res#* } < 0.6) }'"
stop
check "... and the summary counts it late" grep -qE "[1-9][0-9]* late" "$WORK/stall.err"
KESTREL_FAILPOINT_DECIDE_DELAY_MS=2000 start "$WORK/closed.err" "$WORK/closed.ndjson" --rules "$WORK/rules" \
  --enforce-mount "$MNT" --deadline-ms 100 --fail-closed
res=$(elapsed "$MNT/evil")
check "stalled engine, --fail-closed: denied at the deadline (exit, seconds: $res)" \
  sh -c "[ ${res%% *} -ne 0 ] && awk 'BEGIN { exit !(${res#* } < 0.6) }'"
res=$(elapsed "$MNT/good")
check "... while an exec no rule can deny is allowed at once, stall or not (exit, seconds: $res)" \
  sh -c "[ ${res%% *} -eq 0 ] && awk 'BEGIN { exit !(${res#* } < 0.09) }'"
stop

# --- refusals --------------------------------------------------------------------------------
"$KESTREL" run --rules "$WORK/rules" --enforce-mount / --duration 1 -o /dev/null 2>"$WORK/root.err"
check "the root file system is never marked" contains "$WORK/root.err" "refusing to mark the root file system"
"$KESTREL" run --rules "$WORK/rules" --enforce-mount "$WORK/victim" --duration 1 -o /dev/null 2>"$WORK/notmount.err"
check "nor a directory that is not a mount point" contains "$WORK/notmount.err" "is not a mount point"

finish
