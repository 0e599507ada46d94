#!/usr/bin/python3
"""alternate.py — run one benchmark against two (or more) builds, turn about.

This machine is shared and noisy: two figures taken minutes apart compare
the neighbours' load as much as the code. So this runs the same command
against each build in turn, round after round (A B A B ...), picks one
figure out of each run's output with a regular expression, and prints
every run and then the median per build and each build's median as a
ratio of the first one's.

The command is a template: {build} stands for the build folder. Example,
old and new engine side by side on the store's group commit:

  tools/bench/alternate.py --rounds 5 --metric '([\\d.]+) durable steps/s' \\
      /tmp/old-build build -- \\
      '{build}/tools/bench/steps/bench_steps -n 20000 -k 5 --skip-unbatched'

Several --metric options may be given; each is reported on its own. A run
that exits non-zero or prints no match stops the comparison with its
output, so a broken build never passes for a slow one.
"""
import argparse
import re
import shlex
import statistics
import subprocess
import sys


def one_run(template, build, metrics, timeout):
    cmd = shlex.split(template.replace("{build}", build))
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        sys.exit(f"alternate.py: {' '.join(cmd)} ran past {timeout} s; "
                 "give a larger --timeout or a smaller benchmark")
    text = out.stdout + out.stderr
    values = []
    for m in metrics:
        hit = m.search(text)
        if out.returncode != 0 or hit is None:
            sys.exit(f"alternate.py: {' '.join(cmd)} failed (exit {out.returncode}) "
                     f"or printed nothing matching {m.pattern!r}:\n{text}")
        values.append(float(hit.group(1)))
    return values


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        usage="alternate.py [--rounds N] --metric REGEX [--metric REGEX ...] "
              "BUILD [BUILD ...] -- COMMAND_TEMPLATE")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--metric", action="append", required=True,
                    help="regular expression whose first group is the figure")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per run")
    ap.add_argument("builds", nargs="+")
    argv = sys.argv[1:]
    if "--" not in argv:
        ap.error("put the command template after --")
    cut = argv.index("--")
    args = ap.parse_args(argv[:cut])
    template = " ".join(argv[cut + 1:])
    if "{build}" not in template:
        ap.error("the command template must contain {build}")
    metrics = [re.compile(m) for m in args.metric]
    runs = {b: [] for b in args.builds}
    for r in range(args.rounds):
        for b in args.builds:
            v = one_run(template, b, metrics, args.timeout)
            runs[b].append(v)
            shown = ", ".join(f"{x:g}" for x in v)
            print(f"round {r + 1} {b}: {shown}", flush=True)
    print(f"\nmedians over {args.rounds} alternating rounds:")
    base = None
    for b in args.builds:
        meds = [statistics.median(v[i] for v in runs[b]) for i in range(len(metrics))]
        if base is None:
            base = meds
        ratio = ", ".join(f"{m / bm:.2f}x" if bm else "-" for m, bm in zip(meds, base))
        shown = ", ".join(f"{m:g}" for m in meds)
        print(f"  {b}: {shown}   (vs {args.builds[0]}: {ratio})")
    for i, m in enumerate(metrics):
        print(f"  metric {i + 1}: {m.pattern}")


if __name__ == "__main__":
    main()
