#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The engine against the hand-built edge cases in pcaps/edge/.

For each pcaps/edge/NAME.expect.json (written by tests/gen_edge_pcaps.py,
the generator's own intent, never our output):

  1. $IW_BUILD/tests/iw-streams -r pcaps/edge/NAME.pcap prints one JSON line
     per TCP connection when it ends and a last {"stats": {...}} line; every
     connection must match the expectation byte for byte (both directions),
     with the same packet count, gaps and end, and the stats counters the
     expectation names must have the values it gives.
  2. $IMAPWATCH -r pcaps/edge/NAME.pcap --flows: one `flow` event per
     connection, src_ip/src_port the client, pkts_toserver + pkts_toclient
     the packet count; an `anomaly` event when data overlapped differently.

Connections are matched on client, cport, server, sport; a reused 5-tuple
matches in order.  Prints TAP-like lines: ok / not ok / skip.
"""

import base64
import glob
import ipaddress
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))

import iwtest  # noqa: E402

EDGE = os.path.join(ROOT, "pcaps", "edge")
BUILD = os.environ.get("IW_BUILD") or os.path.join(ROOT, "build")
IW_STREAMS = os.path.join(BUILD, "tests", "iw-streams")
IMAPWATCH = os.environ.get("IMAPWATCH") or os.path.join(BUILD, "imapwatch")
TIMEOUT = 120

END_NAMES = {"fin": "fin", "rst": "rst", "none": "shutdown"}


class Report:
    """Counts and prints the TAP-like lines."""

    def __init__(self):
        self.failed = 0

    def ok(self, what):
        print("ok - %s" % what)

    def fail(self, what, why):
        self.failed += 1
        print("not ok - %s (%s)" % (what, why))

    def check(self, cond, what, why):
        if cond:
            self.ok(what)
        else:
            self.fail(what, why)
        return cond

    def skip(self, what, why):
        print("skip - %s (%s)" % (what, why))


# ---------------------------------------------------------------- helpers

def norm_ip(text):
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return str(text)


def conn_key(client, cport, server, sport):
    return (norm_ip(client), int(cport), norm_ip(server), int(sport))


def expected_key(c):
    return conn_key(c["client"], c["cport"], c["server"], c["sport"])


def swapped(key):
    return (key[2], key[3], key[0], key[1])


def run(cmd):
    """(exit status, stdout lines, stderr text); status None on a timeout.
    A sanitizer report on stderr is a "not ok" line of its own."""
    try:
        res = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, [], "timed out after %d s" % TIMEOUT
    err = res.stderr.decode("utf-8", "replace")
    iwtest.check_stderr(err, " ".join(os.path.basename(c) for c in cmd))
    return (res.returncode, res.stdout.decode("utf-8", "replace").splitlines(),
            err)


def parse_json_lines(lines):
    """(objects, first bad line or None)."""
    out = []
    for line in lines:
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            return out, line
    return out, None


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def bytes_problem(want, got):
    """None when equal, else the explanation."""
    if want == got:
        return None
    return "expected %d bytes, got %d; first difference at offset %d" % (
        len(want), len(got), first_difference(want, got))


def decode_b64(text):
    try:
        return base64.b64decode(text or "", validate=True)
    except (ValueError, TypeError):
        return None


def gap_list(gaps):
    try:
        return sorted((g["dir"], int(g["at"]), int(g["len"])) for g in gaps or [])
    except (KeyError, TypeError, ValueError):
        return [("malformed", 0, 0)]


def dig(obj, dotted):
    """obj["a"]["b"] for "a.b"; None when absent."""
    for part in dotted.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def match(expected, got, key_of):
    """Pair each expected connection with the first unused one of `got` with
    the same key (in order); returns [(exp, got or None, swapped)] and the
    leftovers of `got`."""
    pool = list(got)
    pairs = []
    for exp in expected:
        key = expected_key(exp)
        hit = next((g for g in pool if key_of(g) == key), None)
        rev = None if hit else next((g for g in pool if key_of(g) == swapped(key)), None)
        found = hit or rev
        if found is not None:
            pool.remove(found)
        pairs.append((exp, found, rev is not None))
    return pairs, pool


def describe(c):
    return "%s:%s -> %s:%s" % (c["client"], c["cport"], c["server"], c["sport"])


# ---------------------------------------------------------------- iw-streams

def stream_key(g):
    return conn_key(g.get("client"), g.get("cport", 0), g.get("server"),
                    g.get("sport", 0))


def check_stream_conn(r, what, exp, got):
    r.check(got.get("packets") == exp["packets"], what + " packets",
            "expected %d, got %s" % (exp["packets"], got.get("packets")))
    for d in ("toserver", "toclient"):
        want = base64.b64decode(exp[d + "_b64"])
        have = decode_b64(got.get(d + "_b64"))
        if have is None:
            r.fail("%s %s bytes" % (what, d), "not base64")
            continue
        problem = bytes_problem(want, have)
        r.check(problem is None, "%s %s bytes" % (what, d), problem)
    want_gaps, got_gaps = gap_list(exp["gaps"]), gap_list(got.get("gaps"))
    r.check(want_gaps == got_gaps, what + " gaps",
            "expected %s, got %s" % (want_gaps, got_gaps))
    want_end = END_NAMES[exp["end"]]
    r.check(got.get("end") == want_end, what + " end",
            "expected %s, got %s" % (want_end, got.get("end")))


def check_stats(r, name, expect, stats):
    if stats is None:
        r.fail(name + ": stats line", "iw-streams printed no {\"stats\": ...} line")
        return
    for path, want in sorted(expect.get("stats", {}).items()):
        got = dig(stats, path)
        r.check(got == want, "%s: stats %s" % (name, path),
                "expected %s, got %s" % (want, got))


def check_streams(r, name, expect, pcap):
    rc, lines, err = run([IW_STREAMS, "-r", pcap])
    if rc != 0:
        r.fail(name + ": iw-streams runs", "exit status %s: %s" % (rc, err.strip()[-300:]))
        return
    objs, bad = parse_json_lines(lines)
    if bad is not None:
        r.fail(name + ": iw-streams output is JSON lines", "bad line: %r" % bad[:120])
        return
    conns = [o for o in objs if "stats" not in o]
    stats = next((o["stats"] for o in objs if "stats" in o), None)
    pairs, extra = match(expect["connections"], conns, stream_key)
    for i, (exp, got, rev) in enumerate(pairs, 1):
        what = "%s: conn %d" % (name, i)
        if got is None:
            r.fail(what + " found", "no connection %s" % describe(exp))
            continue
        r.ok(what + " found")
        if not r.check(not rev, what + " client side",
                       "client and server swapped for %s" % describe(exp)):
            continue
        check_stream_conn(r, what, exp, got)
    r.check(not extra, name + ": no unexpected connections",
            "%d more: %s" % (len(extra), [stream_key(g) for g in extra]))
    check_stats(r, name, expect, stats)


# ---------------------------------------------------------------- imapwatch --flows

def flow_key(ev):
    return conn_key(ev.get("src_ip"), ev.get("src_port", 0), ev.get("dest_ip"),
                    ev.get("dest_port", 0))


def check_flows(r, name, expect, pcap):
    rc, lines, err = run([IMAPWATCH, "-r", pcap, "--flows"])
    if rc != 0:
        r.fail(name + ": imapwatch --flows runs",
               "exit status %s: %s" % (rc, err.strip()[-300:]))
        return
    events, bad = parse_json_lines(lines)
    if bad is not None:
        r.fail(name + ": imapwatch output is JSON lines", "bad line: %r" % bad[:120])
        return
    flows = [e for e in events if e.get("event_type") == "flow"]
    pairs, extra = match(expect["connections"], flows, flow_key)
    for i, (exp, ev, rev) in enumerate(pairs, 1):
        what = "%s: conn %d flow event" % (name, i)
        if ev is None:
            r.fail(what, "no flow event for %s" % describe(exp))
            continue
        if not r.check(not rev, what + " src is the client",
                       "src and dest swapped for %s" % describe(exp)):
            continue
        flow = ev.get("flow") or {}
        pkts = (flow.get("pkts_toserver") or 0) + (flow.get("pkts_toclient") or 0)
        r.check(pkts == exp["packets"], what + " packets",
                "expected %d, got %d (%s + %s)" % (exp["packets"], pkts,
                                                   flow.get("pkts_toserver"),
                                                   flow.get("pkts_toclient")))
    r.check(not extra, name + ": no unexpected flow events",
            "%d more: %s" % (len(extra), [flow_key(e) for e in extra]))
    if sum(c.get("overlaps_different", 0) for c in expect["connections"]):
        anomalies = [e for e in events if e.get("event_type") == "anomaly"]
        r.check(anomalies, name + ": anomaly event for overlapping different data",
                "no anomaly event")


# ---------------------------------------------------------------- main

def load_expectations():
    out = []
    for path in sorted(glob.glob(os.path.join(EDGE, "*.expect.json"))):
        with open(path) as f:
            out.append((os.path.basename(path)[:-len(".expect.json")], json.load(f)))
    return out


def main():
    if not iwtest.ok(os.access(IW_STREAMS, os.X_OK),
                     "iw-streams is built (%s)" % IW_STREAMS):
        return 1
    r = Report()
    cases = load_expectations()
    if not cases:
        r.fail("edge cases present", "no pcaps/edge/*.expect.json")
    have_imapwatch = os.access(IMAPWATCH, os.X_OK)
    for name, expect in cases:
        pcap = os.path.join(EDGE, expect["pcap"])
        check_streams(r, name, expect, pcap)
        if have_imapwatch:
            check_flows(r, name, expect, pcap)
        else:
            r.fail(name + ": flow events", "no imapwatch at %s" % IMAPWATCH)
    return 1 if r.failed or iwtest.exit_status() else 0


if __name__ == "__main__":
    sys.exit(main())
