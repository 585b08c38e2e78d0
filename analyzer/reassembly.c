/*
 * reassembly.c - each direction of a TCP connection as an ordered byte
 * stream.
 *
 * In-order segments go straight to the session from the packet buffer (no
 * copy).  Segments ahead of the next expected byte are copied and held, per
 * flow up to --reassembly-flow-cap and in all up to --reassembly-cap.  Bytes
 * seen twice are delivered once: the first copy wins, and a later copy with
 * different bytes is counted and reported as an anomaly (an evasion
 * attempt), compared against the held segments and a small ring of the last
 * bytes delivered.  A hole becomes a gap notice when the other side
 * acknowledges past it (the receiver got bytes we did not capture), when a
 * cap is hit, or at the end.  Sequence numbers wrap: every comparison is
 * modulo 2^32.  A direction the session no longer wants is only counted.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "flow.h"
#include "flowmem.h"
#include "stats.h"

#define RECENT_MAX	2048		/* ring of delivered bytes */
#define MAX_SEGS	4096		/* held segments a direction */
#define MAX_AHEAD	(1u << 30)	/* farther ahead is not this stream */
#define MAX_ACK_AHEAD	(256u << 10)	/* acknowledged past the bytes seen */

struct iw_seg {
	struct iw_seg	*next;
	uint32_t	 seq;
	uint32_t	 len;
	bool		 has_data;	/* else: missing (snaplen) or only
					 * counted (direction not wanted) */
	bool		 missing;	/* bytes never captured: a gap */
	uint8_t		 data[];
};

static inline int32_t
seq_diff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

static inline bool
seq_lt(uint32_t a, uint32_t b)
{
	return seq_diff(a, b) < 0;
}

static bool
wanted(const struct iw_flow *f, enum iw_dir dir)
{
	return f->session != NULL && iw_session_wants(f->session, dir);
}

static void
held_add(int64_t n)
{
	iw_stats.reasm_bytes_held += n;
	if (iw_stats.reasm_bytes_held > iw_stats.reasm_bytes_peak)
		iw_stats.reasm_bytes_peak = iw_stats.reasm_bytes_held;
}

/* ---- the ring of recently delivered bytes ---- */

static void
ring_store(struct iw_tcpdir *d, const uint8_t *p, uint32_t len)
{
	uint32_t keep;

	if (d->recent == NULL) {
		if (iw_stats.reasm_bytes_held + RECENT_MAX >
		    iw_cfg.reasm_global_cap)
			return;		/* overlaps there go unverified */
		d->recent = iw_flowmem_realloc(NULL, RECENT_MAX);
		if (d->recent == NULL)
			return;
		held_add(RECENT_MAX);
		d->recent_len = 0;
	}
	if (len >= RECENT_MAX) {
		memcpy(d->recent, p + len - RECENT_MAX, RECENT_MAX);
		d->recent_len = RECENT_MAX;
		return;
	}
	keep = d->recent_len + len > RECENT_MAX ? RECENT_MAX - len :
	    d->recent_len;
	memmove(d->recent, d->recent + d->recent_len - keep, keep);
	memcpy(d->recent + keep, p, len);
	d->recent_len = keep + len;
}

static void
ring_free(struct iw_tcpdir *d)
{
	if (d->recent != NULL) {
		iw_flowmem_free(d->recent);
		held_add(-(int64_t)RECENT_MAX);
		d->recent = NULL;
	}
	d->recent_len = 0;
}

/* ---- overlaps ---- */

static void
overlap_differs(struct iw_flow *f, enum iw_dir dir)
{
	iw_stats.tcp_overlaps_diff++;
	if (f->session != NULL)
		iw_anomaly(f->session, "stream", dir == IW_TO_SERVER ?
		    "overlap_different_data_toserver" :
		    "overlap_different_data_toclient", "tcp");
}

/*
 * Bytes [seq, seq+len) that were already delivered came again: compare
 * what the ring still has of them.
 */
static void
check_delivered_overlap(struct iw_flow *f, enum iw_dir dir, uint32_t seq,
    const uint8_t *data, uint32_t len)
{
	struct iw_tcpdir *d = &f->dir[dir];
	uint32_t back, skip, n;

	if (len == 0 || d->recent == NULL)
		return;
	back = (uint32_t)seq_diff(d->next_seq, seq);	/* > 0 */
	if (back > d->recent_len) {
		skip = back - d->recent_len;	/* older than the ring */
		if (skip >= len)
			return;
		seq += skip;
		data += skip;
		len -= skip;
		back = d->recent_len;
	}
	n = len < back ? len : back;
	if (memcmp(d->recent + d->recent_len - back, data, n) != 0)
		overlap_differs(f, dir);
}

/* ---- delivery ---- */

/* A session is made for the first bytes or gap of a connection. */
static struct iw_session *
session_of(struct iw_flow *f)
{
	if (f->session == NULL && !f->session_ended) {
		f->session = iw_session_new(&f->ref);
		if (f->session != NULL && f->midstream)
			iw_session_set_swap_hook(f->session,
			    iw_flow_swap_roles, f);
	}
	return f->session;
}

static void
deliver_data(struct iw_flow *f, enum iw_dir dir, const uint8_t *p,
    uint32_t len, iw_time ts)
{
	struct iw_tcpdir *d = &f->dir[dir];

	if (len == 0)
		return;
	d->next_seq += len;
	d->offset += len;
	d->delivered += len;
	if (p != NULL && wanted(f, dir)) {
		ring_store(d, p, len);
		iw_stats.bytes_delivered += len;
		iw_session_data(f->session, dir, p, len, ts);
	} else {
		iw_stats.bytes_bypassed += len;
		ring_free(d);
	}
}

static void
deliver_gap(struct iw_flow *f, enum iw_dir dir, uint32_t len, iw_time ts)
{
	struct iw_tcpdir *d = &f->dir[dir];

	if (len == 0)
		return;
	d->next_seq += len;
	d->offset += len;
	d->gaps++;
	d->gap_bytes += len;
	d->recent_len = 0;		/* the ring no longer ends at next */
	iw_stats.tcp_gaps++;
	iw_stats.tcp_gap_bytes += len;
	if (session_of(f) != NULL)
		iw_session_gap(f->session, dir, len, ts);
}

static void
seg_free(struct iw_tcpdir *d, struct iw_seg *s)
{
	d->ooo_bytes -= s->len;
	d->ooo_count--;
	if (s->has_data)
		held_add(-(int64_t)s->len);
	iw_flowmem_free(s);
}

static void
check_fin(struct iw_tcpdir *d)
{
	if (d->fin_seen && !d->fin_done && d->next_seq == d->fin_seq)
		d->fin_done = true;
}

/* Delivers held segments that are now in order. */
static void
drain(struct iw_flow *f, enum iw_dir dir, iw_time ts)
{
	struct iw_tcpdir *d = &f->dir[dir];
	struct iw_seg *s;
	uint32_t skip, end;

	while ((s = d->ooo) != NULL && !seq_lt(d->next_seq, s->seq)) {
		d->ooo = s->next;
		end = s->seq + s->len;
		if (seq_lt(d->next_seq, end)) {
			skip = (uint32_t)seq_diff(d->next_seq, s->seq);
			if (s->missing)
				deliver_gap(f, dir, s->len - skip, ts);
			else
				deliver_data(f, dir, s->has_data ?
				    s->data + skip : NULL, s->len - skip, ts);
		}
		seg_free(d, s);
	}
	check_fin(d);
}

/* Turns the hole before the first held segment into a gap. */
static void
skip_hole(struct iw_flow *f, enum iw_dir dir, iw_time ts)
{
	struct iw_tcpdir *d = &f->dir[dir];

	if (d->ooo == NULL)
		return;
	if (seq_lt(d->next_seq, d->ooo->seq))
		deliver_gap(f, dir, (uint32_t)seq_diff(d->ooo->seq,
		    d->next_seq), ts);
	drain(f, dir, ts);
}

/* ---- holding out-of-order segments ---- */

static struct iw_seg *
seg_new(uint32_t seq, const uint8_t *data, uint32_t len, bool missing)
{
	struct iw_seg *s;

	s = iw_flowmem_realloc(NULL, sizeof(*s) + (data != NULL ? len : 0));
	if (s == NULL)
		return NULL;
	s->next = NULL;
	s->seq = seq;
	s->len = len;
	s->missing = missing;
	s->has_data = data != NULL;
	if (data != NULL) {
		memcpy(s->data, data, len);
		held_add(len);
	}
	return s;
}

/*
 * Inserts [seq, seq+len) where no held segment already covers it (first
 * wins), comparing the bytes where one does.
 */
static void
hold_range(struct iw_flow *f, enum iw_dir dir, uint32_t seq,
    const uint8_t *data, uint32_t len, bool missing)
{
	struct iw_tcpdir *d = &f->dir[dir];
	struct iw_seg **pp = &d->ooo, *x, *n;
	uint32_t pos = seq, end = seq + len, xend, stop, a, b;

	while (seq_lt(pos, end)) {
		x = *pp;
		if (x != NULL && !seq_lt(pos, x->seq + x->len)) {
			pp = &x->next;			/* x is before pos */
			continue;
		}
		if (x == NULL || seq_lt(pos, x->seq)) {
			stop = (x != NULL && seq_lt(x->seq, end)) ? x->seq : end;
			if (d->ooo_count >= MAX_SEGS)
				return;
			n = seg_new(pos, data != NULL ? data + (pos - seq) :
			    NULL, stop - pos, missing);
			if (n == NULL)
				return;
			n->next = x;
			*pp = n;
			d->ooo_bytes += n->len;
			d->ooo_count++;
			pp = &n->next;
			pos = stop;
			continue;
		}
		/* pos is inside x: the held bytes win */
		xend = x->seq + x->len;
		stop = seq_lt(xend, end) ? xend : end;
		iw_stats.tcp_overlaps++;
		if (data != NULL && x->has_data) {
			a = pos - x->seq;
			b = pos - seq;
			if (memcmp(x->data + a, data + b, stop - pos) != 0)
				overlap_differs(f, dir);
		}
		pos = stop;
		pp = &x->next;
	}
}

static bool
over_caps(const struct iw_tcpdir *d)
{
	if (d->ooo_bytes > iw_cfg.reasm_flow_cap)
		return true;
	return iw_stats.reasm_bytes_held > iw_cfg.reasm_global_cap;
}

static void
hold(struct iw_flow *f, enum iw_dir dir, uint32_t seq, const uint8_t *data,
    uint32_t cap, uint32_t wire, iw_time ts)
{
	struct iw_tcpdir *d = &f->dir[dir];
	const uint8_t *keep = wanted(f, dir) ? data : NULL;

	hold_range(f, dir, seq, keep, cap, false);
	if (wire > cap)
		hold_range(f, dir, seq + cap, NULL, wire - cap, true);
	while (d->ooo != NULL && over_caps(d)) {
		iw_stats.tcp_ooo_cap_hits++;
		skip_hole(f, dir, ts);
	}
}

/* ---- segments ---- */

static void
segment_data(struct iw_flow *f, enum iw_dir dir, uint32_t seq,
    const uint8_t *data, uint32_t cap, uint32_t wire, iw_time ts)
{
	struct iw_tcpdir *d = &f->dir[dir];
	uint32_t k, end = seq + wire;

	if (!seq_lt(d->next_seq, end)) {
		/* nothing new: a retransmission */
		iw_stats.tcp_retransmitted++;
		check_delivered_overlap(f, dir, seq, data, cap);
		return;
	}
	if (seq_lt(seq, d->next_seq)) {
		/* partly new: deliver only the new bytes */
		k = (uint32_t)seq_diff(d->next_seq, seq);
		iw_stats.tcp_overlaps++;
		check_delivered_overlap(f, dir, seq, data, k < cap ? k : cap);
		data += k < cap ? k : cap;
		cap = k < cap ? cap - k : 0;
		wire -= k;
		seq = d->next_seq;
	}
	if (seq != d->next_seq) {
		if ((uint32_t)seq_diff(seq, d->next_seq) > MAX_AHEAD)
			return;			/* not this stream's bytes */
		iw_stats.tcp_out_of_order++;
		hold(f, dir, seq, data, cap, wire, ts);
		return;
	}
	if (d->ooo != NULL) {
		/* held bytes this segment covers came first: they win */
		hold(f, dir, seq, data, cap, wire, ts);
		drain(f, dir, ts);
		return;
	}
	deliver_data(f, dir, wanted(f, dir) ? data : NULL, cap, ts);
	if (wire > cap)
		deliver_gap(f, dir, wire - cap, ts);	/* snaplen cut */
	drain(f, dir, ts);
}

/*
 * The other side acknowledged up to `ack`: bytes of dir before it were
 * received, so a hole there was lost by the capture, not the network.
 */
static void
acked(struct iw_flow *f, enum iw_dir dir, uint32_t ack, iw_time ts)
{
	struct iw_tcpdir *d = &f->dir[dir];
	uint32_t limit = ack;

	if (!d->base_set)
		return;
	if (d->fin_seen && ack == d->fin_seq + 1)
		limit = d->fin_seq;
	if (!seq_lt(d->next_seq, limit))
		return;
	/*
	 * Bytes acknowledged far past anything this side was seen to send
	 * are no evidence of loss but a stray or forged ACK: a gap of that
	 * size would throw away the real stream that follows.
	 */
	if (seq_lt(d->max_end, limit) &&
	    (uint32_t)seq_diff(limit, d->max_end) > MAX_ACK_AHEAD)
		return;
	if (seq_lt(d->max_end, limit))
		d->max_end = limit;
	while (seq_lt(d->next_seq, limit)) {
		if (d->ooo != NULL && seq_lt(d->ooo->seq, limit)) {
			skip_hole(f, dir, ts);
			continue;
		}
		deliver_gap(f, dir, (uint32_t)seq_diff(limit, d->next_seq),
		    ts);
	}
	drain(f, dir, ts);
}

static void
syn(struct iw_flow *f, enum iw_dir dir, const struct iw_packet *p)
{
	struct iw_tcpdir *d = &f->dir[dir], *o = &f->dir[iw_dir_other(dir)];

	if (d->syn_seen) {
		/* SYN-ACKs with two initial sequence numbers (a middlebox
		 * answered too): the data will tell which one goes on */
		if (p->seq != d->isn) {
			d->alt_isn = p->seq;
			d->alt_isn_set = true;
		}
		return;
	}
	d->syn_seen = true;
	d->isn = p->seq;
	if (!d->base_set) {
		d->base_set = true;
		d->next_seq = p->seq + 1;
		d->max_end = d->next_seq;
	}
	/* a SYN-ACK tells where the client's bytes start, seen or not */
	if ((p->flags & IW_TH_ACK) && !o->base_set) {
		o->base_set = true;
		o->next_seq = p->ack;
		o->max_end = p->ack;
	}
}

/* The first data follows the other SYN-ACK: that is the connection. */
static void
maybe_rebase(struct iw_tcpdir *d, uint32_t seq)
{
	if (!d->alt_isn_set || seq != d->alt_isn + 1 || seq == d->next_seq ||
	    d->delivered != 0 || d->ooo != NULL || d->gaps != 0)
		return;
	d->alt_isn = d->isn;
	d->isn = seq - 1;
	d->next_seq = d->max_end = seq;
}

void
iw_tcp_segment(struct iw_flow *f, enum iw_dir dir, const struct iw_packet *p)
{
	struct iw_tcpdir *d = &f->dir[dir];
	uint32_t seq = p->seq;

	iw_stats.tcp_segments++;
	d->flags_seen |= p->flags;
	if (p->flags & IW_TH_SYN) {
		syn(f, dir, p);
		seq++;
	}
	if ((p->flags & IW_TH_ACK) && !(p->flags & IW_TH_SYN))
		acked(f, iw_dir_other(dir), p->ack, p->ts);
	if (p->payload_wire == 0 && !(p->flags & IW_TH_FIN))
		return;
	if (!d->base_set) {
		d->base_set = true;
		d->next_seq = seq;
		d->max_end = seq;
	}
	if (p->payload_wire > 0) {
		session_of(f);
		maybe_rebase(d, seq);
	}
	if (seq_lt(d->max_end, seq + p->payload_wire) &&
	    (uint32_t)seq_diff(seq + p->payload_wire, d->next_seq) <= MAX_AHEAD)
		d->max_end = seq + p->payload_wire;
	if (p->payload_wire > 0)
		segment_data(f, dir, seq, p->payload, p->payload_len,
		    p->payload_wire, p->ts);
	if ((p->flags & IW_TH_FIN) && !d->fin_seen) {
		d->fin_seen = true;
		d->fin_seq = seq + p->payload_wire;
		check_fin(d);
	}
}

bool
iw_tcp_bytes_used(const struct iw_flow *f, enum iw_dir dir,
    const struct iw_packet *p)
{
	const struct iw_tcpdir *d = &f->dir[dir];
	uint32_t seq = p->seq + ((p->flags & IW_TH_SYN) ? 1 : 0);

	if (p->payload_wire == 0)
		return true;		/* a header: cheap, and says much */
	if (f->session_ended)
		return false;
	if (f->session == NULL)
		return true;
	if (!iw_session_wants(f->session, dir))
		return false;
	/* in order, and all of it inside a skip the dissector asked for */
	return !(d->base_set && seq == d->next_seq && d->ooo == NULL &&
	    p->payload_wire <= iw_session_skip_left(f->session, dir));
}

static void
flush(struct iw_flow *f, enum iw_dir dir, iw_time ts)
{
	struct iw_tcpdir *d = &f->dir[dir];

	while (d->ooo != NULL)
		skip_hole(f, dir, ts);
}

void
iw_tcp_finish(struct iw_flow *f, enum iw_end_reason why, iw_time now)
{
	struct iw_stream_totals t;
	int i;

	if (f->session_ended)
		return;
	flush(f, IW_TO_SERVER, now);
	flush(f, IW_TO_CLIENT, now);
	f->session_ended = true;
	if (f->session == NULL)
		return;
	memset(&t, 0, sizeof(t));
	for (i = 0; i < 2; i++) {
		t.bytes[i] = f->dir[i].delivered;
		t.gaps[i] = f->dir[i].gaps;
		t.gap_bytes[i] = f->dir[i].gap_bytes;
	}
	iw_session_end(f->session, why, now, &t);
	iw_session_free(f->session);
	f->session = NULL;
	ring_free(&f->dir[0]);
	ring_free(&f->dir[1]);
}

void
iw_tcpdir_free(struct iw_tcpdir *d)
{
	struct iw_seg *s;

	while ((s = d->ooo) != NULL) {
		d->ooo = s->next;
		seg_free(d, s);
	}
	ring_free(d);
}
