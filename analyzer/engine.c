/*
 * engine.c - the per-packet path: decode, find the flow, reassemble.
 *
 * Timeouts run on packet time, checked at most once a second of it, so the
 * same capture always gives the same events.
 */
#include "alerted.h"
#include "config.h"
#include "engine.h"
#include "flow.h"
#include "packet.h"
#include "stats.h"

static iw_time now;		/* latest packet time */
static iw_time next_tick;

void
iw_engine_init(void)
{
	iw_flows_init();
	now = 0;
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
}

void
iw_engine_packet(const struct iw_rawpkt *raw)
{
	struct iw_packet p;

	iw_stats.packets++;
	iw_stats.bytes += raw->wirelen;
	iw_stats.captured_bytes += raw->caplen;
	if (raw->ts > now)
		now = raw->ts;
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

void
iw_engine_finish(void)
{
	iw_flows_shutdown(now);
	iw_decode_shutdown();
}
