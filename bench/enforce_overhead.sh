#!/usr/bin/env bash
# What Kestrel's responses add to the operations they guard (docs/response.md), in a sandbox it
# makes and removes (a tmpfs, a child cgroup v2):
#   exec: EXECS execs of a binary on the tmpfs, bare and with `kestrel run --enforce-mount`: with
#         a block rule on another binary (every exec is asked about and allowed at once, by the
#         rule index on the responder thread), and with a rule the index cannot rule out (every
#         exec goes to the decision thread);
#   connect: CONNECTS loopback connects from a process of the cgroup, bare and with the cgroup
#         connect programs attached (a block rule on another port).
# Each is also run under the same `kestrel run` with the rules in monitor mode (the live source
# watching, nothing enforced), so that what enforcement adds is told apart from what watching
# costs. ROUNDS rounds; prints each run's p50 / p99 / mean in microseconds and the medians'
# differences.
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

mkdir -p "$WORK/monitor"
for f in "$WORK"/rules/*.eql; do sed 's/^\/\/ mode: enforce/\/\/ mode: monitor/' "$f" >"$WORK/monitor/$(basename "$f")"; done

start() {  # start [RULES]
  "$KESTREL" run --rules "${1:-$WORK/rules}" -o /dev/null --enforce-mount "$MNT" --enforce-cgroup "$CG" 2>"$WORK/kestrel.err" &
  KPID=$!
  for _ in $(seq 300); do grep -q watching "$WORK/kestrel.err" 2>/dev/null && return 0; sleep 0.1; done
  cat "$WORK/kestrel.err" >&2
  exit 1
}
stop() { kill -INT "$KPID"; wait "$KPID" || true; KPID=""; }
in_cgroup() { sh -c "echo \$\$ >'$CG/cgroup.procs' && exec \"\$@\"" sh "$@"; }

declare -a eb em ek ed cb cm ck
for r in $(seq 1 "$ROUNDS"); do
  eb+=("$("$LATENCY" exec "$EXECS" "$MNT/true")")
  cb+=("$(in_cgroup "$LATENCY" connect "$CONNECTS")")
  start "$WORK/monitor"
  em+=("$("$LATENCY" exec "$EXECS" "$MNT/true")")
  cm+=("$(in_cgroup "$LATENCY" connect "$CONNECTS")")
  stop
  start
  ek+=("$("$LATENCY" exec "$EXECS" "$MNT/true")")
  ck+=("$(in_cgroup "$LATENCY" connect "$CONNECTS")")
  stop
  start "$WORK/decided"
  ed+=("$("$LATENCY" exec "$EXECS" "$MNT/true")")
  stop
  echo "round $r: exec bare ${eb[-1]} / monitor ${em[-1]} / responder ${ek[-1]} / decided ${ed[-1]};" \
    "connect bare ${cb[-1]} / monitor ${cm[-1]} / cgroup programs ${ck[-1]} (p50 p99 mean, us)"
done
grep -E "fanotify:" "$WORK/kestrel.err" | sed 's/^ */last run: /'
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
col() { local k=$1; shift; for x in "$@"; do echo "$x" | awk -v k="$k" '{print $k}'; done; }
report() {  # report NAME BASE... -- WITH...
  local name=$1
  shift
  local base=() with=()
  while [ "$1" != -- ]; do base+=("$1"); shift; done
  shift
  with=("$@")
  awk -v w="$name" -v b50="$(median $(col 1 "${base[@]}"))" -v w50="$(median $(col 1 "${with[@]}"))" \
    -v b99="$(median $(col 2 "${base[@]}"))" -v w99="$(median $(col 2 "${with[@]}"))" 'BEGIN {
    printf "%s: p50 %.2f -> %.2f us (%+.2f), p99 %.2f -> %.2f us (%+.2f)\n", w, b50, w50, w50 - b50, b99, w99, w99 - b99 }'
}
report "exec, watching (monitor vs bare)" "${eb[@]}" -- "${em[@]}"
report "exec, the responder (allowed at once) vs monitor" "${em[@]}" -- "${ek[@]}"
report "exec, the responder (decided) vs monitor" "${em[@]}" -- "${ed[@]}"
report "connect, watching (monitor vs bare)" "${cb[@]}" -- "${cm[@]}"
report "connect, the cgroup programs vs monitor" "${cm[@]}" -- "${ck[@]}"
