# SPDX-License-Identifier: ISC
"""Small pcap tools for tests/t_state_redis.py: read and write classic pcap
(Ethernet, microseconds), split a capture by connection, move a
connection to other addresses (checksums made again), and make IMAP
sessions from scratch (handshake, a greeting, close) with correct
checksums, for floods of servers no capture holds."""

import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "sinks"))
from pcapfeed import global_header, read_pcap, record  # noqa: E402,F401


def read(path):
    """[(ts in us, orig len, frame)] of a little-endian us Ethernet pcap."""
    pkts = read_pcap(path)
    if not pkts:
        raise ValueError("%s: not a little-endian microsecond Ethernet "
                         "pcap" % path)
    return pkts


def write(path, pkts):
    with open(path, "wb") as f:
        f.write(global_header())
        for ts, orig, frame in pkts:
            f.write(record(ts, orig, frame))


def ports(frame):
    """(source port, destination port) of an Ethernet IPv4/IPv6 TCP frame,
    or None."""
    etype = struct.unpack(">H", frame[12:14])[0]
    if etype == 0x0800 and frame[23] == 6:
        ip = 14 + (frame[14] & 15) * 4
    elif etype == 0x86dd and frame[20] == 6:
        ip = 14 + 40
    else:
        return None
    return struct.unpack(">HH", frame[ip:ip + 4])


def client_port(frame, server_port):
    p = ports(frame)
    if p is None:
        return None
    return p[1] if p[0] == server_port else p[0]


def connections(pkts, server_port):
    """The client ports, in order of first packet."""
    seen = []
    for _, _, frame in pkts:
        c = client_port(frame, server_port)
        if c is not None and c not in seen:
            seen.append(c)
    return seen


def only(pkts, server_port, clients):
    """The packets of the connections whose client port is in clients."""
    return [p for p in pkts if client_port(p[2], server_port) in clients]


def shift(pkts, us):
    return [(ts + us, orig, frame) for ts, orig, frame in pkts]


def _csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def _ip4(a):
    return bytes(int(x) for x in a.split("."))


def _finish_ipv4(frame):
    """frame with its IPv4 header and TCP checksums made again."""
    f = bytearray(frame)
    ihl = (f[14] & 15) * 4
    total = struct.unpack(">H", f[16:18])[0]
    f[24:26] = b"\0\0"
    f[24:26] = struct.pack(">H", _csum(bytes(f[14:14 + ihl])))
    tcp = 14 + ihl
    seg = bytes(f[tcp:14 + total])
    pseudo = bytes(f[26:34]) + struct.pack(">BBH", 0, 6, len(seg))
    seg = seg[:16] + b"\0\0" + seg[18:]
    f[tcp + 16:tcp + 18] = struct.pack(">H", _csum(pseudo + seg))
    return bytes(f)


def readdress(pkts, old_server, new_server, new_client=None,
              old_client=None):
    """IPv4 packets with the server's (and the client's) address
    replaced."""
    table = {_ip4(old_server): _ip4(new_server)}
    if new_client is not None:
        table[_ip4(old_client)] = _ip4(new_client)
    out = []
    for ts, orig, frame in pkts:
        f = bytearray(frame)
        if struct.unpack(">H", f[12:14])[0] == 0x0800:
            for off in (26, 30):
                a = bytes(f[off:off + 4])
                if a in table:
                    f[off:off + 4] = table[a]
            frame = _finish_ipv4(bytes(f))
        out.append((ts, orig, frame))
    return out


def _frame(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags,
                      65535, 0, 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64,
                     6, 0, _ip4(src), _ip4(dst))
    eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00"
    return _finish_ipv4(eth + ip + tcp)


def imap_session(client, cport, server, t0, greeting, sport=143):
    """[(ts, orig, frame)] of one connection: handshake, the server's
    greeting (str), the client's close, 1 ms apart."""
    g = greeting.encode()
    syn, fin, ack, psh = 0x02, 0x01, 0x10, 0x08
    c, s = 1000, 5000
    steps = [
        (client, server, cport, sport, c, 0, syn, b""),
        (server, client, sport, cport, s, c + 1, syn | ack, b""),
        (client, server, cport, sport, c + 1, s + 1, ack, b""),
        (server, client, sport, cport, s + 1, c + 1, psh | ack, g),
        (client, server, cport, sport, c + 1, s + 1 + len(g), ack, b""),
        (client, server, cport, sport, c + 1, s + 1 + len(g), fin | ack,
         b""),
        (server, client, sport, cport, s + 1 + len(g), c + 2, fin | ack,
         b""),
        (client, server, cport, sport, c + 2, s + 2 + len(g), ack, b""),
    ]
    out = []
    for i, st in enumerate(steps):
        f = _frame(*st)
        out.append((t0 + i * 1000, len(f), f))
    return out
