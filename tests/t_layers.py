#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The pipeline's one-way rule (README.md, "Design"; make check-layers).

The engine's stages, in the order data flows, are the Makefile's STAGES:

    analyzer/run -> capture -> decode -> flow -> session -> dissectors
        -> analyzer/correlate -> analyzer/output

A stage may use any later stage, never an earlier one.  include/ and
analyzer/common/ are what every stage shares: anyone may use them, and
they use no stage.  Inside dissectors/, one protocol's files never use
another's (IMAP and TLS meet only through the session host).  The session
host and the dissectors it runs are one stage: a dissector calls the host
through session.h, the host calls dissectors through their registry.
Checked:

  - every #include "..." of analyzer/, dissectors/ and include/, resolved
    by the header's name (one name, one file: the Makefile passes one -I
    a stage, so a header's folder is its stage);
  - with a build ($IW_BUILD, or build/ when make check-layers runs it),
    every symbol an object file takes from another (nm): the calls and
    the data, which an include alone does not show;
  - that the check itself sees a planted backward include, call and
    cross-protocol include (so a broken check cannot pass quietly).

The uses that still go backward are listed, one a line, in
tests/layers.allow: a use not listed fails, and so does a listed one that
is gone (delete its line), so the list only shrinks.

Prints ok/not ok lines (tests/run.sh); exits 1 when any is not ok.
"""

import glob
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = ("include", "analyzer/common")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
failures = 0


def ok(cond, what):
    global failures
    print("%s - %s" % ("ok" if cond else "not ok", what))
    if not cond:
        failures += 1


def stages():
    """The Makefile's STAGES, in pipeline order."""
    out = subprocess.run(
        ["make", "-s", "--no-print-directory", "-C", ROOT, "--eval",
         "print-stages: ; @echo $(STAGES)", "print-stages"],
        capture_output=True, text=True).stdout.split()
    return out


def folder_of(path):
    return os.path.dirname(os.path.relpath(path, ROOT))


def family(path):
    """A dissector file's protocol: imap, tls (with what only TLS uses:
    certificates, cipher suites, fingerprints), or None (the registry and
    the host's services, which know every protocol by name only)."""
    base = os.path.basename(path)
    if base.startswith("imap"):
        return "imap"
    if base.startswith(("tls", "x509", "ciphers", "fingerprint",
                        "gen_cipher")):
        return "tls"
    return None


ALLOW = os.path.join(ROOT, "tests", "layers.allow")


def allowed_uses():
    try:
        with open(ALLOW) as f:
            return [l.rstrip("\n") for l in f
                    if l.strip() and not l.startswith("#")]
    except FileNotFoundError:
        return []


class Tree:
    def __init__(self, order):
        self.order = order
        self.rank = {s: i for i, s in enumerate(order)}
        # the host and the dissectors it runs: one stage
        if "dissectors" in self.rank and "analyzer/session" in self.rank:
            self.rank["dissectors"] = self.rank["analyzer/session"]

    def level(self, path):
        """The stage's rank; -1 for what every stage shares; None for
        files of no stage (tests, generated)."""
        d = folder_of(path)
        if d in SHARED:
            return -1
        return self.rank.get(d)

    def name(self, level):
        return "shared" if level == -1 else self.order[level]

    def judge(self, user, used, what):
        """A reason why `user` may not use `used`, or None."""
        lu, ld = self.level(user), self.level(used)
        if lu is None or ld is None or user == used:
            return None
        if lu == -1 and ld != -1:
            return "%s (shared by every stage) %s %s of stage %s" % (
                rel(user), what, rel(used), self.name(ld))
        if ld != -1 and ld < lu:
            return "%s (stage %s) %s %s of the earlier stage %s" % (
                rel(user), self.name(lu), what, rel(used), self.name(ld))
        if folder_of(user) == "dissectors" == folder_of(used):
            fu, fd = family(user), family(used)
            if fu and fd and fu != fd:
                return "%s (%s) %s %s (%s): protocols meet only through " \
                    "the session host" % (rel(user), fu, what, rel(used), fd)
        return None


def rel(path):
    return os.path.relpath(path, ROOT)


def sources(order):
    dirs = list(SHARED) + order
    files = []
    for d in dirs:
        files += sorted(glob.glob(os.path.join(ROOT, d, "*.[ch]")))
    return files


def header_index(files):
    index, dup = {}, []
    for f in files:
        if f.endswith(".h"):
            b = os.path.basename(f)
            if b in index:
                dup.append("%s and %s" % (rel(index[b]), rel(f)))
            index[b] = f
    return index, dup


def include_problems(tree, files, index):
    problems, n = [], 0
    for f in files:
        with open(f, errors="replace") as fp:
            text = fp.read()
        for inc in INCLUDE_RE.findall(text):
            h = index.get(os.path.basename(inc))
            if h is None:
                continue	# a system or generated header
            n += 1
            why = tree.judge(f, h, "includes")
            if why:
                problems.append(why)
    return problems, n


def nm(obj):
    out = subprocess.run(["nm", obj], capture_output=True,
                         text=True).stdout
    defined, wanted = set(), set()
    for line in out.splitlines():
        p = line.split()
        if len(p) == 2 and p[0] == "U":
            wanted.add(p[1])
        elif len(p) == 3 and p[1] in "TDBRCV":
            defined.add(p[2])
    return defined, wanted


def call_problems(tree, build, order):
    owner, wants = {}, {}
    for d in list(SHARED) + order:
        for obj in glob.glob(os.path.join(build, d, "*.o")):
            src = os.path.join(ROOT, d, os.path.basename(obj)[:-2] + ".c")
            defined, wanted = nm(obj)
            for s in defined:
                owner[s] = src
            wants[src] = wanted
    problems, n = [], 0
    for src, wanted in sorted(wants.items()):
        for s in sorted(wanted):
            if s not in owner:
                continue	# a library's
            n += 1
            why = tree.judge(src, owner[s], "takes %s from" % s)
            if why:
                problems.append(why)
    return problems, n, len(wants)


def planted(tree, order):
    """The rule on made-up pairs: each must be refused."""
    def at(stage, name):
        return os.path.join(ROOT, stage, name)
    cases = [
        (at(order[-1], "x.c"), at(order[0], "y.h"), "a backward include"),
        (at("analyzer/common", "x.c"), at(order[1], "y.h"),
         "common/ using a stage"),
        (at("dissectors", "imap_x.c"), at("dissectors", "tls_x.h"),
         "IMAP including TLS"),
        (at("dissectors", "tls_x.c"), at("dissectors", "imap_x.h"),
         "TLS including IMAP"),
    ]
    allowed = [
        (at(order[0], "x.c"), at(order[-1], "y.h"), "a forward include"),
        (at(order[2], "x.c"), at("include", "y.h"), "include/ from a stage"),
        (at("dissectors", "tls_x.c"), at("dissectors", "x509.h"),
         "TLS using its certificates"),
    ]
    bad = [w for u, d, w in cases if tree.judge(u, d, "includes") is None]
    bad += [w for u, d, w in allowed if tree.judge(u, d, "includes")]
    return bad


def main():
    order = stages()
    want = ["analyzer/run", "analyzer/capture", "analyzer/decode",
            "analyzer/flow", "analyzer/session", "dissectors",
            "analyzer/correlate", "analyzer/output"]
    ok(order == want, "the Makefile's STAGES are the pipeline, in order "
       "(%s)" % " -> ".join(order))
    if not order:
        return
    tree = Tree(order)
    bad = planted(tree, order)
    ok(not bad, "the rule refuses a planted backward include, common/ "
       "using a stage, IMAP and TLS including each other, and lets the "
       "rest pass%s" % ("" if not bad else ": wrong on " + ", ".join(bad)))
    files = sources(order)
    stray = [rel(f) for f in glob.glob(os.path.join(ROOT, "analyzer",
             "**", "*.[ch]"), recursive=True)
             if tree.level(f) is None]
    ok(not stray, "every source of analyzer/ sits in a stage or in "
       "common/%s" % ("" if not stray else ": " + ", ".join(stray)))
    index, dup = header_index(files)
    ok(not dup, "no two headers share a name, so a bare #include names "
       "one stage%s" % ("" if not dup else ": " + "; ".join(dup)))
    allow = allowed_uses()
    seen = []
    problems, n = include_problems(tree, files, index)
    new = [p for p in problems if p not in allow]
    seen += problems
    for p in new:
        ok(False, p + " (not in tests/layers.allow)")
    ok(not new and n > 100, "includes go one way: %d #include lines of %d "
       "files checked, %d backward ones listed in tests/layers.allow" %
       (n, len(files), len(problems)))
    build = os.environ.get("IW_BUILD") or os.path.join(ROOT, "build")
    if not glob.glob(os.path.join(build, "analyzer", "*", "*.o")):
        print("skip - calls between stages (no objects in %s)" % build)
        return
    problems, n, nobj = call_problems(tree, build, order)
    new = [p for p in problems if p not in allow]
    seen += problems
    for p in new:
        ok(False, p + " (not in tests/layers.allow)")
    ok(not new and n > 100, "calls and data go one way: %d symbols %d "
       "objects take from one another checked, %d backward ones listed in "
       "tests/layers.allow" % (n, nobj, len(problems)))
    stale = [a for a in allow if a not in seen]
    for a in stale:
        ok(False, "tests/layers.allow lists a use that is gone (delete "
           "the line): " + a)
    ok(not stale, "every line of tests/layers.allow is still a use (%d)"
       % len(allow))
    if os.environ.get("IW_LAYERS_LIST"):
        sys.stderr.write("\n".join(seen) + "\n")


if __name__ == "__main__":
    main()
    sys.exit(1 if failures else 0)
