"""demo.py — settle's main job on embedded defaults (run through tools/demo).

A month of subscription renewals fails and is won back by a dunning flow, in
simulated time, with every real part running: a private PostgreSQL
(tools/pgdev), stripe-sim holding a seeded book of customers whose issuers
recover (or not) in their own ways, a real SMTP server (aiosmtpd) receiving
the customer emails, an ERP sink receiving payments and write-offs, and
settled on a virtual clock, fed by stripe-sim's signed webhooks.

This file only orchestrates the C programs and reads the results; it
checks that its own summary adds up (every failed invoice is recovered,
lost, still in dunning or waiting for an operator, and the recovered amount
equals what stripe-sim was paid) and exits 1 when it does not.
"""
import argparse
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

procs = []


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
    rnd = random.Random(seed)
    lines = ["email\tcard\tamount\tcurrency\tcountry\tfirst_failure_days\tbehaviour\tparams"]
    for i in range(n):
        amount = rnd.choice([900, 1900, 2900, 4900, 9900])
        currency, country = rnd.choice([("usd", "US"), ("eur", "DE"), ("eur", "FR"),
                                        ("gbp", "GB")])
        lines.append("customer%04d@example.com\tpm_card_visa\t%d\t%s\t%s\t0\trandom\t"
                     % (i, amount, currency, country))
    return "\n".join(lines) + "\n"


def wait_quiet(dsn, target_us, timeout=600):
    """Until every node reached the virtual target and no activity is due."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        row = psql(dsn, "SELECT (SELECT now_us FROM settle_clock), "
                        "(SELECT count(*) FROM instances WHERE status = 'running'), "
                        "(SELECT count(*) FROM signals WHERE consumed_at IS NULL AND "
                        " instance_id IN (SELECT id FROM instances WHERE status = 'waiting'))")
        now, running = int(row[0][0]), int(row[0][1])
        if now >= target_us and running == 0:
            return
        time.sleep(0.2)
    die("the engine did not settle within %d s; see %s/settled.log" % (timeout, RUN))


def progress(dsn, flow, day, days):
    rows = dict((r[0], int(r[1])) for r in psql(
        dsn, "SELECT CASE WHEN status = 'completed' THEN state_name "
             "WHEN status = 'failed' THEN 'operator' ELSE 'dunning' END, count(*) "
             "FROM instances WHERE flow = '%s' GROUP BY 1" % flow))
    line = "day %2d/%d  recovered %5d  lost %5d  in dunning %5d  needs operator %4d" % (
        day, days, rows.get("done", 0), rows.get("lost", 0), rows.get("dunning", 0),
        rows.get("operator", 0))
    end = "\n" if day == days or not sys.stdout.isatty() else "\r"
    print(line, end=end, flush=True)


def summary(dsn, flow, sim_url):
    q = lambda sql: psql(dsn, sql)
    total = int(q("SELECT count(*) FROM instances WHERE flow = '%s'" % flow)[0][0])
    by = dict((r[0], int(r[1])) for r in q(
        "SELECT CASE WHEN status = 'completed' THEN state_name WHEN status = 'failed' "
        "THEN 'operator' ELSE 'dunning' END, count(*) FROM instances WHERE flow = '%s' "
        "GROUP BY 1" % flow))
    recovered_amounts = dict((r[0], int(r[1])) for r in q(
        "SELECT vars->'amount'->>'currency', sum((vars->'amount'->>'minor')::bigint) "
        "FROM instances WHERE flow = '%s' AND status = 'completed' AND state_name = 'done' "
        "GROUP BY 1" % flow))
    emails = int(q("SELECT count(*) FROM tasks WHERE activity = 'email.send' "
                   "AND status = 'done' AND outcome = 'sent'")[0][0])
    charges = int(q("SELECT count(*) FROM tasks t JOIN instances i ON i.id = t.instance_id "
                    "WHERE t.activity = 'stripe.pay_invoice' AND i.state_name = 'done'")[0][0])
    # What stripe-sim says was paid: the ground truth for the amounts.
    paid = {}
    after = None
    while True:
        url = sim_url + "/v1/invoices?status=paid&limit=100" + (
            "&starting_after=" + after if after else "")
        page = http_json("GET", url, headers={"Authorization": "Bearer " + API_KEY})
        for inv in page["data"]:
            paid[inv["currency"]] = paid.get(inv["currency"], 0) + inv["amount_paid"]
        if not page.get("has_more"):
            break
        after = page["data"][-1]["id"]
    rec = by.get("done", 0)
    accounted = rec + by.get("lost", 0) + by.get("dunning", 0) + by.get("operator", 0)
    money = lambda d: ", ".join("%d.%02d %s" % (v // 100, v % 100, c.upper())
                                for c, v in sorted(d.items())) or "0"
    print()
    print("invoices failed        %6d" % total)
    print("recovered              %6d  (%.1f %%)  %s" % (rec, 100.0 * rec / max(total, 1),
                                                       money(recovered_amounts)))
    print("lost (written off)     %6d" % by.get("lost", 0))
    print("still in dunning       %6d" % by.get("dunning", 0))
    print("needing an operator    %6d" % by.get("operator", 0))
    print("emails sent            %6d" % emails)
    print("payment attempts per recovery  %.2f" % (charges / rec if rec else 0))
    print("ERP postings           %6d" % len(ErpSink.records))
    print("stripe-sim paid        %s" % money(paid))
    ok = True
    if accounted != total or set(by) - {"done", "lost", "dunning", "operator", "cancelled"}:
        print("demo: the counts do not add up: %r" % by, file=sys.stderr)
        ok = False
    if recovered_amounts != paid:
        print("demo: recovered amounts differ from what stripe-sim was paid", file=sys.stderr)
        ok = False
    return ok, {"failed": total, "recovered": rec, "lost": by.get("lost", 0),
                "dunning": by.get("dunning", 0), "operator": by.get("operator", 0),
                "emails": emails, "recovered_amounts": recovered_amounts,
                "sim_paid": paid}


def main():
    ap = argparse.ArgumentParser(prog="tools/demo", description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--flow", default=os.path.join(REPO, "workflows", "dunning.flow"),
                    help="dunning flow to run (inputs: invoice, customer, email, amount)")
    ap.add_argument("--keep", action="store_true", help="leave everything running")
    ap.add_argument("--json", help="also write the summary as JSON to this file")
    a = ap.parse_args()
    os.makedirs(RUN, exist_ok=True)
    signal.signal(signal.SIGINT, lambda *_: sys.exit(130))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    pgdev = os.path.join(REPO, "tools", "pgdev")
    try:
        subprocess.run([pgdev, "destroy", "--name", PG_NAME], check=False,
                       capture_output=True)
        dsn = subprocess.run([pgdev, "start", "--name", PG_NAME], check=True,
                             capture_output=True, text=True).stdout.strip()
        print("== PostgreSQL   %s" % dsn)
        settled(dsn, "migrate")
        for f in ("charge.flow", "refund.flow"):
            settled(dsn, "deploy", os.path.join(REPO, "workflows", f))
        deployed = settled(dsn, "deploy", a.flow)
        flow = deployed.split()[1]

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

        book = http_json("POST", sim_url + "/_sim/book", fields={"tsv": make_book(
            a.customers, a.seed)})["created"]
        print("== %d customers whose renewal fails; starting %s for each" % (len(book), flow))
        for i, c in enumerate(book):
            inv = http_json("GET", sim_url + "/v1/invoices/" + c["invoice"],
                            headers={"Authorization": "Bearer " + API_KEY})
            http_json("POST", api + "/v1/instances", headers={
                "Authorization": "Bearer " + TOKEN}, body={
                "flow": flow, "business_key": c["invoice"], "inputs": {
                    "invoice": c["invoice"], "customer": c["customer"],
                    "email": "customer%04d@example.com" % i,
                    "amount": {"minor": inv["amount_due"], "currency": inv["currency"]}}})
        target = int(psql(dsn, "SELECT target_us FROM settle_clock")[0][0])
        wait_quiet(dsn, target)
        progress(dsn, flow, 0, a.days)
        for day in range(1, a.days + 1):
            http_json("POST", sim_url + "/_sim/clock/advance", fields={"days": "1"})
            out = settled(dsn, "clock", "advance", "1d")
            target = int(psql(dsn, "SELECT target_us FROM settle_clock")[0][0])
            wait_quiet(dsn, target)
            progress(dsn, flow, day, a.days)
            del out
        ok, data = summary(dsn, flow, sim_url)
        if a.json:
            with open(a.json, "w") as f:
                json.dump(data, f, indent=2)
        if os.path.exists(SETTLECTL):
            print("\n== settlectl stuck")
            subprocess.run([SETTLECTL, "stuck", "--dsn", dsn])
        if a.keep:
            print("\nEverything keeps running. Point the tools at it with:")
            print("  export SETTLE_DSN='%s'" % dsn)
            print("  build/engine/daemon/settled clock show")
            print("  curl -H 'Authorization: Bearer %s' %s/v1/instances" % (TOKEN, api))
            print("Stop with Ctrl-C.")
            signal.pause()
        return 0 if ok else 1
    finally:
        stop_all()
        if not a.keep:
            subprocess.run([pgdev, "destroy", "--name", PG_NAME], capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
