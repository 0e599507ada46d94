"""scan_secrets.py — fail when a log the test suites wrote holds a secret.

Usage:
  scan_secrets.py                 scan the default places (below)
  scan_secrets.py PATH...         scan these files / folders instead
  scan_secrets.py --self-test     prove the scanner finds what it must

Default places, from SETTLE_BINARY_DIR and SETTLE_SOURCE_DIR (CTest sets
both):
  $SETTLE_BINARY_DIR/test-logs/**           every suite's process logs
                                            (<suite>/..., the convention)
  $SETTLE_BINARY_DIR/Testing/Temporary/*.log  CTest's record of all test output
  $SETTLE_SOURCE_DIR/.run/demo-*/**/*.log   the demo's logs (tools/lib/demo.py
                                            writes there, named by run)

What counts as a secret:
  - the exact keys, webhook secrets and API tokens the suites configure,
    read from the files that define them (EXACT_SOURCES), so a new constant
    there is covered without touching this file;
  - generic shapes: Stripe secret and restricted keys (sk_test_, sk_live_,
    rk_test_, rk_live_), webhook secrets (whsec_), the suites' token
    families (tok_settle_..., tok<16 hex>, demo-/fault-<24 hex>), and
    bearer credentials written out after "Bearer".

A finding names the file and line and shows the match redacted (its first
8 characters, then "…[N chars]"), so this script's own output never leaks
what it found. Exit 0 when clean, 1 on a finding, 2 on a usage error.
"""
import glob
import os
import re
import sys
import tempfile

# Files whose string constants are the suites' configured secrets.
EXACT_SOURCES = [
    "tests/e2e/e2e_fixture.h",
    "tests/http/http_fixture.h",
    "tests/attack/attack_lib.py",
    "tests/activity/test_act_net.c",
    "tests/activity/test_act_sim.c",
]
# A quoted constant that looks like a credential.
CONST = re.compile(r'"((?:sk|rk)_(?:test|live)_[A-Za-z0-9_]{4,}|whsec_[A-Za-z0-9_]{4,}|'
                   r'tok_[A-Za-z0-9_]{8,})"')
SHAPES = [
    ("Stripe key", re.compile(r"(?<![A-Za-z0-9])(?:sk|rk)_(?:test|live)_[A-Za-z0-9_]{4,}")),
    ("webhook secret", re.compile(r"(?<![A-Za-z0-9])whsec_[A-Za-z0-9_]{4,}")),
    # The suites' API tokens: attack/e2e (tok_settle_...), readme (tok + 16
    # hex), demo and fault (demo-/fault- + 24 hex, made per run).
    ("suite API token", re.compile(r"(?<![A-Za-z0-9])(?:tok_settle_[A-Za-z0-9_]+|"
                                   r"tok[0-9a-f]{16}(?![0-9a-f]))")),
    ("demo API token", re.compile(r"(?<![A-Za-z0-9])(?:demo|fault)-[0-9a-f]{24}(?![0-9a-f])")),
    ("bearer credential", re.compile(r"Bearer\s+(?!realm)(?!<)[A-Za-z0-9._~+/=-]{12,}")),
]
MAX_BYTES = 64 << 20  # a log bigger than this is scanned in its first 64 MiB


def redact(s):
    return s[:8] + "…[%d chars]" % len(s)


def exact_secrets(source):
    found = set()
    for rel in EXACT_SOURCES:
        path = os.path.join(source, rel)
        if os.path.exists(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                found.update(CONST.findall(f.read()))
    return sorted(found, key=len, reverse=True)


def default_paths(build, source):
    paths = [os.path.join(build, "test-logs")]
    paths += glob.glob(os.path.join(build, "Testing", "Temporary", "*.log"))
    paths += glob.glob(os.path.join(source, ".run", "demo-*"))
    return paths


def files_under(paths):
    """Every regular text file named or under a named folder (sorted)."""
    for p in paths:
        if os.path.isfile(p):
            yield p
        for root, dirs, names in os.walk(p):
            dirs.sort()
            for n in sorted(names):
                path = os.path.join(root, n)
                if os.path.isfile(path) and not os.path.islink(path) and not binary(path):
                    yield path


def binary(path):
    with open(path, "rb") as f:
        return b"\0" in f.read(8192)


def scan_file(path, exact):
    """Findings of one file: (line number, kind, match)."""
    out = []
    with open(path, "rb") as f:
        data = f.read(MAX_BYTES)
    text = data.decode("utf-8", errors="replace")
    for no, line in enumerate(text.splitlines(), 1):
        seen = set()
        for s in exact:
            if s in line and s not in seen:
                seen.add(s)
                out.append((no, "configured secret", s))
        for kind, rx in SHAPES:
            for m in rx.finditer(line):
                if not any(m.group(0) in s or s in m.group(0) for s in seen):
                    seen.add(m.group(0))
                    out.append((no, kind, m.group(0)))
    return out


def scan(paths, exact):
    findings, n = [], 0
    for path in files_under(paths):
        n += 1
        for no, kind, match in scan_file(path, exact):
            findings.append("%s:%d: %s %s" % (path, no, kind, redact(match)))
    return n, findings


def self_test(source):
    """The scanner must fail on planted secrets and pass a clean log."""
    exact = exact_secrets(source)
    problems = []
    if len(exact) < 3:
        problems.append("found only %d configured secrets in %s" % (len(exact), EXACT_SOURCES))
    planted = {
        "sk_live_" + "9Zq" * 8: "Stripe key",
        "rk_test_" + "Ab1" * 6: "Stripe key",
        "whsec_" + "f00d" * 6: "webhook secret",
        "tok_settle_selftest_" + "x1" * 4: "suite API token",
        "demo-" + "0123456789abcdef01234567": "demo API token",
        "fault-" + "89abcdef0123456789abcdef": "demo API token",
        "tok" + "0f1e2d3c4b5a6978": "suite API token",
        "Authorization: Bearer " + "opaque.Token-77" * 2: "bearer credential",
    }
    with tempfile.TemporaryDirectory() as d:
        clean = os.path.join(d, "clean", "settled.log")
        os.makedirs(os.path.dirname(clean))
        with open(clean, "w") as f:
            f.write("2026-01-01T00:00:00Z settled: http: listening on port 80\n"
                    "error: Invalid API Key provided: [REDACTED]\n"
                    "WWW-Authenticate: Bearer realm=\"settle\"\n"
                    "hint: send 'Authorization: Bearer <token>'\n"
                    "an sk_test_ key or a whsec_ secret is configured by env\n")
        n, found = scan([os.path.join(d, "clean")], exact)
        if n != 1 or found:
            problems.append("a clean log was flagged: %s" % found)
        for i, (secret, kind) in enumerate(list(planted.items()) + [(s, "configured secret")
                                                                     for s in exact]):
            path = os.path.join(d, "planted%d" % i, "suite", "x.log")
            os.makedirs(os.path.dirname(path))
            with open(path, "w") as f:
                f.write("line one\nsomething said %s here\n" % secret)
            n, found = scan([os.path.dirname(os.path.dirname(path))], exact)
            want = "%s:2: %s " % (path, kind)
            if not any(x.startswith(want) for x in found):
                problems.append("planted %s (%s) not found: %s" % (redact(secret), kind, found))
            if any(secret in x for x in found):
                problems.append("the report shows the secret unredacted")
        problems += cli_self_test(d, exact)
    for p in problems:
        print("self-test: " + p)
    print("self-test: %s" % ("FAILED" if problems else "the scanner finds planted secrets"))
    return 1 if problems else 0


def cli_self_test(d, exact):
    """The command itself: exit 1, file:line, redacted, on a planted key."""
    import subprocess
    secret = exact[0] if exact else "sk_live_" + "Q" * 24
    folder = os.path.join(d, "cli", "test-logs", "suite")
    os.makedirs(folder)
    with open(os.path.join(folder, "p.log"), "w") as f:
        f.write("ok\nok\nkey=%s\n" % secret)
    out = subprocess.run([sys.executable, os.path.abspath(__file__), os.path.join(d, "cli")],
                         capture_output=True, text=True)
    want = os.path.join(folder, "p.log") + ":3: "
    problems = []
    if out.returncode != 1 or want not in out.stdout:
        problems.append("the command did not report %s (exit %d)" % (want, out.returncode))
    if secret in out.stdout + out.stderr:
        problems.append("the command printed the secret unredacted")
    return problems


def main(argv):
    source = os.environ.get("SETTLE_SOURCE_DIR") or os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if argv[1:2] == ["--self-test"]:
        return self_test(source)
    if any(a.startswith("-") for a in argv[1:]):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    build = os.environ.get("SETTLE_BINARY_DIR")
    if not argv[1:] and not build:
        print("scan_secrets: set SETTLE_BINARY_DIR (ctest does) or name the logs to scan",
              file=sys.stderr)
        return 2
    paths = argv[1:] or default_paths(build, source)
    exact = exact_secrets(source)
    n, findings = scan(paths, exact)
    for f in findings:
        print(f)
    print("scan_secrets: %d files, %d configured secrets and %d shapes looked for, %d findings"
          % (n, len(exact), len(SHAPES), len(findings)))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
