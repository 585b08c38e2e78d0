/* SPDX-License-Identifier: ISC */
/*
 * sink_queue.c - the bounded FIFO of a socket sink.
 *
 * Records ([u32 length][bytes]) sit in 64 KiB chunks; a record larger than
 * a chunk gets a chunk of its own.  One emptied chunk is kept for reuse,
 * so a queue that keeps up allocates nothing per event, and one that falls
 * behind grows a chunk at a time up to its bound, then gives it back as it
 * drains.
 *
 * The mark splits the records handed to a connection that acknowledges
 * them (Redis) from those not yet sent: n_marked records from the front
 * are in flight; iwq_rewind makes them unsent again after a reconnect.
 */
#include <stdlib.h>
#include <string.h>

#include "sink.h"

#define IWQ_CHUNK	(64 * 1024)
#define IWQ_HDR		sizeof(uint32_t)

struct iwq_chunk {
	struct iwq_chunk *next;
	size_t		 size;		/* of data */
	size_t		 rd, wr;
	char		 data[];
};

void
iwq_init(struct iw_queue *q, size_t max_bytes, size_t max_count)
{
	memset(q, 0, sizeof(*q));
	q->max_bytes = max_bytes;
	q->max_count = max_count;
}

static struct iwq_chunk *
chunk_get(struct iw_queue *q, size_t need)
{
	struct iwq_chunk *c;
	size_t size = need > IWQ_CHUNK ? need : IWQ_CHUNK;

	if (size == IWQ_CHUNK && q->spare != NULL) {
		c = q->spare;
		q->spare = NULL;
	} else if ((c = malloc(sizeof(*c) + size)) == NULL)
		return NULL;
	c->next = NULL;
	c->size = size;
	c->rd = c->wr = 0;
	return c;
}

static void
chunk_put(struct iw_queue *q, struct iwq_chunk *c)
{
	if (c->size == IWQ_CHUNK && q->spare == NULL)
		q->spare = c;
	else
		free(c);
}

char *
iwq_push(struct iw_queue *q, size_t len)
{
	struct iwq_chunk *c = q->last;
	size_t need = IWQ_HDR + len;
	uint32_t n = (uint32_t)len;

	if (len > UINT32_MAX || q->count >= q->max_count ||
	    need > q->max_bytes - q->bytes)
		return NULL;
	if (c == NULL || c->size - c->wr < need) {
		if ((c = chunk_get(q, need)) == NULL)
			return NULL;
		if (q->last != NULL)
			q->last->next = c;
		else
			q->first = c;
		q->last = c;
	}
	memcpy(c->data + c->wr, &n, IWQ_HDR);
	c->wr += need;
	q->bytes += need;
	q->count++;
	return c->data + c->wr - len;
}

static void
record_at(const struct iwq_chunk *c, size_t off, const char **p, size_t *len)
{
	uint32_t n;

	memcpy(&n, c->data + off, IWQ_HDR);
	*p = c->data + off + IWQ_HDR;
	*len = n;
}

bool
iwq_front(const struct iw_queue *q, const char **p, size_t *len)
{
	if (q->count == 0)
		return false;
	record_at(q->first, q->first->rd, p, len);
	return true;
}

void
iwq_pop(struct iw_queue *q)
{
	struct iwq_chunk *c = q->first;
	const char *p;
	size_t len;

	if (q->count == 0)
		return;
	record_at(c, c->rd, &p, &len);
	c->rd += IWQ_HDR + len;
	q->bytes -= IWQ_HDR + len;
	q->count--;
	if (q->n_marked > 0)
		q->n_marked--;
	if (c->rd < c->wr)
		return;
	/* empty: with n_marked 0 now, nothing points into it */
	if (c == q->last && c->size == IWQ_CHUNK) {
		c->rd = c->wr = 0;
		return;
	}
	q->first = c->next;
	if (q->first == NULL)
		q->last = NULL;
	chunk_put(q, c);
}

/* The first record not yet handed to the connection. */
bool
iwq_unsent(struct iw_queue *q, const char **p, size_t *len)
{
	if (q->n_marked == 0)
		return iwq_front(q, p, len);
	if (q->n_marked == q->count)
		return false;
	if (q->mark_off == q->mark->wr) {
		q->mark = q->mark->next;
		q->mark_off = q->mark->rd;
	}
	record_at(q->mark, q->mark_off, p, len);
	return true;
}

void
iwq_mark_sent(struct iw_queue *q)
{
	const char *p;
	size_t len;

	if (!iwq_unsent(q, &p, &len))
		return;
	if (q->n_marked == 0) {
		q->mark = q->first;
		q->mark_off = q->first->rd;
	}
	q->mark_off += IWQ_HDR + len;
	q->n_marked++;
}

void
iwq_rewind(struct iw_queue *q)
{
	q->n_marked = 0;
	q->mark = NULL;
	q->mark_off = 0;
}

void
iwq_free(struct iw_queue *q)
{
	struct iwq_chunk *c, *next;

	for (c = q->first; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(q->spare);
	iwq_init(q, q->max_bytes, q->max_count);
}
