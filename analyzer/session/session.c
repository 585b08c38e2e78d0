/* SPDX-License-Identifier: ISC */
/*
 * session.c - the dissector host for one TCP connection.
 *
 * Finds the protocol by content (the registry's probes), then hands the
 * attached dissector every byte it has not consumed, holding the rest up to
 * IW_PENDING_MAX a direction.  Skips and bypasses requested by the dissector
 * are applied here, so a skipped IMAP literal or a bypassed TLS stream is
 * counted but never copied.  At the end it writes the session event.
 */
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "correlate.h"
#include "dissector.h"
#include "event.h"
#include "flowmem.h"
#include "session.h"
#include "stats.h"

/* Bytes a direction may hold while no probe has decided. */
#define PROBE_MAX 4096

/* A held buffer up to this size is kept for the next partial line. */
#define HELD_KEEP 4096

struct held {
	uint8_t	*buf;
	size_t	 len;
	size_t	 cap;
};

struct iw_session {
	const struct iw_flowref	*flow;
	iw_time			 now;

	const struct iw_dissector *d;	/* NULL while probing */
	void			*st;
	uint32_t		 probe_no[2];	/* registry bits that said NO */
	bool			 probe_gave_up;
	int			 first_dir;	/* direction of the first byte */

	struct held		 held[2];
	uint64_t		 pre_gap[2];	/* gaps while probing */
	uint64_t		 skip[2];
	bool			 bypass[2];
	bool			 dropped;
	bool			 ended;

	bool			 (*swap_hook)(void *);
	void			*swap_arg;
	bool			 swapped;	/* directions turned around */

	const char		*app;		/* "imap", "tls" or NULL */
	uint64_t		 findings;	/* bit per enum iw_finding */
	uint64_t		 anomalies;	/* bit per kind (stats' table)
						 * written for this session */
	bool			 anomaly_other;	/* ... a kind past the table */

	struct iw_stream_totals	 totals;
};

struct iw_session *
iw_session_new(const struct iw_flowref *flow)
{
	struct iw_session *s = iw_flowmem_calloc(sizeof(*s));

	if (s == NULL)
		return NULL;
	s->flow = flow;
	s->first_dir = -1;
	return s;
}

static void
held_free(struct held *h)
{
	iw_flowmem_free(h->buf);
	h->buf = NULL;
	h->len = h->cap = 0;
}

void
iw_session_free(struct iw_session *s)
{
	if (s == NULL)
		return;
	if (s->d != NULL && s->st != NULL)
		s->d->destroy(s->st);
	held_free(&s->held[0]);
	held_free(&s->held[1]);
	iw_flowmem_free(s);
}

/* Appends up to n bytes (never past IW_PENDING_MAX); returns how many. */
static size_t
held_append(struct held *h, const uint8_t *p, size_t n)
{
	size_t want, ncap;
	uint8_t *nb;

	if (n > IW_PENDING_MAX - h->len)
		n = IW_PENDING_MAX - h->len;
	want = h->len + n;
	if (want > h->cap) {
		ncap = h->cap ? h->cap : 512;
		while (ncap < want)
			ncap *= 2;
		if (ncap > IW_PENDING_MAX)
			ncap = IW_PENDING_MAX;
		nb = iw_flowmem_realloc(h->buf, ncap);
		if (nb == NULL)
			return 0;
		h->buf = nb;
		h->cap = ncap;
	}
	memcpy(h->buf + h->len, p, n);
	h->len += n;
	return n;
}

/*
 * Nothing held any more: a buffer that grew past a small one is given
 * back, so a connection that once held a long line does not keep (and
 * count against --flow-memory) 64 KiB for the rest of its life.
 */
static void
held_clear(struct held *h)
{
	h->len = 0;
	if (h->cap > HELD_KEEP)
		held_free(h);
}

static void
held_consume(struct held *h, size_t n)
{
	if (n >= h->len) {
		held_clear(h);
		return;
	}
	memmove(h->buf, h->buf + n, h->len - n);
	h->len -= n;
}

static bool
direction_closed(const struct iw_session *s, enum iw_dir dir)
{
	return s->dropped || s->bypass[dir] || s->probe_gave_up;
}

void
iw_session_set_swap_hook(struct iw_session *s, bool (*swap)(void *),
    void *arg)
{
	s->swap_hook = swap;
	s->swap_arg = arg;
}

/* The engine's direction as this session sees it. */
static enum iw_dir
turn(const struct iw_session *s, enum iw_dir dir)
{
	return s->swapped ? iw_dir_other(dir) : dir;
}

bool
iw_session_wants(const struct iw_session *s, enum iw_dir dir)
{
	return !s->ended && !direction_closed(s, turn(s, dir));
}

uint64_t
iw_session_skip_left(const struct iw_session *s, enum iw_dir dir)
{
	return s->skip[turn(s, dir)];
}

size_t
iw_session_held(const struct iw_session *s)
{
	return s->held[0].cap + s->held[1].cap;
}

/* Applies a pending skip to the front of buf; returns bytes skipped. */
static size_t
apply_skip(struct iw_session *s, enum iw_dir dir, size_t len)
{
	size_t n = len;

	if (s->skip[dir] < n)
		n = (size_t)s->skip[dir];
	s->skip[dir] -= n;
	s->totals.skipped[dir] += n;
	return n;
}

/*
 * Gives buf to the dissector until it stops consuming.  Returns how many
 * bytes are done with (consumed, skipped, or let go by a bypass).
 */
static size_t
run_dissector(struct iw_session *s, enum iw_dir dir, const uint8_t *buf,
    size_t len)
{
	size_t done = 0, c, k;

	while (done < len) {
		if (direction_closed(s, dir))
			return len;
		c = s->d->data(s->st, dir, buf + done, len - done);
		if (c > len - done)
			c = len - done;		/* a dissector bug; stay safe */
		done += c;
		k = 0;
		if (s->skip[dir] > 0 && done < len)
			k = apply_skip(s, dir, len - done);
		done += k;
		if (c == 0 && k == 0)
			break;
	}
	if (direction_closed(s, dir))
		return len;
	return done;
}

/* The dissector stalled with a full buffer: the held bytes become a gap. */
static void
stalled(struct iw_session *s, enum iw_dir dir)
{
	struct held *h = &s->held[dir];

	iw_anomaly(s, "stream", "dissector_buffer_full", s->d->name);
	s->totals.gaps[dir]++;
	s->totals.gap_bytes[dir] += h->len;
	s->d->gap(s->st, dir, h->len);
	held_clear(h);
}

static void
deliver(struct iw_session *s, enum iw_dir dir, const uint8_t *buf,
    size_t len)
{
	struct held *h = &s->held[dir];
	size_t n, c;

	if (h->len == 0) {
		c = run_dissector(s, dir, buf, len);
		buf += c;
		len -= c;
		if (len == 0)
			return;
	}
	while (len > 0) {
		n = held_append(h, buf, len);
		if (n == 0 && h->len < IW_PENDING_MAX) {
			/* out of memory: lose these bytes as a gap */
			s->totals.gaps[dir]++;
			s->totals.gap_bytes[dir] += len;
			s->d->gap(s->st, dir, len);
			return;
		}
		buf += n;
		len -= n;
		c = run_dissector(s, dir, h->buf, h->len);
		held_consume(h, c);
		if (direction_closed(s, dir)) {
			held_clear(h);
			return;
		}
		if (h->len == IW_PENDING_MAX)
			stalled(s, dir);
	}
}

/* ---- probing ---- */

static void
attach(struct iw_session *s, const struct iw_dissector *d, enum iw_dir last,
    const uint8_t *unheld, size_t unheld_len)
{
	enum iw_dir first = iw_dir_other(last);
	struct held moved[2];

	s->st = d->create(s);
	if (s->st == NULL) {
		s->probe_gave_up = true;
		iw_stats.sessions_not_analysed++;
		return;
	}
	s->d = d;
	/* replay what the probes saw, the direction that spoke first first */
	if (s->first_dir >= 0 && (enum iw_dir)s->first_dir == last)
		first = last;
	moved[0] = s->held[0];
	moved[1] = s->held[1];
	memset(s->held, 0, sizeof(s->held));
	/* a dissector attached after a gap starts mid-stream: say so */
	if (s->pre_gap[0] > 0)
		d->gap(s->st, IW_TO_SERVER, s->pre_gap[0]);
	if (s->pre_gap[1] > 0)
		d->gap(s->st, IW_TO_CLIENT, s->pre_gap[1]);
	if (moved[first].len > 0)
		deliver(s, first, moved[first].buf, moved[first].len);
	if (moved[iw_dir_other(first)].len > 0 && !s->ended)
		deliver(s, iw_dir_other(first), moved[iw_dir_other(first)].buf,
		    moved[iw_dir_other(first)].len);
	/* a first segment too big to hold goes straight through */
	if (unheld_len > 0)
		deliver(s, last, unheld, unheld_len);
	held_free(&moved[0]);
	held_free(&moved[1]);
}

/* The roles were the other way round: everything per direction flips. */
static bool
swap_roles(struct iw_session *s)
{
	struct held h;
	uint32_t no;
	uint64_t g;

	if (s->swap_hook == NULL || !s->swap_hook(s->swap_arg))
		return false;
	s->swapped = !s->swapped;
	h = s->held[0];
	s->held[0] = s->held[1];
	s->held[1] = h;
	no = s->probe_no[0];
	s->probe_no[0] = s->probe_no[1];
	s->probe_no[1] = no;
	g = s->pre_gap[0];
	s->pre_gap[0] = s->pre_gap[1];
	s->pre_gap[1] = g;
	g = s->totals.bytes[0];
	s->totals.bytes[0] = s->totals.bytes[1];
	s->totals.bytes[1] = g;
	if (s->first_dir >= 0)
		s->first_dir = !s->first_dir;
	return true;
}

static void
give_up_probing(struct iw_session *s)
{
	s->probe_gave_up = true;
	held_free(&s->held[0]);
	held_free(&s->held[1]);
	iw_stats.sessions_not_analysed++;
}

static void
probe(struct iw_session *s, enum iw_dir dir, const uint8_t *buf, size_t len)
{
	struct held *h = &s->held[dir];
	const uint8_t *p = buf;
	size_t n = len, took = 0;
	uint32_t all = 0;
	int i;
	enum iw_probe r;

	if (s->first_dir < 0)
		s->first_dir = dir;
	if (h->len > 0 || len < PROBE_MAX) {
		took = len;
		if (h->len + took > PROBE_MAX)
			took = PROBE_MAX - h->len;
		took = held_append(h, buf, took);
		p = h->buf;
		n = h->len;
	}
	for (i = 0; iw_dissectors[i] != NULL; i++) {
		all |= 1u << i;
		if (s->probe_no[dir] & (1u << i))
			continue;
		r = iw_dissectors[i]->probe(dir, p, n, &s->flow->ep);
		if (r == IW_PROBE_MATCH_REVERSED) {
			/* the held bytes move with the swap */
			if (swap_roles(s))
				dir = iw_dir_other(dir);
			r = IW_PROBE_MATCH;
		}
		if (r == IW_PROBE_MATCH) {
			/* what was not held goes straight through */
			attach(s, iw_dissectors[i], dir, buf + took, len - took);
			return;
		}
		if (r == IW_PROBE_NO || n >= PROBE_MAX)
			s->probe_no[dir] |= 1u << i;
	}
	/* every dissector refused both directions: not ours */
	if (s->probe_no[dir] == all &&
	    (s->probe_no[iw_dir_other(dir)] == all ||
	    s->held[iw_dir_other(dir)].len > 0 || n >= PROBE_MAX))
		give_up_probing(s);
}

/* ---- engine side ---- */

void
iw_session_data(struct iw_session *s, enum iw_dir dir, const uint8_t *buf,
    size_t len, iw_time ts)
{
	size_t k;

	if (len == 0 || s->ended)
		return;
	dir = turn(s, dir);
	s->now = ts;
	s->totals.bytes[dir] += len;
	if (direction_closed(s, dir))
		return;
	if (s->skip[dir] > 0) {
		k = apply_skip(s, dir, len);
		buf += k;
		len -= k;
		if (len == 0)
			return;
	}
	if (s->d == NULL)
		probe(s, dir, buf, len);
	else
		deliver(s, dir, buf, len);
}

void
iw_session_gap(struct iw_session *s, enum iw_dir dir, uint64_t len,
    iw_time ts)
{
	if (s->ended)
		return;
	dir = turn(s, dir);
	s->now = ts;
	s->totals.gaps[dir]++;
	s->totals.gap_bytes[dir] += len;
	if (direction_closed(s, dir))
		return;
	if (s->d == NULL) {
		/* the probe's bytes no longer join what follows: the dissector
		 * will hear of them, and of the gap, as one gap */
		s->pre_gap[dir] += s->held[dir].len + len;
		s->held[dir].len = 0;
		return;
	}
	/* held bytes and the skip both lose their place at a gap */
	if (s->held[dir].len > 0) {
		len += s->held[dir].len;
		s->held[dir].len = 0;
	}
	if (s->skip[dir] > 0) {
		if (s->skip[dir] >= len) {
			s->skip[dir] -= len;
			return;		/* the gap fell inside a skip */
		}
		len -= s->skip[dir];
		s->skip[dir] = 0;
	}
	s->d->gap(s->st, dir, len);
}

static void
count_session_mode(struct json_object *ev)
{
	struct json_object *imap, *mode;
	const char *m;

	if (!json_object_object_get_ex(ev, "imap", &imap) ||
	    !json_object_object_get_ex(imap, "mode", &mode)) {
		iw_stats.sessions_tls++;
		return;
	}
	m = json_object_get_string(mode);
	if (strcmp(m, "starttls") == 0)
		iw_stats.sessions_imap_starttls++;
	else if (strcmp(m, "implicit_tls") == 0)
		iw_stats.sessions_imap_implicit_tls++;
	else
		iw_stats.sessions_imap_cleartext++;
}

static void
add_session_fields(struct iw_session *s, struct json_object *ev,
    enum iw_end_reason why)
{
	struct json_object *obj, *list;
	int f;

	if (!json_object_object_get_ex(ev, s->app, &obj)) {
		obj = json_object_new_object();
		json_object_object_add(ev, s->app, obj);
	}
	json_object_object_add(obj, "bytes_toserver",
	    json_object_new_uint64(s->totals.bytes[IW_TO_SERVER]));
	json_object_object_add(obj, "bytes_toclient",
	    json_object_new_uint64(s->totals.bytes[IW_TO_CLIENT]));
	json_object_object_add(obj, "gaps", json_object_new_uint64(
	    s->totals.gaps[0] + s->totals.gaps[1]));
	json_object_object_add(obj, "end_reason",
	    json_object_new_string(iw_end_reason_name(why)));
	list = json_object_new_array();
	for (f = 0; f < IW_F_COUNT; f++)
		if (s->findings & (1ULL << f))
			json_object_array_add(list,
			    json_object_new_string(iw_finding_info(f)->id));
	json_object_object_add(obj, "findings", list);
}

void
iw_session_end(struct iw_session *s, enum iw_end_reason why, iw_time ts,
    const struct iw_stream_totals *totals)
{
	struct json_object *ev;

	if (s->ended)
		return;
	s->now = ts;
	if (totals != NULL) {
		int a = s->swapped, b = !s->swapped;

		s->totals.bytes[0] = totals->bytes[a];
		s->totals.bytes[1] = totals->bytes[b];
		s->totals.gaps[0] = totals->gaps[a];
		s->totals.gaps[1] = totals->gaps[b];
		s->totals.gap_bytes[0] = totals->gap_bytes[a];
		s->totals.gap_bytes[1] = totals->gap_bytes[b];
	}
	if (s->d == NULL || s->st == NULL) {
		s->ended = true;
		return;
	}
	s->d->end(s->st, why);
	s->ended = true;
	if (s->dropped || s->app == NULL)
		return;
	if (strcmp(s->app, "tls") == 0 && !iw_cfg.all_tls)
		return;
	ev = iw_event_new(s->app, ts, s->flow);
	if (ev == NULL)
		return;
	json_object_object_add(ev, "app_proto",
	    json_object_new_string(s->app));
	s->d->report(s->st, ev);
	add_session_fields(s, ev, why);
	count_session_mode(ev);
	iw_corr_session_end(s->flow, s->app, ts, s->findings, ev);
}

/* ---- dissector side ---- */

iw_time
iw_session_now(const struct iw_session *s)
{
	return s->now;
}

const struct iw_flowref *
iw_session_flow(const struct iw_session *s)
{
	return s->flow;
}

void
iw_session_skip(struct iw_session *s, enum iw_dir dir, uint64_t n)
{
	s->skip[dir] += n;
}

void
iw_session_bypass(struct iw_session *s, enum iw_dir dir)
{
	s->bypass[dir] = true;
}

void
iw_session_set_app(struct iw_session *s, const char *app)
{
	s->app = app;
}

const char *
iw_session_app(const struct iw_session *s)
{
	return s->app;
}

void
iw_session_drop(struct iw_session *s)
{
	if (!s->dropped)
		iw_stats.sessions_dropped++;
	s->dropped = true;
}

bool
iw_session_has_finding(const struct iw_session *s, enum iw_finding f)
{
	return (s->findings & (1ULL << f)) != 0;
}

bool
iw_alert(struct iw_session *s, enum iw_finding f, int severity,
    struct json_object *evidence)
{
	if (iw_finding_info(f) == NULL || (s->findings & (1ULL << f))) {
		json_object_put(evidence);
		return false;
	}
	s->findings |= 1ULL << f;
	iw_corr_alert(s->flow, s->app, s->now, f, severity, evidence);
	return true;
}

/*
 * Is this the session's first anomaly of the kind?  Later ones are only
 * counted: an overlap with other data in every retransmission must not
 * write an event each.
 */
static bool
first_of_kind(struct iw_session *s, int kind)
{
	uint64_t bit;

	if (kind < 0) {
		if (s->anomaly_other)
			return false;
		s->anomaly_other = true;
		return true;
	}
	bit = 1ULL << kind;
	if (s->anomalies & bit)
		return false;
	s->anomalies |= bit;
	return true;
}

void
iw_anomaly(struct iw_session *s, const char *type, const char *event,
    const char *layer)
{
	struct json_object *ev, *an;
	int kind = iw_stats_anomaly(layer, event);
	char name[IW_ANOMALY_KIND_LEN];

	if (!first_of_kind(s, kind)) {
		iw_stats.anomalies_repeated++;
		return;
	}
	ev = iw_event_new("anomaly", s->now, s->flow);
	if (ev == NULL)
		return;
	if (s->app != NULL)
		json_object_object_add(ev, "app_proto",
		    json_object_new_string(s->app));
	an = iw_anomaly_eve(type, event, layer);
	json_object_object_add(ev, "anomaly", an);
	/* the correlator applies --anomaly-rate, across every worker */
	snprintf(name, sizeof(name), "%s.%s", layer, event);
	iw_corr_anomaly(s->flow, s->now, name, ev);
}
