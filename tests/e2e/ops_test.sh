#!/usr/bin/env bash
# Operating `kestrel run` (docs/configuration.md): a configuration file with every kind of
# output (a rotating file, syslog on a unix socket, a webhook), /metrics and /healthz scraped with
# a real HTTP client while the values move, spans and JSON logs; the rule pack reloaded on a file
# change and on SIGHUP, a bad reload that keeps the last good pack, and a sequence begun before a
# reload that completes after it. Needs root (the live source): otherwise exits 77 (skipped).
set -uo pipefail

KESTREL=${KESTREL:?path to the kestrel binary}
source "$(dirname "$0")/check.sh"
skip_unless_root "kestrel run loads BPF programs, which needs root"
command -v curl >/dev/null || { echo "SKIP: curl is not installed (scripts/bootstrap.sh installs it)"; exit 77; }
WORK=$(mktemp -d /tmp/kestrel-ops.XXXXXX)
KPID="" PIDS=""
cleanup() {
  [ -n "$KPID" ] && kill -KILL "$KPID" 2>/dev/null
  for p in $PIDS; do kill "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT
mountpoint -q /sys/kernel/tracing || mount -t tracefs none /sys/kernel/tracing 2>/dev/null || true

# waitfor SECONDS CMD...: polls CMD every 0.1 s until it succeeds.
waitfor() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.1
  done
}
metric() { curl -s "http://127.0.0.1:$MPORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
metric_is() { [ "$(metric "$1")" = "$2" ]; }

# A syslog receiver (unix datagrams) and a webhook receiver, each writing what it gets to a file.
python3 - "$WORK/log.sock" "$WORK/syslog.txt" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as out:
    while True:
        out.write(s.recv(65536) + b"\n")
PY
PIDS="$PIDS $!"
python3 - "$WORK/webhook.port" "$WORK/webhook.txt" <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(sys.argv[2], "ab") as out:
            out.write(self.headers.get("Content-Type", "").encode() + b" " + body.rstrip(b"\n") + b"\n")
        self.send_response(200)
        self.end_headers()
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(srv.server_port))
srv.serve_forever()
PY
PIDS="$PIDS $!"
waitfor 10 test -s "$WORK/webhook.port" -a -S "$WORK/log.sock" || { echo "FAIL: the receivers did not start"; exit 1; }
HPORT=$(cat "$WORK/webhook.port")
MPORT=$((30000 + $$ % 20000))

mkdir -p "$WORK/pack/sub"
cp /bin/true "$WORK/kestrel-ops-one"
cp /bin/true "$WORK/kestrel-ops-two"
printf '#!/bin/sh\nsleep 3\n: > "%s/seq-target"\n' "$WORK" >"$WORK/kestrel-ops-seq"
chmod +x "$WORK/kestrel-ops-seq"
cat >"$WORK/pack/pack.yaml" <<YAML
name: ops-pack
version: 1.0.0
YAML
cat >"$WORK/pack/one.yaml" <<YAML
id: ops-one
name: The first marker runs
severity: high
tags: [T1059]
query: process where event.action == "exec" and process.name == "kestrel-ops-one"
YAML
cat >"$WORK/pack/seq.yaml" <<YAML
id: ops-seq
query: |
  sequence by process.entity_id with maxspan=30s
    [process where event.action == "exec" and process.name == "kestrel-ops-seq"]
    [file where file.path == "$WORK/seq-target"]
YAML
cat >"$WORK/kestrel.yaml" <<YAML
rules:
  path: $WORK/pack
outputs:
  - type: file
    path: $WORK/alerts.ndjson
    max_bytes: 3KiB
    max_files: 2
  - type: syslog
    address: unix:$WORK/log.sock
  - type: webhook
    url: http://127.0.0.1:$HPORT/alerts
    retries: 2
    backoff: 50ms
metrics:
  address: 127.0.0.1:$MPORT
tracing:
  path: $WORK/spans.ndjson
  sample_rate: 1.0
logging:
  level: info
  format: json
  file: $WORK/kestrel.log
YAML

"$KESTREL" run --config "$WORK/kestrel.yaml" >"$WORK/out" 2>"$WORK/err" &
KPID=$!
waitfor 30 grep -q "^run: " "$WORK/err" || { cat "$WORK/err"; echo "FAIL: kestrel run did not start"; exit 1; }
check "the start line names the pack, outputs, metrics and tracing" \
  grep -qE "rules: ops-pack 1.0.0 \(hash [0-9a-f]{16}\), reloaded on change and SIGHUP; outputs: file, syslog, webhook; metrics: http://127.0.0.1:$MPORT/metrics; tracing: $WORK/spans.ndjson" "$WORK/err"

# --- alerts to every output, and the metrics moving ------------------------------------
for i in 1 2 3; do "$WORK/kestrel-ops-one"; done
check "/metrics counts the rule's matches" waitfor 10 metric_is 'kestrel_rule_matches_total{rule="ops-one"}' 3
events1=$(metric 'kestrel_events_in_total{source="ebpf"}')
check "/metrics counts events in" test "${events1:-0}" -gt 0
check "/metrics shows the pack" waitfor 5 sh -c "curl -s http://127.0.0.1:$MPORT/metrics | grep -q 'kestrel_rule_pack_info{generation=\"1\",hash=\"[0-9a-f]*\",pack=\"ops-pack\",version=\"1.0.0\"} 1'"
for i in 1 2; do "$WORK/kestrel-ops-one"; done
check "a second scrape shows the matches moved" waitfor 10 metric_is 'kestrel_rule_matches_total{rule="ops-one"}' 5
events2=$(metric 'kestrel_events_in_total{source="ebpf"}')
check "and the events ($events1 -> $events2)" test "${events2:-0}" -gt "${events1:-0}"
check "the rule's evaluations are counted" test "$(metric 'kestrel_rule_evaluations_total{rule="ops-one"}')" -gt 0
curl -s -o "$WORK/health" -w '%{http_code}' "http://127.0.0.1:$MPORT/healthz" >"$WORK/health.code"
check "/healthz answers 200" test "$(cat "$WORK/health.code")" = 200
check "/healthz names the pack and generation" grep -q '"status":"ok","pack":"ops-pack 1.0.0 (hash .*","generation":1' "$WORK/health"
check "the webhook got the alerts as JSON" waitfor 10 sh -c "[ \$(grep -c '^application/json .*\"rule\":{\"id\":\"ops-one\"' '$WORK/webhook.txt') -eq 5 ]"
check "syslog got RFC 5424 messages (PRI 83: authpriv.err for high)" waitfor 10 grep -qE '^<83>1 [0-9T:.+Z-]+ [^ ]+ kestrel [0-9]+ alert \[kestrel@32473 rule_id="ops-one" alert_id="[0-9a-f]{16}"\] \{' "$WORK/syslog.txt"
check "syslog got every alert" test "$(grep -c 'rule_id="ops-one"' "$WORK/syslog.txt")" -eq 5
check "the alert file rotated at 3 KiB" test -s "$WORK/alerts.ndjson.1"
check "alerts carry threat.technique.id" grep -qh '"threat":{"framework":"MITRE ATT&CK","technique":{"id":\["T1059"\]}}' "$WORK/alerts.ndjson" "$WORK/alerts.ndjson.1"

# --- reloads ---------------------------------------------------------------------------
"$WORK/kestrel-ops-seq" &   # the sequence's first stage now, its second in 3 s (after the reload)
SEQ=$!
sleep 0.5
cat >"$WORK/pack/sub/two.yaml" <<YAML
id: ops-two
query: process where event.action == "exec" and process.name == "kestrel-ops-two"
YAML
check "a new rule file in a new folder is loaded" waitfor 10 metric_is 'kestrel_rule_reloads_total{result="success"}' 1
"$WORK/kestrel-ops-two"
check "the new rule alerts" waitfor 10 metric_is 'kestrel_rule_matches_total{rule="ops-two"}' 1
check "the old rule's count carries over the reload" metric_is 'kestrel_rule_matches_total{rule="ops-one"}' 5
wait $SEQ
check "a sequence begun before the reload completes after it" waitfor 10 metric_is 'kestrel_rule_matches_total{rule="ops-seq"}' 1
check "the log says the partial match was kept" grep -q 'partial sequence matches: 1 kept' "$WORK/kestrel.log"

printf 'id: ops-bad\nquery: process where process.nme == "x"\n' >"$WORK/pack/bad.yaml"
check "a bad rule fails the reload" waitfor 10 metric_is 'kestrel_rule_reloads_total{result="failure"}' 1
curl -s "http://127.0.0.1:$MPORT/healthz" >"$WORK/health"
check "/healthz gives the reload error with its place" grep -q "bad.yaml:2:22: error: unknown field 'process.nme'" "$WORK/health"
check "the log has it too, as JSON" grep -q '"level":"error".*rule reload failed; still running ops-pack' "$WORK/kestrel.log"
"$WORK/kestrel-ops-two"
check "the last good pack still runs" waitfor 10 metric_is 'kestrel_rule_matches_total{rule="ops-two"}' 2
rm "$WORK/pack/bad.yaml"
check "removing it reloads the same pack: unchanged" waitfor 10 metric_is 'kestrel_rule_reloads_total{result="unchanged"}' 1
kill -HUP $KPID
check "SIGHUP reloads" waitfor 10 metric_is 'kestrel_rule_reloads_total{result="unchanged"}' 2
check "the pack in use is generation 2" waitfor 5 sh -c "curl -s http://127.0.0.1:$MPORT/metrics | grep -q 'kestrel_rule_pack_info{generation=\"2\"'"

# --- stop ------------------------------------------------------------------------------
kill -INT $KPID
wait $KPID
code=$?
KPID=""
check "kestrel run stops cleanly on SIGINT (exit $code)" test "$code" -eq 0
check "the summary counts the reloads" grep -q "reloads: 1 swapped in, 1 failed, 2 unchanged" "$WORK/err"
check "spans were written for sampled events" grep -q '"name":"kestrel.rule.eval"' "$WORK/spans.ndjson"
check "with their alert and sink spans" grep -q '"name":"kestrel.sink"' "$WORK/spans.ndjson"
check "spans are JSON with OTel field names" python3 -c "
import json, sys
spans = [json.loads(l) for l in open('$WORK/spans.ndjson')]
ids = {s['spanId'] for s in spans}
assert all(len(s['traceId']) == 32 and s['startTimeUnixNano'].isdigit() for s in spans)
assert all(s['parentSpanId'] in ids for s in spans if s['parentSpanId'])
"
check "the log file is JSON lines" python3 -c "
import json
[json.loads(l) for l in open('$WORK/kestrel.log')]
"
finish
