/* SPDX-License-Identifier: ISC */
/*
 * workers.h - packets spread over worker threads, reading files, stdin or
 * a live interface.
 *
 * One reader (the main thread) reads the capture, runs the packet clock
 * (the jump rule, once), reassembles IP fragments (all of
 * --frag-memory: it is the only thread that holds them) and decodes;
 * each TCP segment goes to the worker picked by the keyed symmetric hash
 * of its innermost addresses and ports (siphash.h), so both directions of
 * a connection, and every fragment of its datagrams, meet in one worker.
 *
 * A worker is one thread and owns everything per flow: its flow table,
 * reassembly, session hosts and dissectors' state, flow memory, and its
 * counters.  Those are file-scope _Thread_local in the files that keep
 * them (flow.c, flowmem.c, reassembly.c, engine.c's clock, the
 * dissectors' caches and budgets), so the single-threaded run keeps its
 * code and speed.  --max-flows, --flow-memory and --reassembly-cap are
 * split evenly among the workers; --reassembly-flow-cap stays per
 * connection.
 *
 * Packets travel in batches (a batch per worker at a time) over bounded
 * queues (queue.h): a full queue blocks the reader, counted.  The reader
 * stamps every packet with its clock and, once a second of packet time,
 * puts a tick in every worker's batch, so flows time out at the same
 * packet times whatever the number of workers.  Each worker is its own
 * producer for the correlator (correlate.h), its watermark the reader's
 * clock when its last batch was sent: records are written in (clock,
 * flow_id, seq) order, the same order for any number of workers.
 *
 * Live, the reader takes the packets of every handle in the interface's
 * PACKET_FANOUT group (capture.h, fanout.c) and does the same: the
 * kernel's hash does not keep fragments or tunnels together, ours does.
 * A queue full for longer than a moment drops packets, counted, rather
 * than hold the reader (and so the kernel's buffers of every worker);
 * when no packet comes the reader's clock, and with it the workers' and
 * their watermarks, follows the wall clock (iw_workers_idle).
 */
#ifndef IW_WORKERS_H
#define IW_WORKERS_H

#include "capture.h"
#include "iw.h"

#define IW_WORKERS_MAX	8

/* The default: the online CPUs, at most IW_WORKERS_MAX. */
int iw_workers_default(void);

/*
 * Starts n workers (2 .. IW_WORKERS_MAX); the limits in iw_cfg must
 * already be split (iw_workers_split_limits).  0, or -1 with a message.
 */
int iw_workers_start(int n, bool live, char *err, size_t errlen);

/* A packet from the capture (the reader's thread). */
void iw_workers_packet(const struct iw_rawpkt *);

/* Live, no packet for a while: time moves on to t (wall clock) for the
 * reader and every worker, and what the reader holds is sent. */
void iw_workers_idle(iw_time t);

/*
 * fn runs on the reader's thread before every worker gets its batch at
 * once (ticks, flushes, not a single full batch): live, the key logs are
 * read then, so a worker that gets a whole short TLS session in one batch
 * finds the keys its client wrote before the reader read its packets.
 */
void iw_workers_before_sending(void (*fn)(void));

/* A stats event with the workers' counters added (they wait meanwhile). */
void iw_workers_stats_emit(iw_time t);

/*
 * Everything sent is done and every worker waits: the configuration may
 * change (a reload) before the next packet.
 */
void iw_workers_quiesce(void);

/* End of input: the workers end their flows at the reader's clock and
 * stop; their counters are added to the reader's. */
void iw_workers_finish(void);

/*
 * Divides the process totals in iw_cfg among n workers (once, at start):
 * --max-flows, --flow-memory, --reassembly-cap.  --frag-memory stays
 * whole: the reader alone holds fragments.  A reload can change only
 * --flow-memory: iw_workers_share_flow_memory divides the new total.
 */
void iw_workers_split_limits(int n);
void iw_workers_share_flow_memory(int n);

#endif /* IW_WORKERS_H */
