/* SPDX-License-Identifier: ISC */
/*
 * fanout.c - several live handles on one interface, in one PACKET_FANOUT
 * group (capture.c says which mode and why), read by one thread as one
 * capture.
 *
 * Each handle's buffer gives its packets in the order they came; across
 * handles the oldest next packet goes first (a merge, as merge.c does for
 * files), so the packet clock and the fragments the kernel's hash split
 * over handles come close to the link's order.  A handle that was empty
 * is looked at again every RECHECK packets, or when every handle is:
 * libpcap's non-blocking read of an empty handle is a poll(2), not worth
 * making for every packet.  When all are empty, poll(2) waits on them.
 */
#include <poll.h>
#include <stdlib.h>

#include "capture.h"

#define RECHECK	32	/* packets between looks at the empty handles */

struct handle {
	struct iw_source	*src;
	struct iw_rawpkt	 next;		/* read, not yet given */
	bool			 has_next;
};

struct iw_fanout {
	struct handle	*h;
	struct pollfd	*pfd;
	int		 n;
	int		 given;		/* its packet was given: read it next */
	unsigned	 since_look;
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
		if (iw_source_join_fanout(src[i], &group, err, errlen) != 0) {
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
look(struct iw_fanout *f, int i)
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
		return true;
	}
}

/* Looks at every handle with nothing read: -1, or the one that failed. */
static int
look_all(struct iw_fanout *f)
{
	int i;

	f->since_look = 0;
	for (i = 0; i < f->n; i++)
		if (!f->h[i].has_next && !look(f, i))
			return i;
	return -1;
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

enum iw_next
iw_fanout_next(struct iw_fanout *f, struct iw_rawpkt *pkt, int *which,
    int timeout_ms)
{
	int i, pass;

	/* the packet given last is no longer used: its handle reads on */
	if (f->given >= 0) {
		i = f->given;
		f->given = -1;
		if (!look(f, i)) {
			*which = i;
			return IW_NEXT_ERROR;
		}
	}
	for (pass = 0; pass < 2; pass++) {
		if (++f->since_look >= RECHECK || oldest(f) < 0) {
			if ((i = look_all(f)) >= 0) {
				*which = i;
				return IW_NEXT_ERROR;
			}
		}
		if ((i = oldest(f)) >= 0) {
			*pkt = f->h[i].next;
			f->h[i].has_next = false;
			f->given = *which = i;
			return IW_NEXT_PACKET;
		}
		/* all empty: wait for one (a signal cuts it short) */
		if (pass == 0 && poll(f->pfd, (nfds_t)f->n, timeout_ms) <= 0)
			break;
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
