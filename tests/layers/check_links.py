#!/usr/bin/env python3
"""check_links.py — a binary links none of the libraries and none of the
settle layers it must not.

Usage: check_links.py BINARY --no-lib NAME... [--no-symbol PREFIX...]
       check_links.py --self-test SETTLED   (a binary that links them all)

--no-lib NAME: no shared library whose soname starts with "libNAME." or
  "libNAME-" may appear in `ldd BINARY` (everything the loader would map,
  not only the direct NEEDED entries).
--no-symbol PREFIX: no function or object of the binary's own symbol table
  (`nm`) may start with PREFIX; that is how a static settle layer that was
  linked in shows (st_store_, st_http_, ...).

Prints each finding and exits 1 when there is one.
"""
import re
import subprocess
import sys


def shared_libs(binary):
    out = subprocess.run(["ldd", binary], check=True, capture_output=True, text=True).stdout
    libs = []
    for line in out.splitlines():
        m = re.match(r"\s*(\S+)", line)
        if m:
            libs.append(m.group(1).split("/")[-1])
    return libs


def symbols(binary):
    out = subprocess.run(["nm", "--defined-only", binary], check=True, capture_output=True,
                         text=True).stdout
    return [l.split()[-1] for l in out.splitlines() if len(l.split()) >= 3]


def findings(binary, no_libs, no_symbols):
    found = []
    for lib in shared_libs(binary):
        for name in no_libs:
            if lib.startswith("lib%s." % name) or lib.startswith("lib%s-" % name):
                found.append("%s links %s (forbidden: lib%s)" % (binary, lib, name))
    if no_symbols:
        syms = symbols(binary)
        for prefix in no_symbols:
            hit = sorted(s for s in syms if s.startswith(prefix))
            if hit:
                found.append("%s contains %d symbol(s) %s* (e.g. %s): a settle layer it must "
                             "not use is linked in" % (binary, len(hit), prefix, hit[0]))
    return found


def parse(argv):
    binary, libs, syms, cur = None, [], [], None
    for a in argv:
        if a == "--no-lib":
            cur = libs
        elif a == "--no-symbol":
            cur = syms
        elif cur is None:
            binary = a
        else:
            cur.append(a)
    return binary, libs, syms


def self_test(daemon):
    """The check must be able to fail: settled links libpq and every layer."""
    bad = findings(daemon, ["pq", "ev"], ["st_store_", "st_exec_"])
    if len(bad) != 4:
        print("check_links self-test: expected 4 findings in %s, got %s" % (daemon, bad))
        return 1
    if findings(daemon, ["no_such_library_xyz"], ["st_no_such_prefix_"]):
        print("check_links self-test: reported something that is not there")
        return 1
    print("check_links self-test: ok (%s)" % "; ".join(bad))
    return 0


def main(argv):
    if len(argv) == 2 and argv[0] == "--self-test":
        return self_test(argv[1])
    binary, libs, syms = parse(argv)
    if binary is None or not (libs or syms):
        print(__doc__)
        return 2
    found = findings(binary, libs, syms)
    for f in found:
        print(f)
    if found:
        return 1
    print("%s: links none of %s" % (binary, ", ".join(["lib" + l for l in libs] +
                                                     [s + "*" for s in syms])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
