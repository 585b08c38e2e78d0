/* SPDX-License-Identifier: ISC */
/*
 * state_mem.c - the in-process back end of the correlator's state: two
 * bounded LRU memos (memo.c) a kind.
 *
 * A fact enters the "once" tier (a quarter of the kind's cap); seen again
 * in another session it is copied to the "established" tier and its once
 * copy marked moved (memo.c cannot delete; the stale copy ages out).  So
 * a flood of keys seen once pushes out only others seen once.
 *
 * Failed authentications keep, per client, the times of its last BF_RING
 * failures: the window is exact up to that many; past it, a fixed window
 * from the first failure in it.
 */
#include <stdlib.h>
#include <string.h>

#include "memo.h"
#include "state.h"

#define BF_RING		32

enum tier { T_ONCE, T_EST, T_COUNT };

struct fact_entry {
	struct iw_state_val	v;
	uint8_t			moved;	/* copied to the established tier */
};

struct bf_entry {
	iw_time		ring[BF_RING];
	uint32_t	n;
	uint32_t	head;
	iw_time		win_start;
	uint32_t	win_count;
	uint32_t	failures;	/* ever, for the tier */
	uint8_t		moved;
};

struct mem {
	struct iw_state_limits	 lim[IW_STATE_KINDS];
	struct iw_memo		*memo[IW_STATE_KINDS][T_COUNT];
};

static size_t
key_size(enum iw_state_kind kind)
{
	if (kind == IW_STATE_LEAF)
		return sizeof(struct iw_state_key);
	return offsetof(struct iw_state_key, name);
}

static size_t
val_size(enum iw_state_kind kind)
{
	if (kind == IW_STATE_AUTHFAIL)
		return sizeof(struct bf_entry);
	return sizeof(struct fact_entry);
}

void *
iw_state_mem_new(const struct iw_state_limits lim[IW_STATE_KINDS])
{
	struct mem *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	memcpy(m->lim, lim, sizeof(m->lim));
	return m;
}

void
iw_state_mem_free(void *arg)
{
	struct mem *m = arg;
	int k, t;

	if (m == NULL)
		return;
	for (k = 0; k < IW_STATE_KINDS; k++)
		for (t = 0; t < T_COUNT; t++)
			iw_memo_free(m->memo[k][t]);
	free(m);
}

/* The tier's memo, made on first use; NULL when out of memory. */
static struct iw_memo *
tier(struct mem *m, enum iw_state_kind kind, enum tier t)
{
	if (m->memo[kind][t] == NULL)
		m->memo[kind][t] = iw_memo_new(
		    iw_state_tier_cap(&m->lim[kind], t == T_EST),
		    key_size(kind), val_size(kind));
	return m->memo[kind][t];
}

uint64_t
iw_state_mem_count(void *arg, enum iw_state_kind kind)
{
	struct mem *m = arg;
	uint64_t n = 0;
	int t;

	for (t = 0; m != NULL && t < T_COUNT; t++)
		if (m->memo[kind][t] != NULL)
			n += iw_memo_count(m->memo[kind][t]);
	return n;
}

uint64_t
iw_state_mem_evictions(void *arg, enum iw_state_kind kind)
{
	struct mem *m = arg;
	uint64_t n = 0;
	int t;

	for (t = 0; m != NULL && t < T_COUNT; t++)
		if (m->memo[kind][t] != NULL)
			n += iw_memo_evictions(m->memo[kind][t]);
	return n;
}

/* The live entry for key (established first), or NULL; *where its tier. */
static void *
find(struct mem *m, const struct iw_state_key *k, enum tier *where)
{
	struct iw_memo *est = m->memo[k->kind][T_EST];
	struct iw_memo *once = m->memo[k->kind][T_ONCE];
	struct fact_entry *f;
	struct bf_entry *b;
	void *e;

	if (est != NULL && (e = iw_memo_get(est, k)) != NULL) {
		*where = T_EST;
		return e;
	}
	if (once == NULL || (e = iw_memo_get(once, k)) == NULL)
		return NULL;
	*where = T_ONCE;
	if (k->kind == IW_STATE_AUTHFAIL) {
		b = e;
		return b->moved ? NULL : e;
	}
	f = e;
	return f->moved ? NULL : e;
}

/* A new entry in the once tier (a stale moved copy is reused). */
static void *
insert(struct mem *m, const struct iw_state_key *k)
{
	struct iw_memo *once = tier(m, k->kind, T_ONCE);
	void *e;

	if (once == NULL || (e = iw_memo_put(once, k)) == NULL)
		return NULL;
	memset(e, 0, val_size(k->kind));
	return e;
}

/* Copies e to the established tier; the once copy is marked moved. */
static void
promote(struct mem *m, const struct iw_state_key *k, void *e)
{
	struct iw_memo *est = tier(m, k->kind, T_EST);
	void *n;

	if (est == NULL || (n = iw_memo_put(est, k)) == NULL)
		return;		/* out of memory: it stays where it is */
	memcpy(n, e, val_size(k->kind));
	if (k->kind == IW_STATE_AUTHFAIL)
		((struct bf_entry *)e)->moved = 1;
	else
		((struct fact_entry *)e)->moved = 1;
}

static int
mem_get(void *arg, const struct iw_state_key *k, struct iw_state_val *out)
{
	struct fact_entry *f;
	enum tier where;

	if (k->kind == IW_STATE_AUTHFAIL ||
	    (f = find(arg, k, &where)) == NULL)
		return 0;
	*out = f->v;
	return 1;
}

/* A later sighting: last seen, sessions, repeats. */
static void
sighting(struct iw_state_val *cur, const struct iw_state_val *v)
{
	if (v->last > cur->last)
		cur->last = v->last;
	if (v->last_flow != cur->last_flow)
		cur->sessions++;
	cur->last_flow = v->last_flow;
	cur->repeats++;
}

static int
sight(struct mem *m, const struct iw_state_key *k, const struct iw_state_val *v,
    struct iw_state_val *old, bool set_key, enum iw_state_mode mode)
{
	struct fact_entry *f;
	enum tier where = T_ONCE;

	if ((f = find(m, k, &where)) == NULL) {
		if ((f = insert(m, k)) == NULL)
			return -1;
		f->v = *v;
		return 0;
	}
	*old = f->v;
	sighting(&f->v, v);
	if (set_key && (mode == IW_STATE_DECIDE || v->last >= old->last)) {
		memcpy(f->v.key_sha256, v->key_sha256, sizeof(v->key_sha256));
		f->v.name_check = v->name_check;
		f->v.has_key = v->has_key;
	}
	if (where == T_ONCE && f->v.sessions >= 2)
		promote(m, k, f);
	return 1;
}

static int
mem_put_nx(void *arg, const struct iw_state_key *k,
    const struct iw_state_val *v, struct iw_state_val *old,
    enum iw_state_mode mode)
{
	return sight(arg, k, v, old, false, mode);
}

static int
mem_getset(void *arg, const struct iw_state_key *k,
    const struct iw_state_val *v, struct iw_state_val *old,
    enum iw_state_mode mode)
{
	return sight(arg, k, v, old, true, mode);
}

/* Counts one failure at now; true when the threshold is reached. */
static bool
bf_count(struct bf_entry *v, iw_time now, int count, iw_time win)
{
	iw_time oldest;

	v->ring[v->head] = now;
	v->head = (v->head + 1) % BF_RING;
	if (v->n < BF_RING)
		v->n++;
	if (count <= BF_RING) {
		if (v->n < (uint32_t)count)
			return false;
		oldest = v->ring[(v->head + BF_RING - (uint32_t)count) %
		    BF_RING];
		return now - oldest <= win;
	}
	/* past the ring: a fixed window from the first failure in it */
	if (v->win_count == 0 || now - v->win_start > win) {
		v->win_start = now;
		v->win_count = 0;
	}
	return ++v->win_count >= (uint32_t)count;
}

/*
 * When the client reaches the threshold its count starts again, so a
 * long attack gives one alert per threshold's worth of failures.
 */
static int
mem_window_add(void *arg, const struct iw_state_key *k, iw_time ts,
    uint64_t member, iw_time window, int threshold, enum iw_state_mode mode)
{
	struct mem *m = arg;
	struct bf_entry *b;
	enum tier where = T_ONCE;
	bool reached;

	if ((b = find(m, k, &where)) == NULL && (b = insert(m, k)) == NULL)
		return -1;
	reached = bf_count(b, ts, threshold, window);
	b->failures++;
	if (reached && mode == IW_STATE_DECIDE) {
		memset(b, 0, offsetof(struct bf_entry, failures));
		return 1;
	}
	if (where == T_ONCE && b->failures >= 2)
		promote(m, k, b);
	return 0;
}

const struct iw_state_backend iw_state_mem = {
	.name = "memory",
	.get = mem_get,
	.put_nx = mem_put_nx,
	.getset = mem_getset,
	.window_add = mem_window_add,
};
