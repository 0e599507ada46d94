"""faultlib.py — the fault suite's harness: a whole settle stack under faults.

A Stack is a private PostgreSQL (tools/pgdev), stripe-sim, an SMTP sink
(tests/activity/smtp_sink.py), an ERP sink (in this process) and one or
more `settled run` nodes on a virtual clock. The four scenarios
(crash_loop, pg_restart, sim_faults, multi_node) each start a Stack, run a
workload of charge.flow and dunning.flow instances while injecting their
faults, stop injecting, let everything finish, then check the outcome
against PostgreSQL and stripe-sim, and return their figures as a dict.

Time: settled's virtual clock is pumped fast (a day of flow time per
second or so) so that dunning's weeks pass; stripe-sim's clock moves
slower (a minute per tick), so webhook retries run but an idempotency key
(kept 24 sim hours) never expires between an attempt and its retry.
Webhook signatures are checked with a tolerance covering the skew. With
retry_per_tick set (sim_faults), time slows to that many seconds per tick
while an activity waits out a retry backoff, so backoffs keep roughly
their wall-clock length next to a request still running at the sim (else
every retry of a timed-out call would land within its first attempt and
meet the sim's 409 "key in use", which no real clock produces).

Invariants checked (each failure is a message in result["problems"]):
  * every started flow has its instance (none lost), and each ends final,
    failed with a reason (needs an operator), or waiting on a timer or a
    signal with a reason; none sits `running` once the engine is quiet;
  * history is seq 1..n per instance, no hole, no repeat, n = instance seq;
  * stripe-sim: one money movement per idempotency key, at most one
    succeeded charge per customer (each customer has one flow), and the
    flow's end agrees with the sim (paid <=> charged, done <=> invoice
    paid, lost <=> invoice void); the ERP saw each posting once;
  * an audit trigger (installed in the test database, not in the schema)
    records every change of an instance's seq, owner or lease epoch with
    the wall time: checkpoints advance seq by one without changing owner
    or epoch, each epoch has one owner, epochs only grow. That is how
    "never advanced by two nodes at once" is shown.
Secrets (webhook secret, API token, Stripe key) are never written to the
logs under $SETTLE_BINARY_DIR/test-logs/fault/<scenario>/.
"""
import http.server as httpserver
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("SETTLE_BINARY_DIR") or os.path.join(REPO, "build")
SETTLED = os.path.join(BUILD, "engine", "daemon", "settled")
SIM = os.path.join(BUILD, "tools", "stripe-sim", "stripe-sim")
PGDEV = os.path.join(REPO, "tools", "pgdev")
API_KEY = "sk_test_fault"
FINAL_OK = {"completed", "cancelled"}

AUDIT_SQL = """
CREATE TABLE fault_audit (
  id bigserial PRIMARY KEY, instance_id uuid NOT NULL,
  old_seq bigint, new_seq bigint, old_owner bigint, new_owner bigint,
  old_epoch bigint, new_epoch bigint, status text,
  at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE FUNCTION fault_audit_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO fault_audit (instance_id, new_seq, new_owner, new_epoch, status)
    VALUES (NEW.id, NEW.seq, NEW.owner_node, NEW.lease_epoch, NEW.status);
  ELSIF NEW.seq IS DISTINCT FROM OLD.seq OR NEW.owner_node IS DISTINCT FROM OLD.owner_node
        OR NEW.lease_epoch IS DISTINCT FROM OLD.lease_epoch THEN
    INSERT INTO fault_audit (instance_id, old_seq, new_seq, old_owner, new_owner,
                             old_epoch, new_epoch, status)
    VALUES (NEW.id, OLD.seq, NEW.seq, OLD.owner_node, NEW.owner_node,
            OLD.lease_epoch, NEW.lease_epoch, NEW.status);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER fault_audit_trg AFTER INSERT OR UPDATE ON instances
  FOR EACH ROW EXECUTE FUNCTION fault_audit_fn();
"""


class Failure(Exception):
    """The harness itself could not run (a process did not start, ...)."""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http(method, url, fields=None, body=None, headers=None, timeout=30):
    """(status, parsed JSON or text); status 0 when the connection failed."""
    data, hdrs = None, dict(headers or {})
    if fields is not None:
        data = urllib.parse.urlencode(fields).encode()
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw, code = r.read(), r.status
    except urllib.error.HTTPError as e:
        raw, code = e.read(), e.code
    except (OSError, urllib.error.URLError):
        return 0, None
    try:
        return code, json.loads(raw or b"{}")
    except ValueError:
        return code, raw.decode(errors="replace")


class ErpSink(httpserver.BaseHTTPRequestHandler):
    """The ERP: answers postings idempotently by external_id and counts
    postings per (path, reference), so a second posting for one invoice or
    order under another key shows up as a duplicate effect."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        try:
            rec = json.loads(body or b"{}")
        except ValueError:
            rec = {}
        key = self.headers.get("Idempotency-Key") or rec.get("external_id") or ""
        st = self.server.state
        with st["lock"]:
            seen = key in st["keys"]
            if not seen:
                st["keys"][key] = True
                ref = (self.path, str(rec.get("reference")))
                st["refs"][ref] = st["refs"].get(ref, 0) + 1
        self.send_response(200 if seen else 201)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"id": key}).encode())

    def log_message(self, *args):
        pass


class Stack:
    """One private stack. Use as a context manager; logs go to logdir."""

    def __init__(self, name, logdir, seed=1, nodes=1, lease_ttl_ms=2000, sim_faults=None,
                 flow_timeout=None, virt_per_tick=12 * 3600, sim_per_tick=60, tick=0.25,
                 retry_per_tick=None, durable=False):
        self.name, self.logdir, self.seed = name, logdir, seed
        self.n_nodes, self.lease_ttl_ms = nodes, lease_ttl_ms
        self.sim_faults, self.flow_timeout = sim_faults, flow_timeout
        self.virt_per_tick, self.sim_per_tick, self.tick = virt_per_tick, sim_per_tick, tick
        self.retry_per_tick = retry_per_tick
        self.durable = durable
        self.pgname = "fault-%s-%d" % (name, os.getpid())
        self.rnd = random.Random(seed)
        self.secret_token = "fault-" + secrets.token_hex(12)
        self.procs = []
        self.nodes = [None] * nodes      # Popen or None
        self.node_names = [None] * nodes
        self.node_gen = [0] * nodes
        self.events = []                 # (wall time, what) for the event log
        self._stop = threading.Event()
        self.pump_on = True
        self.flows = {}                  # business key -> dict(kind, customer, ...)
        self.started = set()
        self.lock = threading.Lock()

    # ------------------------------------------------------------ plumbing
    def log(self, what):
        t = time.time()
        with self.lock:
            self.events.append((t, what))
            with open(os.path.join(self.logdir, "events.log"), "a") as f:
                f.write("%.3f %s\n" % (t, what))

    def psql(self, sql, check=True):
        out = subprocess.run(["psql", "-X", "-qAt", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                              "-d", self.dsn, "-c", sql], capture_output=True, text=True)
        if out.returncode != 0:
            if check:
                raise Failure("query failed: %s" % out.stderr.strip())
            return None
        return [line.split("\t") for line in out.stdout.splitlines() if line]

    def __enter__(self):
        shutil.rmtree(self.logdir, ignore_errors=True)
        os.makedirs(self.logdir)
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def spawn(self, args, log, env=None):
        f = open(log, "a")
        p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT, env=env,
                             start_new_session=True)
        f.close()
        self.procs.append(p)
        return p

    # ------------------------------------------------------------ start
    def start(self):
        for exe in (SETTLED, SIM):
            if not os.access(exe, os.X_OK):
                raise Failure("%s is missing: build first (cmake --build %s)" % (exe, BUILD))
        subprocess.run([PGDEV, "destroy", "--name", self.pgname], capture_output=True)
        # --no-fsync also turns synchronous_commit off: an immediate shutdown
        # then loses commits already acknowledged (PostgreSQL's documented
        # window, not settle's), so the PostgreSQL scenario runs durable.
        durable = [] if self.durable else ["--no-fsync"]
        out = subprocess.run([PGDEV, "start", "--name", self.pgname, *durable],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise Failure("pgdev start failed: " + out.stderr.strip())
        self.dsn = out.stdout.strip()
        self.settled_cmd("migrate")
        for flow in ("charge", "dunning"):
            self.settled_cmd("deploy", self.flow_file(flow))
        self.psql(AUDIT_SQL)
        self.start_sinks()
        self.start_sim()
        self.ports = [free_port() for _ in range(self.n_nodes)]
        self.hook_secrets = []
        for p in self.ports:
            code, ep = http("POST", self.sim_url + "/v1/webhook_endpoints",
                            fields={"url": "http://127.0.0.1:%d/webhooks/stripe" % p,
                                    "enabled_events[]": "*"}, headers=self.auth())
            if code != 200:
                raise Failure("stripe-sim refused a webhook endpoint: %s" % ep)
            self.hook_secrets.append(ep["secret"])
        for i in range(self.n_nodes):
            self.start_node(i)
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()

    def flow_file(self, flow):
        src = os.path.join(REPO, "workflows", flow + ".flow")
        if not self.flow_timeout:
            return src
        # The Stripe steps' 30 s timeout tightened so that the sim's latency
        # tail produces real client timeouts within a short test.
        text = open(src).read().replace("timeout 30s", "timeout %s" % self.flow_timeout)
        dst = os.path.join(self.logdir, flow + ".flow")
        with open(dst, "w") as f:
            f.write(text)
        return dst

    def settled_cmd(self, *args):
        out = subprocess.run([SETTLED, *args, "--dsn", self.dsn], capture_output=True, text=True)
        if out.returncode != 0:
            raise Failure("settled %s failed: %s" % (args[0], out.stderr.strip()))
        return out.stdout.strip()

    def start_sinks(self):
        smtp_port = free_port()
        self.mail_dir = os.path.join(self.logdir, "mail")
        os.makedirs(self.mail_dir)
        self.spawn(["/usr/bin/python3", os.path.join(REPO, "tests", "activity", "smtp_sink.py"),
                    str(smtp_port), self.mail_dir], os.path.join(self.logdir, "smtp.log"))
        self.smtp_port = smtp_port
        self.erp = httpserver.ThreadingHTTPServer(("127.0.0.1", 0), ErpSink)
        self.erp.state = {"lock": threading.Lock(), "keys": {}, "refs": {}}
        self.erp.daemon_threads = True
        threading.Thread(target=self.erp.serve_forever, daemon=True).start()
        self.erp_port = self.erp.server_address[1]
        deadline = time.time() + 20
        while not os.path.exists(os.path.join(self.mail_dir, "ready")):
            if time.time() > deadline:
                raise Failure("the SMTP sink did not start; see %s/smtp.log" % self.logdir)
            time.sleep(0.05)

    def start_sim(self):
        args = [SIM, "--port", "0", "--seed", str(self.seed), "--threads", "16",
                "--frozen-clock"]
        if self.sim_faults:
            args += ["--faults", self.sim_faults]
        log = os.path.join(self.logdir, "stripe-sim.log")
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=open(log, "w"), text=True,
                             start_new_session=True)
        self.procs.append(p)
        line = p.stdout.readline().strip()
        if "listening on" not in line:
            raise Failure("stripe-sim did not start; see %s" % log)
        self.sim = p
        self.sim_url = "http://" + line.split()[-1]

    def auth(self):
        return {"Authorization": "Bearer " + API_KEY}

    def node_env(self):
        return dict(os.environ, STRIPE_API_BASE=self.sim_url, STRIPE_API_KEY=API_KEY,
                    SETTLE_SMTP_URL="smtp://127.0.0.1:%d" % self.smtp_port,
                    SETTLE_ERP_URL="http://127.0.0.1:%d" % self.erp_port,
                    SETTLE_WEBHOOK_SECRETS=",".join(self.hook_secrets),
                    SETTLE_API_TOKENS=self.secret_token + ":write")

    def start_node(self, i, wait=True):
        self.node_gen[i] += 1
        name = "fault-%d-%d" % (i, self.node_gen[i])
        log = os.path.join(self.logdir, "settled-%d.log" % i)
        offset = os.path.getsize(log) if os.path.exists(log) else 0
        p = self.spawn([SETTLED, "run", "--dsn", self.dsn, "--clock", "virtual", "--http",
                        str(self.ports[i]), "--node", name, "--lease-ttl-ms",
                        str(self.lease_ttl_ms), "--webhook-tolerance", str(366 * 86400)],
                       log, env=self.node_env())
        self.nodes[i], self.node_names[i] = p, name
        self.log("start node %d as %s pid %d" % (i, name, p.pid))
        if not wait:
            return
        deadline = time.time() + 30
        while True:
            with open(log) as f:
                f.seek(offset)
                if "settled http listening" in f.read():
                    return
            if p.poll() is not None or time.time() > deadline:
                raise Failure("settled node %d did not start (exit %s); see %s"
                              % (i, p.poll(), log))
            time.sleep(0.02)

    def kill_node(self, i, sig=signal.SIGKILL):
        p = self.nodes[i]
        node_id = self.node_id(self.node_names[i])
        t = time.time()
        p.send_signal(sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            p.wait(timeout=30)
            self.nodes[i] = None
        self.log("signal %d to node %d (%s, id %s)" % (sig, i, self.node_names[i], node_id))
        return t, node_id

    def node_id(self, name):
        rows = self.psql("SELECT max(id) FROM nodes WHERE name = '%s'" % name, check=False)
        return int(rows[0][0]) if rows and rows[0][0] else None

    def live_api(self):
        live = [i for i, p in enumerate(self.nodes) if p is not None and p.poll() is None]
        return ["http://127.0.0.1:%d" % self.ports[i] for i in live]

    # ------------------------------------------------------------ clock pump
    def _pump(self):
        while not self._stop.wait(self.tick):
            if not self.pump_on:
                continue
            step = "%d" % (self.virt_per_tick * 1000000)
            if self.retry_per_tick is not None:
                step = ("CASE WHEN EXISTS (SELECT 1 FROM tasks WHERE status = 'pending' "
                        "AND attempt > 0) THEN %d ELSE %s END"
                        % (self.retry_per_tick * 1000000, step))
            rows = self.psql("UPDATE settle_clock SET target_us = greatest(target_us, now_us) + "
                             "%s RETURNING 1" % step, check=False)
            if rows:
                http("POST", self.sim_url + "/_sim/clock/advance",
                     fields={"seconds": str(self.sim_per_tick)})

    # ------------------------------------------------------------ workload
    def load_book(self, n_charge, n_dunning):
        """Customers: charge ones (one charge.flow each) with assorted cards,
        dunning ones (one dunning.flow each) whose renewal fails."""
        cards = ["pm_card_visa"] * 6 + ["pm_card_mastercard", "pm_card_threeDSecure2Required",
                                        "pm_card_chargeDeclinedExpiredCard",
                                        "pm_card_visa_debit"]
        lines = ["email\tcard\tamount\tcurrency\tcountry\tfirst_failure_days\tbehaviour\tparams"]
        kinds = []
        for i in range(n_charge):
            lines.append("charge%05d@example.com\t%s\t%d\teur\tDE\t0\tnone\t"
                         % (i, self.rnd.choice(cards), self.rnd.choice([990, 4900, 12000])))
            kinds.append("charge")
        for i in range(n_dunning):
            lines.append("dunning%05d@example.com\tpm_card_visa\t%d\tusd\tUS\t0\trandom\t"
                         % (i, self.rnd.choice([900, 1900, 4900])))
            kinds.append("dunning")
        code, out = http("POST", self.sim_url + "/_sim/book", fields={"tsv": "\n".join(lines)},
                         timeout=120)
        if code != 200:
            raise Failure("stripe-sim refused the book: %s" % out)
        for i, (kind, c) in enumerate(zip(kinds, out["created"])):
            key = "%s-%05d" % (kind, i)
            amount = int(lines[i + 1].split("\t")[2])
            if kind == "charge":
                inputs = {"customer": c["customer"], "email": "c%05d@example.com" % i,
                          "payment_method": c["payment_method"], "order": key,
                          "amount": {"minor": amount, "currency": "eur"}}
            else:
                inputs = {"invoice": c["invoice"], "customer": c["customer"],
                          "email": "d%05d@example.com" % i,
                          "amount": {"minor": amount, "currency": "usd"}}
            self.flows[key] = {"kind": kind, "customer": c["customer"],
                               "invoice": c["invoice"], "inputs": inputs}
        return list(self.flows)

    def start_flow(self, key, deadline):
        """Start one flow through any live node's API; retried (same
        business key, so never twice) until it answers 200/201."""
        f = self.flows[key]
        while time.time() < deadline:
            for api in self.live_api():
                code, out = http("POST", api + "/v1/instances", timeout=10,
                                 headers={"Authorization": "Bearer " + self.secret_token},
                                 body={"flow": f["kind"], "business_key": key,
                                       "inputs": f["inputs"]})
                if code in (200, 201):
                    with self.lock:
                        self.started.add(key)
                    return True
                if code not in (0, 500, 502, 503):
                    raise Failure("starting %s: HTTP %d %s" % (key, code, out))
            time.sleep(0.2)
        return False

    def start_all(self, keys, spread_s, deadline):
        """Start the flows evenly over spread_s seconds in a thread."""
        def run():
            t0 = time.time()
            for n, key in enumerate(keys):
                due = t0 + spread_s * n / max(len(keys), 1)
                if due > time.time():
                    time.sleep(due - time.time())
                self.start_flow(key, deadline)
        th = threading.Thread(target=run, daemon=True)
        th.start()
        return th

    # ------------------------------------------------------------ end
    def quiet(self):
        rows = self.psql("SELECT count(*) FILTER (WHERE status = 'running'), "
                         "count(*) FILTER (WHERE status = 'waiting'), count(*) FROM instances",
                         check=False)
        if not rows:
            return False, None
        running, waiting, total = (int(x) for x in rows[0])
        return running == 0 and waiting == 0, (running, waiting, total)

    def drain(self, timeout):
        """Keep time moving until every instance is final (or failed)."""
        t0 = last = time.time()
        counts = None
        self.log("drain: waiting for every instance to end")
        while time.time() - t0 < timeout:
            done, counts = self.quiet()
            if done:
                self.log("drain: done after %.1f s" % (time.time() - t0))
                return True, counts
            if time.time() - last >= 5:
                clock = self.psql("SELECT now_us, target_us FROM settle_clock", check=False)
                self.log("drain: running/waiting/total %s, clock now/target %s"
                         % (counts, clock[0] if clock else None))
                last = time.time()
            time.sleep(0.5)
        return False, counts

    def stop_nodes(self):
        """SIGTERM every node; returns problems: a node that did not exit 0,
        and any sanitizer or allocator report in a node's log (the ASan
        build aborts on the first one; a node killed on purpose is not
        checked for its status)."""
        problems = []
        for i, p in enumerate(self.nodes):
            if p is None or p.poll() is not None:
                continue
            os.kill(p.pid, signal.SIGCONT)
            p.send_signal(signal.SIGTERM)
            try:
                rc = p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = p.wait()
            if rc != 0:
                problems.append("node %d exited with status %s on SIGTERM; see settled-%d.log"
                                % (i, rc, i))
        marks = ("runtime error:", "AddressSanitizer", "LeakSanitizer", "double free",
                 "corrupted", "Segmentation fault")
        for i in range(self.n_nodes):
            log = os.path.join(self.logdir, "settled-%d.log" % i)
            if not os.path.exists(log):
                continue
            with open(log, errors="replace") as f:
                for line in f:
                    if any(m in line for m in marks):
                        problems.append("settled-%d.log: %s" % (i, line.strip()[:300]))
                        break
        return problems

    def close(self):
        self._stop.set()
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGCONT)
                except OSError:
                    pass
                p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if getattr(self, "erp", None):
            self.erp.shutdown()
        subprocess.run([PGDEV, "destroy", "--name", self.pgname], capture_output=True)
