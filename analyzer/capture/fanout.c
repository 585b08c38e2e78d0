/* SPDX-License-Identifier: ISC */
/*
 * fanout.c - several live handles on one interface, in one PACKET_FANOUT
 * group (capture.c says which mode and why), read by one thread as one
 * capture.
 *
 * The kernel's hash keeps most connections in one handle, in order, but
 * splits some over two (fragments are hashed without ports, tunnels on
 * their outer headers): the reader gives the packets in time order across
 * handles, as merge.c does for files, or TCP would see a connection's
 * segments out of order, and its SYN after its data.
 *
 * Live, a handle with nothing to read may yet get a packet older than
 * the others' next: Linux (TPACKET_V3) hands packets over a block at a
 * time, once full or IW_FANOUT_BLOCK_MS old, rounded up to a timer tick
 * and up to two ticks late.  So the oldest packet read goes only when
 * every other handle has one read too (a handle's own are in order), or
 * was found empty when that packet was HOLD old: a packet older than it
 * would have been handed over by then, unless its CPU's backlog held it
 * back longer (a CPU starved under load): live, the order is the best we
 * can see, and TCP reassembly takes what is left out of order.  (Counting
 * HOLD from when a packet was read instead of from its stamp would cover
 * that, but then a packet is read only after the one before went: one
 * packet per HOLD while a handle is quiet.)  A busy link keeps every
 * handle's next packet read and never waits; a quiet handle delays the
 * others' packets by HOLD (their buffers must hold that much).  A look at an
 * empty handle costs a poll(2) in libpcap, so it is looked at again only
 * when the packet to give is younger than HOLD before its last look.
 * Immediate mode (TPACKET_V2, a packet at a time) would need no wait but
 * costs too much: at top speed two workers lost 70 % of the packets with
 * it, none without (tests/t_live_replay.sh).
 */
#include <poll.h>
#include <stdlib.h>
#include <time.h>

#include "capture.h"

/*
 * 2 ms blocks wait two 4 ms ticks at most (HZ=250), 20 ms at HZ=100; and
 * a loaded CPU may deliver a packet well after its stamp (its backlog
 * waits for ksoftirqd): what is late by more than that is out of order.
 */
#define HOLD		(50 * IW_USEC / 1000)
#define FUTURE		IW_USEC		/* a packet this far ahead: the
					 * clock stepped back, do not wait */

struct handle {
	struct iw_source	*src;
	struct iw_rawpkt	 next;		/* read, not yet given */
	bool			 has_next;
	iw_time			 empty_at;	/* found empty then (wall) */
};

struct iw_fanout {
	struct handle	*h;
	struct pollfd	*pfd;
	int		 n;
	int		 given;		/* its packet was given: read it next */
};

struct iw_fanout *
iw_fanout_new(struct iw_source **src, int n, char *err, size_t errlen)
{
	struct iw_fanout *f = calloc(1, sizeof(*f));
	unsigned group = 0;
	int i;

	if (f == NULL || (f->h = calloc((size_t)n, sizeof(*f->h))) == NULL ||
	    (f->pfd = calloc((size_t)n, sizeof(*f->pfd))) == NULL) {
		iw_fanout_free(f);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	f->n = n;
	f->given = -1;
	for (i = 0; i < n; i++) {
		if (iw_source_join_fanout(src[i], n > 1 ? &group : NULL, err,
		    errlen) != 0) {
			iw_fanout_free(f);
			return NULL;
		}
		f->h[i].src = src[i];
		f->pfd[i].fd = iw_source_fd(src[i]);
		f->pfd[i].events = POLLIN;
	}
	return f;
}

/* Reads handle i's next packet, if it has one: false on an error. */
static bool
look(struct iw_fanout *f, int i, iw_time wall)
{
	struct handle *h = &f->h[i];

	switch (iw_source_next(h->src, &h->next)) {
	case IW_NEXT_PACKET:
		h->has_next = true;
		return true;
	case IW_NEXT_ERROR:
		return false;
	default:		/* nothing now (or a break: the same) */
		h->has_next = false;
		h->empty_at = wall;
		return true;
	}
}

/* The wall clock, as the kernel stamps packets. */
static iw_time
wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (iw_time)ts.tv_sec * IW_USEC + ts.tv_nsec / 1000;
}

/*
 * Looks at every handle with nothing read that was last found empty
 * before `before` (wall): -1, or the one that failed.
 */
static int
look_empty(struct iw_fanout *f, iw_time before, iw_time wall)
{
	int i;

	for (i = 0; i < f->n; i++)
		if (!f->h[i].has_next && f->h[i].empty_at < before &&
		    !look(f, i, wall))
			return i;
	return -1;
}

/*
 * May the packet of time t go?  Yes when every handle has one read, or
 * was found empty when t was HOLD old; else *wait_ms is how long until.
 */
static bool
may_go(const struct iw_fanout *f, iw_time t, iw_time wall, int *wait_ms)
{
	int i;

	if (t > wall + FUTURE)
		return true;
	for (i = 0; i < f->n; i++) {
		if (f->h[i].has_next || f->h[i].empty_at >= t + HOLD)
			continue;
		*wait_ms = t + HOLD > wall ?
		    (int)((t + HOLD - wall + 999) / 1000) : 0;
		return false;
	}
	return true;
}

/* The handle with the oldest packet read, or -1. */
static int
oldest(const struct iw_fanout *f)
{
	int i, best = -1;

	for (i = 0; i < f->n; i++)
		if (f->h[i].has_next && (best < 0 ||
		    f->h[i].next.ts < f->h[best].next.ts))
			best = i;
	return best;
}

static enum iw_next
give(struct iw_fanout *f, int i, struct iw_rawpkt *pkt, int *which)
{
	*pkt = f->h[i].next;
	f->h[i].has_next = false;
	f->given = *which = i;
	return IW_NEXT_PACKET;
}

enum iw_next
iw_fanout_next(struct iw_fanout *f, struct iw_rawpkt *pkt, int *which,
    int timeout_ms)
{
	iw_time wall = wall_now(), t;
	int i, wait_ms, pass;

	/* the packet given last is no longer used: its handle reads on */
	if (f->given >= 0) {
		i = f->given;
		f->given = -1;
		if (!look(f, i, wall)) {
			*which = i;
			return IW_NEXT_ERROR;
		}
	}
	for (pass = 0; pass < 3; pass++) {
		/* the handles found empty too long before the oldest's time
		 * (all of them when none has a packet) */
		i = oldest(f);
		t = i >= 0 ? f->h[i].next.ts : wall + FUTURE;
		if ((i = look_empty(f, t + HOLD, wall)) >= 0) {
			*which = i;
			return IW_NEXT_ERROR;
		}
		if ((i = oldest(f)) >= 0 &&
		    may_go(f, f->h[i].next.ts, wall, &wait_ms))
			return give(f, i, pkt, which);
		if (pass == 2)
			break;
		/* wait for a handle, or until the oldest may go (a signal
		 * cuts it short) */
		if (poll(f->pfd, (nfds_t)f->n, i >= 0 ? wait_ms : timeout_ms) < 0)
			break;
		wall = wall_now();
	}
	return IW_NEXT_TIMEOUT;
}

void
iw_fanout_free(struct iw_fanout *f)
{
	if (f == NULL)
		return;
	free(f->h);
	free(f->pfd);
	free(f);
}
