/* SPDX-License-Identifier: ISC */
/*
 * test_queue.c - the bounded queue between the reader and a worker
 * (analyzer/run/queue.c): buffers come out in the order they went in,
 * each once; a producer that finds every slot taken waits (counted) and
 * goes on when the consumer hands one back; the drain waits for the
 * consumer; a queue of fewer than two slots is refused.
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "queue.h"

#define DEPTH	4
#define ITEMS	100000

struct slot {
	uint64_t	seq;
	uint64_t	sum;	/* a check of the values written with seq */
};

static struct slot slots[DEPTH];
static struct iw_queue q;
static uint64_t got, bad_order, bad_sum;
static int consumer_delay_ms;

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void *
consumer(void *arg)
{
	uint64_t n = *(uint64_t *)arg, i;
	struct slot *s;

	if (consumer_delay_ms > 0)
		sleep_ms(consumer_delay_ms);
	for (i = 1; i <= n; i++) {
		s = iw_queue_take(&q);
		if (s->seq != i)
			bad_order++;
		if (s->sum != s->seq * 2654435761ULL)
			bad_sum++;
		got++;
		iw_queue_done(&q);
	}
	return NULL;
}

/* Sends n buffers through the queue with a consumer thread. */
static void
send_through(uint64_t n, int delay_ms)
{
	pthread_t t;
	struct slot *s;
	uint64_t i;

	got = bad_order = bad_sum = 0;
	consumer_delay_ms = delay_ms;
	pthread_create(&t, NULL, consumer, &n);
	for (i = 1; i <= n; i++) {
		s = iw_queue_slot(&q);
		s->seq = i;
		s->sum = i * 2654435761ULL;
		iw_queue_publish(&q);
	}
	iw_queue_wait_drained(&q);
	pthread_join(t, NULL);
}

int
main(void)
{
	void *bufs[DEPTH];
	int i;

	for (i = 0; i < DEPTH; i++)
		bufs[i] = &slots[i];
	CHECK(iw_queue_init(&q, bufs, 1) == -1,
	    "a queue of one slot is refused (the reader could never fill one "
	    "while the worker reads another)");

	CHECK(iw_queue_init(&q, bufs, DEPTH) == 0, "a queue of %d slots",
	    DEPTH);
	CHECK(iw_queue_drained(&q), "a new queue is drained");
	send_through(ITEMS, 0);
	CHECK(got == ITEMS && bad_order == 0 && bad_sum == 0,
	    "%d buffers through %d slots: each once, in order, as written "
	    "(%llu got, %llu out of order, %llu torn)", ITEMS, DEPTH,
	    (unsigned long long)got, (unsigned long long)bad_order,
	    (unsigned long long)bad_sum);
	CHECK(iw_queue_drained(&q), "drained once the consumer is done");

	/* a consumer that starts late: the producer fills every slot, then
	 * waits (once, counted) instead of overwriting one */
	q.full_waits = 0;
	send_through(DEPTH + 1, 200);
	CHECK(got == DEPTH + 1 && bad_order == 0 && bad_sum == 0,
	    "a slow consumer loses nothing: %d of %d, in order",
	    (int)got, DEPTH + 1);
	CHECK(q.full_waits == 1,
	    "the producer found the queue full once and waited (counted: %llu)",
	    (unsigned long long)q.full_waits);
	iw_queue_destroy(&q);
	return th_done();
}
