#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Write the hand-built edge-case captures in pcaps/edge/ and what each must
reassemble to.

For every case NAME this writes pcaps/edge/NAME.pcap (or .pcapng) and
pcaps/edge/NAME.expect.json.  The expectation is the generator's own intent:
the bytes each side's application wrote, minus the ranges the capture never
carried (gaps), with first-wins on overlaps that carry different data.  It
is not computed by any reassembler.

    /usr/bin/python3 tests/gen_edge_pcaps.py            # write, then check with tshark
    /usr/bin/python3 tests/gen_edge_pcaps.py --no-tshark
    /usr/bin/python3 tests/gen_edge_pcaps.py --only gap  # cases whose name contains "gap"

NAME.expect.json: {"pcap", "what", "connections": [{"client", "cport",
"server", "sport", "packets" (TCP segments of the connection: frames, but a
fragmented segment once, as tshark counts), "toserver_b64", "toclient_b64"
(the exact bytes to deliver), "gaps": [{"dir", "at" (offset in the delivered
stream), "len"}], "overlaps_different" (segments whose data differs from
bytes that arrived first; absent where that is policy), "end": "fin" | "rst"
| "none", and where they apply "frames" (link frames, when not packets),
"midstream", "overlap_ranges", "tshark_differs" (how and why tshark's view
differs), other *_note}], "stats": {dotted path in the stats event's "stats"
object: exact value}}.

Output is deterministic: fixed timestamps, addresses, ISNs and IP ids, and
the file formats are written here byte by byte (scapy builds the IP and TCP
layers only).  Addresses are documentation ranges (RFC 5737, RFC 3849).
"""

import argparse
import base64
import calendar
import ipaddress
import json
import os
import re
import struct
import subprocess
import sys

from scapy.layers.inet import IP, TCP, UDP, IPOption_NOP, IPOption_RR
from scapy.layers.inet6 import (IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
                                IPv6ExtHdrHopByHop, IPv6ExtHdrSegmentRouting,
                                PadN, RouterAlert)
from scapy.packet import Raw

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "pcaps", "edge")

TOSERVER = "toserver"
TOCLIENT = "toclient"

BASE_NS = calendar.timegm((2026, 11, 29, 2, 20, 22)) * 10**9
STEP_NS = 1_000_000

# pcap link types (the file values, LINKTYPE_*)
LT_NULL, LT_EN10MB, LT_RAW, LT_LOOP = 0, 1, 101, 108
LT_LINUX_SLL, LT_NFLOG, LT_IPV4, LT_IPV6, LT_LINUX_SLL2 = 113, 239, 228, 229, 276

ETH_IPV4, ETH_IPV6 = 0x0800, 0x86DD
ETH_8021Q, ETH_8021AD, ETH_PPPOE_SESSION = 0x8100, 0x88A8, 0x8864
ETH_MPLS, ETH_TEB = 0x8847, 0x6558

MAC_CLIENT = bytes.fromhex("020000000a01")
MAC_SERVER = bytes.fromhex("020000000b01")
MAC_INNER_C = bytes.fromhex("020000000a02")     # behind VXLAN or GRE TEB
MAC_INNER_S = bytes.fromhex("020000000b02")

C4, S4 = "192.0.2.10", "192.0.2.143"
C4B = "192.0.2.11"
C6, S6 = "2001:db8::10", "2001:db8::143"
OUTER_C4, OUTER_S4 = "198.51.100.10", "198.51.100.1"
OUTER_C6, OUTER_S6 = "2001:db8:ffff::10", "2001:db8:ffff::1"


# ---------------------------------------------------------------- payloads

GREETING = (b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE "
            b"IDLE LITERAL+ STARTTLS LOGINDISABLED] imap.example.test ready.\r\n")
CAPA_CMD = b"a1 CAPABILITY\r\n"
CAPA_RESP = (b"* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
             b"LITERAL+ STARTTLS LOGINDISABLED\r\n"
             b"a1 OK Pre-login capabilities listed, post-login capabilities "
             b"have more.\r\n")
NOOP_CMD = b"a2 NOOP\r\n"
NOOP_RESP = b"a2 OK NOOP completed (0.001 + 0.000 secs).\r\n"
LOGOUT_CMD = b"a3 LOGOUT\r\n"
LOGOUT_RESP = b"* BYE Logging out\r\na3 OK Logout completed (0.001 + 0.000 secs).\r\n"


def fetch_literal(size, tag=b"a4"):
    """A FETCH response whose BODY[] literal is `size` bytes of text."""
    line = b"Line %05d: The quick brown fox jumps over the lazy IMAP server.\r\n"
    body = bytearray()
    n = 0
    while len(body) < size:
        body += line % n
        n += 1
    body = bytes(body[:size - 2]) + b"\r\n"
    return (b"* 1 FETCH (UID 7 BODY[] {%d}\r\n" % size + body + b")\r\n"
            + tag + b" OK Fetch completed (0.002 + 0.000 secs).\r\n")


# ---------------------------------------------------------------- capture

class Frame:
    def __init__(self, ts_ns, data, orig_len):
        self.ts_ns = ts_ns
        self.data = data
        self.orig_len = orig_len


class Capture:
    """The frames of one file, timestamped as they are added."""

    def __init__(self, linktype, snaplen=262144, step_ns=STEP_NS):
        self.linktype = linktype
        self.snaplen = snaplen
        self.step_ns = step_ns
        self.frames = []

    def add(self, data, caplen=None):
        ts = BASE_NS + len(self.frames) * self.step_ns
        captured = data if caplen is None else data[:caplen]
        assert len(captured) <= self.snaplen, "frame longer than the snaplen"
        self.frames.append(Frame(ts, captured, len(data)))


def pcap_bytes(cap, endian="<", nsec=False):
    magic = 0xA1B23C4D if nsec else 0xA1B2C3D4
    out = [struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, cap.snaplen,
                       cap.linktype)]
    div = 1 if nsec else 1000
    for f in cap.frames:
        sec, frac = divmod(f.ts_ns, 10**9)
        out.append(struct.pack(endian + "IIII", sec, frac // div,
                               len(f.data), f.orig_len))
        out.append(f.data)
    return b"".join(out)


def pcapng_option(code, value):
    pad = (-len(value)) % 4
    return struct.pack("<HH", code, len(value)) + value + b"\0" * pad


def pcapng_block(btype, body):
    total = 12 + len(body)
    return struct.pack("<II", btype, total) + body + struct.pack("<I", total)


def pcapng_bytes(cap):
    """Section header, one interface with nanosecond resolution, EPBs."""
    shb_opts = (pcapng_option(4, b"tests/gen_edge_pcaps.py")  # shb_userappl
                + pcapng_option(0, b""))
    shb = pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
                       + shb_opts)
    idb_opts = (pcapng_option(2, b"veth-imap")          # if_name
                + pcapng_option(9, bytes([9]))          # if_tsresol: 10^-9
                + pcapng_option(0, b""))
    idb = pcapng_block(1, struct.pack("<HHI", cap.linktype, 0, cap.snaplen)
                       + idb_opts)
    out = [shb, idb]
    for f in cap.frames:
        pad = (-len(f.data)) % 4
        body = struct.pack("<IIIII", 0, f.ts_ns >> 32, f.ts_ns & 0xFFFFFFFF,
                           len(f.data), f.orig_len) + f.data + b"\0" * pad
        out.append(pcapng_block(6, body))
    return b"".join(out)


# ---------------------------------------------------------------- link layers

def ether(ethertype, payload, src=MAC_CLIENT, dst=MAC_SERVER):
    return dst + src + struct.pack("!H", ethertype) + payload


def ethertype_of(ipver):
    return ETH_IPV4 if ipver == 4 else ETH_IPV6


class Link:
    """How an IP packet becomes a frame of one link type."""
    linktype = LT_EN10MB

    def frame(self, ip_bytes, ipver, to_server):
        src, dst = (MAC_CLIENT, MAC_SERVER) if to_server else (MAC_SERVER, MAC_CLIENT)
        return ether(ethertype_of(ipver), ip_bytes, src, dst)


class VlanLink(Link):
    """Ethernet with a stack of tags: [(tpid, vlan id), ...], outer first."""

    def __init__(self, tags):
        self.tags = tags

    def frame(self, ip_bytes, ipver, to_server):
        src, dst = (MAC_CLIENT, MAC_SERVER) if to_server else (MAC_SERVER, MAC_CLIENT)
        types = [tpid for tpid, _ in self.tags] + [ethertype_of(ipver)]
        body = b"".join(struct.pack("!HH", vid, types[i + 1])
                        for i, (_, vid) in enumerate(self.tags))
        return ether(types[0], body + ip_bytes, src, dst)


class MplsLink(Link):
    """Ethernet, ethertype 0x8847, a stack of MPLS labels (RFC 3032: label
    20 bits, traffic class 3, bottom of stack 1, TTL 8), then IP."""

    def __init__(self, labels):
        self.labels = labels

    def frame(self, ip_bytes, ipver, to_server):
        src, dst = (MAC_CLIENT, MAC_SERVER) if to_server else (MAC_SERVER, MAC_CLIENT)
        stack = b"".join(struct.pack("!I", (label << 12) |
                                     ((i == len(self.labels) - 1) << 8) | 64)
                         for i, label in enumerate(self.labels))
        return ether(ETH_MPLS, stack + ip_bytes, src, dst)


class PppoeLink(Link):
    SESSION_ID = 0x1234

    def frame(self, ip_bytes, ipver, to_server):
        src, dst = (MAC_CLIENT, MAC_SERVER) if to_server else (MAC_SERVER, MAC_CLIENT)
        ppp_proto = 0x0021 if ipver == 4 else 0x0057
        pppoe = struct.pack("!BBHHH", 0x11, 0, self.SESSION_ID,
                            len(ip_bytes) + 2, ppp_proto)
        return ether(ETH_PPPOE_SESSION, pppoe + ip_bytes, src, dst)


class SllLink(Link):
    linktype = LT_LINUX_SLL

    def frame(self, ip_bytes, ipver, to_server):
        pkttype = 4 if to_server else 0         # outgoing / to us
        mac = MAC_CLIENT if to_server else MAC_SERVER
        return struct.pack("!HHH", pkttype, 1, 6) + mac + b"\0\0" + \
            struct.pack("!H", ethertype_of(ipver)) + ip_bytes


class Sll2Link(Link):
    linktype = LT_LINUX_SLL2

    def frame(self, ip_bytes, ipver, to_server):
        pkttype = 4 if to_server else 0
        mac = MAC_CLIENT if to_server else MAC_SERVER
        return struct.pack("!HHIHBB", ethertype_of(ipver), 0, 3, 1, pkttype, 6) + \
            mac + b"\0\0" + ip_bytes


class NullLink(Link):
    """DLT_NULL (host byte order of the capturing machine) or DLT_LOOP."""

    def __init__(self, endian, af_inet6, linktype=LT_NULL):
        self.endian = endian
        self.af_inet6 = af_inet6
        self.linktype = linktype

    def frame(self, ip_bytes, ipver, to_server):
        family = 2 if ipver == 4 else self.af_inet6
        return struct.pack(self.endian + "I", family) + ip_bytes


class RawLink(Link):
    def __init__(self, linktype):
        self.linktype = linktype

    def frame(self, ip_bytes, ipver, to_server):
        return ip_bytes


def nflog_tlv(tlv_type, value):
    length = 4 + len(value)
    return struct.pack("<HH", length, tlv_type) + value + b"\0" * ((-length) % 4)


class NflogLink(Link):
    """NFLOG: family, version, resource id, then TLVs in host (here little)
    byte order; the packet is the NFULA_PAYLOAD TLV."""
    linktype = LT_NFLOG

    def frame(self, ip_bytes, ipver, to_server):
        family = 2 if ipver == 4 else 10
        head = struct.pack("!BBH", family, 0, 7)
        hwproto = struct.pack("!HBB", ethertype_of(ipver), 3, 0)
        return (head + nflog_tlv(1, hwproto)                 # NFULA_PACKET_HDR
                + nflog_tlv(10, b"imapwatch-edge\0")          # NFULA_PREFIX
                + nflog_tlv(9, ip_bytes))                     # NFULA_PAYLOAD


# ---------------------------------------------------------------- IP layer

def ip_checksum(header):
    if len(header) % 2:
        header += b"\0"
    s = sum(struct.unpack("!%dH" % (len(header) // 2), header))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def set_ipv4_checksum(pkt, value=None):
    """Rewrite an IPv4 header checksum: the right one, or `value`."""
    pkt = bytearray(pkt)
    ihl = (pkt[0] & 0x0F) * 4
    pkt[10:12] = b"\0\0"
    pkt[10:12] = struct.pack("!H", ip_checksum(bytes(pkt[:ihl])) if value is None else value)
    return bytes(pkt)


def set_tcp_checksum_v4(pkt):
    """The TCP checksum of an IPv4 packet whose total length field cannot be
    trusted (0): the TCP length is what follows the header, added to the
    pseudo-header as a 32-bit value as Linux does for BIG TCP."""
    ihl = (pkt[0] & 0x0F) * 4
    seg = bytearray(pkt[ihl:])
    seg[16:18] = b"\0\0"
    pseudo = pkt[12:20] + struct.pack("!HHI", 6, 0, len(seg))
    seg[16:18] = struct.pack("!H", ip_checksum(pseudo + bytes(seg)))
    return pkt[:ihl] + bytes(seg)


def fragments_v4(pkt, pieces):
    """Split an IPv4 packet's payload at the byte ranges `pieces`, given in
    the order they are to be sent (offsets multiples of 8)."""
    ihl = (pkt[0] & 0x0F) * 4
    head = IP(pkt[:ihl])
    payload = pkt[ihl:]
    out = []
    for start, end in pieces:
        assert start % 8 == 0
        last = end >= len(payload)
        frag = IP(src=head.src, dst=head.dst, id=head.id, ttl=head.ttl,
                  proto=head.proto, flags=0 if last else "MF", frag=start // 8)
        out.append(bytes(frag / Raw(payload[start:end])))
    return out


def fragments_v6(pkt, pieces, frag_id):
    """Split an IPv6 packet (no extension headers) into fragments."""
    head = IPv6(pkt[:40])
    payload = pkt[40:]
    out = []
    for start, end in pieces:
        assert start % 8 == 0
        last = end >= len(payload)
        frag = (IPv6(src=head.src, dst=head.dst, hlim=head.hlim)
                / IPv6ExtHdrFragment(nh=head.nh, offset=start // 8,
                                     m=0 if last else 1, id=frag_id))
        out.append(bytes(frag / Raw(payload[start:end])))
    return out


def gre_header(inner_type, checksum=False, key=None, seq=None):
    """GRE version 0 (RFC 2784, RFC 2890): flags C, K, S and the fields
    they announce, in that order; the checksum covers header and payload
    (filled in by the caller)."""
    flags = (0x8000 if checksum else 0) | (0x2000 if key is not None else 0) \
        | (0x1000 if seq is not None else 0)
    out = struct.pack("!HH", flags, inner_type)
    if checksum:
        out += b"\0\0\0\0"
    if key is not None:
        out += struct.pack("!I", key)
    if seq is not None:
        out += struct.pack("!I", seq)
    return out


def gre_packet(inner_type, inner, checksum=False, key=None, seq=None):
    hdr = gre_header(inner_type, checksum, key, seq)
    if checksum:
        csum = ip_checksum(hdr + inner)
        hdr = hdr[:4] + struct.pack("!H", csum) + hdr[6:]
    return hdr + inner


def gtpu_packet(inner, teid, seq=None, pdu_session=False):
    """GTPv1-U T-PDU (3GPP TS 29.281): version 1, PT 1, message type 255,
    length of what follows the mandatory 8 bytes, TEID; with a sequence
    number or an extension header the 4 optional bytes follow, and a PDU
    Session Container (type 0x85, one 4-byte unit: QFI 9) before the
    packet when asked."""
    flags = 0x30 | (0x02 if seq is not None else 0) | \
        (0x04 if pdu_session else 0)
    opt = b""
    if seq is not None or pdu_session:
        opt = struct.pack("!HBB", seq or 0, 0, 0x85 if pdu_session else 0)
    if pdu_session:
        opt += bytes([1, 0x00, 0x09, 0])       # length 1, DL, QFI 9, next 0
    body = opt + inner
    return struct.pack("!BBHI", flags, 0xFF, len(body), teid) + body


def vxlan_packet(inner_frame, vni):
    """VXLAN (RFC 7348): flags with I set, VNI, then an Ethernet frame."""
    return struct.pack("!II", 0x08000000, vni << 8) + inner_frame


def tunnel(inner, kind, to_server, ip_id):
    """Wrap an inner packet: '4in4', '6in4', '4in6', 'gre' (key and
    sequence number), 'gre_csum' (checksum), 'gre_teb' (Ethernet inside),
    'gtpu', 'gtpu_ext' (sequence number and a PDU session container) or
    'vxlan'; returns (bytes, outer ipver)."""
    src, dst = (OUTER_C4, OUTER_S4) if to_server else (OUTER_S4, OUTER_C4)
    src6, dst6 = (OUTER_C6, OUTER_S6) if to_server else (OUTER_S6, OUTER_C6)
    inner_type = ETH_IPV4 if inner[0] >> 4 == 4 else ETH_IPV6
    isrc, idst = (MAC_INNER_C, MAC_INNER_S) if to_server else (MAC_INNER_S, MAC_INNER_C)
    if kind == "4in4":
        return bytes(IP(src=src, dst=dst, id=ip_id, ttl=62, proto=4) / Raw(inner)), 4
    if kind == "6in4":
        return bytes(IP(src=src, dst=dst, id=ip_id, ttl=62, proto=41) / Raw(inner)), 4
    if kind == "4in6":
        return bytes(IPv6(src=src6, dst=dst6, hlim=62, nh=4) / Raw(inner)), 6
    if kind in ("gre", "gre_csum", "gre_teb"):
        if kind == "gre":
            payload = gre_packet(inner_type, inner, key=0x1234,
                                 seq=ip_id & 0xFFFF)
        elif kind == "gre_csum":
            payload = gre_packet(inner_type, inner, checksum=True)
        else:
            payload = gre_packet(ETH_TEB, ether(inner_type, inner, isrc, idst),
                                 key=7)
        return bytes(IP(src=src, dst=dst, id=ip_id, ttl=62, proto=47) /
                     Raw(payload)), 4
    if kind in ("gtpu", "gtpu_ext"):
        # the user plane's TEIDs are chosen by each side's receiver
        teid = 0x0000A001 if to_server else 0x0000B002
        payload = gtpu_packet(inner, teid, seq=(ip_id & 0xFFFF) if
                              kind == "gtpu_ext" else None,
                              pdu_session=kind == "gtpu_ext")
        return bytes(IP(src=src, dst=dst, id=ip_id, ttl=62) /
                     UDP(sport=2152, dport=2152) / Raw(payload)), 4
    if kind == "vxlan":
        payload = vxlan_packet(ether(inner_type, inner, isrc, idst), 4242)
        # RFC 7348: the source port from a hash of the inner flow
        return bytes(IP(src=src, dst=dst, id=ip_id, ttl=62) /
                     UDP(sport=49999 if to_server else 50001, dport=4789) /
                     Raw(payload)), 4
    raise ValueError(kind)


# ---------------------------------------------------------------- a direction

class Direction:
    """What one side's application wrote (`data`, the intent) and which of
    those bytes the capture carries (`covered`)."""

    def __init__(self, base_seq):
        self.base_seq = base_seq    # sequence number of stream offset 0
        self.data = bytearray()
        self.covered = bytearray()
        self.sent_end = 0           # highest offset sent so far
        self.fin = False
        self.overlaps = []          # [(at, len)] conflicting bytes, in the intent

    def write(self, data):
        start = len(self.data)
        self.data += data
        self.covered += b"\0" * len(data)
        return start, len(self.data)

    def seq(self, offset):
        return (self.base_seq + offset) & 0xFFFFFFFF

    def next_ack(self):
        return self.seq(self.sent_end + (1 if self.fin else 0))

    def cover(self, start, end):
        for i in range(start, end):
            self.covered[i] = 1

    def cover_same(self, start, variant):
        """A variant carries the intended bytes where it does not differ."""
        for i, b in enumerate(variant):
            if self.data[start + i] == b:
                self.covered[start + i] = 1

    def check_variant(self, start, variant):
        """A segment whose bytes differ from the intent may only differ where
        the capture already carried the intended bytes (first wins)."""
        diff = [start + i for i, b in enumerate(variant) if self.data[start + i] != b]
        assert diff, "variant equals the intent"
        assert all(self.covered[i] for i in diff), "variant bytes would arrive first"
        self.overlaps.append((diff[0], diff[-1] + 1 - diff[0]))

    def delivered(self):
        return bytes(b for b, c in zip(self.data, self.covered) if c)

    def gaps(self, name):
        out, delivered, i = [], 0, 0
        while i < len(self.data):
            if self.covered[i]:
                delivered += 1
                i += 1
                continue
            j = i
            while j < len(self.data) and not self.covered[j]:
                j += 1
            assert j < len(self.data) or self.fin, \
                "a trailing gap nobody could see (no FIN after it)"
            out.append({"dir": name, "at": delivered, "len": j - i})
            i = j
        return out


# ---------------------------------------------------------------- a connection

class Conn:
    """One TCP connection: writes its segments into a Capture."""

    def __init__(self, cap, client, server, cport, sport=143, isn_c=0x1000,
                 isn_s=0x8000, link=None, tunnel_kind=None, handshake=True,
                 timestamps=True, ip_id=0x100):
        self.cap = cap
        self.client, self.server = client, server
        self.cport, self.sport = cport, sport
        self.ipver = 6 if ":" in client else 4
        self.link = link or Link()
        assert self.link.linktype == cap.linktype
        self.tunnel_kind = tunnel_kind
        self.timestamps = timestamps
        first = 1 if handshake else 0
        self.dirs = {TOSERVER: Direction(isn_c + first),
                     TOCLIENT: Direction(isn_s + first)}
        self.isn = {TOSERVER: isn_c, TOCLIENT: isn_s}
        self.ip_id = {TOSERVER: ip_id, TOCLIENT: ip_id + 0x4000}
        self.packets = 0
        self.frames = 0
        self.end = "none"
        self.midstream = not handshake
        self.bad_tcp_csums = 0
        self.bad_ip_csums = 0
        self.overlaps_known = True      # False: overlaps_different is policy
        self.notes = {}

    # -- building one segment

    def tcp_options(self, flags):
        if not self.timestamps:
            return [("MSS", 1460)] if "S" in flags else []
        tsval = 3_000_000 + len(self.cap.frames)
        if "S" in flags:
            return [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (tsval, 0)),
                    ("NOP", None), ("WScale", 7)]
        return [("NOP", None), ("NOP", None), ("Timestamp", (tsval, tsval - 1))]

    def ip_header(self, to_server, ipopts=None, ext=None):
        src, dst = (self.client, self.server) if to_server else (self.server, self.client)
        d = TOSERVER if to_server else TOCLIENT
        self.ip_id[d] = (self.ip_id[d] + 1) & 0xFFFF
        if self.ipver == 4:
            return IP(src=src, dst=dst, id=self.ip_id[d], ttl=64, flags="DF",
                      options=ipopts or [])
        hdr = IPv6(src=src, dst=dst, hlim=64)
        for e in ext or []:
            hdr = hdr / e
        return hdr

    def segment(self, d, flags, seq, payload=b"", caplen=None, frags=None,
                bad_tcp_csum=None, bad_ip_csum=None, tlen0=False, ipopts=None,
                ext=None, pad=None):
        """Emit one TCP segment (one or more frames); returns payload bytes
        the capture carries."""
        to_server = d == TOSERVER
        peer = self.dirs[TOCLIENT if to_server else TOSERVER]
        sport, dport = (self.cport, self.sport) if to_server else (self.sport, self.cport)
        ack = peer.next_ack() if "A" in flags else 0
        tcp = TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags,
                  window=502 if to_server else 509, options=self.tcp_options(flags))
        ip = self.ip_header(to_server, ipopts, ext)
        if tlen0:
            ip.len, tcp.chksum = 0, 0
        pkt = bytes(ip / tcp / Raw(payload)) if payload else bytes(ip / tcp)
        if tlen0:
            pkt = set_tcp_checksum_v4(pkt)
        pkt = self.damage(pkt, len(bytes(tcp)) + len(payload), bad_tcp_csum,
                          bad_ip_csum)
        packets = self.fragment(pkt, frags, d)
        self.packets += 1
        captured = len(payload)
        for p in packets:
            ipver = self.ipver
            if self.tunnel_kind:
                p, ipver = tunnel(p, self.tunnel_kind, to_server,
                                  self.ip_id[d] ^ 0x5555)
            frame = self.link.frame(p, ipver, to_server)
            if pad:
                frame += pad[:max(0, 60 - len(frame))]
            self.cap.add(frame, caplen)
            self.frames += 1
            if caplen is not None and caplen < len(frame):
                captured = max(0, len(payload) - (len(frame) - caplen))
        return captured

    def damage(self, pkt, tcp_len, bad_tcp_csum, bad_ip_csum):
        if bad_tcp_csum is not None:
            self.bad_tcp_csums += 1
            off = len(pkt) - tcp_len + 16
            pkt = pkt[:off] + struct.pack("!H", bad_tcp_csum) + pkt[off + 2:]
        if bad_ip_csum is not None:
            self.bad_ip_csums += 1
            pkt = set_ipv4_checksum(pkt, bad_ip_csum)
        return pkt

    def fragment(self, pkt, frags, d):
        if not frags:
            return [pkt]
        if self.ipver == 4:
            return fragments_v4(pkt, frags)
        return fragments_v6(pkt, frags, 0x1E000000 + self.ip_id[d])

    # -- the conversation

    def handshake(self, syn_data=b"", retransmit_syn=False):
        c = self.dirs[TOSERVER]
        start, end = c.write(syn_data) if syn_data else (0, 0)
        for _ in range(2 if retransmit_syn else 1):
            got = self.segment(TOSERVER, "S", self.isn[TOSERVER], syn_data)
            c.cover(start, start + got)
        c.sent_end = end
        self.segment(TOCLIENT, "SA", self.isn[TOCLIENT])
        self.segment(TOSERVER, "A", c.seq(c.sent_end))

    def write(self, d, data):
        return self.dirs[d].write(data)

    def send(self, d, start, end, flags="PA", variant=None, **kw):
        """Send stream bytes [start, end) of direction d (the intent, or a
        `variant` of the same length that must lose to earlier bytes)."""
        dr = self.dirs[d]
        payload = bytes(dr.data[start:end]) if variant is None else variant
        assert len(payload) == end - start
        if variant is not None:
            dr.check_variant(start, variant)
        got = self.segment(d, flags, dr.seq(start), payload, **kw)
        if variant is None:
            dr.cover(start, start + got)
        else:
            dr.cover_same(start, variant[:got])
        dr.sent_end = max(dr.sent_end, end)

    def say(self, d, data, mss=1448, **kw):
        """Write data and send it in order, in segments of at most mss."""
        start, end = self.write(d, data)
        for off in range(start, end, mss):
            self.send(d, off, min(end, off + mss), **kw)
        return start, end

    def ack(self, d, **kw):
        dr = self.dirs[d]
        self.segment(d, "A", dr.seq(dr.sent_end + (1 if dr.fin else 0)), **kw)

    def exchange(self, cmd, resp, **kw):
        self.say(TOSERVER, cmd, **kw)
        self.say(TOCLIENT, resp, **kw)
        self.ack(TOSERVER)

    def fin(self, d, **kw):
        dr = self.dirs[d]
        self.segment(d, "FA", dr.seq(dr.sent_end), **kw)
        dr.fin = True

    def close(self, first=TOCLIENT):
        """FIN from `first`, FIN+ACK back, last ACK."""
        other = TOSERVER if first == TOCLIENT else TOCLIENT
        self.fin(first)
        self.fin(other)
        self.ack(first)
        self.end = "fin"

    def rst(self, d):
        dr = self.dirs[d]
        self.segment(d, "RA", dr.seq(dr.sent_end))
        self.end = "rst"

    def note(self, key, value):
        self.notes[key] = value

    # -- the expectation

    def expect(self):
        up, down = self.dirs[TOSERVER], self.dirs[TOCLIENT]
        out = {"client": self.client, "cport": self.cport,
               "server": self.server, "sport": self.sport,
               "packets": self.packets,
               "toserver_b64": base64.b64encode(up.delivered()).decode(),
               "toclient_b64": base64.b64encode(down.delivered()).decode(),
               "gaps": up.gaps(TOSERVER) + down.gaps(TOCLIENT),
               "overlaps_different": len(up.overlaps) + len(down.overlaps),
               "end": self.end}
        if not self.overlaps_known:
            del out["overlaps_different"]
        if self.frames != self.packets:
            out["frames"] = self.frames
        if self.midstream:
            out["midstream"] = True
        overlaps = [{"dir": n, "at": at, "len": ln}
                    for n, dr in ((TOSERVER, up), (TOCLIENT, down))
                    for at, ln in dr.overlaps]
        if overlaps:
            out["overlap_ranges"] = overlaps
        out.update(self.notes)
        return out


def basic_session(c, **kw):
    """Greeting, CAPABILITY, NOOP, LOGOUT; the server closes."""
    c.say(TOCLIENT, GREETING, **kw)
    c.ack(TOSERVER)
    c.exchange(CAPA_CMD, CAPA_RESP, **kw)
    c.exchange(NOOP_CMD, NOOP_RESP, **kw)
    c.exchange(LOGOUT_CMD, LOGOUT_RESP, **kw)
    c.close(TOCLIENT)


# ---------------------------------------------------------------- the cases

CASES = []


def case(name, what, linktype=LT_EN10MB, fmt="pcap", **capkw):
    """Register a case: the function fills a Capture and returns its Conns."""
    def register(fn):
        CASES.append({"name": name, "what": what, "linktype": linktype,
                      "fmt": fmt, "capkw": capkw, "build": fn})
        return fn
    return register


@case("inorder", "In-order baseline: handshake with options, greeting, "
      "CAPABILITY, NOOP, LOGOUT, FIN close (the server's last data rides "
      "on a separate segment, its FIN on the next).")
def _inorder(cap):
    c = Conn(cap, C4, S4, 49152)
    c.handshake()
    basic_session(c)
    return [c], {"capture.bad_packets.bad_tcp_checksum": 0,
                 "capture.bad_packets.bad_ip_checksum": 0}


@case("fin_with_data", "The server's last response and its FIN in one "
      "segment, the client's LOGOUT with PSH|FIN too.")
def _fin_with_data(cap):
    c = Conn(cap, C4, S4, 49153)
    c.handshake()
    c.say(TOCLIENT, GREETING)
    c.ack(TOSERVER)
    c.exchange(CAPA_CMD, CAPA_RESP)
    start, end = c.write(TOSERVER, LOGOUT_CMD)
    c.send(TOSERVER, start, end, flags="FPA")
    c.dirs[TOSERVER].fin = True
    start, end = c.write(TOCLIENT, LOGOUT_RESP)
    c.send(TOCLIENT, start, end, flags="FPA")
    c.dirs[TOCLIENT].fin = True
    c.ack(TOSERVER)
    c.end = "fin"
    return [c], {}


@case("out_of_order", "Segments out of order in both directions: the "
      "second half of the greeting before the first, three command "
      "segments in the order 3,1,2.")
def _out_of_order(cap):
    c = Conn(cap, C4, S4, 49154)
    c.handshake()
    start, end = c.write(TOCLIENT, GREETING)
    mid = start + 60
    c.send(TOCLIENT, mid, end)
    c.send(TOCLIENT, start, mid)
    c.ack(TOSERVER)
    start, end = c.write(TOSERVER, CAPA_CMD + NOOP_CMD + LOGOUT_CMD)
    a, b = start + len(CAPA_CMD), start + len(CAPA_CMD) + len(NOOP_CMD)
    c.send(TOSERVER, b, end)
    c.send(TOSERVER, start, a)
    c.send(TOSERVER, a, b)
    c.say(TOCLIENT, CAPA_RESP + NOOP_RESP + LOGOUT_RESP)
    c.ack(TOSERVER)
    c.close(TOCLIENT)
    return [c], {}


@case("retransmit", "Retransmissions with the same data: the SYN, a "
      "greeting segment, a command, and a response retransmitted after "
      "later data; each must be delivered once.")
def _retransmit(cap):
    c = Conn(cap, C4, S4, 49155)
    c.handshake(retransmit_syn=True)
    g = c.say(TOCLIENT, GREETING)
    c.send(TOCLIENT, *g)
    c.ack(TOSERVER)
    cmd = c.say(TOSERVER, CAPA_CMD)
    c.send(TOSERVER, *cmd)
    r1 = c.say(TOCLIENT, CAPA_RESP)
    c.exchange(NOOP_CMD, NOOP_RESP)
    c.send(TOCLIENT, *r1)
    c.exchange(LOGOUT_CMD, LOGOUT_RESP)
    c.close(TOCLIENT)
    return [c], {"tcp.overlaps_different_data": 0}


@case("overlap_same", "Overlapping segments carrying the same data: "
      "partial overlaps at both ends, a segment inside another, and a "
      "segment covering two earlier ones.")
def _overlap_same(cap):
    c = Conn(cap, C4, S4, 49156)
    c.handshake()
    s, e = c.write(TOCLIENT, GREETING)
    c.send(TOCLIENT, s, s + 40)
    c.send(TOCLIENT, s + 30, s + 90)          # overlaps the end of the first
    c.send(TOCLIENT, s + 50, s + 60)          # inside the second
    c.send(TOCLIENT, s + 100, e)              # ahead: held
    c.send(TOCLIENT, s + 85, s + 110)         # fills the hole, overlaps both
    c.ack(TOSERVER)
    c.exchange(CAPA_CMD, CAPA_RESP)
    s, e = c.write(TOSERVER, NOOP_CMD + LOGOUT_CMD)
    c.send(TOSERVER, s, s + 5)
    c.send(TOSERVER, s + 3, s + 12)
    c.send(TOSERVER, s, e)                    # covers both and the rest
    c.say(TOCLIENT, NOOP_RESP + LOGOUT_RESP)
    c.ack(TOSERVER)
    c.close(TOCLIENT)
    return [c], {"tcp.overlaps_different_data": 0}


@case("overlap_diff", "Overlapping segments with DIFFERENT data, first "
      "wins: a retransmission of delivered bytes with other text, a "
      "segment covering a held out-of-order one with other text, and a "
      "partial overlap whose old part differs.")
def _overlap_diff(cap):
    c = Conn(cap, C4, S4, 49157)
    c.handshake()
    c.say(TOCLIENT, GREETING)
    c.ack(TOSERVER)
    # 1: delivered bytes come again, rewritten
    s, e = c.say(TOSERVER, b"a1 SELECT INBOX\r\n")
    c.send(TOSERVER, s, e, variant=b"a1 LOGIN malory\r\n")
    c.say(TOCLIENT, b"* 3 EXISTS\r\na1 OK [READ-WRITE] Select completed.\r\n")
    c.ack(TOSERVER)
    # 2: a held out-of-order segment, then one covering it with other bytes
    s, e = c.write(TOSERVER, b"a2 FETCH 1:3 (FLAGS)\r\n")
    c.send(TOSERVER, s + 9, e)                       # "3 (FLAGS)\r\n", held
    c.send(TOSERVER, s, e, variant=b"a2 FETCH 1:* BODY[1]\r\n")
    c.say(TOCLIENT, b"* 1 FETCH (FLAGS (\\Seen))\r\na2 OK Fetch completed.\r\n")
    c.ack(TOSERVER)
    # 3: the server's response: new bytes past the old end, old part differs
    s, e = c.write(TOCLIENT, NOOP_RESP)
    c.say(TOSERVER, NOOP_CMD)
    c.send(TOCLIENT, s, s + 20)
    variant = b"a2 NO  " + bytes(c.dirs[TOCLIENT].data[s + 7:e])
    c.send(TOCLIENT, s, e, variant=variant)
    c.ack(TOSERVER)
    c.exchange(LOGOUT_CMD, LOGOUT_RESP)
    c.close(TOCLIENT)
    c.note("tshark_differs", "tshark's follow is not first-wins for a held "
           "out-of-order segment covered later by different bytes (case 2).")
    return [c], {"tcp.overlaps_different_data": 3}


@case("gap", "Missing segments (capture loss, later data acknowledged): "
      "one client segment and one server segment never captured; the "
      "expected streams have the bytes on either side and a gap each.")
def _gap(cap):
    c = Conn(cap, C4, S4, 49158)
    c.handshake()
    c.say(TOCLIENT, GREETING)
    c.ack(TOSERVER)
    s, e = c.write(TOSERVER, CAPA_CMD + NOOP_CMD + LOGOUT_CMD)
    a = s + len(CAPA_CMD)
    b = a + len(NOOP_CMD)
    c.send(TOSERVER, s, a)
    c.dirs[TOSERVER].sent_end = b                    # NOOP sent, not captured
    c.send(TOSERVER, b, e)
    s, e = c.write(TOCLIENT, CAPA_RESP + NOOP_RESP + LOGOUT_RESP)
    a = s + len(CAPA_RESP)
    b = a + len(NOOP_RESP)
    c.send(TOCLIENT, s, a)
    c.dirs[TOCLIENT].sent_end = b
    c.send(TOCLIENT, b, e)
    c.ack(TOSERVER)
    c.close(TOCLIENT)
    return [c], {"tcp.gaps": 2, "tcp.gap_bytes": len(NOOP_CMD) + len(NOOP_RESP)}


@case("gap_before_fin", "The client's last data segment is missing and "
      "its FIN follows: only the FIN's sequence number shows the gap at "
      "the end of the client stream.")
def _gap_before_fin(cap):
    c = Conn(cap, C4, S4, 49159)
    c.handshake()
    c.say(TOCLIENT, GREETING)
    c.ack(TOSERVER)
    c.exchange(CAPA_CMD, CAPA_RESP)
    c.write(TOSERVER, LOGOUT_CMD)
    c.dirs[TOSERVER].sent_end = len(c.dirs[TOSERVER].data)   # not captured
    c.say(TOCLIENT, LOGOUT_RESP)
    c.close(TOSERVER)
    c.note("tshark_differs", "tshark's follow does not report a gap that "
           "only the FIN's sequence number shows; the bytes agree.")
    return [c], {"tcp.gaps": 1, "tcp.gap_bytes": len(LOGOUT_CMD)}


@case("wraparound", "Sequence numbers wrap through 2^32 in both "
      "directions, with an out-of-order segment straddling the wrap.")
def _wraparound(cap):
    c = Conn(cap, C4, S4, 49160, isn_c=0xFFFFFFF0, isn_s=0xFFFFFFA0)
    c.handshake()
    s, e = c.write(TOCLIENT, GREETING)                # seq wraps inside it
    c.send(TOCLIENT, s + 70, e)
    c.send(TOCLIENT, s, s + 70)
    c.ack(TOSERVER)
    s, e = c.write(TOSERVER, CAPA_CMD)                # wraps at offset 15
    c.send(TOSERVER, s + 8, e)                        # straddles 2^32
    c.send(TOSERVER, s, s + 8)
    c.say(TOCLIENT, CAPA_RESP)
    c.ack(TOSERVER)
    c.exchange(LOGOUT_CMD, LOGOUT_RESP)
    c.close(TOCLIENT)
    return [c], {}


@case("syn_data", "TCP Fast Open style: the client's first command rides "
      "on the SYN and the SYN-ACK acknowledges it.")
def _syn_data(cap):
    c = Conn(cap, C4, S4, 49161)
    c.handshake(syn_data=b"a0 ID (\"name\" \"edgeclient\")\r\n")
    c.say(TOCLIENT, GREETING + b"* ID NIL\r\na0 OK ID completed.\r\n")
    c.ack(TOSERVER)
    c.exchange(LOGOUT_CMD, LOGOUT_RESP)
    c.close(TOCLIENT)
    return [c], {}


@case("midstream", "No handshakes: on port 143 the first packet comes "
      "from the server (the known port decides the client); on "
      "7143<->52000 the first packet comes from 7143 (the lower port "
      "decides: 7143 is the server).")
def _midstream(cap):
    a = Conn(cap, C4, S4, 49162, handshake=False, isn_c=0x22220000,
             isn_s=0x33330000)
    b = Conn(cap, C4B, S4, 52000, sport=7143, handshake=False,
             isn_c=0x44440000, isn_s=0x55550000, ip_id=0x900)
    a.say(TOCLIENT, b"* 2 EXISTS\r\n")
    b.say(TOCLIENT, b"* 5 EXISTS\r\n")
    a.ack(TOSERVER)
    b.ack(TOSERVER)
    a.exchange(NOOP_CMD, NOOP_RESP)
    b.exchange(NOOP_CMD, NOOP_RESP)
    a.exchange(LOGOUT_CMD, LOGOUT_RESP)
    b.exchange(LOGOUT_CMD, LOGOUT_RESP)
    a.close(TOCLIENT)
    b.close(TOCLIENT)
    a.note("tshark_differs", "tshark calls the first packet's sender the "
           "client (node 0): here the server; the bytes per side agree.")
    b.note("tshark_differs", a.notes["tshark_differs"])
    return [a, b], {"tcp.flows_midstream": 2}


def link_session(cap, link, ipvers=(4, 6)):
    """A short session per IP version over `link`, for the link-type cases."""
    conns = []
    for i, ipver in enumerate(ipvers):
        client, server = (C4, S4) if ipver == 4 else (C6, S6)
        c = Conn(cap, client, server, 50000 + i, link=link, ip_id=0x100 + 0x1000 * i)
        c.handshake()
        c.say(TOCLIENT, GREETING)
        c.ack(TOSERVER)
        c.exchange(CAPA_CMD, CAPA_RESP)
        c.exchange(LOGOUT_CMD, LOGOUT_RESP)
        c.close(TOCLIENT)
        conns.append(c)
    return conns


@case("vlan", "Ethernet with one 802.1Q tag (VLAN 100), IPv4 and IPv6.")
def _vlan(cap):
    return link_session(cap, VlanLink([(ETH_8021Q, 100)])), {}


@case("qinq", "QinQ: an 802.1ad outer tag (S-VLAN 10) and an 802.1Q "
      "inner tag (C-VLAN 20), IPv4 and IPv6.")
def _qinq(cap):
    return link_session(cap, VlanLink([(ETH_8021AD, 10), (ETH_8021Q, 20)])), {}


@case("vlan3", "Three stacked tags (802.1ad, 802.1Q, 802.1Q), IPv4 and IPv6.")
def _vlan3(cap):
    tags = [(ETH_8021AD, 10), (ETH_8021Q, 20), (ETH_8021Q, 30)]
    return link_session(cap, VlanLink(tags)), {}


@case("pppoe", "PPPoE session frames (ethertype 0x8864, PPP 0x0021 IPv4 "
      "and 0x0057 IPv6).")
def _pppoe(cap):
    return link_session(cap, PppoeLink()), {}


@case("sll", "Linux cooked capture v1 (LINKTYPE_LINUX_SLL), IPv4 and IPv6.",
      linktype=LT_LINUX_SLL)
def _sll(cap):
    return link_session(cap, SllLink()), {}


@case("sll2", "Linux cooked capture v2 (LINKTYPE_LINUX_SLL2), IPv4 and IPv6.",
      linktype=LT_LINUX_SLL2)
def _sll2(cap):
    return link_session(cap, Sll2Link()), {}


@case("null_le", "BSD loopback DLT_NULL from a little-endian host "
      "(AF_INET 2; AF_INET6 30 as macOS writes it).", linktype=LT_NULL)
def _null_le(cap):
    return link_session(cap, NullLink("<", 30)), {}


@case("null_be", "BSD loopback DLT_NULL from a big-endian host: the pcap "
      "file itself is big-endian too (AF_INET 2; AF_INET6 24 as "
      "NetBSD/OpenBSD write it).", linktype=LT_NULL, endian=">")
def _null_be(cap):
    return link_session(cap, NullLink(">", 24)), {}


@case("loop", "OpenBSD loopback DLT_LOOP: the family in network byte order "
      "(AF_INET 2; AF_INET6 28 as FreeBSD writes it).", linktype=LT_LOOP)
def _loop(cap):
    return link_session(cap, NullLink(">", 28, LT_LOOP)), {}


@case("raw", "LINKTYPE_RAW (101): bare IP packets, IPv4 and IPv6.",
      linktype=LT_RAW)
def _raw(cap):
    return link_session(cap, RawLink(LT_RAW)), {}


@case("raw_ipv4", "LINKTYPE_IPV4 (228): bare IPv4 packets.", linktype=LT_IPV4)
def _raw_ipv4(cap):
    return link_session(cap, RawLink(LT_IPV4), ipvers=(4,)), {}


@case("raw_ipv6", "LINKTYPE_IPV6 (229): bare IPv6 packets.", linktype=LT_IPV6)
def _raw_ipv6(cap):
    return link_session(cap, RawLink(LT_IPV6), ipvers=(6,)), {}


@case("nflog", "Linux NFLOG (LINKTYPE_NFLOG 239): TLVs in little-endian "
      "host order, the packet in NFULA_PAYLOAD, IPv4 and IPv6.",
      linktype=LT_NFLOG)
def _nflog(cap):
    return link_session(cap, NflogLink()), {}


def ipv6_ext_headers(dst, which):
    """Extension header chains for the ipv6_exthdr case."""
    hbh = IPv6ExtHdrHopByHop(options=[RouterAlert(value=0), PadN(optdata=b"")])
    dest = IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0\0\0\0")])
    srh = IPv6ExtHdrSegmentRouting(addresses=[dst], segleft=0, lastentry=0)
    chains = {"hbh": [hbh], "all": [hbh, dest, srh], "dest2": [dest, srh,
                                                               IPv6ExtHdrDestOpt()]}
    return chains[which]


@case("ipv6_exthdr", "IPv6 with extension headers before TCP: hop-by-hop "
      "(router alert); hop-by-hop, destination options, routing (SRH, "
      "segments left 0); destination options, routing, destination options.")
def _ipv6_exthdr(cap):
    c = Conn(cap, C6, S6, 50100)
    c.handshake()
    c.say(TOCLIENT, GREETING, ext=ipv6_ext_headers(C6, "hbh"))
    c.ack(TOSERVER, ext=ipv6_ext_headers(S6, "all"))
    c.say(TOSERVER, CAPA_CMD, ext=ipv6_ext_headers(S6, "all"))
    c.say(TOCLIENT, CAPA_RESP, ext=ipv6_ext_headers(C6, "dest2"))
    c.ack(TOSERVER)
    c.exchange(LOGOUT_CMD, LOGOUT_RESP, ext=ipv6_ext_headers(S6, "all"))
    c.close(TOCLIENT)
    return [c], {}


def frag_pieces(total, cuts):
    """Byte ranges [(a, b), ...] of a payload of `total` bytes cut at `cuts`."""
    edges = [0] + list(cuts) + [total]
    return [(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]


@case("ipv4_frag", "IPv4 fragments: the greeting in three fragments in "
      "order; a response in three fragments sent last, first, middle; a "
      "command whose first fragment holds only 16 bytes of the TCP header.")
def _ipv4_frag(cap):
    c = Conn(cap, C4, S4, 50200)
    c.handshake()
    n = 32 + len(GREETING)
    c.say(TOCLIENT, GREETING, frags=frag_pieces(n, [48, 96]))
    c.ack(TOSERVER)
    c.say(TOSERVER, CAPA_CMD, frags=frag_pieces(32 + len(CAPA_CMD), [16]))
    p = frag_pieces(32 + len(CAPA_RESP), [64, 128])
    c.say(TOCLIENT, CAPA_RESP, frags=[p[2], p[0], p[1]])
    c.ack(TOSERVER)
    c.exchange(LOGOUT_CMD, LOGOUT_RESP)
    c.close(TOCLIENT)
    c.note("packets_note", "packets counts TCP segments (a fragmented "
           "segment once, as tshark does); frames counts link frames.")
    return [c], {"capture.ip_fragments_reassembled": 3}


@case("ipv6_frag", "IPv6 fragments (fragment header): the greeting in "
      "order, a response out of order (2,3,1), a command in two.")
def _ipv6_frag(cap):
    c = Conn(cap, C6, S6, 50300)
    c.handshake()
    c.say(TOCLIENT, GREETING, frags=frag_pieces(32 + len(GREETING), [56, 112]))
    c.ack(TOSERVER)
    c.say(TOSERVER, CAPA_CMD, frags=frag_pieces(32 + len(CAPA_CMD), [24]))
    p = frag_pieces(32 + len(CAPA_RESP), [72, 144])
    c.say(TOCLIENT, CAPA_RESP, frags=[p[1], p[2], p[0]])
    c.ack(TOSERVER)
    c.exchange(LOGOUT_CMD, LOGOUT_RESP)
    c.close(TOCLIENT)
    c.note("packets_note", "packets counts TCP segments (a fragmented "
           "segment once, as tshark does); frames counts link frames.")
    return [c], {"capture.ip_fragments_reassembled": 3}


def tunnel_case(cap, kind, client, server):
    c = Conn(cap, client, server, 50400, tunnel_kind=kind)
    c.handshake()
    basic_session(c)
    return [c], {}


def tunnel_pair(cap, kind):
    """An IPv4 and an IPv6 connection through the same tunnel kind."""
    conns = []
    for i, (client, server) in enumerate(((C4, S4), (C6, S6))):
        c = Conn(cap, client, server, 50410 + i, tunnel_kind=kind,
                 ip_id=0x100 + 0x1000 * i)
        c.handshake()
        basic_session(c)
        conns.append(c)
    return conns, {}


@case("tunnel_4in4", "IPv4 in IPv4 (protocol 4) over Ethernet; the "
      "connection is the inner one.")
def _tunnel_4in4(cap):
    return tunnel_case(cap, "4in4", C4, S4)


@case("tunnel_6in4", "IPv6 in IPv4 (protocol 41, 6in4/SIT) over Ethernet; "
      "the connection is the inner one.")
def _tunnel_6in4(cap):
    return tunnel_case(cap, "6in4", C6, S6)


@case("tunnel_4in6", "IPv4 in IPv6 (next header 4) over Ethernet; the "
      "connection is the inner one.")
def _tunnel_4in6(cap):
    return tunnel_case(cap, "4in6", C4, S4)


@case("tunnel_gre", "GRE (RFC 2784/2890) over IPv4 with the key and "
      "sequence-number fields, carrying IPv4 (0x0800) and IPv6 (0x86DD); "
      "the connections are the inner ones.")
def _tunnel_gre(cap):
    return tunnel_pair(cap, "gre")


@case("tunnel_gre_csum", "GRE with the checksum field present, IPv4 and "
      "IPv6 inside.")
def _tunnel_gre_csum(cap):
    return tunnel_pair(cap, "gre_csum")


@case("tunnel_gre_eth", "GRE carrying Ethernet frames (0x6558, transparent "
      "Ethernet bridging, with a key), IPv4 and IPv6 inside them.")
def _tunnel_gre_eth(cap):
    return tunnel_pair(cap, "gre_teb")


@case("tunnel_gtpu", "GTPv1-U T-PDUs (UDP 2152, 3GPP TS 29.281) over IPv4, "
      "no optional fields, IPv4 and IPv6 user packets inside.")
def _tunnel_gtpu(cap):
    return tunnel_pair(cap, "gtpu")


@case("tunnel_gtpu_ext", "GTPv1-U with a sequence number and a PDU Session "
      "Container extension header (type 0x85, as 5G user planes send it) "
      "before each IPv4 and IPv6 user packet.")
def _tunnel_gtpu_ext(cap):
    return tunnel_pair(cap, "gtpu_ext")


@case("tunnel_vxlan", "VXLAN (UDP 4789, RFC 7348, VNI 4242) over IPv4: "
      "Ethernet frames carrying IPv4 and IPv6.")
def _tunnel_vxlan(cap):
    return tunnel_pair(cap, "vxlan")


@case("mpls", "MPLS over Ethernet (ethertype 0x8847): one label before "
      "IPv4, then a stack of two labels before IPv6 (bottom-of-stack bit "
      "on the last).")
def _mpls(cap):
    a = link_session(cap, MplsLink([16001]), ipvers=(4,))
    b = [Conn(cap, C6, S6, 50001, link=MplsLink([16002, 24005]),
              ip_id=0x1100)]
    b[0].handshake()
    b[0].say(TOCLIENT, GREETING)
    b[0].ack(TOSERVER)
    b[0].exchange(CAPA_CMD, CAPA_RESP)
    b[0].exchange(LOGOUT_CMD, LOGOUT_RESP)
    b[0].close(TOCLIENT)
    return a + b, {}


@case("ipv4_options", "IPv4 headers with options: NOP + record route "
      "(IHL 8) on data, the 40-byte maximum (IHL 15) on the greeting.")
def _ipv4_options(cap):
    c = Conn(cap, C4, S4, 50500)
    rr2 = [IPOption_NOP(), IPOption_RR(routers=["192.0.2.1", "192.0.2.2"])]
    rr9 = [IPOption_NOP(), IPOption_RR(routers=["192.0.2.%d" % i for i in range(1, 10)])]
    c.handshake()
    c.say(TOCLIENT, GREETING, ipopts=rr9)
    c.ack(TOSERVER, ipopts=rr2)
    c.exchange(CAPA_CMD, CAPA_RESP, ipopts=rr2)
    c.exchange(LOGOUT_CMD, LOGOUT_RESP)
    c.close(TOCLIENT)
    return [c], {}


@case("ipv4_tlen0", "IPv4 total length 0, as captured on the sender with "
      "segmentation offload (like tcpdump's bigtcp-ipv4): a 3000-byte and "
      "a 66000-byte FETCH segment; the length comes from the frame.")
def _ipv4_tlen0(cap):
    c = Conn(cap, C4, S4, 50600)
    c.handshake()
    c.say(TOCLIENT, GREETING)
    c.ack(TOSERVER)
    c.say(TOSERVER, b"a4 UID FETCH 7 BODY[]\r\n")
    big = fetch_literal(69000)
    s, e = c.write(TOCLIENT, big)
    c.send(TOCLIENT, s, s + 3000, tlen0=True)
    c.send(TOCLIENT, s + 3000, e, tlen0=True)
    c.ack(TOSERVER)
    c.exchange(LOGOUT_CMD, LOGOUT_RESP)
    c.close(TOCLIENT)
    return [c], {}


@case("eth_padding", "Short frames padded to 60 bytes with non-zero "
      "trailer bytes (a client typing its command a few bytes a segment): "
      "the IP total length, not the frame, ends the payload.")
def _eth_padding(cap):
    c = Conn(cap, C4, S4, 50700, timestamps=False)
    pad = bytes.fromhex("deadbeefcafe")
    c.handshake()
    c.say(TOCLIENT, GREETING)
    c.ack(TOSERVER, pad=pad)
    s, e = c.write(TOSERVER, LOGOUT_CMD)
    for a in range(s, e, 3):
        c.send(TOSERVER, a, min(e, a + 3), pad=pad)
    c.say(TOCLIENT, LOGOUT_RESP)
    c.ack(TOSERVER, pad=pad)
    c.fin(TOCLIENT)
    c.fin(TOSERVER, pad=pad)
    c.ack(TOCLIENT, pad=pad)
    c.end = "fin"
    return [c], {}


@case("snaplen", "Captured with snaplen 96 (caplen < len): each data "
      "segment keeps its first 30 payload bytes; the bytes not captured "
      "are gaps.",
      snaplen=96)
def _snaplen(cap):
    c = Conn(cap, C4, S4, 50800)
    c.handshake()
    c.say(TOCLIENT, GREETING, caplen=96)
    c.ack(TOSERVER)
    c.exchange(CAPA_CMD, CAPA_RESP, caplen=96)
    c.exchange(b'a2 SELECT "Shared Folders/Projects 2026"\r\n',
               b"* 12 EXISTS\r\na2 OK [READ-WRITE] Select completed.\r\n",
               caplen=96)
    c.exchange(LOGOUT_CMD, LOGOUT_RESP, caplen=96)
    c.close(TOCLIENT)
    c.note("tshark_differs", "tshark's follow leaves the bytes past the "
           "snaplen out without a gap marker; the captured bytes agree.")
    c.note("gaps_note", "each data frame keeps 96 - 66 = 30 payload bytes.")
    gaps = c.expect()["gaps"]
    return [c], {"tcp.gaps": len(gaps),
                 "tcp.gap_bytes": sum(g["len"] for g in gaps),
                 "capture.bad_packets.truncated_payload": len(gaps)}


@case("pcapng_ns", "pcapng, one interface with if_tsresol 9 (nanosecond "
      "timestamps, 1 ms + 137 ns apart).", fmt="pcapng",
      step_ns=STEP_NS + 137)
def _pcapng_ns(cap):
    c = Conn(cap, C4, S4, 50900)
    c.handshake()
    basic_session(c)
    return [c], {}


@case("pcap_nsec", "Classic pcap with the nanosecond magic (0xa1b23c4d).",
      nsec=True, step_ns=STEP_NS + 137)
def _pcap_nsec(cap):
    c = Conn(cap, C4, S4, 50901)
    c.handshake()
    basic_session(c)
    return [c], {}


@case("bad_checksum", "Bad TCP checksums on five segments (zero, as "
      "offload leaves them, and plain wrong) and one bad IPv4 header "
      "checksum: all delivered, counted.")
def _bad_checksum(cap):
    c = Conn(cap, C4, S4, 51000)
    c.handshake()
    c.say(TOCLIENT, GREETING, bad_tcp_csum=0)
    c.ack(TOSERVER)
    c.say(TOSERVER, CAPA_CMD, bad_tcp_csum=0)
    c.say(TOCLIENT, CAPA_RESP, bad_tcp_csum=0xBAD0)
    c.ack(TOSERVER)
    c.say(TOSERVER, NOOP_CMD, bad_ip_csum=0xBAD1)
    c.say(TOCLIENT, NOOP_RESP)
    c.ack(TOSERVER)
    c.exchange(LOGOUT_CMD, LOGOUT_RESP, bad_tcp_csum=0x1234)
    c.close(TOCLIENT)
    return [c], {"capture.bad_packets.bad_tcp_checksum": c.bad_tcp_csums,
                 "capture.bad_packets.bad_ip_checksum": c.bad_ip_csums}


@case("interleaved", "Three connections (two IPv4 clients, one IPv6) "
      "whose packets interleave one by one.")
def _interleaved(cap):
    conns = [Conn(cap, C4, S4, 51100), Conn(cap, C4B, S4, 51101, ip_id=0x2000),
             Conn(cap, C6, S6, 51102)]
    steps = [lambda c: c.handshake(),
             lambda c: c.say(TOCLIENT, GREETING),
             lambda c: c.ack(TOSERVER),
             lambda c: c.exchange(CAPA_CMD, CAPA_RESP),
             lambda c: c.exchange(NOOP_CMD, NOOP_RESP),
             lambda c: c.exchange(LOGOUT_CMD, LOGOUT_RESP),
             lambda c: c.close(TOCLIENT)]
    for step in steps:
        for c in conns:
            step(c)
    return conns, {"tcp.flows": 3}


@case("rst_close", "A connection ended by the client's RST after the "
      "server's answer; a second one ended by the server's RST mid-session.")
def _rst_close(cap):
    a = Conn(cap, C4, S4, 51200)
    a.handshake()
    a.say(TOCLIENT, GREETING)
    a.ack(TOSERVER)
    a.exchange(CAPA_CMD, CAPA_RESP)
    a.rst(TOSERVER)
    b = Conn(cap, C4B, S4, 51201, ip_id=0x3000)
    b.handshake()
    b.say(TOCLIENT, GREETING)
    b.ack(TOSERVER)
    b.say(TOSERVER, NOOP_CMD)
    b.rst(TOCLIENT)
    return [a, b], {}


@case("port_reuse", "The same 5-tuple twice: a connection closed by FIN, "
      "then a new SYN (new ISNs) and a second connection, RST-closed.")
def _port_reuse(cap):
    a = Conn(cap, C4, S4, 51300, isn_c=0x10000000, isn_s=0x20000000)
    a.handshake()
    basic_session(a)
    b = Conn(cap, C4, S4, 51300, isn_c=0x70000000, isn_s=0x60000000, ip_id=0x700)
    b.handshake()
    b.say(TOCLIENT, GREETING.replace(b"ready.", b"ready again."))
    b.ack(TOSERVER)
    b.exchange(NOOP_CMD, NOOP_RESP)
    b.rst(TOSERVER)
    return [a, b], {"tcp.flows": 2}


@case("keepalive", "TCP keep-alives (seq = next - 1) with no data and with "
      "one garbage byte, as Windows sends them; the stream is unchanged.")
def _keepalive(cap):
    c = Conn(cap, C4, S4, 51400)
    c.handshake()
    c.say(TOCLIENT, GREETING)
    c.ack(TOSERVER)
    c.say(TOSERVER, b"a1 IDLE\r\n")
    c.say(TOCLIENT, b"+ idling\r\n")
    c.ack(TOSERVER)
    up = c.dirs[TOSERVER]
    c.segment(TOSERVER, "A", up.seq(up.sent_end - 1))
    c.ack(TOCLIENT)
    c.segment(TOSERVER, "A", up.seq(up.sent_end - 1), b"\0")
    c.ack(TOCLIENT)
    c.say(TOSERVER, b"DONE\r\n")
    c.say(TOCLIENT, b"a1 OK Idle completed.\r\n")
    c.ack(TOSERVER)
    c.close(TOSERVER)
    c.overlaps_known = False
    c.note("overlaps_note", "a keep-alive byte differs from the byte it "
           "repeats; whether that counts as an overlap is the engine's "
           "policy, so overlaps_different is not given.")
    return [c], {}


# ---------------------------------------------------------------- writing

def build_case(cs):
    capkw = dict(cs["capkw"])
    endian = capkw.pop("endian", "<")
    nsec = capkw.pop("nsec", False)
    cap = Capture(cs["linktype"], **capkw)
    conns, stats = cs["build"](cap)
    ext = "pcapng" if cs["fmt"] == "pcapng" else "pcap"
    pcap_name = "%s.%s" % (cs["name"], ext)
    data = pcapng_bytes(cap) if ext == "pcapng" else pcap_bytes(cap, endian, nsec)
    expect = {"pcap": pcap_name, "what": cs["what"],
              "connections": [c.expect() for c in conns],
              "stats": file_stats(cap, conns, stats)}
    return pcap_name, data, expect


def file_stats(cap, conns, extra):
    """Counters the engine's stats must show for this file (dotted paths)."""
    out = {"capture.packets": len(cap.frames),
           "tcp.flows": len(conns),
           "tcp.flows_midstream": sum(1 for c in conns if c.midstream)}
    exps = [c.expect() for c in conns]
    if all("overlaps_different" in e for e in exps):
        out["tcp.overlaps_different_data"] = sum(e["overlaps_different"] for e in exps)
    gaps = [g for e in exps for g in e["gaps"]]
    out["tcp.gaps"] = len(gaps)
    out["tcp.gap_bytes"] = sum(g["len"] for g in gaps)
    out.update(extra)
    return dict(sorted(out.items()))


def write_file(path, data):
    with open(path, "wb") as f:
        f.write(data)


def write_case(cs):
    pcap_name, data, expect = build_case(cs)
    write_file(os.path.join(OUT_DIR, pcap_name), data)
    text = json.dumps(expect, indent=1) + "\n"
    write_file(os.path.join(OUT_DIR, cs["name"] + ".expect.json"), text.encode())
    return pcap_name, expect


# ---------------------------------------------------------------- tshark check

def tshark(args):
    res = subprocess.run(["tshark", "-n"] + args, capture_output=True, text=True)
    return res.stdout


def split_endpoint(text):
    """'192.0.2.1:143' or '2001:db8::1:143' or '[2001:db8::1]:143'."""
    host, port = text.rsplit(":", 1)
    return host.strip("[]"), int(port)


def tshark_streams(path):
    """{stream index: frame count} of frames where tshark dissected TCP."""
    out = {}
    for line in tshark(["-r", path, "-T", "fields", "-e", "tcp.stream"]).split():
        for idx in line.split(","):
            out[int(idx)] = out.get(int(idx), 0) + 1
    return out


MISSING = re.compile(rb"^\[(\d+) bytes missing in capture file\]\0$")


def tshark_follow(path, index):
    """[(endpoint, bytes, gaps)] for node 0 and node 1; tshark writes a gap
    as the text "[N bytes missing in capture file]" in place of the bytes."""
    text = tshark(["-r", path, "-q", "-z", "follow,tcp,raw,%d" % index])
    nodes, data, gaps = [], [bytearray(), bytearray()], [[], []]
    for line in text.splitlines():
        m = re.match(r"Node (\d): (.*)$", line)
        if m:
            nodes.append(split_endpoint(m.group(2)))
        elif re.fullmatch(r"\t?[0-9a-f]+", line) and len(nodes) == 2:
            node = 1 if line.startswith("\t") else 0
            chunk = bytes.fromhex(line.strip())
            missing = MISSING.match(chunk)
            if missing:
                gaps[node].append((len(data[node]), int(missing.group(1))))
            else:
                data[node] += chunk
    return [(nodes[i], bytes(data[i]), gaps[i]) for i in (0, 1)]


def tshark_conv(path):
    """[(a, b, frames)] from -z conv,tcp."""
    out = []
    for line in tshark(["-r", path, "-q", "-z", "conv,tcp"]).splitlines():
        parts = line.split()
        if len(parts) > 8 and parts[1] == "<->":
            # A <-> B frames bytes unit frames bytes unit total_frames ...
            out.append((split_endpoint(parts[0]), split_endpoint(parts[2]),
                        int(parts[9])))
    return out


def norm_ip(text):
    return str(ipaddress.ip_address(text))


def check_with_tshark(pcap_name, expect):
    """Compare tshark's view with the expectation; returns a list of problems
    not explained by a tshark_differs note."""
    path = os.path.join(OUT_DIR, pcap_name)
    conns = expect["connections"]
    problems, notes = [], []
    streams = tshark_streams(path)
    conv = tshark_conv(path)
    if len(streams) != len(conns) or len(conv) != len(conns):
        problems.append("tshark sees %d TCP streams and %d conversations, "
                        "expected %d" % (len(streams), len(conv), len(conns)))
    for i, c in enumerate(conns):
        if i not in streams:
            break
        note = c.get("tshark_differs")
        for p in compare_stream(path, i, c, streams[i], conv_frames(conv, c)):
            (notes if note else problems).append("conn %d: %s" % (i + 1, p))
    return problems, notes


def compare_stream(path, index, c, frames, conv):
    """Differences between tshark's stream `index` and connection c."""
    nodes = tshark_follow(path, index)
    client = (norm_ip(c["client"]), c["cport"])
    server = (norm_ip(c["server"]), c["sport"])
    ends = [(norm_ip(n[0][0]), n[0][1]) for n in nodes]
    out = []
    if set(ends) != {client, server}:
        return ["stream %d is %s <-> %s" % (index, ends[0], ends[1])]
    if ends[0] != client:
        out.append("tshark's node 0 (first sender) is the server")
        nodes.reverse()
    for name, (_, got, gaps) in zip(("toserver", "toclient"), nodes):
        want = base64.b64decode(c[name + "_b64"])
        if got != want:
            out.append("%s: tshark %d bytes, expected %d (first difference at %d)"
                       % (name, len(got), len(want), first_difference(got, want)))
        want_gaps = [(g["at"], g["len"]) for g in c["gaps"] if g["dir"] == name]
        if gaps != want_gaps:
            out.append("%s gaps: tshark %s, expected %s" % (name, gaps, want_gaps))
    if frames != c["packets"]:
        out.append("tshark counts %d frames, expected %d" % (frames, c["packets"]))
    if conv != c["packets"]:
        out.append("conv,tcp counts %s frames, expected %d" % (conv, c["packets"]))
    return out


def conv_frames(conv, c):
    """Frames of the next conv,tcp row between c's endpoints (consumed, so
    a reused 5-tuple takes its rows in order)."""
    want = {(norm_ip(c["client"]), c["cport"]), (norm_ip(c["server"]), c["sport"])}
    for row in conv:
        if {(norm_ip(row[0][0]), row[0][1]), (norm_ip(row[1][0]), row[1][1])} == want:
            conv.remove(row)
            return row[2]
    return None


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-tshark", action="store_true",
                    help="do not check the files with tshark")
    ap.add_argument("--only", default="", help="cases whose name contains this")
    args = ap.parse_args()
    os.makedirs(OUT_DIR, exist_ok=True)
    failed = 0
    for cs in CASES:
        if args.only not in cs["name"]:
            continue
        pcap_name, expect = write_case(cs)
        line = "wrote %s" % pcap_name
        if not args.no_tshark:
            problems, notes = check_with_tshark(pcap_name, expect)
            failed += bool(problems)
            line += ": tshark %s" % ("DISAGREES" if problems else "agrees")
            for p in problems:
                line += "\n    " + p
            for p in notes:
                line += "\n    (known, tshark_differs) " + p
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
