#!/usr/bin/python3
"""compare_e2e.py — two settled binaries through bench_e2e, turn about.

Figures taken minutes apart on a shared machine compare the neighbours'
load as much as the code, so this runs bench_e2e with the same options
against each binary in turn, round after round (old new old new ...), on
the same PostgreSQL cluster, and prints each round's figures, then per
figure the median of each binary and the ratio of each to the first
binary's median. It reads bench_e2e's "figure NAME VALUE" lines; a figure
a binary cannot produce (no batch endpoint) shows as "-". A run that fails
stops the comparison with its output: a broken binary never passes for a
slow one.

Usage: compare_e2e.py [--bench PATH] [--rounds N] [--timeout S]
                      OLD_SETTLED NEW_SETTLED [...] [-- BENCH_E2E_OPTIONS...]
Example (the wake target: 5,000 sleepers, 1,000,000 others asleep):
  tools/bench/e2e/compare_e2e.py /work/base/build/engine/daemon/settled \\
      build/engine/daemon/settled -- --phase wake --asleep 1000000
"""
import argparse
import re
import statistics
import subprocess
import sys

FIGURE = re.compile(r"^figure (\S+) (-?[\d.]+)$", re.M)


def one_run(args, settled, extra):
    cmd = [args.bench, "--settled", settled] + extra
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        sys.exit(f"compare_e2e.py: {' '.join(cmd)} ran past {args.timeout} s")
    if out.returncode != 0:
        sys.exit(f"compare_e2e.py: {' '.join(cmd)} failed (exit {out.returncode}):\n"
                 f"{out.stdout}{out.stderr}")
    figs = {m.group(1): float(m.group(2)) for m in FIGURE.finditer(out.stdout)}
    if not figs:
        sys.exit(f"compare_e2e.py: {' '.join(cmd)} printed no figure:\n{out.stdout}")
    notes = [l for l in out.stdout.splitlines() if "not supported" in l]
    return figs, notes


def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", default="build/tools/bench/e2e/bench_e2e")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    ap.add_argument("binaries", nargs="+")
    args = ap.parse_args(argv)
    runs = {b: [] for b in args.binaries}
    names = []
    for r in range(args.rounds):
        for b in args.binaries:
            figs, notes = one_run(args, b, extra)
            runs[b].append(figs)
            names += [n for n in figs if n not in names]
            shown = ", ".join(f"{n} {v:g}" for n, v in figs.items())
            print(f"round {r + 1} {b}: {shown}", flush=True)
            for n in notes:
                print(f"  ({n})", flush=True)
    print(f"\nmedians over {args.rounds} alternating rounds; in brackets each median "
          f"over binary 1's:")
    for i, b in enumerate(args.binaries, 1):
        print(f"  binary {i}: {b}")
    width = max(len(n) for n in names)
    print(f"  {'figure':{width}}" + "".join(f"{'binary ' + str(i):>22}"
                                        for i in range(1, len(args.binaries) + 1)))
    for n in names:
        meds = []
        for b in args.binaries:
            vals = [f[n] for f in runs[b] if n in f]
            meds.append(statistics.median(vals) if vals else None)
        cells = []
        for m in meds:
            if m is None:
                cells.append(f"{'-':>22}")
            elif meds[0]:
                cells.append(f"{m:>12.1f} ({m / meds[0]:5.2f}x)")
            else:
                cells.append(f"{m:>22.1f}")
        print(f"  {n:{width}}" + "".join(cells))

if __name__ == "__main__":
    main()
