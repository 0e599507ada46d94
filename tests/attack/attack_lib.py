"""attack_lib.py — the machinery of the attack suite (tests/attack/attack.py).

Starts a real `settled run --clock virtual --http` on a fresh, migrated
database of the cluster in SETTLE_TEST_DSN, talks raw HTTP to it over
sockets (so requests can be malformed, oversize or carry any bytes), reads
the database through one long-lived psql process, signs Stripe webhooks,
and records every check's result.

Invariants: the secrets and tokens below are the only ones the suite
configures; they never appear in a log the suite writes (the secrets
check, tests/secrets, scans test-logs/attack/ for them). settled's stderr
goes to $SETTLE_BINARY_DIR/test-logs/attack/settled.log. Everything the
suite starts is stopped and its database dropped on exit.
"""
import hashlib
import hmac
import json
import os
import re
import select
import socket
import subprocess
import sys
import time

# Fixed, recognisable values: tests/secrets/scan_secrets.py knows them.
WEBHOOK_SECRET = "whsec_settle_attack_5f0c1e2d3a4b9c8d"
WEBHOOK_SECRET_OLD = "whsec_settle_attack_old_77aa66bb"
TOKEN_WRITE = "tok_settle_attack_write_8c1d2e3f4a5b"
TOKEN_READ = "tok_settle_attack_read_3e9f0a1b2c3d"
STRIPE_KEY = "sk_test_settle_attack_0f1e2d3c4b5a"
SECRETS = (WEBHOOK_SECRET, WEBHOOK_SECRET_OLD, TOKEN_WRITE, TOKEN_READ, STRIPE_KEY)


class Failed(Exception):
    """One expectation did not hold; the message says which and why."""


def expect(cond, msg):
    if not cond:
        raise Failed(msg)


# ---- database ------------------------------------------------------------


class Psql:
    """One psql process; query() sends SQL and reads rows until a marker."""

    MARK = "__attack_end__"

    def __init__(self, dsn):
        self.p = subprocess.Popen(["psql", "-X", "-qAt", "-F", "\t", "-v", "ON_ERROR_STOP=0",
                                   "-d", dsn], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                                  errors="surrogateescape")

    def query(self, sql):
        self.p.stdin.write(sql.rstrip().rstrip(";") + ";\n\\echo " + self.MARK + "\n")
        self.p.stdin.flush()
        lines = []
        while True:
            line = self.p.stdout.readline()
            expect(line != "", "psql ended unexpectedly")
            line = line.rstrip("\n")
            if line == self.MARK:
                break
            lines.append(line)
        for line in lines:
            expect(not line.startswith(("ERROR:", "psql:")), "query failed: %s: %s" % (sql, line))
        return [line.split("\t") for line in lines]

    def one(self, sql):
        rows = self.query(sql)
        return rows[0][0] if rows else None

    def close(self):
        self.p.stdin.close()
        self.p.wait(10)


# Everything a request could store, as counts and digests of the contents.
SNAPSHOT_SQL = """
SELECT json_build_object(
 'instances', (SELECT count(*) FROM instances),
 'instances_md5', (SELECT md5(coalesce(string_agg(concat_ws('|', id, flow, status, seq,
     vars::text, business_key, state_name), ',' ORDER BY id), '')) FROM instances),
 'history', (SELECT count(*) FROM history),
 'tasks', (SELECT count(*) FROM tasks),
 'signals', (SELECT count(*) FROM signals),
 'signals_md5', (SELECT md5(coalesce(string_agg(concat_ws('|', id, instance_id, name,
     payload::text, source, corr_key, corr_value), ',' ORDER BY id), '')) FROM signals),
 'webhook_events', (SELECT count(*) FROM webhook_events),
 'webhook_md5', (SELECT md5(coalesce(string_agg(concat_ws('|', event_id, type, payload::text),
     ',' ORDER BY event_id), '')) FROM webhook_events),
 'correlations', (SELECT count(*) FROM correlations),
 'flow_counts', (SELECT coalesce(sum(n), 0) FROM flow_counts),
 'programs', (SELECT count(*) FROM programs),
 'flows', (SELECT md5(coalesce(string_agg(name || current_hash, ',' ORDER BY name), ''))
     FROM flows),
 'clock', (SELECT coalesce(string_agg(target_us::text, ','), '') FROM settle_clock))
"""


def snapshot(db):
    return json.loads(db.one(SNAPSHOT_SQL))


def diff(before, after):
    return ", ".join("%s %s -> %s" % (k, before[k], after[k]) for k in before
                     if before[k] != after.get(k))


# ---- raw HTTP ------------------------------------------------------------


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body
        try:
            self.json = json.loads(body.decode("utf-8")) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "%d %s" % (self.status, self.body[:300])


def _read_reply(sock, deadline):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = _recv(sock, deadline)
        if not chunk:
            raise Failed("connection closed before a reply (%d bytes read)" % len(buf))
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(rest) < n:
            chunk = _recv(sock, deadline)
            if not chunk:
                break
            rest += chunk
        body = rest[:n]
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = _recv(sock, deadline)
            if not chunk:
                break
            rest += chunk
        body, data = b"", rest
        while data:
            size_line, _, data = data.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            body, data = body + data[:size], data[size + 2:]
    else:
        while True:
            chunk = _recv(sock, deadline)
            if not chunk:
                break
            rest += chunk
        body = rest
    return Reply(status, headers, body)


def _recv(sock, deadline):
    left = deadline - time.monotonic()
    if left <= 0:
        raise Failed("no reply within the time limit")
    r, _, _ = select.select([sock], [], [], left)
    if not r:
        raise Failed("no reply within the time limit")
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        return b""


def raw(port, data, timeout=20.0):
    """Send bytes as they are; return the parsed reply."""
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (413) and close before reading it all
        return _read_reply(s, deadline)


def _b(v):
    return v if isinstance(v, bytes) else v.encode("utf-8")


def request(port, method, path, body=None, headers=None, ctype="application/json",
            token=None, chunked=False):
    """An HTTP/1.1 request; str or bytes everywhere, dict bodies become JSON."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    body = _b(body) if body is not None else b""
    hdr = [b"%s %s HTTP/1.1" % (_b(method), _b(path)), b"Host: 127.0.0.1",
           b"Connection: close"]
    if token is not None:
        hdr.append(b"Authorization: Bearer " + _b(token))
    if ctype is not None and (body or method == "POST"):
        hdr.append(b"Content-Type: " + _b(ctype))
    for k, v in (headers or {}).items():
        hdr.append(_b(k) + b": " + _b(v))
    if chunked:
        hdr.append(b"Transfer-Encoding: chunked")
        payload = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 65536]), body[i:i + 65536])
                           for i in range(0, len(body), 65536)) + b"0\r\n\r\n"
    else:
        hdr.append(b"Content-Length: %d" % len(body))
        payload = body
    return raw(port, b"\r\n".join(hdr) + b"\r\n\r\n" + payload)


def sign(payload, secret=WEBHOOK_SECRET, t=None):
    t = int(time.time()) if t is None else t
    mac = hmac.new(_b(secret), b"%d." % t + _b(payload), hashlib.sha256).hexdigest()
    return "t=%d,v1=%s" % (t, mac)


def webhook(port, payload, sig=None, **kw):
    payload = _b(payload if not isinstance(payload, dict) else json.dumps(payload))
    headers = kw.pop("headers", {})
    if sig is None:
        sig = sign(payload)
    if sig is not False:
        headers["Stripe-Signature"] = sig
    return request(port, "POST", "/webhooks/stripe", payload, headers=headers, **kw)


def event(evt_id, typ="invoice.paid", obj=None):
    return {"id": evt_id, "object": "event", "type": typ,
            "data": {"object": obj if obj is not None else {"id": "in_none", "object": "invoice"}}}


# ---- the stack ------------------------------------------------------------


class Stack:
    """A fresh database and a settled run --http on it."""

    def __init__(self, build, source, logdir):
        self.build, self.source, self.logdir = build, source, logdir
        self.settled_bin = os.path.join(build, "engine", "daemon", "settled")
        self.settlectl_bin = os.path.join(build, "tools", "settlectl", "settlectl")
        base = os.environ.get("SETTLE_TEST_DSN")
        expect(base, "SETTLE_TEST_DSN is not set: export SETTLE_TEST_DSN=$(tools/pgdev start "
               "--name dev --no-fsync) (tools/test does this)")
        self.base_dsn = base
        self.dbname = "attack_%d_%d" % (os.getpid(), int(time.time()))
        self.dsn = base + " dbname=" + self.dbname
        self.proc = None
        self.port = None
        self.db = None

    def start(self, flow_file):
        admin = Psql(self.base_dsn)
        admin.query("CREATE DATABASE " + self.dbname)
        admin.close()
        self.db = Psql(self.dsn)
        self.cli("settled", "migrate", check=True)
        self.cli("settled", "deploy", flow_file, check=True)
        env = dict(os.environ, SETTLE_WEBHOOK_SECRETS=WEBHOOK_SECRET + "," + WEBHOOK_SECRET_OLD,
                   SETTLE_API_TOKENS=TOKEN_WRITE + ":write," + TOKEN_READ + ":read",
                   STRIPE_API_KEY=STRIPE_KEY, STRIPE_API_BASE="http://127.0.0.1:9")
        env.pop("SETTLE_DSN", None)
        os.makedirs(self.logdir, exist_ok=True)
        self.log_path = os.path.join(self.logdir, "settled.log")
        self.proc = subprocess.Popen([self.settled_bin, "run", "--dsn", self.dsn, "--clock",
                                      "virtual", "--node", "attack", "--http", "127.0.0.1:0"],
                                     stdout=subprocess.PIPE, stderr=open(self.log_path, "w"),
                                     env=env, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on [0-9.]+:(\d+)", line)
        expect(m, "settled did not start (see %s): %r" % (self.log_path, line))
        self.port = int(m.group(1))
        for _ in range(200):
            if request(self.port, "GET", "/readyz").status == 200:
                return
            time.sleep(0.05)
        raise Failed("settled never became ready")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cli(self, prog, *args, check=False, env=None):
        """Run settled or settlectl with the suite's DSN; (rc, stdout, stderr) as bytes."""
        binary = self.settled_bin if prog == "settled" else self.settlectl_bin
        argv = [binary] + [_b(a) for a in args] + [b"--dsn", _b(self.dsn)]
        e = dict(os.environ)
        e.pop("SETTLE_DSN", None)
        e.update(env or {})
        out = subprocess.run(argv, capture_output=True, env=e, timeout=60)
        expect(b"Sanitizer" not in out.stderr and b"runtime error:" not in out.stderr,
               "%s %s: a sanitizer report: %s" % (prog, args[0], out.stderr[-1500:]))
        if check:
            expect(out.returncode == 0, "%s %s failed (%d): %s" % (
                prog, args[0], out.returncode, out.stderr.decode("utf-8", "replace")))
        return out.returncode, out.stdout, out.stderr

    def stop(self):
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    rc = self.proc.wait(20)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            else:
                rc = self.proc.returncode
        if self.db is not None:
            self.db.close()
        try:
            admin = Psql(self.base_dsn)
            admin.query("DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.dbname)
            admin.close()
        except Failed:
            pass
        return rc


# ---- results ------------------------------------------------------------


class Results:
    def __init__(self):
        self.passed, self.failed = 0, []

    def check(self, name, fn, *args):
        try:
            fn(*args)
            self.passed += 1
        except Failed as e:
            self.fail(name, str(e))
        except Exception as e:  # a bug in the test or a dead server: report and go on
            self.fail(name, "%s: %s" % (type(e).__name__, e))

    def fail(self, name, msg):
        for s in SECRETS:  # the test's own output is a log too
            msg = msg.replace(s, "[REDACTED]")
        self.failed.append(name)
        print("FAIL %s: %s" % (name, msg[:1500]), flush=True)
