#!/usr/bin/python3
# SPDX-License-Identifier: ISC
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
  - a budget below 1 MiB is refused on the command line;
  - the kernel agrees: the process's peak resident memory (VmHWM in
    /proc/PID/status, read while imapwatch waits for more input after
    the whole capture, so the peak with every connection open is in it)
    grows with the capture by default and stays near the budget with
    it, measured from a run of one such connection.  A --flow-memory that
    only moved imapwatch's own counter would fail here.

And closed connections: a closed connection waits --closed-timeout (60 s
of packet time) for stragglers, and a link that closes thousands a
second holds a minute of them.  Each is kept as a tombstone of its TCP
state and counters (flow.c).  A second capture has CLOSED connections,
each closed by both sides and then followed by the last ACK and a late
retransmission of the client's command, all inside the closed timeout,
and one more connection that reuses the first one's ports with a new
SYN; it checks:

  - the stragglers land on their connection as before: no new flow,
    each retransmission counted, the flow events count every packet,
    the reused ports end the first connection as "tcp_reuse";
  - every closed connection was held as a tombstone, and the memory
    flows held at the peak is at most TOMB bytes a closed connection
    (the whole flow, before tombstones, is 408);
  - the kernel agrees: peak resident memory grows by less than
    TOMB_RSS bytes a closed connection over that of one.

The expectations come from how the capture is built (N, the order the
connections opened), not from an earlier run.  Addresses are RFC 5737's.
Prints ok/not ok lines (tests/run.sh).  Environment: IMAPWATCH.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))

import iwtest  # noqa: E402
import pcapgen  # noqa: E402
from iwtest import IMAPWATCH as IW, ok  # noqa: E402

N = 600                 # connections open at once
LINE = 3000             # bytes of the unterminated client line
BUDGET = 2 << 20        # --flow-memory 2M
ONE_FLOW = 128 << 10    # more than one such connection holds

CLOSED = 10000          # short connections, closed, within the timeout
TOMB = 160              # bytes of flow memory a closed one may hold
TOMB_RSS = 280          # bytes of peak RSS a closed one may add (with
                        # the hash table's share); whole flows take 440
COMMAND = b"a1 CAPABILITY\r\n"
ANSWER = b"* CAPABILITY IMAP4rev1\r\na1 OK done\r\n"

SERVER = "192.0.2.143"
GREETING = (b"* OK [CAPABILITY IMAP4rev1 SASL-IR ID IDLE STARTTLS "
            b"AUTH=PLAIN] imap.example.test ready.\r\n")


def client_addr(i):
    return "192.0.2.%d" % (1 + i % 100)


def client_port(i):
    return 20000 + i


def write_capture(path, n=N):
    """n connections: handshake, greeting, the unterminated line; then
    each closed by the client, in the order they opened."""
    cap = pcapgen.Capture()
    line = b"a1 LOGIN " + b"x" * (LINE - 9)
    conns = []
    for i in range(n):
        c = cap.tcp(client_addr(i), SERVER, client_port(i), 143)
        c.handshake()
        c.server(GREETING)
        c.client(line)
        conns.append(c)
    for c in conns:
        c.close("c")
    cap.write(path)


def write_closed(path, n=CLOSED):
    """n connections, one after the other: handshake, greeting, one
    command and its answer, FINs both ways (the client's first), the
    last ACK and a late copy of the command; then a new connection on
    the first one's ports (a new initial sequence number).  Client
    packets: SYN, ACK, command, FIN, ACK, copy = 6; server: SYN-ACK,
    greeting, answer, FIN = 4."""
    cap = pcapgen.Capture()
    for i in range(n):
        c = cap.tcp(client_addr(i), SERVER, 20000 + i % 40000, 143,
                    isn_c=1000 + i, isn_s=7000 + i)
        c.handshake()
        c.server(GREETING)
        c.client(COMMAND)
        c.server(ANSWER)
        c.close("c")
        c._send("c", pcapgen.PSH | pcapgen.ACK, COMMAND,
                seq=c.seq["c"] - 1 - len(COMMAND))
    c = cap.tcp(client_addr(0), SERVER, 20000, 143, isn_c=900000,
                isn_s=900000)
    c.handshake()
    c.server(GREETING)
    c.close("c")
    cap.write(path)


def run(pcap, *opts):
    r = iwtest.run(["-r", pcap] + list(opts))
    return r.rc, r.events, r.err


def proc_field(pid, name, key):
    with open("/proc/%d/%s" % (pid, name)) as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    return None


# ASan keeps freed memory in quarantine (its way of catching a use after
# free): the peak then counts what imapwatch gave back; without one it
# measures what imapwatch holds, redzones and all.
ENV = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") +
           ":quarantine_size_mb=0")


def idle_after_reading(pid, size, last):
    """(idle, sample): it has read size bytes and sleeps, its CPU time
    unchanged since the last sample (it waits for input)."""
    with open("/proc/%d/stat" % pid) as f:
        st = f.read().rsplit(")", 1)[1].split()
    sample = (st[0], int(st[11]) + int(st[12]))
    return (proc_field(pid, "io", "rchar") >= size and sample[0] == "S" and
            sample == last), sample


def peak_rss(label, pcap, *opts):
    """VmHWM (KiB) of imapwatch -r - once it has read the whole capture
    and waits for more: every connection was open at some point."""
    data = open(pcap, "rb").read()
    out = tempfile.TemporaryFile()
    p = subprocess.Popen([IW, "-r", "-"] + list(opts), stdin=subprocess.PIPE,
                         stdout=out, stderr=subprocess.PIPE, env=ENV)
    p.stdin.write(data)
    p.stdin.flush()
    hwm, sample = None, None
    for _ in range(1200):
        time.sleep(0.05)
        idle, sample = idle_after_reading(p.pid, len(data), sample)
        if idle:
            hwm = proc_field(p.pid, "status", "VmHWM:")
            break
    p.stdin.close()
    err = p.stderr.read().decode("utf-8", "replace")
    rc = p.wait()
    ok(hwm is not None and rc == 0 and iwtest.check_stderr(err, "peak"),
       "peak RSS, %s: read while it waits for input (exit %d)"
       % (label, rc))
    return hwm or 0


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

    p = iwtest.run(["--flow-memory", "512K", "-r", pcap], rc=1)
    ok(p.returncode != 0 and p.out == b"" and
       "--flow-memory" in p.stderr,
       "--flow-memory 512K: refused with one line on stderr")

    check_rss(tmp, pcap)
    check_closed(tmp)
    for f in os.listdir(tmp):
        os.unlink(os.path.join(tmp, f))
    os.rmdir(tmp)
    return iwtest.exit_status()


def check_rss(tmp, pcap):
    """The resident memory the kernel saw, over that of one connection."""
    one = os.path.join(tmp, "one.pcap")
    write_capture(one, 1)
    base = peak_rss("one connection", one)
    full = peak_rss("default budget", pcap) - base
    capped = peak_rss("--flow-memory 2M", pcap, "--flow-memory", "2M") - base
    kib = BUDGET >> 10
    ok(full >= 3 * kib, "peak RSS, default budget: %d connections cost "
       "%d KiB more than one, over 3 budgets (%d KiB)" % (N, full, 3 * kib))
    ok(capped <= full // 2, "peak RSS, --flow-memory 2M: %d KiB more than "
       "one connection, under half the %d KiB without a budget"
       % (capped, full))
    if "asan" not in os.path.basename(os.path.dirname(IW)):
        # ASan's redzones and allocator overhead are not in the budget
        ok(capped <= kib * 3 // 2, "peak RSS, --flow-memory 2M: %d KiB more "
           "than one connection, within 1.5 budgets (%d KiB)"
           % (capped, kib * 3 // 2))


def check_closed(tmp):
    """Closed connections are held as tombstones; stragglers land on
    them as on the whole flow."""
    pcap = os.path.join(tmp, "closed.pcap")
    write_closed(pcap)
    rc, ev, err = run(pcap, "--flows")
    st = stats_of(ev)
    tcp = st["tcp"]
    n = CLOSED + 1
    ok(rc == 0, "closed: runs")
    ok(tcp["flows"] == n and tcp["segments_without_flow"] == 0,
       "closed: stragglers make no flow of their own (%d flows, %d "
       "segments without one)" % (tcp["flows"], tcp["segments_without_flow"]))
    ok(tcp["retransmissions"] == CLOSED,
       "closed: each late copy counted as a retransmission (%d)"
       % tcp["retransmissions"])
    flows = [e for e in ev if e["event_type"] == "flow"]
    counted = [e for e in flows if e["flow"]["pkts_toserver"] == 6 and
               e["flow"]["pkts_toclient"] == 4 and
               e["flow"]["payload_toserver"] == len(COMMAND) and
               e["flow"]["payload_toclient"] == len(GREETING) + len(ANSWER)
               and e["tcp"]["state"] == "closed"]
    ok(len(flows) == n and len(counted) == CLOSED,
       "closed: each flow event counts the stragglers' packets, not their "
       "bytes (%d of %d)" % (len(counted), len(flows)))
    reused = [e for e in flows if e["flow"]["reason"] == "tcp_reuse"]
    ok(len(reused) == 1 and reused[0]["src_port"] == 20000 and
       reused[0]["flow"]["pkts_toserver"] == 6,
       "closed: a new SYN on closed ports ends that connection as "
       "tcp_reuse (%d)" % len(reused))
    ok(len(imap_events(ev)) == n,
       "closed: an imap event per connection (%d)" % len(imap_events(ev)))
    ok(tcp.get("flows_tombstones_peak") == CLOSED and
       tcp.get("flows_tombstones") == 0,
       "closed: every closed connection held as a tombstone, none left "
       "(peak %s, now %s)" % (tcp.get("flows_tombstones_peak"),
                              tcp.get("flows_tombstones")))
    bound = CLOSED * TOMB + ONE_FLOW
    ok(st["memory"]["flows_peak"] <= bound,
       "closed: flows held at most %d bytes a closed connection at the "
       "peak (%d, bound %d)" % (TOMB, st["memory"]["flows_peak"], bound))
    if "asan" in os.path.basename(os.path.dirname(IW)):
        print("skip - closed: peak RSS (ASan's allocator is not ours)")
        return
    one = os.path.join(tmp, "closed-one.pcap")
    write_closed(one, 1)
    base = peak_rss("closed, one connection", one)
    grown = peak_rss("closed, %d connections" % CLOSED, pcap) - base
    ok(grown * 1024 <= CLOSED * TOMB_RSS,
       "peak RSS, closed: %d connections add %d KiB, at most %d bytes "
       "each (%d)" % (CLOSED, grown, TOMB_RSS, grown * 1024 // CLOSED))


if __name__ == "__main__":
    sys.exit(main())
