# SPDX-License-Identifier: ISC
"""Small generated captures for the Python tests: IPv4 TCP conversations
over Ethernet with right (or deliberately wrong) checksums, written as a
classic pcap.  What a test expects of one comes from how it was built
here, never from imapwatch.  Addresses are RFC 5737's.

    cap = pcapgen.Capture()
    c = cap.tcp("192.0.2.10", "192.0.2.143", 40000, 143)
    c.handshake()
    c.server(b"* OK ready\\r\\n")
    c.client(b"a1 LOGIN bob pw\\r\\n", bad_checksum=True)
    c.close()
    cap.wait(30)                  # packet time moves on 30 s
    cap.write(path)
"""

import struct

SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10
T0 = 1_796_000_000 * 10**6        # 2026-11-29, microseconds


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def addr(text):
    return bytes(int(x) for x in text.split("."))


def frame(src, dst, sport, dport, seq, ack, flags, payload=b"",
          bad_checksum=False, ip_id=0):
    """One Ethernet frame: IPv4 (no options) and TCP (no options)."""
    src, dst = addr(src), addr(dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF,
                      ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0) + payload
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    csum = checksum(pseudo + tcp) ^ (0x5555 if bad_checksum else 0)
    tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), ip_id,
                     0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    eth = bytes.fromhex("020000000b01020000000a01") + b"\x08\x00"
    return eth + ip + tcp


class Capture:
    """Frames in capture order, 100 us apart unless wait() moves on."""

    def __init__(self, t0=T0):
        self.t = t0
        self.records = []

    def add(self, data):
        self.records.append((self.t, data))
        self.t += 100

    def wait(self, seconds):
        self.t += int(seconds * 10**6)

    def tcp(self, client, server, cport, sport, isn_c=1000, isn_s=5000):
        return Tcp(self, client, server, cport, sport, isn_c, isn_s)

    def write(self, path):
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535,
                                1))
            for ts, data in self.records:
                f.write(struct.pack("<IIII", ts // 10**6, ts % 10**6,
                                    len(data), len(data)))
                f.write(data)
        return path


class Tcp:
    """One connection; client() and server() send data in order."""

    def __init__(self, cap, client, server, cport, sport, isn_c, isn_s):
        self.cap = cap
        self.ends = {"c": (client, cport), "s": (server, sport)}
        self.seq = {"c": isn_c, "s": isn_s}
        self.ip_id = {"c": 0x100, "s": 0x4100}
        self.packets = 0

    def _send(self, who, flags, payload=b"", bad_checksum=False, seq=None):
        other = "s" if who == "c" else "c"
        (src, sport), (dst, dport) = self.ends[who], self.ends[other]
        self.ip_id[who] += 1
        self.cap.add(frame(src, dst, sport, dport,
                           self.seq[who] if seq is None else seq,
                           self.seq[other] if flags & ACK else 0, flags,
                           payload, bad_checksum, self.ip_id[who]))
        self.packets += 1

    def handshake(self):
        self._send("c", SYN)
        self.seq["c"] += 1
        self._send("s", SYN | ACK)
        self.seq["s"] += 1
        self._send("c", ACK)

    def say(self, who, data, bad_checksum=False):
        self._send(who, PSH | ACK, data, bad_checksum)
        self.seq[who] += len(data)

    def client(self, data, bad_checksum=False):
        self.say("c", data, bad_checksum)

    def server(self, data, bad_checksum=False):
        self.say("s", data, bad_checksum)

    def ack(self, who):
        self._send(who, ACK)

    def close(self, first="s"):
        """FIN from first, FIN+ACK back, the last ACK."""
        other = "c" if first == "s" else "s"
        self._send(first, FIN | ACK)
        self.seq[first] += 1
        self._send(other, FIN | ACK)
        self.seq[other] += 1
        self._send(first, ACK)

    def retransmit_fin(self, who):
        """who's FIN again, as a late retransmission."""
        self._send(who, FIN | ACK, seq=self.seq[who] - 1)
