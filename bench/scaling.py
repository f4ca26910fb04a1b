#!/usr/bin/env python3
"""Kestrel's figures from kestrel-bench, as markdown: every workload, and how the cost grows
with rules, join keys and event rate.

Usage: bench/scaling.py [--bench build/bench/kestrel-bench] [--events N] [--update docs/performance.md]

Runs every kestrel-bench workload (N events each, default 500000) and prints a table of them
all, then three tables: cost per event as single-event rules grow (10, 100, 1 000), as sequence
rules and their join keys grow (10 / 50 rules, 1 K / 1 M keys), and the share of one core each
configuration needs at 1 k, 10 k and 100 k events per second. With --update, the first table
replaces what sits between `<!-- workloads:begin -->` and `<!-- workloads:end -->` in FILE, the
others what sits between `<!-- scaling:begin -->` and `<!-- scaling:end -->`.
"""
import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time


def run(bench, events):
    done = subprocess.run([bench, "--events", str(events)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True)
    results = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0:
        bad = [r["workload"] for r in results if "error" in r or not r.get("truth", {}).get("correct", True)]
        sys.exit(f"kestrel-bench failed: {', '.join(bad) or 'exit ' + str(done.returncode)}")
    return results


def workloads_table(results, events):
    lines = [f"`bench/scaling.py --events {events}` ({machine()}, {time.strftime('%Y-%m-%d')}):", "",
             "| workload | events | events/s | p50 | p99 | peak RSS | notes |", "|---|---|---|---|---|---|---|"]
    for r in results:
        if "skipped" in r:
            lines.append(f"| `{r['workload']}` | skipped: {r['skipped']} | | | | | |")
            continue
        notes = []
        if "mb_per_s" in r:
            notes.append(f"{r['mb_per_s']:.0f} MB/s")
        if "evaluations_per_event" in r:
            notes.append(f"{r['evaluations_per_event']:.2f} rule evaluations per event")
        if "state_peak_entries" in r:
            notes.append(f"state peak {r['state_peak_entries']:,} entries / {r['state_peak_bytes'] / 2**20:.0f} MiB, "
                         f"{r['state_evicted']:,} evicted")
        if "truth" in r:
            t = r["truth"]
            notes.append(f"alerts {'right' if t['correct'] else 'WRONG'}: {t['expected']} expected over {t['attacks']} attacks")
        if "ratio" in r:
            notes.append(f"{r['ratio']:.3f}× the bare workload's wall time (bpftrace counting: {r['bpftrace_ratio']:.3f}×), "
                         f"{r.get('lost', 0)} records lost")
        p50 = f"{r['p50_latency_ns']:.0f} ns" if "p50_latency_ns" in r else "-"
        p99 = f"{r['p99_latency_ns']:.0f} ns" if "p99_latency_ns" in r else "-"
        lines.append(f"| `{r['workload']}` | {r['events']:,} | {rate(r['events_per_s'])} | {p50} | {p99} | "
                     f"{r['peak_rss_bytes'] / 2**20:.0f} MiB | {'; '.join(notes)} |")
    return "\n".join(lines) + "\n"


def rate(v):
    return f"{v / 1e6:.2f} M" if v >= 1e6 else f"{v / 1e3:.0f} k" if v >= 1e3 else f"{v:.0f}"


def machine():
    cpu = ""
    try:
        cpu = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read()).group(1).strip()
    except (OSError, AttributeError):
        pass
    return f"{os.cpu_count()} cores, {cpu or platform.machine()}"


def ns_per_event(r):
    return 1e9 / r["events_per_s"]


def share(rate, r):
    pct = 100.0 * rate / r["events_per_s"]
    return f"{pct:.1f} %" if pct < 100 else f"{pct / 100:.1f} cores"


def tables(results, events):
    by = {r["workload"]: r for r in results}
    lines = [f"From the same run: one engine on one core; generated streams of {events:,} events.", ""]
    lines += ["**Single-event rules** (realistic stream, events in memory):", "",
              "| rules | events/s | ns/event | p50 | p99 | rule evaluations per event | peak RSS |",
              "|---|---|---|---|---|---|---|"]
    for n in (10, 100, 1000):
        r = by.get(f"rules.single.{n}")
        if r is None or "events_per_s" not in r:
            continue
        lines.append(f"| {n} | {r['events_per_s'] / 1e6:.2f} M | {ns_per_event(r):.0f} | {r['p50_latency_ns']:.0f} ns | "
                     f"{r['p99_latency_ns']:.0f} ns | {r['evaluations_per_event']:.2f} | {r['peak_rss_bytes'] / 2**20:.0f} MiB |")
    lines += ["", "**Sequence rules** (adversarial stream: first stages that never complete, over K join keys; "
              "decoding the .klog included):", "",
              "| rules | keys | events/s | ns/event | p99 | state peak entries | state peak MiB | evicted | peak RSS |",
              "|---|---|---|---|---|---|---|---|---|"]
    for n in (10, 50):
        for k in ("1k", "1m"):
            r = by.get(f"seq.{n}.keys{k}")
            if r is None or "events_per_s" not in r:
                continue
            lines.append(f"| {n} | {k.upper()} | {r['events_per_s'] / 1e6:.2f} M | {ns_per_event(r):.0f} | "
                         f"{r['p99_latency_ns']:.0f} ns | {r['state_peak_entries']:,} | "
                         f"{r['state_peak_bytes'] / 2**20:.0f} | {r['state_evicted']:,} | {r['peak_rss_bytes'] / 2**20:.0f} MiB |")
    lines += ["", "**Event rate**: the share of one core each configuration needs (rate / throughput):", "",
              "| workload | 1 k events/s | 10 k events/s | 100 k events/s |", "|---|---|---|---|"]
    for r in results:
        if "events_per_s" in r and (r["workload"].startswith("rules.") or r["workload"].startswith("seq.")):
            lines.append(f"| `{r['workload']}` | {share(1e3, r)} | {share(1e4, r)} | {share(1e5, r)} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--bench", default=os.path.join(here, "..", "build", "bench", "kestrel-bench"))
    parser.add_argument("--events", type=int, default=500000)
    parser.add_argument("--update", metavar="FILE")
    args = parser.parse_args()
    results = run(args.bench, args.events)
    parts = {"workloads": workloads_table(results, args.events), "scaling": tables(results, args.events)}
    if not args.update:
        sys.stdout.write(parts["workloads"] + "\n" + parts["scaling"])
        return 0
    doc = open(args.update, encoding="utf-8").read()
    for name, text in parts.items():
        begin, end = f"<!-- {name}:begin -->\n", f"<!-- {name}:end -->"
        if begin not in doc or end not in doc:
            print(f"{args.update}: no {begin.strip()} ... {end} markers", file=sys.stderr)
            return 1
        head, rest = doc.split(begin, 1)
        _, tail = rest.split(end, 1)
        doc = head + begin + text + end + tail
    open(args.update, "w", encoding="utf-8").write(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
