#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Workers: the same input gives the same events whatever their number.

Every capture of pcaps/ (all subfolders) and of the shared corpus, with
each option set below, runs with --workers 1 (inline, no threads) and
--workers 4 (a reader thread and four workers).  The events, the stats
event aside, must be byte-identical and in the same order: the correlator
writes in (clock, flow_id, seq) order and the reader's clock stamps every
packet and ticks every worker (README "Design"), so nothing depends on how
the flows were spread.  Same multiset is what the issue asks; the same
lines in the same order is what the design gives, so that is asserted.

The stats events must agree on what does not depend on the split: the
packets read and the events written.  Every 25th capture also goes
through standard input (a pipe: reads, not the file path).

--write-alerted runs one worker whatever --workers says (README, Design:
a connection marked by the correlator after its worker has gone past
its last packets would lose them): the pcap must be the same bytes.

Environment: IMAPWATCH, ONLY_PCAP (captures whose path contains it).
"""

import json
import os
import re
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))

import iwtest  # noqa: E402
from iwtest import CORPUS, IMAPWATCH, ok  # noqa: E402

ONLY = os.environ.get("ONLY_PCAP", "")
OPTION_SETS = [
    [],
    ["--all-tls", "--flows"],
    ["--alert-once-per-server"],
    ["--format", "ecs"],
]
CAPTURE = re.compile(r"\.(pcap|pcapng|cap)(\.gz)?$")


def captures():
    out = []
    for root, _, files in sorted(os.walk(os.path.join(ROOT, "pcaps"))):
        out += [os.path.join(root, f) for f in sorted(files)
                if CAPTURE.search(f)]
    if iwtest.need_corpus("the corpus captures with 1 and 4 workers"):
        for root, _, files in sorted(os.walk(CORPUS)):
            if "truth" in root.split(os.sep):
                continue
            out += [os.path.join(root, f) for f in sorted(files)
                    if CAPTURE.search(f)]
    return [p for p in out if ONLY in p]


def options_of(pcap):
    exp = re.sub(r"\.pcap(ng)?$", "", pcap) + ".expect.json"
    if os.path.exists(exp):
        with open(exp) as fp:
            return json.load(fp).get("options", [])
    return []


def is_stats(ev):
    return ev.get("event_type") == "stats" or \
        ev.get("event", {}).get("dataset") == "imapwatch.stats"


def stats_of(ev):
    st = ev.get("stats") or ev.get("imapwatch", {}).get("stats", {})
    return (st.get("capture", {}).get("packets"), st.get("events"))


def run(pcap, opts, workers, stdin=None):
    argv = [IMAPWATCH, "--workers", str(workers), "-r",
            "-" if stdin else pcap] + opts
    kw = {"stdin": stdin} if stdin else {}
    r = subprocess.run(argv, capture_output=True, timeout=600, **kw)
    err = r.stderr.decode("utf-8", "replace")
    iwtest.check_stderr(err, "%s --workers %d" % (name(pcap), workers))
    lines, stats = [], []
    for line in r.stdout.decode("utf-8", "replace").splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            lines.append(line)
            continue
        if isinstance(ev, dict) and is_stats(ev):
            stats.append(stats_of(ev))
        else:
            lines.append(line)
    return r.returncode, lines, stats


def name(pcap):
    return os.path.relpath(pcap, CORPUS if pcap.startswith(CORPUS) else ROOT)


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return "line %d: %s | %s" % (i + 1, x[:150], y[:150])
    return "%d lines against %d" % (len(a), len(b))


def compare(pcap, opts, stdin_too=False):
    label = "%s %s" % (name(pcap), " ".join(opts) or "(defaults)")
    rc1, one, st1 = run(pcap, opts + options_of(pcap), 1)
    rc4, four, st4 = run(pcap, opts + options_of(pcap), 4)
    ok(rc1 == rc4, "%s: the same exit status" % label,
       "%s against %s" % (rc1, rc4))
    ok(one == four, "%s: --workers 4 writes the events --workers 1 does, "
       "in its order" % label, first_difference(one, four))
    ok(st1 == st4, "%s: the same packets and events counted" % label,
       "%s against %s" % (st1, st4))
    if stdin_too:
        with open(pcap, "rb") as fp:
            _, piped, _ = run(pcap, opts + options_of(pcap), 4, stdin=fp)
        ok(piped == one, "%s: through a pipe too" % label,
           first_difference(one, piped))


def records(path):
    """The packet records of a pcap file: (seconds, fraction, bytes)."""
    with open(path, "rb") as fp:
        data = fp.read()
    out, at = [], 24
    end = ">" if data[:4] in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d") \
        else "<"
    while at + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(end + "IIII", data[at:at + 16])
        out.append((sec, frac, data[at + 16:at + 16 + incl]))
        at += 16 + incl
    return out


def write_alerted(pcap, tmp):
    label = "%s --write-alerted" % name(pcap)
    files = {}
    for n in (1, 4):
        files[n] = os.path.join(tmp, "alerted-%d.pcap" % n)
        run(pcap, options_of(pcap) + ["--write-alerted", files[n]], n)
    same = open(files[1], "rb").read() == open(files[4], "rb").read()
    ok(same and len(records(files[1])) > 0,
       "%s: the same pcap with --workers 1 and 4 (%d packets)"
       % (label, len(records(files[1]))))


def summary_and_report(pcaps, tmp):
    """Several captures merged: --summary and --report, written from
    the events in the correlator's order, are the same files."""
    args = []
    for p in pcaps:
        args += ["-r", p]
    out = {}
    for n in (1, 4):
        out[n] = (os.path.join(tmp, "summary-%d.txt" % n),
                  os.path.join(tmp, "report-%d.html" % n))
        subprocess.run([IMAPWATCH, "--workers", str(n)] + args +
                       ["--summary=" + out[n][0], "--report", out[n][1],
                        "-o", os.devnull], capture_output=True, timeout=600)
    for i, what in enumerate(("--summary", "--report")):
        a, b = (open(out[n][i], "rb").read() for n in (1, 4))
        ok(a == b and len(a) > 0, "%d captures merged: %s the same with "
           "--workers 1 and 4 (%d bytes)" % (len(pcaps), what, len(a)))


def main():
    pcaps = captures()
    ok(len(pcaps) > 0, "captures to compare")
    for i, pcap in enumerate(pcaps):
        for j, opts in enumerate(OPTION_SETS):
            compare(pcap, opts, stdin_too=(j == 0 and i % 25 == 0))
    alerting = [p for p in pcaps if re.search(
        r"dovecot-(bruteforce|cert-changed|starttls-stripped|"
        r"cleartext-login)\.pcap$", p)]
    with tempfile.TemporaryDirectory() as tmp:
        for pcap in alerting:
            write_alerted(pcap, tmp)
        if alerting:
            summary_and_report(alerting, tmp)
    return iwtest.exit_status()


if __name__ == "__main__":
    sys.exit(main())
