/* SPDX-License-Identifier: ISC */
/*
 * event_batch.h - with workers, the correlator decides under its lock and
 * the events it lets go are serialised outside it, in parallel, then
 * written in the order they were let go.
 *
 * Serialising an event (json-c's printer, the ECS copy, freeing the tree)
 * is most of what writing one costs; done under the correlator's lock it
 * made the whole run as slow as one thread.  So, under the lock, each
 * event is only observed (summary, report) and held in the calling
 * thread's batch; the batch gets a ticket as the lock is released; then
 * the thread serialises its batch and writes every batch whose turn has
 * come, its own or one a slower thread left ready.  No thread waits for
 * another's turn, and a flow's events, which the correlator lets go in
 * order, reach the sinks in that order.
 */
#ifndef IW_EVENT_BATCH_H
#define IW_EVENT_BATCH_H

#include <stdbool.h>

struct json_object;

/* Under the correlator's lock: observe the event and hold it. */
void iw_event_hold(struct json_object *event);

/* Whether the calling thread holds events. */
bool iw_event_holding(void);

/* Under the correlator's lock, last thing before it is released: the
 * held events' turn among all threads' batches. */
void iw_event_seal(void);

/* After the lock is released: serialise the sealed batch and write every
 * batch whose turn has come. */
void iw_event_write_sealed(void);

#endif /* IW_EVENT_BATCH_H */
