#!/usr/bin/env python3
"""Checks alerts against the attacks `kestrel gen --truth` put in a stream.

Usage: check_truth.py TRUTH ALERTS [--allow-extra]

Every attack must make each of its rules fire exactly once, with an alert whose events are all
the attack's own (by `event.sequence`), and no other alert may appear (unless --allow-extra,
for rule sets other than the bundled pack). Prints one line per problem and a last line
`truth: N attacks, N alerts expected, N matched, N missing, N duplicated, N unexpected`;
exits 1 when anything is missing, duplicated or unexpected.
"""
import collections
import json
import sys


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    allow_extra = "--allow-extra" in argv
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    truth = [json.loads(line) for line in open(args[0], encoding="utf-8") if line.strip()]
    owner = {}
    for index, attack in enumerate(truth):
        for position in attack["positions"]:
            owner[position] = index
    fired = collections.Counter()
    unexpected = []
    for number, line in enumerate(open(args[1], encoding="utf-8"), 1):
        if not line.strip():
            continue
        alert = json.loads(line)
        rule = alert["rule"]["id"]
        positions = [e["event"]["sequence"] for e in alert["kestrel"]["alert"].get("events", []) if e]
        attacks = {owner.get(p) for p in positions}
        if len(attacks) == 1 and None not in attacks and rule in truth[next(iter(attacks))]["rules"]:
            fired[(next(iter(attacks)), rule)] += 1
        else:
            unexpected.append((number, rule, positions))
    missing = duplicated = 0
    for index, attack in enumerate(truth):
        for rule in attack["rules"]:
            n = fired[(index, rule)]
            if n == 0:
                missing += 1
                print(f"missing: {rule} for {attack['scenario']} at events {attack['positions']}")
            elif n > 1:
                duplicated += 1
                print(f"duplicated: {rule} fired {n} times for {attack['scenario']} at events {attack['positions']}")
    if not allow_extra:
        for number, rule, positions in unexpected[:20]:
            print(f"unexpected: alert line {number}: {rule} on events {positions}")
    expected = sum(len(a["rules"]) for a in truth)
    extra = 0 if allow_extra else len(unexpected)
    print(f"truth: {len(truth)} attacks, {expected} alerts expected, {len(fired)} matched, {missing} missing, "
          f"{duplicated} duplicated, {extra} unexpected")
    return 1 if missing or duplicated or extra else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
