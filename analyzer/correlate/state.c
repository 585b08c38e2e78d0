/* SPDX-License-Identifier: ISC */
/*
 * state.c - the front of the correlator's state (state.h): every
 * operation is applied to memory, and to Redis when one is configured and
 * reachable; the decision is Redis's then, memory's otherwise.
 *
 * When Redis fails (refused, timed out, an error reply) the state says so
 * once on stderr and once to the correlator (one anomaly), decides on
 * memory, and keeps what it learns meanwhile in a bounded journal.  It
 * tries again after 1 s, then twice as long each time up to 30 s (wall
 * clock); once connected it writes the journal back (a batch per
 * operation live, all of it at once reading files) and decides on Redis
 * again only when the journal is empty, so no decision is taken on a
 * Redis that lacks what this sensor saw.
 */
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "state.h"

#define JOURNAL_MAX	16384	/* facts kept for writing back */
#define WRITEBACK_BATCH	256	/* live: written back per operation */
#define RETRY_FIRST	1.0	/* s */
#define RETRY_MAX	30.0

static const char *const kind_names[IW_STATE_KINDS] = {
	[IW_STATE_STARTTLS] = "starttls",
	[IW_STATE_LEAF] = "leaf",
	[IW_STATE_AUTHFAIL] = "authfail",
	[IW_STATE_ONCE] = "once",
};

enum op { OP_PUT_NX, OP_GETSET, OP_WINDOW };

/* An operation applied to memory only, to be written back. */
struct jentry {
	uint8_t			op;
	struct iw_state_key	k;
	struct iw_state_val	v;
	uint64_t		member;
	iw_time			window;
	int			threshold;
};

static struct {
	bool			 open;
	void			*mem;
	struct iw_state_redis	*redis;
	bool			 live;
	bool			 in_use;	/* deciding on Redis */
	bool			 connected;
	double			 next_try;	/* monotonic s */
	double			 backoff;
	bool			 outage_pending;
	char			 outage_why[256];

	struct jentry		*journal;
	size_t			 j_n, j_cap, j_head;

	uint64_t		 ops, redis_ops, failures, outages;
	uint64_t		 reconnects, local_decisions;
	uint64_t		 wb_queued, wb_written, wb_dropped;
} st;

const char *
iw_state_kind_name(enum iw_state_kind k)
{
	return (int)k >= 0 && k < IW_STATE_KINDS ? kind_names[k] : "?";
}

void
iw_state_key_init(struct iw_state_key *k, enum iw_state_kind kind)
{
	memset(k, 0, sizeof(*k));
	k->kind = (uint8_t)kind;
}

/* ---- limits ---- */

void
iw_state_default_limits(struct iw_state_limits lim[IW_STATE_KINDS])
{
	lim[IW_STATE_STARTTLS].cap = 65536;
	lim[IW_STATE_STARTTLS].ttl = 30 * 86400;
	lim[IW_STATE_LEAF].cap = 65536;
	lim[IW_STATE_LEAF].ttl = 90 * 86400;
	lim[IW_STATE_AUTHFAIL].cap = 16384;
	lim[IW_STATE_AUTHFAIL].ttl = 86400;
	lim[IW_STATE_ONCE].cap = 65536;
	lim[IW_STATE_ONCE].ttl = 2 * 86400;
}

uint64_t
iw_state_tier_cap(const struct iw_state_limits *lim, bool established)
{
	uint64_t once = lim->cap / 4 > 0 ? lim->cap / 4 : 1;

	if (!established)
		return once;
	return lim->cap > once ? lim->cap - once : 1;
}

static int
parse_one(char *item, bool ttl, struct iw_state_limits lim[IW_STATE_KINDS],
    char *err, size_t errlen)
{
	char *eq = strchr(item, '='), *end;
	unsigned long long v;
	int k;

	if (eq == NULL)
		goto bad;
	*eq = '\0';
	for (k = 0; k < IW_STATE_KINDS; k++)
		if (strcmp(item, kind_names[k]) == 0)
			break;
	if (k == IW_STATE_KINDS || eq[1] < '0' || eq[1] > '9')
		goto bad;
	v = strtoull(eq + 1, &end, 10);
	if (*end != '\0' || v < 1 || v > (ttl ? 10ULL * 365 * 86400 :
	    100000000ULL))
		goto bad;
	if (ttl)
		lim[k].ttl = v;
	else
		lim[k].cap = v;
	return 0;
bad:
	snprintf(err, errlen, "--state-%s: expected KIND=%s[,...] with KIND "
	    "starttls, leaf, authfail or once%s", ttl ? "ttl" : "cap",
	    ttl ? "SECONDS" : "COUNT", ttl ? " (at most 10 years)" :
	    " (1 to 100000000)");
	return -1;
}

int
iw_state_parse_limits(const char *spec, bool ttl,
    struct iw_state_limits lim[IW_STATE_KINDS], char *err, size_t errlen)
{
	char *copy = strdup(spec), *tok, *save = NULL;
	int rc = 0;

	if (copy == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (tok = strtok_r(copy, ",", &save); tok != NULL && rc == 0;
	    tok = strtok_r(NULL, ",", &save))
		rc = parse_one(tok, ttl, lim, err, errlen);
	free(copy);
	return rc;
}

/* ---- open and close ---- */

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Redis failed: decide on memory, say so once, try again later. */
static void
outage(const char *why)
{
	if (st.in_use || st.connected || st.outages == 0) {
		st.outages++;
		st.outage_pending = true;
		snprintf(st.outage_why, sizeof(st.outage_why), "%s", why);
		fprintf(stderr, "imapwatch: state %s: %s; deciding on this "
		    "sensor's memory until it answers again\n",
		    iw_state_redis_target(st.redis), why);
	}
	st.in_use = false;
	st.connected = false;
	st.next_try = mono() + st.backoff;
	st.backoff = st.backoff * 2 > RETRY_MAX ? RETRY_MAX : st.backoff * 2;
}

static void
try_connect(void)
{
	char why[256];

	if (iw_state_redis_up(st.redis, why, sizeof(why)) != 0) {
		outage(why);
		return;
	}
	if (st.outages > 0)
		st.reconnects++;
	st.connected = true;
	st.backoff = RETRY_FIRST;
}

int
iw_state_open(const char *spec, const char *password,
    const struct iw_state_limits lim[IW_STATE_KINDS], bool live,
    int timeout_ms, char *err, size_t errlen)
{
	memset(&st, 0, sizeof(st));
	if ((st.mem = iw_state_mem_new(lim)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	st.open = true;
	st.live = live;
	st.backoff = RETRY_FIRST;
	if (spec == NULL)
		return 0;
	st.redis = iw_state_redis_new(spec, password, lim, timeout_ms, err,
	    errlen);
	if (st.redis == NULL) {
		iw_state_close();
		return -1;
	}
	try_connect();
	st.in_use = st.connected;
	return 0;
}

void
iw_state_close(void)
{
	iw_state_mem_free(st.mem);
	iw_state_redis_free(st.redis);
	free(st.journal);
	memset(&st, 0, sizeof(st));
}

bool
iw_state_shared(void)
{
	return st.redis != NULL;
}

const char *
iw_state_take_outage(void)
{
	if (!st.outage_pending)
		return NULL;
	st.outage_pending = false;
	return st.outage_why;
}

/* Memory only, by default (the tests' session host opens nothing). */
static void
lazy_open(void)
{
	struct iw_state_limits lim[IW_STATE_KINDS];
	char err[64];

	if (st.open)
		return;
	iw_state_default_limits(lim);
	if (iw_state_open(NULL, NULL, lim, false, 0, err, sizeof(err)) != 0) {
		fprintf(stderr, "imapwatch: %s\n", err);
		exit(1);
	}
}

/* ---- the journal ---- */

static void
journal_add(enum op op, const struct iw_state_key *k,
    const struct iw_state_val *v, uint64_t member, iw_time window,
    int threshold)
{
	struct jentry *e, *grown;
	size_t cap;

	if (st.j_n == JOURNAL_MAX) {
		st.wb_dropped++;
		return;
	}
	if (st.j_head + st.j_n == st.j_cap) {
		if (st.j_head > 0) {
			memmove(st.journal, st.journal + st.j_head,
			    st.j_n * sizeof(*st.journal));
			st.j_head = 0;
		} else {
			cap = st.j_cap ? st.j_cap * 2 : 64;
			if ((grown = realloc(st.journal, cap *
			    sizeof(*grown))) == NULL) {
				st.wb_dropped++;
				return;
			}
			st.journal = grown;
			st.j_cap = cap;
		}
	}
	e = &st.journal[st.j_head + st.j_n++];
	e->op = (uint8_t)op;
	e->k = *k;
	if (v != NULL)
		e->v = *v;
	e->member = member;
	e->window = window;
	e->threshold = threshold;
	st.wb_queued++;
}

static int
replay(const struct jentry *e)
{
	const struct iw_state_backend *b = &iw_state_redis;
	struct iw_state_val old;

	switch (e->op) {
	case OP_PUT_NX:
		return b->put_nx(st.redis, &e->k, &e->v, &old,
		    IW_STATE_REPLAY);
	case OP_GETSET:
		return b->getset(st.redis, &e->k, &e->v, &old,
		    IW_STATE_REPLAY);
	}
	return b->window_add(st.redis, &e->k, e->v.last, e->member,
	    e->window, e->threshold, IW_STATE_REPLAY);
}

/* Writes back a batch (live) or all; Redis is used again once empty. */
static void
drain(void)
{
	size_t n = 0;

	while (st.j_n > 0 && (!st.live || n++ < WRITEBACK_BATCH)) {
		if (replay(&st.journal[st.j_head]) < 0) {
			st.failures++;
			outage(iw_state_redis_error(st.redis));
			return;
		}
		st.j_head++;
		st.j_n--;
		st.wb_written++;
	}
	if (st.j_n > 0)
		return;
	st.j_head = 0;
	if (st.outages > 0)
		fprintf(stderr, "imapwatch: state %s: answering again; %llu "
		    "facts written back\n", iw_state_redis_target(st.redis),
		    (unsigned long long)st.wb_written);
	st.in_use = true;
}

/* Before an operation: is Redis to decide it? */
static bool
use_redis(void)
{
	st.ops++;
	if (st.redis == NULL)
		return false;
	if (!st.connected && mono() >= st.next_try)
		try_connect();
	if (st.connected && !st.in_use)
		drain();
	if (!st.in_use)
		st.local_decisions++;
	return st.in_use;
}

/* After Redis answered (rc) an operation memory has decided (mem_rc). */
static int
settle(int rc, int mem_rc, bool *failed)
{
	*failed = rc < 0;
	if (rc >= 0) {
		st.redis_ops++;
		return rc;
	}
	st.failures++;
	st.local_decisions++;
	outage(iw_state_redis_error(st.redis));
	return mem_rc;
}

/* ---- operations ---- */

int
iw_state_get(const struct iw_state_key *k, struct iw_state_val *out)
{
	struct iw_state_val mv;
	int mrc, rc;
	bool failed;

	lazy_open();
	mrc = iw_state_mem.get(st.mem, k, &mv);
	if (!use_redis()) {
		*out = mv;
		return mrc;
	}
	rc = settle(iw_state_redis.get(st.redis, k, out), mrc, &failed);
	if (failed)
		*out = mv;
	return rc;
}

static int
sight(enum op op, const struct iw_state_key *k, const struct iw_state_val *v,
    struct iw_state_val *old)
{
	const struct iw_state_backend *m = &iw_state_mem, *r = &iw_state_redis;
	struct iw_state_val mold;
	int mrc, rc;
	bool failed;

	lazy_open();
	if (op == OP_GETSET)
		mrc = m->getset(st.mem, k, v, &mold, IW_STATE_DECIDE);
	else
		mrc = m->put_nx(st.mem, k, v, &mold, IW_STATE_DECIDE);
	if (!use_redis()) {
		if (st.redis != NULL)
			journal_add(op, k, v, 0, 0, 0);
		*old = mold;
		return mrc;
	}
	if (op == OP_GETSET)
		rc = r->getset(st.redis, k, v, old, IW_STATE_DECIDE);
	else
		rc = r->put_nx(st.redis, k, v, old, IW_STATE_DECIDE);
	rc = settle(rc, mrc, &failed);
	if (failed) {
		journal_add(op, k, v, 0, 0, 0);
		*old = mold;
	}
	return rc;
}

int
iw_state_put_nx(const struct iw_state_key *k, const struct iw_state_val *v,
    struct iw_state_val *old)
{
	return sight(OP_PUT_NX, k, v, old);
}

int
iw_state_getset(const struct iw_state_key *k, const struct iw_state_val *v,
    struct iw_state_val *old)
{
	return sight(OP_GETSET, k, v, old);
}

int
iw_state_window_add(const struct iw_state_key *k, iw_time ts,
    uint64_t member, iw_time window, int threshold)
{
	struct iw_state_val v;
	int mrc, rc;
	bool failed;

	lazy_open();
	mrc = iw_state_mem.window_add(st.mem, k, ts, member, window,
	    threshold, IW_STATE_DECIDE);
	memset(&v, 0, sizeof(v));
	v.last = ts;
	if (!use_redis()) {
		if (st.redis != NULL)
			journal_add(OP_WINDOW, k, &v, member, window,
			    threshold);
		return mrc;
	}
	rc = settle(iw_state_redis.window_add(st.redis, k, ts, member,
	    window, threshold, IW_STATE_DECIDE), mrc, &failed);
	if (failed)
		journal_add(OP_WINDOW, k, &v, member, window, threshold);
	return rc;
}

/* ---- stats ---- */

static void
add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

static struct json_object *
kinds_object(void)
{
	struct json_object *o = json_object_new_object(), *k;
	int i;

	for (i = 0; i < IW_STATE_KINDS; i++) {
		k = json_object_new_object();
		add_u64(k, "entries", iw_state_mem_count(st.mem, i));
		add_u64(k, "evictions", iw_state_mem_evictions(st.mem, i));
		if (st.redis != NULL)
			add_u64(k, "redis_evictions",
			    iw_state_redis_evictions(st.redis, i));
		json_object_object_add(o, kind_names[i], k);
	}
	return o;
}

struct json_object *
iw_state_stats(void)
{
	struct json_object *o = json_object_new_object(), *r, *wb;

	json_object_object_add(o, "backend",
	    json_object_new_string(st.redis != NULL ? "redis" : "memory"));
	add_u64(o, "operations", st.ops);
	json_object_object_add(o, "memory", kinds_object());
	if (st.redis == NULL)
		return o;
	r = json_object_new_object();
	json_object_object_add(r, "target",
	    json_object_new_string(iw_state_redis_target(st.redis)));
	json_object_object_add(r, "up", json_object_new_boolean(st.in_use));
	add_u64(r, "operations", st.redis_ops);
	add_u64(r, "failures", st.failures);
	add_u64(r, "outages", st.outages);
	add_u64(r, "reconnects", st.reconnects);
	add_u64(r, "decided_locally", st.local_decisions);
	wb = json_object_new_object();
	add_u64(wb, "queued", st.wb_queued);
	add_u64(wb, "written", st.wb_written);
	add_u64(wb, "dropped", st.wb_dropped);
	add_u64(wb, "pending", st.j_n);
	json_object_object_add(r, "writeback", wb);
	json_object_object_add(o, "redis", r);
	return o;
}
