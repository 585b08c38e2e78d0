/* SPDX-License-Identifier: ISC */
/*
 * packet.h - a captured packet and what decode.c found in it.
 */
#ifndef IW_PACKET_H
#define IW_PACKET_H

#include "iw.h"
#include "stats.h"

/* TCP flags */
#define IW_TH_FIN	0x01
#define IW_TH_SYN	0x02
#define IW_TH_RST	0x04
#define IW_TH_PUSH	0x08
#define IW_TH_ACK	0x10

struct iw_packet {
	/* from the capture */
	iw_time		 ts;
	const uint8_t	*data;
	uint32_t	 caplen;
	uint32_t	 wirelen;
	int		 linktype;	/* DLT_* */

	/* from decode: the innermost IP and its TCP segment */
	struct iw_addr	 src, dst;
	uint16_t	 sport, dport;
	uint32_t	 seq, ack;
	uint8_t		 flags;
	uint16_t	 win;
	const uint8_t	*payload;
	uint32_t	 payload_len;	/* captured payload bytes */
	uint32_t	 payload_wire;	/* payload bytes the headers announce:
					 * more than payload_len when the
					 * snaplen cut the packet */
	/* the TCP segment as captured, for checking its checksum later:
	 * only when its bytes are used (see iw_tcp_bytes_used) */
	const uint8_t	*tcp_seg;
	uint32_t	 tcp_seg_len;
	bool		 checkable;	/* all of it captured */
	uint8_t		 ipver;		/* 4 or 6 */
};

enum iw_decode_result {
	IW_DECODE_TCP = 0,	/* a TCP segment: the fields above are set */
	IW_DECODE_SKIP,		/* not TCP over IP (counted) */
	IW_DECODE_BAD,		/* malformed or truncated (counted by reason) */
	IW_DECODE_HELD,		/* an IP fragment kept for reassembly */
};

/* Is this DLT one we decode? */
bool iw_decode_linktype_supported(int dlt);

/* Decode p->data as link type p->linktype down to TCP. */
enum iw_decode_result iw_decode(struct iw_packet *p);

/* Is the TCP checksum of a decoded segment right?  (Counts it if not.) */
bool iw_decode_checksum_ok(const struct iw_packet *p);

/* Expire held IP fragments older than the timeout (packet time). */
void iw_decode_expire(iw_time now);

/* Free what decode keeps (fragments). */
void iw_decode_shutdown(void);

/* ---- IP fragment reassembly (ipfrag.c) ---- */

struct iw_frag_key {
	struct iw_addr	src, dst;
	uint32_t	id;
	uint8_t		proto;		/* IPv4: protocol; IPv6: 0 */
	uint8_t		version;
};

/* The keyed hash of a datagram's key (its bucket: the low bits). */
uint32_t iw_frag_key_hash(const struct iw_frag_key *);

/* What became of a fragment. */
enum iw_frag_status {
	IW_FRAG_HELD = 0,	/* kept (or a duplicate): not complete yet */
	IW_FRAG_DONE,		/* the datagram is complete */
	IW_FRAG_DROPPED,	/* not kept (counted by reason) */
	IW_FRAG_OVERLAP,	/* it overlapped another fragment in a way
				 * no duplicate does: the whole datagram is
				 * dropped (counted) */
};

struct iw_frag_out {
	/* IW_FRAG_DONE: the datagram's payload (valid until
	 * iw_frag_release) and, IPv6, the first fragment's next header */
	const uint8_t	*data;
	uint32_t	 len;
	uint8_t		 next_proto;
	/* IW_FRAG_OVERLAP: the TCP ports, when the datagram's first bytes
	 * were seen */
	bool		 have_ports;
	uint16_t	 sport, dport;
};

/*
 * Adds one fragment: its payload after the IP header, at byte offset
 * `offset` of the original datagram; next_proto is the protocol (IPv4) or
 * the fragment header's next header (IPv6).
 */
enum iw_frag_status iw_frag_add(const struct iw_frag_key *, uint32_t offset,
    const uint8_t *data, uint32_t len, bool more, uint8_t next_proto,
    iw_time now, struct iw_frag_out *);
void iw_frag_expire(iw_time now);
/* Frees the datagrams completed while decoding the previous packet. */
void iw_frag_release(void);
void iw_frag_shutdown(void);

#endif /* IW_PACKET_H */
