/* SPDX-License-Identifier: ISC */
/*
 * engine.c - the per-packet path: decode, find the flow, reassemble.
 *
 * Timeouts run on packet time, checked at most once a second of it, so the
 * same capture always gives the same events.
 */
#include "alerted.h"
#include "config.h"
#include "correlate.h"
#include "engine.h"
#include "flow.h"
#include "flowmem.h"
#include "packet.h"
#include "stats.h"

/*
 * The clock: the reader's (or, inline, the engine's) runs the jump rule;
 * a worker's follows the stamps and ticks the reader sends it.  One each
 * thread.
 */
static _Thread_local iw_time now;	/* latest packet time */
static _Thread_local iw_time next_tick;
static _Thread_local iw_time jump;	/* a time far ahead, not believed yet */

#define MAX_JUMP	(3600 * IW_USEC)

/*
 * The clock that drives timeouts follows the packets, but one packet an
 * hour or more ahead of the others (a bad timestamp, as some captures
 * have) would end every flow at once: such a jump is believed when a
 * second packet confirms it (captures joined end to end do).  The flow of
 * the jumping packet keeps that packet's time as its own.
 */
static void
advance_clock(iw_time ts)
{
	if (now == 0 || ts <= now + MAX_JUMP) {
		if (ts > now)
			now = ts;
		jump = 0;
		return;
	}
	if (jump != 0 && ts > jump - MAX_JUMP && ts < jump + MAX_JUMP) {
		now = ts > jump ? ts : jump;
		jump = 0;
		return;
	}
	jump = ts;
	iw_stats.time_jumps++;
}

void
iw_engine_init(void)
{
	iw_flows_init();
	now = jump = 0;
	next_tick = 0;
}

iw_time
iw_engine_now(void)
{
	return now;
}

void
iw_engine_tick(iw_time t)
{
	/* the correlator takes what came before this moment */
	iw_corr_advance(iw_corr_engine(), t);
	if (t < next_tick)
		return;
	next_tick = t + IW_USEC;
	iw_flows_expire(t);
	iw_decode_expire(t);
}

/*
 * With --verify-checksums a bad segment is dropped before anything sees
 * it; by default the checksum is counted, and only where the bytes are
 * read (checking every byte of bypassed traffic costs as much as reading
 * the capture).
 */
static void
tcp_segment(const struct iw_packet *p)
{
	struct iw_flow *f;
	enum iw_dir dir;

	if (iw_cfg.verify_checksums && !iw_decode_checksum_ok(p))
		return;
	f = iw_flow_get(p, &dir);
	if (f == NULL)
		return;
	if (!iw_cfg.verify_checksums && p->checkable) {
		if (iw_tcp_bytes_used(f, dir, p))
			(void)iw_decode_checksum_ok(p);
		else
			iw_stats.checksums_not_checked++;
	}
	iw_flow_packet(f, dir, p);
	iw_alerted_packet(p, f);
	if (iw_flowmem_in_use() > iw_cfg.flow_mem_cap)
		iw_flows_enforce_memory(now);
}

void
iw_engine_packet(const struct iw_rawpkt *raw)
{
	struct iw_packet p;

	iw_stats.packets++;
	iw_stats.bytes += raw->wirelen;
	iw_stats.captured_bytes += raw->caplen;
	advance_clock(raw->ts);
	if (iw_stats.first_ts == 0)
		iw_stats.first_ts = raw->ts;
	iw_stats.last_ts = now;
	/* time moves first: a flow idle past its timeout ends before this
	 * packet, which then starts a new one */
	iw_engine_tick(now);
	p.ts = raw->ts;
	p.data = raw->data;
	p.caplen = raw->caplen;
	p.wirelen = raw->wirelen;
	p.linktype = raw->linktype;
	if (iw_decode(&p) == IW_DECODE_TCP)
		tcp_segment(&p);
}

/* ---- with workers (workers.c): the reader's half, then a worker's ---- */

/* The reader's: once a second of its clock, fragments expire (true). */
static bool
reader_second(void)
{
	if (now < next_tick)
		return false;
	next_tick = now + IW_USEC;
	iw_decode_expire(now);
	return true;
}

bool
iw_engine_read_clock(const struct iw_rawpkt *raw)
{
	iw_stats.packets++;
	iw_stats.bytes += raw->wirelen;
	iw_stats.captured_bytes += raw->caplen;
	advance_clock(raw->ts);
	if (iw_stats.first_ts == 0)
		iw_stats.first_ts = raw->ts;
	iw_stats.last_ts = now;
	/* as iw_engine_tick: once a second of packet time, fragments here,
	 * flows in every worker (the caller ticks them before this packet) */
	return reader_second();
}

bool
iw_engine_read_idle(iw_time t)
{
	if (t > now)
		now = t;
	return reader_second();
}

enum iw_decode_result
iw_engine_read_decode(const struct iw_rawpkt *raw, struct iw_packet *p)
{
	p->ts = raw->ts;
	p->data = raw->data;
	p->caplen = raw->caplen;
	p->wirelen = raw->wirelen;
	p->linktype = raw->linktype;
	return iw_decode(p);
}

/* A worker's clock is the reader's stamp: its own and its correlator's. */
static void
worker_clock(iw_time t)
{
	now = t;
	iw_corr_stamp(iw_corr_engine(), t);
}

void
iw_engine_decode_anomaly(const struct iw_packet *p, int what, iw_time stamp)
{
	worker_clock(stamp);
	iw_flow_decode_anomaly(p, (enum iw_flow_decode_anomaly)what);
}

void
iw_engine_worker_tick(iw_time t)
{
	worker_clock(t);
	iw_flows_expire(t);
}

void
iw_engine_segment(const struct iw_packet *p, iw_time stamp)
{
	worker_clock(stamp);
	tcp_segment(p);
}

void
iw_engine_worker_finish(iw_time t)
{
	worker_clock(t);
	iw_flows_shutdown(t);
}

void
iw_engine_reader_finish(void)
{
	iw_decode_shutdown();
	iw_corr_flush();
}

void
iw_engine_finish(void)
{
	iw_flows_shutdown(now);
	iw_decode_shutdown();
	iw_corr_flush();
}
