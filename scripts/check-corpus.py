#!/usr/bin/env python3
"""Development check: every EQL query of Elastic's public Linux rules must compile.

Reads ../shared/corpus/elastic-linux-eql-rules.jsonl (not part of this repository) and runs
`kestrel explain` on each query. Prints the failures and a summary; exits 1 if any failed.

    scripts/check-corpus.py [build/kestrel] [path/to/elastic-linux-eql-rules.jsonl]
"""
import json
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
kestrel = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "build", "kestrel")
corpus = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
    here, "..", "..", "shared", "corpus", "elastic-linux-eql-rules.jsonl")

failed = 0
total = 0
with open(corpus, encoding="utf-8") as f:
    for line in f:
        rule = json.loads(line)
        total += 1
        r = subprocess.run([kestrel, "explain", rule["query"]], capture_output=True, text=True)
        if r.returncode != 0:
            failed += 1
            print(f"--- {rule['file']}\n{r.stderr}")
print(f"{total - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
