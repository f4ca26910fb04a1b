#!/usr/bin/env bash
# `kestrel gen` end to end: the same seed gives the same bytes, .klog output holds the same
# events, and the bundled pack (rules/linux) alerts exactly at the attacks the generator put in
# realistic and adversarial streams (bench/check_truth.py: each attack's rules once, nothing else).
# Needs KESTREL, PACK and CHECK_TRUTH.
set -uo pipefail
. "$(dirname "$0")/check.sh"
WORK=$(mktemp -d /tmp/kestrel-gen-e2e.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

run gen --seed 7 -n 3000 -o "$WORK/a.ndjson" --truth "$WORK/a.truth"
check "gen writes a stream" [ "$code" = 0 ] && [ "$(wc -l <"$WORK/a.ndjson")" = 3000 ]
run gen --seed 7 -n 3000 -o "$WORK/b.ndjson" --truth "$WORK/b.truth"
check "the same seed gives the same bytes" cmp -s "$WORK/a.ndjson" "$WORK/b.ndjson"
check "and the same truth" cmp -s "$WORK/a.truth" "$WORK/b.truth"
"$KESTREL" gen --seed 7 -n 3000 >"$WORK/stdout.ndjson" 2>/dev/null
check "standard output by default" cmp -s "$WORK/a.ndjson" "$WORK/stdout.ndjson"
run gen --seed 8 -n 3000 -o "$WORK/c.ndjson"
differs() { ! cmp -s "$1" "$2"; }
check "another seed gives another stream" differs "$WORK/a.ndjson" "$WORK/c.ndjson"

run gen --seed 7 -n 3000 -o "$WORK/a.klog"
check "gen writes .klog" [ "$code" = 0 ]
"$KESTREL" convert "$WORK/a.klog" -o "$WORK/a2.ndjson" 2>/dev/null
"$KESTREL" convert "$WORK/a.ndjson" -o "$WORK/a3.ndjson" 2>/dev/null
check ".klog holds the NDJSON's events" cmp -s "$WORK/a2.ndjson" "$WORK/a3.ndjson"

run gen --profile chaos -n 10
check "an unknown profile is a usage error" [ "$code" = 2 ] && contains "$WORK/err" "chaos"
run gen -n 10 -o /nonexistent-dir/x.ndjson
check "an unwritable output names the path" [ "$code" = 1 ] && contains "$WORK/err" "/nonexistent-dir/x.ndjson"
run gen --list-scenarios
check "scenarios are listed with their rules" contains "$WORK/out" "linux-dev-shm-download-chmod-exec"

for profile in realistic adversarial; do
  run gen --profile "$profile" --seed 11 -n 60000 --attack-every 2000 -o "$WORK/$profile.klog" \
    --truth "$WORK/$profile.truth"
  check "$profile: generated" [ "$code" = 0 ] && [ "$(wc -l <"$WORK/$profile.truth")" -ge 20 ]
  run replay --rules "$PACK" -i "$WORK/$profile.klog" -o "$WORK/$profile.alerts"
  check "$profile: replayed" [ "$code" = 0 ]
  python3 "$CHECK_TRUTH" "$WORK/$profile.truth" "$WORK/$profile.alerts" >"$WORK/verdict" 2>&1
  verdict=$?
  check "$profile: the pack alerts exactly at the attacks ($(tail -1 "$WORK/verdict"))" [ "$verdict" = 0 ]
  [ "$verdict" = 0 ] || head -20 "$WORK/verdict" >&2
done

# The checker itself notices a missing and an unexpected alert.
head -n -1 "$WORK/realistic.alerts" >"$WORK/short.alerts"
python3 "$CHECK_TRUTH" "$WORK/realistic.truth" "$WORK/short.alerts" >"$WORK/verdict" 2>&1
check "a missing alert is found" [ $? = 1 ] && contains "$WORK/verdict" "1 missing"
python3 - "$WORK/realistic.truth" >"$WORK/moved.truth" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
lines[0]["positions"] = [p + 1 for p in lines[0]["positions"]]
for l in lines: print(json.dumps(l))
PY
python3 "$CHECK_TRUTH" "$WORK/moved.truth" "$WORK/realistic.alerts" >"$WORK/verdict" 2>&1
check "alerts on other events are unexpected" [ $? = 1 ] && contains "$WORK/verdict" "unexpected: alert line"
finish
