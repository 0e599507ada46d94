#!/usr/bin/env python3
"""reclaim.py — a node restarted under its own identity takes its work back
at once; nobody else does before the lease lapses (issue 16).

Real `settled run` processes on a fresh database of the cluster in
SETTLE_TEST_DSN, with a long lease (--lease-ttl-ms 30000) so that "at once"
and "after the lease" cannot be confused. Each flow makes STEPS `http.call`s
to a sink in this process that answers slowly, so calls are in flight when
a node is killed. The sink counts requests per Idempotency-Key: the effect
of a call is its key (the far side de-duplicates by it, as Stripe does).

  same_identity   kill -9 node "rc-a" with flows in flight, start "rc-a"
                  again: the dead row is stopped, a call goes out again well
                  within the lease (< 10 s of 30), every flow completes, and
                  every step's effect happened exactly once: one key per
                  step of every flow, none missing, none extra.
  other_identity  kill -9 node "rc-b", start node "rc-c": for 6 s (its
                  12 s lease, renewed every 4 s, runs at least 8 s more after
                  the kill) it claims nothing and no call goes out; after
                  the lease it takes the flows and they complete.
  second_process  while "rc-d" runs, a second `settled run --node rc-d`
                  exits at once with an error naming the holder's pid and
                  what to do; the first node's row stays alive. Two nodes
                  without --node on one host get different identities.

Usage: reclaim.py BUILD_DIR [CASE...]   (exit 0: every case passed)
"""
import http.server
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

BUILD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build")
SETTLED = os.path.join(BUILD, "engine", "daemon", "settled")
STEPS = 5
FLOWS = 30
LOGDIR = os.path.join(BUILD, "test-logs", "reclaim")

FLOW = """flow reclaim
input url: string
var i: int = 0
state work {
  do http.call(url: url)
  on ok -> next
  on rejected -> broken
  on failed -> broken
}
state next {
  set i = i + 1
  if i >= %d -> done
  else -> work
}
final done
fail broken "call failed"
""" % STEPS


class Failed(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise Failed(msg)


class Sink(http.server.BaseHTTPRequestHandler):
    """Answers every call after a pause; counts calls per Idempotency-Key."""
    lock = threading.Lock()
    keys = {}
    last = 0.0
    delay = 0.3

    def do_POST(self):
        self.do_GET()

    def do_GET(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        key = self.headers.get("Idempotency-Key") or ""
        with Sink.lock:
            Sink.keys[key] = Sink.keys.get(key, 0) + 1
            Sink.last = time.time()
        time.sleep(Sink.delay)
        body = b"{}"
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the caller was killed meanwhile

    def log_message(self, *args):
        pass


def psql(dsn, sql):
    r = subprocess.run(["psql", "-X", "-qAt", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d", dsn,
                        "-c", sql], capture_output=True, text=True, timeout=60)
    expect(r.returncode == 0, "psql failed: %s: %s" % (sql, r.stderr.strip()))
    return [line.split("\t") for line in r.stdout.splitlines() if line]


def scalar(dsn, sql):
    rows = psql(dsn, sql)
    return rows[0][0] if rows else None


class Db:
    """A fresh database, the flow deployed, FLOWS instances started."""

    def __init__(self, case, url):
        base = os.environ.get("SETTLE_TEST_DSN")
        expect(base, "SETTLE_TEST_DSN is not set: export SETTLE_TEST_DSN=$(tools/pgdev start "
               "--name dev --no-fsync)")
        self.name = "reclaim_%s_%d" % (case, os.getpid())
        psql(base, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.name)
        psql(base, "CREATE DATABASE %s" % self.name)
        self.base, self.dsn = base, base + " dbname=" + self.name
        self.cli("migrate")
        path = os.path.join(tempfile.mkdtemp(prefix="reclaim"), "reclaim.flow")
        with open(path, "w") as f:
            f.write(FLOW)
        self.cli("deploy", path)
        for i in range(FLOWS):
            self.cli("start", "reclaim", "--input", '{"url": "%s"}' % url, "--key", "f%d" % i)

    def cli(self, *args):
        r = subprocess.run([SETTLED] + list(args) + ["--dsn", self.dsn], capture_output=True,
                           text=True, timeout=60)
        expect(r.returncode == 0, "settled %s failed: %s" % (args[0], r.stderr.strip()))

    def drop(self):
        psql(self.base, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.name)


class Nodes:
    """settled run processes; every one started is stopped by stop_all."""

    def __init__(self, case):
        self.procs = []
        self.state_dir = tempfile.mkdtemp(prefix="reclaim-state")
        os.makedirs(LOGDIR, exist_ok=True)
        self.log = os.path.join(LOGDIR, case + ".log")
        open(self.log, "w").close()

    def start(self, dsn, node, lease_ms=30000, wait=True):
        args = [SETTLED, "run", "--dsn", dsn, "--lease-ttl-ms", str(lease_ms), "--state-dir",
                self.state_dir]
        if node is not None:
            args += ["--node", node]
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        lines = []
        if wait:
            for line in p.stderr:
                lines.append(line)
                if re.search(r"node \d+ \(.*\) started", line):
                    break
            expect(p.poll() is None, "settled run --node %s exited: %s" % (node, "".join(lines)))
            threading.Thread(target=self._drain, args=(p, lines), daemon=True).start()
        return p, lines

    def _drain(self, p, lines):
        with open(self.log, "a") as f:
            f.writelines(lines)
            for line in p.stderr:
                f.write(line)

    def kill9(self, p):
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def wait_for(what, cond, timeout):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if cond():
            return time.time() - t0
        time.sleep(0.05)
    raise Failed("%s: not within %.0f s" % (what, timeout))


def calls():
    with Sink.lock:
        return sum(Sink.keys.values())


def reset_sink():
    with Sink.lock:
        Sink.keys.clear()
        Sink.last = 0.0


def all_completed(db):
    return scalar(db.dsn, "SELECT count(*) FROM instances WHERE status = 'completed'") == str(FLOWS)


def check_effects_once(db):
    """One key per step of every flow: none missing, none made twice under
    two keys. A key sent more than once is absorbed by the far side; only
    the calls in flight at the kill (at most one per flow) may repeat."""
    with Sink.lock:
        keys = dict(Sink.keys)
    expect(len(keys) == FLOWS * STEPS,
           "%d distinct idempotency keys for %d flows x %d steps" % (len(keys), FLOWS, STEPS))
    repeated = sum(1 for n in keys.values() if n > 1)
    expect(repeated <= FLOWS, "%d keys sent more than once, more than the %d calls in flight"
           % (repeated, FLOWS))
    done = scalar(db.dsn, "SELECT count(*) FROM tasks WHERE status = 'done'")
    expect(done == str(FLOWS * STEPS), "%s done tasks, want %d" % (done, FLOWS * STEPS))


def kill_in_flight(nodes, db, p):
    """Kill p once some calls went out and flows are mid-way."""
    wait_for("first calls", lambda: calls() >= FLOWS, 60)
    nodes.kill9(p)
    expect(not all_completed(db), "flows finished before the kill; make the sink slower")


def same_identity(url):
    db, nodes = Db("same", url), Nodes("same_identity")
    try:
        p, _ = nodes.start(db.dsn, "rc-a")
        old = scalar(db.dsn, "SELECT max(id) FROM nodes")
        kill_in_flight(nodes, db, p)
        killed = time.time()
        before = calls()
        nodes.start(db.dsn, "rc-a")
        wait_for("a call after the restart", lambda: calls() > before, 25)
        print("same_identity: first call %.2f s after the restart (lease 30 s)"
              % (time.time() - killed), flush=True)
        expect(time.time() - killed < 10, "flows moved only %.1f s after the restart, lease 30 s"
               % (time.time() - killed))
        stopped = scalar(db.dsn, "SELECT stopped_at IS NOT NULL FROM nodes WHERE id = %s" % old)
        expect(stopped == "t", "the killed node's row %s was not stopped" % old)
        epochs = scalar(db.dsn, "SELECT min(lease_epoch) FROM instances")
        expect(int(epochs) >= 2, "a reclaimed instance kept its epoch (%s)" % epochs)
        wait_for("every flow completed", lambda: all_completed(db), 90)
        check_effects_once(db)
    finally:
        nodes.stop_all()
        db.drop()


def other_identity(url):
    db, nodes = Db("other", url), Nodes("other_identity")
    try:
        lease_ms = 12000
        p, _ = nodes.start(db.dsn, "rc-b", lease_ms)
        kill_in_flight(nodes, db, p)
        killed = time.time()
        nodes.start(db.dsn, "rc-c", lease_ms)
        other = scalar(db.dsn, "SELECT id FROM nodes WHERE name = 'rc-c'")
        before = calls()
        while time.time() - killed < 6:
            owned = scalar(db.dsn, "SELECT count(*) FROM instances WHERE owner_node = %s" % other)
            expect(owned == "0", "node rc-c claimed %s instances %.1f s after rc-b's kill, "
                   "before its %d ms lease lapsed" % (owned, time.time() - killed, lease_ms))
            time.sleep(0.1)
        expect(calls() == before, "calls went out before the dead node's lease lapsed")
        stopped = scalar(db.dsn, "SELECT count(*) FROM nodes WHERE name = 'rc-b' "
                         "AND stopped_at IS NOT NULL")
        expect(stopped == "0", "node rc-c stopped the row of another identity")
        wait_for("every flow completed", lambda: all_completed(db), 90)
        check_effects_once(db)
    finally:
        nodes.stop_all()
        db.drop()


def second_process(url):
    db, nodes = Db("second", url), Nodes("second_process")
    try:
        first, _ = nodes.start(db.dsn, "rc-d")
        row = scalar(db.dsn, "SELECT max(id) FROM nodes")
        t0 = time.time()
        p, _ = nodes.start(db.dsn, "rc-d", wait=False)
        try:
            rc = p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise Failed("a second `settled run --node rc-d` still runs after 10 s")
        err = p.stderr.read()
        expect(rc != 0, "the second process exited 0")
        expect(time.time() - t0 < 5, "the second process took %.1f s to give up" % (time.time() - t0))
        expect("already runs" in err and str(first.pid) in err and "--node" in err,
               "the refusal does not say what happened and what to do: %r" % err)
        expect(scalar(db.dsn, "SELECT count(*) FROM nodes") == "1",
               "the second process registered a node row")
        alive = scalar(db.dsn, "SELECT stopped_at IS NULL AND lease_until > clock_timestamp() "
                       "FROM nodes WHERE id = %s" % row)
        expect(alive == "t", "the running node's row was stopped by the refused process")
        expect(first.poll() is None, "the first node died")
        wait_for("every flow completed", lambda: all_completed(db), 90)
        a, _ = nodes.start(db.dsn, None)
        b, _ = nodes.start(db.dsn, None)
        names = psql(db.dsn, "SELECT name FROM nodes WHERE stopped_at IS NULL AND id > %s "
                     "ORDER BY id" % row)
        expect(len(names) == 2 and names[0][0] != names[1][0] and
               names[1][0] == names[0][0] + "-2",
               "two nodes without --node got %r, want the host name and host-2" % names)
    finally:
        nodes.stop_all()
        db.drop()


CASES = {"same_identity": same_identity, "other_identity": other_identity,
         "second_process": second_process}


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d/effect" % srv.server_address[1]
    failed = 0
    for name in sys.argv[2:] or list(CASES):
        reset_sink()
        try:
            CASES[name](url)
            print("ok %s" % name, flush=True)
        except Failed as e:
            failed += 1
            print("FAIL %s: %s" % (name, e), flush=True)
    srv.shutdown()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
