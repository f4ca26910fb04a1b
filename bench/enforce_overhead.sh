#!/usr/bin/env bash
# What Kestrel's responses add to the operations they guard (docs/response.md), in a sandbox it
# makes and removes (a tmpfs, a child cgroup v2):
#   exec: EXECS execs of a binary on the tmpfs, bare and with `kestrel run --enforce-mount`: with
#         a block rule on another binary (every exec is asked about and allowed at once, by the
#         rule index on the responder thread), and with a rule the index cannot rule out (every
#         exec goes to the decision thread);
#   connect: CONNECTS loopback connects from a process of the cgroup, bare and with the cgroup
#         connect programs attached (a block rule on another port).
# ROUNDS rounds; prints each run's p50 / p99 / mean in microseconds and the medians' differences.
# Needs root. Usage: bench/enforce_overhead.sh [BUILD_DIR] [EXECS] [CONNECTS] [ROUNDS]
set -euo pipefail

BUILD=${1:-build}
EXECS=${2:-5000}
CONNECTS=${3:-20000}
ROUNDS=${4:-3}
KESTREL=$BUILD/kestrel
LATENCY=$BUILD/bench/kestrel_enforce_latency
[ "$(id -u)" = 0 ] || { echo "enforce_overhead: needs root" >&2; exit 1; }
[ -x "$KESTREL" ] && [ -x "$LATENCY" ] || { echo "enforce_overhead: build first (make build)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/kestrel-enforce-bench.XXXXXX)
MNT=$WORK/mnt
CGROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
CG=$CGROOT/kestrel-bench-$$
KPID=""
cleanup() {
  [ -n "$KPID" ] && kill -KILL "$KPID" 2>/dev/null
  wait 2>/dev/null || true
  [ -d "$CG" ] && rmdir "$CG" 2>/dev/null
  mountpoint -q "$MNT" && umount -l "$MNT"
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$MNT" "$WORK/rules"
mount -t tmpfs kestrel-bench "$MNT"
cp /bin/true "$MNT/true"
mkdir "$CG"
cat >"$WORK/rules/block.eql" <<EQL
// actions: block
// mode: enforce
process where event.action == "exec" and process.executable == "$MNT/never"
EQL
mkdir -p "$WORK/decided"
cat >"$WORK/decided/block.eql" <<EQL
// actions: block
// mode: enforce
process where event.action == "exec" and length(process.executable) > 200
EQL
cat >"$WORK/rules/connect.eql" <<EQL
// actions: block
// mode: enforce
network where event.action == "connection_attempted" and destination.port == 9
EQL

start() {  # start [RULES]
  "$KESTREL" run --rules "${1:-$WORK/rules}" -o /dev/null --enforce-mount "$MNT" --enforce-cgroup "$CG" 2>"$WORK/kestrel.err" &
  KPID=$!
  for _ in $(seq 300); do grep -q watching "$WORK/kestrel.err" 2>/dev/null && return 0; sleep 0.1; done
  cat "$WORK/kestrel.err" >&2
  exit 1
}
stop() { kill -INT "$KPID"; wait "$KPID" || true; KPID=""; }
in_cgroup() { sh -c "echo \$\$ >'$CG/cgroup.procs' && exec \"\$@\"" sh "$@"; }

declare -a eb ek ed cb ck
for r in $(seq 1 "$ROUNDS"); do
  eb+=("$("$LATENCY" exec "$EXECS" "$MNT/true")")
  cb+=("$(in_cgroup "$LATENCY" connect "$CONNECTS")")
  start
  ek+=("$("$LATENCY" exec "$EXECS" "$MNT/true")")
  ck+=("$(in_cgroup "$LATENCY" connect "$CONNECTS")")
  stop
  start "$WORK/decided"
  ed+=("$("$LATENCY" exec "$EXECS" "$MNT/true")")
  stop
  echo "round $r: exec bare ${eb[-1]} / with the responder ${ek[-1]} / decided ${ed[-1]}; connect bare ${cb[-1]} / with the cgroup programs ${ck[-1]} (p50 p99 mean, us)"
done
grep -E "fanotify:" "$WORK/kestrel.err" | sed 's/^ */last run: /'
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
col() { local k=$1; shift; for x in "$@"; do echo "$x" | awk -v k="$k" '{print $k}'; done; }
for what in exec exec-decided connect; do
  case $what in
    exec) bare=("${eb[@]}"); with=("${ek[@]}") ;;
    exec-decided) bare=("${eb[@]}"); with=("${ed[@]}") ;;
    connect) bare=("${cb[@]}"); with=("${ck[@]}") ;;
  esac
  b50=$(median $(col 1 "${bare[@]}")); w50=$(median $(col 1 "${with[@]}"))
  b99=$(median $(col 2 "${bare[@]}")); w99=$(median $(col 2 "${with[@]}"))
  awk -v w="$what" -v b50="$b50" -v w50="$w50" -v b99="$b99" -v w99="$w99" 'BEGIN {
    printf "%s: p50 %.2f -> %.2f us (+%.2f), p99 %.2f -> %.2f us (+%.2f)\n", w, b50, w50, w50 - b50, b99, w99, w99 - b99 }'
done
