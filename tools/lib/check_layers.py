#!/usr/bin/env python3
"""check_layers.py — fail on an #include that crosses settle's layers.

Usage: tools/lib/check_layers.py [--root DIR] [--self-test]

Reads every .c/.h that git tracks (or, outside a checkout, every one on
disk) under engine/ and tools/ and checks each #include line against the
table below, which is the same dependency graph as the CMake targets
(engine/*/CMakeLists.txt) and docs/where-things-live.md:

  1. a file under engine/<module>/ includes "<other>/..." only for a module
     <other> that <module> may use (LAYERS);
  2. a quoted include without a directory names a header next to the file;
  3. nothing under engine/ includes anything under tools/;
  4. a module includes only the external libraries it links (EXTERNAL);
     tools/settlec and tools/stripe-sim likewise (TOOLS);
  5. libpq-fe.h is included only under engine/store (tests/ and tools/bench
     may; they are not read).

Prints one line per violation, "file:line: what and why", and exits 1 when
there is any; exits 0 silently otherwise. --self-test checks the checker on
a planted tree, so that the real check is known to be able to fail.
"""
import os
import re
import subprocess
import sys
import tempfile

# module -> the engine modules it may include (besides itself).
LAYERS = {
    "common": set(),
    "core": {"common"},
    "flowc": {"common"},
    "store": {"common"},
    "start": {"common", "core", "store"},
    "timer": {"common"},
    "activity": {"common"},
    "http": {"common", "core", "store", "start", "timer"},
    "exec": {"common", "core", "store", "start", "timer", "activity"},
    "ops": {"common", "core", "store", "start", "flowc"},
    "daemon": {"common", "core", "store", "start", "flowc", "timer", "activity", "http", "exec",
               "ops"},
}

# External headers by the library they belong to. libpq is rule 5's alone.
LIBS = [
    ("libpq", re.compile(r"^(libpq-fe\.h|libpq/|pg_config)")),
    ("libev", re.compile(r"^ev\.h$")),
    ("libcurl", re.compile(r"^curl/")),
    ("libmicrohttpd", re.compile(r"^microhttpd\.h$")),
    ("jansson", re.compile(r"^jansson\.h$")),
    ("libcrypto", re.compile(r"^openssl/")),
    ("protobuf-c", re.compile(r"^(protobuf-c/|settle/.*\.pb-c\.h$)")),
]

# module -> external libraries it may include (libpq: see rule 5).
EXTERNAL = {
    "common": set(),
    "core": {"jansson", "libcrypto", "protobuf-c"},
    "flowc": {"jansson", "libcrypto", "protobuf-c"},
    "store": {"libpq", "libev", "libcrypto"},
    "start": {"jansson"},
    "timer": {"libev"},
    "activity": {"libcurl", "libev", "jansson"},
    "http": {"libmicrohttpd", "libev", "jansson", "libcrypto"},
    "exec": {"libev", "jansson", "libcrypto"},
    "ops": {"jansson"},
    "daemon": {"libev", "jansson", "libcrypto"},
}

# Tools with a layer rule: engine modules and external libraries they may use.
TOOLS = {
    "tools/settlec": ({"common", "flowc"}, {"jansson", "libcrypto", "protobuf-c"}),
    "tools/stripe-sim": ({"common"}, {"libmicrohttpd", "libcurl", "jansson", "libcrypto"}),
}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def tracked_files(root):
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--", "engine", "tools"],
                             check=True, capture_output=True).stdout.decode()
        files = [f for f in out.split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for top in ("engine", "tools"):
            for d, _, names in os.walk(os.path.join(root, top)):
                files += [os.path.relpath(os.path.join(d, n), root) for n in names]
    return sorted(f for f in files if f.endswith((".c", ".h")))


def lib_of(header):
    for name, pat in LIBS:
        if pat.search(header):
            return name
    return None


def owner(path):
    """('engine', module) or ('tool', 'tools/x') or (None, None)."""
    parts = path.split("/")
    if parts[0] == "engine" and len(parts) > 2:
        return "engine", parts[1]
    if parts[0] == "tools" and len(parts) > 2 and "/".join(parts[:2]) in TOOLS:
        return "tool", "/".join(parts[:2])
    return None, None


def check_line(root, path, kind, who, quote, header):
    """The problem with one include, or None."""
    here = os.path.dirname(path)
    lib = lib_of(header)
    if lib == "libpq":
        if path.startswith("engine/store/"):
            return None
        return ("includes <%s>: only engine/store talks to PostgreSQL "
                "(move the SQL into a store function)" % header)
    if kind == "engine" and ("tools/" in header or
                             os.path.normpath(os.path.join(here, header)).startswith("tools/")):
        return "includes \"%s\": nothing under engine/ may include tools/" % header
    if kind is None:
        return None
    modules, externals = (LAYERS[who], EXTERNAL[who]) if kind == "engine" else TOOLS[who]
    if lib is not None:
        if lib not in externals:
            return "includes <%s> (%s), which %s does not link" % (header, lib, who)
        return None
    if quote == "<":
        return None  # libc / POSIX
    if "/" not in header:
        if os.path.exists(os.path.join(root, here, header)):
            return None
        return ("includes \"%s\", which is not next to it: include another module's header "
                "as \"module/header.h\"" % header)
    top = header.split("/")[0]
    if os.path.isdir(os.path.join(root, "engine", top)) and top in LAYERS:
        if kind == "engine" and top == who:
            return None
        if top not in modules:
            allowed = ", ".join(sorted(modules)) or "nothing but itself"
            return ("includes \"%s\": %s may not use %s (it may use %s)"
                    % (header, who, top, allowed))
    return None


def check(root):
    problems = []
    for path in tracked_files(root):
        kind, who = owner(path)
        if kind is None and not path.startswith("tools/"):
            continue
        if path.startswith("tools/bench/"):
            continue
        try:
            with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
                lines = f.readlines()
        except OSError:
            continue  # deleted in the working tree
        for no, line in enumerate(lines, 1):
            m = INCLUDE.match(line)
            if m is None:
                continue
            why = check_line(root, path, kind, who, m.group(1), m.group(2))
            if why is not None:
                problems.append("%s:%d: %s" % (path, no, why))
    return problems


def self_test():
    planted = {
        "engine/common/st_a.c": '#include "core/st_core.h"\n',          # upward
        "engine/core/st_core.h": '#include <ev.h>\n',                   # lib not linked
        "engine/ops/st_ops.c": '#include "st_flowc.h"\n',               # not next to it
        "engine/flowc/f.c": '#include "../../tools/settlec/x.h"\n',     # tools/
        "engine/http/h.c": '#include <libpq-fe.h>\n',                    # libpq
        "tools/settlec/settlec.c": '#include "store/st_store.h"\n',     # tool layer
        "engine/exec/ok.c": '#include "timer/t.h"\n#include <stdio.h>\n#include "ok.h"\n',
        "engine/exec/ok.h": '#include <jansson.h>\n',
        "engine/store/s.c": '#include <libpq-fe.h>\n#include "common/st_err.h"\n',
        "tools/settlectl/c.c": '#include "http/st_http.h"\n',
        "tools/bench/b.c": '#include <libpq-fe.h>\n',
    }
    with tempfile.TemporaryDirectory() as d:
        for rel, text in planted.items():
            os.makedirs(os.path.join(d, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(d, rel), "w") as f:
                f.write(text)
        for mod in LAYERS:
            os.makedirs(os.path.join(d, "engine", mod), exist_ok=True)
        got = sorted(p.split(":")[0] for p in check(d))
    want = sorted(["engine/common/st_a.c", "engine/core/st_core.h", "engine/ops/st_ops.c",
                   "engine/flowc/f.c", "engine/http/h.c", "tools/settlec/settlec.c"])
    if got != want:
        print("check_layers self-test: flagged %s, expected %s" % (got, want))
        return 1
    print("check_layers self-test: ok (%d planted violations found, clean files passed)"
          % len(want))
    return 0


def main(argv):
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    if "--root" in argv:
        root = os.path.abspath(argv[argv.index("--root") + 1])
    if "--self-test" in argv:
        return self_test()
    problems = check(root)
    for p in problems:
        print(p)
    if problems:
        print("check_layers: %d forbidden include(s); the allowed dependencies are in "
              "tools/lib/check_layers.py and docs/where-things-live.md" % len(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
