/* SPDX-License-Identifier: ISC */
/*
 * engine.h - one packet at a time through decode, the flow table and
 * reassembly; the clock that drives timeouts is the packets' own.
 */
#ifndef IW_ENGINE_H
#define IW_ENGINE_H

#include "capture.h"
#include "packet.h"
#include "iw.h"

void iw_engine_init(void);
void iw_engine_packet(const struct iw_rawpkt *);

/* Expire idle flows and fragments as of `now` (packet time). */
void iw_engine_tick(iw_time now);

/* The latest packet time seen (0 before the first packet). */
iw_time iw_engine_now(void);

/* End every flow (sessions and flow events), at the last packet time. */
void iw_engine_finish(void);

/*
 * With workers (workers.h) the same path in two halves.  The reader counts
 * the packet, runs the clock (the jump rule, once), expires fragments once
 * a second of packet time (*second: then the workers get a tick first)
 * and decodes, fragments reassembled; a worker takes the TCP segment at
 * the reader's clock (stamp), and expires its flows at each tick.
 * iw_engine_read_clock is true once a second of packet time: the workers
 * get their tick before the packet is decoded.
 */
bool iw_engine_read_clock(const struct iw_rawpkt *);
enum iw_decode_result iw_engine_read_decode(const struct iw_rawpkt *,
    struct iw_packet *);
/* Live, no packet for a while: the reader's clock moves on to t (wall
 * clock); true once a second of it, as iw_engine_read_clock. */
bool iw_engine_read_idle(iw_time t);
/* A worker's part of iw_flow_decode_anomaly (flow.h). */
void iw_engine_decode_anomaly(const struct iw_packet *, int what,
    iw_time stamp);
void iw_engine_worker_tick(iw_time t);
void iw_engine_segment(const struct iw_packet *, iw_time stamp);
/* A worker's end: its flows end at the reader's last clock. */
void iw_engine_worker_finish(iw_time t);
/* The reader's end, once every worker's is done. */
void iw_engine_reader_finish(void);

#endif /* IW_ENGINE_H */
