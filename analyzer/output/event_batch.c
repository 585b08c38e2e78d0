/* SPDX-License-Identifier: ISC */
/*
 * event_batch.c - events let go by the correlator under its lock,
 * serialised outside it and written in turn (see event_batch.h).
 */
#include <json.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "event.h"
#include "event_batch.h"
#include "stats.h"
#include "summary.h"

struct held {
	struct json_object	*obj;	/* then the object that holds line */
	const char		*line;
	size_t			 len;
};

struct batch {
	uint64_t	 ticket;
	struct held	*ev;
	size_t		 n, cap;
	struct batch	*next;		/* in the ready list, by ticket */
};

/* the calling thread's batch, filled under the correlator's lock */
static _Thread_local struct batch *pending;

/* given under the correlator's lock, in the order events are let go */
static uint64_t next_ticket;

/* serialised batches waiting for their turn, and whose turn it is */
static pthread_mutex_t ready_lock = PTHREAD_MUTEX_INITIALIZER;
static struct batch *ready;
static uint64_t next_write;

static bool
grow(struct batch *b)
{
	size_t cap = b->cap ? b->cap * 2 : 64;
	struct held *ev = realloc(b->ev, cap * sizeof(*ev));

	if (ev == NULL)
		return false;
	b->ev = ev;
	b->cap = cap;
	return true;
}

void
iw_event_hold(struct json_object *ev)
{
	if (ev == NULL) {
		iw_stats.events_dropped++;
		return;
	}
	iw_event_observe(ev);
	if (pending == NULL && (pending = calloc(1, sizeof(*pending))) == NULL) {
		json_object_put(ev);
		iw_stats.events_dropped++;
		return;
	}
	if (pending->n == pending->cap && !grow(pending)) {
		json_object_put(ev);
		iw_stats.events_dropped++;
		return;
	}
	pending->ev[pending->n++] = (struct held){ ev, NULL, 0 };
}

bool
iw_event_holding(void)
{
	return pending != NULL && pending->n > 0;
}

void
iw_event_seal(void)
{
	pending->ticket = next_ticket++;
}

static void
insert_ready(struct batch *b)
{
	struct batch **pp = &ready;

	while (*pp != NULL && (*pp)->ticket < b->ticket)
		pp = &(*pp)->next;
	b->next = *pp;
	*pp = b;
}

static void
free_batch(struct batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		json_object_put(b->ev[i].obj);
	free(b->ev);
	free(b);
}

void
iw_event_write_sealed(void)
{
	struct batch *b = pending, *done = NULL, *next;
	size_t i;

	if (b == NULL || b->n == 0)
		return;
	pending = NULL;
	for (i = 0; i < b->n; i++)
		b->ev[i].obj = iw_event_serialise(b->ev[i].obj,
		    &b->ev[i].line, &b->ev[i].len);

	pthread_mutex_lock(&ready_lock);
	insert_ready(b);
	while (ready != NULL && ready->ticket == next_write) {
		b = ready;
		ready = b->next;
		for (i = 0; i < b->n; i++)
			iw_event_write_line(b->ev[i].line, b->ev[i].len);
		next_write++;
		b->next = done;
		done = b;
	}
	pthread_mutex_unlock(&ready_lock);

	for (; done != NULL; done = next) {
		next = done->next;
		free_batch(done);
	}
}
