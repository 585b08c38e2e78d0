#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""`make run`, the first thing a newcomer types: at most 60 lines
(standard output and error together), every finding the chosen captures
hold named, and the summary true of them merged (the findings of the
merged run are exactly those of each capture alone: no STARTTLS stripping
or certificate change between lab set-ups that share an address).  The
events file it points to is complete, the jq one-liners it prints and the
README's work on it, and the stats event's per-finding tables list only
findings that occurred.

Each capture alone is analysed with $IMAPWATCH (the build under test);
`make run` itself builds and runs ./imapwatch, as a newcomer's would.
Prints ok/not ok/skip lines.
"""

import collections
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IW = os.path.abspath(os.environ.get("IMAPWATCH") or
                     os.path.join(ROOT, "imapwatch"))
EVENTS = os.path.join(ROOT, "build", "run", "events.json")
REPORT = os.path.join(ROOT, "build", "run", "report.html")
MAX_LINES = 60


def ok(cond, what):
    print(("ok - " if cond else "not ok - ") + what)
    return cond


def run_pcaps():
    """RUN_PCAPS as make itself expands it."""
    r = subprocess.run(["make", "-s", "--no-print-directory", "--eval",
                        "iw-print-run-pcaps: ; @echo $(RUN_PCAPS)",
                        "iw-print-run-pcaps"], cwd=ROOT,
                       capture_output=True, text=True)
    return r.stdout.split()


def alerts_of(args):
    r = subprocess.run([IW] + args, capture_output=True, text=True)
    evs = [json.loads(l) for l in r.stdout.splitlines()]
    return evs, collections.Counter(e["alert"]["signature"] for e in evs
                                    if e["event_type"] == "alert")


def check_output(text, names, want):
    lines = text.splitlines()
    ok(len(lines) <= MAX_LINES, "make run prints %d lines (at most %d)"
       % (len(lines), MAX_LINES))
    missing = [f for f in want if not re.search(r"\b%s\b" % f, text)]
    ok(not missing and want, "make run names every finding of its %d "
       "captures (%s) %s" % (len(names), ", ".join(sorted(want)), missing))
    m = re.search(r"== all (\d+) events .*: (\S+);", text)
    ok(m is not None and os.path.join(ROOT, m.group(2)) == EVENTS,
       "make run says where the events went (%s)"
       % (m.group(2) if m else "?"))
    return int(m.group(1)) if m else -1


def check_events(n, want):
    evs = [json.loads(l) for l in open(EVENTS)] if os.path.exists(EVENTS) \
        else []
    ok(len(evs) == n and n > 0, "%s holds the %d events it announced"
       % (os.path.relpath(EVENTS, ROOT), len(evs)))
    got = collections.Counter(e["alert"]["signature"] for e in evs
                              if e["event_type"] == "alert")
    ok(got == want, "the merged run's alerts are those of each capture "
       "alone, no finding across captures (%s)" % dict(got - want))
    st = [e for e in evs if e["event_type"] == "stats"]
    tables = [st[-1]["stats"]["sessions"].get(k, {}) for k in
              ("findings_suppressed", "findings_repeated")] if st else [0]
    ok(st and all(isinstance(t, dict) and all(v > 0 for v in t.values())
                  for t in tables),
       "stats: findings_suppressed and findings_repeated list only "
       "findings that occurred %s" % tables)
    ok(st and len(st[-1]["stats"]["sessions"]["findings"]) > len(got),
       "stats: the findings counters keep every id, zeros too")
    return evs


def jq_lines(text):
    return [l.strip() for l in text.splitlines()
            if l.strip().startswith("jq ")]


def check_jq(text, evs):
    if shutil.which("jq") is None:
        print("skip - jq one-liners (jq not installed)")
        return
    printed = jq_lines(text)
    alerts = [[e["alert"]["signature"], e["src_ip"], e["dest_ip"],
               e.get("imap", {}).get("username")]
              for e in evs if e["event_type"] == "alert"]
    good = False
    if printed:
        r = subprocess.run(printed[0], shell=True, cwd=ROOT,
                           capture_output=True, text=True)
        good = r.returncode == 0 and \
            [json.loads(l) for l in r.stdout.splitlines()] == alerts
    ok(good, "the jq line make run prints lists the alerts of the events "
       "file (%d)" % len(alerts))
    readme = open(os.path.join(ROOT, "README.md")).read()
    section = readme[readme.index("### Reading the events"):]
    section = section[:section.index("\n## ")]
    bad = []
    cmds = jq_lines(section)
    for c in cmds:
        r = subprocess.run("E=%s; %s" % (shlex.quote(EVENTS), c), shell=True,
                           capture_output=True, text=True)
        if r.returncode != 0 or not r.stdout.strip():
            bad.append(c[:60])
    ok(cmds and not bad, "the README's %d jq one-liners run on the events "
       "of make run and print something %s" % (len(cmds), bad))


def main():
    names = run_pcaps()
    if not ok(len(names) >= 4, "RUN_PCAPS names a handful of captures (%d)"
              % len(names)):
        return
    pcaps = [os.path.join(ROOT, "pcaps", n + ".pcap") for n in names]
    want = collections.Counter()
    for p in pcaps:
        want += alerts_of(["-r", p])[1]
    _, merged = alerts_of(sum((["-r", p] for p in pcaps), []))
    ok(merged == want, "$IMAPWATCH on the captures merged finds what it "
       "finds in each alone (%s)" % dict(merged - want))
    r = subprocess.run(["make", "--no-print-directory", "run"], cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    ok(r.returncode == 0, "make run exits 0")
    for l in r.stdout.splitlines():
        print("# " + l)
    n = check_output(r.stdout, names, set(want))
    evs = check_events(n, want)
    check_jq(r.stdout, evs)
    ok(os.path.exists(REPORT) and os.path.getsize(REPORT) > 1000,
       "make run writes the page it names (%s)"
       % os.path.relpath(REPORT, ROOT))


if __name__ == "__main__":
    main()
    sys.exit(0)
