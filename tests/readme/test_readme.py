"""test_readme.py SOURCE_DIR BINARY_DIR [--section TITLE] — README.md is
accurate to the letter: every command it shows runs, and the settlectl
session it prints is what settlectl prints.

The commands are read from README.md itself, so the test cannot drift from
the text: every line of a ```sh block and every `$ command` line of an
output block is a command. Each must be run by this test, or be listed in
ALLOW with the file and text that show which other test runs it (checked);
an ALLOW entry the README no longer shows fails too. ```flow blocks must
compile and equal the file they are said to be.

Sandbox: the test enters a network namespace of its own (unshare --net),
so the README's fixed ports (8080) cannot collide with anything; pgdev
clusters live in a temporary SETTLE_PGDEV_DIR; HOME is a temporary folder.
Commands run from SOURCE_DIR with BINARY_DIR/tools/settlectl on PATH (the
README shows `settlectl` as installed). The only rewrite of a command is
`build` (the README's build folder) -> BINARY_DIR, in paths and in
`cmake -B build` / `--build build`. uuids and timestamps in printed output
may differ from the README's; the README's instance ids in a command are
replaced by the ids of the instances in the same place of the real output.

--section TITLE runs only that README section (readme_bench runs the
benchmarks); without it every section except those in OTHER_TESTS runs.
"""
import fcntl
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

SRC, BIN = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
ONLY = sys.argv[sys.argv.index("--section") + 1] if "--section" in sys.argv else None

# Commands another test runs: command -> (file, text in that file proving it).
ALLOW = {
    "tools/demo     # the main job: a month of failed renewals won back, in a minute or two":
        ("tests/demo/CMakeLists.txt", '/tools/demo --customers 40'),
    "tools/test     # the whole test suite: normal + sanitizer builds, fuzzing, every test":
        (".ci/run", "tools/test"),
}
# Whole sections another CTest test runs with --section.
OTHER_TESTS = {"Benchmarks": ("tests/readme/CMakeLists.txt", "--section Benchmarks")}

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Ids that differ from run to run (each README id stands for one real id):
# instance uuids, Program hashes (full or shortened), Stripe object ids,
# task row ids in a repair's detail.
ID = UUID + r"|\b[0-9a-f]{8}(?:[0-9a-f]{4}|[0-9a-f]{56})?\b|\b(?:in|cus|pi|pm|ch)_[A-Za-z0-9]+" \
    + r'|(?<="task": )\d+'
TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
LATENCY = r"\[\d+ ms\]"
failures = []
executed = set()


T0 = time.time()


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + "[%3.0f s] " % (time.time() - T0) + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def enter_sandbox_netns():
    """Re-run this script in a network namespace of its own, loopback up."""
    if os.environ.get("SETTLE_README_NETNS") == "1":
        # ip link set lo up, without needing iproute2: SIOCGIFFLAGS/SIOCSIFFLAGS.
        ifreq = "16sH22x"  # struct ifreq: name, flags, padding to 40 bytes
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            got = fcntl.ioctl(s, 0x8913, struct.pack(ifreq, b"lo", 0))
            flags = struct.unpack(ifreq, got)[1]
            fcntl.ioctl(s, 0x8914, struct.pack(ifreq, b"lo", flags | 1))  # IFF_UP
        return
    env = dict(os.environ, SETTLE_README_NETNS="1")
    args = ["unshare", "--net"] if os.geteuid() == 0 else \
        ["unshare", "--user", "--map-current-user", "--net"]
    os.execvpe(args[0], args + [sys.executable] + sys.argv, env)


# ---- README parsing -------------------------------------------------------

def parse_readme(path):
    """Blocks as dicts: section, lang, line, text lines."""
    blocks, section, cur = [], "", None
    for n, line in enumerate(open(path).read().split("\n"), 1):
        if cur is None:
            if line.startswith("## "):
                section = line[3:].strip()
            elif line.startswith("```"):
                cur = {"section": section, "lang": line[3:].strip(), "line": n + 1, "lines": []}
        elif line.startswith("```"):
            blocks.append(cur)
            cur = None
        else:
            cur["lines"].append(line)
    return blocks


def logical_lines(lines):
    """Join backslash continuations."""
    out, acc = [], ""
    for line in lines:
        if line.endswith("\\"):
            acc += line[:-1] + " "
            continue
        out.append(acc + line)
        acc = ""
    return out


def sh_commands(block):
    return [c for c in logical_lines(block["lines"])
            if c.strip() and not c.lstrip().startswith("#")]


def session(block):
    """An output block as [(command, expected output lines)]."""
    steps, lines = [], logical_lines(block["lines"])
    for line in lines:
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
    return steps


def readme_commands(blocks):
    cmds = []
    for b in blocks:
        if b["lang"] == "sh":
            cmds += [(b["section"], c) for c in sh_commands(b)]
        elif b["lang"] == "":
            cmds += [(b["section"], c) for c, _ in session(b)]
    return cmds


# ---- running commands -----------------------------------------------------

def mapped(cmd):
    """The one rewrite: the README's build folder is this test's build."""
    return re.sub(r"(?<![\w./-])build(?=/|\s|$)", BIN, cmd)


class Sandbox:
    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="settle-readme-")
        os.chmod(self.root, 0o755)  # pgdev hands cluster folders to postgres
        self.home = os.path.join(self.root, "home")
        os.makedirs(self.home)
        # Logs of the processes the test starts, where tests/secrets looks.
        self.logs = os.path.join(BIN, "test-logs", "readme" if not ONLY else "readme-bench")
        shutil.rmtree(self.logs, ignore_errors=True)
        os.makedirs(self.logs)
        self.env = dict(os.environ, HOME=self.home,
                        SETTLE_PGDEV_DIR=os.path.join(self.root, "pgdev"),
                        SETTLE_DEMO_NAME="demo-readme-%d" % os.getpid(),
                        SETTLE_BINARY_DIR=BIN,
                        PATH=os.path.join(BIN, "tools", "settlectl") + ":" + os.environ["PATH"])
        for k in ("SETTLE_DSN", "STRIPE_API_KEY", "STRIPE_API_BASE", "SETTLE_WEBHOOK_SECRETS",
                  "SETTLE_API_TOKENS"):
            self.env.pop(k, None)

    def script(self, cmds, epilogue="", env_out=None):
        """A bash script running cmds in order, stopping at the first that fails
        (a command ending in & is started in the background)."""
        parts = ["cd %s" % shq(SRC)]
        for c in cmds:
            executed.add(c)
            m = mapped(c)
            if re.search(r"&\s*(#.*)?$", m):
                parts.append(m)
            else:
                parts.append("%s\nrc=$?; if [ $rc != 0 ]; then echo 'README command failed "
                             "('$rc'): '%s >&2; exit 1; fi" % (m, shq(c)))
        if env_out:
            parts.append("env -0 > %s" % shq(env_out))
        parts.append(epilogue)
        return "\n".join(parts) + "\n"

    def run(self, cmds, epilogue="", timeout=300, env=None):
        env_out = os.path.join(self.root, "env-%d" % len(executed))
        p = subprocess.run(["bash", "-c", self.script(cmds, epilogue, env_out)],
                           env=env or self.env, capture_output=True, text=True,
                           timeout=timeout)
        sys.stdout.write(indent(p.stdout + p.stderr))
        out_env = {}
        if os.path.exists(env_out):
            for kv in open(env_out).read().split("\0"):
                if "=" in kv:
                    k, v = kv.split("=", 1)
                    out_env[k] = v
        return p, out_env

    def destroy(self):
        base = self.env["SETTLE_PGDEV_DIR"]
        for name in (os.listdir(base) if os.path.isdir(base) else []):
            subprocess.run([os.path.join(SRC, "tools", "pgdev"), "destroy", "--name", name],
                           env=self.env, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def shq(s):
    return "'" + s.replace("'", "'\\''") + "'"


def indent(text):
    return "".join("  | " + line + "\n" for line in text.splitlines())


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, str(e)


def wait_ready(url, timeout=30):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if http("GET", url)[0] == 200:
            return True
        time.sleep(0.1)
    return False


# ---- comparing printed output ---------------------------------------------

def line_matcher(expected, idmap):
    """A regex for one README output line; uuids already mapped must match
    their mapped id, new ones are captured; timestamps match any."""
    parts, names, pos = [], [], 0
    for m in re.finditer("(%s)|(%s)|(%s)" % (TIME, LATENCY, ID), expected):
        parts.append(re.escape(expected[pos:m.start()]))
        if m.group(1):
            parts.append(TIME)
        elif m.group(2):
            parts.append(LATENCY)
        elif m.group(3) in idmap:
            parts.append(re.escape(idmap[m.group(3)]))
        else:
            v = m.group(3)
            kind = re.escape(v.split("_")[0]) + r"_[A-Za-z0-9]+" if "_" in v else \
                UUID if "-" in v else r"\d+" if expected[:m.start()].endswith('"task": ') \
                else "[0-9a-f]{%d}" % len(v)
            parts.append("(%s)" % kind)
            names.append(m.group(3))
        pos = m.end()
    parts.append(re.escape(expected[pos:]))
    return re.compile("".join(parts) + r"\Z"), names


def match_lines(exp, act, idmap):
    """exp against act; a line '...' stands for any number of lines. Returns
    the extended idmap, or None."""
    if not exp:
        return idmap if not act else None
    if exp[0] == "...":
        for skip in range(len(act) + 1):
            got = match_lines(exp[1:], act[skip:], idmap)
            if got is not None:
                return got
        return None
    if not act:
        return None
    rx, names = line_matcher(exp[0], idmap)
    m = rx.match(act[0])
    if not m:
        return None
    new = dict(idmap)
    for name, got in zip(names, m.groups()):
        if got in new.values() and new.get(name) != got:
            return None  # two README ids for one real instance
        new[name] = got
    return match_lines(exp[1:], act[1:], new)


def run_session(sb, block, idmap, env, cwd=SRC, hooks=None, quiet=None):
    """Run an output block's $ commands; compare what they print. hooks:
    {command prefix: fn} run before the first such command (the story
    between two commands); quiet() waits for the engine after each one. A
    command commented `# (... last lines)` is compared with its last lines."""
    for cmd, expected in session(block):
        executed.add(cmd)
        for prefix, fn in list((hooks or {}).items()):
            if cmd.startswith(prefix):
                fn()
                del hooks[prefix]
        ids = re.findall(UUID, cmd)
        if not check(all(i in idmap for i in ids), "session: ids in `%s` are known" % cmd):
            continue
        real = re.sub(UUID, lambda m: idmap[m.group(0)], cmd)
        p = subprocess.run(["bash", "-c", "cd %s && %s" % (shq(cwd), mapped(real))], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=60)
        if quiet:
            quiet()
        exp = list(expected)
        while exp and not exp[-1].strip():
            exp.pop()
        want_rc = 0
        if exp and re.fullmatch(r"\[exit \d+\]", exp[-1]):
            want_rc = int(exp.pop()[6:-1])
        act = p.stdout.rstrip("\n").split("\n") if p.stdout.strip() else []
        if re.search(r"#.*last lines", cmd):
            exp = ["..."] + exp + ["..."]  # a stretch of the output
        got = match_lines(exp, act, idmap)
        ok = check(got is not None and p.returncode == want_rc,
                   "session: `%s` prints what the README shows (exit %d, want %d)"
                   % (cmd[:70], p.returncode, want_rc))
        if not ok:
            print("  README:\n" + indent("\n".join(exp)) + "  actual:\n" + indent(p.stdout))
        else:
            idmap.update(got)
        if not quiet:
            time.sleep(0.3)  # let the node pick up a repair before the next look


# ---- the sections ---------------------------------------------------------

def section_flow(sb, blocks):
    for b in blocks:
        if b["lang"] == "flow":
            text = "\n".join(b["lines"]) + "\n"
            m = re.search(r"\[[^]]*\]\((docs/examples/[\w.-]+\.flow)\)",
                          open(os.path.join(SRC, "README.md")).read())
            path = os.path.join(SRC, m.group(1)) if m else None
            check(path and os.path.exists(path) and open(path).read() == text,
                  "flow block (README line %d) is exactly %s" % (b["line"], path))
            tmp = os.path.join(sb.root, "block.flow")
            open(tmp, "w").write(text)
            p = subprocess.run([os.path.join(BIN, "tools", "settlec", "settlec"), "--check",
                                "--Werror", tmp], capture_output=True, text=True)
            check(p.returncode == 0, "flow block compiles with --Werror " + p.stderr)
    for b in blocks:
        if b["lang"] == "sh":
            p, _ = sb.run(sh_commands(b), timeout=240)
            check(p.returncode == 0 and "invoices failed" in p.stdout,
                  "the custom-flow commands run and the demo prints its summary")


def section_by_hand(sb, blocks):
    (b,) = [b for b in blocks if b["lang"] == "sh"]
    epilogue = """
pid=$! ready=0
for i in $(seq 300); do
    curl -sf http://127.0.0.1:8080/readyz && { ready=1; break; }
    sleep 0.1
done
kill -TERM $pid; wait $pid; rc=$?
[ $ready = 1 ] || { echo 'settled --http 8080 never got ready' >&2; exit 1; }
echo "settled exited $rc after SIGTERM"; exit $rc
"""
    p, env = sb.run(sh_commands(b), epilogue)
    check(p.returncode == 0 and "settled exited 0" in p.stdout,
          "by hand: build, pgdev, migrate, deploy, run --http 8080, SIGTERM stops it cleanly")
    return env


def children(pid):
    try:
        return [int(c) for c in open("/proc/%d/task/%d/children" % (pid, pid)).read().split()]
    except OSError:
        return []


def section_stripe(sb, blocks, env):
    (b,) = [b for b in blocks if b["lang"] == "sh"]
    secrets = {"stripe_key": "sk_test_readme" + os.urandom(8).hex(),
               "webhook_secrets": "whsec_readme" + os.urandom(8).hex(),
               "api_tokens": "tok" + os.urandom(8).hex()}
    os.makedirs(os.path.join(sb.home, ".settle"), mode=0o700)
    for name, value in secrets.items():
        with open(os.path.join(sb.home, ".settle", name), "w") as f:
            f.write(value + (":write" if name == "api_tokens" else "") + "\n")
    env = dict(sb.env, SETTLE_DSN=env["SETTLE_DSN"])
    out = open(os.path.join(sb.logs, "stripe.log"), "w+")
    p = subprocess.Popen(["bash", "-c", sb.script(sh_commands(b))], env=env, stdout=out,
                         stderr=subprocess.STDOUT)
    try:
        base = "http://127.0.0.1:8080"
        check(wait_ready(base + "/readyz"), "stripe: settled answers /readyz on 8080")
        event = json.dumps({"id": "evt_readme_1", "object": "event", "type": "invoice.paid",
                            "created": int(time.time()), "data": {"object": {
                                "id": "in_readme_1", "object": "invoice"}}}).encode()
        t = int(time.time())
        sig = hmac.new(secrets["webhook_secrets"].encode(), b"%d." % t + event,
                       hashlib.sha256).hexdigest()
        hdr = {"Content-Type": "application/json"}
        good = http("POST", base + "/webhooks/stripe", event,
                    dict(hdr, **{"Stripe-Signature": "t=%d,v1=%s" % (t, sig)}))
        bad = http("POST", base + "/webhooks/stripe", event,
                   dict(hdr, **{"Stripe-Signature": "t=%d,v1=%s" % (t, "0" * 64)}))
        old = http("POST", base + "/webhooks/stripe", event, dict(hdr, **{
            "Stripe-Signature": "t=%d,v1=%s" % (t - 301, hmac.new(
                secrets["webhook_secrets"].encode(), b"%d." % (t - 301) + event,
                hashlib.sha256).hexdigest())}))
        check(good[0] == 200, "stripe: a webhook signed with the secret file's whsec_ is "
                              "accepted (%d)" % good[0])
        check(bad[0] == 400 and old[0] == 400,
              "stripe: a wrong or 301 s old signature is refused with 400 (%d, %d)"
              % (bad[0], old[0]))
        tok = {"Authorization": "Bearer " + secrets["api_tokens"]}
        check(http("GET", base + "/v1/instances", headers=tok)[0] == 200 and
              http("GET", base + "/v1/instances")[0] == 401,
              "stripe: the flow API takes the token file's token and refuses none")
    finally:
        for c in children(p.pid):
            os.kill(c, signal.SIGTERM)
        rc = p.wait(timeout=30)
    out.seek(0)
    log = out.read()
    sys.stdout.write(indent(log))
    check(rc == 0, "stripe: settled ran with the README's environment and stopped cleanly")
    leaked = [k for k, v in secrets.items() if v in log]
    check(not leaked, "stripe: no secret appears in settled's output %s" % (leaked or ""))



def start_sim(sb):
    sim = subprocess.Popen([os.path.join(BIN, "tools", "stripe-sim", "stripe-sim"), "--port", "0",
                            "--seed", "1", "--frozen-clock", "--quiet"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = sim.stdout.readline()
    check("listening on" in line, "operating: stripe-sim started")
    return sim, "http://" + line.split()[-1]


def start_node(env, key, sim_url, log):
    return subprocess.Popen([os.path.join(BIN, "engine", "daemon", "settled"), "run", "--clock",
                             "virtual"],
                            env=dict(env, STRIPE_API_BASE=sim_url, STRIPE_API_KEY=key),
                            stdout=log, stderr=log)


def stuck_count(env):
    p = subprocess.run(["settlectl", "--json", "stuck"], env=env, capture_output=True, text=True)
    try:
        return json.loads(p.stdout)["count"]
    except (ValueError, KeyError):
        return -1


def section_operating(sb, blocks, env):
    """The README's scenario for real: three dunning flows fail with Stripe's
    401 because settled runs with a rotated live key; settled is restarted
    with the right key; then the README's settlectl session runs."""
    env = dict(sb.env, SETTLE_DSN=env["SETTLE_DSN"])
    settled = os.path.join(BIN, "engine", "daemon", "settled")
    subprocess.run([settled, "deploy", os.path.join(SRC, "workflows", "dunning.flow")],
                   env=env, check=True, capture_output=True)
    sim, sim_url = start_sim(sb)
    log = open(os.path.join(sb.logs, "operating.log"), "w")
    node = None
    try:
        tsv = "".join("c%d@example.com\tpm_card_visa\t4900\teur\tDE\t0\tinsufficient_funds"
                      "\tpayday=15\n" % i for i in range(1, 4))
        req = urllib.request.Request(sim_url + "/_sim/book", method="POST",
                                     data=urllib.parse.urlencode({"tsv": tsv}).encode())
        book = json.loads(urllib.request.urlopen(req, timeout=10).read())["created"]
        node = start_node(env, "sk_live_" + "x" * 20 + "R0t8", sim_url, log)
        for i, c in enumerate(book, 1):
            inputs = {"invoice": c["invoice"], "customer": c["customer"],
                      "email": "c%d@example.com" % i, "amount": {"minor": 4900, "currency": "eur"}}
            subprocess.run([settled, "start", "dunning", "--input", json.dumps(inputs), "--key",
                            c["invoice"]], env=env, check=True, capture_output=True)
        t0 = time.time()
        while stuck_count(env) < 3 and time.time() - t0 < 30:
            time.sleep(0.2)
        check(stuck_count(env) == 3, "operating: three dunning flows failed on the wrong key")
        node.send_signal(signal.SIGTERM)
        node.wait(timeout=30)
        node = start_node(env, "sk_test_readme", sim_url, log)
        idmap = {}
        for b in blocks:
            if b["lang"] == "" and any(line.startswith("$ ") for line in b["lines"]):
                run_session(sb, b, idmap, env)
    finally:
        for p in (node, sim):
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=30)


def psql_one(env, sql):
    p = subprocess.run(["psql", "-X", "-qAt", "-d", env["SETTLE_DSN"], "-c", sql], env=env,
                       capture_output=True, text=True)
    return p.stdout.strip()


def engine_quiet(env, timeout=30):
    """Until the virtual clock reached its target and nothing runs (fails
    the check when that takes longer than timeout)."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if psql_one(env, "SELECT COALESCE((SELECT bool_and(now_us >= target_us) FROM "
                         "settle_clock), true) AND NOT EXISTS "
                         "(SELECT 1 FROM instances WHERE status = 'running')") == "t":
            return
        time.sleep(0.1)
    check(False, "the engine went quiet within %d s" % timeout)


def start_api_node(env, key, sim_url, log):
    """settled --node app1 with the flow API on a free port; returns (proc, base URL)."""
    node = subprocess.Popen([os.path.join(BIN, "engine", "daemon", "settled"), "run", "--clock",
                             "virtual", "--node", "app1", "--http", "0"],
                            env=dict(env, STRIPE_API_BASE=sim_url, STRIPE_API_KEY=key,
                                     SETTLE_API_TOKENS="ctldoc-token:write"),
                            stdout=subprocess.PIPE, stderr=log, text=True)
    line = node.stdout.readline()
    return node, "http://" + line.split()[-1] if "listening" in line else None


def docs_settlectl(sb):
    """docs/settlectl.md's session for real: as in the README, three dunning
    flows (started through the API, on node app1) fail on a rotated live
    key; settled is restarted with the right key before the first retry."""
    path = os.path.join(SRC, "docs", "settlectl.md")
    blocks = [b for b in parse_readme(path) if b["section"].startswith("A session")]
    pgdev = os.path.join(SRC, "tools", "pgdev")
    dsn = subprocess.run([pgdev, "start", "--name", "ctldoc", "--no-fsync"], env=sb.env,
                         check=True, capture_output=True, text=True).stdout.strip()
    env = dict(sb.env, SETTLE_DSN=dsn, USER="oncall")
    settled = os.path.join(BIN, "engine", "daemon", "settled")
    for args in (["migrate"], ["deploy", os.path.join(SRC, "workflows", "dunning.flow")]):
        subprocess.run([settled, *args], env=env, check=True, capture_output=True)
    sim, sim_url = start_sim(sb)
    log = open(os.path.join(sb.logs, "ctldoc.log"), "w")
    nodes = []
    try:
        tsv = "".join("c%d@example.com\tpm_card_visa\t4900\teur\tDE\t0\tinsufficient_funds"
                      "\tpayday=15\n" % i for i in range(1, 4))
        req = urllib.request.Request(sim_url + "/_sim/book", method="POST",
                                     data=urllib.parse.urlencode({"tsv": tsv}).encode())
        book = json.loads(urllib.request.urlopen(req, timeout=10).read())["created"]
        node, api = start_api_node(env, "sk_live_" + "x" * 20 + "R0t8", sim_url, log)
        nodes.append(node)
        check(api is not None, "settlectl.md: settled --node app1 serves the flow API")
        for i, c in enumerate(book, 1):
            body = json.dumps({"flow": "dunning", "business_key": c["invoice"], "inputs": {
                "invoice": c["invoice"], "customer": c["customer"],
                "email": "c%d@example.com" % i, "amount": {"minor": 4900, "currency": "eur"}}})
            http("POST", api + "/v1/instances", body.encode(), {
                "Authorization": "Bearer ctldoc-token", "Content-Type": "application/json"})
        t0 = time.time()
        while stuck_count(env) < 3 and time.time() - t0 < 30:
            time.sleep(0.2)
        check(stuck_count(env) == 3, "settlectl.md: three dunning flows failed on the wrong key")

        def fix_key():
            nodes[-1].send_signal(signal.SIGTERM)
            nodes[-1].wait(timeout=30)
            nodes.append(start_api_node(env, "sk_test_readme", sim_url, log)[0])

        hooks = {"settlectl retry ": fix_key}
        idmap = {}
        for b in blocks:
            if any(line.startswith("$ ") for line in b["lines"]):
                run_session(sb, b, idmap, env, cwd=sb.root, hooks=hooks,
                            quiet=lambda: engine_quiet(env))
    finally:
        for p in nodes + [sim]:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=30)


def section_run_all(sb, blocks):
    for b in blocks:
        if b["lang"] == "sh":
            p, _ = sb.run(sh_commands(b), timeout=600)
            check(p.returncode == 0, "%s: every command of the block at README line %d ran"
                  % (b["section"], b["line"]))


def check_coverage(cmds, sections_run):
    for sec, cmd in cmds:
        if sec in OTHER_TESTS and sec not in sections_run:
            continue
        if cmd in executed:
            continue
        check(cmd in ALLOW, "README command `%s` (%s) is run by this test or in ALLOW"
              % (cmd, sec))
    shown = {c for _, c in cmds}
    for cmd, (path, needle) in ALLOW.items():
        check(cmd in shown, "ALLOW entry `%s` is still in the README" % cmd)
        full = os.path.join(SRC, path)
        check(os.path.exists(full) and needle in open(full).read(),
              "`%s` is run by %s (contains %r)" % (cmd.split("#")[0].strip(), path, needle))
    for sec, (path, needle) in OTHER_TESTS.items():
        full = os.path.join(SRC, path)
        check(os.path.exists(full) and needle in open(full).read(),
              "section %s is run by %s (contains %r)" % (sec, path, needle))


RUNNERS = {"Writing a dunning flow": section_flow,
           "Benchmarks": section_run_all}


def main():
    enter_sandbox_netns()
    blocks = parse_readme(os.path.join(SRC, "README.md"))
    cmds = readme_commands(blocks)
    by_section = {}
    for b in blocks:
        by_section.setdefault(b["section"], []).append(b)
    sb = Sandbox()
    t0 = time.time()
    try:
        if ONLY:
            check(ONLY in by_section, "README has a section %s" % ONLY)
            RUNNERS.get(ONLY, section_run_all)(sb, by_section.get(ONLY, []))
            ran = {ONLY}
            missing = [c for s, c in cmds if s == ONLY and c not in executed]
            check(not missing, "every command of %s ran %s" % (ONLY, missing or ""))
        else:
            env = section_by_hand(sb, by_section["Running it by hand"])
            if "SETTLE_DSN" in env:
                section_stripe(sb, by_section["Against Stripe test mode"], env)
                section_operating(sb, by_section["Operating it"], env)
            section_flow(sb, by_section["Writing a dunning flow"])
            docs_settlectl(sb)
            ran = {"Running it by hand", "Against Stripe test mode", "Operating it",
                   "Writing a dunning flow"}
            check_coverage(cmds, ran)
    finally:
        sb.destroy()
    print("%d failure(s) in %.0f s" % (len(failures), time.time() - t0))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
