# Sourced by the end-to-end scripts: `check NAME CONDITION...` counts a passed or failed check
# (printing the failed ones), `contains FILE TEXT` is a fixed-string grep, `run ARGS` runs kestrel
# into $WORK/out and $WORK/err, and `finish` prints
# the count and exits non-zero when a check failed; `skip_unless_root REASON` skips a root-only test.
passed=0
failed=0
check() {
  local name=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $name" >&2
  fi
}
contains() { grep -qF -- "$2" "$1"; }
# Exits 77 (CTest: skipped) with REASON unless running as root.
skip_unless_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "SKIP: $1"
    exit 77
  fi
}
# run ARGS...: runs $KESTREL with ARGS, keeping stdout in $WORK/out, stderr in $WORK/err and the
# exit code in $code.
run() {
  "$KESTREL" "$@" >"$WORK/out" 2>"$WORK/err"
  code=$?
}
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
