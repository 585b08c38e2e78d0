/* SPDX-License-Identifier: ISC */
/*
 * alerted.h - --write-alerted FILE.pcap: every packet of every connection
 * that raised an alert (an alert written, not one suppressed or folded).
 *
 * Two ways, chosen at start:
 *
 * - Two passes (every input a regular file): while analysing, remember
 *   each alerted connection (endpoints, flow_id, time of its last packet);
 *   afterwards read the inputs again and write the packets of those
 *   endpoints from the connection's first packet (the one whose time gives
 *   back its flow_id) to its last.  Exact.
 *
 * - Buffered (live, standard input, pipes): keep the last
 *   IW_ALERTED_FLOW_PKTS packets (at most IW_ALERTED_FLOW_BYTES) of each
 *   connection still being analysed, IW_ALERTED_TOTAL_BYTES in all (the
 *   least recently active connections lose theirs first); at the first
 *   alert write them, then every later packet of the connection as it
 *   comes.  A connection longer than the bound before its first alert
 *   loses its beginning.
 *
 * The file is a pcap of the first written packet's link type; packets of
 * another link type are left out and counted (one warning at the end).
 *
 * Either way at most IW_ALERTED_MAX_FLOWS connections (or --max-flows, if
 * smaller) are remembered at once (about 150 bytes each); past that the
 * least recently active is forgotten, counted, and an alerted one among
 * them is missing from the file (one warning at the end).
 */
#ifndef IW_ALERTED_H
#define IW_ALERTED_H

#include <stdio.h>

#include "capture.h"
#include "iw.h"

struct iw_flow;
struct iw_flowref;
struct iw_packet;

#define IW_ALERTED_FLOW_PKTS	64
#define IW_ALERTED_FLOW_BYTES	(256 * 1024)
#define IW_ALERTED_TOTAL_BYTES	(64 * 1024 * 1024)
#define IW_ALERTED_MAX_FLOWS	262144

/* Creates the file now (before privileges are dropped); 0 or -1 with err.
 * two_pass as described above. */
int iw_alerted_open(const char *path, bool two_pass, char *err,
    size_t errlen);
bool iw_alerted_enabled(void);
bool iw_alerted_two_pass(void);

/* From the noise hook: this connection raised an alert (at time now). */
void iw_alerted_mark(const struct iw_flowref *, iw_time now);

/* The engine's hook: a TCP packet (its captured bytes and times) and the
 * connection it went to. */
void iw_alerted_packet(const struct iw_packet *, const struct iw_flow *);

/*
 * Second pass: offer every packet of the re-read inputs, in the same
 * order as the first pass.
 */
void iw_alerted_pass2_begin(void);
void iw_alerted_pass2_packet(const struct iw_rawpkt *);
void iw_alerted_pass2_end(void);

/* Flushes and closes the file; returns packets written. */
uint64_t iw_alerted_close(void);

/* Connections marked so far. */
uint64_t iw_alerted_flows(void);

/* Connections forgotten past IW_ALERTED_MAX_FLOWS (alerted ones only, or
 * all). */
uint64_t iw_alerted_evicted(bool alerted_only);

#endif /* IW_ALERTED_H */
