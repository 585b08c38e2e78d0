/* SPDX-License-Identifier: ISC */
/*
 * merge.c - a k-way merge of capture files by packet time.
 *
 * Each source keeps its next packet (libpcap's buffer holds it until that
 * source is read again), and the earliest is handed out.  k is small
 * (at most the number of -r files), so a linear scan beats a heap.
 */
#include <stdlib.h>

#include "merge.h"

enum head { NEED = 0, HAVE, DONE };

struct iw_merge {
	struct iw_source	**src;
	struct iw_rawpkt	 *pkt;
	enum head		 *state;
	int			  n;
};

struct iw_merge *
iw_merge_new(struct iw_source **src, int n)
{
	struct iw_merge *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->src = src;
	m->n = n;
	m->pkt = calloc((size_t)n, sizeof(*m->pkt));
	m->state = calloc((size_t)n, sizeof(*m->state));
	if (m->pkt == NULL || m->state == NULL) {
		iw_merge_free(m);
		return NULL;
	}
	return m;
}

/* Reads source i's next packet; IW_NEXT_ERROR if it failed. */
static enum iw_next
refill(struct iw_merge *m, int i)
{
	enum iw_next rc;

	do
		rc = iw_source_next(m->src[i], &m->pkt[i]);
	while (rc == IW_NEXT_TIMEOUT);
	if (rc == IW_NEXT_PACKET) {
		m->state[i] = HAVE;
		return rc;
	}
	m->state[i] = DONE;
	return rc == IW_NEXT_ERROR ? IW_NEXT_ERROR : IW_NEXT_EOF;
}

enum iw_next
iw_merge_next(struct iw_merge *m, struct iw_rawpkt *out, int *which)
{
	int i, best = -1;

	for (i = 0; i < m->n; i++) {
		if (m->state[i] == NEED && refill(m, i) == IW_NEXT_ERROR) {
			*which = i;
			return IW_NEXT_ERROR;
		}
	}
	for (i = 0; i < m->n; i++)
		if (m->state[i] == HAVE &&
		    (best < 0 || m->pkt[i].ts < m->pkt[best].ts))
			best = i;
	if (best < 0)
		return IW_NEXT_EOF;
	*out = m->pkt[best];
	*which = best;
	m->state[best] = NEED;
	return IW_NEXT_PACKET;
}

void
iw_merge_free(struct iw_merge *m)
{
	if (m == NULL)
		return;
	free(m->pkt);
	free(m->state);
	free(m);
}
