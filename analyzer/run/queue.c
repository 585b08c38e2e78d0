/* SPDX-License-Identifier: ISC */
/*
 * queue.c - see queue.h.
 */
#include <stdlib.h>
#include <time.h>

#include "queue.h"

int
iw_queue_init(struct iw_queue *q, void **buffers, unsigned depth)
{
	unsigned i;

	if (depth < 2)
		return -1;
	if ((q->slot = calloc(depth, sizeof(*q->slot))) == NULL)
		return -1;
	for (i = 0; i < depth; i++)
		q->slot[i] = buffers[i];
	q->depth = depth;
	q->head = q->tail = q->full_waits = 0;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->not_full, NULL);
	pthread_cond_init(&q->not_empty, NULL);
	return 0;
}

void
iw_queue_destroy(struct iw_queue *q)
{
	pthread_cond_destroy(&q->not_empty);
	pthread_cond_destroy(&q->not_full);
	pthread_mutex_destroy(&q->mu);
	free(q->slot);
	q->slot = NULL;
}

void *
iw_queue_slot(struct iw_queue *q)
{
	void *b;

	pthread_mutex_lock(&q->mu);
	if (q->head - q->tail == q->depth) {
		q->full_waits++;
		while (q->head - q->tail == q->depth)
			pthread_cond_wait(&q->not_full, &q->mu);
	}
	b = q->slot[q->head % q->depth];
	pthread_mutex_unlock(&q->mu);
	return b;
}

void *
iw_queue_slot_within(struct iw_queue *q, unsigned wait_ms)
{
	struct timespec until;
	void *b = NULL;

	clock_gettime(CLOCK_REALTIME, &until);	/* the condition's clock */
	until.tv_nsec += (long)wait_ms * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&q->mu);
	if (q->head - q->tail == q->depth && wait_ms > 0) {
		q->full_waits++;
		while (q->head - q->tail == q->depth &&
		    pthread_cond_timedwait(&q->not_full, &q->mu, &until) == 0)
			continue;
	}
	if (q->head - q->tail < q->depth)
		b = q->slot[q->head % q->depth];
	pthread_mutex_unlock(&q->mu);
	return b;
}

void
iw_queue_publish(struct iw_queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->head++;
	pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->mu);
}

void *
iw_queue_take(struct iw_queue *q)
{
	void *b;

	pthread_mutex_lock(&q->mu);
	while (q->tail == q->head)
		pthread_cond_wait(&q->not_empty, &q->mu);
	b = q->slot[q->tail % q->depth];
	pthread_mutex_unlock(&q->mu);
	return b;
}

void
iw_queue_done(struct iw_queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->tail++;
	/* both: the producer may wait for a slot or for the drain */
	pthread_cond_broadcast(&q->not_full);
	pthread_mutex_unlock(&q->mu);
}

bool
iw_queue_drained(struct iw_queue *q)
{
	bool d;

	pthread_mutex_lock(&q->mu);
	d = q->tail == q->head;
	pthread_mutex_unlock(&q->mu);
	return d;
}

void
iw_queue_wait_drained(struct iw_queue *q)
{
	pthread_mutex_lock(&q->mu);
	while (q->tail != q->head)
		pthread_cond_wait(&q->not_full, &q->mu);
	pthread_mutex_unlock(&q->mu);
}
