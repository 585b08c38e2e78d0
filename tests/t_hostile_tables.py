#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Issue 9, attacks 1, 2, 7, 8 and 9: structure, never time.

  1. Flow-table hash flooding.  gen_hostile's flow_hash capture: SYNs
     whose endpoints all give one value of the old, unkeyed flow_hash
     (checked here with that function written again in Python), so they
     were one chain of 20 000.  Under the keyed hash the longest chain a
     lookup walks stays short and no chain overflows.
  2. Fragment-table hash flooding: the same for first fragments with one
     id (old key_hash: one of 1024 buckets).
  7. IP length 0 with a 2 GiB orig_len: dropped and counted, no gap, the
     LOGIN behind it found; a genuine offload super-packet (100 KiB,
     IPv4 and IPv6, fully captured) is still read; one over 512 KiB not.
  8. Overlapping fragments, checked against Linux itself: each fragment
     pattern is sent (as UDP) through the loopback of a network namespace
     of our own and what the kernel delivers, if anything, is what
     imapwatch must see of the same pattern carrying a LOGIN (TCP): the
     same user name, or none.  Needs root and ip(8); without them the
     expectations read from Linux's inet_frag_queue_insert are used and
     the oracle part says skip.  The generated attack: every datagram
     dropped and counted, one anomaly per connection, the user "victim",
     never first-wins' "maltim".
  9. pcapng LINKTYPE_RAW interfaces read (tshark reads the same file),
     raw IP as DLT 14 (tshark too), a link type we cannot decode said on
     stderr once per type and counted, a block whose trailing length
     differs taken as damage (tshark says so too); --write-alerted holds
     at most --max-flows connections (or 262144), the least recently
     active forgotten, counted and said.

Every output is grepped for the passwords the captures carry.  Prints
ok/not ok/skip lines (tests/run.sh).  Environment: IMAPWATCH, IW_BUILD.
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IW = os.path.abspath(os.environ.get("IMAPWATCH") or
                     os.path.join(ROOT, "imapwatch"))
BUILD = os.environ.get("IW_BUILD") or os.path.join(ROOT, "build")
GEN = os.path.join(BUILD, "tests", "gen_hostile")

VICTIM_PASS = b"hostile-secret-7"       # tests/hostile/pcapw.h
ORACLE_PASS = b"secret99"
M64 = (1 << 64) - 1

failures = 0
TMP = tempfile.mkdtemp(prefix="iw-hostile-tables.")


def ok(cond, what):
    global failures
    print(("ok - " if cond else "not ok - ") + what)
    if not cond:
        failures += 1


def skip(what, why):
    print("skip - %s (%s)" % (what, why))


# ---- running imapwatch ----

def run(pcap, *opts, stdin=None):
    out = os.path.join(TMP, "events.json")
    if os.path.exists(out):
        os.unlink(out)
    args = [IW, "-r", "-" if stdin else pcap, "-o", out] + list(opts)
    if stdin:
        with open(pcap, "rb") as f:
            p = subprocess.run(args, stdin=f, capture_output=True)
    else:
        p = subprocess.run(args, capture_output=True)
    raw = open(out, "rb").read() if os.path.exists(out) else b""
    for secret in (VICTIM_PASS, ORACLE_PASS):
        if secret in raw or secret in p.stderr or secret in p.stdout:
            ok(False, "a password appears in the output of %s" %
               os.path.basename(pcap))
    events = [json.loads(line) for line in raw.splitlines()]
    return p.returncode, events, p.stderr.decode(errors="replace")


def stats_of(events):
    st = [e for e in events if e["event_type"] == "stats"]
    return st[-1]["stats"] if st else {}


def logins(events):
    return [e.get("imap", {}).get("username") for e in events
            if e["event_type"] == "alert" and
            e["alert"]["signature"] == "cleartext_login"]


def generate(attack, scale, control=False):
    path = os.path.join(TMP, "%s%s.pcap" %
                        (attack, ".control" if control else ""))
    args = [GEN, attack, "--scale", str(scale), "-o", path]
    if control:
        args.insert(2, "--control")
    subprocess.run(args, check=True)
    return path


# ---- reading captures (pcap, Ethernet) ----

def pcap_frames(path):
    data = open(path, "rb").read()
    off, out = 24, []
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack_from("<IIII", data, off)
        out.append(data[off + 16:off + 16 + caplen])
        off += 16 + caplen
    return out


def ipv6_tcp_syn(frame):
    """(src, sport, dst, dport) of an Ethernet/IPv6/TCP SYN, or None."""
    if frame[12:14] != b"\x86\xdd" or frame[20] != 6:
        return None
    tcp = frame[54:]
    if tcp[13] & 0x12 != 0x02:
        return None
    return (frame[22:38], struct.unpack("!H", tcp[0:2])[0],
            frame[38:54], struct.unpack("!H", tcp[2:4])[0])


def ipv6_fragment(frame):
    """(src, dst, id) of an Ethernet/IPv6 fragment, or None."""
    if frame[12:14] != b"\x86\xdd" or frame[20] != 44:
        return None
    return frame[22:38], frame[38:54], struct.unpack("!I", frame[58:62])[0]


# ---- the old, unkeyed hashes (before issue 9) ----

def old_mix(h, v):
    h ^= v
    h = (h * 0x9E3779B97F4A7C15) & M64
    return h ^ (h >> 29)


def old_flow_hash(a, pa, b, pb):
    if a > b or (a == b and pa > pb):
        a, pa, b, pb = b, pb, a, pa
    h = 0x2545F4914F6CDD1D
    for addr, port in ((a, pa), (b, pb)):
        w0, w1 = struct.unpack("<QQ", addr)     # memcpy on x86: LE
        h = old_mix(old_mix(old_mix(h, w0), w1), port)
    return (h ^ (h >> 32)) & 0xFFFFFFFF


def old_frag_bucket(src, dst, ident):
    h = (ident * 2654435761) & 0xFFFFFFFF
    h ^= src[15] << 8 | dst[15]
    h ^= src[14] << 16 | dst[14] << 24
    return (h ^ (h >> 16)) & 1023


# ---- 1, 2: hash flooding ----

def flow_hash_flood():
    n = 20000
    pcap = generate("flow_hash", n)
    syns = [t for t in map(ipv6_tcp_syn, pcap_frames(pcap)) if t]
    ok(len(syns) == n, "flow_hash: %d crafted SYNs" % len(syns))
    ok(len(set(syns)) == n, "flow_hash: all different connections")
    old = {old_flow_hash(*t) for t in syns}
    ok(len(old) == 1, "flow_hash: they all share one value of the old "
       "flow_hash, so one bucket at any table size (%d values)" % len(old))
    rc, ev, err = run(pcap)
    st = stats_of(ev)
    ht = st["hash_tables"]["flows"]
    ok(rc == 0, "flow_hash: runs")
    ok(st["tcp"]["flows"] == n + 1, "flow_hash: %d flows" %
       st["tcp"]["flows"])
    ok(ht["longest_chain"] <= 12, "flow_hash: spread over buckets by the "
       "keyed hash: longest chain walked %d (was %d)" %
       (ht["longest_chain"], n))
    ok(ht["chain_evictions"] == 0, "flow_hash: no chain full")
    ok(logins(ev) == ["victim"], "flow_hash: the LOGIN found")
    cpcap = generate("flow_hash", n, control=True)
    csyns = [t for t in map(ipv6_tcp_syn, pcap_frames(cpcap)) if t]
    ok(len({old_flow_hash(*t) & 0xFFFF for t in csyns}) > 10000,
       "flow_hash control: random endpoints spread under the old hash too")


def frag_hash_flood():
    n = 20000
    pcap = generate("frag_hash", n)
    frags = [t for t in map(ipv6_fragment, pcap_frames(pcap)) if t]
    ok(len(frags) == n and len(set(frags)) == n,
       "frag_hash: %d first fragments of different datagrams" % len(frags))
    old = {old_frag_bucket(*t) for t in frags}
    ok(len(old) == 1, "frag_hash: all in one bucket of the old key_hash "
       "(%d buckets)" % len(old))
    rc, ev, err = run(pcap)
    st = stats_of(ev)
    ht = st["hash_tables"]["ip_fragments"]
    ok(rc == 0, "frag_hash: runs")
    ok(ht["longest_chain"] <= 14, "frag_hash: spread by the keyed hash: "
       "longest chain walked %d (was 8192, the datagrams held)" %
       ht["longest_chain"])
    ok(ht["chain_evictions"] == 0, "frag_hash: no chain full")
    ok(st["capture"]["ip_fragments_evicted"] == n - 8192,
       "frag_hash: the table holds 8192, the oldest evicted and counted "
       "(%d)" % st["capture"]["ip_fragments_evicted"])
    ok(logins(ev) == ["victim"], "frag_hash: the LOGIN found")


# ---- 7: IP length 0 ----

def ip_len_zero():
    n = 100
    rc, ev, err = run(generate("ip_len_zero", n))
    st = stats_of(ev)
    cap = st["capture"]
    ok(rc == 0, "ip_len_zero: runs")
    ok(cap["bad_packets"]["ip_length_implausible"] == n + 1,
       "ip_len_zero: every 2 GiB record with length 0 dropped and counted "
       "(%d)" % cap["bad_packets"]["ip_length_implausible"])
    ok(st["tcp"]["gap_bytes"] == 0, "ip_len_zero: no phantom gap (%d "
       "bytes)" % st["tcp"]["gap_bytes"])
    ok(logins(ev) == ["victim"], "ip_len_zero: the LOGIN behind the "
       "phantom found")
    rc, ev, err = run(generate("ip_len_zero", n, control=True))
    cap = stats_of(ev)["capture"]
    ok(cap["ip_length_from_frame"] == n + 1 and
       cap["bad_packets"]["ip_length_implausible"] == 0,
       "ip_len_zero control: honest offload records sized from the frame "
       "(%d)" % cap["ip_length_from_frame"])
    ok(logins(ev) == ["victim"], "ip_len_zero control: the LOGIN found")


# ---- hand-built sessions (pcap or pcapng, Ethernet or raw IP) ----

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


SYN, FIN, ACK, PSH = 0x02, 0x01, 0x10, 0x08
V4C, V4S = bytes([192, 0, 2, 10]), bytes([192, 0, 2, 143])
V6C = bytes.fromhex("20010db8000000000000000000000010")
V6S = bytes.fromhex("20010db8000000000000000000000143")
ETH_V4 = bytes.fromhex("020000000b01020000000a01") + b"\x08\x00"
ETH_V6 = bytes.fromhex("020000000b01020000000a01") + b"\x86\xdd"


def tcp_seg(src, dst, sport, dport, seq, ack, flags, payload=b"",
            opts=b""):
    hl = 20 + len(opts)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF,
                      ack & 0xFFFFFFFF, (hl // 4) << 4, flags, 65535, 0, 0)
    tcp += opts + payload
    # IPv6's form; for IPv4 the same sum while the length fits 16 bits,
    # and what a super-packet's checksum is taken over past that
    pseudo = src + dst + struct.pack("!IxxxB", len(tcp), 6)
    return tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]


def ip4(src, dst, proto, payload, ident=0, frag=0x4000, total=None):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload)
                    if total is None else total, ident, frag, 64, proto,
                    0, src, dst)
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def ip6(src, dst, nh, payload, plen=None):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload)
                       if plen is None else plen, nh, 64, src,
                       dst) + payload


class Session:
    """One IMAP connection, as IP packets (raw) in capture order."""

    def __init__(self, v6=False, cport=40000):
        self.v6 = v6
        self.c, self.s = (V6C, V6S) if v6 else (V4C, V4S)
        self.cport = cport
        self.cseq, self.sseq = 1000, 5000
        self.pkts = []

    def ip(self, frm, to, tcp, **kw):
        if self.v6:
            return ip6(frm, to, 6, tcp, **kw)
        return ip4(frm, to, 6, tcp, **kw)

    def seg(self, to_server, flags, payload=b"", **kw):
        if to_server:
            tcp = tcp_seg(self.c, self.s, self.cport, 143, self.cseq,
                          self.sseq, flags, payload)
            pkt = self.ip(self.c, self.s, tcp, **kw)
        else:
            tcp = tcp_seg(self.s, self.c, 143, self.cport, self.sseq,
                          self.cseq, flags, payload)
            pkt = self.ip(self.s, self.c, tcp, **kw)
        return pkt

    def send(self, to_server, flags, payload=b"", **kw):
        self.pkts.append(self.seg(to_server, flags, payload, **kw))
        n = len(payload) + (1 if flags & (SYN | FIN) else 0)
        if to_server:
            self.cseq += n
        else:
            self.sseq += n

    def opening(self):
        self.send(True, SYN)
        self.send(False, SYN | ACK)
        self.send(True, ACK)
        self.send(False, PSH | ACK, b"* OK [CAPABILITY IMAP4rev1 "
                  b"AUTH=PLAIN] ready\r\n")

    def closing(self):
        self.send(False, PSH | ACK, b"a1 OK done\r\n")
        self.send(True, FIN | ACK)
        self.send(False, FIN | ACK)
        self.send(True, ACK)


def eth(ip_pkt):
    return (ETH_V6 if ip_pkt[0] >> 4 == 6 else ETH_V4) + ip_pkt


def write_pcap(path, frames, linktype=1, snaplen=262144):
    """frames: bytes, or (bytes, orig_len)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen,
                            linktype))
        for i, fr in enumerate(frames):
            data, orig = fr if isinstance(fr, tuple) else (fr, len(fr))
            f.write(struct.pack("<IIII", 1795918822, i * 10, len(data),
                                orig))
            f.write(data)


def pcapng_block(btype, body):
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def write_pcapng(path, ifaces, packets, bad_trailer_at=None):
    """ifaces: link types; packets: (iface, bytes)."""
    blocks = [pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D,
                                                   1, 0, -1))]
    for lt in ifaces:
        blocks.append(pcapng_block(1, struct.pack("<HHI", lt, 0, 262144)))
    for i, (iface, data) in enumerate(packets):
        ts = (1795918822 * 10**6 + i * 10)
        blocks.append(pcapng_block(6, struct.pack(
            "<IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(data),
            len(data)) + data))
    if bad_trailer_at is not None:
        b = blocks[bad_trailer_at]
        blocks[bad_trailer_at] = b[:-4] + struct.pack(
            "<I", struct.unpack("<I", b[-4:])[0] + 4)
    with open(path, "wb") as f:
        f.write(b"".join(blocks))


def login_session(user=b"victim", v6=False, cport=40000):
    s = Session(v6, cport)
    s.opening()
    s.send(True, PSH | ACK, b"a1 LOGIN " + user + b" " + ORACLE_PASS +
           b"\r\n")
    s.closing()
    return s


# ---- 7: genuine super-packets, and one too long ----

def super_packets():
    body = b"a0 NOOP\r\n" * 11000 + b"a1 LOGIN bigtcp " + ORACLE_PASS + \
        b"\r\n"                               # about 100 KiB
    for v6 in (False, True):
        s = Session(v6)
        s.opening()
        if v6:
            s.send(True, PSH | ACK, body, plen=0)
        else:
            s.send(True, PSH | ACK, body, total=0)
        s.closing()
        path = os.path.join(TMP, "bigtcp%d.pcap" % (6 if v6 else 4))
        write_pcap(path, [eth(p) for p in s.pkts])
        rc, ev, err = run(path)
        cap = stats_of(ev)["capture"]
        name = "IPv6 payload" if v6 else "IPv4 total"
        ok(logins(ev) == ["bigtcp"], "a %d-byte offload super-packet "
           "(%s length 0), fully captured, is read: its LOGIN found" %
           (len(body), name))
        ok(cap["ip_length_from_frame"] == 1 and
           cap["bad_packets"]["ip_length_implausible"] == 0,
           "... sized from the frame and counted (%s length 0)" % name)
    s = Session()
    s.opening()
    phantom = eth(s.seg(True, PSH | ACK, b"a0 NOOP\r\n", total=0))
    frames = [eth(p) for p in s.pkts] + [(phantom, 600 * 1024)]
    s.send(True, PSH | ACK, b"a1 LOGIN behind " + ORACLE_PASS + b"\r\n")
    s.closing()
    frames += [eth(p) for p in s.pkts[4:]]
    path = os.path.join(TMP, "toolong.pcap")
    write_pcap(path, frames)
    rc, ev, err = run(path)
    cap = stats_of(ev)["capture"]
    ok(cap["bad_packets"]["ip_length_implausible"] == 1,
       "a 600 KiB record with IP length 0 is no super-packet: dropped, "
       "counted")
    ok(logins(ev) == ["behind"], "... and the LOGIN at its sequence "
       "number found")


# ---- 8: overlapping fragments, against Linux ----

# The L4 header is 8 bytes for UDP (the oracle) and 24 for TCP (ours, with
# 4 bytes of NOP options): fragment offsets within the payload are the
# same, all past the first shifted by 16.  The payload's bytes 16-23 are
# the user name; "alt" fragments carry "bbbbbbbb" there instead.
PAYLOAD = b"a00000001 LOGIN aaaaaaaa " + ORACLE_PASS + b"\r\n"
ALT = PAYLOAD[:16] + b"bbbbbbbb" + PAYLOAD[24:]
END = len(PAYLOAD)

# (name, [(payload start, payload end, alt?)], what Linux's rules give:
# the user name, or None when the datagram is dropped; whether the
# connection's ports were seen by then, so that the drop is an anomaly of
# the connection); a fragment starting at 0 also carries the L4 header
PATTERNS = [
    ("in order", [(0, 16, 0), (16, 24, 0), (24, END, 0)], "aaaaaaaa",
     False),
    ("exact duplicate with other bytes", [(0, 16, 0), (16, 24, 0),
                                          (16, 24, 1), (24, END, 0)],
     "aaaaaaaa", False),
    ("inside one run", [(0, 16, 0), (16, 32, 0), (16, 24, 1),
                        (32, END, 0)], "aaaaaaaa", False),
    ("partial overlap at the end", [(0, 24, 0), (16, END, 1)], None, True),
    # dropped before the first fragment came: no ports, no anomaly (the
    # first fragment then starts a datagram of its own, as in Linux)
    ("partial overlap before", [(16, END, 0), (8, 24, 1), (0, 8, 0)],
     None, False),
    ("across two runs", [(16, 24, 0), (0, 16, 0), (8, 24, 1),
                         (24, END, 0)], None, True),
    ("inside a run made out of order", [(24, END, 0), (8, 24, 0),
                                        (16, 24, 1), (0, 8, 0)],
     "aaaaaaaa", False),
    ("last first, then the rest", [(24, END, 0), (0, 24, 1)], "bbbbbbbb",
     False),
]


def fragments(l4, hlen, pattern, ident, src, dst, proto):
    """IPv4 fragments of datagram l4 (header hlen bytes, then PAYLOAD
    or ALT) following pattern."""
    alt = l4[:hlen] + ALT
    out = []
    for start, end, use_alt in pattern:
        data = alt if use_alt else l4
        a = 0 if start == 0 else hlen + start
        b = hlen + end
        more = end != END
        out.append(ip4(src, dst, proto, data[a:b], ident=ident,
                       frag=(a // 8) | (0x2000 if more else 0)))
    return out


ORACLE = r'''
import select, socket, struct, sys
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.bind(("127.0.0.1", 9999))
tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for line in sys.stdin:
    for pkt in line.split():
        tx.sendto(bytes.fromhex(pkt), ("127.0.0.1", 0))
    r, _, _ = select.select([rx], [], [], 0.3)
    print(rx.recv(200).hex() if r else "-", flush=True)
'''


def linux_oracle():
    """What Linux delivers for each pattern (UDP over loopback in a
    network namespace of our own), or None when it cannot be asked."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return None
    ns = "iwfrag%d" % os.getpid()
    lo = bytes([127, 0, 0, 1])
    udp = struct.pack("!HHHH", 5555, 9999, 8 + END, 0) + PAYLOAD
    lines = []
    for i, (_, pattern, _, _) in enumerate(PATTERNS):
        frs = fragments(udp, 8, pattern, 0x4200 + i, lo, lo, 17)
        lines.append(" ".join(f.hex() for f in frs))
    try:
        subprocess.run(["ip", "netns", "add", ns], check=True,
                       capture_output=True)
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"],
                       check=True, capture_output=True)
        p = subprocess.run(["ip", "netns", "exec", ns, sys.executable,
                            "-c", ORACLE], input="\n".join(lines) + "\n",
                           capture_output=True, text=True, timeout=60)
    except (subprocess.CalledProcessError, OSError,
            subprocess.TimeoutExpired):
        return None
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    got = p.stdout.split()
    if len(got) != len(PATTERNS):
        return None
    users = []
    for h in got:
        users.append(None if h == "-" else
                     bytes.fromhex(h)[16:24].decode())
    return users


def overlap_patterns():
    linux = linux_oracle()
    if linux is None:
        skip("overlapping fragments asked of Linux itself",
             "needs root and ip(8) for a network namespace")
        expected = [want for _, _, want, _ in PATTERNS]
    else:
        for (name, _, want, _), got in zip(PATTERNS, linux):
            ok(got == want, "Linux, %s: %s (the rule read from "
               "inet_frag_queue_insert says %s)" % (name, got, want))
        expected = linux
    nop4 = b"\x01\x01\x01\x01"
    for i, ((name, pattern, _, ports), want) in enumerate(
            zip(PATTERNS, expected)):
        s = Session(cport=41000 + i)
        s.opening()
        tcp = tcp_seg(s.c, s.s, s.cport, 143, s.cseq, s.sseq, PSH | ACK,
                      PAYLOAD, opts=nop4)
        frames = [eth(p) for p in s.pkts]
        frames += [eth(f) for f in fragments(tcp, 24, pattern, 0x4300 + i,
                                             s.c, s.s, 6)]
        path = os.path.join(TMP, "frag%d.pcap" % i)
        write_pcap(path, frames)
        rc, ev, err = run(path)
        cap = stats_of(ev)["capture"]
        got = logins(ev)
        ok(got == ([want] if want else []), "fragments %s: imapwatch "
           "sees %s as Linux does (%s)" % (name, got, want))
        dropped = cap["ip_datagrams_overlap_dropped"]
        ok(dropped == (0 if want else 1), "fragments %s: %d datagram "
           "dropped for overlap, counted" % (name, dropped))
        anomalies = [e for e in ev if e["event_type"] == "anomaly" and
                     e["anomaly"]["kind"] == "ip_fragment_overlap"]
        ok(len(anomalies) == (1 if want is None and ports else 0) and
           all(a["anomaly"]["type"] == "decode" and
               a["anomaly"]["event"].endswith(".frag_overlap") and
               a["src_port"] == s.cport
               for a in anomalies),
           "fragments %s: %d anomaly of the connection" %
           (name, len(anomalies)))


def frag_overlap_attack():
    n = 128
    rc, ev, err = run(generate("frag_overlap", n))
    st = stats_of(ev)
    cap = st["capture"]
    ok(cap["ip_datagrams_overlap_dropped"] == n + 1 and
       cap["bad_packets"]["fragment_overlap"] == n + 1,
       "frag_overlap: every overlapping datagram dropped and counted (%d)"
       % cap["ip_datagrams_overlap_dropped"])
    flows = {e["flow_id"] for e in ev if e["event_type"] == "anomaly" and
             e["anomaly"]["kind"] == "ip_fragment_overlap"}
    n_anom = sum(1 for e in ev if e["event_type"] == "anomaly" and
                 e["anomaly"]["kind"] == "ip_fragment_overlap")
    ok(n_anom == 3 and len(flows) == 3, "frag_overlap: one anomaly per "
       "connection, not per datagram (%d for 3 connections)" % n_anom)
    ok(st["tcp"]["overlaps_different_data"] == 0, "frag_overlap: the "
       "retransmissions are not taken for other data")
    ok(logins(ev) == ["victim"], "frag_overlap: the user is victim, not "
       "first-wins' maltim (%s)" % logins(ev))
    rc, ev, err = run(generate("frag_overlap", n, control=True))
    cap = stats_of(ev)["capture"]
    ok(cap["ip_datagrams_overlap_dropped"] == 0 and
       cap["ip_fragments_reassembled"] == n + 1,
       "frag_overlap control: every datagram reassembled (%d)" %
       cap["ip_fragments_reassembled"])
    ok(logins(ev) == ["victim"], "frag_overlap control: the LOGIN found")


# ---- 9: link types, pcapng trailers ----

def tshark_logins(path):
    """User names in the LOGIN commands tshark reads, or None without
    tshark."""
    if shutil.which("tshark") is None:
        return None
    p = subprocess.run(["tshark", "-n", "-r", path, "-Y", "imap.request",
                        "-T", "fields", "-e", "imap.request"],
                       capture_output=True, text=True)
    return [ln.split()[2] for ln in p.stdout.splitlines()
            if len(ln.split()) > 2 and ln.split()[1].upper() == "LOGIN"]


def link_types():
    other = login_session(b"ethuser", cport=40001)
    raw = login_session(b"tununser", cport=40002)
    path = os.path.join(TMP, "mixed-raw.pcapng")
    write_pcapng(path, [1, 101], [(0, eth(p)) for p in other.pkts] +
                 [(1, p) for p in raw.pkts])
    ts = tshark_logins(path)
    if ts is None:
        skip("tshark reads the raw interface of a mixed pcapng",
             "no tshark")
    else:
        ok(sorted(ts) == ["ethuser", "tununser"], "tshark reads both "
           "interfaces of an Ethernet + LINKTYPE_RAW pcapng (%s)" % ts)
    rc, ev, err = run(path)
    ok(sorted(logins(ev)) == ["ethuser", "tununser"], "imapwatch reads "
       "the LINKTYPE_RAW (101) interface of a mixed pcapng too (%s)" %
       logins(ev))
    ok("not decoded" not in err, "... and warns of nothing")

    raw14 = os.path.join(TMP, "raw14.pcap")
    write_pcap(raw14, raw.pkts, linktype=14)
    ts = tshark_logins(raw14)
    if ts is not None:
        ok(ts == ["tununser"], "tshark reads link type 14 as raw IP")
    rc, ev, err = run(raw14)
    ok(logins(ev) == ["tununser"], "imapwatch reads link type 14 (DLT_RAW "
       "on OpenBSD) as raw IP")

    path = os.path.join(TMP, "mixed-unknown.pcapng")
    write_pcapng(path, [1, 147], [(0, eth(p)) for p in other.pkts] +
                 [(1, b"\x00" * 40)] * 3)
    rc, ev, err = run(path)
    st = stats_of(ev)
    warn = [ln for ln in err.splitlines() if "link type 147" in ln]
    ok(rc == 0 and len(warn) == 1, "a link type not decoded is said on "
       "stderr once, for 3 packets (%d lines)" % len(warn))
    ok(st["capture"]["unknown_linktype"] == 3, "... its packets counted "
       "(%d)" % st["capture"]["unknown_linktype"])
    ok(logins(ev) == ["ethuser"], "... and the other interface read")
    path = os.path.join(TMP, "unknown.pcap")
    write_pcap(path, [b"\x00" * 40] * 2, linktype=147)
    rc, ev, err = run(path)
    ok(rc == 0 and err.count("link type 147") == 1 and
       stats_of(ev)["capture"]["unknown_linktype"] == 2,
       "a pcap of a link type not decoded: said once, counted, exit 0")

    path = os.path.join(TMP, "trailer.pcapng")
    pkts = [(0, eth(p)) for p in other.pkts] + [(1, p) for p in raw.pkts]
    # blocks: SHB, 2 IDBs, then packets: spoil the first of the raw
    # interface's
    write_pcapng(path, [1, 101], pkts, bad_trailer_at=3 + len(other.pkts))
    if shutil.which("tshark") is not None:
        p = subprocess.run(["tshark", "-n", "-r", path], capture_output=True,
                           text=True)
        ok(p.returncode != 0 and "damaged" in p.stderr + p.stdout,
           "tshark: a pcapng block whose lengths differ is damage")
    rc, ev, err = run(path)
    st = stats_of(ev)
    ok(rc == 0 and st["capture"]["input_cut_short"] and
       "ends with length" in err, "imapwatch: the same block is damage: "
       "said, input_cut_short, exit 0")
    ok(st["capture"]["packets"] == len(other.pkts),
       "... what came before it read (%d packets)" %
       st["capture"]["packets"])


# ---- 9: --write-alerted bounded ----

def written_client_ports(path):
    ports = []
    for fr in pcap_frames(path):
        if fr[12:14] == b"\x08\x00" and fr[23] == 6:
            sport, dport = struct.unpack("!HH", fr[34:38])
            ports.append(dport if sport == 143 else sport)
    return ports


def alerted_bounded():
    n, cap = 3000, 1000
    pcap = generate("alerted_flood", n)
    order = written_client_ports(pcap)      # the input, in order
    out = os.path.join(TMP, "alerted.pcap")
    for mode, stdin in (("two passes", False), ("buffered", True)):
        rc, ev, err = run(pcap, "--max-flows", str(cap),
                          "--write-alerted", out, stdin=stdin)
        wa = stats_of(ev).get("write_alerted", {})
        ok(rc == 0 and wa.get("alerted_flows") == n + 1,
           "--write-alerted (%s): %s alerted connections" %
           (mode, wa.get("alerted_flows")))
        ok(wa.get("alerted_flows_evicted") == n + 1 - cap and
           wa.get("flows_evicted") == n + 1 - cap,
           "--write-alerted (%s): at most --max-flows (%d) held, %s "
           "forgotten and counted" % (mode, cap,
                                     wa.get("alerted_flows_evicted")))
        ok("%d alerted connections left out" % (n + 1 - cap) in err,
           "--write-alerted (%s): said on stderr" % mode)
        got = written_client_ports(out)
        if stdin:
            want = order        # written as they came, before eviction
        else:
            # the least recently active go: the first greetings
            want = order[n - cap + 1:]
        ok(got == want, "--write-alerted (%s): the file has %d packets, "
           "those expected (%d)" % (mode, len(got), len(want)))


def main():
    if not os.access(GEN, os.X_OK):
        ok(False, "%s is built (make unit)" % GEN)
        return 1
    flow_hash_flood()
    frag_hash_flood()
    ip_len_zero()
    super_packets()
    overlap_patterns()
    frag_overlap_attack()
    link_types()
    alerted_bounded()
    shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
