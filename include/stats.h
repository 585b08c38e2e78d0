/* SPDX-License-Identifier: ISC */
/*
 * stats.h - the run's counters, written as the `stats` event.
 *
 * One struct a thread: each counter is incremented where the thing it
 * counts happens, in the thread it happens in (the reader, a worker, or
 * whichever worker's watermark let the correlator run: correlate.h).
 * With workers, every thread's copy is added into the main thread's once
 * they are done (iw_stats_add), before the stats event is written.
 */
#ifndef IW_STATS_H
#define IW_STATS_H

#include <stdint.h>

#include "findings.h"
#include "iw.h"

/* Why a packet was not decoded to the end; one counter each. */
enum iw_bad_packet {
	IW_BAD_TRUNCATED_LINK = 0,	/* cut inside the link header */
	IW_BAD_TRUNCATED_IP,		/* cut inside the IP header */
	IW_BAD_TRUNCATED_TCP,		/* cut inside the TCP header */
	IW_BAD_TRUNCATED_PAYLOAD,	/* snaplen cut part of the payload */
	IW_BAD_IP_VERSION,
	IW_BAD_IP_HEADER,		/* header length / total length wrong */
	IW_BAD_IP6_EXTHDR,
	IW_BAD_TCP_HEADER,		/* data offset wrong */
	IW_BAD_CHECKSUM_IP,
	IW_BAD_CHECKSUM_TCP,
	IW_BAD_FRAG_OVERLAP,
	IW_BAD_FRAG_TOO_BIG,
	IW_BAD_TUNNEL_DEPTH,
	IW_BAD_FRAG_INCONSISTENT,	/* past the datagram's end, or a
					 * second last fragment that differs */
	IW_BAD_FRAG_SCATTERED,		/* too many separate runs: dropped */
	IW_BAD_IP_LENGTH_IMPLAUSIBLE,	/* length 0, frame bigger than any
					 * offload super-packet */
	IW_BAD_COUNT
};

#define IW_MAX_ANOMALY_KINDS 64

/*
 * The hash tables indexed by bytes from the wire (keyed, siphash.h), and
 * what their chains cost: the longest chain one lookup walked, and the
 * entries evicted because their chain was full (a chain is capped).
 */
enum iw_table {
	IW_TABLE_FLOWS = 0,
	IW_TABLE_FRAGMENTS,
	IW_TABLE_MEMO,			/* facts across sessions (memo.c) */
	IW_TABLE_NOTES,			/* suppressed findings by flow_id */
	IW_TABLE_ALERTED,		/* --write-alerted, by flow_id */
	IW_TABLE_COUNT
};

struct iw_table_stats {
	uint64_t	longest_chain;
	uint64_t	chain_evictions;
};

#define IW_STATS_HANDLES_MAX	8	/* workers.h's IW_WORKERS_MAX */

struct iw_stats {
	/* capture */
	uint64_t	packets;
	uint64_t	bytes;			/* wire length */
	uint64_t	captured_bytes;		/* caplen */
	uint64_t	not_ip;			/* ARP, STP, ... */
	uint64_t	not_tcp;		/* UDP, ICMP, ... */
	uint64_t	unknown_linktype;
	uint64_t	bad[IW_BAD_COUNT];
	uint64_t	checksums_not_checked;	/* bytes never read */
	uint64_t	kernel_received;	/* pcap_stats, live */
	uint64_t	kernel_dropped;
	uint64_t	iface_dropped;
	uint64_t	time_jumps;		/* packets far ahead in time */
	bool		input_cut_short;	/* damaged capture */
	char		input_error[256];

	/* IP fragments */
	uint64_t	frag_datagrams;		/* reassembled */
	uint64_t	frag_timeouts;
	uint64_t	frag_evicted;
	uint64_t	frag_duplicates;	/* inside what was received */
	uint64_t	frag_overlap_dropped;	/* datagrams dropped: overlap */
	uint64_t	ip_length_from_frame;	/* IP length 0, frame used */

	/* flows */
	uint64_t	flows_total;
	uint64_t	flows_active;
	uint64_t	flows_peak;
	uint64_t	flows_timeout;
	uint64_t	flows_evicted;
	uint64_t	flows_evicted_memory;	/* of which past --flow-memory */
	uint64_t	flows_midstream;
	uint64_t	tcp_no_flow;		/* FIN/RST of no known flow */
	uint64_t	flows_tombstones;	/* closed, held small (flow.c) */
	uint64_t	flows_tombstones_peak;

	/* reassembly */
	uint64_t	tcp_segments;
	uint64_t	tcp_retransmitted;	/* fully already seen */
	uint64_t	tcp_overlaps;		/* partly or fully seen */
	uint64_t	tcp_overlaps_diff;	/* ... with different data */
	uint64_t	tcp_out_of_order;
	uint64_t	tcp_gaps;
	uint64_t	tcp_gap_bytes;
	uint64_t	tcp_ooo_cap_hits;
	uint64_t	tcp_reasm_holders_evicted;	/* made room for others */
	uint64_t	tcp_reasm_segs_dropped;		/* past 4,096 held */
	uint64_t	reasm_bytes_held;	/* now */
	uint64_t	reasm_bytes_peak;
	uint64_t	bytes_delivered;
	uint64_t	bytes_bypassed;

	/* sessions */
	uint64_t	sessions_imap_cleartext;
	uint64_t	sessions_imap_starttls;
	uint64_t	sessions_imap_implicit_tls;
	uint64_t	sessions_tls;
	uint64_t	sessions_not_analysed;	/* no dissector matched */
	uint64_t	sessions_dropped;	/* dissector gave up */
	uint64_t	inflated_bytes;		/* COMPRESS=DEFLATE output */
	uint64_t	inflate_limited;	/* directions cut at a cap */
	/* --keylog (iw_stats_decryption: one was given) */
	uint64_t	tls_sessions_decrypted;	/* a record decrypted */
	uint64_t	tls_sessions_no_key;	/* the key log had none */
	uint64_t	tls_records_auth_failed; /* wrong or stale keys */
	uint64_t	tls_held_bytes_dropped;	/* held for keys, dropped */
	uint64_t	findings[IW_F_COUNT];

	/* anomalies by kind ("layer.event") */
	int		n_anomaly_kinds;
	char		anomaly_kind[IW_MAX_ANOMALY_KINDS][48];
	uint64_t	anomaly_count[IW_MAX_ANOMALY_KINDS];
	uint64_t	anomalies_other;	/* kinds past the table */
	uint64_t	anomalies_repeated;	/* not written: the session's
						 * kind was written already */
	uint64_t	anomalies_rate_limited;	/* not written: --anomaly-rate */

	struct iw_table_stats tables[IW_TABLE_COUNT];

	/* output */
	uint64_t	events;
	uint64_t	events_dropped;

	iw_time		first_ts;
	iw_time		last_ts;

	/* workers (analyzer/run/workers.h): set once they are done */
	uint32_t	workers;		/* threads; 1: inline */
	uint64_t	worker_queue_waits;	/* the reader found a worker's
						 * queue full and waited */
	uint64_t	workers_flow_mem;	/* flowmem.h, the workers' */
	uint64_t	workers_flow_mem_peak;	/* sum of their peaks */
	/* live with workers: the reader's, never added from a worker */
	uint64_t	worker_queue_drops;	/* a worker's queue stayed full */
	uint32_t	kernel_handles;		/* fanout.c: one per worker */
	struct iw_stats_handle {
		uint64_t	received, dropped, ifdropped;	/* pcap_stats */
		uint64_t	queue_drops;	/* its worker's queue was full */
	}		kernel_handle[IW_STATS_HANDLES_MAX];
};

extern _Thread_local struct iw_stats iw_stats;
/* A key log was given (--keylog): the stats say what decryption did.
 * Set by the main thread before any packet. */
extern bool iw_stats_decryption;

/*
 * Adds a thread's counters to *into: sums, except the peaks and longest
 * chains (the largest: a peak of the sums is not known), the times (the
 * earliest first, latest last) and the anomaly kinds (by name).
 */
void iw_stats_add(struct iw_stats *into, const struct iw_stats *from);

/* Counts an anomaly; returns its kind's index in the table, -1 past it. */
int iw_stats_anomaly(const char *layer, const char *event);

/* A lookup in table t walked `walked` entries. */
static inline void
iw_stats_chain(enum iw_table t, uint64_t walked)
{
	if (walked > iw_stats.tables[t].longest_chain)
		iw_stats.tables[t].longest_chain = walked;
}

/* Write the stats event (at packet time ts). */
void iw_stats_emit(iw_time ts);

const char *iw_bad_packet_name(enum iw_bad_packet);

#endif /* IW_STATS_H */
