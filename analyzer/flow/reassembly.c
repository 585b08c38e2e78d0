/* SPDX-License-Identifier: ISC */
/*
 * reassembly.c - each direction of a TCP connection as an ordered byte
 * stream.
 *
 * In-order segments go straight to the session from the packet buffer (no
 * copy), the one that fills a hole too.  Segments ahead of the next
 * expected byte are copied and held, per flow up to --reassembly-flow-cap
 * and 4,096 segments, in all up to --reassembly-cap.  Bytes seen twice
 * are delivered once: the first copy wins, and a later copy with
 * different bytes is counted and reported as an anomaly (an evasion
 * attempt), compared against the held segments and a small ring of the
 * last bytes delivered.  A hole becomes a gap notice when the other side
 * acknowledges past it (the receiver got bytes we did not capture), when a
 * cap is hit, or at the end.  Sequence numbers wrap: every comparison is
 * modulo 2^32.  A direction the session no longer wants is only counted.
 *
 * Held segments are kept in a skip list whose levels come from a keyed
 * hash of the sequence number, so that no order of arrival an attacker
 * chooses makes an insertion walk the whole list.
 *
 * The global cap is shared fairly: when it is reached, the least
 * recently active holders give up their holes first (their held bytes are
 * delivered after a gap), never the connection that needs the room now
 * unless it holds the most; and the last 1/8 of the cap is a reserve that
 * only directions holding less than 64 KiB may use, so that connections
 * holding much cannot leave a connection that reorders a few segments
 * without room.  A cap that bites is an anomaly on the session it hurts.
 * The ring of recent bytes counts against --flow-memory only.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "config.h"
#include "flow.h"
#include "flowmem.h"
#include "stats.h"

#define RECENT_MAX	2048		/* ring of delivered bytes */
#define MAX_SEGS	4096		/* held segments a direction */
#define MAX_AHEAD	(1u << 30)	/* farther ahead is not this stream */
#define MAX_ACK_AHEAD	(256u << 10)	/* acknowledged past the bytes seen */
#define SMALL_HOLD	(64u << 10)	/* a direction holding at most this
					 * reorders a few segments */
#define RESERVE_SHARE	8		/* 1/8 of the global cap is theirs */
#define SEG_LEVELS	5		/* of the skip list of held segments */

struct iw_seg {
	struct iw_seg	*next;		/* level 0 of the skip list */
	uint32_t	 seq;
	uint32_t	 len;
	bool		 has_data;	/* else: missing (snaplen) or only
					 * counted (direction not wanted) */
	bool		 missing;	/* bytes never captured: a gap */
	uint8_t		 height;	/* on levels 0 .. height - 1 */
	/* levels 1 .. height - 1; all there, so that what a segment costs
	 * (--flow-memory) does not depend on the run's random key */
	struct iw_seg	*up[SEG_LEVELS - 1];
	uint8_t		 data[];
};

/* Directions holding data, least recently active first, by size. */
enum { HOLD_NONE = 0, HOLD_SMALL, HOLD_LARGE, HOLD_LISTS };

/*
 * What a direction has only while it holds segments, so that the million
 * connections that never reorder anything do not pay for it.
 */
struct iw_held {
	struct iw_seg	*up[SEG_LEVELS - 1];	/* heads of levels 1.. */
	struct iw_held	*prev, *next;		/* in holders[list] */
	struct iw_flow	*flow;
	uint8_t		 dir;
	uint8_t		 list;			/* HOLD_*, NONE: in none */
};

struct holder_list {
	struct iw_held	*head, *tail;
};

/* a worker's own holders, within its share of --reassembly-cap */
static _Thread_local struct holder_list holders[HOLD_LISTS];
static _Thread_local uint64_t height_key;

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
		/* counted in --flow-memory, not in --reassembly-cap: idle
		 * connections must not use up the room others reorder in */
		d->recent = iw_flowmem_realloc(NULL, RECENT_MAX);
		if (d->recent == NULL)
			return;		/* overlaps there go unverified */
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
		d->recent = NULL;
	}
	d->recent_len = 0;
}

/* ---- overlaps ---- */

static void
stream_anomaly(struct iw_flow *f, const char *event)
{
	if (f->session != NULL)
		iw_anomaly(f->session, "stream", event, "tcp");
}

static void
overlap_differs(struct iw_flow *f, enum iw_dir dir)
{
	iw_stats.tcp_overlaps_diff++;
	stream_anomaly(f, dir == IW_TO_SERVER ?
	    "overlap_different_data_toserver" :
	    "overlap_different_data_toclient");
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

/* ---- the holders of held data, for the global cap ---- */

static void
holder_unlink(struct iw_held *h)
{
	struct holder_list *l = &holders[h->list];

	if (h->prev != NULL)
		h->prev->next = h->next;
	else
		l->head = h->next;
	if (h->next != NULL)
		h->next->prev = h->prev;
	else
		l->tail = h->prev;
	h->prev = h->next = NULL;
	h->list = HOLD_NONE;
}

/*
 * Puts direction dir of f in the list its held data says, at the tail
 * (the most recently active end) when it was active or changes list.
 */
static void
holder_place(struct iw_flow *f, enum iw_dir dir, bool active)
{
	struct iw_tcpdir *d = &f->dir[dir];
	struct iw_held *h = d->held;
	struct holder_list *l;
	int want = d->ooo_data == 0 ? HOLD_NONE :
	    d->ooo_data > SMALL_HOLD ? HOLD_LARGE : HOLD_SMALL;

	if (h == NULL || (want == h->list && (!active ||
	    want == HOLD_NONE || holders[want].tail == h)))
		return;
	if (h->list != HOLD_NONE)
		holder_unlink(h);
	if (want == HOLD_NONE)
		return;
	l = &holders[want];
	h->flow = f;
	h->dir = (uint8_t)dir;
	h->list = (uint8_t)want;
	h->prev = l->tail;
	h->next = NULL;
	if (l->tail != NULL)
		l->tail->next = h;
	else
		l->head = h;
	l->tail = h;
}

/* ---- the skip list of held segments ---- */

/* The pointer to the next segment at level l after x (NULL: the head). */
static struct iw_seg **
link_of(struct iw_tcpdir *d, struct iw_seg *x, int l)
{
	if (x == NULL)
		return l == 0 ? &d->ooo : &d->held->up[l - 1];
	return l == 0 ? &x->next : &x->up[l - 1];
}

/*
 * How many levels a segment starting at seq is on: one, and one more with
 * probability 1/4 each, from a hash keyed once a run, so that the shape
 * of the list does not depend on anything a peer chooses or can learn.
 */
static uint8_t
seg_height(uint32_t seq)
{
	uint64_t h;
	uint8_t n = 1;

	if (height_key == 0) {
		if (getrandom(&height_key, sizeof(height_key), GRND_NONBLOCK) !=
		    (ssize_t)sizeof(height_key))
			height_key = (uint64_t)time(NULL) ^
			    (uint64_t)(uintptr_t)&n;
		height_key |= 1;	/* set: never drawn again */
	}
	h = (height_key ^ seq) * 0x9e3779b97f4a7c15ULL;
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 29;
	while (n < SEG_LEVELS && (h & 3) == 0) {
		n++;
		h >>= 2;
	}
	return n;
}

/* preds[l]: the last segment at level l that starts at or before pos. */
static void
find_preds(struct iw_tcpdir *d, uint32_t pos, struct iw_seg **preds)
{
	struct iw_seg *x = NULL, *n;
	int l;

	if (d->held == NULL) {
		memset(preds, 0, SEG_LEVELS * sizeof(preds[0]));
		return;			/* nothing held */
	}
	for (l = SEG_LEVELS - 1; l >= 0; l--) {
		while ((n = *link_of(d, x, l)) != NULL && !seq_lt(pos, n->seq))
			x = n;
		preds[l] = x;
	}
}

/* Moves preds past the segments that now start at or before pos. */
static void
advance_preds(struct iw_tcpdir *d, uint32_t pos, struct iw_seg **preds)
{
	struct iw_seg *n;
	int l;

	while ((n = *link_of(d, preds[0], 0)) != NULL && !seq_lt(pos, n->seq))
		for (l = 0; l < n->height; l++)
			preds[l] = n;
}

static void
link_in(struct iw_tcpdir *d, struct iw_seg *s, struct iw_seg **preds)
{
	struct iw_seg **pp;
	int l;

	for (l = 0; l < s->height; l++) {
		pp = link_of(d, preds[l], l);
		*link_of(d, s, l) = *pp;
		*pp = s;
		preds[l] = s;
	}
}

/* Takes the first segment out: it is the first on each of its levels. */
static struct iw_seg *
unlink_first(struct iw_tcpdir *d)
{
	struct iw_seg *s = d->ooo;
	int l;

	for (l = 0; l < s->height; l++)
		*link_of(d, NULL, l) = *link_of(d, s, l);
	return s;
}

static void
seg_free(struct iw_tcpdir *d, struct iw_seg *s)
{
	d->ooo_bytes -= s->len;
	d->ooo_count--;
	if (s->has_data) {
		d->ooo_data -= s->len;
		held_add(-(int64_t)s->len);
	}
	iw_flowmem_free(s);
	if (d->ooo_data == 0 && d->held->list != HOLD_NONE)
		holder_unlink(d->held);
	if (d->ooo == NULL) {
		iw_flowmem_free(d->held);
		d->held = NULL;
	}
}

static void
check_fin(struct iw_tcpdir *d)
{
	if (d->fin_seen && !d->fin_done && d->next_seq == d->fin_seq)
		d->fin_done = true;
}

/* Delivers what the first held segment has past next_seq, frees it. */
static void
drain_one(struct iw_flow *f, enum iw_dir dir, iw_time ts)
{
	struct iw_tcpdir *d = &f->dir[dir];
	struct iw_seg *s = unlink_first(d);
	uint32_t skip, end = s->seq + s->len;

	if (seq_lt(d->next_seq, end)) {
		skip = (uint32_t)seq_diff(d->next_seq, s->seq);
		if (s->missing)
			deliver_gap(f, dir, s->len - skip, ts);
		else
			deliver_data(f, dir, s->has_data ? s->data + skip :
			    NULL, s->len - skip, ts);
	}
	seg_free(d, s);
}

/* Delivers held segments that are now in order. */
static void
drain(struct iw_flow *f, enum iw_dir dir, iw_time ts)
{
	struct iw_tcpdir *d = &f->dir[dir];

	while (d->ooo != NULL && !seq_lt(d->next_seq, d->ooo->seq))
		drain_one(f, dir, ts);
	check_fin(d);
	holder_place(f, dir, false);
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

static void
flush(struct iw_flow *f, enum iw_dir dir, iw_time ts)
{
	struct iw_tcpdir *d = &f->dir[dir];

	while (d->ooo != NULL)
		skip_hole(f, dir, ts);
}

/* ---- holding out-of-order segments ---- */

static struct iw_seg *
seg_new(uint32_t seq, const uint8_t *data, uint32_t len, bool missing)
{
	uint8_t height = seg_height(seq);
	struct iw_seg *s;

	s = iw_flowmem_realloc(NULL, sizeof(*s) + (data != NULL ? len : 0));
	if (s == NULL)
		return NULL;
	s->seq = seq;
	s->len = len;
	s->missing = missing;
	s->has_data = data != NULL;
	s->height = height;
	if (data != NULL) {
		memcpy(s->data, data, len);
		held_add(len);
	}
	return s;
}

/* Holds [pos, pos+len) after preds; false when it cannot (counted). */
static bool
insert(struct iw_tcpdir *d, struct iw_seg **preds, uint32_t pos,
    const uint8_t *data, uint32_t len, bool missing)
{
	struct iw_seg *s;

	if (d->ooo_count >= MAX_SEGS)
		return false;
	if (d->held == NULL &&
	    (d->held = iw_flowmem_calloc(sizeof(*d->held))) == NULL)
		return false;
	if ((s = seg_new(pos, data, len, missing)) == NULL) {
		if (d->ooo == NULL) {
			iw_flowmem_free(d->held);
			d->held = NULL;
		}
		return false;
	}
	link_in(d, s, preds);
	d->ooo_bytes += len;
	d->ooo_count++;
	if (data != NULL)
		d->ooo_data += len;
	return true;
}

/*
 * Inserts [seq, seq+len) where no held segment already covers it (first
 * wins), comparing the bytes where one does.  Past 4,096 held segments
 * the rest is dropped, counted and reported: a later retransmission or
 * the hole's own segment (delivered without being held) is still read.
 */
static void
hold_range(struct iw_flow *f, enum iw_dir dir, uint32_t seq,
    const uint8_t *data, uint32_t len, bool missing)
{
	struct iw_tcpdir *d = &f->dir[dir];
	struct iw_seg *preds[SEG_LEVELS], *x, *n;
	uint32_t pos = seq, end = seq + len, xend, stop;
	bool dropped = false;

	find_preds(d, pos, preds);
	while (seq_lt(pos, end)) {
		x = preds[0];
		if (x != NULL && seq_lt(pos, x->seq + x->len)) {
			/* pos is inside x: the held bytes win */
			xend = x->seq + x->len;
			stop = seq_lt(xend, end) ? xend : end;
			iw_stats.tcp_overlaps++;
			if (data != NULL && x->has_data &&
			    memcmp(x->data + (pos - x->seq),
			    data + (pos - seq), stop - pos) != 0)
				overlap_differs(f, dir);
		} else {
			n = *link_of(d, x, 0);
			stop = (n != NULL && seq_lt(n->seq, end)) ? n->seq : end;
			if (!insert(d, preds, pos, data != NULL ?
			    data + (pos - seq) : NULL, stop - pos, missing))
				dropped = true;
		}
		pos = stop;
		advance_preds(d, pos, preds);
	}
	if (dropped) {
		iw_stats.tcp_reasm_segs_dropped++;
		stream_anomaly(f, "reassembly_segment_limit");
	}
}

static int
holder_list_of(const struct iw_tcpdir *d)
{
	return d->held != NULL ? d->held->list : HOLD_NONE;
}

/* What all held data may come to after direction d's last hold. */
static uint64_t
global_limit(const struct iw_tcpdir *d)
{
	uint64_t cap = iw_cfg.reasm_global_cap;

	return holder_list_of(d) == HOLD_LARGE ? cap - cap / RESERVE_SHARE :
	    cap;
}

/*
 * Whose held data goes to make room for d: the least recently active
 * large holder, then (only for a small d, whose room is the reserve) the
 * least recently active small one; never d itself.
 */
static struct iw_held *
room_from(const struct iw_tcpdir *d)
{
	struct iw_held *v;
	int l, last = holder_list_of(d) == HOLD_LARGE ? HOLD_LARGE :
	    HOLD_SMALL;

	for (l = HOLD_LARGE; l >= last; l--)
		for (v = holders[l].head; v != NULL; v = v->next)
			if (v != d->held)
				return v;
	return NULL;
}

/* Another connection's holes become gaps: its held bytes are delivered. */
static void
evict_holder(struct iw_held *v, iw_time ts)
{
	struct iw_flow *f = v->flow;
	enum iw_dir dir = (enum iw_dir)v->dir;

	iw_stats.tcp_ooo_cap_hits++;
	iw_stats.tcp_reasm_holders_evicted++;
	stream_anomaly(f, "reassembly_memcap");
	flush(f, dir, ts);
}

static void
enforce_caps(struct iw_flow *f, enum iw_dir dir, iw_time ts)
{
	struct iw_tcpdir *d = &f->dir[dir];
	struct iw_held *v;

	while (d->ooo != NULL && d->ooo_bytes > iw_cfg.reasm_flow_cap) {
		iw_stats.tcp_ooo_cap_hits++;
		stream_anomaly(f, "reassembly_flow_cap");
		skip_hole(f, dir, ts);
	}
	holder_place(f, dir, true);
	while (iw_stats.reasm_bytes_held > global_limit(d)) {
		if ((v = room_from(d)) != NULL) {
			evict_holder(v, ts);
			continue;
		}
		if (d->ooo == NULL)
			break;
		iw_stats.tcp_ooo_cap_hits++;
		stream_anomaly(f, "reassembly_memcap");
		skip_hole(f, dir, ts);
	}
}

static void
hold(struct iw_flow *f, enum iw_dir dir, uint32_t seq, const uint8_t *data,
    uint32_t cap, uint32_t wire, iw_time ts)
{
	const uint8_t *keep = wanted(f, dir) ? data : NULL;

	hold_range(f, dir, seq, keep, cap, false);
	if (wire > cap)
		hold_range(f, dir, seq + cap, NULL, wire - cap, true);
	enforce_caps(f, dir, ts);
}

/*
 * The segment that starts at next_seq while later ones are held: its
 * bytes go straight to the session, never held, so no limit can drop the
 * segment that fills a hole.  Held segments are delivered as it reaches
 * them; where both have the bytes, the held ones came first and win.
 */
static void
compare_held(struct iw_flow *f, enum iw_dir dir, struct iw_seg *s,
    uint32_t seq, const uint8_t *data, uint32_t cap)
{
	struct iw_tcpdir *d = &f->dir[dir];
	uint32_t from = d->next_seq, to = s->seq + s->len;

	if (!seq_lt(from, to))
		return;			/* s is wholly delivered already */
	iw_stats.tcp_overlaps++;
	if (seq_lt(seq + cap, to))
		to = seq + cap;
	if (seq_lt(from, to) && s->has_data && wanted(f, dir) &&
	    memcmp(s->data + (from - s->seq), data + (from - seq),
	    to - from) != 0)
		overlap_differs(f, dir);
}

static void
fill_hole(struct iw_flow *f, enum iw_dir dir, uint32_t seq,
    const uint8_t *data, uint32_t cap, uint32_t wire, iw_time ts)
{
	struct iw_tcpdir *d = &f->dir[dir];
	struct iw_seg *s;
	uint32_t end = seq + wire, stop, off, n, k;

	while (seq_lt(d->next_seq, end)) {
		s = d->ooo;
		if (s != NULL && !seq_lt(d->next_seq, s->seq)) {
			compare_held(f, dir, s, seq, data, cap);
			drain_one(f, dir, ts);
			continue;
		}
		stop = (s != NULL && seq_lt(s->seq, end)) ? s->seq : end;
		off = d->next_seq - seq;
		n = stop - d->next_seq;
		k = off < cap ? (cap - off < n ? cap - off : n) : 0;
		if (k > 0)
			deliver_data(f, dir, wanted(f, dir) ? data + off : NULL,
			    k, ts);
		if (n > k)
			deliver_gap(f, dir, n - k, ts);	/* snaplen cut */
	}
	drain(f, dir, ts);
	holder_place(f, dir, true);	/* progress: active now */
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
		fill_hole(f, dir, seq, data, cap, wire, ts);
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

	/* the last segment freed takes the direction out of the holders */
	while (d->ooo != NULL) {
		s = unlink_first(d);
		seg_free(d, s);
	}
	ring_free(d);
}
