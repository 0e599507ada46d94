"""test_demo_lifecycle.py SOURCE_DIR — the demo cleans up after itself.

Two runs of tools/demo (with the test's build, SETTLE_BINARY_DIR):

1. Ctrl-C mid-run: the demo runs in its own process group, like a shell
   job; once simulated days are passing, SIGINT goes to the whole group as
   a terminal's Ctrl-C would. The demo must exit 130, and no process it
   started (stripe-sim, settled, the SMTP sink, the PostgreSQL server of its
   cluster) may survive; its cluster folder must be gone.
2. --keep: after the summary it prints how to point settlectl at the
   running system; the test runs exactly the printed settlectl command
   (with the printed SETTLE_DSN) and expects the dunning flows in its
   output, and the printed curl command (the API token read from a file,
   never printed), then stops the demo with SIGTERM to the demo process
   alone and checks the same cleanup.
"""
import os
import re
import shlex
import signal
import subprocess
import sys
import time

SRC = os.path.abspath(sys.argv[1])
PGDEV_BASE = os.environ.get("SETTLE_PGDEV_DIR") or os.path.join(SRC, ".run", "pgdev")
failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what, flush=True)
    if not cond:
        failures.append(what)


def descendants(root):
    """Pids whose parent chain reaches root, from /proc."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    parent[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    out, frontier = set(), {root}
    while frontier:
        frontier = {p for p, pp in parent.items() if pp in frontier} - out
        out |= frontier
    return out


def cluster_pids(name):
    """Processes whose command line names the cluster's folder (postgres)."""
    folder = os.path.join(PGDEV_BASE, name)
    pids = set()
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    if folder.encode() in f.read():
                        pids.add(int(d))
            except OSError:
                pass
    return pids


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def start_demo(name, args):
    env = dict(os.environ, SETTLE_DEMO_NAME=name)
    return subprocess.Popen([os.path.join(SRC, "tools", "demo"), *args], cwd=SRC, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def read_until(p, pattern, timeout, seen):
    """Lines of p's output until one matches pattern (None on EOF/timeout)."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        line = p.stdout.readline()
        if not line:
            return None
        seen.append(line)
        sys.stdout.write("  | " + line)
        m = re.search(pattern, line)
        if m:
            return m
    return None


def expect_clean(p, name, watched, want_rc, label):
    try:
        rc = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = None
    for line in p.stdout:
        sys.stdout.write("  | " + line)
    check(rc == want_rc, "%s: demo exited %r (want %d)" % (label, rc, want_rc))
    time.sleep(0.5)
    survivors = sorted(pid for pid in watched if alive(pid))
    check(not survivors, "%s: none of its %d processes survive %s"
          % (label, len(watched), survivors or ""))
    check(not cluster_pids(name), "%s: no process of cluster %s is left" % (label, name))
    check(not os.path.exists(os.path.join(PGDEV_BASE, name)),
          "%s: the cluster folder %s is gone" % (label, os.path.join(PGDEV_BASE, name)))
    check(not os.path.exists(os.path.join(SRC, ".run", name, "api_token")),
          "%s: the API token file is gone" % label)


def ctrl_c_mid_run():
    name = "demo-int-%d" % os.getpid()
    p = start_demo(name, ["--customers", "60", "--days", "30", "--seed", "3"])
    seen = []
    m = read_until(p, r"^day +3/30", 240, seen)
    check(m is not None, "ctrl-c: the demo reached simulated day 3")
    watched = descendants(p.pid) | cluster_pids(name)
    names = set()
    for q in watched:
        try:
            with open("/proc/%d/cmdline" % q, "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        names.add(os.path.basename(argv[1] if "python" in argv[0] else argv[0]))
    check({"stripe-sim", "settled", "postgres", "smtp_sink.py"} <= names,
          "ctrl-c: stripe-sim, settled, the SMTP sink and postgres run (%s)"
          % ", ".join(sorted(names)))
    os.killpg(p.pid, signal.SIGINT)
    expect_clean(p, name, watched, 130, "ctrl-c")


def keep_then_settlectl():
    name = "demo-keep-%d" % os.getpid()
    p = start_demo(name, ["--customers", "12", "--days", "3", "--seed", "5", "--keep"])
    seen = []
    m = read_until(p, r"^\s+export SETTLE_DSN='([^']+)'", 240, seen)
    check(m is not None, "keep: the demo printed export SETTLE_DSN=...")
    cmd = read_until(p, r"^\s+(\S*settlectl) stats$", 10, seen)
    check(cmd is not None, "keep: the demo printed the settlectl command")
    watched = descendants(p.pid) | cluster_pids(name)
    if m and cmd:
        env = dict(os.environ, SETTLE_DSN=m.group(1))
        out = subprocess.run(shlex.split(cmd.group(0).strip()), cwd=SRC, env=env,
                             capture_output=True, text=True, timeout=60)
        print(out.stdout + out.stderr)
        check(out.returncode == 0 and re.search(r"^\s+dunning\s+\S+\s+\d+", out.stdout, re.M),
              "keep: the printed settlectl command shows the dunning flows (exit %d)"
              % out.returncode)
    curl = read_until(p, r"^\s+(curl -H .*)$", 10, seen)
    if check(curl is not None, "keep: the demo printed how to reach the flow API"):
        out = subprocess.run(["bash", "-c", curl.group(1) + " -sf"], cwd=SRC,
                             capture_output=True, text=True, timeout=60)
        check(out.returncode == 0 and '"data"' in out.stdout,
              "keep: the printed curl command lists instances (exit %d)" % out.returncode)
    check(not any(re.search(r"demo-[0-9a-f]{24}", line) for line in seen),
          "keep: the API token is not printed")
    time.sleep(1)
    check(p.poll() is None, "keep: everything still runs after the summary")
    p.send_signal(signal.SIGTERM)
    expect_clean(p, name, watched, 143, "keep")


ctrl_c_mid_run()
keep_then_settlectl()
print("%d failure(s)" % len(failures))
sys.exit(1 if failures else 0)
