#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""The engine against real captures nobody here wrote.

For every capture in ../shared/corpus (read in place, never copied):
  * the TCP connections we track (client side, five-tuple) and their frame
    counts equal tshark's view in corpus/truth/ (connections[].five_tuple,
    frames.count);
  * each connection's reassembled bytes per direction equal
    `tshark -q -z follow,tcp,raw,N`, run here.
Where we and tshark differ on purpose, KNOWN below says who is right and
why; such a case is still checked, against the value we claim is right.

Prints "ok - ..." / "not ok - ..." lines for tests/run.sh.
"""
import base64
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import iwtest  # noqa: E402
from iwtest import BUILD, CORPUS, ok  # noqa: E402

STREAMS = os.path.join(BUILD, "tests", "iw-streams")

# Connections tshark lists that are not connections (reviewer notes).
NOT_CONNECTIONS = {
    # frame 3 is an ICMPv6 error quoting a TCP header: tshark dissects the
    # quoted header as a stream of its own; it carries no connection.
    ("ndpi/6in4tunnel.pcap",
     "tcp 2001:470:1f17:13f:25a3:3292:16f9:2ce0:60491 -> "
     "2604:a880:1:20::224:b001:993"),
}

# Connections whose roles we read the other way round, and why.
ROLES = {
    ("ndpi/ossfuzz_seed_fake_traces_1.pcapng",
     "tcp 192.168.1.128:1 -> 1.2.3.4:10"): "tcp 1.2.3.4:10 -> 192.168.1.128:1",
    ("ndpi/ossfuzz_seed_fake_traces_1.pcapng",
     "tcp 192.168.1.128:1 -> 1.2.3.4:11"): "tcp 1.2.3.4:11 -> 192.168.1.128:1",
}
ROLES_WHY = ("a fuzzer's seed: no handshake, and the stream starts with a "
             "0x00 byte before a ClientHello, so no content shows the roles "
             "at its start; we keep the rule for mid-stream pickups (lower "
             "port is the server). tshark's truth took the side that sent "
             "the ClientHello found in the second segment.")

# Where we differ from tshark's "follow" and say why: (file, five-tuple,
# direction) -> (reason, what we deliver instead: data length, gaps).
KNOWN = {
    ("ndpi/heuristic_tcp_ack_payload.pcap",
     "tcp 194.226.199.21:58155 -> 52.18.127.189:443", "client->server"):
    ("frame 55 (server) acknowledges client bytes up to offset 5285 before "
     "frame 56 brings bytes 5284-5285 again: at that ACK the bytes from 5245 "
     "were lost to the capture, so 5245-5285 is one 40-byte gap and byte "
     "5284 is not taken from the later copy; tshark fills it in (39-byte "
     "hole). Both keep every byte otherwise.",
     5247, [(5245, 40)]),
}


def run(cmd, timeout=600):
    return subprocess.run(cmd, capture_output=True, timeout=timeout)


def captures():
    for root, _, files in os.walk(CORPUS):
        if "/truth" in root:
            continue
        for f in sorted(files):
            if f.endswith((".pcap", ".pcapng", ".cap")):
                yield os.path.relpath(os.path.join(root, f), CORPUS)


def truth_of(rel):
    with open(os.path.join(CORPUS, "truth", rel + ".json")) as fp:
        return json.load(fp)


def our_streams(path):
    p = run([STREAMS, "-r", path])
    err = p.stderr.decode(errors="replace")
    if p.returncode != 0 or not iwtest.check_stderr(err, path):
        return None, err, None
    lines = [json.loads(x) for x in p.stdout.decode().splitlines() if x]
    stats = next((x["stats"] for x in lines if "stats" in x), None)
    return [x for x in lines if "client" in x], None, stats


def tshark_bad_tcp_checksums(path):
    p = run(["tshark", "-n", "-r", path, "-o", "tcp.check_checksum:TRUE",
             "-Y", "tcp.checksum.status == 0 && !icmp && !icmpv6",
             "-T", "fields", "-e", "frame.number"])
    return len([x for x in p.stdout.decode().splitlines() if x])


def five_tuple(c):
    return "tcp %s:%d -> %s:%d" % (c["client"], c["cport"], c["server"],
                                   c["sport"])


def tshark_follow(path, streams):
    """{stream: (node0 "ip:port", bytes0, node1, bytes1)} for the streams."""
    out = {}
    for i in range(0, len(streams), 50):
        args = ["tshark", "-n", "-r", path, "-q"]
        for s in streams[i:i + 50]:
            args += ["-z", "follow,tcp,raw,%d" % s]
        p = run(args)
        text = p.stdout.decode(errors="replace")
        for block in text.split("=" * 67):
            m = re.search(r"Filter: tcp.stream eq (\d+)", block)
            if not m:
                continue
            n0 = re.search(r"Node 0: (\S+)", block)
            n1 = re.search(r"Node 1: (\S+)", block)
            data = [bytearray(), bytearray()]
            for line in block.splitlines():
                if re.fullmatch(r"\t?[0-9a-f]+", line):
                    side = 1 if line.startswith("\t") else 0
                    data[side] += bytes.fromhex(line.strip())
            out[int(m.group(1))] = (n0.group(1) if n0 else "",
                                    bytes(data[0]),
                                    n1.group(1) if n1 else "",
                                    bytes(data[1]))
    return out


def endpoint(ip, port):
    return ("[%s]:%d" % (ip, port)) if ":" in ip else "%s:%d" % (ip, port)


MISSING = re.compile(rb"\[(\d+) bytes missing in capture file\]\x00")


def split_missing(data):
    """tshark's follow writes "[N bytes missing in capture file]" and a NUL
    where it saw a hole: take those out as (offset, N) gap records."""
    out, gaps, pos = bytearray(), [], 0
    for m in MISSING.finditer(data):
        out += data[pos:m.start()]
        gaps.append((len(out), int(m.group(1))))
        pos = m.end()
    out += data[pos:]
    return bytes(out), gaps


def compare_bytes(rel, ft, ours, theirs, direction):
    if ours == theirs:
        return ok(True, "%s %s %s bytes (%d)" % (rel, ft, direction,
                                                 len(ours)))
    n = min(len(ours), len(theirs))
    first = next((i for i in range(n) if ours[i] != theirs[i]), n)
    return ok(False, "%s %s %s bytes" % (rel, ft, direction),
              "ours %d, tshark %d, first difference at %d" %
              (len(ours), len(theirs), first))


# ---- an independent view of each direction's extent, from tshark's own
# dissection of every packet (tshark's "follow" says nothing of bytes it
# never saw: acknowledged but not captured, cut by the snaplen, or after
# the FIN) ----

FIELDS = ["tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "tcp.flags.syn",
          "tcp.flags.ack", "tcp.flags.fin", "tcp.seq_raw", "tcp.ack_raw",
          "tcp.len", "frame.protocols", "tcp.flags.reset"]
MAX_AHEAD = 1 << 30
MAX_ACK_AHEAD = 256 << 10


def last(v):
    return v.split(",")[-1] if v else v


def tshark_packets(path):
    """{stream: [packet dict]} in capture order; ICMP errors quoting a TCP
    header are counted apart: they are not segments of the connection."""
    args = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "occurrence=l"]
    for f in FIELDS:
        args += ["-e", f]
    out = run(args).stdout.decode(errors="replace")
    streams, icmp = {}, {}
    for line in out.splitlines():
        v = line.split("\t")
        if len(v) < len(FIELDS) or v[0] == "":
            continue
        stream = int(v[0])
        if ":icmp" in v[10]:
            icmp[stream] = icmp.get(stream, 0) + 1
            continue
        src = last(v[2]) or last(v[1])
        streams.setdefault(stream, []).append({
            "src": endpoint(src, int(v[3])),
            "syn": v[4] in ("1", "True"), "ack": v[5] in ("1", "True"),
            "fin": v[6] in ("1", "True"), "seq": int(v[7]),
            "rst": v[11] in ("1", "True"),
            "acknum": int(v[8] or 0), "len": int(v[9] or 0)})
    return streams, icmp


def diff(a, b):
    return (a - b) & 0xffffffff


def ahead(a, b):
    """a is after b (mod 2^32)."""
    d = diff(a, b)
    return 0 < d < 0x80000000


def extent(pkts, me):
    """(base, end, fin) of the direction sent by endpoint `me`, as seq
    numbers: where its bytes start, how far they were sent or acknowledged,
    and where its FIN sits (None if none)."""
    base = alt = fin = None
    for p in pkts:
        if p["syn"] and p["src"] == me:
            if base is None:
                base = (p["seq"] + 1) & 0xffffffff
            elif (p["seq"] + 1) & 0xffffffff != base:
                alt = (p["seq"] + 1) & 0xffffffff
        elif p["syn"] and p["ack"] and p["src"] != me and base is None:
            base = p["acknum"]
    end = base
    for p in pkts:
        if p["rst"] and base is not None and end is not None:
            # a reset near the stream ends it for both sides: bytes sent
            # after it never reach an application (one far off is ignored)
            ref = end if p["src"] == me else None
            if ref is None or -(1 << 20) < diff(p["seq"], ref) - \
                    (1 << 32 if diff(p["seq"], ref) >= 1 << 31 else 0) \
                    < (1 << 24):
                if p["src"] != me and not reset_plausible(pkts, p, me):
                    continue
                break
        if p["src"] != me:
            if base is None or not p["ack"] or p["syn"]:
                continue
            limit = p["acknum"]
            if fin is not None and limit == (fin + 1) & 0xffffffff:
                limit = fin
            if ahead(limit, end) and diff(limit, end) <= MAX_ACK_AHEAD:
                end = limit
            continue
        seq = (p["seq"] + (1 if p["syn"] else 0)) & 0xffffffff
        if p["len"] == 0 and not p["fin"]:
            continue
        if base is None:
            base = end = seq
        if alt is not None and p["len"] and seq == alt and end == base:
            base = end = alt        # the data follows the other SYN-ACK
            alt = None
        stop = (seq + p["len"]) & 0xffffffff
        if ahead(stop, end) and diff(stop, base) <= MAX_AHEAD:
            end = stop
        if p["fin"] and fin is None:
            fin = stop
    if base is None:
        return None
    if fin is not None and ahead(end, fin):
        end = fin
    return base, end, fin


def reset_plausible(pkts, rst, me):
    """A reset from the other side counts if its sequence number is near
    what that side has sent (the engine's rule: -1 MiB .. +16 MiB)."""
    other = [p for p in pkts if p["src"] == rst["src"] and not p["rst"]]
    if not other:
        return True
    top = max(((p["seq"] + p["len"] + (1 if p["syn"] else 0)) & 0xffffffff)
              for p in other)
    d = diff(rst["seq"], top)
    d = d - (1 << 32) if d >= 1 << 31 else d
    return -(1 << 20) < d < (1 << 24)


def merge(gaps):
    out = []
    for at, n in gaps:
        if out and out[-1][0] == at:
            out[-1] = (at, out[-1][1] + n)
        else:
            out.append((at, n))
    return out


def cut_at(data, gaps, fin_offset):
    """tshark's follow also shows bytes sent after the FIN, or after a
    reset: no byte after a FIN belongs to the stream (RFC 9293 3.4), none
    after a reset reaches an application: cut there."""
    pos, idx = 0, 0
    for at, n in gaps:
        if fin_offset <= pos + (at - idx):
            break
        pos += (at - idx) + n
        idx = at
    keep = idx + max(0, fin_offset - pos)
    return data[:keep]


def check_capture(rel):
    path = os.path.join(CORPUS, rel)
    truth = truth_of(rel)
    conns, err, stats = our_streams(path)
    if conns is None:
        ok(False, "%s: iw-streams ran" % rel, err.strip()[:200])
        return
    # bad checksums are counted (never dropped by default), as tshark
    # counts them with its checksum check on
    bad = stats["capture"]["bad_packets"]["bad_tcp_checksum"]
    want = tshark_bad_tcp_checksums(path)
    ok(bad == want, "%s: bad TCP checksums %d" % (rel, want), "ours %d" % bad)
    expected = {}
    for c in truth["connections"]:
        if (rel, c["five_tuple"]) in NOT_CONNECTIONS:
            continue
        ft = c["five_tuple"]
        if (rel, ft) in ROLES:
            print("# %s %s: %s" % (rel, ft, ROLES_WHY))
            ft = ROLES[(rel, ft)]
            c = dict(c, client=c["server"], server=c["client"])
        expected.setdefault(ft, []).append(c)
    ours = {}
    for c in conns:
        ours.setdefault(five_tuple(c), []).append(c)
    ok(sorted(expected) == sorted(ours), "%s: connections (%d)" %
       (rel, len(expected)),
       "missing %s; extra %s" % (sorted(set(expected) - set(ours))[:3],
                                 sorted(set(ours) - set(expected))[:3]))
    pkts, icmp = tshark_packets(path)
    pairs = []
    for ft, tl in expected.items():
        ol = ours.get(ft, [])
        for t, o in zip(tl, ol):
            pairs.append((ft, t, o))
            # tshark counts an ICMP error quoting a segment as a frame of
            # the connection; it is not one of its segments
            want = t["frames"]["count"] - icmp.get(t["tcp_stream"], 0)
            ok(o["packets"] == want, "%s %s frames %d" % (rel, ft, want),
               "ours %d" % o["packets"])
    follow = tshark_follow(path, [t["tcp_stream"] for _, t, _ in pairs])
    for ft, t, o in pairs:
        check_bytes(rel, ft, t, o, follow.get(t["tcp_stream"]),
                    pkts.get(t["tcp_stream"], []))


def check_bytes(rel, ft, t, o, f, pkts):
    if f is None:
        ok(False, "%s %s: tshark follow output" % (rel, ft))
        return
    client = endpoint(t["client"]["ip"], t["client"]["port"])
    server = endpoint(t["server"]["ip"], t["server"]["port"])
    if f[0] == client or (f[0] == "" and f[2] != client):
        c2s, s2c = f[1], f[3]
    else:
        c2s, s2c = f[3], f[1]
    for name, me, b64, theirs, d in (
            ("client->server", client, o["toserver_b64"], c2s, "toserver"),
            ("server->client", server, o["toclient_b64"], s2c, "toclient")):
        ours = base64.b64decode(b64)
        our_gaps = merge([(g["at"], g["len"]) for g in o["gaps"]
                          if g["dir"] == d])
        data, gaps = split_missing(theirs)
        gaps = merge(gaps)
        if gaps and gaps[0][0] == 0 and gaps[0][1] > MAX_AHEAD:
            # tshark took the first of two SYN-ACKs as the start and saw a
            # "hole" of more than 1 GiB: the client acknowledged the other
            # one, where the data really starts
            gaps = gaps[1:]
        ext = extent(pkts, me)
        if name == "server->client" and client == server:
            ext = None      # a "connection" from a port to itself
        if ext:
            data = cut_at(data, gaps, diff(ext[1], ext[0]))
        known = KNOWN.get((rel, ft, name))
        if known:
            print("# %s %s %s: %s" % (rel, ft, name, known[0]))
            ok(len(ours) == known[1] and our_gaps == known[2] and
               ours == data[:known[2][0][0]] + data[-(known[1] -
                                                     known[2][0][0]):],
               "%s %s %s as explained" % (rel, ft, name),
               "ours %d data + %s" % (len(ours), our_gaps))
            continue
        compare_bytes(rel, ft, ours, data, name)
        # every hole tshark saw, we report at the same place and size
        missed = [g for g in gaps if g not in our_gaps]
        if gaps:
            ok(not missed, "%s %s %s gaps %s" % (rel, ft, name, gaps),
               "ours %s" % our_gaps)
        # and the whole extent (bytes + gaps) is what the packets show
        span = diff(ext[1], ext[0]) if ext else 0
        total = len(ours) + sum(n for _, n in our_gaps)
        if our_gaps or span != len(ours):
            ok(total == span, "%s %s %s extent %d (data %d + gaps)" %
               (rel, ft, name, span, len(ours)),
               "ours %d data + %s" % (len(ours), our_gaps))


def main():
    if not iwtest.need_corpus("the engine against tshark"):
        return 0
    if not ok(os.access(STREAMS, os.X_OK), "%s is built" % STREAMS):
        return 1
    only = sys.argv[1:]
    for rel in captures():
        if only and not any(o in rel for o in only):
            continue
        check_capture(rel)
    return iwtest.exit_status()


if __name__ == "__main__":
    sys.exit(main())
