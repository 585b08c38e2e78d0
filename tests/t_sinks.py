#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The -o sinks against real collectors, all on loopback.

A real rsyslogd (UDP, TCP and a Unix socket input, each message written
as JSON with the fields rsyslog parsed) and a real redis-server, started
here from Debian's packages in a temporary directory on free high ports,
and Python listeners on Unix stream and datagram sockets.  imapwatch runs
on the project's dovecot captures laid end to end (tests/sinks/pcapfeed.py)
with several sinks at once; the file sink's copy is the reference.

  1. every bad -o spec: one line on stderr, exit 1, nothing written;
  2. all sinks at once: every event arrives whole and identical to the
     file's copy, RFC 5424 headers right (PRI from facility and alert
     severity, timestamp, APP-NAME, PROCID, MSGID), per-output counters
     in stats.outputs;
  3. collectors killed mid-run (the capture fed through a pipe, -r -) and
     restarted: big-queue sinks lose nothing, small-queue sinks lose
     exactly what they count as dropped, reconnects are counted;
  4. sinks to a closed port or a missing socket do not stop the run;
  5. a collector that stops reading does not stall the run: drops are
     counted and no event is half-written;
  6. a file sink on a full disk (/dev/full) counts drops; SIGHUP reopens
     a file that was moved away.

Prints TAP-like lines: ok / not ok / skip.
"""

import collections
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "sinks"))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))

import collectors  # noqa: E402
import iwtest  # noqa: E402
import pcapfeed  # noqa: E402

BUILD = os.environ.get("IW_BUILD") or os.path.join(ROOT, "build")
IMAPWATCH = os.environ.get("IMAPWATCH") or os.path.join(BUILD, "imapwatch")
FACILITIES = {"local1": 17, "local2": 18, "local3": 19, "local5": 21}
SEVERITY = {1: (2, "crit"), 2: (3, "err"), 3: (4, "warning")}


class Report:
    """Counts and prints the TAP-like lines."""

    def __init__(self):
        self.failed = 0

    def check(self, cond, what, why=""):
        if cond:
            print("ok - %s" % what)
        else:
            self.failed += 1
            print("not ok - %s (%s)" % (what, why))
        sys.stdout.flush()
        return cond

    def skip(self, what, why):
        print("skip - %s (%s)" % (what, why))

    def note(self, text):
        print("# %s" % text)


R = Report()


# ---- helpers ----

def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [ln.rstrip("\n") for ln in f if ln.endswith("\n")]


def is_stats(line):
    return json.loads(line).get("event_type") == "stats"


def events(lines):
    return [ln for ln in lines if not is_stats(ln)]


def stats_of(lines):
    st = [json.loads(ln) for ln in lines if is_stats(ln)]
    return st[-1]["stats"] if st else {}


def output_stats(stats, name):
    for o in stats.get("outputs", []):
        if o["output"] == name:
            return o
    return {}


def all_json(lines):
    try:
        for ln in lines:
            json.loads(ln)
        return True
    except ValueError:
        return False


def first_diff(got, want):
    cg, cw = collections.Counter(got), collections.Counter(want)
    why = "%d lines, expected %d; %d missing, %d extra" % (
        len(got), len(want), sum((cw - cg).values()),
        sum((cg - cw).values()))
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return "%s; first difference at %d: %.70s | %.70s" % (
                why, i, g, w)
    return why


class Run:
    """imapwatch -r - with sinks, fed by the test; stderr kept."""

    def __init__(self, outputs, header=True):
        args = [IMAPWATCH, "-r", "-"]
        for o in outputs:
            args += ["-o", o]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self.err = []
        self.last = None
        self.t = threading.Thread(target=self._read_err, daemon=True)
        self.t.start()
        if header:
            self.feed([pcapfeed.global_header()])

    def _read_err(self):
        for line in self.proc.stderr:
            self.err.append(line.decode("utf-8", "replace").rstrip("\n"))

    def feed(self, records):
        self.proc.stdin.write(b"".join(records))
        self.proc.stdin.flush()
        if records and len(records[-1]) >= 16:
            self.last = records[-1]

    def tick(self):
        """A filler packet at the last packet's time: the loop turns."""
        if self.last is not None:
            self.feed([pcapfeed.filler([self.last])])

    def finish(self, timeout=60):
        """The exit status; a sanitizer report on stderr is a failure."""
        self.proc.stdin.close()
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.t.join(5)
        if iwtest.sanitizer_report("\n".join(self.err)):
            R.check(False, "imapwatch -r - %s: no sanitizer report"
                    % " ".join(self.proc.args[3:])[:100],
                    iwtest.sanitizer_report("\n".join(self.err)))
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def run_file(outputs, pcap, timeout=60, want_pid=False):
    """imapwatch -r pcap with outputs: (rc, stdout, stderr, seconds)."""
    args = [IMAPWATCH, "-r", pcap]
    for o in outputs:
        args += ["-o", o]
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    res = (p.returncode, out.decode(), err.decode(), time.monotonic() - t0)
    rep = iwtest.sanitizer_report(res[2])
    if rep:
        R.check(False, "imapwatch -r %s: no sanitizer report"
                % " ".join(args[2:])[:100], rep)
    return res + (p.pid,) if want_pid else res


def rfc3339(ts):
    """EVE's +0000 timestamp as imapwatch writes it in the header."""
    return ts[:-5] + "Z" if ts.endswith("+0000") else ts


def syslog_errors(rec, pid, facility):
    """What is wrong with one rsyslog record; [] when all is right."""
    raw, msg = rec["raw"], rec["msg"]
    try:
        head = raw.split(" ", 7)
        ev = json.loads(msg)
    except ValueError:
        return ["message is not JSON: %.60s" % msg]
    sev = SEVERITY.get(ev.get("alert", {}).get("severity"), (6, "info"))
    if ev.get("event_type") != "alert":
        sev = (6, "info")
    want = {
        "pri": "<%d>1" % (facility * 8 + sev[0]),
        "ts": rfc3339(ev["timestamp"]),
        "app": "imapwatch", "procid": str(pid),
        "msgid": ev["event_type"], "sd": "-",
    }
    got = dict(zip(["pri", "ts", "host", "app", "procid", "msgid", "sd"],
                   head[:7]))
    errs = ["%s %r, want %r" % (k, got.get(k), v) for k, v in want.items()
            if got.get(k) != v]
    if len(head) < 8 or head[7] != msg:
        errs.append("MSG is not the event")
    # and rsyslog read the header the same way
    for k, v in (("app", "imapwatch"), ("procid", str(pid)),
                 ("msgid", ev["event_type"]), ("severity", sev[1]),
                 ("pri", str(facility * 8 + sev[0]))):
        if rec[k] != v:
            errs.append("rsyslog parsed %s %r, want %r" % (k, rec[k], v))
    return errs


# ---- 1. bad specs ----

BAD_SPECS = [
    "syslog:relative", "syslog+tcp://127.0.0.1:0", "syslog://127.0.0.1:99999",
    "syslog+tcp://:514", "syslog+udp://127.0.0.1:514/extra",
    "syslog://127.0.0.1:514?facility=local9", "syslog:?colour=blue",
    "unix:", "unixgram:?queue=1k", "unix:/tmp/x?queue=12", "unix:/tmp/x?queue_events=0",
    "unix:/" + "x" * 120, "redis://127.0.0.1:6379", "redis://127.0.0.1:6379/",
    "redis://127.0.0.1/k?mode=stream", "redis://[::1/k", "redis://127.0.0.1/k?queue",
    "kafka://127.0.0.1:9092/topic", "/nonexistent-dir/events.json",
]


def test_bad_specs(tmp, pcap):
    rc, _, stderr, _ = run_file(["redis://user:s3cret@127.0.0.1:6379/k"],
                                pcap)
    R.check(rc == 1 and "s3cret" not in stderr and "user:" not in stderr and
            len(stderr.splitlines()) == 1, "bad -o with a password in the "
            "URL: refused, the password not echoed", stderr)
    for spec in BAD_SPECS:
        out = os.path.join(tmp, "bad.json")
        if os.path.exists(out):
            os.unlink(out)
        rc, stdout, stderr, _ = run_file([out, spec], pcap)
        lines = stderr.splitlines()
        written = os.path.exists(out) and os.path.getsize(out) > 0
        R.check(rc == 1 and len(lines) == 1 and
                lines[0].startswith("imapwatch: -o ") and
                spec[:20] in lines[0] and not written and stdout == "",
                "bad -o %s: one line on stderr, exit 1, nothing written"
                % spec, "rc %d, stderr %r, written %s" % (rc, stderr, written))


# ---- 2. all sinks at once ----

def test_all_sinks(tmp, pcap, rs, rd):
    ref = os.path.join(tmp, "all.json")
    ustream = collectors.UnixListener(os.path.join(tmp, "all-stream.sock"))
    ugram = collectors.UnixListener(os.path.join(tmp, "all-dgram.sock"),
                                    dgram=True)
    sub = collectors.Subscriber(rd.port, "iw-chan")
    sub.start()
    specs = {
        "tcp": "syslog+tcp://127.0.0.1:%d" % rs.port,
        "udp": "syslog://127.0.0.1:%d" % rs.port,
        "local": "syslog:%s?facility=local3" % rs.sock,
        "unix": "unix:" + ustream.path,
        "unixgram": "unixgram:" + ugram.path,
        "list": "redis://127.0.0.1:%d/iw-list" % rd.port,
        "lpush": "redis://127.0.0.1:%d/iw-lpush?mode=lpush" % rd.port,
        "publish": "redis://127.0.0.1:%d/iw-chan?mode=publish&queue=1m"
                   % rd.port,
    }
    before = len(rs.records())
    try:
        rc, stdout, stderr, _, pid = run_file(
            ["-", ref] + list(specs.values()), pcap, want_pid=True)
        want = read_lines(ref)
        R.check(rc == 0 and len(events(want)) > 100,
                "all sinks: exit 0, %d events in the file" % len(want),
                "rc %d: %s" % (rc, stderr.strip()))
        R.check(stdout.splitlines() == want and stderr == "",
                "all sinks: standard output is the file, nothing on stderr",
                first_diff(stdout.splitlines(), want) + " " + stderr)
        n = len(want)
        collectors.wait_for(lambda: len(rs.records()) - before >= 3 * n, 15)
        collectors.wait_for(lambda: len(ustream.got) >= n and
                            len(ugram.got) >= n and len(sub.got) >= n, 10)
        recs = rs.records()[before:]
        check_syslog_all(recs, want, pid)
        for name, got in (("unix", ustream.got), ("unixgram", ugram.got),
                          ("redis list (RPUSH)", rd.lrange("iw-list")),
                          ("redis list (LPUSH)",
                           rd.lrange("iw-lpush")[::-1]),
                          ("redis publish", sub.got)):
            R.check(got == want, "all sinks: %s got every event whole, "
                    "identical and in order" % name, first_diff(got, want))
        st = stats_of(want)
        # a socket sink may still hold some when the stats event is
        # written (a busy collector, Redis replies not back yet)
        bad = [o for o in st.get("outputs", [])
               if not (o["events"] == n - 1 and o["dropped"] == 0 and
                       o["sent"] + o.get("queued", 0) == o["events"] and
                       ("queued" in o or o["sent"] == n - 1))]
        R.check(len(st.get("outputs", [])) == 10 and not bad and
                st.get("events_dropped") == 0,
                "all sinks: stats.outputs has 10 outputs, %d events each, "
                "sent or still queued, none dropped" % (n - 1),
                "wrong: %s" % bad)
    finally:
        sub.close()
        ustream.close()
        ugram.close()


def check_syslog_all(recs, want, pid):
    by = collections.defaultdict(list)
    for r in recs:
        by[r["input"]].append(r)
    for inp, fac, name in (("imtcp", 21, "syslog+tcp (octet counting)"),
                           ("imudp", 21, "syslog UDP"),
                           ("imuxsock", 19, "syslog local socket, "
                            "facility=local3")):
        got = by[inp]
        msgs = [r["msg"] for r in got]
        R.check(collections.Counter(msgs) == collections.Counter(want),
                "all sinks: %s: every event arrived, whole and identical"
                % name, first_diff(sorted(msgs), sorted(want)))
        errs = [e for r in got for e in syslog_errors(r, pid, fac)]
        R.check(got and not errs, "all sinks: %s: RFC 5424 header right "
                "in all %d (PRI, timestamp, APP-NAME, PROCID, MSGID)"
                % (name, len(got)), "; ".join(errs[:3]))
    sevs = {r["severity"] for r in by["imtcp"]}
    R.check({"crit", "err", "warning", "info"} <= sevs,
            "all sinks: alert severities 1/2/3 map to crit/err/warning, "
            "others info", "seen %s" % sorted(sevs))


# ---- 3. collectors die mid-run ----

def test_collectors_die(tmp, records, rs, rd):
    ref = os.path.join(tmp, "die.json")
    unix = collectors.UnixListener(os.path.join(tmp, "die-stream.sock"))
    specs = {
        "tcp": "syslog+tcp://127.0.0.1:%d" % rs.port,
        "tcp-small": "syslog+tcp://127.0.0.1:%d?facility=local1&"
                     "queue_events=3" % rs.port,
        "local": "syslog:%s?facility=local2" % rs.sock,
        "redis": "redis://127.0.0.1:%d/die-big" % rd.port,
        "redis-small": "redis://127.0.0.1:%d/die-small?queue_events=3"
                       % rd.port,
        "unix": "unix:" + unix.path,
    }
    third = len(records) // 3
    parts = [records[:third], records[third:2 * third], records[2 * third:]]
    before = len(rs.records())
    run = Run([ref] + list(specs.values()))

    def arrived():
        recs = rs.records()[before:]
        fac = collections.defaultdict(list)
        for r in recs:
            fac[(r["input"], r["facility"])].append(r["msg"])
        return {
            "tcp": fac[("imtcp", "local5")],
            "tcp-small": fac[("imtcp", "local1")],
            "local": fac[("imuxsock", "local2")],
            "unix": list(unix.got),
        }

    seen = {"n": -1, "since": time.monotonic()}

    def caught_up():
        """Big sinks have all the file has, and it grew for a second not:
        imapwatch is done with the packets fed (a stream collector killed
        while events are in flight to it loses them, unacknowledged)."""
        want = len(events(read_lines(ref)))
        if want != seen["n"]:
            seen.update(n=want, since=time.monotonic())
        got = arrived()
        return (want > 0 and time.monotonic() - seen["since"] >= 1.0 and
                rd.llen("die-big") == want and
                all(len(events(v)) == want for k, v in got.items()
                    if not k.endswith("-small")))

    saved = {}
    try:
        # phase 1: all collectors up
        run.feed(parts[0])
        t0 = time.monotonic()
        ok = collectors.wait_for(caught_up, 30, tick=run.tick)
        R.check(ok, "collectors die: before the kill every big-queue sink "
                "has all %d events" % len(events(read_lines(ref))), str(
                    {k: len(v) for k, v in arrived().items()}))
        # kill them all while imapwatch waits for input
        saved["redis"] = rd.lrange("die-big")
        saved["redis-small"] = rd.lrange("die-small")
        rs.stop()
        rd.stop()
        unix.stop_listening()
        n_before = len(events(read_lines(ref)))
        # phase 2: collectors down
        run.feed(parts[1])
        time.sleep(0.5)
        n_down = len(events(read_lines(ref))) - n_before
        rs.start()
        rd.start()
        unix.start_listening()
        # phase 3: up again; fillers turn the loop until all reconnected
        run.feed(parts[2])

        def reconnected():
            return all(any(ln == "imapwatch: output %s: connected" % s
                           for ln in run.err) for s in specs.values())
        t1 = time.monotonic()
        ok = collectors.wait_for(reconnected, 60, step=0.1,
                                 tick=run.tick)
        R.note("phase 1 took %.1f s, reconnecting %.1f s" %
               (t1 - t0, time.monotonic() - t1))
        R.check(ok, "collectors die: every sink reconnected while the "
                "run went on", "stderr: %s" % run.err[-6:])
        collectors.wait_for(lambda: len(arrived()["tcp"]) >=
                            len(events(read_lines(ref))), 10, step=0.1,
                            tick=run.tick)
        rc = run.finish()
    finally:
        run.kill()
    want_all = read_lines(ref)
    want = events(want_all)
    st = stats_of(want_all)
    R.check(rc == 0 and n_down > 0, "collectors die: exit 0; %d events "
            "while they were down" % n_down, "rc %d" % rc)
    collectors.wait_for(lambda: len(events(arrived()["tcp"])) >= len(want),
                        10)
    got = arrived()
    got["redis"] = saved.get("redis", []) + rd.lrange("die-big")
    got["redis-small"] = saved.get("redis-small", []) + \
        rd.lrange("die-small")
    unix.close()
    for key, spec in specs.items():
        check_died(key, spec, got[key], want, want_all, st, n_down)


def check_died(key, spec, got, want, want_all, st, n_down):
    o = output_stats(st, spec)
    ev = events(got)
    stats_ok = [ln for ln in got if ln in want_all and is_stats(ln)]
    small = key.endswith("-small")
    R.check(o.get("reconnects", 0) >= 1 and (stats_ok or small),
            "collectors die: %s: %d reconnect(s) counted%s" %
            (key, o.get("reconnects", 0), "" if small else
             ", the final stats event arrived"), "stats %s" % o)
    if not small:
        R.check(ev == want or (key.startswith("tcp") or key == "local") and
                collections.Counter(ev) == collections.Counter(want),
                "collectors die: %s (big queue): all %d events arrived, "
                "none lost or twice, none dropped" % (key, len(want)),
                first_diff(ev, want))
        R.check(o.get("dropped") == 0, "collectors die: %s: 0 dropped"
                % key, "stats %s" % o)
        R.note("%s: %d events queued while down, all delivered after "
               "reconnect" % (key, n_down))
        return
    wanted = set(want)
    dup = len(ev) - len(set(ev))
    R.check(all(e in wanted for e in ev) and dup == 0 and
            len(ev) + o.get("dropped", -1) == len(want) and
            o.get("dropped", 0) > 0,
            "collectors die: %s (3-event queue): %d arrived + %d counted "
            "dropped = %d in the file, no duplicates" %
            (key, len(ev), o.get("dropped", -1), len(want)),
            "dup %d, stats %s" % (dup, o))
    R.note("%s: %d events while down, %d dropped" %
           (key, n_down, o.get("dropped", -1)))


# ---- 4. dead sinks ----

def test_dead_sinks(tmp, pcap):
    ref = os.path.join(tmp, "dead.json")
    alone = os.path.join(tmp, "alone.json")
    port = collectors.free_port()
    dead = ["syslog+tcp://127.0.0.1:%d" % port,
            "redis://127.0.0.1:%d/k" % port,
            "unix:%s/missing/stream.sock" % tmp,
            "unixgram:%s/missing/dgram.sock" % tmp,
            "syslog:%s/missing/log.sock" % tmp]
    rc, _, stderr, secs = run_file([ref] + dead, pcap)
    rc2, _, _, _ = run_file([alone], pcap)
    got, want = read_lines(ref), read_lines(alone)
    R.check(rc == 0 and rc2 == 0 and events(got) == events(want) and
            secs < 15, "dead sinks: exit 0 in %.1f s, the file has all %d "
            "events" % (secs, len(events(want))),
            "rc %d, %s" % (rc, first_diff(events(got), events(want))))
    st = stats_of(got)
    lines = stderr.splitlines()
    for spec in dead:
        o = output_stats(st, spec)
        said = [ln for ln in lines if ln.startswith("imapwatch: output %s: "
                                                    % spec)]
        R.check(o.get("connected") is False and o.get("sent") == 0 and
                o.get("queued") == o.get("events") and len(said) == 2 and
                "cannot connect" in said[0] and
                "%d of %d events dropped" % (len(got), len(got)) in said[1],
                "dead sinks: %s: said once, counted all %d as dropped at "
                "exit" % (spec, len(got)), "stats %s, stderr %s" % (o, said))


# ---- 5. a collector that hangs ----

def test_stalled(tmp, pcap_big):
    ref = os.path.join(tmp, "stall.json")
    lis = collectors.UnixListener(os.path.join(tmp, "stall.sock"),
                                  reading=False)
    spec = "unix:%s?queue=64k" % lis.path
    try:
        rc, _, stderr, secs = run_file([ref, spec], pcap_big)
        lis.drain_stalled()
    finally:
        lis.close()
    want = read_lines(ref)
    data = b"".join(lis.streams)
    lines = data.split(b"\n")
    whole, tail = lines[:-1], lines[-1]
    said = [ln for ln in stderr.splitlines() if spec in ln]
    dropped = int(said[-1].split(": ")[-1].split(" ")[0]) if said else -1
    R.check(rc == 0 and secs < 20 and len(events(want)) > 1000,
            "stalled collector: the run was not held up (%.1f s, %d events)"
            % (secs, len(want)), "rc %d, %s" % (rc, stderr))
    good = all(ln.decode() in want for ln in whole)
    R.check(good and len(whole) + dropped == len(want) and dropped > 0,
            "stalled collector: %d read whole + %d counted dropped = %d"
            % (len(whole), dropped, len(want)), "stderr %s" % said)
    R.check(tail == b"" or len(tail) < len(max(want, key=len)),
            "stalled collector: at most the one event cut at exit is "
            "unterminated (%d bytes)" % len(tail))


# ---- 6. files ----

def test_files(tmp, pcap, records):
    ref = os.path.join(tmp, "full.json")
    rc, _, stderr, _ = run_file([ref, "/dev/full"], pcap)
    want = read_lines(ref)
    o = output_stats(stats_of(want), "/dev/full")
    said = [ln for ln in stderr.splitlines() if "writing /dev/full" in ln]
    R.check(rc == 0 and len(events(want)) > 100 and
            o.get("dropped") == o.get("events") == len(want) - 1 and
            len(said) == 1, "disk full: exit 0, every event to /dev/full "
            "counted dropped, said once, the other file complete",
            "rc %d, stats %s, %s" % (rc, o, stderr))
    path = os.path.join(tmp, "hup.json")
    run = Run([path])
    try:
        run.feed(records[:len(records) // 2])
        collectors.wait_for(lambda: len(read_lines(path)) > 10, 10)
        time.sleep(0.3)
        os.rename(path, path + ".1")
        run.proc.send_signal(signal.SIGHUP)
        run.feed(records[len(records) // 2:])
        rc = run.finish()
    finally:
        run.kill()
    old, new = read_lines(path + ".1"), read_lines(path)
    full = os.path.join(tmp, "nohup.json")
    pfile = os.path.join(tmp, "hup.pcap")
    pcapfeed.write_file(pfile, records)
    run_file([full], pfile)
    R.check(rc == 0 and old and new and events(old + new) ==
            events(read_lines(full)), "SIGHUP: the moved file has the "
            "first %d events, the reopened one the other %d" %
            (len(old), len(new)), "rc %d, %s" % (rc, run.err))


# ---- main ----

def have_tools():
    for path in (collectors.RSYSLOGD, collectors.REDIS_SERVER):
        if not os.access(path, os.X_OK):
            return "%s is not installed (make test-deps)" % path
    return None


def main():
    if not os.access(IMAPWATCH, os.X_OK):
        R.check(False, "imapwatch is built", IMAPWATCH)
        return 1
    tmp = tempfile.mkdtemp(prefix="iw-sinks-")
    records = pcapfeed.build(ROOT, 1)
    pcap = os.path.join(tmp, "long1.pcap")
    pcapfeed.write_file(pcap, records)
    big = os.path.join(tmp, "long6.pcap")
    pcapfeed.write_file(big, pcapfeed.build(ROOT, 6))
    rs = rd = None
    try:
        test_bad_specs(tmp, pcap)
        test_dead_sinks(tmp, pcap)
        test_stalled(tmp, big)
        test_files(tmp, pcap, records)
        why = have_tools()
        if why:
            # make test-deps installs both: missing, it is a failure
            R.check(False, "sinks to rsyslogd and redis-server", why)
            return 1
        rs = collectors.Rsyslog(tmp)
        rd = collectors.Redis(tmp)
        rs.start()
        rd.start()
        test_all_sinks(tmp, pcap, rs, rd)
        test_collectors_die(tmp, pcapfeed.build(ROOT, 3), rs, rd)
    finally:
        if rs is not None:
            rs.stop()
        if rd is not None:
            rd.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
