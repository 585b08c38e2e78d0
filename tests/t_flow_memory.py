#!/usr/bin/python3
"""--flow-memory: all that connections hold together is bounded.

A hostile peer can open many connections that each make the sensor keep
something (a greeting parsed, an unterminated command line held until its
CRLF).  This writes a capture of N such IMAP connections, all open at once
(each: handshake, greeting, then a client line of LINE bytes with no CRLF
yet; the FINs come only after the last one opened), and checks:

  - with the default budget nothing is evicted, every connection gets its
    imap event, and the memory flows held is back to 0 at the end (the
    count balances: nothing counted is lost);
  - with --flow-memory 2M the peak stays within the budget plus one
    connection, connections are evicted and counted as such, the evicted
    ones are exactly the least recently active (the first opened), and each
    still gets its imap event, with end_reason "evicted";
  - a budget below 1 MiB is refused on the command line.

The expectations come from how the capture is built (N, the order the
connections opened), not from an earlier run.  Addresses are RFC 5737's.
Prints ok/not ok lines (tests/run.sh).  Environment: IMAPWATCH.
"""

import json
import os
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IW = os.path.abspath(os.environ.get("IMAPWATCH") or
                     os.path.join(ROOT, "imapwatch"))

N = 300                 # connections open at once
LINE = 3000             # bytes of the unterminated client line
BUDGET = 2 << 20        # --flow-memory 2M
ONE_FLOW = 128 << 10    # more than one such connection holds

SERVER = bytes([192, 0, 2, 143])
GREETING = (b"* OK [CAPABILITY IMAP4rev1 SASL-IR ID IDLE STARTTLS "
            b"AUTH=PLAIN] imap.example.test ready.\r\n")

failures = 0


def ok(cond, what):
    global failures
    print(("ok - " if cond else "not ok - ") + what)
    if not cond:
        failures += 1


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags,
                      65535, 0, 0) + payload
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000,
                     64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    eth = bytes.fromhex("020000000b01020000000a01") + b"\x08\x00"
    return eth + ip + tcp


SYN, FIN, ACK, PSH = 0x02, 0x01, 0x10, 0x08


def client_addr(i):
    return bytes([192, 0, 2, 1 + i % 100])


def client_port(i):
    return 20000 + i


def write_capture(path):
    pkts = []
    t = 1_796_000_000 * 10**6          # 2026-11-29, microseconds

    def add(data):
        nonlocal t
        pkts.append((t, data))
        t += 100

    line = b"a1 LOGIN " + b"x" * (LINE - 9)
    for i in range(N):
        c, cp = client_addr(i), client_port(i)
        add(frame(c, SERVER, cp, 143, 1000, 0, SYN))
        add(frame(SERVER, c, 143, cp, 5000, 1001, SYN | ACK))
        add(frame(c, SERVER, cp, 143, 1001, 5001, ACK))
        add(frame(SERVER, c, 143, cp, 5001, 1001, PSH | ACK, GREETING))
        add(frame(c, SERVER, cp, 143, 1001, 5001 + len(GREETING),
                  PSH | ACK, line))
    for i in range(N):
        c, cp = client_addr(i), client_port(i)
        cseq, sseq = 1001 + len(line), 5001 + len(GREETING)
        add(frame(c, SERVER, cp, 143, cseq, sseq, FIN | ACK))
        add(frame(SERVER, c, 143, cp, sseq, cseq + 1, FIN | ACK))
        add(frame(c, SERVER, cp, 143, cseq + 1, sseq + 1, ACK))
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for ts, data in pkts:
            f.write(struct.pack("<IIII", ts // 10**6, ts % 10**6,
                                len(data), len(data)))
            f.write(data)


def run(pcap, *opts):
    p = subprocess.run([IW, "-r", pcap] + list(opts), capture_output=True)
    events = [json.loads(l) for l in p.stdout.splitlines()]
    return p.returncode, events, p.stderr.decode(errors="replace")


def stats_of(events):
    return [e for e in events if e["event_type"] == "stats"][-1]["stats"]


def imap_events(events):
    return [e for e in events if e["event_type"] == "imap"]


def main():
    tmp = tempfile.mkdtemp(prefix="iw-flowmem.")
    pcap = os.path.join(tmp, "held.pcap")
    write_capture(pcap)

    rc, ev, err = run(pcap)
    st = stats_of(ev)
    ok(rc == 0, "default budget: runs")
    ok(st["tcp"]["flows_evicted_memory"] == 0 and
       st["tcp"]["flows_evicted"] == 0, "default budget: nothing evicted")
    ok(st["tcp"]["flows_peak"] == N,
       "default budget: %d connections open at once (%d)" %
       (N, st["tcp"]["flows_peak"]))
    ok(st["memory"]["flows_peak"] > BUDGET + ONE_FLOW,
       "default budget: the capture makes flows hold more than %d bytes "
       "(%d)" % (BUDGET + ONE_FLOW, st["memory"]["flows_peak"]))
    ok(st["memory"]["flows"] == 0,
       "default budget: flow memory back to 0 at the end (%d)" %
       st["memory"]["flows"])
    ok(len(imap_events(ev)) == N,
       "default budget: an imap event per connection (%d)" %
       len(imap_events(ev)))

    rc, ev, err = run(pcap, "--flow-memory", "2M")
    st = stats_of(ev)
    ok(rc == 0, "--flow-memory 2M: runs")
    evicted = st["tcp"]["flows_evicted_memory"]
    ok(evicted > 0 and st["tcp"]["flows_evicted"] >= evicted,
       "--flow-memory 2M: evictions counted (%d)" % evicted)
    ok(st["memory"]["flows_peak"] <= BUDGET + ONE_FLOW,
       "--flow-memory 2M: peak %d within the budget plus one connection" %
       st["memory"]["flows_peak"])
    ok(st["memory"]["flows"] == 0,
       "--flow-memory 2M: flow memory back to 0 at the end")
    ims = imap_events(ev)
    ok(len(ims) == N, "--flow-memory 2M: every connection still gets its "
       "imap event (%d)" % len(ims))
    gone = sorted(e["src_port"] - 20000 for e in ims
                  if e["imap"].get("end_reason") == "evicted")
    # closed connections waiting out their stragglers go first, and may
    # be counted among the evictions without losing anything
    ok(0 < len(gone) <= evicted,
       "--flow-memory 2M: %d imap events end \"evicted\"" % len(gone))
    ok(gone == list(range(len(gone))),
       "--flow-memory 2M: the evicted are the least recently active "
       "(the first %d opened)" % len(gone))

    p = subprocess.run([IW, "--flow-memory", "512K", "-r", pcap],
                       capture_output=True)
    ok(p.returncode != 0 and p.stdout == b"" and
       b"--flow-memory" in p.stderr,
       "--flow-memory 512K: refused with one line on stderr")

    os.unlink(pcap)
    os.rmdir(tmp)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
