#!/usr/bin/python3
"""compare.py — bench two (or more) stripe-sim binaries side by side.

On a shared, noisy machine a figure measured minutes apart says little, so
this runs st-bench-sim against each binary in turn, round after round
(A B A B ...), with the same client and options, and prints every run and
then the median per binary of req/s, of CPU microseconds per request
(sim, client, total) and of the share of one core the sim got. CPU per
request moves far less with the neighbours' load than req/s does.

Usage: compare.py --bench ST-BENCH-SIM [--rounds N] [--seconds S]
                  [--connections N] [--pipeline D] [--sim-threads N] SIM [SIM ...]
"""
import argparse
import re
import statistics
import subprocess
import sys

RATE = re.compile(r"= (\d+) req/s \(200: (\d+), 402: (\d+), other: (\d+)\)")
CPU = re.compile(r"client ([\d.]+) us/request.*sim ([\d.]+) us/request \((\d+)% of a core\)"
                 r".*total ([\d.]+) us/request")


def one_run(args, sim):
    cmd = [args.bench, "--sim", sim, "--seconds", str(args.seconds),
           "--connections", str(args.connections), "--pipeline", str(args.pipeline),
           "--sim-threads", str(args.sim_threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.seconds + 60)
    rate, cpu = RATE.search(out.stdout), CPU.search(out.stdout)
    if out.returncode != 0 or not rate or not cpu:
        sys.exit(f"compare.py: {' '.join(cmd)} failed (exit {out.returncode}):\n"
                 f"{out.stdout}{out.stderr}")
    if int(rate.group(4)) != 0:
        sys.exit(f"compare.py: {sim} answered with unexpected statuses:\n{out.stdout}")
    return {"rps": int(rate.group(1)), "client": float(cpu.group(1)),
            "sim": float(cpu.group(2)), "core": int(cpu.group(3)),
            "total": float(cpu.group(4))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--pipeline", type=int, default=1)
    ap.add_argument("--sim-threads", type=int, default=2)
    ap.add_argument("sims", nargs="+")
    args = ap.parse_args()
    runs = {s: [] for s in args.sims}
    for r in range(args.rounds):
        for s in args.sims:
            m = one_run(args, s)
            runs[s].append(m)
            print(f"round {r + 1} {s}: {m['rps']} req/s, us/request sim {m['sim']:.1f} "
                  f"client {m['client']:.1f} total {m['total']:.1f}; "
                  f"sim used {m['core']}% of a core", flush=True)
    print(f"\nmedians over {args.rounds} rounds ({args.seconds:g} s each, "
          f"{args.connections} connections, pipeline {args.pipeline}, "
          f"{args.sim_threads} sim threads):")
    for s, ms in runs.items():
        med = {k: statistics.median(m[k] for m in ms) for k in ms[0]}
        print(f"  {s}: {med['rps']:.0f} req/s (min {min(m['rps'] for m in ms)}, "
              f"max {max(m['rps'] for m in ms)}); us/request sim {med['sim']:.1f}, "
              f"client {med['client']:.1f}, total {med['total']:.1f}; "
              f"sim used {med['core']:.0f}% of a core")


if __name__ == "__main__":
    main()
