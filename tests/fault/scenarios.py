"""scenarios.py — the four fault scenarios of issue 11, bounded or long.

    scenarios.py SCENARIO [--flows N] [--seconds S] [--seed S] [--nodes N]
                 [--json FILE]

SCENARIO is crash_loop, pg_restart, sim_faults or multi_node. Each runs a
workload of N flows (half charge.flow, half dunning.flow, one customer
each) started evenly over the first 60 % of S seconds while its faults are
injected for S seconds; then faults stop (the sim's stay on in sim_faults),
every node is up, time moves on until the engine is quiet, and
faultcheck.verify checks the outcome. Exit status 0 only when nothing was
lost or duplicated and every check passed; the figures are printed as one
JSON object (and written to --json).

  crash_loop  one node, SIGKILLed at random moments (0.3-4 s apart) and
              restarted at once; recovery = kill -> first checkpoint of a
              flow the killed node owned.
  pg_restart  one node; PostgreSQL stopped with an immediate shutdown for
              1-4 s, every 2-5 s. During each outage GET /readyz must not
              answer 200 and must say why; after it 200 again. recovery =
              PostgreSQL back -> first commit; the node must stay alive.
  sim_faults  one node; stripe-sim answers 30 % 5xx, drops 5 % of
              connections, adds latency to payment calls with a tail beyond
              the Stripe steps' timeout (tightened to 2 s), duplicates 30 %
              and holds back 30 % of webhooks. recovery = longest time a Stripe step took
              from its first failed attempt to its last attempt.
  multi_node  2 or 3 nodes on one database, lease 2 s; every 2-5 s one is
              SIGKILLed (restarted 0.5-3 s later) or, one time in four,
              SIGSTOPped past its lease and then continued. Its flows must be
              claimed by another node within lease + claim interval + 4 s
              slack; recovery = kill -> first claim by another node.
"""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faultcheck import recovery, verify  # noqa: E402
from faultlib import BUILD, PGDEV, Failure, Stack, http  # noqa: E402

# Every /v1 call: 30 % 500s, 5 % dropped connections; the payment calls also
# get an exponential latency tail (mean 0.7 s), so about 6 % outlive the
# Stripe steps' timeout (tightened to 2 s). Webhooks: 30 % duplicated, 30 %
# held back behind later events.
_ERR = "5xx=0.3,drop=0.05"
SIM_FAULTS = ";".join([
    "latency=0-20,%s,webhook_dup=0.3,webhook_reorder=0.3" % _ERR,
    "/v1/payment_intents*:latency=0-20,latency_exp=700,%s" % _ERR,
    "/v1/invoices/*:latency=0-20,latency_exp=700,%s" % _ERR])
CLAIM_INTERVAL_S = 1.0
RECOVERY_SLACK_S = 4.0


def log_root():
    return os.path.join(BUILD, "test-logs", "fault")


def _drain_and_verify(st, res, drain_s):
    for i, p in enumerate(st.nodes):
        if p is None:
            st.start_node(i)
        elif p.poll() is not None:
            res["problems"].append("node %d exited by itself (status %s); see settled-%d.log"
                                   % (i, p.returncode, i))
            st.start_node(i)
    done, counts = st.drain(drain_s)
    st.pump_on = False
    t0 = time.time()
    while time.time() - t0 < 15:   # let in-flight steps land before reading
        if st.quiet()[1] is not None and st.quiet()[1][0] == 0:
            break
        time.sleep(0.3)
    http("POST", st.sim_url + "/_sim/faults", fields={"spec": ""})
    v = verify(st)
    res["problems"] = res.get("problems", []) + v.pop("problems")
    res.update(v)
    res["drained"] = done
    res["attempts"] = {r[0]: int(r[1]) for r in st.psql(
        "SELECT outcome, count(*) FROM task_attempts GROUP BY 1 ORDER BY 1")}
    return res


def _stop_and_scan(st, res):
    """After the figures: stop the nodes cleanly and look for crashes."""
    res["problems"] += st.stop_nodes()


def _run(name, flows, seconds, seed, inject, measure, logdir=None, drain_s=None, **stack_kw):
    logdir = logdir or os.path.join(log_root(), name)
    rnd = random.Random(seed)
    res = {"scenario": name, "seed": seed, "seconds": seconds, "faults": {}, "recoveries": [],
           "problems": []}
    t_start = time.time()
    with Stack(name, logdir, seed=seed, **stack_kw) as st:
        n_charge = flows // 2
        keys = st.load_book(n_charge, flows - n_charge)
        rnd.shuffle(keys)
        t_end = time.time() + seconds
        starter = st.start_all(keys, seconds * 0.6, t_end + 120)
        inject(st, rnd, t_end, res)
        starter.join()
        _drain_and_verify(st, res, drain_s or max(90, seconds))
        res["recoveries"] = [round(r, 3) if r is not None else None for r in measure(st, res)]
        _stop_and_scan(st, res)
    for k in [k for k in res if k.startswith("_")]:
        del res[k]
    res["wall_s"] = round(time.time() - t_start, 1)
    recs = [r for r in res["recoveries"] if r is not None]
    res["max_recovery_s"] = round(max(recs), 3) if recs else None
    res["faults_total"] = sum(v for v in res["faults"].values() if isinstance(v, int))
    return res


# ---------------------------------------------------------------- (1)
def _inject_crashes(st, rnd, t_end, res):
    kills = []
    while time.time() < t_end:
        time.sleep(rnd.uniform(0.3, 4.0))
        if st.nodes[0] is None or st.nodes[0].poll() is not None:
            res["problems"].append("node exited by itself; see settled-0.log")
            st.start_node(0, wait=False)
            continue
        kills.append(st.kill_node(0))
        st.start_node(0, wait=False)
    res["faults"]["sigkill"] = len(kills)
    res["_kills"] = kills


def crash_loop(flows=40, seconds=20, seed=1, logdir=None):
    def inject(st, rnd, t_end, res):
        _inject_crashes(st, rnd, t_end, res)
        _wait_start(st, 0)

    def measure(st, res):
        return [recovery(st, t, nid) for t, nid in res["_kills"] if nid is not None]
    return _run("crash_loop", flows, seconds, seed, inject, measure, logdir=logdir)


def _wait_start(st, i, timeout=30):
    """Wait until node i answers its HTTP port (it was started without waiting)."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if http("GET", "http://127.0.0.1:%d/healthz" % st.ports[i], timeout=2)[0] == 200:
            return
        time.sleep(0.1)
    raise Failure("node %d did not come back" % i)


# ---------------------------------------------------------------- (2)
def _readyz_all(st):
    return [http("GET", api + "/readyz", timeout=5) for api in st.live_api()]


def pg_restart(flows=40, seconds=20, seed=2, logdir=None):
    def inject(st, rnd, t_end, res):
        restarts, outage_polls, ups = 0, 0, []
        while time.time() < t_end:
            time.sleep(rnd.uniform(2.0, 5.0))
            out = subprocess.run([PGDEV, "stop", "--name", st.pgname, "--immediate"],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                raise Failure("pgdev stop --immediate failed: " + out.stderr.strip())
            st.log("PostgreSQL stopped (immediate)")
            down_until = time.time() + rnd.uniform(1.0, 4.0)
            while time.time() < down_until:
                for code, body in _readyz_all(st):
                    outage_polls += 1
                    text = json.dumps(body)
                    if code == 200 or "PostgreSQL" not in text:
                        res["problems"].append("readyz during the outage: %s %s" % (code, text))
                time.sleep(0.1)
            out = subprocess.run([PGDEV, "start", "--name", st.pgname],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                raise Failure("pgdev start failed: " + out.stderr.strip())
            t_up = time.time()
            st.log("PostgreSQL back")
            restarts += 1
            ready = None
            while time.time() - t_up < 30:
                if all(c == 200 for c, _ in _readyz_all(st)):
                    ready = time.time() - t_up
                    break
                time.sleep(0.05)
            if ready is None:
                res["problems"].append("readyz not 200 within 30 s after PostgreSQL came back")
            res.setdefault("readyz_recovery_s", []).append(round(ready or 30, 3))
            ups.append(t_up)
            for i, p in enumerate(st.nodes):
                if p is not None and p.poll() is not None:
                    res["problems"].append("node %d exited during the outage (status %s)"
                                           % (i, p.returncode))
                    st.start_node(i)
        res["faults"]["pg_immediate_restart"] = restarts
        res["readyz_polls_during_outage"] = outage_polls
        res["_ups"] = ups

    def measure(st, res):
        return [recovery(st, t, None) for t in res["_ups"]]
    return _run("pg_restart", flows, seconds, seed, inject, measure, logdir=logdir, durable=True)


# ---------------------------------------------------------------- (3)
def sim_faults(flows=40, seconds=20, seed=3, logdir=None):
    def inject(st, rnd, t_end, res):
        code, _ = http("POST", st.sim_url + "/_sim/faults", fields={"spec": SIM_FAULTS})
        if code != 200:
            raise Failure("stripe-sim refused the fault spec")
        st.log("sim faults on: " + SIM_FAULTS)
        while time.time() < t_end:
            time.sleep(0.2)

    def measure(st, res):
        # Wall time from the checkpoint that created a retried Stripe step to
        # the one that applied its result (the audit table's clock).
        rows = st.psql(
            "SELECT extract(epoch FROM b.at - a.at) FROM tasks t "
            "JOIN fault_audit a ON a.instance_id = t.instance_id AND a.new_seq = t.seq "
            " AND (a.old_seq IS NULL OR a.old_seq <> a.new_seq) "
            "JOIN fault_audit b ON b.instance_id = t.instance_id AND b.new_seq = t.seq + 1 "
            " AND b.old_seq = t.seq "
            "WHERE t.attempt > 1 AND t.activity LIKE 'stripe.%'")
        res["retried_stripe_steps"] = len(rows)
        sim = res["sim"]
        res["faults"].update({"5xx": sim["5xx"], "dropped": sim["drop"],
                              "webhook_dup": sim["webhook_dup"]})
        res["faults"]["client_timeouts"] = int(st.psql(
            "SELECT count(*) FROM task_attempts WHERE error ILIKE '%time%out%'")[0][0])
        return [float(r[0]) for r in rows]
    return _run("sim_faults", flows, seconds, seed, inject, measure, logdir=logdir,
                flow_timeout="2s", retry_per_tick=2)


# ---------------------------------------------------------------- (4)
def multi_node(flows=40, seconds=20, seed=4, nodes=2, logdir=None):
    def inject(st, rnd, t_end, res):
        kills, stalls = [], []
        while time.time() < t_end:
            time.sleep(rnd.uniform(2.0, 5.0))
            i = rnd.randrange(st.n_nodes)
            if st.nodes[i] is None:
                continue
            if st.nodes[i].poll() is not None:
                res["problems"].append("node %d exited by itself (status %s); see settled-%d.log"
                                       % (i, st.nodes[i].returncode, i))
                st.start_node(i)
                continue
            if rnd.random() < 0.25:
                t, nid = st.kill_node(i, signal.SIGSTOP)
                time.sleep(st.lease_ttl_ms / 1000.0 * 1.5 + CLAIM_INTERVAL_S)
                try:
                    os.kill(st.nodes[i].pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass  # found dead by the next round or the drain
                st.log("SIGCONT to node %d" % i)
                stalls.append((t, nid))
            else:
                kills.append(st.kill_node(i))
                threading.Timer(rnd.uniform(0.5, 3.0), st.start_node, (i, False)).start()
        time.sleep(3.5)
        res["faults"]["sigkill"] = len(kills)
        res["faults"]["sigstop_past_lease"] = len(stalls)
        res["_kills"] = kills + stalls

    def measure(st, res):
        out = []
        bound = st.lease_ttl_ms / 1000.0 + CLAIM_INTERVAL_S + RECOVERY_SLACK_S
        for t, nid in res["_kills"]:
            if nid is None:
                continue
            r = recovery(st, t, nid, claim=True)
            if r is not None and r > bound:
                res["problems"].append("node %d's flows were claimed %.1f s after it was "
                                       "stopped (bound %.1f s)" % (nid, r, bound))
            out.append(r)
        return out
    name = "multi_node_%d" % nodes
    return _run(name, flows, seconds, seed, inject, measure, logdir=logdir, nodes=nodes)


# ---------------------------------------------------------------- entry
def run(name, flows, seconds, seed, nodes=2, logdir=None):
    fn = {"crash_loop": crash_loop, "pg_restart": pg_restart, "sim_faults": sim_faults,
          "multi_node": multi_node}[name]
    kw = {"nodes": nodes} if name == "multi_node" else {}
    return fn(flows=flows, seconds=seconds, seed=seed, logdir=logdir, **kw)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario", choices=["crash_loop", "pg_restart", "sim_faults", "multi_node"])
    ap.add_argument("--flows", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--nodes", type=int, default=2)
    ap.add_argument("--json")
    a = ap.parse_args()
    try:
        res = run(a.scenario, a.flows, a.seconds, a.seed, a.nodes)
    except Failure as e:
        print("fault: %s: %s" % (a.scenario, e), file=sys.stderr)
        return 2
    print(json.dumps(res, indent=1, sort_keys=True))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1, sort_keys=True)
    bad = res["lost"] or res["duplicates"] or res["problems"]
    for p in res["problems"][:30]:
        print("PROBLEM: " + p, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
