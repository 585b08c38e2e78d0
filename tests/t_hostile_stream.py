#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Hostile streams (issue 9, attacks 3 to 6): structure, never time.

The captures come from $IW_BUILD/tests/gen_hostile (tests/hostile/), at
small scales; what each must show follows from how it was built, and the
inflated sizes are checked against Python's own zlib:

  - idle_reassembly: idle sessions' rings of recent bytes no longer use up
    --reassembly-cap: the victim's LOGIN split over two reordered segments
    is found after 70,000 idle sessions at the defaults, and after 1,000
    with a 2 MiB cap they would have filled;
  - holes_held: connections holding a megabyte each fill the cap; the
    victim's half LOGIN held while it is full, then left the least
    recently active, is still found: the large holders gave up their
    holes (counted, an anomaly each), never the victim;
  - held_segments: past 4,096 held segments the rest are dropped and
    counted, the byte that fills the hole is not, and the LOGIN after
    them is found; reassembly is byte-exact whatever the arrival order
    (ascending, descending, shuffled with overlaps), checked with
    iw-streams against the bytes written;
  - deflate_bomb: the bomb is cut at --inflate-ratio (or --inflate-max),
    an anomaly, counted, the rest skipped; ordinary mail inflates in
    full, to exactly what zlib gives;
  - anomaly_flood, anomaly_flows: one anomaly event per kind per session,
    the rest counted; --anomaly-rate holds a million flows' worth back in
    packet time, counted;
  - every registered attack and its control at a small scale: valid JSON,
    the victim's LOGIN found, no password in any output.

Prints ok/not ok lines (tests/run.sh).  Environment: IMAPWATCH, IW_BUILD.
"""

import base64
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import zlib

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("IW_BUILD") or os.path.join(ROOT, "build")
IW = os.path.abspath(os.environ.get("IMAPWATCH") or
                     os.path.join(ROOT, "imapwatch"))
GEN = os.path.join(BUILD, "tests", "gen_hostile")
STREAMS = os.path.join(BUILD, "tests", "iw-streams")

# the secrets the generators use (tests/hostile/*.c)
SECRETS = [b"hostile-secret-7", b"held-secret-4", b"bomb-secret-5"]
VICTIM = ("192.0.2.10", 40000)
SEG_LIMIT = 4096
# small scales of the attacks whose unit is large (default: 200)
SMALL = {"holes_held": 2, "deflate_bomb": 20000, "endless_line": 100000,
         "one_byte_segments": 20000}

failures = 0
TMP = tempfile.mkdtemp(prefix="iw-hostile-stream.")


def ok(cond, what):
    global failures
    print(("ok - " if cond else "not ok - ") + what)
    if not cond:
        failures += 1
    return cond


def gen(attack, scale, control=False):
    path = os.path.join(TMP, "%s%s.%d.pcap" % (
        attack, ".control" if control else "", scale))
    cmd = [GEN, attack, "--scale", str(scale), "-o", path]
    if control:
        cmd.insert(2, "--control")
    subprocess.run(cmd, check=True)
    return path


class Run:
    """One imapwatch run: its events, stats and the checks on its output."""

    def __init__(self, pcap, *opts, log=True):
        env = dict(os.environ)
        if not log:
            # tens of thousands of session events: the shapes are those
            # the small runs already give the schema check
            env.pop("IW_EVENT_LOG", None)
        out = os.path.join(TMP, "events.json")
        p = subprocess.run([IW, "-r", pcap, "-o", out] + list(opts),
                           capture_output=True, env=env)
        self.rc, self.stderr = p.returncode, p.stderr
        with open(out, "rb") as f:
            self.raw = f.read()
        os.unlink(out)
        self.events, self.bad_json = [], 0
        for line in self.raw.splitlines():
            try:
                self.events.append(json.loads(line.decode("utf-8")))
            except (UnicodeDecodeError, ValueError):
                self.bad_json += 1
        st = [e for e in self.events if e["event_type"] == "stats"]
        self.stats = st[-1]["stats"] if st else {}

    def clean(self):
        """Exit 0, valid JSON lines, no secret anywhere."""
        blob = self.raw + self.stderr
        return (self.rc == 0 and self.bad_json == 0 and self.stats != {}
                and not any(s in blob or base64.b64encode(s)[:16] in blob
                            for s in SECRETS))

    def logins(self):
        return [e["imap"].get("username") for e in self.events
                if e["event_type"] == "alert" and
                e["alert"]["signature"] == "cleartext_login"]

    def victim(self):
        return "victim" in self.logins()

    def anomalies(self, event=None):
        return [e for e in self.events if e["event_type"] == "anomaly" and
                (event is None or e["anomaly"]["kind"] == event)]

    def tcp(self, k):
        return self.stats["tcp"][k]

    def sessions(self, k):
        return self.stats["sessions"][k]

    def kind(self, k):
        return self.stats["sessions"]["anomalies"].get(k, 0)


# ---- attack 3: fair reassembly budgets ----

def idle_reassembly():
    r = Run(gen("idle_reassembly", 70000), log=False)
    ok(r.clean() and r.victim(),
       "idle_reassembly, 70,000 idle sessions, defaults: the victim's "
       "LOGIN in two reordered segments is found")
    ok(r.tcp("reassembly_cap_hits") == 0 and
       r.tcp("reassembly_bytes_peak") == 19,
       "idle_reassembly: rings are not counted against --reassembly-cap "
       "(peak %d: the victim's held 19 bytes)" %
       r.tcp("reassembly_bytes_peak"))
    # 1,000 sessions' 2 rings of 2 KiB are 4 MiB: more than this cap
    r = Run(gen("idle_reassembly", 1000), "--reassembly-cap", "2M")
    ok(r.clean() and r.victim() and r.tcp("reassembly_cap_hits") == 0,
       "idle_reassembly, 1,000 sessions, --reassembly-cap 2M: victim found, "
       "no cap hit")
    r = Run(gen("idle_reassembly", 1000, control=True))
    ok(r.clean() and r.victim(), "idle_reassembly control: victim found")


def holes_held():
    r = Run(gen("holes_held", 6), "--reassembly-cap", "4M")
    ok(r.clean() and r.victim(),
       "holes_held, 9 MB held around it, --reassembly-cap 4M: the victim's "
       "reordered LOGIN is found")
    evicted = r.tcp("reassembly_holders_evicted")
    ok(evicted > 0 and r.tcp("reassembly_cap_hits") >= evicted and
       r.kind("tcp.reassembly_memcap") == evicted,
       "holes_held: %d holders gave up their holes, counted as cap hits and "
       "as reassembly_memcap anomalies" % evicted)
    ok(r.tcp("reassembly_bytes_peak") <= 4 << 20,
       "holes_held: held bytes stay within the cap (peak %d)" %
       r.tcp("reassembly_bytes_peak"))
    hurt = {(e["src_ip"], e["src_port"])
            for e in r.anomalies("reassembly_memcap")}
    ok(VICTIM not in hurt and len(hurt) == evicted,
       "holes_held: an anomaly on each session the cap hurt (%d), none on "
       "the victim's" % len(hurt))
    c = Run(gen("holes_held", 6, control=True), "--reassembly-cap", "4M")
    ok(c.clean() and c.victim() and c.tcp("reassembly_cap_hits") == 0,
       "holes_held control: victim found, nothing held, no cap hit")


# ---- attack 4: held segments ----

def held_segments():
    r = Run(gen("held_segments", 10000))
    ok(r.clean() and sorted(set(r.logins())) == ["held", "victim"],
       "held_segments, 10,000 one-byte segments behind a hole: the LOGIN "
       "after them and the victim's are found")
    ok(r.tcp("reassembly_segments_dropped") == 10000 - SEG_LIMIT,
       "held_segments: every segment past %d held is counted as dropped "
       "(%d)" % (SEG_LIMIT, r.tcp("reassembly_segments_dropped")))
    ok(len(r.anomalies("reassembly_segment_limit")) == 1 and
       r.kind("tcp.reassembly_segment_limit") == 10000 - SEG_LIMIT,
       "held_segments: one reassembly_segment_limit event, every drop "
       "counted by kind")
    c = Run(gen("held_segments", 10000, control=True))
    ok(c.clean() and sorted(set(c.logins())) == ["held", "victim"] and
       c.tcp("reassembly_segments_dropped") == 0 and
       c.tcp("out_of_order") == 0,
       "held_segments control: in order, nothing held or dropped")


def order_capture(name, data, pieces):
    """A connection whose client sends data as pieces [(offset, len)]."""
    c, s = "192.0.2.31", "192.0.2.143"
    cisn, sisn = 0xFFFFF000, 7000      # the client's numbers wrap
    end = (cisn + 1 + len(data)) & 0xFFFFFFFF

    def seg(src, dst, sport, dport, seq, ack, flags, payload=b""):
        return (Ether(src="02:00:00:00:0a:01", dst="02:00:00:00:0b:01") /
                IP(src=src, dst=dst, flags="DF") /
                TCP(sport=sport, dport=dport, seq=seq & 0xFFFFFFFF, ack=ack,
                    flags=flags, window=65535) / Raw(payload))

    pkts = [seg(c, s, 41000, 143, cisn, 0, "S"),
            seg(s, c, 143, 41000, sisn, cisn + 1, "SA"),
            seg(c, s, 41000, 143, cisn + 1, sisn + 1, "A")]
    pkts += [seg(c, s, 41000, 143, cisn + 1 + off, sisn + 1, "PA",
                 data[off:off + n]) for off, n in pieces]
    pkts += [seg(c, s, 41000, 143, end, sisn + 1, "FA"),
             seg(s, c, 143, 41000, sisn + 1, end + 1, "FA"),
             seg(c, s, 41000, 143, end + 1, sisn + 2, "A")]
    for i, p in enumerate(pkts):
        p.time = 1_795_918_822 + i * 1e-5
    path = os.path.join(TMP, name + ".pcap")
    wrpcap(path, pkts)
    return path


def streams(path):
    p = subprocess.run([STREAMS, "-r", path], capture_output=True)
    lines = [json.loads(l) for l in p.stdout.splitlines()]
    conns = [l for l in lines if "toserver_b64" in l]
    stats = [l["stats"] for l in lines if "stats" in l]
    return p.returncode, conns, stats[0] if stats else {}


def arrival_orders():
    """Byte-exact reassembly whatever order the segments come in."""
    rnd = random.Random(9)
    data = bytes(rnd.randrange(256) for _ in range(3000))
    cuts = sorted(rnd.sample(range(1, 3000), 1200))
    segs = [(a, b - a) for a, b in zip([0] + cuts, cuts + [3000])]
    shuffled = segs[1:] + [(rnd.randrange(2990), rnd.randrange(1, 10))
                           for _ in range(400)]       # overlapping copies
    rnd.shuffle(shuffled)
    cases = {
        "ascending": segs[1:] + segs[:1],
        "descending": list(reversed(segs)),
        "shuffled with overlaps": shuffled + segs[:1],
    }
    for name, pieces in cases.items():
        rc, conns, st = streams(order_capture(name.split()[0], data, pieces))
        got = base64.b64decode(conns[0]["toserver_b64"]) if conns else b""
        ok(rc == 0 and len(conns) == 1 and got == data and
           conns[0]["gaps"] == [] and
           st["tcp"]["reassembly_segments_dropped"] == 0,
           "1,200 segments arriving %s, sequence numbers wrapping: the "
           "stream is byte-exact, no gap, nothing dropped" % name)
    # past the limit, descending: the first 4,096 to come (the last bytes)
    # are held, the next 5,904 dropped; the byte that fills the hole goes
    # through, the dropped ones are a gap at the end
    data = bytes(rnd.randrange(256) for _ in range(10001))
    pieces = [(i, 1) for i in range(10000, 0, -1)] + [(0, 1)]
    rc, conns, st = streams(order_capture("limit", data, pieces))
    got = base64.b64decode(conns[0]["toserver_b64"]) if conns else b""
    want_gap = [{"dir": "toserver", "at": 1, "len": 10000 - SEG_LIMIT}]
    ok(rc == 0 and len(conns) == 1 and conns[0]["gaps"] == want_gap and
       got == data[:1] + data[1 + 10000 - SEG_LIMIT:] and
       st["tcp"]["reassembly_segments_dropped"] == 10000 - SEG_LIMIT,
       "10,000 one-byte segments descending, then the hole's: %d held and "
       "delivered, %d dropped and counted, one gap where they were" %
       (SEG_LIMIT, 10000 - SEG_LIMIT))


# ---- attack 5: deflate bombs ----

def server_deflate(pcap):
    """The server's bytes after its OK to COMPRESS, inflated by zlib."""
    server, out = b"", b""
    with open(pcap, "rb") as f:
        f.read(24)
        while True:
            h = f.read(16)
            if len(h) < 16:
                break
            n = struct.unpack("<IIII", h)[2]
            fr = f.read(n)
            ip = fr[14:]
            if fr[12:14] != b"\x08\x00" or ip[9] != 6:
                continue
            tcp = ip[(ip[0] & 15) * 4:]
            if struct.unpack("!H", tcp[:2])[0] == 143 and \
                    ip[12:16] == bytes([192, 0, 2, 143]):
                server += tcp[(tcp[12] >> 4) * 4:]
    start = server.index(b"DEFLATE active\r\n") + 16
    d = zlib.decompressobj(-15)
    for i in range(start, len(server), 1 << 16):
        out = d.decompress(server[i:i + (1 << 16)])
        yield len(out)


def deflate_bomb():
    bomb = gen("deflate_bomb", 50000)
    wire = os.path.getsize(bomb)
    full = sum(server_deflate(bomb))
    r = Run(bomb)
    ok(r.clean() and sorted(set(r.logins())) == ["bomb", "victim"],
       "deflate_bomb: both LOGINs found (the bomb's before COMPRESS)")
    ok(r.sessions("inflate_limited") == 1 and
       len(r.anomalies("imap_inflate_limit")) == 1,
       "deflate_bomb, defaults: the direction is cut, counted, one "
       "imap_inflate_limit anomaly")
    ok((1 << 20) < r.sessions("inflated_bytes") <=
       (1 << 20) + 100 * wire + 24576 < full,
       "deflate_bomb, defaults: %d bytes inflated of zlib's %d: at most "
       "1 MiB and 100 per compressed byte" %
       (r.sessions("inflated_bytes"), full))
    ok(r.tcp("bytes_bypassed") > 0,
       "deflate_bomb: the rest of the direction is skipped, counted")
    r = Run(bomb, "--inflate-ratio", "0", "--inflate-max", "0")
    ok(r.clean() and r.sessions("inflate_limited") == 0 and
       r.sessions("inflated_bytes") == full,
       "deflate_bomb, no limits: all %d bytes inflated, as zlib says" % full)
    r = Run(bomb, "--inflate-ratio", "0", "--inflate-max", "2M")
    ok(r.sessions("inflate_limited") == 1 and
       (2 << 20) < r.sessions("inflated_bytes") <= (2 << 20) + 24576,
       "deflate_bomb, --inflate-max 2M: cut within a buffer of 2 MiB")
    mail = gen("deflate_bomb", 50000, control=True)
    full = sum(server_deflate(mail))
    r = Run(mail)
    ok(r.clean() and r.victim() and r.sessions("inflate_limited") == 0 and
       r.sessions("inflated_bytes") == full and not r.anomalies(),
       "deflate_bomb control, mail text: all %d bytes inflated, as zlib "
       "says, no anomaly" % full)


# ---- attack 6: anomaly floods ----

def anomaly_floods():
    r = Run(gen("anomaly_flood", 1000))
    ok(r.clean() and r.victim() and
       r.tcp("overlaps_different_data") == 1000 and
       len(r.anomalies()) == 1 and
       r.kind("tcp.overlap_different_data_toserver") == 1000 and
       r.sessions("anomalies_repeated") == 999,
       "anomaly_flood, 1,000 differing copies in one connection: one "
       "anomaly event, 1,000 counted, 999 as repeated")
    c = Run(gen("anomaly_flood", 1000, control=True))
    ok(c.clean() and c.victim() and not c.anomalies() and
       c.tcp("retransmissions") >= 1000,
       "anomaly_flood control: plain retransmissions, no anomaly")

    flows = gen("anomaly_flows", 1000)
    r = Run(flows, "--anomaly-rate", "0")
    ok(r.clean() and len(r.anomalies()) == 1000,
       "anomaly_flows, 1,000 connections, --anomaly-rate 0: one event each")
    # 1,000 connections in 30 ms of packet time: the burst only
    r = Run(flows, "--anomaly-rate", "10")
    ok(r.clean() and r.victim() and len(r.anomalies()) == 10 and
       r.sessions("anomalies_rate_limited") == 990 and
       r.kind("tcp.overlap_different_data_toserver") == 1000,
       "anomaly_flows, --anomaly-rate 10: a burst of 10 written, 990 "
       "counted as rate limited, all 1,000 by kind")
    # 40,000 connections over 1.2 s: the burst, then 10 a second
    r = Run(gen("anomaly_flows", 40000), "--anomaly-rate", "10")
    n = len(r.anomalies())
    ok(r.clean() and 21 <= n <= 23 and
       n + r.sessions("anomalies_rate_limited") == 40000,
       "anomaly_flows, 40,000 connections in 1.2 s of packet time, "
       "--anomaly-rate 10: %d written (10 and 10 a second), the rest "
       "counted" % n)


# ---- every attack, small ----

def every_attack():
    p = subprocess.run([GEN, "--list"], capture_output=True, text=True)
    names = [l.split("\t")[0] for l in p.stdout.splitlines()]
    ok(p.returncode == 0 and len(names) >= 10,
       "gen_hostile --list names the attacks (%d)" % len(names))
    for name in names:
        scale = SMALL.get(name, 200)
        for control in (False, True):
            r = Run(gen(name, scale, control))
            ok(r.clean() and r.victim(),
               "%s%s at scale %d: exit 0, valid JSON, victim found, no "
               "password in the output" % (
                   name, " control" if control else "", scale))


def main():
    if not os.path.exists(GEN) or not os.path.exists(STREAMS):
        ok(False, "%s and %s built" % (GEN, STREAMS))
        return 1
    idle_reassembly()
    holes_held()
    held_segments()
    arrival_orders()
    deflate_bomb()
    anomaly_floods()
    every_attack()
    for f in os.listdir(TMP):
        os.unlink(os.path.join(TMP, f))
    os.rmdir(TMP)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
