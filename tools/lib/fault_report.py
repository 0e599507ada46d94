"""fault_report.py — the fault suite's long forms and their table (tools/fault-report).

Runs the scenarios of tests/fault/scenarios.py round after round (crash
loop, PostgreSQL restarts, stripe-sim faults, two nodes, three nodes; a new
seed each round) until the time budget is spent, every scenario at least
once, then prints one line per scenario:

  scenario | rounds | flows | faults injected | lost | duplicate effects | max recovery

and the breakdown of the faults. Exit status 1 when anything was lost or
duplicated or a check failed (the problems are listed), 0 otherwise.
"""
import argparse
import json
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "fault"))
import scenarios  # noqa: E402
from faultlib import Failure  # noqa: E402

PLAN = [("crash_loop", "crash_loop", {}), ("pg_restart", "pg_restart", {}),
        ("sim_faults", "sim_faults", {}), ("multi_node (2 nodes)", "multi_node", {"nodes": 2}),
        ("multi_node (3 nodes)", "multi_node", {"nodes": 3})]


def add(total, res):
    total["rounds"] += 1
    total["flows"] += res["flows"]
    total["lost"] += res["lost"]
    total["duplicates"] += res["duplicates"]
    total["needs_operator"] += res["needs_operator"]
    for k, v in res["faults"].items():
        total["faults"][k] = total["faults"].get(k, 0) + v
    total["faults_total"] += res["faults_total"]
    if res["max_recovery_s"] is not None:
        total["max_recovery_s"] = max(total["max_recovery_s"] or 0, res["max_recovery_s"])
    total["problems"] += ["round %d: %s" % (total["rounds"], p) for p in res["problems"]]
    total["wall_s"] += res["wall_s"]


def table(totals):
    head = ("scenario", "rounds", "flows", "faults injected", "lost", "duplicate effects",
            "max recovery")
    rows = [head]
    for name, t in totals.items():
        rec = "%.2f s" % t["max_recovery_s"] if t["max_recovery_s"] is not None else "-"
        rows.append((name, str(t["rounds"]), str(t["flows"]), str(t["faults_total"]),
                     str(t["lost"]), str(t["duplicates"]), rec))
    w = [max(len(r[i]) for r in rows) for i in range(len(head))]
    out = []
    for n, r in enumerate(rows):
        out.append(" | ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i])
                              for i, c in enumerate(r)))
        if n == 0:
            out.append("-+-".join("-" * x for x in w))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(prog="tools/fault-report", description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--flows", type=int, default=100, help="flows per round (default 100)")
    ap.add_argument("--seconds", type=float, default=60,
                    help="seconds of faults per round (default 60)")
    ap.add_argument("--json", help="also write the totals and every round as JSON")
    a = ap.parse_args()
    t0 = time.time()
    budget = a.minutes * 60
    totals = {name: {"rounds": 0, "flows": 0, "lost": 0, "duplicates": 0, "needs_operator": 0,
                     "faults": {}, "faults_total": 0, "max_recovery_s": None, "problems": [],
                     "wall_s": 0.0} for name, _, _ in PLAN}
    rounds, n, errors = [], 0, []
    while True:
        name, fn, kw = PLAN[n % len(PLAN)]
        done_once = n >= len(PLAN)
        spent = time.time() - t0
        # a round takes its seconds plus setup and drain: about twice as long
        est = max(totals[name]["wall_s"] / max(totals[name]["rounds"], 1), 2 * a.seconds)
        if done_once and spent + est > budget:
            break
        seed = a.seed * 1000 + n
        print("[%6.0f s] round %d: %s, %d flows, %.0f s of faults, seed %d"
              % (spent, n + 1, name, a.flows, a.seconds, seed), flush=True)
        logdir = os.path.join(scenarios.log_root(), "report",
                              "%02d-%s" % (n + 1, fn + str(kw.get("nodes", ""))))
        try:
            res = scenarios.run(fn, a.flows, a.seconds, seed, kw.get("nodes", 2), logdir=logdir)
        except Failure as e:
            errors.append("%s round %d: harness failure: %s" % (name, n + 1, e))
            print("  harness failure: %s" % e, flush=True)
            n += 1
            continue
        add(totals[name], res)
        rounds.append(dict(res, name=name))
        print("  flows %d, faults %d, lost %d, duplicates %d, max recovery %s s, "
              "problems %d, %.0f s" % (res["flows"], res["faults_total"], res["lost"],
                                       res["duplicates"], res["max_recovery_s"],
                                       len(res["problems"]), res["wall_s"]), flush=True)
        n += 1
    print()
    print("fault report: %.1f minutes, seed %d, %d flows and %.0f s of faults per round"
          % ((time.time() - t0) / 60, a.seed, a.flows, a.seconds))
    print()
    print(table(totals))
    print()
    for name, t in totals.items():
        print("%-22s %s" % (name + ":", ", ".join("%s %d" % kv for kv in
                                                  sorted(t["faults"].items()))))
    problems = errors + ["%s %s" % (name, p) for name, t in totals.items()
                         for p in t["problems"]]
    for p in problems[:50]:
        print("PROBLEM: " + p)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"minutes": a.minutes, "seed": a.seed, "totals": totals,
                       "rounds": rounds, "errors": errors}, f, indent=1, sort_keys=True)
    bad = any(t["lost"] or t["duplicates"] for t in totals.values()) or problems
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
