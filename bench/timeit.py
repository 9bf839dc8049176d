#!/usr/bin/env python3
"""Fallback for hyperfine: times a shell command and writes hyperfine-shaped JSON.

    python3 bench/timeit.py --runs 5 --warmup 1 [--prepare CMD] --export-json OUT -- CMD
"""

import argparse
import json
import statistics
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--prepare", default=None)
    ap.add_argument("--export-json", required=True)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    command = " ".join(c for c in args.command if c != "--")
    times = []
    for i in range(args.warmup + args.runs):
        if args.prepare:
            subprocess.run(args.prepare, shell=True, check=True)
        start = time.perf_counter()
        subprocess.run(command, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elapsed = time.perf_counter() - start
        if i >= args.warmup:
            times.append(elapsed)
    result = {
        "command": command,
        "mean": statistics.mean(times),
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "times": times,
    }
    with open(args.export_json, "w") as f:
        json.dump({"results": [result]}, f, indent=2)
    print("%-60s median %.3f s (min %.3f, max %.3f)" % (command[:60], result["median"], result["min"], result["max"]))


if __name__ == "__main__":
    sys.exit(main())
