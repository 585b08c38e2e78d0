/* SPDX-License-Identifier: ISC */
/*
 * decode.c - from a captured frame to a TCP segment.
 *
 * Link layers: Ethernet (any stack of 802.1Q/802.1ad tags, PPPoE sessions,
 * MPLS), Linux SLL and SLL2, NULL/LOOP, raw IP (RAW as 12 or 14, IPV4,
 * IPV6), NFLOG, PPP.  Network: IPv4 (options, fragments, total length 0 as written by
 * segmentation offload) and IPv6 (extension headers, fragments), IP in IP
 * (4in4, 6in4, 4in6, 6in6) to a bounded depth.  Every read goes through a
 * bounds-checked reader; what cannot be decoded is counted by reason.
 *
 * Snaplen: the reader covers the captured bytes; `wire` carries how many
 * bytes the packet had on the wire from the same point, so a TCP payload cut
 * by the snaplen is known (payload_wire > payload_len) and becomes a gap in
 * the stream rather than a shorter segment.
 */
#include <pcap/pcap.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "flow.h"
#include "packet.h"
#include "reader.h"
#include "stats.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2	276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4	228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6	229
#endif
#ifndef DLT_NFLOG
#define DLT_NFLOG	239
#endif

#define ETH_IPV4	0x0800
#define ETH_IPV6	0x86dd
#define ETH_VLAN	0x8100
#define ETH_QINQ	0x88a8
#define ETH_QINQ_OLD	0x9100
#define ETH_PPPOE	0x8864
#define ETH_MPLS	0x8847
#define ETH_MPLS_MC	0x8848

#define MAX_TAGS	8	/* VLAN tags or MPLS labels */
#define MAX_TUNNELS	4	/* IP-in-IP depth */
#define MAX_EXTHDRS	16	/* IPv6 extension headers */
/*
 * The longest IP packet a length field of 0 may stand for: the biggest
 * super-packet Linux builds with segmentation offload (BIG TCP, 8 times
 * the 64 KiB of GSO_LEGACY_MAX_SIZE).  A record claiming more is not one:
 * believing it would open a phantom gap of up to 4 GiB in the stream, and
 * the real bytes after it would pass for retransmissions.
 */
#define SUPER_PACKET_MAX	(512 * 1024)

enum net {
	NET_BAD = -1,
	NET_OTHER = 0,
	NET_IPV4 = 4,
	NET_IPV6 = 6,
};

/* Bytes left on the wire from the reader's position. */
struct span {
	struct iw_rd	r;
	uint64_t	wire;
};

static enum iw_decode_result decode_ip(struct iw_packet *, struct span,
    enum net, int depth);

bool
iw_decode_linktype_supported(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_NULL:
	case DLT_LOOP:
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
	case DLT_NFLOG:
	case DLT_PPP:
		return true;
	}
	/* raw IP whatever the system called it: 12 on most, 14 on OpenBSD
	 * (tshark reads both so) */
	return dlt == 12 || dlt == 14;
}

static enum iw_decode_result
bad(enum iw_bad_packet why)
{
	iw_stats.bad[why]++;
	return IW_DECODE_BAD;
}

static enum net
ethertype_net(uint16_t type)
{
	switch (type) {
	case ETH_IPV4:
		return NET_IPV4;
	case ETH_IPV6:
		return NET_IPV6;
	}
	return NET_OTHER;
}

/* An IP packet without a link header: the version nibble says which. */
static enum net
sniff_ip_version(const struct iw_rd *r)
{
	if (rd_left(r) < 1)
		return NET_BAD;
	switch (rd_ptr(r)[0] >> 4) {
	case 4:
		return NET_IPV4;
	case 6:
		return NET_IPV6;
	}
	return NET_OTHER;
}

/* PPP protocol field (possibly compressed to one byte) to the network. */
static enum net
ppp_protocol(struct iw_rd *r)
{
	uint16_t proto;

	if (rd_left(r) >= 1 && (rd_ptr(r)[0] & 1))
		proto = rd_u8(r);		/* RFC 1661 field compression */
	else
		proto = rd_u16(r);
	if (r->bad)
		return NET_BAD;
	switch (proto) {
	case 0x0021:
		return NET_IPV4;
	case 0x0057:
		return NET_IPV6;
	}
	return NET_OTHER;
}

static enum net
mpls_labels(struct iw_rd *r)
{
	uint32_t label;
	int i;

	for (i = 0; i < MAX_TAGS; i++) {
		label = rd_u32(r);
		if (r->bad)
			return NET_BAD;
		if (label & 0x100)		/* bottom of stack */
			return sniff_ip_version(r);
	}
	return NET_OTHER;
}

/*
 * PPPoE session: its length field bounds the PPP payload; bytes after it
 * are frame padding, not IP (an IP header claiming more is wrong).
 */
static enum net
pppoe_session(struct iw_rd *r)
{
	uint16_t len;

	rd_skip(r, 4);			/* ver/type, code, session id */
	len = rd_u16(r);
	if (r->bad)
		return NET_BAD;
	if ((size_t)len < rd_left(r))
		r->len = r->pos + len;
	return ppp_protocol(r);
}

/* Ethertype after any VLAN tags; PPPoE and MPLS followed to IP. */
static enum net
ethertype_chain(struct iw_rd *r, uint16_t type)
{
	int tags = 0;

	while (type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ_OLD) {
		if (++tags > MAX_TAGS)
			return NET_OTHER;
		rd_skip(r, 2);			/* TCI */
		type = rd_u16(r);
		if (r->bad)
			return NET_BAD;
	}
	switch (type) {
	case ETH_PPPOE:
		return pppoe_session(r);
	case ETH_MPLS:
	case ETH_MPLS_MC:
		return mpls_labels(r);
	}
	return ethertype_net(type);
}

static enum net
link_ethernet(struct iw_rd *r)
{
	uint16_t type;

	rd_skip(r, 12);
	type = rd_u16(r);
	if (r->bad)
		return NET_BAD;
	if (type < 0x0600)		/* 802.3 length: LLC, not IP for us */
		return NET_OTHER;
	return ethertype_chain(r, type);
}

static enum net
link_sll(struct iw_rd *r)
{
	uint16_t type;

	rd_skip(r, 14);		/* packet type, ARPHRD, addr len, addr */
	type = rd_u16(r);
	if (r->bad)
		return NET_BAD;
	return ethertype_chain(r, type);
}

static enum net
link_sll2(struct iw_rd *r)
{
	uint16_t type;

	type = rd_u16(r);
	rd_skip(r, 18);		/* reserved, ifindex, ARPHRD, type, addr */
	if (r->bad)
		return NET_BAD;
	return ethertype_chain(r, type);
}

/* BSD address families as the various systems number AF_INET6. */
static enum net
family_net(uint32_t af)
{
	switch (af) {
	case 2:
		return NET_IPV4;
	case 10: case 24: case 28: case 30:
		return NET_IPV6;
	}
	return NET_OTHER;
}

static enum net
link_null(struct iw_rd *r, bool network_order)
{
	uint32_t af;

	af = network_order ? rd_u32(r) : rd_u32le(r);
	if (r->bad)
		return NET_BAD;
	/* DLT_NULL is in the capturing host's order: try the other one */
	if (!network_order && af > 0xffff)
		af = __builtin_bswap32(af);
	return family_net(af);
}

/*
 * NFLOG: a 4-byte header, then TLVs (host order, padded to 4 bytes); the
 * packet is the NFULA_PAYLOAD TLV, whose length is its length on the wire
 * even when the snaplen cut it.
 */
static enum net
link_nflog(struct iw_rd *r, uint64_t *wire)
{
	enum net net;
	uint16_t tlen, ttype;
	int i;

	net = family_net(rd_u8(r));
	rd_skip(r, 3);
	for (i = 0; i < 64 && rd_left(r) >= 4; i++) {
		tlen = rd_u16le(r);
		ttype = rd_u16le(r);
		if (r->bad || tlen < 4)
			return NET_BAD;
		if (ttype == 9) {		/* NFULA_PAYLOAD */
			*wire = (uint64_t)tlen - 4;
			if (rd_left(r) > *wire)
				r->len = r->pos + *wire;
			return net;
		}
		if (!rd_skip(r, (((size_t)tlen + 3) & ~(size_t)3) - 4))
			break;
	}
	return NET_OTHER;
}

/* ---- IP ---- */

/*
 * One's complement sum of 16-bit words in memory order, 8 bytes at a
 * time with end-around carry (RFC 1071: the sum does not depend on the
 * word size, and a byte-swapped total folds to the same all-ones).  Every
 * caller starts at an even offset of the data it sums.
 */
static inline uint64_t
add_carry(uint64_t acc, uint64_t w)
{
	acc += w;
	return acc + (acc < w);
}

static uint64_t
csum_add(uint64_t sum, const uint8_t *p, size_t n)
{
	uint64_t w0, w1, w2, w3;
	uint8_t tail[8] = { 0 };

	while (n >= 32) {
		memcpy(&w0, p, 8);
		memcpy(&w1, p + 8, 8);
		memcpy(&w2, p + 16, 8);
		memcpy(&w3, p + 24, 8);
		sum = add_carry(sum, w0);
		sum = add_carry(sum, w1);
		sum = add_carry(sum, w2);
		sum = add_carry(sum, w3);
		p += 32;
		n -= 32;
	}
	while (n >= 8) {
		memcpy(&w0, p, 8);
		sum = add_carry(sum, w0);
		p += 8;
		n -= 8;
	}
	if (n > 0) {
		memcpy(tail, p, n);
		memcpy(&w0, tail, 8);
		sum = add_carry(sum, w0);
	}
	return sum;
}

static uint16_t
csum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/*
 * Checks the TCP checksum when the whole segment was captured.  Counted,
 * not dropped, unless --verify-checksums: captures taken on the sending
 * host carry checksums the NIC fills in later.
 */
/*
 * The TCP checksum, over the pseudo-header and the captured segment.
 * Checked by the engine only for segments whose bytes are read (not for
 * a bypassed TLS stream or a skipped literal: that is where the time
 * goes); counted, not dropped, unless --verify-checksums, since captures
 * taken on the sending host carry checksums the NIC fills in later.
 */
bool
iw_decode_checksum_ok(const struct iw_packet *p)
{
	uint32_t len = p->tcp_seg_len;
	uint64_t sum = 0;
	uint8_t pseudo[8];

	if (!p->checkable)
		return true;
	if (p->ipver == 4) {
		sum = csum_add(sum, p->src.a + 12, 4);
		sum = csum_add(sum, p->dst.a + 12, 4);
	} else {
		sum = csum_add(sum, p->src.a, 16);
		sum = csum_add(sum, p->dst.a, 16);
	}
	/* IPv4: zero, protocol, 16-bit length; IPv6: 32-bit length, zeros,
	 * next header (the same sum when the length fits 16 bits) */
	pseudo[0] = len >> 24;
	pseudo[1] = len >> 16;
	pseudo[2] = len >> 8;
	pseudo[3] = len & 0xff;
	pseudo[4] = pseudo[5] = pseudo[6] = 0;
	pseudo[7] = 6;
	sum = csum_add(sum, pseudo, 8);
	sum = csum_add(sum, p->tcp_seg, len);
	if (csum_fold(sum) == 0xffff)
		return true;
	iw_stats.bad[IW_BAD_CHECKSUM_TCP]++;
	return false;
}

static enum iw_decode_result
decode_tcp(struct iw_packet *p, struct span s, enum net net)
{
	struct iw_rd *r = &s.r;
	const uint8_t *seg = rd_ptr(r);
	size_t captured = rd_left(r);
	uint8_t off;

	if (captured < 20)
		return bad(s.wire >= 20 ? IW_BAD_TRUNCATED_TCP :
		    IW_BAD_TCP_HEADER);
	p->sport = rd_u16(r);
	p->dport = rd_u16(r);
	p->seq = rd_u32(r);
	p->ack = rd_u32(r);
	off = rd_u8(r) >> 4;
	p->flags = rd_u8(r) & 0x3f;
	p->win = rd_u16(r);
	rd_skip(r, 4);			/* checksum, urgent pointer */
	if (off < 5 || (uint64_t)off * 4 > s.wire)
		return bad(IW_BAD_TCP_HEADER);
	if ((size_t)off * 4 > captured) {
		/* the snaplen cut the options: the segment still counts, its
		 * payload is all missing */
		iw_stats.bad[IW_BAD_TRUNCATED_TCP]++;
		p->payload = seg + captured;
		p->payload_len = 0;
		p->payload_wire = (uint32_t)(s.wire - (uint64_t)off * 4);
		return IW_DECODE_TCP;
	}
	rd_skip(r, (size_t)off * 4 - 20);	/* options */
	p->payload = rd_ptr(r);
	p->payload_len = (uint32_t)rd_left(r);
	p->payload_wire = (uint32_t)(s.wire - (uint64_t)off * 4);
	if (p->payload_len > p->payload_wire)
		p->payload_len = p->payload_wire;
	if (p->payload_len < p->payload_wire)
		iw_stats.bad[IW_BAD_TRUNCATED_PAYLOAD]++;
	p->tcp_seg = seg;
	p->tcp_seg_len = (uint32_t)(off * 4 + p->payload_len);
	p->checkable = p->payload_len == p->payload_wire;
	p->ipver = net == NET_IPV4 ? 4 : 6;
	return IW_DECODE_TCP;
}

/* ---- tunnels: GTP-U, VXLAN (over UDP) and GRE ---- */

#define UDP_GTPU	2152
#define UDP_VXLAN	4789

/*
 * The packet inside a tunnel header, decoded from the reader on; `start`
 * is where the reader was when s.wire was right.
 */
static enum iw_decode_result
inner(struct iw_packet *p, struct span s, size_t start, enum net net,
    int depth)
{
	size_t used = s.r.pos - start;

	if (net == NET_BAD)
		return bad(IW_BAD_TRUNCATED_IP);
	if (net == NET_OTHER) {
		iw_stats.not_ip++;
		return IW_DECODE_SKIP;
	}
	s.wire = s.wire > used ? s.wire - used : 0;
	s.r = rd_init(rd_ptr(&s.r), rd_left(&s.r));
	if (s.wire < rd_left(&s.r))
		s.wire = rd_left(&s.r);
	return decode_ip(p, s, net, depth + 1);
}

/* GTPv1-U (3GPP TS 29.281): user traffic of mobile networks. */
static enum net
gtpu(struct iw_rd *r)
{
	uint8_t flags, type, next;
	int i;

	flags = rd_u8(r);
	type = rd_u8(r);
	rd_skip(r, 6);				/* length, TEID */
	if (r->bad || (flags >> 5) != 1 || !(flags & 0x10) || type != 0xff)
		return NET_OTHER;		/* not a T-PDU */
	if (flags & 0x07) {
		rd_skip(r, 3);			/* sequence, N-PDU */
		next = rd_u8(r);
		for (i = 0; next != 0 && i < 8; i++) {
			uint8_t units = rd_u8(r);

			if (units == 0 || !rd_skip(r, (size_t)units * 4 - 2))
				return NET_BAD;
			next = rd_u8(r);
		}
		if (next != 0)
			return NET_OTHER;
	}
	if (r->bad)
		return NET_BAD;
	return sniff_ip_version(r);
}

static enum iw_decode_result
decode_udp(struct iw_packet *p, struct span s, int depth)
{
	struct iw_rd *r = &s.r;
	size_t start = r->pos;
	uint16_t sport, dport;

	sport = rd_u16(r);
	dport = rd_u16(r);
	rd_skip(r, 4);				/* length, checksum */
	if (r->bad) {
		iw_stats.not_tcp++;
		return IW_DECODE_SKIP;
	}
	if (depth >= MAX_TUNNELS)
		return bad(IW_BAD_TUNNEL_DEPTH);
	if (sport == UDP_GTPU || dport == UDP_GTPU)
		return inner(p, s, start, gtpu(r), depth);
	if (dport == UDP_VXLAN) {
		rd_skip(r, 8);			/* flags, VNI */
		return inner(p, s, start, link_ethernet(r), depth);
	}
	iw_stats.not_tcp++;
	return IW_DECODE_SKIP;
}

/* GRE version 0 (RFC 2784/2890): IP, or Ethernet (transparent bridging). */
static enum iw_decode_result
decode_gre(struct iw_packet *p, struct span s, int depth)
{
	struct iw_rd *r = &s.r;
	size_t start = r->pos;
	uint16_t flags, type;

	flags = rd_u16(r);
	type = rd_u16(r);
	if (r->bad || (flags & 0x0007) != 0) {
		iw_stats.not_tcp++;
		return IW_DECODE_SKIP;
	}
	if (depth >= MAX_TUNNELS)
		return bad(IW_BAD_TUNNEL_DEPTH);
	if (flags & 0x8000)
		rd_skip(r, 4);			/* checksum, reserved */
	if (flags & 0x2000)
		rd_skip(r, 4);			/* key */
	if (flags & 0x1000)
		rd_skip(r, 4);			/* sequence number */
	if (type == 0x6558)
		return inner(p, s, start, link_ethernet(r), depth);
	return inner(p, s, start, r->bad ? NET_BAD : ethertype_net(type),
	    depth);
}

/* The payload of an IP packet: TCP, or a tunnelled packet. */
static enum iw_decode_result
decode_l4(struct iw_packet *p, struct span s, uint8_t proto, enum net net,
    int depth)
{
	switch (proto) {
	case 6:
		return decode_tcp(p, s, net);
	case 4:
	case 41:
		if (depth >= MAX_TUNNELS)
			return bad(IW_BAD_TUNNEL_DEPTH);
		return decode_ip(p, s, proto == 4 ? NET_IPV4 : NET_IPV6,
		    depth + 1);
	case 17:
		return decode_udp(p, s, depth);
	case 47:
		return decode_gre(p, s, depth);
	}
	iw_stats.not_tcp++;
	return IW_DECODE_SKIP;
}

static void
set_v4(struct iw_addr *a, const uint8_t *p)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	a->family = AF_INET;
	memcpy(a->a, v4mapped, 12);
	memcpy(a->a + 12, p, 4);
}

static void
set_v6(struct iw_addr *a, const uint8_t *p)
{
	a->family = AF_INET6;
	memcpy(a->a, p, 16);
}

/*
 * What a fragment came to: a completed datagram is decoded from the
 * reassembly buffer (IPv6: only TCP or a tunnel directly after the
 * fragment header); a datagram dropped because its fragments overlapped
 * is an anomaly of its connection, when its ports were seen.
 */
static enum iw_decode_result
fragment_result(struct iw_packet *p, enum iw_frag_status st,
    const struct iw_frag_out *fo, enum net net, int depth)
{
	struct span s;

	switch (st) {
	case IW_FRAG_HELD:
		return IW_DECODE_HELD;
	case IW_FRAG_DROPPED:
		return IW_DECODE_BAD;
	case IW_FRAG_OVERLAP:
		if (fo->have_ports) {
			p->sport = fo->sport;
			p->dport = fo->dport;
			iw_flow_decode_anomaly(p, IW_FLOW_FRAG_OVERLAP);
		}
		return IW_DECODE_BAD;
	case IW_FRAG_DONE:
		break;
	}
	s.r = rd_init(fo->data, fo->len);
	s.wire = fo->len;
	iw_stats.frag_datagrams++;
	return decode_l4(p, s, fo->next_proto, net, depth);
}

static enum iw_decode_result
decode_ipv4(struct iw_packet *p, struct span s, int depth)
{
	struct iw_rd *r = &s.r;
	const uint8_t *hdr = rd_ptr(r);
	size_t captured = rd_left(r), hl;
	uint64_t tl;
	uint16_t frag;
	uint8_t proto;
	struct iw_frag_key key;
	struct iw_frag_out fo;
	enum iw_frag_status st;

	if (captured < 20)
		return bad(IW_BAD_TRUNCATED_IP);
	if ((hdr[0] >> 4) != 4)
		return bad(IW_BAD_IP_VERSION);
	hl = (size_t)(hdr[0] & 0x0f) * 4;
	tl = (uint64_t)hdr[2] << 8 | hdr[3];
	if (hl < 20)
		return bad(IW_BAD_IP_HEADER);
	if (hl > captured)
		return bad(IW_BAD_TRUNCATED_IP);
	if (tl == 0) {
		/* segmentation offload: the frame's length is the truth */
		if (s.wire > SUPER_PACKET_MAX)
			return bad(IW_BAD_IP_LENGTH_IMPLAUSIBLE);
		iw_stats.ip_length_from_frame++;
		tl = s.wire;
	}
	if (tl < hl)
		return bad(IW_BAD_IP_HEADER);
	if (tl > s.wire) {
		/* the header claims more than the frame carried */
		iw_stats.bad[IW_BAD_IP_HEADER]++;
		tl = s.wire;
	}
	if (csum_fold(csum_add(0, hdr, hl)) != 0xffff)
		iw_stats.bad[IW_BAD_CHECKSUM_IP]++;
	frag = (uint16_t)(hdr[6] << 8 | hdr[7]);
	proto = hdr[9];
	set_v4(&p->src, hdr + 12);
	set_v4(&p->dst, hdr + 16);
	/* the reader ends where the datagram ends (Ethernet padding) */
	if (tl < captured)
		r->len = r->pos + (size_t)tl;
	rd_skip(r, hl);
	s.wire = tl - hl;
	if ((frag & 0x3fff) == 0)
		return decode_l4(p, s, proto, NET_IPV4, depth);
	if (rd_left(r) < s.wire)
		return bad(IW_BAD_TRUNCATED_IP);	/* cannot reassemble */
	memset(&key, 0, sizeof(key));
	key.src = p->src;
	key.dst = p->dst;
	key.id = (uint32_t)(hdr[4] << 8 | hdr[5]);
	key.proto = proto;
	key.version = 4;
	st = iw_frag_add(&key, (uint32_t)(frag & 0x1fff) * 8, rd_ptr(r),
	    (uint32_t)s.wire, (frag & 0x2000) != 0, proto, p->ts, &fo);
	return fragment_result(p, st, &fo, NET_IPV4, depth);
}

static bool
ipv6_ext_header(uint8_t nh)
{
	switch (nh) {
	case 0:		/* hop-by-hop options */
	case 43:	/* routing */
	case 60:	/* destination options */
	case 135:	/* mobility */
	case 139:	/* HIP */
	case 140:	/* shim6 */
		return true;
	}
	return false;
}

static enum iw_decode_result
ipv6_fragment(struct iw_packet *p, struct span s, int depth)
{
	struct iw_rd *r = &s.r;
	struct iw_frag_key key;
	struct iw_frag_out fo;
	enum iw_frag_status st;
	uint16_t offmf;
	uint8_t next;
	uint32_t id;

	next = rd_u8(r);
	rd_skip(r, 1);
	offmf = rd_u16(r);
	id = rd_u32(r);
	if (r->bad)
		return bad(IW_BAD_TRUNCATED_IP);
	s.wire -= 8;
	if (rd_left(r) < s.wire)
		return bad(IW_BAD_TRUNCATED_IP);
	memset(&key, 0, sizeof(key));
	key.src = p->src;
	key.dst = p->dst;
	key.id = id;
	key.version = 6;
	st = iw_frag_add(&key, (uint32_t)(offmf & 0xfff8), rd_ptr(r),
	    (uint32_t)s.wire, (offmf & 1) != 0, next, p->ts, &fo);
	return fragment_result(p, st, &fo, NET_IPV6, depth);
}

static enum iw_decode_result
decode_ipv6(struct iw_packet *p, struct span s, int depth)
{
	struct iw_rd *r = &s.r;
	const uint8_t *hdr = rd_ptr(r);
	uint64_t pl;
	uint8_t nh, hlen;
	size_t extlen;
	int i;

	if (rd_left(r) < 40)
		return bad(IW_BAD_TRUNCATED_IP);
	if ((hdr[0] >> 4) != 6)
		return bad(IW_BAD_IP_VERSION);
	pl = (uint64_t)hdr[4] << 8 | hdr[5];
	nh = hdr[6];
	set_v6(&p->src, hdr + 8);
	set_v6(&p->dst, hdr + 24);
	rd_skip(r, 40);
	if (s.wire < 40)
		return bad(IW_BAD_IP_HEADER);
	s.wire -= 40;
	if (pl == 0) {
		/* offload (or a jumbogram, never bigger on links we see) */
		if (s.wire > SUPER_PACKET_MAX)
			return bad(IW_BAD_IP_LENGTH_IMPLAUSIBLE);
		iw_stats.ip_length_from_frame++;
		pl = s.wire;
	}
	if (pl > s.wire) {
		iw_stats.bad[IW_BAD_IP_HEADER]++;
		pl = s.wire;
	}
	if (pl < rd_left(r))
		r->len = r->pos + (size_t)pl;
	s.wire = pl;
	for (i = 0; i < MAX_EXTHDRS; i++) {
		if (nh == 44)
			return ipv6_fragment(p, s, depth);
		if (nh == 51) {			/* AH: length in 4-byte units */
			uint8_t next = rd_u8(r);

			hlen = rd_u8(r);
			extlen = ((size_t)hlen + 2) * 4;
			nh = next;
		} else if (ipv6_ext_header(nh)) {
			uint8_t next = rd_u8(r);

			hlen = rd_u8(r);
			extlen = ((size_t)hlen + 1) * 8;
			nh = next;
		} else
			return decode_l4(p, s, nh, NET_IPV6, depth);
		if (r->bad || extlen > s.wire || !rd_skip(r, extlen - 2))
			return bad(IW_BAD_IP6_EXTHDR);
		s.wire -= extlen;
	}
	return bad(IW_BAD_IP6_EXTHDR);
}

static enum iw_decode_result
decode_ip(struct iw_packet *p, struct span s, enum net net, int depth)
{
	if (net == NET_IPV4)
		return decode_ipv4(p, s, depth);
	return decode_ipv6(p, s, depth);
}

static enum net
decode_link_header(struct iw_packet *p, struct span *s)
{
	struct iw_rd *r = &s->r;

	switch (p->linktype) {
	case DLT_EN10MB:
		return link_ethernet(r);
	case DLT_LINUX_SLL:
		return link_sll(r);
	case DLT_LINUX_SLL2:
		return link_sll2(r);
	case DLT_NULL:
		return link_null(r, false);
	case DLT_LOOP:
		return link_null(r, true);
	case DLT_IPV4:
		return NET_IPV4;
	case DLT_IPV6:
		return NET_IPV6;
	case DLT_NFLOG:
		return link_nflog(r, &s->wire);
	case DLT_PPP:
		if (rd_left(r) >= 2 && rd_ptr(r)[0] == 0xff &&
		    rd_ptr(r)[1] == 0x03)
			rd_skip(r, 2);		/* address and control */
		return ppp_protocol(r);
	}
	if (iw_decode_linktype_supported(p->linktype))	/* DLT_RAW */
		return sniff_ip_version(r);
	iw_stats.unknown_linktype++;
	return NET_OTHER;
}

static enum net
decode_link(struct iw_packet *p, struct span *s)
{
	struct iw_rd *r = &s->r;
	enum net net;

	/* bytes on the wire after the link header: a length field of the
	 * link layer (PPPoE, NFLOG) says so exactly; else the frame's length */
	net = decode_link_header(p, s);
	if (r->len < p->caplen)
		s->wire = rd_left(r);
	else if (p->linktype != DLT_NFLOG)
		s->wire = p->wirelen > r->pos ? p->wirelen - r->pos : 0;
	if (s->wire < rd_left(r))
		s->wire = rd_left(r);
	return net;
}

enum iw_decode_result
iw_decode(struct iw_packet *p)
{
	struct span s;
	enum net net;

	iw_frag_release();
	p->payload = NULL;
	p->payload_len = p->payload_wire = 0;
	p->checkable = false;
	s.r = rd_init(p->data, p->caplen);
	s.wire = 0;
	net = decode_link(p, &s);
	if (net == NET_BAD)
		return bad(IW_BAD_TRUNCATED_LINK);
	if (net == NET_OTHER) {
		iw_stats.not_ip++;
		return IW_DECODE_SKIP;
	}
	return decode_ip(p, s, net, 0);
}

void
iw_decode_expire(iw_time now)
{
	iw_frag_expire(now);
}

void
iw_decode_shutdown(void)
{
	iw_frag_shutdown();
}
