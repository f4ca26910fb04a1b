#!/usr/bin/env bash
# End-to-end tests of the rule pack commands (validate, list, test, explain) through the real
# binary, on the bundled pack (rules/linux) and on broken packs made here. Needs KESTREL and
# PACK (rules/linux).
set -uo pipefail

KESTREL=${KESTREL:?path to the kestrel binary}
PACK=${PACK:?path to rules/linux}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

source "$(dirname "$0")/check.sh"

# --- the bundled pack ------------------------------------------------------------------
run validate --strict "$PACK"
check "the bundled pack validates strictly" test "$code" -eq 0
check "validate counts files and errors" grep -qE "^validate: [0-9]+ rule files, [0-9]+ rules, 0 errors" "$WORK/out"
rules=$(sed -nE 's/^validate: [0-9]+ rule files, ([0-9]+) rules.*/\1/p' "$WORK/out")
check "the bundled pack has at least 40 rules" test "${rules:-0}" -ge 40
run list --json "$PACK"
sequences=$(grep -o '"kind":"sequence"' "$WORK/out" | wc -l)
check "the bundled pack has at least 10 sequences" test "$sequences" -ge 10
check "every bundled rule has an ATT&CK technique" test "$(grep -o '"techniques":\[\]' "$WORK/out" | wc -l)" -eq 0
run test "$PACK"
check "the bundled pack's tests pass" test "$code" -eq 0
check "test ends with the pass/fail count" grep -qE "^[0-9]+ passed, 0 failed$" <(tail -1 "$WORK/out")
check "the pack index is up to date" python3 "$PACK/make_index.py" --check
run list "$PACK"
check "list prints a table" grep -qE "^ID +NAME +SEVERITY +MODE" "$WORK/out"
check "list names the pack, its version and hash" grep -qE "^pack: kestrel-linux [0-9.]+ \(hash [0-9a-f]{16}\)" "$WORK/out"

# --- a pack of our own: formats, canary, failures ---------------------------------------
mkdir -p "$WORK/p/sub"
cat >"$WORK/p/sub/shell.yaml" <<'RULE'
id: shell-start
name: Shell starts
severity: low
tags: [T1059.004]
actions: [alert, block]
mode: enforce
rollout: 50%
query: process where event.type == "start" and process.name == "bash"
tests:
  - name: bash starts
    expect: match
    events:
      - {event: {category: [process], type: [start]}, process: {name: bash}}
  - name: says sh matches (wrong on purpose)
    expect: match
    events:
      - {event: {category: [process], type: [start]}, process: {name: sh}}
RULE
cat >"$WORK/p/net.toml" <<'RULE'
id = "net"
query = "network where destination.port == 4444"
[[tests]]
name = "4444"
expect = "match"
alerts = 1
events = [ { event = { category = ["network"] }, destination = { port = 4444 } } ]
RULE
run test "$WORK/p"
check "a failing test fails the run" test "$code" -eq 1
check "the failure names the rule, the test and why" contains "$WORK/out" "FAIL shell-start :: says sh matches (wrong on purpose)"
check "the failure says what happened" contains "$WORK/out" "expected a match, got no alert"
check "the failure says how to explain it" contains "$WORK/out" "kestrel explain --rules $WORK/p --rule shell-start --test"
check "the last line counts" test "$(tail -1 "$WORK/out")" = "2 passed, 1 failed"
run test --junit "$WORK/junit.xml" "$WORK/p"
check "--junit writes a JUnit report" grep -q '<testsuite name="kestrel test" tests="3" failures="1">' "$WORK/junit.xml"
check "with the failure" grep -q '<testcase classname="shell-start" name="says sh matches (wrong on purpose)" file=".*shell.yaml:[0-9]*:[0-9]*"><failure message="expected a match, got no alert"/>' "$WORK/junit.xml"
check "the report is well-formed XML" python3 -c "import xml.dom.minidom, sys; xml.dom.minidom.parse(sys.argv[1])" "$WORK/junit.xml"

run explain --rules "$WORK/p" --rule shell-start --test "says sh matches (wrong on purpose)"
check "explain shows the false predicate" grep -qE "false +process.name == \"bash\"" "$WORK/out"
check "explain shows the true predicate" grep -qE "true +event.type == \"start\"" "$WORK/out"
check "explain gives the outcome" contains "$WORK/out" "0 alerts"
printf '%s\n' '{"@timestamp":"2026-01-01T00:00:00Z","event":{"category":["process"],"type":["start"]},"process":{"name":"bash"}}' >"$WORK/ev.ndjson"
run explain --rules "$WORK/p" --rule shell-start --event "$WORK/ev.ndjson"
check "explain --event shows a match" contains "$WORK/out" "the rule [process where ...]: MATCHES"
run explain --rules "$WORK/p" --rule nope --event "$WORK/ev.ndjson"
check "explain of an unknown rule fails" test "$code" -eq 1
check "and says so" contains "$WORK/err" "no rule with id 'nope'"

# Canary: the same pack enforces on some hosts and monitors on others.
enforcing=0
for h in $(seq 1 40); do
  "$KESTREL" list --host-id "host-$h" "$WORK/p" | grep -q "^shell-start .* enforce (rollout 50%) " && enforcing=$((enforcing + 1))
done
check "a 50% rollout enforces on some hosts, not all ($enforcing of 40)" test "$enforcing" -gt 5 -a "$enforcing" -lt 35
"$KESTREL" list --host-id host-1 "$WORK/p" >"$WORK/l1"
check "list shows the effective mode per host" grep -qE "^shell-start .* (enforce \(rollout 50%\)|monitor \(rollout 50%: not this host\))" "$WORK/l1"

printf 'id: bad\nquery: |\n  process where\n    process.nme == "x"\n' >"$WORK/p/bad.yaml"
printf '{"id": "j", "severity": "huge", "query": "process where true"}' >"$WORK/p/j.json"
run validate "$WORK/p"
check "validate fails on bad rules" test "$code" -eq 1
check "validate locates a query error in the YAML file" contains "$WORK/err" "bad.yaml:4:5: error: unknown field 'process.nme'"
check "validate reports every error" contains "$WORK/err" "j.json:1:25: unknown severity 'huge'"
check "validate counts them" contains "$WORK/out" "2 errors"
run replay -r "$WORK/p" -i "$WORK/ev.ndjson"
check "replay refuses a pack with bad rules" test "$code" -eq 1
check "replay names every bad rule" contains "$WORK/err" "2 rule files failed"
run replay --skip-bad-rules -r "$WORK/p" -i "$WORK/ev.ndjson"
check "replay --skip-bad-rules runs the others" test "$code" -eq 0
check "and alerts with the rule's metadata" contains "$WORK/out" '"rule":{"id":"shell-start","name":"Shell starts","severity":"low"'

# --- the configuration file: every mistake at its place (replay -c reads the whole file) ---
printf '%s\n' '{"@timestamp":"2026-01-01T00:00:00Z","event":{"category":["process"]},"process":{"name":"x"}}' >"$WORK/one.ndjson"
config_error() {  # config_error NAME TEXT EXPECTED
  printf '%b' "$2" >"$WORK/c.yaml"
  run replay -c "$WORK/c.yaml" -r "$WORK/p/net.toml" -i "$WORK/one.ndjson"
  check "config: $1 (exit $code)" test "$code" -eq 1
  check "config: $1 says where and why" contains "$WORK/err" "$3"
}
config_error "a misspelt empty section" 'metric: {}\n' "c.yaml:1:9: unknown section 'metric'"
config_error "a duration without a unit" 'state:\n  ttl: 24\n' 'c.yaml:2:8: state.ttl needs a unit'
config_error "a bad log level" 'logging:\n  level: verbose\n' "c.yaml:2:10: unknown logging.level 'verbose'"
config_error "a metrics address without a port" 'metrics:\n  address: 127.0.0.1\n' "c.yaml:2:12: metrics address '127.0.0.1' must be HOST:PORT"
config_error "an unknown output type" 'outputs:\n  - type: kafka\n' "c.yaml:2:11: unknown output type 'kafka'"
config_error "a webhook without a url" 'outputs:\n  - type: webhook\n' 'c.yaml:2:5: a webhook output needs a `url`'
config_error "an unknown output setting" 'outputs:\n  - type: file\n    path: /tmp/x\n    rotate: 3\n' "c.yaml:4:13: unknown setting 'rotate' for a file output"
config_error "a bad YAML file" 'state: [\n' 'c.yaml:2:1:'
printf 'state:\n  ttl: 1h\n  max_bytes: 64MiB\noutputs:\n  - type: stdout\nlogging:\n  level: warn\n' >"$WORK/good.yaml"
run replay -c "$WORK/good.yaml" -r "$WORK/p/net.toml" -i "$WORK/one.ndjson"
check "a good configuration is accepted by replay" test "$code" -eq 0
run replay -c "$PACK/../../examples/kestrel.yaml" -r "$WORK/p/net.toml" -i "$WORK/one.ndjson"
check "the example configuration (examples/kestrel.yaml) is valid" test "$code" -eq 0
finish
