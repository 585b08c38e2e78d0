/* SPDX-License-Identifier: ISC */
/*
 * workers.c - see workers.h.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "correlate.h"
#include "engine.h"
#include "flow.h"
#include "flowmem.h"
#include "packet.h"
#include "queue.h"
#include "siphash.h"
#include "stats.h"
#include "workers.h"
#include "x509.h"

#define BATCH_PACKETS	512
#define BATCH_BYTES	(1U << 20)	/* copied frames and datagrams */
#define QUEUE_DEPTH	4		/* batches a worker may have queued */
#define FLUSH_EVERY	4096		/* packets: then every batch goes */
#define LIVE_WAIT_MS	10		/* live: the most a full queue holds
					 * the reader, then packets drop */

enum entry_kind {
	ENTRY_SEGMENT = 0,	/* a TCP segment */
	ENTRY_TICK,		/* a second of packet time passed */
	ENTRY_ANOMALY,		/* what decode found of a dropped datagram */
};

/* What a worker gets, in the reader's order. */
struct entry {
	iw_time		 stamp;		/* the reader's clock */
	uint8_t		 kind;		/* enum entry_kind */
	uint8_t		 what;		/* ENTRY_ANOMALY: flow.h's kind */
	uint8_t		*own;		/* a packet too big for the arena */
	struct iw_packet p;		/* pointing into arena or own */
};

struct batch {
	iw_time		 clock;		/* the reader's, when sent */
	bool		 last;		/* end of input */
	uint32_t	 n;		/* entries */
	size_t		 used;		/* arena bytes */
	struct entry	 e[BATCH_PACKETS];
	uint8_t		 arena[BATCH_BYTES];
};

struct iw_worker {
	pthread_t		 thread;
	struct iw_queue		 q;
	struct batch		*buf[QUEUE_DEPTH];
	struct batch		*filling;	/* the reader's, not yet sent */
	struct iw_corr_producer	*producer;
	bool			 stalled;	/* live: its queue stayed full */
	/* the thread's own, read while it waits (iw_workers_stats_emit) */
	const struct iw_stats	*running;
	/* when the thread has ended */
	struct iw_stats		 stats;
	/* after each batch */
	uint64_t		 flow_mem, flow_mem_peak;
};

static struct iw_worker *workers;
static int n_workers;
static bool live;
static void (*before_sending)(void);
static uint64_t since_flush;

int
iw_workers_default(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > IW_WORKERS_MAX ? IW_WORKERS_MAX : (int)n;
}

static uint64_t
share(uint64_t total, int n)
{
	uint64_t s = total / (uint64_t)n;

	return s > 0 ? s : 1;
}

void
iw_workers_split_limits(int n)
{
	iw_cfg.max_flows = share(iw_cfg.max_flows, n);
	iw_cfg.reasm_global_cap = share(iw_cfg.reasm_global_cap, n);
	iw_workers_share_flow_memory(n);
}

void
iw_workers_share_flow_memory(int n)
{
	iw_cfg.flow_mem_cap = share(iw_cfg.flow_mem_cap, n);
}

/* ---- a worker ---- */

static void
run_batch(const struct batch *b)
{
	const struct entry *e;
	uint32_t i;

	for (i = 0; i < b->n; i++) {
		e = &b->e[i];
		switch (e->kind) {
		case ENTRY_SEGMENT:
			iw_engine_segment(&e->p, e->stamp);
			break;
		case ENTRY_TICK:
			iw_engine_worker_tick(e->stamp);
			break;
		case ENTRY_ANOMALY:
			iw_engine_decode_anomaly(&e->p, e->what, e->stamp);
			break;
		}
		free(e->own);
	}
}

static void *
worker_main(void *arg)
{
	struct iw_worker *w = arg;
	struct batch *b;
	iw_time clock = 0;
	bool last;

	iw_corr_set_engine(w->producer);
	iw_engine_init();
	w->running = &iw_stats;
	do {
		b = iw_queue_take(&w->q);
		run_batch(b);
		clock = b->clock;
		last = b->last;
		w->flow_mem = iw_flowmem_in_use();
		w->flow_mem_peak = iw_flowmem_peak();
		/* nothing it gets from now on is older than the reader's
		 * clock when this batch was sent; and before the batch is
		 * handed back, so that a drained queue (a reload waits for
		 * it) means this worker is not in the correlator either */
		if (!last)
			iw_corr_advance(w->producer, clock);
		iw_queue_done(&w->q);
	} while (!last);
	iw_engine_worker_finish(clock);
	iw_x509_thread_end();
	w->flow_mem = iw_flowmem_in_use();
	w->flow_mem_peak = iw_flowmem_peak();
	/* the last one done writes what waits: counted, so before the copy */
	iw_corr_producer_done(w->producer);
	w->stats = iw_stats;
	return NULL;
}

/* ---- the reader ---- */

/*
 * The batch the reader fills for w.  Reading files, a full queue holds
 * the reader until the worker hands a batch back.  Live, the kernel's
 * buffers fill meanwhile: it waits LIVE_WAIT_MS at most, then (NULL)
 * the caller drops the packet, counted; while the worker stays behind
 * the reader no longer waits for it, so the other workers, the timers
 * and signals go on.  The end of input (wait) always waits.
 */
static struct batch *
filling_or_wait(struct iw_worker *w, bool wait)
{
	if (w->filling == NULL) {
		if (!live || wait)
			w->filling = iw_queue_slot(&w->q);
		else
			w->filling = iw_queue_slot_within(&w->q,
			    w->stalled ? 0 : LIVE_WAIT_MS);
		w->stalled = w->filling == NULL;
		if (w->filling == NULL)
			return NULL;
		w->filling->n = 0;
		w->filling->used = 0;
		w->filling->last = false;
	}
	return w->filling;
}

static struct batch *
filling(struct iw_worker *w)
{
	return filling_or_wait(w, false);
}

/* Live, a worker behind gets nothing more: its next batch has the clock. */
static void
send(struct iw_worker *w, bool last)
{
	struct batch *b = filling_or_wait(w, last);

	if (b == NULL)
		return;
	b->clock = iw_engine_now();
	b->last = last;
	w->filling = NULL;
	iw_queue_publish(&w->q);
}

static void
send_all(bool last)
{
	int i;

	if (before_sending != NULL)
		before_sending();
	for (i = 0; i < n_workers; i++)
		send(&workers[i], last);
	since_flush = 0;
}

/* Room for one entry of `bytes` arena bytes (0: none needed); live, NULL
 * when the worker is behind (filling). */
static struct entry *
next_entry(struct iw_worker *w, size_t bytes)
{
	struct batch *b = filling(w);

	if (b != NULL && (b->n == BATCH_PACKETS ||
	    (bytes <= BATCH_BYTES && b->used + bytes > BATCH_BYTES))) {
		send(w, false);
		b = filling(w);
	}
	return b != NULL ? &b->e[b->n++] : NULL;
}

/* Live: what a worker behind could not take. */
static void
dropped(const struct iw_worker *w)
{
	iw_stats.worker_queue_drops++;
	iw_stats.kernel_handle[w - workers].queue_drops++;
}

static void
tick_all(iw_time t)
{
	struct entry *e;
	int i;

	for (i = 0; i < n_workers; i++) {
		/* a worker behind gets the time with its next batch */
		if ((e = next_entry(&workers[i], 0)) == NULL)
			continue;
		e->stamp = t;
		e->kind = ENTRY_TICK;
		e->own = NULL;
	}
	/* every worker's watermark moves on, busy or not */
	send_all(false);
}

static bool
inside(const uint8_t *x, const uint8_t *base, size_t len)
{
	return x >= base && x <= base + len;
}

/*
 * The worker gets its own copy of the frame and, for a datagram
 * reassembled from fragments, of the TCP segment (ipfrag.c frees it at
 * the next packet); the decoded pointers follow the copy.
 */
static void
copy_packet(struct iw_worker *w, struct iw_packet *p)
{
	const uint8_t *frame = p->data, *seg = p->tcp_seg;
	bool seg_valid = p->payload_len > 0 || p->checkable;
	bool seg_apart = seg_valid && !inside(seg, frame, p->caplen);
	size_t need = p->caplen + (seg_apart ? p->tcp_seg_len : 0);
	struct batch *b;
	struct entry *e = next_entry(w, need);
	uint8_t *to;

	if (e == NULL) {
		dropped(w);
		return;
	}
	e->stamp = iw_engine_now();
	e->kind = ENTRY_SEGMENT;
	e->own = NULL;
	b = w->filling;
	if (need > BATCH_BYTES) {
		if ((e->own = malloc(need)) == NULL) {
			b->n--;
			iw_stats.events_dropped++;
			return;
		}
		to = e->own;
	} else {
		to = b->arena + b->used;
		b->used += (need + 15) & ~(size_t)15;
	}
	memcpy(to, frame, p->caplen);
	e->p = *p;
	e->p.data = to;
	if (seg_apart) {
		memcpy(to + p->caplen, seg, p->tcp_seg_len);
		e->p.tcp_seg = to + p->caplen;
		e->p.payload = e->p.tcp_seg + (p->payload - seg);
	} else {
		if (seg_valid)
			e->p.tcp_seg = to + (seg - frame);
		else {
			e->p.tcp_seg = NULL;
			e->p.tcp_seg_len = 0;
		}
		e->p.payload = inside(p->payload, frame, p->caplen) ?
		    to + (p->payload - frame) : to + p->caplen;
	}
}

static struct iw_worker *
owner(const struct iw_packet *p)
{
	uint64_t h = iw_hash_endpoints(&p->src, p->sport, &p->dst, p->dport);

	/* the high half: the flow tables take their buckets from the low */
	return &workers[((h >> 32) * (uint64_t)n_workers) >> 32];
}

/* The decoder's word on a datagram it dropped, to the flow's worker. */
static void
hand_over_anomaly(const struct iw_packet *p, enum iw_flow_decode_anomaly what)
{
	struct iw_worker *w = owner(p);
	struct entry *e = next_entry(w, 0);

	if (e == NULL) {
		dropped(w);
		return;
	}
	e->stamp = iw_engine_now();
	e->kind = ENTRY_ANOMALY;
	e->what = (uint8_t)what;
	e->own = NULL;
	e->p = *p;
	/* only the addresses, ports and time are read */
	e->p.data = e->p.payload = e->p.tcp_seg = NULL;
	e->p.caplen = e->p.payload_len = e->p.tcp_seg_len = 0;
}

void
iw_workers_packet(const struct iw_rawpkt *raw)
{
	struct iw_packet p;

	if (iw_engine_read_clock(raw))
		tick_all(iw_engine_now());
	if (iw_engine_read_decode(raw, &p) == IW_DECODE_TCP)
		copy_packet(owner(&p), &p);
	if (++since_flush >= FLUSH_EVERY)
		send_all(false);
}

void
iw_workers_before_sending(void (*fn)(void))
{
	before_sending = fn;
}

void
iw_workers_idle(iw_time t)
{
	/* flows expire once a second, watermarks move on every time */
	if (iw_engine_read_idle(t))
		tick_all(iw_engine_now());
	else
		send_all(false);
}

void
iw_workers_quiesce(void)
{
	int i;

	send_all(false);
	for (i = 0; i < n_workers; i++)
		iw_queue_wait_drained(&workers[i].q);
}

/* The workers' counters and memory added to the reader's (iw_stats). */
static void
add_workers_stats(bool ended)
{
	struct iw_worker *w;
	int i;

	for (i = 0; i < n_workers; i++) {
		w = &workers[i];
		iw_stats_add(&iw_stats, ended ? &w->stats : w->running);
		iw_stats.worker_queue_waits += w->q.full_waits;
		iw_stats.workers_flow_mem += w->flow_mem;
		iw_stats.workers_flow_mem_peak += w->flow_mem_peak;
	}
	iw_stats.workers = (uint32_t)n_workers;
}

/*
 * While every worker waits, its counters stay still: they are added to a
 * copy of the reader's for the event, and the reader's own come back
 * after it, but for the event itself.
 */
void
iw_workers_stats_emit(iw_time t)
{
	struct iw_stats *mine = malloc(sizeof(*mine));
	uint64_t events, events_dropped;

	if (mine == NULL) {
		iw_stats.events_dropped++;
		return;
	}
	iw_workers_quiesce();
	*mine = iw_stats;
	add_workers_stats(false);
	events = iw_stats.events;
	events_dropped = iw_stats.events_dropped;
	/* no worker runs the correlator now (the stats take its lock) */
	iw_stats_emit(t);
	mine->events += iw_stats.events - events;
	mine->events_dropped += iw_stats.events_dropped - events_dropped;
	iw_stats = *mine;
	free(mine);
}

static void
free_worker(struct iw_worker *w)
{
	int i;

	for (i = 0; i < QUEUE_DEPTH; i++)
		free(w->buf[i]);
}

int
iw_workers_start(int n, bool is_live, char *err, size_t errlen)
{
	struct iw_worker *w;
	int i, j;

	if ((workers = calloc((size_t)n, sizeof(*workers))) == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		w = &workers[i];
		for (j = 0; j < QUEUE_DEPTH; j++)
			if ((w->buf[j] = malloc(sizeof(struct batch))) == NULL)
				goto nomem;
		if (iw_queue_init(&w->q, (void **)w->buf, QUEUE_DEPTH) != 0 ||
		    (w->producer = iw_corr_producer_new()) == NULL)
			goto nomem;
	}
	n_workers = n;
	live = is_live;
	/* from here the correlator is reached from every worker */
	iw_corr_threads(true);
	iw_flow_hand_over_decode_anomalies(hand_over_anomaly);
	for (i = 0; i < n; i++) {
		if (pthread_create(&workers[i].thread, NULL, worker_main,
		    &workers[i]) != 0) {
			snprintf(err, errlen, "cannot start worker threads");
			return -1;	/* fatal: the caller exits */
		}
	}
	return 0;
nomem:
	snprintf(err, errlen, "out of memory for %d workers", n);
	return -1;
}

void
iw_workers_finish(void)
{
	struct iw_worker *w;
	int i;

	send_all(true);
	for (i = 0; i < n_workers; i++)
		pthread_join(workers[i].thread, NULL);
	add_workers_stats(true);
	for (i = 0; i < n_workers; i++) {
		w = &workers[i];
		iw_queue_destroy(&w->q);
		free_worker(w);
	}
	iw_corr_threads(false);
	iw_flow_hand_over_decode_anomalies(NULL);
	iw_engine_reader_finish();
	free(workers);
	workers = NULL;
	n_workers = 0;
}
