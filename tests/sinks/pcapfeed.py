# SPDX-License-Identifier: ISC
"""A long pcap stream from the project's captures, fed to `imapwatch -r -`.

The dovecot-*.pcap captures (all Ethernet, microsecond pcap) are laid end
to end, each shifted in time to start two seconds after the previous one
ended, `passes` times over, so that one run lasts as long as the test
wants while it kills and restarts collectors.  A filler packet (UDP to
port 9, ignored by the analyzer) makes the run loop turn, and so the
output tick run, while the test waits: what a live capture does every
100 ms.
"""

import glob
import os
import struct

HDR = struct.Struct("<IIII")
GAP_US = 2000000


def read_pcap(path):
    """[(time in us, wire length, bytes)] of a little-endian us pcap."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\xd4\xc3\xb2\xa1" or struct.unpack("<I", data[20:24])[0] != 1:
        return []
    pkts, off = [], 24
    while off + HDR.size <= len(data):
        sec, usec, incl, orig = HDR.unpack_from(data, off)
        off += HDR.size
        pkts.append((sec * 1000000 + usec, orig, data[off:off + incl]))
        off += incl
    return pkts


def global_header():
    return struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)


def record(ts, orig, body):
    return HDR.pack(ts // 1000000, ts % 1000000, len(body), orig) + body


def build(root, passes=1):
    """The packet records (bytes each) of the long stream, in order."""
    files = sorted(glob.glob(os.path.join(root, "pcaps", "dovecot-*.pcap")))
    out, t = [], None
    for _ in range(passes):
        for path in files:
            pkts = read_pcap(path)
            if not pkts:
                continue
            first = pkts[0][0]
            if t is None:
                t = first
            for ts, orig, body in pkts:
                nt = t + (ts - first)
                out.append(record(nt, orig, body))
            t = nt + GAP_US
    return out


def filler(records):
    """A UDP packet at the time of the last record."""
    sec, usec = HDR.unpack_from(records[-1], 0)[:2] if records else (0, 0)
    eth = b"\x02\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x02" + b"\x08\x00"
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28 + 8, 0, 0, 64, 17, 0,
                     b"\x7f\x00\x00\x01", b"\x7f\x00\x00\x01")
    udp = struct.pack("!HHHH", 9, 9, 16, 0) + b"\x00" * 8
    body = eth + ip + udp
    return HDR.pack(sec, usec, len(body), len(body)) + body


def write_file(path, records):
    with open(path, "wb") as f:
        f.write(global_header())
        for r in records:
            f.write(r)
