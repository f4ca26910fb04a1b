#!/usr/bin/env bash
# The live source's overhead (docs/live.md): the wall time of bench/live_workload.cpp (EXECS
# execs of /bin/true, OPENS opens of a file, CONNECTS loopback TCP connections) alone, under
# `kestrel run` with 100 rules, and under bpftrace counting the same tracepoints (sched
# exec/fork/exit, and the syscalls:sys_enter_* / sys_exit_* of the calls those rules need: the
# open family, connect, and chdir / fchdir). ROUNDS rounds, the three runs in turn; prints each run, the
# medians, the ratios to the bare workload, and the records kestrel lost. Needs root.
# Usage: bench/live_overhead.sh [BUILD_DIR] [EXECS] [OPENS] [CONNECTS] [ROUNDS]
set -euo pipefail

BUILD=${1:-build}
EXECS=${2:-20000}
OPENS=${3:-100000}
CONNECTS=${4:-2000}
ROUNDS=${5:-3}
KESTREL=$BUILD/kestrel
WORKLOAD=$BUILD/bench/kestrel_live_workload
[ "$(id -u)" = 0 ] || { echo "live_overhead: needs root (it loads BPF programs)" >&2; exit 1; }
[ -x "$KESTREL" ] && [ -x "$WORKLOAD" ] || { echo "live_overhead: build first (make build)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/kestrel-overhead.XXXXXX)
TRACER=""
trap '[ -n "$TRACER" ] && kill -KILL $TRACER 2>/dev/null; rm -rf "$WORK"' EXIT

# 100 rules: 40 on processes, 40 on files, 20 on connections; one of them matches the workload's
# execs, so alerts are written too.
mkdir -p "$WORK/rules"
for i in $(seq 1 40); do
  echo "process where event.action == \"exec\" and process.name == \"tool$i\" and process.args : \"--mode$i*\"" \
    >"$WORK/rules/p$i.eql"
  echo "file where event.type == \"creation\" and file.path : \"/etc/app$i/*.conf\"" >"$WORK/rules/f$i.eql"
done
for i in $(seq 1 20); do
  echo "network where event.action == \"connection_attempted\" and destination.port == $((4000 + i))" \
    >"$WORK/rules/n$i.eql"
done
echo 'process where event.action == "exec" and process.name == "true"' >"$WORK/rules/p0.eql"

wait_for() {  # wait_for FILE TEXT PID
  for _ in $(seq 600); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
workload() { "$WORKLOAD" "$EXECS" "$OPENS" "$CONNECTS" "$WORK"; }

mountpoint -q /sys/kernel/tracing || mount -t tracefs none /sys/kernel/tracing 2>/dev/null || true
BPFTRACE_PROBES=""
for call in open creat openat openat2 connect chdir fchdir; do
  BPFTRACE_PROBES+="${BPFTRACE_PROBES:+, }tracepoint:syscalls:sys_enter_$call, tracepoint:syscalls:sys_exit_$call"
done
declare -a bare kestrel bpftrace
lost=""
for r in $(seq 1 "$ROUNDS"); do
  bare+=("$(workload)")

  "$KESTREL" run --rules "$WORK/rules" -o "$WORK/alerts.ndjson" 2>"$WORK/kestrel.err" &
  TRACER=$!
  wait_for "$WORK/kestrel.err" watching $TRACER || { cat "$WORK/kestrel.err" >&2; exit 1; }
  kestrel+=("$(workload)")
  kill -INT $TRACER
  wait $TRACER || true
  TRACER=""
  lost+="$(grep -oE 'lost: [0-9]+' "$WORK/kestrel.err" | grep -oE '[0-9]+') "
  events=$(grep -oE '^run: [0-9]+ events' "$WORK/kestrel.err" | grep -oE '[0-9]+')

  bpftrace -e "$BPFTRACE_PROBES { @syscalls = count(); }
               tracepoint:sched:sched_process_exec, tracepoint:sched:sched_process_fork,
               tracepoint:sched:sched_process_exit { @proc = count(); }" >"$WORK/bpftrace.out" 2>&1 &
  TRACER=$!
  wait_for "$WORK/bpftrace.out" Attaching $TRACER || { cat "$WORK/bpftrace.out" >&2; exit 1; }
  sleep 0.5
  bpftrace+=("$(workload)")
  kill -INT $TRACER
  wait $TRACER || true
  TRACER=""
  echo "round $r: bare ${bare[-1]} s, kestrel run ${kestrel[-1]} s ($events events), bpftrace ${bpftrace[-1]} s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mb=$(median "${bare[@]}")
mk=$(median "${kestrel[@]}")
mt=$(median "${bpftrace[@]}")
echo "workload: $EXECS execs, $OPENS opens, $CONNECTS connections; medians of $ROUNDS rounds:"
awk -v b="$mb" -v k="$mk" -v t="$mt" 'BEGIN {
  printf "  bare %.3f s; kestrel run (100 rules) %.3f s: ratio %.3f; bpftrace (counting) %.3f s: ratio %.3f\n", b, k, k / b, t, t / b }'
echo "  kestrel lost records per round: $lost"
