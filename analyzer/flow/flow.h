/* SPDX-License-Identifier: ISC */
/*
 * flow.h - TCP connections: the flow table (flow.c) and each direction's
 * reassembly state (reassembly.c).
 */
#ifndef IW_FLOW_H
#define IW_FLOW_H

#include "hchain.h"
#include "iw.h"
#include "packet.h"
#include "session.h"

struct iw_seg;
struct iw_held;

/* One direction of a connection, as the reassembler follows it. */
struct iw_tcpdir {
	bool		 base_set;	/* next_seq is meaningful */
	bool		 syn_seen;
	bool		 fin_seen;	/* FIN captured */
	bool		 fin_done;	/* ... and every byte before it */
	uint32_t	 isn;
	uint32_t	 alt_isn;	/* another SYN-ACK's, before any data */
	bool		 alt_isn_set;
	uint32_t	 next_seq;	/* next byte expected */
	uint32_t	 fin_seq;	/* sequence number of the FIN */
	uint32_t	 max_end;	/* highest sequence number sent + 1 */
	uint64_t	 offset;	/* stream offset of next_seq */

	/* out-of-order segments, by seq: level 0 of a skip list; the rest
	 * of it, and the direction's place among those holding data, only
	 * while some are held (reassembly.c) */
	struct iw_seg	*ooo;
	struct iw_held	*held;
	uint32_t	 ooo_bytes;
	uint32_t	 ooo_count;
	uint32_t	 ooo_data;	/* of ooo_bytes, those with data: what
					 * --reassembly-cap counts */

	uint8_t		*recent;	/* last bytes delivered (a ring), to
					 * compare retransmitted data */
	uint32_t	 recent_len;	/* valid bytes in the ring */

	uint64_t	 delivered;	/* payload bytes in order */
	uint64_t	 gaps;
	uint64_t	 gap_bytes;
	uint8_t		 flags_seen;	/* TCP flags, OR of all */
};

enum iw_flow_state {
	IW_FLOW_NEW = 0,	/* no data, no completed handshake yet */
	IW_FLOW_ESTABLISHED,
	IW_FLOW_CLOSED,		/* FIN both ways or RST: waiting for
				 * stragglers, as a tombstone (flow.c) */
};

/*
 * What the table holds of every connection, whole or a tombstone (a
 * closed one reduced to what a late packet and its flow event need:
 * flow.c): its place in a hash chain and in a timeout list.
 */
struct iw_flow_node {
	struct iw_hlink		 hlink;		/* hash chain: first member */
	struct iw_flow_node	*lprev, *lnext;	/* by last activity */
	uint32_t		 hash;
	uint8_t			 list;		/* which timeout list */
	bool			 tomb;		/* a struct flow_tomb */
};

struct iw_flow {
	struct iw_flow_node	 node;		/* first member */
	uint8_t			 state;
	bool			 midstream;	/* no SYN from the client */
	bool			 swapped;	/* roles turned round after the
						 * content showed them: dir[]
						 * and pkts[] stay as first
						 * guessed, ref.ep is right */
	bool			 session_ended;
	uint8_t			 decode_anomalies;	/* bits already
							 * reported */
	uint8_t			 reason;	/* enum iw_end_reason */

	struct iw_flowref	 ref;		/* endpoints, ids */
	iw_time			 first_ts, last_ts;
	uint64_t		 pkts[2];
	uint64_t		 bytes[2];	/* frame lengths */
	struct iw_tcpdir	 dir[2];
	struct iw_session	*session;
};

/* ---- flow table (flow.c) ---- */

void iw_flows_init(void);

/*
 * The flow this segment belongs to, created if needed (NULL when the packet
 * should not start one, e.g. a lone RST); *dir is the segment's direction.
 */
struct iw_flow *iw_flow_get(const struct iw_packet *, enum iw_dir *dir);

/*
 * What the decoder found wrong with a packet that never reaches its flow
 * (the datagram was dropped): an `anomaly` event of the connection p's
 * addresses and ports name, once per flow, when that flow is held.
 */
enum iw_flow_decode_anomaly {
	IW_FLOW_FRAG_OVERLAP = 0,	/* its IP fragments overlapped */
};
void iw_flow_decode_anomaly(const struct iw_packet *,
    enum iw_flow_decode_anomaly);

/*
 * With workers the reader decodes but the flow is in a worker's table:
 * the reader's thread hands such anomalies over with fn instead (set in
 * the reader's thread only; a worker's call does the work).
 */
typedef void iw_flow_decode_anomaly_fn(const struct iw_packet *,
    enum iw_flow_decode_anomaly);
void iw_flow_hand_over_decode_anomalies(iw_flow_decode_anomaly_fn *fn);

/* Accounts the packet and runs it through reassembly. */
void iw_flow_packet(struct iw_flow *, enum iw_dir, const struct iw_packet *);

/* The session's hook: a connection picked up mid-stream turns out to
 * have its roles the other way round. */
bool iw_flow_swap_roles(void *flow);

/* Ends flows idle past their timeout at packet time now. */
void iw_flows_expire(iw_time now);

/*
 * While all flows together hold more than --flow-memory, evicts the least
 * recently active ones (closed first, then half-open, then established).
 * Called between packets: the flow of the packet just handled may go too.
 */
void iw_flows_enforce_memory(iw_time now);

/* Ends every flow (end of input, or a signal). */
void iw_flows_shutdown(iw_time now);

/* ---- reassembly (reassembly.c) ---- */

/* One TCP segment in direction dir of flow f. */
void iw_tcp_segment(struct iw_flow *f, enum iw_dir dir,
    const struct iw_packet *p);

/*
 * Will this segment's bytes be read by a dissector?  Not when the
 * direction is bypassed or the session over, nor when it falls wholly in a
 * stretch the dissector skips (an IMAP literal).  The engine checks the
 * TCP checksum of these only.
 */
bool iw_tcp_bytes_used(const struct iw_flow *f, enum iw_dir dir,
    const struct iw_packet *p);

/* Delivers whatever is held, gaps for the holes; ends the session. */
void iw_tcp_finish(struct iw_flow *f, enum iw_end_reason why, iw_time now);

/* Frees a direction's held segments and buffers. */
void iw_tcpdir_free(struct iw_tcpdir *);

#endif /* IW_FLOW_H */
