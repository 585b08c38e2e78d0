/* SPDX-License-Identifier: ISC */
/*
 * correlate.c - the one ordered correlator (see correlate.h).
 *
 * Records wait in a binary heap ordered by (clock, flow_id, seq,
 * producer).  A record is taken once every producer's watermark is past
 * its clock; taking it means deciding (facts), or writing (events), in
 * that order.  The session event comes last of its connection's records,
 * so the findings decided here are in its list when it is written.
 */
#include <json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "alerted.h"
#include "anomaly_rate.h"
#include "config.h"
#include "correlate.h"
#include "event.h"
#include "event_batch.h"
#include "stats.h"
#include "summary.h"
#include "suppress.h"

#define SESS_MAX	65536	/* sessions with findings of ours, open */
#define SESS_BUCKETS	4096
#define DAY		(86400 * IW_USEC)

/*
 * clock is the watermark the others read; stamp the time records are
 * handed over with.  They move together (iw_corr_advance) except for a
 * worker, which stamps every packet and publishes its watermark once a
 * batch (iw_corr_stamp, then iw_corr_advance).
 */
struct iw_corr_producer {
	uint32_t	id;
	iw_time		clock;
	iw_time		stamp;
	uint64_t	seq;
	bool		done;
};

struct rec {
	struct iw_fact		 f;
	struct iw_flowref	 ref;
	const char		*app;
	struct json_object	*obj;
};

/* The findings decided here for a session whose event is not written. */
struct sess {
	struct sess	*next;
	uint64_t	 flow_id;
	uint64_t	 bits;
};

static struct iw_corr_producer *producers[IW_CORR_MAX_PRODUCERS];
static int n_producers;
/* the calling thread's producer: the engine's, or its worker's */
static _Thread_local struct iw_corr_producer *engine;

/*
 * With workers (iw_corr_threads) every entry point holds this lock, so
 * the correlator, and everything behind it (suppress.c's notes,
 * --write-alerted's marks, the summary, the report, the sinks), runs in
 * one thread at a time, whichever worker's watermark let records go.
 * Without workers it is never taken.
 */
static pthread_mutex_t corr_lock = PTHREAD_MUTEX_INITIALIZER;
static bool threaded;

/* --anomaly-rate: the process-wide limit, applied in key order here */
static struct iw_anomaly_rate anomaly_rate;
static bool anomaly_rate_set;
static char anomaly_kinds[IW_MAX_ANOMALY_KINDS][IW_ANOMALY_KIND_LEN];
static int n_anomaly_kinds;

static struct rec **heap;
static size_t heap_n, heap_cap;

static struct sess *sessions[SESS_BUCKETS];
static size_t n_sessions;

static struct {
	uint64_t	records;	/* taken */
	uint64_t	facts;		/* of which facts */
	uint64_t	invalid;
	uint64_t	released_early;
	uint64_t	late;
	uint64_t	queue_peak;
	uint64_t	findings_unlisted;
} cs;
static iw_time last_clock = INT64_MIN;	/* of the last record taken */
static uint64_t last_flow;

static void
lock(void)
{
	if (threaded)
		pthread_mutex_lock(&corr_lock);
}

/* Events let go under the lock are written once it is released
 * (event_batch.h): serialising them is the costly part. */
static void
unlock(void)
{
	bool held;

	if (!threaded)
		return;
	if ((held = iw_event_holding()))
		iw_event_seal();
	pthread_mutex_unlock(&corr_lock);
	if (held)
		iw_event_write_sealed();
}

void
iw_corr_threads(bool on)
{
	threaded = on;
}

void
iw_corr_lock(void)
{
	lock();
}

void
iw_corr_unlock(void)
{
	unlock();
}

/* ---- records ---- */

static size_t
body_len(enum iw_fact_kind kind)
{
	switch (kind) {
	case IW_FACT_CAPS:		return sizeof(struct iw_fact_caps);
	case IW_FACT_LEAF:		return sizeof(struct iw_fact_leaf);
	case IW_FACT_AUTH_FAILED:	return sizeof(struct iw_fact_auth);
	case IW_FACT_ALERT:		return sizeof(struct iw_fact_alert);
	case IW_FACT_EVENT:		return 0;
	case IW_FACT_SESSION_END:	return sizeof(struct iw_fact_end);
	case IW_FACT_ANOMALY:		return sizeof(struct iw_fact_anomaly);
	case IW_FACT_KINDS:		break;
	}
	return 0;
}

void
iw_fact_init(struct iw_fact *f, enum iw_fact_kind kind)
{
	memset(f, 0, sizeof(*f));
	f->version = IW_FACT_VERSION;
	f->kind = (uint8_t)kind;
	f->len = (uint16_t)body_len(kind);
}

static bool
family_ok(const struct iw_addr *a)
{
	return a->family == AF_INET || a->family == AF_INET6;
}

/* Everything a decision reads, checked before it reads it. */
static bool
fact_valid(const struct iw_fact *f)
{
	if (f->version != IW_FACT_VERSION || f->kind < IW_FACT_CAPS ||
	    f->kind >= IW_FACT_KINDS || f->len != body_len(f->kind))
		return false;
	switch (f->kind) {
	case IW_FACT_CAPS:
		return family_ok(&f->u.caps.server);
	case IW_FACT_LEAF:
		return family_ok(&f->u.leaf.server) &&
		    f->u.leaf.name_len < IW_STATE_NAME_MAX &&
		    f->u.leaf.name[f->u.leaf.name_len] == '\0' &&
		    f->u.leaf.name_check <= IW_CHECK_ENCRYPTED;
	case IW_FACT_AUTH_FAILED:
		return family_ok(&f->u.auth.client);
	case IW_FACT_ALERT:
		return f->u.alert.finding < IW_F_COUNT &&
		    f->u.alert.severity <= 3;
	case IW_FACT_ANOMALY:
		return memchr(f->u.anomaly.kind, '\0',
		    sizeof(f->u.anomaly.kind)) != NULL;
	}
	return true;
}

/* ---- the heap ---- */

static bool
before(const struct rec *a, const struct rec *b)
{
	if (a->f.clock != b->f.clock)
		return a->f.clock < b->f.clock;
	if (a->f.flow_id != b->f.flow_id)
		return a->f.flow_id < b->f.flow_id;
	if (a->f.seq != b->f.seq)
		return a->f.seq < b->f.seq;
	return a->f.producer < b->f.producer;
}

static void
swap(size_t i, size_t j)
{
	struct rec *t = heap[i];

	heap[i] = heap[j];
	heap[j] = t;
}

static bool
heap_push(struct rec *r)
{
	struct rec **grown;
	size_t i, cap;

	if (heap_n == heap_cap) {
		cap = heap_cap ? heap_cap * 2 : 256;
		if ((grown = realloc(heap, cap * sizeof(*heap))) == NULL)
			return false;
		heap = grown;
		heap_cap = cap;
	}
	i = heap_n++;
	heap[i] = r;
	while (i > 0 && before(heap[i], heap[(i - 1) / 2])) {
		swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	if (heap_n > cs.queue_peak)
		cs.queue_peak = heap_n;
	return true;
}

static struct rec *
heap_pop(void)
{
	struct rec *top = heap[0];
	size_t i = 0, l, m;

	heap[0] = heap[--heap_n];
	for (;;) {
		l = 2 * i + 1;
		m = i;
		if (l < heap_n && before(heap[l], heap[m]))
			m = l;
		if (l + 1 < heap_n && before(heap[l + 1], heap[m]))
			m = l + 1;
		if (m == i)
			break;
		swap(i, m);
		i = m;
	}
	return top;
}

/* ---- sessions with findings decided here ---- */

static struct sess **
sess_slot(uint64_t flow_id)
{
	struct sess **pp;

	pp = &sessions[(flow_id * 0x9e3779b97f4a7c15ULL) >> 52];
	while (*pp != NULL && (*pp)->flow_id != flow_id)
		pp = &(*pp)->next;
	return pp;
}

/* Records f for the session; false if it had it already. */
static bool
sess_add(uint64_t flow_id, enum iw_finding f)
{
	struct sess **pp = sess_slot(flow_id), *s = *pp;

	if (s == NULL) {
		if (n_sessions == SESS_MAX || (s = calloc(1, sizeof(*s))) ==
		    NULL) {
			/* still alerted, not in the session's list */
			cs.findings_unlisted++;
			return true;
		}
		s->flow_id = flow_id;
		*pp = s;
		n_sessions++;
	}
	if (s->bits & (1ULL << f))
		return false;
	s->bits |= 1ULL << f;
	return true;
}

static uint64_t
sess_take(uint64_t flow_id)
{
	struct sess **pp = sess_slot(flow_id), *s = *pp;
	uint64_t bits;

	if (s == NULL)
		return 0;
	bits = s->bits;
	*pp = s->next;
	free(s);
	n_sessions--;
	return bits;
}

/* ---- writing ---- */

static void
write_event(struct json_object *ev)
{
	if (ev != NULL)
		iw_summary_observe(ev);
	if (threaded)
		iw_event_hold(ev);
	else
		iw_event_emit(ev);
}

static struct json_object *
alert_event(const struct iw_flowref *ref, const char *app, iw_time ts,
    enum iw_finding f, int severity, struct json_object *evidence)
{
	const struct iw_finding_info *fi = iw_finding_info(f);
	struct json_object *ev, *alert;

	if ((ev = iw_event_new("alert", ts, ref)) == NULL) {
		json_object_put(evidence);
		return NULL;
	}
	json_object_object_add(ev, "app_proto",
	    json_object_new_string(app ? app : "imap"));
	alert = json_object_new_object();
	/* Suricata's order; a passive sensor allows everything */
	json_object_object_add(alert, "action",
	    json_object_new_string("allowed"));
	json_object_object_add(alert, "gid", json_object_new_int(IW_ALERT_GID));
	json_object_object_add(alert, "signature_id",
	    json_object_new_int(fi->signature_id));
	json_object_object_add(alert, "rev", json_object_new_int(IW_ALERT_REV));
	json_object_object_add(alert, "signature",
	    json_object_new_string(fi->id));
	json_object_object_add(alert, "category",
	    json_object_new_string(fi->category));
	json_object_object_add(alert, "severity",
	    json_object_new_int(severity > 0 ? severity : fi->severity));
	json_object_object_add(alert, "message",
	    json_object_new_string(fi->message));
	json_object_object_add(ev, "alert", alert);
	if (evidence != NULL)
		json_object_object_add(ev,
		    fi->layer == IW_LAYER_TLS ? "tls" : "imap", evidence);
	return ev;
}

/*
 * An alert decided here is written: its connection goes to
 * --write-alerted, up to the record's clock (at least its packet time,
 * and past every packet the producer handled before it was taken).
 */
static void
write_alert(const struct rec *r, struct json_object *ev)
{
	iw_alerted_mark(&r->ref, r->f.clock > r->f.ts ? r->f.clock : r->f.ts);
	write_event(ev);
}

/* A finding decided here: once a session, counted, --suppress applies. */
static void
raise_finding(struct rec *r, enum iw_finding f, struct json_object *evidence)
{
	struct json_object *ev;

	r->obj = NULL;
	if (!sess_add(r->f.flow_id, f)) {
		json_object_put(evidence);
		return;
	}
	iw_stats.findings[f]++;
	if (!iw_noise_alert(&r->ref, f, evidence))
		return;
	if ((ev = alert_event(&r->ref, r->app, r->f.ts, f, 0, evidence)) !=
	    NULL)
		write_alert(r, ev);
}

/* The backend became unreachable while deciding r: one anomaly on it. */
static void
state_outage(const struct rec *r)
{
	struct json_object *ev, *an;

	if (iw_state_take_outage() == NULL)
		return;
	iw_stats_anomaly("correlate", "state_backend_unreachable");
	if ((ev = iw_event_new("anomaly", r->f.ts, &r->ref)) == NULL)
		return;
	if (r->app != NULL)
		json_object_object_add(ev, "app_proto",
		    json_object_new_string(r->app));
	/* EVE has no kind for a sensor's own memory: the session's
	 * application layer, with our own event name */
	an = iw_anomaly_eve("applayer", "state_backend_unreachable",
	    r->app != NULL ? r->app : "imap");
	json_object_object_add(ev, "anomaly", an);
	write_event(ev);
}

/* ---- decisions ---- */

static void
server_key(struct iw_state_key *k, enum iw_state_kind kind,
    const struct iw_addr *a, uint16_t port)
{
	iw_state_key_init(k, kind);
	k->family = a->family;
	memcpy(k->addr, a->a, sizeof(k->addr));
	k->port = port;
}

/* A value for one sighting in this record's session. */
static void
sighting(struct iw_state_val *v, const struct rec *r)
{
	memset(v, 0, sizeof(*v));
	v->first = v->last = r->f.ts;
	v->first_flow = v->last_flow = r->f.flow_id;
	v->sessions = 1;
}

/*
 * starttls_stripping_suspected: this server offered STARTTLS in an
 * earlier session, not in this one.
 */
static void
take_caps(struct rec *r)
{
	const struct iw_fact_caps *c = &r->f.u.caps;
	struct iw_state_key k;
	struct iw_state_val v, old;

	server_key(&k, IW_STATE_STARTTLS, &c->server, c->port);
	if (c->offers_starttls) {
		sighting(&v, r);
		iw_state_put_nx(&k, &v, &old);
	} else if (iw_state_get(&k, &old) == 1 &&
	    old.first_flow != r->f.flow_id)
		raise_finding(r, IW_F_STARTTLS_STRIPPING_SUSPECTED, r->obj);
	state_outage(r);
}

static void
add_hex(struct json_object *o, const char *key, const uint8_t d[32])
{
	char hex[65];
	int i;

	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	json_object_object_add(o, key, json_object_new_string(hex));
}

/* cert_changed: the same server and name showed another leaf key. */
static void
take_leaf(struct rec *r)
{
	const struct iw_fact_leaf *l = &r->f.u.leaf;
	struct iw_state_key k;
	struct iw_state_val v, old;

	server_key(&k, IW_STATE_LEAF, &l->server, l->port);
	k.name_len = l->name_len;
	memcpy(k.name, l->name, l->name_len);
	sighting(&v, r);
	memcpy(v.key_sha256, l->key_sha256, sizeof(v.key_sha256));
	v.name_check = l->name_check;
	v.has_key = 1;
	if (iw_state_getset(&k, &v, &old) == 1 && old.has_key &&
	    memcmp(old.key_sha256, l->key_sha256, 32) != 0) {
		if (r->obj == NULL)
			r->obj = json_object_new_object();
		add_hex(r->obj, "previous_key_sha256", old.key_sha256);
		add_hex(r->obj, "key_sha256", l->key_sha256);
		raise_finding(r, IW_F_CERT_CHANGED, r->obj);
	}
	state_outage(r);
}

/*
 * auth_bruteforce: bruteforce_count failures from one client within
 * bruteforce_window seconds of packet time.
 */
static void
take_auth_failed(struct rec *r)
{
	const struct iw_fact_auth *a = &r->f.u.auth;
	struct iw_state_key k;
	uint64_t member;

	if (iw_cfg.bruteforce_count <= 0 || iw_cfg.bruteforce_window <= 0)
		return;
	iw_state_key_init(&k, IW_STATE_AUTHFAIL);
	k.family = a->client.family;
	memcpy(k.addr, a->client.a, sizeof(k.addr));
	member = r->f.flow_id << 12 ^ a->attempt;
	if (iw_state_window_add(&k, r->f.ts, member,
	    (iw_time)iw_cfg.bruteforce_window * IW_USEC,
	    iw_cfg.bruteforce_count) == 1) {
		if (r->obj == NULL)
			r->obj = json_object_new_object();
		json_object_object_add(r->obj, "count",
		    json_object_new_int(iw_cfg.bruteforce_count));
		json_object_object_add(r->obj, "window",
		    json_object_new_int(iw_cfg.bruteforce_window));
		raise_finding(r, IW_F_AUTH_BRUTEFORCE, r->obj);
	}
	state_outage(r);
}

/*
 * --alert-once-per-server: true when this posture alert is folded (an
 * alert was written for the server and finding in the period).  Written
 * alerts are remembered even while folding is off, so a reload that
 * turns it on knows what was already said.  The period is the UTC day of
 * packet time live and with shared state (a fleet has no common run),
 * else the run.
 */
static bool
folded(struct rec *r)
{
	enum iw_finding f = (enum iw_finding)r->f.u.alert.finding;
	struct iw_state_key k;
	struct iw_state_val v, old;
	bool live, on = iw_noise_once_per_server(&live);
	iw_time ts = r->f.ts;
	int rc;

	server_key(&k, IW_STATE_ONCE, &r->ref.ep.server, r->ref.ep.sport);
	k.finding = (uint16_t)f;
	k.period = -1;
	if (live || iw_state_shared())
		k.period = (ts >= 0 ? ts : ts - DAY + 1) / DAY;
	sighting(&v, r);
	if (!on) {
		if (iw_state_get(&k, &old) == 0)
			iw_state_put_nx(&k, &v, &old);
		state_outage(r);
		return false;
	}
	rc = iw_state_put_nx(&k, &v, &old);
	state_outage(r);
	if (rc != 1)
		return false;
	iw_noise_note_repeat(&r->ref, f, old.repeats + 1);
	return true;
}

/*
 * A dissector's alert, marked for --write-alerted when it was raised
 * unless the fold had to decide (iw_corr_alert; marking twice is
 * harmless, should a reload have turned folding on or off since).
 */
static void
take_alert(struct rec *r)
{
	if (!r->f.u.alert.posture)
		write_event(r->obj);
	else if (!folded(r))
		write_alert(r, r->obj);
	else
		json_object_put(r->obj);
	r->obj = NULL;
}

/* The index of an anomaly kind in the rate limit's table (past it: -1). */
static int
anomaly_kind(const char *kind)
{
	int i;

	for (i = 0; i < n_anomaly_kinds; i++)
		if (strcmp(anomaly_kinds[i], kind) == 0)
			return i;
	if (i == IW_MAX_ANOMALY_KINDS)
		return -1;
	snprintf(anomaly_kinds[i], sizeof(anomaly_kinds[i]), "%s", kind);
	n_anomaly_kinds++;
	return i;
}

/*
 * An anomaly event, written unless --anomaly-rate holds it back: the
 * limit spans every session, so it is applied here, in key order on
 * packet time, whatever worker the session was on.
 */
static void
take_anomaly(struct rec *r)
{
	int kind = anomaly_kind(r->f.u.anomaly.kind);

	/* set up, and again when a reload changed the rate */
	if (!anomaly_rate_set ||
	    anomaly_rate.per_second != iw_cfg.anomaly_rate) {
		iw_anomaly_rate_init(&anomaly_rate, iw_cfg.anomaly_rate);
		anomaly_rate_set = true;
	}
	if (!iw_anomaly_rate_admit(&anomaly_rate, kind < 0 ?
	    IW_ANOMALY_KINDS - 1 : (unsigned)kind, r->f.ts)) {
		iw_stats.anomalies_rate_limited++;
		return;
	}
	write_event(r->obj);
	r->obj = NULL;
}

/* The session's findings list, with those decided here. */
static void
complete_session(struct rec *r)
{
	uint64_t ours = sess_take(r->f.flow_id), all;
	struct json_object *app, *list;
	int f;

	if (ours == 0 || r->app == NULL ||
	    !json_object_object_get_ex(r->obj, r->app, &app))
		return;
	all = r->f.u.end.findings | ours;
	list = json_object_new_array();
	for (f = 0; f < IW_F_COUNT; f++)
		if (all & (1ULL << f))
			json_object_array_add(list,
			    json_object_new_string(iw_finding_info(f)->id));
	json_object_object_add(app, "findings", list);
}

static void
take(struct rec *r)
{
	cs.records++;
	if (r->f.clock < last_clock || (r->f.clock == last_clock &&
	    r->f.flow_id < last_flow))
		cs.late++;
	last_clock = r->f.clock;
	last_flow = r->f.flow_id;
	if (!fact_valid(&r->f)) {
		cs.invalid++;
		return;
	}
	switch (r->f.kind) {
	case IW_FACT_CAPS:
		cs.facts++;
		take_caps(r);
		break;
	case IW_FACT_LEAF:
		cs.facts++;
		take_leaf(r);
		break;
	case IW_FACT_AUTH_FAILED:
		cs.facts++;
		take_auth_failed(r);
		break;
	case IW_FACT_ALERT:
		take_alert(r);
		break;
	case IW_FACT_ANOMALY:
		take_anomaly(r);
		break;
	case IW_FACT_SESSION_END:
		complete_session(r);
		/* FALLTHROUGH */
	case IW_FACT_EVENT:
		write_event(r->obj);
		r->obj = NULL;
		break;
	}
}

static void
take_and_free(struct rec *r)
{
	take(r);
	json_object_put(r->obj);
	free(r);
}

/* ---- producers ---- */

struct iw_corr_producer *
iw_corr_producer_new(void)
{
	struct iw_corr_producer *p = NULL;

	lock();
	if (n_producers < IW_CORR_MAX_PRODUCERS &&
	    (p = calloc(1, sizeof(*p))) != NULL) {
		p->id = (uint32_t)n_producers;
		p->clock = p->stamp = INT64_MIN;
		producers[n_producers++] = p;
	}
	unlock();
	return p;
}

void
iw_corr_set_engine(struct iw_corr_producer *p)
{
	engine = p;
}

struct iw_corr_producer *
iw_corr_engine(void)
{
	if (engine == NULL && (engine = iw_corr_producer_new()) == NULL) {
		fprintf(stderr, "imapwatch: out of memory\n");
		exit(1);
	}
	return engine;
}

/* The lowest watermark: records older than it are taken. */
static iw_time
watermark(void)
{
	iw_time w = INT64_MAX;
	int i;

	for (i = 0; i < n_producers; i++)
		if (!producers[i]->done && producers[i]->clock < w)
			w = producers[i]->clock;
	return w;
}

static void
flush_locked(void)
{
	while (heap_n > 0)
		take_and_free(heap_pop());
}

static void
release_locked(void)
{
	iw_time w = watermark();

	if (w == INT64_MAX) {
		flush_locked();
		return;
	}
	while (heap_n > 0 && heap[0]->f.clock < w)
		take_and_free(heap_pop());
}

void
iw_corr_release(void)
{
	lock();
	release_locked();
	unlock();
}

void
iw_corr_stamp(struct iw_corr_producer *p, iw_time t)
{
	if (t > p->stamp)
		p->stamp = t;
}

void
iw_corr_advance(struct iw_corr_producer *p, iw_time t)
{
	iw_corr_stamp(p, t);
	if (t <= p->clock)
		return;
	lock();
	p->clock = t;
	release_locked();
	unlock();
}

void
iw_corr_advance_by(struct iw_corr_producer *p, iw_time elapsed)
{
	if (elapsed > 0 && p->clock != INT64_MIN)
		iw_corr_advance(p, p->clock + elapsed);
}

void
iw_corr_producer_done(struct iw_corr_producer *p)
{
	lock();
	p->done = true;
	release_locked();
	unlock();
}

/*
 * A worker's JSON may share parts with what the worker keeps, and json-c
 * counts references without atomics: the correlator, which frees it in
 * another thread, gets a copy of its own.  What a worker keeps is TLS's
 * (tls_report.c's lists, x509.c's cached certificate descriptions), which
 * events carry under "tls" and a leaf's fact as its evidence: those are
 * copied, not the rest (IMAP's evidence is made afresh each time, and a
 * copy of every record costs half the analysis of a cleartext session).
 */
static bool
may_share(const struct iw_fact *f, struct json_object *obj)
{
	return f->kind == IW_FACT_LEAF ||
	    json_object_object_get_ex(obj, "tls", NULL);
}

static struct json_object *
unshared(struct json_object *obj)
{
	struct json_object *copy = NULL;

	if (json_object_deep_copy(obj, &copy, NULL) != 0)
		copy = NULL;
	json_object_put(obj);
	return copy;
}

static void
submit_locked(struct iw_corr_producer *p, struct iw_fact *f,
    const struct iw_flowref *ref, const char *app, struct json_object *obj)
{
	struct rec *r;

	f->producer = p->id;
	f->clock = p->stamp;
	f->seq = ++p->seq;
	if (threaded && obj != NULL && may_share(f, obj))
		obj = unshared(obj);
	if ((r = malloc(sizeof(*r))) == NULL) {
		json_object_put(obj);
		iw_stats.events_dropped++;
		return;
	}
	r->f = *f;
	r->ref = *ref;
	r->app = app;
	r->obj = obj;
	if (!heap_push(r)) {
		/* out of memory: decided now, out of order */
		take_and_free(r);
		return;
	}
	while (heap_n > IW_CORR_QUEUE_MAX) {
		cs.released_early++;
		take_and_free(heap_pop());
	}
}

void
iw_corr_submit(struct iw_corr_producer *p, struct iw_fact *f,
    const struct iw_flowref *ref, const char *app, struct json_object *obj)
{
	lock();
	submit_locked(p, f, ref, app, obj);
	unlock();
}

void
iw_corr_flush(void)
{
	lock();
	flush_locked();
	unlock();
}

void
iw_corr_shutdown(void)
{
	struct sess *s, *next;
	int i;

	iw_corr_flush();
	free(heap);
	heap = NULL;
	heap_n = heap_cap = 0;
	for (i = 0; i < SESS_BUCKETS; i++) {
		for (s = sessions[i]; s != NULL; s = next) {
			next = s->next;
			free(s);
		}
		sessions[i] = NULL;
	}
	n_sessions = 0;
	for (i = 0; i < n_producers; i++)
		free(producers[i]);
	n_producers = 0;
	engine = NULL;
	anomaly_rate_set = false;
	n_anomaly_kinds = 0;
	memset(&cs, 0, sizeof(cs));
	last_clock = INT64_MIN;
	last_flow = 0;
}

/* ---- from the session host and the dissectors ---- */

static void
submit_session_fact(struct iw_session *s, struct iw_fact *f,
    struct json_object *obj)
{
	const struct iw_flowref *ref = iw_session_flow(s);

	f->ts = iw_session_now(s);
	f->flow_id = ref->flow_id;
	iw_corr_submit(iw_corr_engine(), f, ref, iw_session_app(s), obj);
}

void
iw_corr_caps(struct iw_session *s, bool offers, struct json_object *evidence)
{
	const struct iw_flowref *ref = iw_session_flow(s);
	struct iw_fact f;

	iw_fact_init(&f, IW_FACT_CAPS);
	f.u.caps.server = ref->ep.server;
	f.u.caps.port = ref->ep.sport;
	f.u.caps.offers_starttls = offers;
	submit_session_fact(s, &f, evidence);
}

static uint8_t
name_check_code(const char *result)
{
	if (result == NULL)
		return IW_CHECK_UNCHECKED;
	if (strcmp(result, "match") == 0)
		return IW_CHECK_MATCH;
	if (strcmp(result, "mismatch") == 0)
		return IW_CHECK_MISMATCH;
	if (strcmp(result, "encrypted") == 0)
		return IW_CHECK_ENCRYPTED;
	return IW_CHECK_UNCHECKED;
}

void
iw_corr_leaf(struct iw_session *s, const uint8_t key[32], const char *name,
    const char *name_check, struct json_object *evidence)
{
	const struct iw_flowref *ref = iw_session_flow(s);
	struct iw_fact f;
	size_t n = name != NULL ? strnlen(name, IW_STATE_NAME_MAX - 1) : 0;

	iw_fact_init(&f, IW_FACT_LEAF);
	f.u.leaf.server = ref->ep.server;
	f.u.leaf.port = ref->ep.sport;
	if (n > 0)
		memcpy(f.u.leaf.name, name, n);
	f.u.leaf.name_len = (uint16_t)n;
	memcpy(f.u.leaf.key_sha256, key, sizeof(f.u.leaf.key_sha256));
	f.u.leaf.name_check = name_check_code(name_check);
	submit_session_fact(s, &f, evidence);
}

void
iw_corr_auth_failed(struct iw_session *s, uint32_t attempt,
    struct json_object *evidence)
{
	struct iw_fact f;

	iw_fact_init(&f, IW_FACT_AUTH_FAILED);
	f.u.auth.client = iw_session_flow(s)->ep.client;
	f.u.auth.attempt = attempt;
	submit_session_fact(s, &f, evidence);
}

void
iw_corr_alert(const struct iw_flowref *ref, const char *app, iw_time ts,
    enum iw_finding fi, int severity, struct json_object *evidence)
{
	struct json_object *ev;
	struct iw_fact f;
	bool live;

	iw_stats.findings[fi]++;
	lock();
	if (!iw_noise_alert(ref, fi, evidence) ||
	    (ev = alert_event(ref, app, ts, fi, severity, evidence)) == NULL) {
		unlock();
		return;
	}
	/*
	 * Certain to be written: --write-alerted keeps the connection from
	 * now (piped, the packets held before this one are all still there).
	 */
	if (!iw_noise_is_server_posture(fi) || !iw_noise_once_per_server(&live))
		iw_alerted_mark(ref, ts);
	iw_fact_init(&f, IW_FACT_ALERT);
	f.ts = ts;
	f.flow_id = ref->flow_id;
	f.u.alert.finding = (uint16_t)fi;
	f.u.alert.severity = (uint8_t)(severity > 0 && severity <= 3 ?
	    severity : 0);
	f.u.alert.posture = iw_noise_is_server_posture(fi);
	submit_locked(iw_corr_engine(), &f, ref, app, ev);
	unlock();
}

void
iw_corr_event(const struct iw_flowref *ref, iw_time ts,
    struct json_object *event)
{
	struct iw_fact f;

	iw_fact_init(&f, IW_FACT_EVENT);
	f.ts = ts;
	f.flow_id = ref->flow_id;
	iw_corr_submit(iw_corr_engine(), &f, ref, NULL, event);
}

void
iw_corr_anomaly(const struct iw_flowref *ref, iw_time ts, const char *kind,
    struct json_object *event)
{
	struct iw_fact f;

	iw_fact_init(&f, IW_FACT_ANOMALY);
	f.ts = ts;
	f.flow_id = ref->flow_id;
	snprintf(f.u.anomaly.kind, sizeof(f.u.anomaly.kind), "%s", kind);
	iw_corr_submit(iw_corr_engine(), &f, ref, NULL, event);
}

void
iw_corr_session_end(const struct iw_flowref *ref, const char *app,
    iw_time ts, uint64_t findings, struct json_object *event)
{
	struct iw_fact f;

	iw_fact_init(&f, IW_FACT_SESSION_END);
	f.ts = ts;
	f.flow_id = ref->flow_id;
	f.u.end.findings = findings;
	iw_corr_submit(iw_corr_engine(), &f, ref, app, event);
}

/* ---- stats ---- */

static void
add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

struct json_object *
iw_corr_stats(void)
{
	struct json_object *o = json_object_new_object();

	lock();
	add_u64(o, "records", cs.records);
	add_u64(o, "facts", cs.facts);
	add_u64(o, "invalid", cs.invalid);
	add_u64(o, "queue_peak", cs.queue_peak);
	add_u64(o, "released_early", cs.released_early);
	add_u64(o, "late", cs.late);
	add_u64(o, "findings_unlisted", cs.findings_unlisted);
	json_object_object_add(o, "state", iw_state_stats());
	unlock();
	return o;
}
