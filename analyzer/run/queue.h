/* SPDX-License-Identifier: ISC */
/*
 * queue.h - a bounded queue of fixed slots between one producer thread
 * and one consumer thread (the reader and a worker).
 *
 * The slots are the producer's buffers, made once: the producer asks for
 * the next free one (waiting, counted, while the consumer still has them
 * all), fills it at leisure, and publishes it; the consumer takes them in
 * that order and hands each back when done with it.  One mutex and two
 * condition variables, taken once a slot, not once a packet.
 */
#ifndef IW_QUEUE_H
#define IW_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct iw_queue {
	pthread_mutex_t	 mu;
	pthread_cond_t	 not_full, not_empty;
	void		**slot;
	unsigned	 depth;
	uint64_t	 head;		/* published */
	uint64_t	 tail;		/* handed back */
	uint64_t	 full_waits;	/* the producer found no free slot */
};

/* depth slots (at least 2), each one of the given buffers; 0 or -1. */
int iw_queue_init(struct iw_queue *, void **buffers, unsigned depth);
void iw_queue_destroy(struct iw_queue *);

/* Producer: the next slot's buffer, once the consumer handed it back. */
void *iw_queue_slot(struct iw_queue *);
/* Producer, live: the same, waiting at most wait_ms (counted); NULL when
 * the consumer still has every slot then. */
void *iw_queue_slot_within(struct iw_queue *, unsigned wait_ms);
/* Producer: the buffer iw_queue_slot gave is ready for the consumer. */
void iw_queue_publish(struct iw_queue *);

/* Consumer: the oldest published buffer (waits for one). */
void *iw_queue_take(struct iw_queue *);
/* Consumer: done with what iw_queue_take gave; the producer may refill. */
void iw_queue_done(struct iw_queue *);

/* Has the consumer handed back everything published?  (Any thread.) */
bool iw_queue_drained(struct iw_queue *);
/* Waits until it has. */
void iw_queue_wait_drained(struct iw_queue *);

#endif /* IW_QUEUE_H */
