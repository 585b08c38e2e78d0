/* SPDX-License-Identifier: ISC */
/*
 * test_correlate.c - the ordered correlator (correlate.c) and the
 * in-process state (state_mem.c).
 *
 * The merge: three synthetic producers hand over facts whose decisions
 * depend on their order in packet time (a leaf key that changes and
 * changes back, an offer of STARTTLS before and after a session without
 * it, failed logins that reach the threshold only in time order).  Fed in
 * four interleavings (one producer after another, the reverse, round
 * robin, a fixed pseudo-random one), the correlator must write the same
 * events in the same order, and the decisions worked out here by hand
 * from the times.  Also: records that fail their version or length
 * check, the queue's bound, and the state's tiers under a flood.
 */
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "correlate.h"
#include "event.h"
#include "harness.h"
#include "state.h"
#include "stats.h"
#include "suppress.h"

#define NPROD	3
#define MAXF	16
#define SEC	IW_USEC
#define T0	(1764382822LL * IW_USEC)

/* One fact a producer hands over at time t (seconds after T0). */
struct step {
	int		 t;
	enum iw_fact_kind kind;
	const char	*client, *server;
	int		 key;		/* leaf: which key (1, 2) */
	bool		 offers;	/* caps */
};

/*
 * Producer 0 saw the server's first sessions, producer 1 its later ones,
 * producer 2 sessions in between: only the time order tells what
 * happened.
 *
 *   t=1  p0 leaf K1                    first sight
 *   t=2  p2 leaf K1                    same key
 *   t=3  p1 leaf K2                    cert_changed (flow of p1, t=3)
 *   t=4  p2 leaf K2                    same key
 *   t=5  p2 caps without STARTTLS      nothing offered yet: no stripping
 *   t=6  p0 caps with STARTTLS
 *   t=7  p1 caps without STARTTLS      starttls_stripping_suspected
 *   t=8..10 failures p0, p1, p2        auth_bruteforce at t=10 (3 in 60 s)
 *   t=11 p0 leaf K1                    cert_changed again (back to K1)
 */
static const struct step plan[NPROD][MAXF] = {
	{ { 1, IW_FACT_LEAF, "192.0.2.1", "198.51.100.1", 1, false },
	  { 6, IW_FACT_CAPS, "192.0.2.1", "198.51.100.1", 0, true },
	  { 8, IW_FACT_AUTH_FAILED, "192.0.2.9", "198.51.100.1", 0, false },
	  { 11, IW_FACT_LEAF, "192.0.2.1", "198.51.100.1", 1, false } },
	{ { 3, IW_FACT_LEAF, "192.0.2.2", "198.51.100.1", 2, false },
	  { 7, IW_FACT_CAPS, "192.0.2.2", "198.51.100.1", 0, false },
	  { 9, IW_FACT_AUTH_FAILED, "192.0.2.9", "198.51.100.1", 0, false } },
	{ { 2, IW_FACT_LEAF, "192.0.2.3", "198.51.100.1", 1, false },
	  { 4, IW_FACT_LEAF, "192.0.2.3", "198.51.100.1", 2, false },
	  { 5, IW_FACT_CAPS, "192.0.2.3", "198.51.100.1", 0, false },
	  { 10, IW_FACT_AUTH_FAILED, "192.0.2.9", "198.51.100.1", 0, false } },
};

static int
plan_len(int p)
{
	int n = 0;

	while (n < MAXF && plan[p][n].t != 0)
		n++;
	return n;
}

/* Each fact is its own connection: client port = 40000 + 100 p + i. */
static void
flowref(struct iw_flowref *r, int p, int i, const struct step *s)
{
	struct iw_endpoints ep;

	memset(&ep, 0, sizeof(ep));
	iw_addr_parse(s->client, &ep.client);
	iw_addr_parse(s->server, &ep.server);
	ep.cport = (uint16_t)(40000 + 100 * p + i);
	ep.sport = 993;
	iw_flowref_init(r, &ep, T0 + (iw_time)s->t * SEC);
}

/* The evidence a dissector would give with the fact (the alert's). */
static struct json_object *
evidence(enum iw_fact_kind kind)
{
	struct json_object *o = json_object_new_object(), *nc, *caps;

	switch (kind) {
	case IW_FACT_LEAF:
		json_object_object_add(o, "subject",
		    json_object_new_string("CN=imap.example.test"));
		nc = json_object_new_object();
		json_object_object_add(nc, "name",
		    json_object_new_string("imap.example.test"));
		json_object_object_add(nc, "source",
		    json_object_new_string("sni"));
		json_object_object_add(nc, "result",
		    json_object_new_string("match"));
		json_object_object_add(o, "name_check", nc);
		break;
	case IW_FACT_CAPS:
		caps = json_object_new_array();
		json_object_array_add(caps, json_object_new_string("IMAP4rev1"));
		json_object_object_add(o, "capabilities", caps);
		break;
	default:
		json_object_object_add(o, "command",
		    json_object_new_string("LOGIN"));
		break;
	}
	return o;
}

/* An anomaly event of the connection, as the session host makes them. */
static struct json_object *
anomaly(const struct iw_flowref *r, iw_time t)
{
	struct json_object *ev = iw_event_new("anomaly", t, r), *an;

	an = iw_anomaly_eve("stream", "overlap_different_data_toserver",
	    "tcp");
	json_object_object_add(ev, "anomaly", an);
	return ev;
}

static void
hand_over(struct iw_corr_producer *prod, int p, int i)
{
	const struct step *s = &plan[p][i];
	struct iw_flowref r;
	struct iw_fact f;
	iw_time t = T0 + (iw_time)s->t * SEC;

	flowref(&r, p, i, s);
	iw_corr_advance(prod, t);
	iw_fact_init(&f, s->kind);
	f.ts = t;
	f.flow_id = r.flow_id;
	switch (s->kind) {
	case IW_FACT_LEAF:
		f.u.leaf.server = r.ep.server;
		f.u.leaf.port = r.ep.sport;
		strcpy(f.u.leaf.name, "imap.example.test");
		f.u.leaf.name_len = (uint16_t)strlen(f.u.leaf.name);
		memset(f.u.leaf.key_sha256, s->key, 32);
		f.u.leaf.name_check = IW_CHECK_MATCH;
		break;
	case IW_FACT_CAPS:
		f.u.caps.server = r.ep.server;
		f.u.caps.port = r.ep.sport;
		f.u.caps.offers_starttls = s->offers;
		break;
	case IW_FACT_AUTH_FAILED:
		f.u.auth.client = r.ep.client;
		f.u.auth.attempt = 1;
		break;
	default:
		break;
	}
	iw_corr_submit(prod, &f, &r, "imap", evidence(s->kind));
}

/*
 * Runs the plan in the order sched gives (producer numbers; each takes
 * its next step).  Returns the events' text, one line each, as written,
 * and how many were written before the producers were done.
 */
static char *
run(const int *sched, int n, uint64_t *early)
{
	struct iw_corr_producer *prod[NPROD];
	struct json_object *ev, *e;
	int next[NPROD] = { 0 }, i, p;
	size_t k, len = 0;
	char *text = calloc(1, 1 << 16);
	const char *line;

	iw_corr_shutdown();
	iw_state_close();
	th_clear();
	for (p = 0; p < NPROD; p++)
		prod[p] = iw_corr_producer_new();
	iw_stats.events = 0;
	for (i = 0; i < n; i++) {
		p = sched[i];
		if (next[p] < plan_len(p))
			hand_over(prod[p], p, next[p]++);
	}
	*early = iw_stats.events;
	for (p = 0; p < NPROD; p++)
		iw_corr_producer_done(prod[p]);
	ev = th_events();
	for (k = 0; k < json_object_array_length(ev); k++) {
		e = json_object_array_get_idx(ev, k);
		line = json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN);
		len += (size_t)snprintf(text + len, (1 << 16) - len, "%s\n",
		    line);
	}
	json_object_put(ev);
	return text;
}

/* "signature@seconds:port" of each alert, in order. */
static void
decisions(const char *text, char *out, size_t outlen)
{
	struct json_object *e;
	const char *p = text, *nl;
	char line[8192];
	size_t o = 0;

	out[0] = '\0';
	for (; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
		if ((e = json_tokener_parse(line)) == NULL)
			continue;
		if (strcmp(th_str(e, "event_type"), "alert") == 0)
			o += (size_t)snprintf(out + o, outlen - o, "%s@%s:%d ",
			    th_str(e, "alert.signature"),
			    th_str(e, "timestamp") + 17,
			    json_object_get_int(th_get(e, "src_port")));
		json_object_put(e);
	}
}

static void
test_merge(void)
{
	static const int seq[] = { 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2 };
	static const int rev[] = { 2, 2, 2, 2, 1, 1, 1, 0, 0, 0, 0 };
	static const int rr[] = { 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 2 };
	int rnd[64], i, n;
	uint32_t x = 2463534242u;
	uint64_t e1, e2, e3, e4;
	char *a, *b, *c, *d, dec[2048];

	for (i = n = 0; n < 64; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		rnd[n++] = (int)(x % NPROD);
	}
	a = run(seq, 11, &e1);
	b = run(rev, 11, &e2);
	c = run(rr, 11, &e3);
	d = run(rnd, 64, &e4);
	decisions(a, dec, sizeof(dec));
	CHECK(strcmp(dec, "cert_changed@25.000000+0000:40100 "
	    "starttls_stripping_suspected@29.000000+0000:40101 "
	    "auth_bruteforce@32.000000+0000:40203 "
	    "cert_changed@33.000000+0000:40003 ") == 0,
	    "merge: the decisions of the times (key change at 3 on p1, "
	    "stripping at 7 only, brute force at the third failure, key back "
	    "at 11): %s", dec);
	CHECK(strcmp(a, b) == 0 && strcmp(a, c) == 0 && strcmp(a, d) == 0,
	    "merge: producers one after another, reversed, round robin and "
	    "shuffled write the same events in the same order");
	CHECK(e3 > 0, "merge: round robin, the correlator takes as the "
	    "watermarks pass (%llu of the events before the end; %llu, %llu, "
	    "%llu in the other orders)", (unsigned long long)e3,
	    (unsigned long long)e1, (unsigned long long)e2,
	    (unsigned long long)e4);
	free(a);
	free(b);
	free(c);
	free(d);
}

/* A producer that has said nothing, or is behind, holds the others. */
static void
test_watermark(void)
{
	struct iw_corr_producer *p, *q;
	struct iw_flowref r;
	struct iw_fact f;
	uint64_t before;
	int i;

	iw_corr_shutdown();
	th_clear();
	p = iw_corr_producer_new();
	q = iw_corr_producer_new();
	flowref(&r, 0, 0, &plan[0][0]);
	before = iw_stats.events;
	for (i = 1; i <= 5; i++) {
		iw_corr_advance(p, T0 + i * SEC);
		iw_fact_init(&f, IW_FACT_EVENT);
		f.ts = T0 + i * SEC;
		f.flow_id = r.flow_id;
		iw_corr_submit(p, &f, &r, NULL, anomaly(&r, f.ts));
	}
	CHECK(iw_stats.events == before, "a silent producer: nothing taken");
	iw_corr_advance(q, T0 + 3 * SEC);
	CHECK(iw_stats.events == before + 2, "it moves to 3 s: the records "
	    "of 1 and 2 s are taken, not that of 3 s (%llu)",
	    (unsigned long long)(iw_stats.events - before));
	iw_corr_producer_done(q);
	CHECK(iw_stats.events == before + 4, "it is done: all but the "
	    "other's newest (its clock may still hand over 5 s)");
	iw_corr_producer_done(p);
	CHECK(iw_stats.events == before + 5, "both done: all");
}

/* A record whose version or length does not match is dropped, counted. */
static void
test_invalid(void)
{
	struct iw_corr_producer *p;
	struct json_object *st, *inv;
	struct iw_flowref r;
	struct iw_fact f;
	uint64_t before = iw_stats.events;

	iw_corr_shutdown();
	th_clear();
	p = iw_corr_producer_new();
	flowref(&r, 0, 0, &plan[0][0]);
	iw_fact_init(&f, IW_FACT_LEAF);
	f.version = IW_FACT_VERSION + 1;
	iw_corr_submit(p, &f, &r, "imap", json_object_new_object());
	iw_fact_init(&f, IW_FACT_CAPS);
	f.len = 3;
	iw_corr_submit(p, &f, &r, "imap", NULL);
	iw_fact_init(&f, IW_FACT_LEAF);
	f.u.leaf.server.family = AF_INET;
	f.u.leaf.name_len = IW_STATE_NAME_MAX;
	iw_corr_submit(p, &f, &r, "imap", NULL);
	iw_fact_init(&f, IW_FACT_ALERT);
	f.u.alert.finding = IW_F_COUNT;
	iw_corr_submit(p, &f, &r, "imap", json_object_new_object());
	iw_fact_init(&f, IW_FACT_KINDS);
	iw_corr_submit(p, &f, &r, "imap", NULL);
	iw_corr_flush();
	st = iw_corr_stats();
	inv = th_get(st, "invalid");
	CHECK(inv != NULL && json_object_get_int(inv) == 5 &&
	    iw_stats.events == before,
	    "five records with a wrong version, length, name length, finding "
	    "or kind: dropped, counted, nothing written");
	json_object_put(st);
}

/* Past IW_CORR_QUEUE_MAX waiting records the oldest go early. */
static void
test_bound(void)
{
	struct iw_corr_producer *p, *idle;
	struct json_object *st;
	struct iw_flowref r;
	struct iw_fact f;
	int i;

	iw_corr_shutdown();
	th_clear();
	p = iw_corr_producer_new();
	idle = iw_corr_producer_new();	/* holds the watermark */
	flowref(&r, 0, 0, &plan[0][0]);
	iw_corr_advance(p, T0);
	for (i = 0; i < IW_CORR_QUEUE_MAX + 10; i++) {
		iw_fact_init(&f, IW_FACT_EVENT);
		f.ts = T0;
		f.flow_id = r.flow_id;
		iw_corr_submit(p, &f, &r, NULL, anomaly(&r, T0));
	}
	st = iw_corr_stats();
	CHECK(json_object_get_int(th_get(st, "released_early")) == 10 &&
	    json_object_get_int(th_get(st, "queue_peak")) ==
	    IW_CORR_QUEUE_MAX + 1,
	    "a producer that never moves holds %d records at most; the 10 "
	    "past it go early, counted", IW_CORR_QUEUE_MAX);
	json_object_put(st);
	(void)idle;
	iw_corr_shutdown();
	th_clear();
}

/* ---- the in-process state ---- */

static void
server(struct iw_state_key *k, int i)
{
	iw_state_key_init(k, IW_STATE_STARTTLS);
	k->family = AF_INET;
	k->addr[10] = k->addr[11] = 0xff;
	k->addr[12] = 10;
	k->addr[13] = (uint8_t)(i >> 16);
	k->addr[14] = (uint8_t)(i >> 8);
	k->addr[15] = (uint8_t)i;
	k->port = 143;
}

static int
sight(int i, uint64_t flow, iw_time t)
{
	struct iw_state_key k;
	struct iw_state_val v, old;

	server(&k, i);
	memset(&v, 0, sizeof(v));
	v.first = v.last = t;
	v.first_flow = v.last_flow = flow;
	v.sessions = 1;
	return iw_state_put_nx(&k, &v, &old);
}

static bool
known(int i)
{
	struct iw_state_key k;
	struct iw_state_val v;

	server(&k, i);
	return iw_state_get(&k, &v) == 1;
}

static void
test_tiers(void)
{
	struct iw_state_limits lim[IW_STATE_KINDS];
	struct json_object *st;
	char err[128];
	int i;

	iw_state_close();
	iw_state_default_limits(lim);
	lim[IW_STATE_STARTTLS].cap = 8;		/* 2 seen once, 6 more */
	CHECK(iw_state_open(NULL, NULL, lim, false, 0, err, sizeof(err)) == 0,
	    "memory state opens");
	CHECK(sight(1, 101, T0) == 0 && sight(1, 101, T0 + SEC) == 1 &&
	    sight(1, 102, T0 + 2 * SEC) == 1,
	    "a fact: new, then known (same session twice, then another)");
	sight(2, 201, T0 + 3 * SEC);
	for (i = 0; i < 1000; i++)
		sight(1000 + i, 5000 + (uint64_t)i, T0 + (10 + i) * SEC);
	CHECK(known(1), "a server seen in two sessions stays through a flood "
	    "of 1000 servers seen once");
	CHECK(!known(2), "a server seen once before the flood is pushed out");
	st = iw_state_stats();
	CHECK(json_object_get_int(th_get(st, "memory.starttls.entries")) <= 8 &&
	    json_object_get_int(th_get(st, "memory.starttls.evictions")) >= 998,
	    "the kind stays within its cap of 8 (%d), evictions counted (%d)",
	    json_object_get_int(th_get(st, "memory.starttls.entries")),
	    json_object_get_int(th_get(st, "memory.starttls.evictions")));
	json_object_put(st);
	iw_state_close();
}

static int
fail_at(int s)
{
	struct iw_state_key k;

	iw_state_key_init(&k, IW_STATE_AUTHFAIL);
	k.family = AF_INET;
	k.addr[15] = 9;
	return iw_state_window_add(&k, T0 + (iw_time)s * SEC, (uint64_t)s,
	    10 * SEC, 3);
}

static void
test_window(void)
{
	iw_state_close();
	CHECK(fail_at(0) == 0 && fail_at(5) == 0 && fail_at(20) == 0 &&
	    fail_at(21) == 0 && fail_at(22) == 1,
	    "3 failures in 10 s: not at 0, 5, 20, 21 (never 3 within 10 s), "
	    "at 22");
	CHECK(fail_at(23) == 0 && fail_at(24) == 0 && fail_at(25) == 1,
	    "the count starts again after an alert: the next at 25");
	iw_state_close();
}

int
main(void)
{
	th_init();
	iw_cfg.bruteforce_count = 3;
	iw_cfg.bruteforce_window = 60;
	iw_noise_set_once_per_server(false, false);
	test_merge();
	test_watermark();
	test_invalid();
	test_bound();
	test_tiers();
	test_window();
	iw_corr_shutdown();
	iw_state_close();
	return th_done();
}
