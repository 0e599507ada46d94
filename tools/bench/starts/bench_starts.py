#!/usr/bin/python3
"""bench_starts.py — starts per second through a real `settled run --http`.

Creates a fresh database on the benchmark cluster, migrates it and deploys
a one-input flow with the settled binary under test, runs that binary with
--http, then sends starts from C keep-alive clients (one thread and one
HTTP/1.1 connection each), either one start per request (POST
/v1/instances) or B starts per request (POST /v1/instances/batch), and
prints the starts per second from the first request sent to the last
answer received. The node executes the flows meanwhile, as it would for a
user. Every answer is checked (201 / a result per item), so an error never
passes for speed. Meant for tools/bench/alternate.py (the binary is the
only thing that changes; {build}/engine/daemon/settled):

  tools/bench/starts/bench_starts.py --settled build/engine/daemon/settled \\
      --mode single --starts 20000 --clients 50
  tools/bench/starts/bench_starts.py --settled build/engine/daemon/settled \\
      --mode batch --starts 100000 --clients 8 --batch 1000

The admin DSN comes from --dsn, $SETTLE_BENCH_DSN or $SETTLE_TEST_DSN (a
libpq key=value string; the database named in it is left alone).
"""
import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid

FLOW = """flow bench_start
input n: int
var i: int = 0
state count {
  set i = i + n
  if i >= 2 -> done
  else -> small
}
final done
final small
"""
TOKEN = "bench-start-token"


def admin(dsn, sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", dsn, "-c", sql], check=True,
                   capture_output=True)


def with_db(dsn, name):
    parts = [p for p in dsn.split() if not p.startswith("dbname=")]
    return " ".join(parts + ["dbname=" + name])


def settled(binary, dsn, *args):
    out = subprocess.run([binary, *args, "--dsn", dsn], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"settled {' '.join(args)} failed: {out.stderr}")


def start_node(binary, dsn, threads):
    env = dict(os.environ, SETTLE_API_TOKENS=TOKEN + ":write")
    cmd = [binary, "run", "--http", "127.0.0.1:0", "--dsn", dsn]
    if threads:
        cmd += ["--http-threads", str(threads)]
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True)
    line = p.stdout.readline()
    m = re.search(r"listening on [\d.]+:(\d+)", line)
    if not m:
        p.kill()
        sys.exit(f"settled run did not listen: {line!r}")
    return p, int(m.group(1))


def client(port, bodies, path, per_request, errors):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN}
    for body in bodies:
        conn.request("POST", path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        if per_request == 1:
            if r.status != 201:
                errors.append(f"{r.status} {data[:200]!r}")
        else:
            res = json.loads(data).get("results", []) if r.status == 200 else []
            bad = [x for x in res if x.get("status") != 201]
            if r.status != 200 or len(res) != per_request or bad:
                errors.append(f"{r.status} {data[:200]!r}")
    conn.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--settled", required=True)
    ap.add_argument("--dsn", default=os.environ.get("SETTLE_BENCH_DSN",
                                                    os.environ.get("SETTLE_TEST_DSN")))
    ap.add_argument("--mode", choices=["single", "batch"], default="single")
    ap.add_argument("--starts", type=int, default=20000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--http-threads", type=int, default=0)
    a = ap.parse_args()
    if not a.dsn:
        sys.exit("give --dsn or set SETTLE_BENCH_DSN")
    name = "settle_bench_starts_" + uuid.uuid4().hex[:8]
    admin(a.dsn, f"CREATE DATABASE {name}")
    dsn = with_db(a.dsn, name)
    node = None
    try:
        settled(a.settled, dsn, "migrate")
        with tempfile.NamedTemporaryFile("w", suffix=".flow") as f:
            f.write(FLOW)
            f.flush()
            settled(a.settled, dsn, "deploy", f.name)
        node, port = start_node(a.settled, dsn, a.http_threads)
        per = 1 if a.mode == "single" else a.batch
        item = '{"flow":"bench_start","inputs":{"n":%d}}'
        reqs = []
        for k in range(0, a.starts, per):
            items = [item % ((k + j) % 3) for j in range(min(per, a.starts - k))]
            reqs.append(items[0] if per == 1 else '{"items":[' + ",".join(items) + "]}")
        path = "/v1/instances" if per == 1 else "/v1/instances/batch"
        shards = [reqs[i::a.clients] for i in range(a.clients)]
        errors = []
        threads = [threading.Thread(target=client, args=(port, s, path, per, errors))
                   for s in shards if s]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        if errors:
            sys.exit(f"{len(errors)} requests failed, first: {errors[0]}")
        print(f"{a.mode}: {a.starts} starts, {a.clients} clients"
              f"{'' if per == 1 else f', {per} per request'}: "
              f"{a.starts / wall:.0f} starts/s ({wall:.2f} s)")
    finally:
        if node:
            node.terminate()
            try:
                node.wait(timeout=30)
            except subprocess.TimeoutExpired:
                node.kill()
        admin(a.dsn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
