"""demo.py — settle's main job, end to end (run through tools/demo).

A month of subscription renewals fails and is won back by a dunning flow, in
simulated time, with every real part running: a private PostgreSQL
(tools/pgdev), stripe-sim holding a seeded book of customers whose issuers
recover (or not) in their own ways, a real SMTP server (aiosmtpd) receiving
the customer emails, an ERP sink receiving payments and write-offs, and
settled on a virtual clock, fed by stripe-sim's signed webhooks.

Each renewal invoice is first charged once, as Stripe Billing would; the
ones that fail start a dunning flow (--flow: any flow taking the inputs
invoice, customer, email, amount; ending in `done` counts as recovered, in
`lost` as written off). This file only orchestrates the C programs and
reads the results. Invariants it checks, exiting 1 otherwise: every failed
renewal is recovered, lost, still in dunning or waiting for an operator;
the recovered amounts equal what stripe-sim was paid for those invoices and
nothing else was paid; stripe-sim voided only invoices in dunning — with the
shipped dunning.flow exactly the lost ones, and the ERP got one posting per
finished flow. On exit, Ctrl-C (SIGINT) or SIGTERM it stops every
process it started and destroys its PostgreSQL cluster.
"""
import argparse
import concurrent.futures
import http.server
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The build to run: tools/demo builds build/; tests point at theirs.
BUILD = os.environ.get("SETTLE_BINARY_DIR") or os.path.join(REPO, "build")
PG_NAME = os.environ.get("SETTLE_DEMO_NAME", "demo")
SETTLED = os.path.join(BUILD, "engine", "daemon", "settled")
SIM = os.path.join(BUILD, "tools", "stripe-sim", "stripe-sim")
SETTLECTL = os.path.join(BUILD, "tools", "settlectl", "settlectl")
RUN = os.path.join(REPO, ".run", PG_NAME)
SECRET = "whsec_demo_" + "".join(random.choice("abcdef0123456789") for _ in range(24))
TOKEN = "demo-" + "".join(random.choice("abcdef0123456789") for _ in range(24))
API_KEY = "sk_test_demo"
WORKERS = 16  # concurrent HTTP requests while charging renewals and starting flows

procs = []


class Interrupted(Exception):
    """SIGINT or SIGTERM: unwind, clean up, exit with 128 + signal."""


def on_signal(signum, _frame):
    raise Interrupted(signum)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def die(msg):
    print("demo: " + msg, file=sys.stderr)
    sys.exit(1)


def spawn(args, log, env=None):
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=open(log, "w"), env=env, text=True)
    procs.append(p)
    return p


def stop_all():
    for p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in reversed(procs):
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def shown(path):
    """A path as the user should type it: relative to the repository when inside it."""
    rel = os.path.relpath(path, REPO)
    return path if rel.startswith("..") else rel


class ErpSink(http.server.BaseHTTPRequestHandler):
    """Stands in for the ERP: records each posting once per external id."""

    records = {}
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        try:
            rec = json.loads(body or b"{}")
        except ValueError:
            self.send_response(400)
            self.end_headers()
            return
        key = self.headers.get("Idempotency-Key") or rec.get("external_id")
        with self.lock:
            seen = key in self.records
            self.records.setdefault(key, dict(rec, path=self.path))
        self.send_response(200 if seen else 201)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"id": key}).encode())

    def log_message(self, *args):
        pass


def http_json(method, url, fields=None, body=None, headers=None):
    data = None
    hdrs = dict(headers or {})
    if fields is not None:
        data = urllib.parse.urlencode(fields).encode()
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read() or b"{}")


def psql(dsn, sql):
    out = subprocess.run(["psql", "-X", "-qAt", "-F", "\t", "-d", dsn, "-c", sql],
                         capture_output=True, text=True)
    if out.returncode != 0:
        die("query failed: " + out.stderr.strip())
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def settled(dsn, *args):
    out = subprocess.run([SETTLED, *args, "--dsn", dsn], capture_output=True, text=True)
    if out.returncode != 0:
        die("settled %s failed:\n%s" % (args[0], out.stderr))
    return out.stdout.strip()


def make_book(n, seed):
    """The book as stripe-sim's TSV, and each customer's (email, amount, currency)."""
    rnd = random.Random(seed)
    lines = ["email\tcard\tamount\tcurrency\tcountry\tfirst_failure_days\tbehaviour\tparams"]
    rows = []
    for i in range(n):
        amount = rnd.choice([900, 1900, 2900, 4900, 9900])
        currency, country = rnd.choice([("usd", "US"), ("eur", "DE"), ("eur", "FR"),
                                        ("gbp", "GB")])
        email = "customer%04d@example.com" % i
        lines.append("%s\tpm_card_visa\t%d\t%s\t%s\t0\trandom\t" % (email, amount, currency,
                                                                   country))
        rows.append((email, amount, currency))
    return "\n".join(lines) + "\n", rows


def parallel(fn, items):
    """fn over items on WORKERS threads, results in order; on any error or
    signal the queued calls are dropped rather than run."""
    pool = concurrent.futures.ThreadPoolExecutor(WORKERS)
    try:
        return list(pool.map(fn, items))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def charge_renewals(sim_url, book, rows):
    """The renewal attempt Stripe Billing makes: pay each invoice once, off
    session. Returns the customers whose payment failed."""
    auth = {"Authorization": "Bearer " + API_KEY}

    def pay(c):
        url = "%s/v1/invoices/%s/pay" % (sim_url, c["invoice"])
        try:
            http_json("POST", url, fields={"off_session": "true"},
                      headers=dict(auth, **{"Idempotency-Key": "renewal_" + c["invoice"]}))
            return False
        except urllib.error.HTTPError as e:
            if e.code != 402:
                die("renewal charge of %s: HTTP %d %s" % (c["invoice"], e.code, e.read()[:300]))
            return True

    failed = parallel(pay, book)
    return [dict(c, email=r[0], amount=r[1], currency=r[2])
            for c, r, f in zip(book, rows, failed) if f]


def start_dunning(api, flow, customers):
    def start(c):
        http_json("POST", api + "/v1/instances", headers={"Authorization": "Bearer " + TOKEN},
                  body={"flow": flow, "business_key": c["invoice"], "inputs": {
                      "invoice": c["invoice"], "customer": c["customer"], "email": c["email"],
                      "amount": {"minor": c["amount"], "currency": c["currency"]}}})

    parallel(start, customers)


def wait_quiet(dsn, target_us, timeout=600):
    """Until every node reached the virtual target and no activity is due."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        row = psql(dsn, "SELECT (SELECT now_us FROM settle_clock), "
                        "(SELECT count(*) FROM instances WHERE status = 'running')")
        now, running = int(row[0][0]), int(row[0][1])
        if now >= target_us and running == 0:
            return
        time.sleep(0.2)
    die("the engine did not settle within %d s; see %s/settled.log" % (timeout, RUN))


def outcome_counts(dsn, flow):
    """Instances of flow by outcome: done, lost, cancelled, operator, dunning."""
    return dict((r[0], int(r[1])) for r in psql(
        dsn, "SELECT CASE WHEN status = 'completed' THEN state_name "
             "WHEN status = 'failed' THEN 'operator' ELSE 'dunning' END, count(*) "
             "FROM instances WHERE flow = '%s' GROUP BY 1" % flow))


def progress(dsn, flow, day, days):
    rows = outcome_counts(dsn, flow)
    line = "day %2d/%d  recovered %5d  lost %5d  in dunning %5d  needs operator %4d" % (
        day, days, rows.get("done", 0), rows.get("lost", 0), rows.get("dunning", 0),
        rows.get("operator", 0))
    end = "\n" if day == days or not sys.stdout.isatty() else "\r"
    print(line, end=end, flush=True)


def sim_invoices(sim_url, status):
    """stripe-sim's invoices with this status: {id: (currency, amount_paid)}."""
    out, after = {}, None
    while True:
        url = sim_url + "/v1/invoices?status=%s&limit=100" % status + (
            "&starting_after=" + after if after else "")
        page = http_json("GET", url, headers={"Authorization": "Bearer " + API_KEY})
        for inv in page["data"]:
            out[inv["id"]] = (inv["currency"], inv["amount_paid"])
        if not page.get("has_more"):
            return out
        after = page["data"][-1]["id"]


def sums(pairs):
    total = {}
    for currency, minor in pairs:
        total[currency] = total.get(currency, 0) + minor
    return total


def money(d):
    return ", ".join("%d.%02d %s" % (v // 100, v % 100, c.upper())
                     for c, v in sorted(d.items())) or "0"


def engine_figures(dsn, flow):
    q = lambda sql: int(psql(dsn, sql)[0][0])
    recovered = dict((r[0], int(r[1])) for r in psql(
        dsn, "SELECT vars->'amount'->>'currency', sum((vars->'amount'->>'minor')::bigint) "
             "FROM instances WHERE flow = '%s' AND status = 'completed' AND state_name = 'done' "
             "GROUP BY 1" % flow))
    return {
        "by": outcome_counts(dsn, flow),
        "total": q("SELECT count(*) FROM instances WHERE flow = '%s'" % flow),
        "recovered_amounts": recovered,
        "emails": q("SELECT count(*) FROM tasks WHERE activity = 'email.send' "
                    "AND status = 'done' AND outcome = 'sent'"),
        "charges": q("SELECT count(*) FROM tasks t JOIN instances i ON i.id = t.instance_id "
                     "WHERE t.activity = 'stripe.pay_invoice' AND i.state_name = 'done'"),
    }


def summary(dsn, flow, sim_url, renewals, failed, shipped):
    """Print the summary; check it against stripe-sim and, for the shipped
    dunning.flow (shipped), its voids and ERP postings too."""
    e = engine_figures(dsn, flow)
    by, total = e["by"], e["total"]
    rec, lost = by.get("done", 0), by.get("lost", 0)
    dunning_invoices = set(c["invoice"] for c in failed)
    paid = sim_invoices(sim_url, "paid")
    voided = sim_invoices(sim_url, "void")
    sim_recovered = sums(v for k, v in paid.items() if k in dunning_invoices)
    print()
    print("renewals charged       %6d  (paid at once %d)" % (renewals, renewals - len(failed)))
    print("invoices failed        %6d" % total)
    print("recovered              %6d  (%.1f %%)  %s" % (rec, 100.0 * rec / max(total, 1),
                                                       money(e["recovered_amounts"])))
    print("lost (written off)     %6d" % lost)
    print("still in dunning       %6d" % by.get("dunning", 0))
    print("needing an operator    %6d" % by.get("operator", 0))
    print("emails sent            %6d" % e["emails"])
    print("payment attempts per recovery  %.2f" % (e["charges"] / rec if rec else 0))
    print("ERP postings           %6d" % len(ErpSink.records))
    print("stripe-sim paid        %s  (for the failed invoices)" % money(sim_recovered))
    problems = []
    if total != len(failed) or rec + lost + by.get("dunning", 0) + by.get("operator", 0) \
            + by.get("cancelled", 0) != total or set(by) - {"done", "lost", "dunning",
                                                             "operator", "cancelled"}:
        problems.append("the counts do not add up: %d failed renewals, flows %r"
                        % (len(failed), by))
    if e["recovered_amounts"] != sim_recovered:
        problems.append("recovered %s, but stripe-sim was paid %s for those invoices"
                        % (money(e["recovered_amounts"]), money(sim_recovered)))
    paid_in_dunning = sum(1 for k in paid if k in dunning_invoices)
    if paid_in_dunning != rec or len(paid) - paid_in_dunning != renewals - len(failed):
        problems.append("stripe-sim holds %d paid invoices; expected %d paid at once + %d "
                        "recovered" % (len(paid), renewals - len(failed), rec))
    if set(voided) - dunning_invoices or (shipped and len(voided) != lost):
        problems.append("stripe-sim voided %d invoices; %d flows wrote one off"
                        % (len(voided), lost))
    if shipped and len(ErpSink.records) != rec + lost:
        problems.append("the ERP got %d postings for %d finished flows"
                        % (len(ErpSink.records), rec + lost))
    for p in problems:
        print("demo: " + p, file=sys.stderr)
    return not problems, {
        "renewals": renewals, "paid_at_once": renewals - len(failed), "failed": total,
        "recovered": rec, "lost": lost, "dunning": by.get("dunning", 0),
        "operator": by.get("operator", 0), "emails": e["emails"],
        "recovered_amounts": e["recovered_amounts"], "sim_paid": sim_recovered,
        "sim_voided": len(voided), "erp_postings": len(ErpSink.records)}


def start_world(a, dsn):
    """SMTP sink, ERP sink, stripe-sim and settled; returns (sim_url, api)."""
    smtp_port, erp_port, http_port = free_port(), free_port(), free_port()
    mail_dir = os.path.join(RUN, "mail")
    subprocess.run(["rm", "-rf", mail_dir])
    os.makedirs(mail_dir)
    spawn(["/usr/bin/python3", os.path.join(REPO, "tests", "activity", "smtp_sink.py"),
           str(smtp_port), mail_dir], os.path.join(RUN, "smtp.log"))
    erp = http.server.ThreadingHTTPServer(("127.0.0.1", erp_port), ErpSink)
    threading.Thread(target=erp.serve_forever, daemon=True).start()

    sim = spawn([SIM, "--port", "0", "--seed", str(a.seed), "--frozen-clock", "--quiet",
                 "--webhook", "http://127.0.0.1:%d/webhooks/stripe" % http_port,
                 "--webhook-secret", SECRET], os.path.join(RUN, "stripe-sim.log"))
    line = sim.stdout.readline().strip()
    if "listening on" not in line:
        die("stripe-sim did not start; see %s/stripe-sim.log" % RUN)
    sim_url = "http://" + line.split()[-1]
    print("== stripe-sim   %s (seed %d)" % (sim_url, a.seed))

    env = dict(os.environ, STRIPE_API_BASE=sim_url, STRIPE_API_KEY=API_KEY,
               SETTLE_SMTP_URL="smtp://127.0.0.1:%d" % smtp_port,
               SETTLE_ERP_URL="http://127.0.0.1:%d" % erp_port,
               SETTLE_WEBHOOK_SECRETS=SECRET, SETTLE_API_TOKENS=TOKEN + ":write")
    node = spawn([SETTLED, "run", "--dsn", dsn, "--clock", "virtual", "--http",
                  str(http_port), "--webhook-tolerance", str((a.days + 10) * 86400)],
                 os.path.join(RUN, "settled.log"), env=env)
    if "listening" not in node.stdout.readline():
        die("settled did not start; see %s/settled.log" % RUN)
    api = "http://127.0.0.1:%d" % http_port
    print("== settled      %s (virtual clock), mail to 127.0.0.1:%d, ERP at 127.0.0.1:%d"
          % (api, smtp_port, erp_port))
    return sim_url, api


def run_month(a, dsn, flow, sim_url, api):
    tsv, rows = make_book(a.customers, a.seed)
    book = http_json("POST", sim_url + "/_sim/book", fields={"tsv": tsv})["created"]
    print("== %d customers; charging their renewal invoices" % len(book), flush=True)
    failed = charge_renewals(sim_url, book, rows)
    print("== %d renewals failed; starting %s for each" % (len(failed), flow), flush=True)
    start_dunning(api, flow, failed)
    wait_quiet(dsn, int(psql(dsn, "SELECT target_us FROM settle_clock")[0][0]))
    progress(dsn, flow, 0, a.days)
    for day in range(1, a.days + 1):
        http_json("POST", sim_url + "/_sim/clock/advance", fields={"days": "1"})
        settled(dsn, "clock", "advance", "1d")
        wait_quiet(dsn, int(psql(dsn, "SELECT target_us FROM settle_clock")[0][0]))
        progress(dsn, flow, day, a.days)
    shipped = os.path.samefile(a.flow, os.path.join(REPO, "workflows", "dunning.flow"))
    return summary(dsn, flow, sim_url, len(book), failed, shipped)


def print_keep(dsn, api):
    print("\nEverything keeps running (Ctrl-C stops it and removes the database).")
    print("Point settlectl at it from another terminal:")
    print("  export SETTLE_DSN='%s'" % dsn)
    print("  %s stats" % shown(SETTLECTL))
    print("  %s list --flow dunning --limit 5" % shown(SETTLECTL))
    # The API token goes to a file only its owner reads, never to the terminal.
    token_file = os.path.join(RUN, "api_token")
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, (TOKEN + "\n").encode())
    os.close(fd)
    print("The flow API:")
    print('  curl -H "Authorization: Bearer $(cat %s)" %s/v1/instances'
          % (shown(token_file), api), flush=True)


def parse_args():
    ap = argparse.ArgumentParser(prog="tools/demo", description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--flow", default=os.path.join(REPO, "workflows", "dunning.flow"),
                    help="dunning flow to run (inputs: invoice, customer, email, amount)")
    ap.add_argument("--keep", action="store_true",
                    help="leave everything running until Ctrl-C and print how to reach it")
    ap.add_argument("--json", help="also write the summary as JSON to this file")
    a = ap.parse_args()
    cwd = os.environ.get("SETTLE_DEMO_CWD") or os.getcwd()
    a.flow = os.path.join(cwd, a.flow)
    a.json = a.json and os.path.join(cwd, a.json)
    if a.customers < 1 or a.days < 1:
        ap.error("--customers and --days must be at least 1")
    if not os.path.exists(a.flow):
        ap.error("no flow file %s" % a.flow)
    return a


def main():
    a = parse_args()
    for exe in (SETTLED, SIM):
        if not os.access(exe, os.X_OK):
            die("%s is not built; run tools/demo (it builds) or set SETTLE_BINARY_DIR" % exe)
    os.makedirs(RUN, exist_ok=True)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    pgdev = os.path.join(REPO, "tools", "pgdev")
    try:
        subprocess.run([pgdev, "destroy", "--name", PG_NAME], capture_output=True)
        # The database lives only as long as the demo: no fsync needed.
        dsn = subprocess.run([pgdev, "start", "--name", PG_NAME, "--no-fsync"], check=True,
                             capture_output=True, text=True).stdout.strip()
        print("== PostgreSQL   %s" % dsn)
        settled(dsn, "migrate")
        for f in ("charge.flow", "refund.flow"):
            settled(dsn, "deploy", os.path.join(REPO, "workflows", f))
        flow = settled(dsn, "deploy", a.flow).split()[1]
        sim_url, api = start_world(a, dsn)
        ok, data = run_month(a, dsn, flow, sim_url, api)
        if a.json:
            with open(a.json, "w") as f:
                json.dump(data, f, indent=2)
        if os.path.exists(SETTLECTL):
            print("\n== settlectl stuck", flush=True)
            subprocess.run([SETTLECTL, "stuck", "--dsn", dsn])
        if a.keep:
            print_keep(dsn, api)
            while True:
                signal.pause()
        return 0 if ok else 1
    except Interrupted as e:
        print("\ndemo: interrupted; stopping everything", file=sys.stderr)
        return 128 + e.args[0]
    finally:
        # A second Ctrl-C must not cut the cleanup short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_all()
        subprocess.run([pgdev, "destroy", "--name", PG_NAME], capture_output=True)
        if os.path.exists(os.path.join(RUN, "api_token")):  # useless once settled stopped
            os.remove(os.path.join(RUN, "api_token"))


if __name__ == "__main__":
    sys.exit(main())
