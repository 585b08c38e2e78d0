/* SPDX-License-Identifier: ISC */
/*
 * test_sink_queue.c - the bounded queue of the socket sinks
 * (analyzer/sink_queue.c): order and contents across chunk boundaries,
 * the byte and count bounds, records larger than a chunk, and the mark
 * of records in flight (sent, not acknowledged) with its rewind, checked
 * against a simple model over a long random run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sink.h"

#define HDR 4		/* the length before each record */

/* A record: its id in the first 4 bytes, then bytes derived from it. */
static bool
fill(struct iw_queue *q, uint32_t id, size_t len)
{
	char *p = iwq_push(q, len);
	size_t i;

	if (p == NULL)
		return false;
	memcpy(p, &id, 4);
	for (i = 4; i < len; i++)
		p[i] = (char)(id * 31 + i);
	return true;
}

static bool
intact(const char *p, size_t len, uint32_t id)
{
	uint32_t got;
	size_t i;

	memcpy(&got, p, 4);
	if (got != id)
		return false;
	for (i = 4; i < len; i++)
		if (p[i] != (char)(id * 31 + i))
			return false;
	return true;
}

static size_t
len_of(uint32_t id)
{
	/* mostly event-sized, now and then past a whole 64 KiB chunk */
	return id % 97 == 0 ? 70000 + id % 5000 : 4 + (id * 2654435761u) %
	    3000;
}

static void
test_order(void)
{
	struct iw_queue q;
	const char *p;
	size_t len;
	uint32_t id, next = 0;
	bool ok = true;

	iwq_init(&q, 64 * 1024 * 1024, 1000000);
	for (id = 0; id < 5000; id++)
		ok = fill(&q, id, len_of(id)) && ok;
	CHECK(ok && q.count == 5000, "5000 records pushed, some larger "
	    "than a chunk");
	while (iwq_front(&q, &p, &len)) {
		if (len != len_of(next) || !intact(p, len, next))
			ok = false;
		iwq_pop(&q);
		next++;
	}
	CHECK(ok && next == 5000 && q.bytes == 0, "all came out whole, in "
	    "order, and the byte count went back to 0");
	iwq_free(&q);
}

static void
test_bounds(void)
{
	struct iw_queue q;
	int i;

	iwq_init(&q, 1000000, 3);
	CHECK(fill(&q, 1, 10) && fill(&q, 2, 10) && fill(&q, 3, 10) &&
	    !fill(&q, 4, 10) && q.count == 3, "the count bound drops the "
	    "newest");
	iwq_pop(&q);
	CHECK(fill(&q, 5, 10), "room again after a pop");
	iwq_free(&q);

	iwq_init(&q, 10 * (HDR + 100), 1000);
	for (i = 0; i < 10; i++)
		fill(&q, (uint32_t)i, 100);
	CHECK(q.count == 10 && q.bytes == q.max_bytes && !fill(&q, 10, 1),
	    "the byte bound counts each record with its header, exactly");
	iwq_free(&q);

	iwq_init(&q, 4096, 1000);
	CHECK(!fill(&q, 1, 5000) && q.count == 0, "a record larger than the "
	    "whole queue is refused");
	iwq_free(&q);
}

static void
test_mark(void)
{
	struct iw_queue q;
	const char *p;
	size_t len;
	uint32_t id;
	bool ok = true;

	iwq_init(&q, 64 * 1024 * 1024, 100000);
	for (id = 0; id < 200; id++)
		fill(&q, id, 1000);
	for (id = 0; id < 150; id++) {	/* crosses chunk boundaries */
		ok = iwq_unsent(&q, &p, &len) && intact(p, len, id) && ok;
		iwq_mark_sent(&q);
	}
	CHECK(ok && q.n_marked == 150 && iwq_unsent(&q, &p, &len) &&
	    intact(p, len, 150), "the mark walks the records across chunks");
	for (id = 0; id < 100; id++)
		iwq_pop(&q);	/* acknowledged */
	CHECK(q.n_marked == 50 && iwq_front(&q, &p, &len) &&
	    intact(p, len, 100) && iwq_unsent(&q, &p, &len) &&
	    intact(p, len, 150), "acknowledgements pop from the front, the "
	    "mark stays");
	iwq_rewind(&q);
	CHECK(q.n_marked == 0 && iwq_unsent(&q, &p, &len) &&
	    intact(p, len, 100), "rewound: the records in flight are unsent "
	    "again, from the first");
	while (iwq_unsent(&q, &p, &len) && q.n_marked < q.count)
		iwq_mark_sent(&q);
	CHECK(q.n_marked == 100 && !iwq_unsent(&q, &p, &len),
	    "all in flight: nothing unsent");
	iwq_free(&q);
}

/* Random pushes, pops, marks and rewinds against a model. */
static void
test_model(void)
{
	static uint32_t model[200000];
	struct iw_queue q;
	size_t head = 0, tail = 0, marked = 0, len;
	const char *p;
	uint32_t next = 0, r = 12345;
	bool ok = true;
	int i, op;

	iwq_init(&q, 2 * 1024 * 1024, 5000);
	for (i = 0; i < 200000 && ok; i++) {
		r = r * 1103515245 + 12345;
		op = (r >> 16) % 10;
		if (op < 4) {
			if (fill(&q, next, len_of(next)))
				model[tail++] = next;
			next++;
		} else if (op < 7 && tail > head) {
			iwq_pop(&q);
			head++;
			if (marked > 0)
				marked--;
		} else if (op < 9 && head + marked < tail) {
			iwq_mark_sent(&q);
			marked++;
		} else if (op == 9 && (r >> 8) % 16 == 0) {
			iwq_rewind(&q);
			marked = 0;
		}
		ok = q.count == tail - head && q.n_marked == marked;
		if (ok && tail > head)
			ok = iwq_front(&q, &p, &len) && intact(p, len,
			    model[head]);
		if (ok && head + marked < tail)
			ok = iwq_unsent(&q, &p, &len) && intact(p, len,
			    model[head + marked]);
		if (tail == sizeof(model) / sizeof(model[0]))
			break;
	}
	CHECK(ok, "200000 random operations agree with the model (%u "
	    "records pushed, %zu kept)", next, tail);
	iwq_free(&q);
}

int
main(void)
{
	test_order();
	test_bounds();
	test_mark();
	test_model();
	return th_done();
}
