#!/usr/bin/env python3
"""Golden tests for EQL: runs the cases of tests/eql/*.test through the real `kestrel` binary.

A .test file holds cases separated by blank lines. Each case:

    # optional comment lines
    <directive> [key=value ...]
    <query text, one or more lines>
    ----
    <expected output, exactly, one or more lines; may be empty>

Directives:
    query   data=FILE [id=FIELD] [profile=ecs|endgame] [dialect=es|eql] [case=sensitive|insensitive]
            runs `kestrel query` on tests/data/FILE; the output is the printed matches
            (with id=FIELD, one line of ids per match). Exit code must be 0.
    error   [data=FILE] [dialect=...]
            the query must fail to compile: the expected text is stderr (diagnostics), exit 1.
    explain [dialect=...]
            runs `kestrel explain`; the expected text is stdout.

A case ends at the next line that starts a directive after its expected block, or at a line
`====`. Usage: run_golden.py KESTREL DATA_DIR [FILE.test ...]

Every `query` case with an id= option whose query is a sequence a detection rule can hold (no
pipes, no lineage, no case= option) also runs through the detection engine: the query becomes a
rule file for `kestrel replay` (with 1 and 2 worker threads), and the ids of each alert's events
must be the expected lines. The engine orders alerts by the event that decided them, hunting by
their last event, so the lines are compared as sets.

Every `query` case also runs on the Wasm and Lua predicate backends (`--backend`), which must
print the same. The replayed cases run on every backend too.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

DIRECTIVES = ("query", "error", "explain")


def parse(path):
    cases = []
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip() or line.startswith("#") or line.strip() == "====":
            i += 1
            continue
        head = line.split()
        if head[0] not in DIRECTIVES:
            raise SystemExit(f"{path}:{i + 1}: expected one of {', '.join(DIRECTIVES)}, found {line!r}")
        opts = {}
        for tok in head[1:]:
            if "=" not in tok:
                raise SystemExit(f"{path}:{i + 1}: option {tok!r} is not key=value")
            k, v = tok.split("=", 1)
            opts[k] = v
        start = i + 1
        i += 1
        query = []
        while i < len(lines) and lines[i] != "----":
            query.append(lines[i])
            i += 1
        if i == len(lines):
            raise SystemExit(f"{path}:{start}: case has no '----' line")
        i += 1
        expected = []
        while i < len(lines) and lines[i].strip() != "====":
            if lines[i].split() and lines[i].split()[0] in DIRECTIVES and re.match(r"^(query|error|explain)( |$)", lines[i]):
                break
            # a blank line followed by a directive line ends the expected block
            if not lines[i].strip() and i + 1 < len(lines) and (
                    not lines[i + 1].strip() or lines[i + 1].startswith("#") or
                    (lines[i + 1].split() and lines[i + 1].split()[0] in DIRECTIVES)):
                break
            expected.append(lines[i])
            i += 1
        while expected and not expected[-1].strip():
            expected.pop()
        cases.append({"line": start, "kind": head[0], "opts": opts, "query": "\n".join(query).rstrip(),
                      "expected": expected})
    return cases


BACKENDS = ("native", "wasm", "lua")


def run(kestrel, data_dir, case, backend="native"):
    opts = case["opts"]
    args = [kestrel]
    if case["kind"] == "explain":
        args += ["explain", case["query"]]
    else:
        args += ["query", case["query"], "--backend", backend]
        data = opts.get("data")
        if data:
            for d in data.split(","):
                args += ["--input", os.path.join(data_dir, d)]
        else:
            args += ["--input", os.path.join(data_dir, "empty.ndjson")]
        if "id" in opts:
            args += ["--id-field", opts["id"]]
        if "profile" in opts:
            args += ["--profile", opts["profile"]]
        if opts.get("case") == "sensitive":
            args += ["--case-sensitive"]
        if opts.get("case") == "insensitive":
            args += ["--case-insensitive"]
    if "dialect" in opts:
        args += ["--dialect", opts["dialect"]]
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if case["kind"] == "error":
        if r.returncode != 1:
            return f"expected exit 1 (compile error), got {r.returncode}; stdout: {r.stdout[:300]}"
        got = r.stderr
    else:
        if r.returncode != 0:
            return f"exit {r.returncode}: {r.stderr.strip()[:500]}"
        got = r.stdout
    got_lines = got.rstrip("\n").split("\n") if got.strip() else []
    if got_lines != case["expected"]:
        return "expected:\n  " + "\n  ".join(case["expected"]) + "\ngot:\n  " + "\n  ".join(got_lines)
    return None


LINEAGE = re.compile(r"\b(descendant|child|event)\s+of\b")


def replayable(case):
    opts = case["opts"]
    text = "\n".join(l for l in case["query"].split("\n") if not l.strip().startswith("//")).strip()
    return (case["kind"] == "query" and "id" in opts and "case" not in opts and "profile" not in opts
            and text.startswith("sequence") and "|" not in text and not LINEAGE.search(text))


def field_of(event, path):
    """The value of a dotted field in a nested JSON event (dotted keys accepted at any level)."""
    if event is None:
        return -1
    node = event
    parts = path.split(".")
    i = 0
    while i < len(parts):
        if not isinstance(node, dict):
            return None
        for j in range(len(parts), i, -1):  # the longest key that exists
            key = ".".join(parts[i:j])
            if key in node:
                node = node[key]
                i = j
                break
        else:
            return None
    return node


def render_id(v):
    if v is None:
        return "null"
    if isinstance(v, str):
        return v
    return json.dumps(v)


def run_replay(kestrel, data_dir, case, threads, backend="native"):
    opts = case["opts"]
    with tempfile.TemporaryDirectory() as tmp:
        rule = os.path.join(tmp, "golden.eql")
        with open(rule, "w", encoding="utf-8") as f:
            f.write(case["query"] + "\n")
        # Hunting keeps every partial match; so does the engine with no TTL.
        config = os.path.join(tmp, "engine.toml")
        with open(config, "w", encoding="utf-8") as f:
            f.write('[state]\nttl = "0"\n')
        args = [kestrel, "replay", "--rules", rule, "--threads", str(threads), "--config", config,
                "--backend", backend]
        for d in opts.get("data", "empty.ndjson").split(","):
            args += ["--input", os.path.join(data_dir, d)]
        if "dialect" in opts:
            args += ["--dialect", opts["dialect"]]
        r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return f"replay --threads {threads} --backend {backend}: exit {r.returncode}: {r.stderr.strip()[:500]}"
    got = []
    for line in r.stdout.splitlines():
        alert = json.loads(line)
        events = alert["kestrel"]["alert"]["events"]
        got.append(" ".join(render_id(field_of(e, opts["id"])) for e in events))
    if sorted(got) != sorted(case["expected"]):
        return (f"replay --threads {threads} --backend {backend}: expected (any order):\n  " + "\n  ".join(case["expected"]) +
                "\ngot:\n  " + "\n  ".join(got))
    return None


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    kestrel, data_dir = sys.argv[1], sys.argv[2]
    files = sys.argv[3:] or sorted(
        os.path.join(os.path.dirname(os.path.abspath(__file__)), f)
        for f in os.listdir(os.path.dirname(os.path.abspath(__file__))) if f.endswith(".test"))
    passed = failed = replayed = 0
    ran = {b: 0 for b in BACKENDS[1:]}
    for path in files:
        for case in parse(path):
            why = run(kestrel, data_dir, case)
            if why is None and case["kind"] == "query":
                for backend in BACKENDS[1:]:
                    other = run(kestrel, data_dir, case, backend)
                    ran[backend] += 1
                    if other is not None:
                        why = f"backend {backend}: {other}"
                        break
            if why is None and replayable(case):
                replayed += 1
                why = run_replay(kestrel, data_dir, case, 1) or run_replay(kestrel, data_dir, case, 2)
                for backend in BACKENDS[1:]:
                    why = why or run_replay(kestrel, data_dir, case, 1, backend)
            if why is None:
                passed += 1
            else:
                failed += 1
                print(f"FAIL {os.path.basename(path)}:{case['line']}: {case['query'][:120]}\n{why}\n")
    for backend in BACKENDS[1:]:
        print(f"backend {backend}: {ran[backend]} query cases ran and agreed")
    print(f"{passed} passed, {failed} failed ({replayed} sequence cases also through kestrel replay)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
