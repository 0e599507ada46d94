"""faultcheck.py — what the fault suite checks once a stack is quiet.

verify(stack) reads PostgreSQL, stripe-sim and the ERP sink and returns a
dict: flows, lost, duplicates, needs_operator, waiting, fault counts seen by
the sim, and `problems` (one line each; empty means every check passed).
recovery(stack, t, node_id) measures how long after wall time t the first
checkpoint of an instance that node owned was committed.

Definitions (docs/fault-testing.md):
  lost       a started flow with no instance, an instance `running` or
             waiting with nothing that explains it once the engine is
             quiet, or a flow whose end contradicts the sim (paid there,
             not paid here, or the reverse);
  duplicate  a second money movement under one idempotency key, a second
             succeeded charge for one customer (one flow per customer), a
             second ERP posting for one invoice/order, or a history/audit
             checkpoint applied twice.
"""
from faultlib import http


def _pages(stack, path):
    """Every object of a Stripe list endpoint of the sim."""
    out, after = [], None
    while True:
        url = stack.sim_url + path + "?limit=100" + ("&starting_after=" + after if after else "")
        code, page = http("GET", url, headers=stack.auth(), timeout=60)
        if code != 200:
            raise RuntimeError("stripe-sim %s answered %s" % (path, code))
        out += page["data"]
        if not page.get("has_more"):
            return out
        after = page["data"][-1]["id"]


def sim_faults(stack):
    """Faults as the sim saw them: its request log and webhook counters."""
    counts = {"5xx": 0, "429": 0, "drop": 0}
    with open(stack.logdir + "/stripe-sim.log", errors="replace") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and parts[0] == "stripe-sim:" and parts[2].startswith("/v1"):
                st = parts[3]
                if st == "0":
                    counts["drop"] += 1
                elif st == "429":
                    counts["429"] += 1
                elif st.startswith("5"):
                    counts["5xx"] += 1
    code, hooks = http("GET", stack.sim_url + "/_sim/webhooks")
    if code == 200:
        stored = stack.psql("SELECT count(*) FROM webhook_events")[0][0]
        # One endpoint per node gets every event; a node keeps one row per event.
        counts["webhook_dup"] = max(0, hooks["delivered"] - int(stored) * stack.n_nodes)
        counts["webhook_failed"] = hooks["failed_attempts"]
    return counts


def _instances(stack, res):
    rows = stack.psql("SELECT business_key, flow, status, state_name, seq, "
                      "coalesce(wait_reason, ''), wake_at IS NOT NULL, id, EXISTS (SELECT 1 FROM tasks t "
                      "WHERE t.instance_id = i.id AND t.status = 'pending' AND "
                      "settle_us(t.not_before) > (SELECT now_us FROM settle_clock)) "
                      "FROM instances i")
    by_key = {r[0]: r for r in rows}
    for key in sorted(stack.started):
        r = by_key.get(key)
        if r is None:
            res["lost"] += 1
            res["problems"].append("%s: started but no instance" % key)
            continue
        status, reason, timer = r[2], r[5], r[6] == "t"
        if status in ("completed", "cancelled"):
            continue
        if status == "failed" and reason:
            res["needs_operator"] += 1
            last = stack.psql("SELECT activity, attempt, coalesce(last_error, '') FROM tasks "
                              "WHERE instance_id = '%s' ORDER BY seq DESC LIMIT 1" % r[7])
            res.setdefault("operator_reasons", []).append(
                "%s: %s; last task %s" % (key, reason, " ".join(last[0]) if last else "none"))
        elif (status == "waiting" and (timer or reason)) or (status == "running"
                                                              and r[8] == "t"):
            res["waiting"] += 1
        else:
            res["lost"] += 1
            res["problems"].append("%s (%s): %s in %s with nothing scheduled or said "
                                   "(a running flow counts only with a retry still ahead)"
                                   % (key, r[7], status, r[3]))
    not_started = set(stack.flows) - stack.started
    if not_started:
        res["problems"].append("%d flow(s) could not be started, e.g. %s"
                               % (len(not_started), sorted(not_started)[0]))
    return by_key


def _history(stack, res):
    rows = stack.psql(
        "SELECT i.business_key, i.seq, h.n, h.d, h.lo, h.hi, h.pairs FROM instances i LEFT JOIN "
        "(SELECT instance_id, count(*) n, count(DISTINCT seq) d, min(seq) lo, max(seq) hi, "
        " count(DISTINCT (seq, kind)) pairs FROM history GROUP BY 1) h ON h.instance_id = i.id "
        "WHERE h.n IS NULL OR h.lo <> 0 OR h.hi <> i.seq OR h.d <> i.seq + 1 OR h.pairs <> h.n")
    for r in rows:
        res["problems"].append("%s: history not gapless (seq %s; rows %s, distinct seq %s, "
                               "min %s, max %s, distinct (seq,kind) %s)" % tuple(r))
        if r[6] and r[2] and r[6] != r[2]:
            res["duplicates"] += int(r[2]) - int(r[6])


def _audit(stack, res):
    """Checkpoints keep owner and epoch and move seq by one; each
    (instance, epoch) has one owner; a seq is reached once."""
    bad = stack.psql(
        "SELECT instance_id, new_seq, old_seq, old_owner, new_owner, old_epoch, new_epoch "
        "FROM fault_audit WHERE old_seq IS NOT NULL AND new_seq <> old_seq "
        "AND (new_seq <> old_seq + 1 OR old_owner IS DISTINCT FROM new_owner "
        "     OR old_epoch <> new_epoch) LIMIT 5")
    for r in bad:
        res["problems"].append("instance %s: checkpoint to seq %s from %s changed owner %s->%s "
                               "or epoch %s->%s" % tuple(r))
    two = stack.psql(
        "SELECT instance_id, new_epoch, count(DISTINCT new_owner) FROM fault_audit "
        "WHERE old_seq IS NOT NULL AND new_seq <> old_seq GROUP BY 1, 2 "
        "HAVING count(DISTINCT new_owner) > 1 LIMIT 5")
    for r in two:
        res["duplicates"] += 1
        res["problems"].append("instance %s: epoch %s advanced by %s nodes" % tuple(r))
    twice = stack.psql(
        "SELECT instance_id, new_seq, count(*) FROM fault_audit WHERE old_seq IS NULL "
        "OR new_seq <> old_seq GROUP BY 1, 2 HAVING count(*) > 1 LIMIT 5")
    for r in twice:
        res["duplicates"] += 1
        res["problems"].append("instance %s: seq %s committed %s times" % tuple(r))
    back = stack.psql(
        "SELECT instance_id, old_epoch, new_epoch FROM fault_audit "
        "WHERE old_seq IS NOT NULL AND new_epoch < old_epoch LIMIT 5")
    for r in back:
        res["problems"].append("instance %s: lease epoch went back %s -> %s" % tuple(r))
    n = stack.psql("SELECT count(*) FILTER (WHERE old_seq IS NULL OR new_seq <> old_seq), "
                   "count(*) FILTER (WHERE new_epoch <> old_epoch) FROM fault_audit")[0]
    res["checkpoints"], res["claims"] = int(n[0]), int(n[1])


def _money(stack, res, by_key):
    code, eff = http("GET", stack.sim_url + "/_sim/effects?limit=100000000", timeout=120)
    if code != 200:
        raise RuntimeError("stripe-sim /_sim/effects answered %s" % code)
    per_key = {}
    for e in eff["effects"]:
        k = e.get("idempotency_key")
        if k:
            per_key[k] = per_key.get(k, 0) + 1
    for k, n in per_key.items():
        if n > 1:
            res["duplicates"] += n - 1
            res["problems"].append("idempotency key %s: %d money movements" % (k, n))
    res["money_movements"] = len(eff["effects"])
    ok_by_customer = {}
    for ch in _pages(stack, "/v1/charges"):
        if ch.get("status") == "succeeded":
            ok_by_customer[ch["customer"]] = ok_by_customer.get(ch["customer"], 0) + 1
    invoices = {inv["id"]: inv["status"] for inv in _pages(stack, "/v1/invoices")}
    for cus, n in ok_by_customer.items():
        if n > 1:
            res["duplicates"] += n - 1
            res["problems"].append("customer %s charged %d times" % (cus, n))
    for (path, ref), n in stack.erp.state["refs"].items():
        if n > 1:
            res["duplicates"] += n - 1
            res["problems"].append("ERP %s %s posted %d times" % (path, ref, n))
    for key, f in stack.flows.items():
        r = by_key.get(key)
        if r is None or r[2] not in ("completed", "failed"):
            continue
        charged = ok_by_customer.get(f["customer"], 0) > 0
        if f["kind"] == "charge":
            agree = {"paid": charged, "not_paid": not charged}.get(r[3], True)
        else:
            inv = invoices.get(f["invoice"])
            agree = {"done": inv == "paid", "lost": inv == "void"}.get(r[3], True)
        if not agree:
            res["lost"] += 1
            res["problems"].append("%s ended %s but the sim says charged=%s invoice=%s"
                                   % (key, r[3], charged, invoices.get(f["invoice"])))


def verify(stack):
    res = {"flows": len(stack.started), "lost": 0, "duplicates": 0, "needs_operator": 0,
           "waiting": 0, "problems": []}
    by_key = _instances(stack, res)
    _history(stack, res)
    _audit(stack, res)
    _money(stack, res, by_key)
    res["sim"] = sim_faults(stack)
    ends = stack.psql("SELECT flow, state_name, count(*) FROM instances GROUP BY 1, 2 "
                      "ORDER BY 1, 2")
    res["ends"] = {"%s/%s" % (r[0], r[1]): int(r[2]) for r in ends}
    return res


def recovery(stack, t, node_id, claim=False):
    """Seconds from wall time t to the first checkpoint (seq change; with
    claim, the first lease claim by another node) after t of an instance
    whose last change before t left it owned by node_id (None: any
    instance); None when there was none."""
    cond = "TRUE" if node_id is None else (
        "a.instance_id IN (SELECT instance_id FROM (SELECT DISTINCT ON (instance_id) "
        " instance_id, new_owner FROM fault_audit WHERE at <= to_timestamp(%f) "
        " ORDER BY instance_id, id DESC) x WHERE new_owner = %d)" % (t, node_id))
    what = ("a.new_epoch <> a.old_epoch AND a.new_owner IS DISTINCT FROM %d" % node_id if claim
            else "(a.old_seq IS NULL OR a.new_seq <> a.old_seq)")
    rows = stack.psql("SELECT extract(epoch FROM min(a.at)) FROM fault_audit a "
                      "WHERE a.at > to_timestamp(%f) AND %s AND %s" % (t, what, cond))
    if not rows or not rows[0][0]:
        return None
    return float(rows[0][0]) - t
