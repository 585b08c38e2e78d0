/* SPDX-License-Identifier: ISC */
/*
 * report.c - --report FILE.html, built from the events (report.h).
 *
 * Collecting: each event updates bounded aggregates (servers, findings
 * with their first connections, passwords sent in clear, TLS versions and
 * suites, the first sessions and findings for the timeline).  Every
 * string from an event that may hold bytes from the network is copied
 * through copy_wire(), which makes NUL, control and bidirectional
 * characters visible marks; every string written goes through the HTML
 * escaper.  Writing: one pass at the end, sections in the order an
 * incident handler asks: passwords, findings, servers, time, TLS.
 */
#include <fcntl.h>
#include <json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"
#include "event_read.h"
#include "findings.h"
#include "iw.h"
#include "outfile.h"
#include "report.h"

#define MAX_SET		8	/* versions, suites a server */
#define MAX_NAMES	3	/* names clients asked a server for */
#define MAX_CERTS	3	/* certificates a server */
#define MAX_CHART	64	/* versions or suites counted for the charts */
#define CHART_ROWS	12	/* bars a chart */
#define MAX_WEAK	32	/* suites and versions an alert called weak */
#define MAX_USERS	1024	/* distinct users counted */
#define LANES		12	/* servers with a timeline lane of their own */
#define TEXT		160
#define EVIDENCE	400

static const char *const sev_label[4] = { "none", "high", "medium", "low" };

struct counted {
	char		name[80];
	uint64_t	n;
};

struct cert {
	char		subject[TEXT], issuer[TEXT], names[TEXT];
	char		notbefore[32], notafter[32], key[32];
	bool		dated;		/* days could be computed */
	bool		expired;	/* at the first session showing it */
	long long	days;		/* whole days left, or since expiry */
	long long	days_early;	/* > 0: not valid for so many days */
	bool		self_signed;
};

struct server {
	struct iw_ev_item item;		/* key "ip:port", "[v6]:port" */
	uint64_t	 sessions[IW_EV_MODES], total;
	uint64_t	 offered[2], logindisabled[2];	/* sessions: no, yes */
	uint64_t	 hidden;		/* certificate encrypted */
	struct counted	 version[MAX_SET], suite[MAX_SET];
	int		 nversion, nsuite;
	uint64_t	 version_more, suite_more;
	char		 name[MAX_NAMES][TEXT];
	int		 nname;
	char		 greeting[TEXT];	/* the first one seen */
	struct cert	 cert[MAX_CERTS];
	int		 ncert;
	uint64_t	 certs_more;
	uint32_t	 finding[IW_F_COUNT];	/* sessions with it */
	uint64_t	 alerts;
	int		 worst;			/* 0, or 1 high .. 3 low */
	int		 lane;
};

struct conn {
	char	ts[40], client[64], server[64], user[TEXT];
	char	evidence[EVIDENCE];
	int	severity;
};

struct finding {
	uint64_t	alerts, suppressed, repeated;
	int		sev_min, sev_max;
	struct conn	ex[IW_REPORT_CONNECTIONS];
	int		nex;
};

struct credential {
	char	ts[40], client[64], server[64], user[TEXT], how[64];
	char	status[40];
};

struct tl_session {
	iw_time		 start, end;
	struct server	*srv;
	char		 client[64];
	uint8_t		 mode;
	uint8_t		 worst;
	uint16_t	 nfindings;
};

struct tl_mark {
	iw_time		 ts;
	struct server	*srv;
	uint8_t		 severity;
	uint8_t		 finding;
};

static FILE *out;
static bool on;

/* what the events say */
static uint64_t events_by_type[8], alerts_by_sev[4];
static uint64_t sessions_by_mode[IW_EV_MODES];
static uint64_t packets, bytes, flows, anomalies;
static char first_packet[40], last_packet[40];
static iw_time t_first, t_last;		/* of everything seen */
static bool have_time;

static struct iw_ev_table table = {
	.max = IW_REPORT_MAX_SERVERS, .size = sizeof(struct server),
};
static uint64_t servers_dropped;	/* sessions of servers past the cap */

static struct finding findings[IW_F_COUNT];
static struct credential creds[IW_REPORT_ROWS];
static int ncreds;
static uint64_t passwords_clear;
static char *users[MAX_USERS];
static int nusers;
static bool users_more;

static struct counted versions[MAX_CHART], suites[MAX_CHART];
static int nversions, nsuites;
static uint64_t versions_more, suites_more;
static char weak[MAX_WEAK][80];
static int nweak;

static struct tl_session *tl_sessions;
static struct tl_mark *tl_marks;
static int ntl_sessions, ntl_marks;
static uint64_t tl_sessions_more, tl_marks_more;

static const char *const event_types[8] = {
	"alert", "imap", "tls", "flow", "anomaly", "stats", "other", NULL,
};

/* ---- the file ---- */

/* ---- strings from events ---- */

/* Appends the UTF-8 bytes of a mark if they fit (with room for NUL). */
static size_t
put_mark(char *dst, size_t o, size_t len, const char *mark)
{
	size_t n = strlen(mark);

	if (o + n + 1 > len)
		return o;
	memcpy(dst + o, mark, n);
	return o + n;
}

/* Length of a UTF-8 character that must be shown as a mark: a control
 * (C1) or a bidirectional formatting character; 0 if none. */
static size_t
hidden_char(const unsigned char *p, size_t left)
{
	if (left >= 2 && p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
		return 2;
	if (left >= 2 && p[0] == 0xd8 && p[1] == 0x9c)	/* U+061C */
		return 2;
	if (left >= 3 && p[0] == 0xe2 && p[1] == 0x80 &&
	    (p[2] == 0x8e || p[2] == 0x8f || (p[2] >= 0xaa && p[2] <= 0xae)))
		return 3;
	if (left >= 3 && p[0] == 0xe2 && p[1] == 0x81 && p[2] >= 0xa6 &&
	    p[2] <= 0xa9)
		return 3;
	return 0;
}

static size_t
utf8_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0)
		return 2;
	if ((c & 0xf0) == 0xe0)
		return 3;
	if ((c & 0xf8) == 0xf0)
		return 4;
	return 1;
}

/*
 * Copies n bytes of s for display: NUL becomes U+2400, other controls and
 * bidirectional formatting characters U+FFFD; cut on a character boundary
 * with "…" if it does not fit.
 */
static void
copy_text(char *dst, size_t len, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0, k, h;

	while (i < n) {
		if (p[i] == 0 || p[i] < 0x20 || p[i] == 0x7f) {
			k = 1;
			h = o;
			o = put_mark(dst, o, len - 3, p[i] == 0 ? "\xe2\x90\x80" :
			    "\xef\xbf\xbd");
		} else if ((k = hidden_char(p + i, n - i)) > 0) {
			h = o;
			o = put_mark(dst, o, len - 3, "\xef\xbf\xbd");
		} else {
			k = utf8_len(p[i]);
			if (k > n - i)
				k = n - i;
			h = o;
			if (o + k + 1 <= len - 3) {
				memcpy(dst + o, p + i, k);
				o += k;
			}
		}
		if (o == h) {			/* did not fit */
			o = put_mark(dst, o, len, "\xe2\x80\xa6");
			break;
		}
		i += k;
	}
	dst[o] = '\0';
}

/* A string member of an event, for display ("" if absent). */
static void
copy_wire(char *dst, size_t len, struct json_object *v)
{
	if (v == NULL || !json_object_is_type(v, json_type_string)) {
		dst[0] = '\0';
		return;
	}
	copy_text(dst, len, json_object_get_string(v),
	    (size_t)json_object_get_string_len(v));
}

static void
copy_member(char *dst, size_t len, struct json_object *o, const char *k)
{
	copy_wire(dst, len, iw_ev_get(o, k));
}

static void
note_time(iw_time t)
{
	if (!have_time || t < t_first)
		t_first = t;
	if (!have_time || t > t_last)
		t_last = t;
	have_time = true;
}

/* ---- servers ---- */

/* The i-th server of the table (first sight order, sorted at the end). */
static struct server *
server_at(int i)
{
	return (struct server *)table.items[i];
}

static struct server *
server_of(struct json_object *ev)
{
	char addr[64];

	iw_ev_endpoint(addr, sizeof(addr), ev, "dest_ip", "dest_port");
	return iw_ev_table_get(&table, addr);
}

/* Counts name in set; past max distinct names, in *more. */
static void
count_in(struct counted *set, int *n, int max, uint64_t *more,
    struct json_object *name)
{
	char clean[80];
	int i;

	copy_wire(clean, sizeof(clean), name);
	if (clean[0] == '\0')
		return;
	for (i = 0; i < *n; i++)
		if (strcmp(set[i].name, clean) == 0) {
			set[i].n++;
			return;
		}
	if (*n == max) {
		(*more)++;
		return;
	}
	memcpy(set[*n].name, clean, sizeof(clean));
	set[(*n)++].n = 1;
}

static void
add_name(struct server *s, struct json_object *tls)
{
	struct json_object *v = iw_ev_get(iw_ev_get(tls, "name_check"),
	    "name");
	char name[TEXT];
	int i;

	if (v == NULL)
		v = iw_ev_get(tls, "sni");
	copy_wire(name, sizeof(name), v);
	if (name[0] == '\0')
		return;
	for (i = 0; i < s->nname; i++)
		if (strcmp(s->name[i], name) == 0)
			return;
	if (s->nname < MAX_NAMES)
		memcpy(s->name[s->nname++], name, sizeof(name));
}

/* subjectAltName names, bare ("DNS:" dropped if an event still has it). */
static void
san_text(char *dst, size_t len, struct json_object *san)
{
	char buf[TEXT * 2];

	iw_ev_san_names(buf, sizeof(buf), san);
	copy_text(dst, len, buf, strlen(buf));
}

static void
fill_cert(struct cert *c, struct json_object *ev, struct json_object *tls)
{
	struct json_object *key = iw_ev_get(tls, "key");
	iw_time end, at;
	char type[16];

	copy_member(c->subject, sizeof(c->subject), tls, "subject");
	copy_member(c->issuer, sizeof(c->issuer), tls, "issuerdn");
	copy_member(c->notafter, sizeof(c->notafter), tls, "notafter");
	copy_member(c->notbefore, sizeof(c->notbefore), tls, "notbefore");
	san_text(c->names, sizeof(c->names), iw_ev_get(tls, "subjectaltname"));
	copy_member(type, sizeof(type), key, "type");
	if (type[0] != '\0')
		snprintf(c->key, sizeof(c->key), "%s %d", type,
		    (int)iw_ev_int(key, "bits", 0));
	else
		c->key[0] = '\0';
	c->self_signed = iw_ev_true(tls, "self_signed");
	c->dated = iw_ev_time(iw_ev_str(tls, "notafter"), &end) &&
	    iw_ev_time(iw_ev_str(ev, "timestamp"), &at);
	c->expired = c->dated && end < at;
	c->days = !c->dated ? 0 : (long long)((c->expired ? at - end :
	    end - at) / (86400 * IW_USEC));
	c->days_early = 0;
	if (c->dated && iw_ev_time(iw_ev_str(tls, "notbefore"), &end) &&
	    end > at)
		c->days_early = (long long)((end - at + 86400 * IW_USEC - 1) /
		    (86400 * IW_USEC));
}

static void
add_cert(struct server *s, struct json_object *ev, struct json_object *tls)
{
	struct cert c;
	int i;

	if (iw_ev_str(tls, "subject") == NULL)
		return;
	fill_cert(&c, ev, tls);
	for (i = 0; i < s->ncert; i++)
		if (strcmp(s->cert[i].subject, c.subject) == 0 &&
		    strcmp(s->cert[i].issuer, c.issuer) == 0 &&
		    strcmp(s->cert[i].notafter, c.notafter) == 0 &&
		    strcmp(s->cert[i].key, c.key) == 0)
			return;
	if (s->ncert < MAX_CERTS)
		s->cert[s->ncert++] = c;
	else
		s->certs_more++;
}

/* ---- sessions ---- */

/* The session's first moment the event tells: its timeline's first
 * entry, else its end. */
static iw_time
session_start(struct json_object *app, iw_time end)
{
	struct json_object *tl = iw_ev_get(app, "timeline");
	iw_time t;

	if (tl != NULL && json_object_is_type(tl, json_type_array) &&
	    json_object_array_length(tl) > 0 &&
	    iw_ev_time(iw_ev_str(json_object_array_get_idx(tl, 0),
	    "timestamp"), &t) && t <= end)
		return t;
	return end;
}

static int
session_findings(struct server *s, struct json_object *ids, int *worst)
{
	uint64_t bits = iw_ev_finding_bits(ids);
	int f, count = 0;

	*worst = 0;
	for (f = 0; f < IW_F_COUNT; f++) {
		if (!(bits & (1ULL << f)))
			continue;
		count++;
		if (s != NULL)
			s->finding[f]++;
		if (*worst == 0 || iw_finding_info(f)->severity < *worst)
			*worst = iw_finding_info(f)->severity;
	}
	return count;
}

static void
timeline_session(struct json_object *ev, struct json_object *app,
    struct server *s, enum iw_ev_mode m, int nf, int worst)
{
	struct tl_session *t;
	iw_time end;

	if (!iw_ev_time(iw_ev_str(ev, "timestamp"), &end))
		return;
	if (ntl_sessions == IW_REPORT_TIMELINE) {
		tl_sessions_more++;
		return;
	}
	t = &tl_sessions[ntl_sessions++];
	t->start = session_start(app, end);
	t->end = end;
	t->srv = s;
	t->mode = (uint8_t)m;
	t->worst = (uint8_t)worst;
	t->nfindings = (uint16_t)(nf > 65535 ? 65535 : nf);
	iw_ev_endpoint(t->client, sizeof(t->client), ev, "src_ip",
	    "src_port");
	note_time(t->start);
}

static void
on_session(struct json_object *ev, const char *type)
{
	struct json_object *app = iw_ev_get(ev, type);
	struct json_object *tls = iw_ev_get(ev, "tls");
	enum iw_ev_mode m = iw_ev_session_mode(type, app);
	struct server *s = server_of(ev);
	int worst, nf;

	sessions_by_mode[m]++;
	nf = session_findings(s, iw_ev_get(app, "findings"), &worst);
	timeline_session(ev, app, s, m, nf, worst);
	if (tls != NULL) {
		count_in(versions, &nversions, MAX_CHART, &versions_more,
		    iw_ev_get(tls, "version"));
		count_in(suites, &nsuites, MAX_CHART, &suites_more,
		    iw_ev_get(tls, "cipher"));
	}
	if (s == NULL) {
		servers_dropped++;
		return;
	}
	s->sessions[m]++;
	s->total++;
	if (s->greeting[0] == '\0')
		copy_member(s->greeting, sizeof(s->greeting),
		    iw_ev_get(app, "greeting"), "text");
	if (iw_ev_get(app, "capabilities") != NULL) {
		iw_ev_count_bool(s->offered, iw_ev_get(app,
		    "starttls_offered"));
		iw_ev_count_bool(s->logindisabled, iw_ev_get(app,
		    "logindisabled"));
	}
	if (tls == NULL)
		return;
	count_in(s->version, &s->nversion, MAX_SET, &s->version_more,
	    iw_ev_get(tls, "version"));
	count_in(s->suite, &s->nsuite, MAX_SET, &s->suite_more,
	    iw_ev_get(tls, "cipher"));
	add_name(s, tls);
	if (iw_ev_cert_encrypted(tls))
		s->hidden++;
	add_cert(s, ev, tls);
}

/* ---- alerts ---- */

static void
note_weak(struct json_object *name)
{
	char clean[80];
	int i;

	copy_wire(clean, sizeof(clean), name);
	if (clean[0] == '\0')
		return;
	for (i = 0; i < nweak; i++)
		if (strcmp(weak[i], clean) == 0)
			return;
	if (nweak < MAX_WEAK)
		memcpy(weak[nweak++], clean, sizeof(clean));
}

static bool
is_weak(const char *name)
{
	int i;

	for (i = 0; i < nweak; i++)
		if (strcmp(weak[i], name) == 0)
			return true;
	return false;
}

static void
note_user(const char *user)
{
	int i;

	if (user[0] == '\0')
		return;
	for (i = 0; i < nusers; i++)
		if (strcmp(users[i], user) == 0)
			return;
	if (nusers == MAX_USERS || (users[nusers] = strdup(user)) == NULL) {
		users_more = true;
		return;
	}
	nusers++;
}

/* Fields not worth showing as evidence: long digests and encodings. */
static bool
skip_field(const char *k)
{
	static const char *const skip[] = { "chain", "certificate", "ja3",
	    "ja3s", "ja4", "fingerprint", "fingerprint_sha256", "username",
	    "client_handshake", "server_handshake", "serial", NULL };
	int i;

	for (i = 0; skip[i] != NULL; i++)
		if (strcmp(k, skip[i]) == 0)
			return true;
	return false;
}

/* One value as text: scalars as JSON writes them, strings as they are,
 * arrays of scalars joined, objects as k=v. */
static size_t
value_text(char *buf, size_t len, struct json_object *v, int depth)
{
	size_t o = 0, i, n;
	const char *s;

	if (json_object_is_type(v, json_type_string)) {
		n = (size_t)json_object_get_string_len(v);
		if (n > len - 1)
			n = len - 1;
		memcpy(buf, json_object_get_string(v), n);
		return n;
	}
	if (json_object_is_type(v, json_type_array) && depth == 0) {
		n = json_object_array_length(v);
		for (i = 0; i < n && i < 8 && o + 3 < len; i++) {
			if (i > 0)
				o += (size_t)snprintf(buf + o, len - o, ", ");
			o += value_text(buf + o, len - o,
			    json_object_array_get_idx(v, i), 1);
		}
		if (n > 8 && o + 6 < len)
			o += (size_t)snprintf(buf + o, len - o, ", ...");
		return o < len ? o : len - 1;
	}
	if (json_object_is_type(v, json_type_object) && depth == 0) {
		json_object_object_foreach(v, k, sub) {
			if (o + strlen(k) + 4 >= len)
				break;
			o += (size_t)snprintf(buf + o, len - o, "%s%s=",
			    o ? ", " : "", k);
			o += value_text(buf + o, len - o, sub, 1);
		}
		return o < len ? o : len - 1;
	}
	s = v == NULL ? "null" : json_object_to_json_string_ext(v,
	    JSON_C_TO_STRING_PLAIN);
	return (size_t)snprintf(buf, len, "%s", s) < len ? strlen(s) :
	    len - 1;
}

/* "key: value; ..." from the evidence objects beside the alert. */
static void
evidence_text(char *dst, size_t len, struct json_object *ev)
{
	static const char *const objs[] = { "imap", "tls", NULL };
	char buf[EVIDENCE * 2];
	size_t o = 0;
	int i;

	for (i = 0; objs[i] != NULL; i++) {
		struct json_object *obj = iw_ev_get(ev, objs[i]);

		if (obj == NULL || !json_object_is_type(obj, json_type_object))
			continue;
		json_object_object_foreach(obj, k, v) {
			if (skip_field(k) || o + strlen(k) + 8 >= sizeof(buf))
				continue;
			o += (size_t)snprintf(buf + o, sizeof(buf) - o,
			    "%s%s: ", o ? "; " : "", k);
			o += value_text(buf + o, sizeof(buf) - o, v, 0);
		}
	}
	copy_text(dst, len, buf, o);
}

static void
fill_conn(struct conn *c, struct json_object *ev, int severity)
{
	copy_member(c->ts, sizeof(c->ts), ev, "timestamp");
	iw_ev_endpoint(c->client, sizeof(c->client), ev, "src_ip", "src_port");
	iw_ev_endpoint(c->server, sizeof(c->server), ev, "dest_ip",
	    "dest_port");
	copy_member(c->user, sizeof(c->user), iw_ev_get(ev, "imap"),
	    "username");
	evidence_text(c->evidence, sizeof(c->evidence), ev);
	c->severity = severity;
}

static void
add_credential(struct json_object *ev)
{
	struct json_object *imap = iw_ev_get(ev, "imap");
	struct credential *c;
	char cmd[24], mech[32];

	passwords_clear++;
	if (ncreds == IW_REPORT_ROWS) {
		char user[TEXT];

		copy_member(user, sizeof(user), imap, "username");
		note_user(user);
		return;
	}
	c = &creds[ncreds++];
	copy_member(c->ts, sizeof(c->ts), ev, "timestamp");
	iw_ev_endpoint(c->client, sizeof(c->client), ev, "src_ip", "src_port");
	iw_ev_endpoint(c->server, sizeof(c->server), ev, "dest_ip",
	    "dest_port");
	copy_member(c->user, sizeof(c->user), imap, "username");
	copy_member(cmd, sizeof(cmd), imap, "command");
	copy_member(mech, sizeof(mech), imap, "mechanism");
	snprintf(c->how, sizeof(c->how), "%s%s%s", cmd, mech[0] ? " " : "",
	    mech);
	copy_member(c->status, sizeof(c->status), imap, "status");
	note_user(c->user);
}

static void
timeline_mark(struct json_object *ev, struct server *s, int f, int sev)
{
	struct tl_mark *m;
	iw_time t;

	if (!iw_ev_time(iw_ev_str(ev, "timestamp"), &t))
		return;
	note_time(t);
	if (ntl_marks == IW_REPORT_TIMELINE) {
		tl_marks_more++;
		return;
	}
	m = &tl_marks[ntl_marks++];
	m->ts = t;
	m->srv = s;
	m->severity = (uint8_t)sev;
	m->finding = (uint8_t)f;
}

static void
on_alert(struct json_object *ev)
{
	struct json_object *al = iw_ev_get(ev, "alert");
	struct finding *fs;
	struct server *s;
	const char *sig = iw_ev_str(al, "signature");
	int f, sev;

	if (sig == NULL || (f = iw_finding_by_id(sig)) < 0)
		return;
	sev = (int)iw_ev_int(al, "severity", iw_finding_info(f)->severity);
	if (sev < 1 || sev > 3)
		sev = iw_finding_info(f)->severity;
	alerts_by_sev[sev]++;
	fs = &findings[f];
	if (fs->alerts == 0 || sev < fs->sev_min)
		fs->sev_min = sev;
	if (fs->alerts == 0 || sev > fs->sev_max)
		fs->sev_max = sev;
	fs->alerts++;
	if (fs->nex < IW_REPORT_CONNECTIONS)
		fill_conn(&fs->ex[fs->nex++], ev, sev);
	if (iw_ev_password_alert(f, sev))
		add_credential(ev);
	if (f == IW_F_WEAK_CIPHER)
		note_weak(iw_ev_get(iw_ev_get(ev, "tls"), "cipher"));
	if (f == IW_F_OBSOLETE_TLS_VERSION)
		note_weak(iw_ev_get(iw_ev_get(ev, "tls"), "version"));
	if ((s = server_of(ev)) != NULL) {
		s->alerts++;
		if (s->worst == 0 || sev < s->worst)
			s->worst = sev;
	}
	timeline_mark(ev, s, f, sev);
}

/* ---- stats ---- */

static void
on_stats(struct json_object *ev)
{
	struct json_object *st = iw_ev_get(ev, "stats");
	struct json_object *cap = iw_ev_get(st, "capture");
	struct json_object *sess = iw_ev_get(st, "sessions");
	struct json_object *an = iw_ev_get(sess, "anomalies");
	iw_time t;
	int f;

	packets = (uint64_t)iw_ev_int(cap, "packets", 0);
	bytes = (uint64_t)iw_ev_int(cap, "bytes", 0);
	flows = (uint64_t)iw_ev_int(iw_ev_get(st, "tcp"), "flows", 0);
	copy_member(first_packet, sizeof(first_packet), cap, "first_packet");
	copy_member(last_packet, sizeof(last_packet), cap, "last_packet");
	if (iw_ev_time(first_packet, &t))
		note_time(t);
	if (iw_ev_time(last_packet, &t))
		note_time(t);
	for (f = 0; f < IW_F_COUNT; f++) {
		findings[f].suppressed = (uint64_t)iw_ev_int(iw_ev_get(sess,
		    "findings_suppressed"), iw_finding_info(f)->id, 0);
		findings[f].repeated = (uint64_t)iw_ev_int(iw_ev_get(sess,
		    "findings_repeated"), iw_finding_info(f)->id, 0);
	}
	anomalies = 0;
	if (an != NULL && json_object_is_type(an, json_type_object)) {
		json_object_object_foreach(an, k, v) {
			(void)k;
			if (json_object_is_type(v, json_type_int))
				anomalies += (uint64_t)json_object_get_int64(v);
		}
	}
}

/* ---- collecting ---- */

int
iw_report_open(const char *path, char *err, size_t errlen)
{
	char why[256];

	if ((out = iw_outfile_fopen(path, IW_OUTFILE_TRUNCATE, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errlen, "--report %s: %s", path, why);
		return -1;
	}
	tl_sessions = calloc(IW_REPORT_TIMELINE, sizeof(*tl_sessions));
	tl_marks = calloc(IW_REPORT_TIMELINE, sizeof(*tl_marks));
	if (tl_sessions == NULL || tl_marks == NULL) {
		snprintf(err, errlen, "--report: out of memory");
		return -1;
	}
	on = true;
	return 0;
}

void
iw_report_event(struct json_object *ev)
{
	const char *type;
	int i;

	if (!on || (type = iw_ev_str(ev, "event_type")) == NULL)
		return;
	for (i = 0; i < 6 && strcmp(event_types[i], type) != 0; i++)
		;
	events_by_type[i]++;
	if (strcmp(type, "alert") == 0)
		on_alert(ev);
	else if (strcmp(type, "imap") == 0 || strcmp(type, "tls") == 0)
		on_session(ev, type);
	else if (strcmp(type, "stats") == 0)
		on_stats(ev);
}

/* ---- writing: text ---- */

/* Writes s HTML-escaped (text and quoted attribute values alike). */
static void
esc(const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default: fputc(*s, out);
		}
	}
}

/* The same, with a line-break opportunity after each '_' and ',' (long
 * suite names and DNs in narrow cells). */
static void
esc_wrap(const char *s)
{
	char one[2] = { 0, 0 };

	for (; *s != '\0'; s++) {
		one[0] = *s;
		esc(one);
		if (*s == '_' || *s == ',')
			fputs("<wbr>", out);
	}
}

static const char *
plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static const char *
time_text(iw_time t, char *buf, size_t len)
{
	time_t sec = (time_t)(t / IW_USEC);
	struct tm tm;

	if (gmtime_r(&sec, &tm) == NULL)
		snprintf(buf, len, "?");
	else
		strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

static void
duration(iw_time d)
{
	long long s = (long long)(d / IW_USEC);

	if (s >= 2 * 86400)
		fprintf(out, "%lld days", s / 86400);
	else if (s >= 3600)
		fprintf(out, "%lld h %lld min", s / 3600, s % 3600 / 60);
	else
		fprintf(out, "%lld min %lld s", s / 60, s % 60);
}

/* ---- writing: the page's frame ---- */

static const char style[] =
":root{--fg:#1b2129;--muted:#5d6874;--line:#d9dee4;--panel:#f5f7f9;"
"--high:#b42318;--high-bg:#fdeceb;--med:#b54708;--med-bg:#fef4e6;"
"--low:#2f6690;--low-bg:#eaf2f8;--ok:#1e7b4f;--ok-bg:#e8f5ee}\n"
"*{box-sizing:border-box}\n"
"html{-webkit-print-color-adjust:exact;print-color-adjust:exact}\n"
"body{margin:0;color:var(--fg);background:#fff;font:14px/1.45 system-ui,"
"-apple-system,'Segoe UI',Roboto,'Helvetica Neue','Noto Sans','DejaVu Sans',"
"Arial,sans-serif}\n"
"main{max-width:1240px;margin:0 auto;padding:28px 36px 56px}\n"
"header.top{border-bottom:3px solid var(--fg);padding-bottom:12px;"
"margin-bottom:20px}\n"
"h1{font-size:23px;margin:0 0 2px;letter-spacing:-.01em}\n"
"h2{font-size:17px;margin:34px 0 12px;padding-bottom:5px;"
"border-bottom:1px solid var(--line)}\n"
"h3{font-size:15px;margin:0}\n"
".sub{color:var(--muted);margin:0}\n"
".mono,td.addr,.wire{font-family:ui-monospace,'SFMono-Regular',Menlo,"
"Consolas,'DejaVu Sans Mono',monospace;font-size:12.5px}\n"
".wire{overflow-wrap:anywhere}\n"
".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,"
"1fr));gap:12px}\n"
".card{border:1px solid var(--line);border-radius:6px;padding:10px 14px;"
"background:var(--panel)}\n"
".card .k{color:var(--muted);font-size:12px;text-transform:uppercase;"
"letter-spacing:.05em}\n"
".card .n{font-size:28px;font-weight:650;line-height:1.2;"
"font-variant-numeric:tabular-nums}\n"
".card .d{font-size:12.5px;color:var(--muted)}\n"
".card.bad{border-color:var(--high);background:var(--high-bg)}\n"
".card.bad .n{color:var(--high)}\n"
".card.good{border-color:var(--ok);background:var(--ok-bg)}\n"
".card.good .n{color:var(--ok)}\n"
"nav{margin:18px 0 0;font-size:13px}\n"
"nav a{color:var(--low);margin-right:14px;text-decoration:none}\n"
"table{border-collapse:collapse;width:100%;font-size:13px}\n"
"th{text-align:left;font-weight:600;color:var(--muted);font-size:12px;"
"border-bottom:2px solid var(--line);padding:6px 8px;vertical-align:bottom}"
"\n"
"td{border-bottom:1px solid var(--line);padding:6px 8px;vertical-align:top}"
"\n"
"tbody tr:nth-child(even){background:#fafbfc}\n"
".num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
"\n"
".nowrap{white-space:nowrap}\n"
".muted{color:var(--muted)}\n"
".sev{display:inline-block;min-width:62px;text-align:center;font-size:11px;"
"font-weight:700;text-transform:uppercase;letter-spacing:.05em;"
"border-radius:3px;padding:1px 6px;color:#fff}\n"
".sev.s1{background:var(--high)}.sev.s2{background:var(--med)}"
".sev.s3{background:var(--low)}\n"
".tag{display:inline-block;border:1px solid;border-radius:3px;"
"padding:0 5px;margin:1px 3px 2px 0;font-size:11.5px;white-space:nowrap;"
"text-decoration:none}\n"
".cert+.cert{margin-top:6px;padding-top:6px;border-top:1px dashed "
"var(--line)}\n"
".tag.s1{color:var(--high);background:var(--high-bg)}"
".tag.s2{color:var(--med);background:var(--med-bg)}"
".tag.s3{color:var(--low);background:var(--low-bg)}\n"
".yes{color:var(--ok);font-weight:600}.no{color:var(--high);"
"font-weight:600}\n"
".expired{color:var(--high);font-weight:600}\n"
".finding{border:1px solid var(--line);border-left:5px solid;"
"border-radius:4px;padding:10px 14px 8px;margin:12px 0;break-inside:avoid}"
"\n"
".finding.s1{border-left-color:var(--high)}"
".finding.s2{border-left-color:var(--med)}"
".finding.s3{border-left-color:var(--low)}\n"
".finding p{margin:4px 0 8px}\n"
".finding table{font-size:12.5px}\n"
".group{margin-top:20px;font-size:14px;color:var(--muted);"
"text-transform:uppercase;letter-spacing:.06em}\n"
".note{color:var(--muted);font-size:12.5px;margin:6px 0}\n"
".clean{border:1px solid var(--ok);background:var(--ok-bg);"
"color:var(--ok);border-radius:4px;padding:8px 12px}\n"
".legend span{display:inline-block;margin-right:16px;font-size:12.5px}\n"
".legend i{display:inline-block;width:12px;height:12px;border-radius:2px;"
"margin-right:5px;vertical-align:-1px}\n"
".charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,"
"1fr));gap:28px}\n"
"figure{margin:0}\n"
"#servers-table td:first-child{min-width:150px;max-width:260px}\n"
"#servers-table td:nth-child(4){min-width:230px}\n"
"#servers-table td.findings{max-width:300px}\n"
"svg{display:block;width:100%;height:auto}\n"
"svg text{font-family:system-ui,'DejaVu Sans',sans-serif;font-size:11px;"
"fill:#1b2129}\n"
"svg text.mono{font-family:'DejaVu Sans Mono',monospace;font-size:10.5px}\n"
".chart text{font-size:12px}.chart text.mono{font-size:11px}\n"
"svg .axis{stroke:#c4ccd4;stroke-width:1}\n"
"svg .grid{stroke:#eceff2;stroke-width:1}\n"
"svg text.tick{fill:#5d6874;font-size:10px}\n"
".m0{fill:#7b5ea7;background:#7b5ea7}.m1{fill:#2f6fb5;background:#2f6fb5}"
".m2{fill:#2e8b74;background:#2e8b74}.m3{fill:#8792a2;background:#8792a2}"
"\n"
".k1{fill:#b42318;background:#b42318}.k2{fill:#e07b00;background:#e07b00}"
".k3{fill:#2f6690;background:#2f6690}\n"
".bar{fill:#2f6fb5}.bar.weak{fill:#b42318}\n"
"footer{margin-top:40px;border-top:1px solid var(--line);padding-top:10px;"
"color:var(--muted);font-size:12px}\n"
"@page{size:A4 landscape;margin:12mm}\n"
"@media print{body{font-size:11px}main{max-width:none;padding:0}"
"nav{display:none}h2{break-after:avoid}tr{break-inside:avoid}"
".card{break-inside:avoid}a{color:inherit;text-decoration:none}}\n";

/* 'sha256-...' of the style element's text, for the CSP. */
static void
style_hash(char *dst, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];

	if (EVP_Digest(style, strlen(style), md, &n, iw_md_sha256(), NULL) !=
	    1) {
		snprintf(dst, len, "'none'");
		return;
	}
	EVP_EncodeBlock(b64, md, (int)n);
	snprintf(dst, len, "'sha256-%s'", b64);
}

static void
write_head(void)
{
	char hash[128];

	style_hash(hash, sizeof(hash));
	/* the policy comes first: nothing before it is from the network */
	fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta http-equiv=\"Content-Security-Policy\" content=\""
	    "default-src 'none'; style-src %s; img-src 'none'; "
	    "script-src 'none'; font-src 'none'; connect-src 'none'; "
	    "base-uri 'none'; form-action 'none'\">\n"
	    "<meta name=\"referrer\" content=\"no-referrer\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\">\n"
	    "<meta name=\"generator\" content=\"imapwatch %s\">\n"
	    "<title>imapwatch report</title>\n<style>%s</style>\n</head>\n",
	    hash, IW_VERSION, style);
}

static iw_time
span_start(void)
{
	iw_time t;

	return iw_ev_time(first_packet, &t) ? t : t_first;
}

static iw_time
span_end(void)
{
	iw_time t;

	return iw_ev_time(last_packet, &t) ? t : t_last;
}

static void
write_title(void)
{
	char a[40], b[40];

	fprintf(out, "<body>\n<main>\n<header class=\"top\">\n"
	    "<h1>imapwatch report</h1>\n<p class=\"sub\" id=\"span\">");
	if (have_time) {
		time_text(span_start(), a, sizeof(a));
		time_text(span_end(), b, sizeof(b));
		fprintf(out, "Capture from <span class=\"nowrap\">%s</span> to "
		    "<span class=\"nowrap\">%s</span> UTC (", a,
		    strncmp(a, b, 11) == 0 ? b + 11 : b);
		duration(span_end() - span_start());
		fprintf(out, ")");
	} else
		fprintf(out, "No packet times were seen");
	fprintf(out, " &middot; <span id=\"n-packets\" data-n=\"%llu\">%llu"
	    "</span> packets &middot; %llu TCP connections &middot; %llu "
	    "events</p>\n", (unsigned long long)packets,
	    (unsigned long long)packets, (unsigned long long)flows,
	    (unsigned long long)(events_by_type[0] + events_by_type[1] +
	    events_by_type[2] + events_by_type[3] + events_by_type[4] +
	    events_by_type[5] + events_by_type[6]));
	fprintf(out, "<nav><a href=\"#passwords\">Passwords</a>"
	    "<a href=\"#findings\">Findings</a><a href=\"#servers\">Servers</a>"
	    "<a href=\"#timeline\">Timeline</a><a href=\"#tls\">TLS</a>"
	    "<a href=\"#about\">About this report</a></nav>\n</header>\n");
}

static void
card(const char *cls, const char *key, const char *id, uint64_t n)
{
	fprintf(out, "<div class=\"card%s%s\"><div class=\"k\">%s</div>"
	    "<div class=\"n\" id=\"%s\" data-n=\"%llu\">%llu</div>"
	    "<div class=\"d\">", cls[0] ? " " : "", cls, key, id,
	    (unsigned long long)n, (unsigned long long)n);
}

static int
servers_with(int severity)
{
	int i, n = 0;

	for (i = 0; i < table.n; i++)
		if (server_at(i)->worst != 0 && server_at(i)->worst <= severity)
			n++;
	return n;
}

static void
write_cards(void)
{
	uint64_t imap = sessions_by_mode[IW_EV_CLEARTEXT] +
	    sessions_by_mode[IW_EV_STARTTLS] + sessions_by_mode[IW_EV_IMAPS];
	int i, m, first = 1;

	fprintf(out, "<section class=\"cards\">\n");
	card(passwords_clear ? "bad" : "good", "Passwords sent in clear",
	    "n-passwords", passwords_clear);
	if (nusers == 0)
		fprintf(out, "none seen");
	for (i = 0; i < nusers && i < 4; i++) {
		fprintf(out, "%s<span class=\"wire\">", i ? ", " : "users: ");
		esc(users[i]);
		fprintf(out, "</span>");
	}
	if (nusers > 4 || users_more)
		fprintf(out, " and more");
	fprintf(out, "</div></div>\n");
	card(alerts_by_sev[1] ? "bad" : "", "High-severity alerts",
	    "n-alerts-high", alerts_by_sev[1]);
	fprintf(out, "<span id=\"n-alerts-medium\" data-n=\"%llu\">%llu</span> "
	    "medium, <span id=\"n-alerts-low\" data-n=\"%llu\">%llu</span> low"
	    "</div></div>\n", (unsigned long long)alerts_by_sev[2],
	    (unsigned long long)alerts_by_sev[2],
	    (unsigned long long)alerts_by_sev[3],
	    (unsigned long long)alerts_by_sev[3]);
	card("", "Servers", "n-servers", (uint64_t)table.n);
	fprintf(out, "%d with a high-severity finding, %d with any</div></div>"
	    "\n", servers_with(1), servers_with(3));
	card("", "IMAP sessions", "n-sessions", imap);
	for (m = 0; m < IW_EV_MODES; m++) {
		if (sessions_by_mode[m] == 0)
			continue;
		fprintf(out, "%s<span id=\"n-mode-%d\" data-n=\"%llu\">%llu"
		    "</span> %s", first ? "" : ", ", m,
		    (unsigned long long)sessions_by_mode[m],
		    (unsigned long long)sessions_by_mode[m], iw_ev_mode_label[m]);
		first = 0;
	}
	fprintf(out, "</div></div>\n</section>\n");
}

/* ---- writing: passwords ---- */

static void
td_wire(const char *cls, const char *s)
{
	fprintf(out, "<td class=\"%s\">", cls);
	if (s[0] == '\0')
		fprintf(out, "<span class=\"muted\">&ndash;</span>");
	else
		esc(s);
	fprintf(out, "</td>");
}

static void
write_passwords(void)
{
	char t[40];
	int i;

	fprintf(out, "<h2 id=\"passwords\">Passwords sent in clear</h2>\n");
	if (passwords_clear == 0) {
		fprintf(out, "<p class=\"clean\">No LOGIN or password-carrying "
		    "AUTHENTICATE was seen on an unencrypted connection.</p>\n");
		return;
	}
	fprintf(out, "<p class=\"note\">Each row is a LOGIN, or an AUTHENTICATE "
	    "whose mechanism carries the password (PLAIN, LOGIN, XOAUTH2, "
	    "OAUTHBEARER), that crossed the network unencrypted: whoever "
	    "captured it has the password. Reset these passwords. User names "
	    "are shown as <code>--usernames</code> said; passwords never "
	    "are.</p>\n<table id=\"passwords-table\"><thead><tr><th>Time (UTC)"
	    "</th><th>Client</th><th>Server</th><th>User</th><th>Command</th>"
	    "<th>Result</th></tr></thead><tbody>\n");
	for (i = 0; i < ncreds; i++) {
		fprintf(out, "<tr class=\"cred\"><td class=\"nowrap\">%s</td>",
		    iw_ev_short_time(creds[i].ts, t, sizeof(t)));
		td_wire("addr", creds[i].client);
		td_wire("addr", creds[i].server);
		td_wire("wire user", creds[i].user);
		td_wire("wire", creds[i].how);
		td_wire("wire", creds[i].status);
		fprintf(out, "</tr>\n");
	}
	fprintf(out, "</tbody></table>\n");
	if (passwords_clear > (uint64_t)ncreds)
		fprintf(out, "<p class=\"note\">The first %d of %llu are listed."
		    "</p>\n", ncreds, (unsigned long long)passwords_clear);
}

/* ---- writing: findings ---- */

static int
finding_severity(int f)
{
	return findings[f].alerts ? findings[f].sev_min :
	    iw_finding_info(f)->severity;
}

static int
finding_order(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	int sx = finding_severity(x), sy = finding_severity(y);

	if (sx != sy)
		return sx - sy;
	if (findings[x].alerts != findings[y].alerts)
		return findings[x].alerts > findings[y].alerts ? -1 : 1;
	return strcmp(iw_finding_info(x)->id, iw_finding_info(y)->id);
}

static void
write_connections(const struct finding *fs)
{
	char t[40];
	int i;

	fprintf(out, "<table><thead><tr><th>Time (UTC)</th><th>Client</th>"
	    "<th>Server</th><th>User</th><th>Evidence</th></tr></thead><tbody>"
	    "\n");
	for (i = 0; i < fs->nex; i++) {
		fprintf(out, "<tr class=\"conn\"><td class=\"nowrap\">%s</td>",
		    iw_ev_short_time(fs->ex[i].ts, t, sizeof(t)));
		td_wire("addr", fs->ex[i].client);
		td_wire("addr", fs->ex[i].server);
		td_wire("wire user", fs->ex[i].user);
		td_wire("wire evidence", fs->ex[i].evidence);
		fprintf(out, "</tr>\n");
	}
	fprintf(out, "</tbody></table>\n");
	if (fs->alerts > (uint64_t)fs->nex)
		fprintf(out, "<p class=\"note\">The first %d of %llu "
		    "connections.</p>\n", fs->nex,
		    (unsigned long long)fs->alerts);
}

static void
write_finding(int f)
{
	const struct finding *fs = &findings[f];
	const struct iw_finding_info *fi = iw_finding_info(f);
	int sev = finding_severity(f);

	fprintf(out, "<div class=\"finding s%d\" id=\"f-%s\" data-alerts=\""
	    "%llu\" data-severity=\"%d\">\n<h3><span class=\"sev s%d\">%s"
	    "</span> <span class=\"mono\">%s</span> &middot; %llu %s", sev,
	    fi->id, (unsigned long long)fs->alerts, sev, sev, sev_label[sev],
	    fi->id, (unsigned long long)fs->alerts,
	    plural(fs->alerts, "alert", "alerts"));
	if (fs->sev_min != fs->sev_max && fs->alerts > 0)
		fprintf(out, " (severity %d to %d)", fs->sev_min, fs->sev_max);
	if (fs->suppressed > 0)
		fprintf(out, ", %llu suppressed",
		    (unsigned long long)fs->suppressed);
	if (fs->repeated > 0)
		fprintf(out, ", %llu repeated (once per server)",
		    (unsigned long long)fs->repeated);
	fprintf(out, "</h3>\n<p>%s.</p>\n", fi->message);
	if (fs->nex > 0)
		write_connections(fs);
	fprintf(out, "</div>\n");
}

static void
write_findings(void)
{
	int order[IW_F_COUNT], n = 0, f, i, group = 0;

	for (f = 0; f < IW_F_COUNT; f++)
		if (findings[f].alerts || findings[f].suppressed ||
		    findings[f].repeated)
			order[n++] = f;
	qsort(order, (size_t)n, sizeof(order[0]), finding_order);
	fprintf(out, "<h2 id=\"findings\">Findings (<span id=\"n-findings\" "
	    "data-n=\"%d\">%d</span>), most severe first</h2>\n", n, n);
	if (n == 0)
		fprintf(out, "<p class=\"clean\">No finding.</p>\n");
	for (i = 0; i < n; i++) {
		if (finding_severity(order[i]) != group) {
			group = finding_severity(order[i]);
			fprintf(out, "<div class=\"group\">%s severity</div>\n",
			    sev_label[group]);
		}
		write_finding(order[i]);
	}
}

/* ---- writing: servers ---- */

static int
server_order(const void *a, const void *b)
{
	const struct server *x = *(struct server *const *)a;
	const struct server *y = *(struct server *const *)b;
	int wx = x->worst ? x->worst : 4, wy = y->worst ? y->worst : 4;

	if (wx != wy)
		return wx - wy;
	if (x->alerts != y->alerts)
		return x->alerts > y->alerts ? -1 : 1;
	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return strcmp(x->item.key, y->item.key);
}

/* "yes", "no", "not seen" or "yes in 2, no in 1" for sessions saying
 * no (c[0]) and yes (c[1]); a wanted answer is green, the other red. */
static void
yes_no(const uint64_t c[2])
{
	if (c[0] == 0 && c[1] == 0)
		fprintf(out, "<span class=\"muted\">not seen</span>");
	else if (c[0] == 0)
		fprintf(out, "<span class=\"yes\">yes</span>");
	else if (c[1] == 0)
		fprintf(out, "<span class=\"no\">no</span>");
	else
		fprintf(out, "<span class=\"no\">yes in %llu, no in %llu</span>",
		    (unsigned long long)c[1], (unsigned long long)c[0]);
}

static void
write_counted(const struct counted *set, int n, uint64_t more)
{
	int i;

	for (i = 0; i < n; i++) {
		fprintf(out, "<div class=\"mono\"><span%s>",
		    is_weak(set[i].name) ? " class=\"no\"" : "");
		esc_wrap(set[i].name);
		fprintf(out, "</span> <span class=\"muted\">(%llu)</span></div>",
		    (unsigned long long)set[i].n);
	}
	if (more > 0)
		fprintf(out, "<div class=\"muted\">%llu more</div>",
		    (unsigned long long)more);
}

static void
write_expiry(const struct cert *c)
{
	if (c->days_early > 0) {
		fprintf(out, "<div class=\"nowrap expired\">not valid before ");
		esc(c->notbefore);
		fprintf(out, "</div><div class=\"expired days-early\" "
		    "data-days=\"%lld\">%lld days after the session</div>",
		    c->days_early, c->days_early);
	}
	if (c->notafter[0] == '\0')
		return;
	fprintf(out, "<div class=\"nowrap%s\">%s ", c->expired ? " expired" :
	    "", c->expired ? "expired" : "expires");
	esc(c->notafter);
	fprintf(out, "</div>");
	if (c->expired)
		fprintf(out, "<div class=\"expired days\" data-days=\"-%lld\">"
		    "%lld days before the session</div>", c->days, c->days);
	else if (c->dated)
		fprintf(out, "<div class=\"muted days\" data-days=\"%lld\">%lld "
		    "days left</div>", c->days, c->days);
}

static void
write_cert(const struct cert *c)
{
	fprintf(out, "<div class=\"cert\"><div class=\"wire subject\">");
	esc_wrap(c->subject);
	fprintf(out, "</div>");
	if (c->names[0] != '\0') {
		fprintf(out, "<div class=\"muted wire\">names: ");
		esc_wrap(c->names);
		fprintf(out, "</div>");
	}
	fprintf(out, "<div class=\"muted wire\">issuer: ");
	esc_wrap(c->issuer[0] ? c->issuer : "-");
	if (c->self_signed)
		fprintf(out, " <span class=\"no\">(self-signed)</span>");
	if (c->key[0] != '\0') {
		fprintf(out, "; key ");
		esc(c->key);
	}
	fprintf(out, "</div>");
	write_expiry(c);
	fprintf(out, "</div>");
}

static void
certs_cell(const struct server *s)
{
	int i;

	fprintf(out, "<td>");
	for (i = 0; i < s->ncert; i++)
		write_cert(&s->cert[i]);
	if (s->certs_more > 0)
		fprintf(out, "<div class=\"muted\">%llu more certificates</div>",
		    (unsigned long long)s->certs_more);
	if (s->hidden > 0)
		fprintf(out, "<div class=\"muted\">encrypted by TLS 1.3 in "
		    "%llu %s</div>", (unsigned long long)s->hidden,
		    plural(s->hidden, "session", "sessions"));
	if (s->ncert == 0 && s->hidden == 0)
		fprintf(out, "<span class=\"muted\">&ndash;</span>");
	fprintf(out, "</td>");
}

static void
findings_cell(const struct server *s)
{
	int f, first = 1;

	fprintf(out, "<td class=\"findings\">");
	for (f = 0; f < IW_F_COUNT; f++) {
		if (s->finding[f] == 0)
			continue;
		fprintf(out, "<a class=\"tag s%d\" href=\"#f-%s\" data-id=\"%s\" "
		    "data-n=\"%u\">%s&nbsp;&times;%u</a> ",
		    iw_finding_info(f)->severity, iw_finding_info(f)->id,
		    iw_finding_info(f)->id, s->finding[f],
		    iw_finding_info(f)->id, s->finding[f]);
		first = 0;
	}
	if (first)
		fprintf(out, "<span class=\"yes\">none</span>");
	fprintf(out, "</td>");
}

static void
server_cell(const struct server *s)
{
	int i;

	fprintf(out, "<td><div class=\"addr mono\">");
	esc(s->item.key);
	fprintf(out, "</div>");
	for (i = 0; i < s->nname; i++) {
		fprintf(out, "<div class=\"wire name\">");
		esc_wrap(s->name[i]);
		fprintf(out, "</div>");
	}
	if (s->greeting[0] != '\0') {
		fprintf(out, "<div class=\"wire muted greeting\">&ldquo;");
		esc(s->greeting);
		fprintf(out, "&rdquo;</div>");
	}
	fprintf(out, "</td>");
}

static void
imap_cell(const struct server *s)
{
	fprintf(out, "<td class=\"nowrap\"><div>offered: ");
	yes_no(s->offered);
	fprintf(out, "</div><div>used: %llu of %llu</div>"
	    "<div>LOGINDISABLED: ", (unsigned long long)s->sessions[IW_EV_STARTTLS],
	    (unsigned long long)(s->sessions[IW_EV_CLEARTEXT] +
	    s->sessions[IW_EV_STARTTLS]));
	yes_no(s->logindisabled);
	fprintf(out, "</div></td>");
}

static void
write_server_row(const struct server *s)
{
	int m, first = 1;

	fprintf(out, "<tr class=\"srv\" data-addr=\"");
	esc(s->item.key);
	fprintf(out, "\" data-sessions=\"%llu\">", (unsigned long long)s->total);
	server_cell(s);
	fprintf(out, "<td class=\"num\">%llu<div class=\"muted\">",
	    (unsigned long long)s->total);
	for (m = 0; m < IW_EV_MODES; m++) {
		if (s->sessions[m] == 0)
			continue;
		fprintf(out, "%s%s&nbsp;%llu", first ? "" : "<br>",
		    iw_ev_mode_label[m], (unsigned long long)s->sessions[m]);
		first = 0;
	}
	fprintf(out, "</div></td>");
	if (s->sessions[IW_EV_CLEARTEXT] + s->sessions[IW_EV_STARTTLS] > 0)
		imap_cell(s);
	else
		fprintf(out, "<td class=\"muted\">no cleartext session</td>");
	fprintf(out, "<td>");
	write_counted(s->version, s->nversion, s->version_more);
	write_counted(s->suite, s->nsuite, s->suite_more);
	if (s->nversion + s->nsuite == 0)
		fprintf(out, "<span class=\"muted\">&ndash;</span>");
	fprintf(out, "</td>");
	certs_cell(s);
	findings_cell(s);
	fprintf(out, "</tr>\n");
}

static void
write_servers(void)
{
	int i, shown = table.n < IW_REPORT_ROWS ? table.n : IW_REPORT_ROWS;

	fprintf(out, "<h2 id=\"servers\">Servers (%d), the most exposed first"
	    "</h2>\n", table.n);
	fprintf(out, "<p class=\"note\">A server is an address and port that "
	    "answered IMAP or TLS, with the names clients asked it for (SNI or "
	    "--server-name) and its first greeting. STARTTLS and LOGINDISABLED "
	    "are known from the capabilities its cleartext sessions showed. "
	    "Days left are counted "
	    "from the first session that showed the certificate. Numbers in "
	    "brackets are sessions.</p>\n");
	fprintf(out, "<table id=\"servers-table\"><thead><tr><th>Server</th>"
	    "<th class=\"num\">Sessions</th><th>STARTTLS</th>"
	    "<th>TLS versions and suites</th><th>Certificate</th>"
	    "<th>Findings (sessions)</th></tr></thead><tbody>\n");
	for (i = 0; i < shown; i++)
		write_server_row(server_at(i));
	fprintf(out, "</tbody></table>\n");
	if (shown < table.n)
		fprintf(out, "<p class=\"note\">The first %d of %d servers, "
		    "most exposed first.</p>\n", shown, table.n);
	if (servers_dropped > 0)
		fprintf(out, "<p class=\"note\">%llu sessions with servers past "
		    "the first %d are counted above but not in this table.</p>"
		    "\n", (unsigned long long)servers_dropped,
		    IW_REPORT_MAX_SERVERS);
}

/* ---- writing: the timeline ---- */

#define TL_W		1100
#define TL_X0		190
#define TL_X1		1085
#define TL_LANE		26
#define TL_TOP		10

static iw_time tl_t0, tl_t1;

static double
tl_x(iw_time t)
{
	return TL_X0 + (double)(t - tl_t0) * (TL_X1 - TL_X0) /
	    (double)(tl_t1 - tl_t0);
}

static int
lane_of(const struct server *s, int nlanes)
{
	return s != NULL && s->lane >= 0 ? s->lane : nlanes;
}

/* A tick step giving at most 8 ticks. */
static iw_time
tick_step(iw_time span)
{
	static const int64_t steps[] = { 1, 2, 5, 10, 15, 30, 60, 120, 300,
	    600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800,
	    604800, 2592000, 31536000 };
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (span / (steps[i] * IW_USEC) <= 8)
			return steps[i] * IW_USEC;
	return span / 8 + 1;
}

static void
write_axis(int y)
{
	iw_time step = tick_step(tl_t1 - tl_t0), t;
	bool days = tl_t1 - tl_t0 > 86400 * IW_USEC;
	char buf[40], *label;
	double x;

	fprintf(out, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" "
	    "y2=\"%d\"/>\n", TL_X0, y, TL_X1, y);
	for (t = (tl_t0 + step - 1) / step * step; t <= tl_t1; t += step) {
		x = tl_x(t);
		time_text(t, buf, sizeof(buf));
		/* "04:56:50", or "11-29 04:56" over more than a day */
		label = days ? buf + 5 : buf + 11;
		if (days)
			buf[16] = '\0';
		fprintf(out, "<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" "
		    "x2=\"%.1f\" y2=\"%d\"/><text class=\"tick\" x=\"%.1f\" "
		    "y=\"%d\" text-anchor=\"middle\">%s</text>\n", x, TL_TOP, x,
		    y, x, y + 14, label);
	}
}

static void
write_lanes(const struct server **lanes, int nlanes, bool other)
{
	int i;

	for (i = 0; i < nlanes + (other ? 1 : 0); i++) {
		int y = TL_TOP + i * TL_LANE;

		fprintf(out, "<line class=\"grid\" x1=\"%d\" y1=\"%d\" x2=\"%d\""
		    " y2=\"%d\"/><text class=\"mono\" x=\"%d\" y=\"%d\" "
		    "text-anchor=\"end\">", TL_X0, y + TL_LANE, TL_X1,
		    y + TL_LANE, TL_X0 - 8, y + 17);
		if (i < nlanes)
			esc(lanes[i]->item.key);
		else
			fprintf(out, "other servers");
		fprintf(out, "</text>\n");
	}
}

static void
write_tl_sessions(int nlanes)
{
	char a[40], b[40];
	double x0, x1;
	int i, y;

	for (i = 0; i < ntl_sessions; i++) {
		const struct tl_session *t = &tl_sessions[i];

		y = TL_TOP + lane_of(t->srv, nlanes) * TL_LANE + 12;
		x0 = tl_x(t->start);
		x1 = tl_x(t->end);
		if (x1 - x0 < 3)
			x1 = x0 + 3;
		fprintf(out, "<rect class=\"m%d\" x=\"%.1f\" y=\"%d\" width=\""
		    "%.1f\" height=\"9\" rx=\"1.5\"><title>", t->mode, x0, y,
		    x1 - x0);
		esc(t->client);
		fprintf(out, " to ");
		esc(t->srv != NULL ? t->srv->item.key : "?");
		fprintf(out, ", %s, %s to %s UTC, %u %s</title></rect>\n",
		    iw_ev_mode_label[t->mode], time_text(t->start, a, sizeof(a)),
		    time_text(t->end, b, sizeof(b)) + 11, t->nfindings,
		    t->nfindings == 1 ? "finding" : "findings");
	}
}

static void
write_tl_marks(int nlanes)
{
	char a[40];
	double x;
	int i, y;

	for (i = 0; i < ntl_marks; i++) {
		const struct tl_mark *m = &tl_marks[i];

		y = TL_TOP + lane_of(m->srv, nlanes) * TL_LANE + 10;
		x = tl_x(m->ts);
		fprintf(out, "<path class=\"k%d\" d=\"M%.1f %d l-4.5 -7.5 h9 "
		    "z\"><title>%s: %s at %s UTC</title></path>\n", m->severity,
		    x, y, sev_label[m->severity],
		    iw_finding_info(m->finding)->id,
		    time_text(m->ts, a, sizeof(a)));
	}
}

static void
write_timeline(void)
{
	const struct server *lanes[LANES];
	int i, nlanes = 0, rows, h;
	bool other = false;

	fprintf(out, "<h2 id=\"timeline\">Timeline</h2>\n");
	if (!have_time) {
		fprintf(out, "<p class=\"note\">Nothing to draw.</p>\n");
		return;
	}
	for (i = 0; i < table.n; i++)
		server_at(i)->lane = i < LANES ? i : -1;
	nlanes = table.n < LANES ? table.n : LANES;
	for (i = 0; i < nlanes; i++)
		lanes[i] = server_at(i);
	for (i = 0; i < ntl_sessions && !other; i++)
		other = lane_of(tl_sessions[i].srv, nlanes) == nlanes;
	for (i = 0; i < ntl_marks && !other; i++)
		other = lane_of(tl_marks[i].srv, nlanes) == nlanes;
	tl_t0 = t_first;
	tl_t1 = t_last > t_first ? t_last : t_first + IW_USEC;
	rows = nlanes + (other ? 1 : 0);
	h = TL_TOP + rows * TL_LANE + 24;
	fprintf(out, "<p class=\"legend\"><span><i class=\"m0\"></i>cleartext "
	    "session</span><span><i class=\"m1\"></i>STARTTLS</span><span>"
	    "<i class=\"m2\"></i>IMAPS</span><span><i class=\"m3\"></i>other "
	    "TLS</span><span><i class=\"k1\"></i>high</span><span><i "
	    "class=\"k2\"></i>medium</span><span><i class=\"k3\"></i>low "
	    "finding</span></p>\n<svg id=\"timeline-svg\" viewBox=\"0 0 %d %d\""
	    " role=\"img\" aria-label=\"sessions and findings over time\">\n",
	    TL_W, h);
	write_lanes(lanes, nlanes, other);
	write_axis(TL_TOP + rows * TL_LANE);
	write_tl_sessions(nlanes);
	write_tl_marks(nlanes);
	fprintf(out, "</svg>\n<p class=\"note\">One row a server, in the order "
	    "of the servers table (the first %d). Each bar is a session, from "
	    "its first event (the greeting) to its end; IMAPS sessions show "
	    "only their end. Hover for details.", LANES);
	if (tl_sessions_more > 0 || tl_marks_more > 0)
		fprintf(out, " Only the first %d sessions and %d findings are "
		    "drawn (%llu and %llu more).", IW_REPORT_TIMELINE,
		    IW_REPORT_TIMELINE, (unsigned long long)tl_sessions_more,
		    (unsigned long long)tl_marks_more);
	fprintf(out, "</p>\n");
}

/* ---- writing: charts ---- */

static int
by_version(const void *a, const void *b)
{
	const struct counted *x = a, *y = b;
	int vx = iw_ev_tls_version(x->name), vy = iw_ev_tls_version(y->name);

	if (vx != vy)
		return vx > vy ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int
by_count(const void *a, const void *b)
{
	const struct counted *x = a, *y = b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void
write_chart(const char *id, const char *title, struct counted *set, int n,
    uint64_t more, int label_w)
{
	int rows = n < CHART_ROWS ? n : CHART_ROWS, i, w = 560, y;
	uint64_t max = 1, rest = more;
	double bw;

	for (i = 0; i < n; i++) {
		if (set[i].n > max)
			max = set[i].n;
		if (i >= rows)
			rest += set[i].n;
	}
	fprintf(out, "<figure><h3>%s</h3>\n", title);
	if (n == 0) {
		fprintf(out, "<p class=\"note\">No TLS session.</p></figure>\n");
		return;
	}
	fprintf(out, "<svg class=\"chart\" id=\"%s\" viewBox=\"0 0 %d %d\" "
	    "role=\"img\" aria-label=\"%s\">\n", id, w,
	    (rows + (rest ? 1 : 0)) * 22 + 8, title);
	for (i = 0; i < rows; i++) {
		y = 4 + i * 22;
		bw = (double)set[i].n * (w - label_w - 60) / (double)max;
		fprintf(out, "<g class=\"row\" data-name=\"");
		esc(set[i].name);
		fprintf(out, "\" data-n=\"%llu\"><text class=\"mono\" x=\"%d\" "
		    "y=\"%d\" text-anchor=\"end\">", (unsigned long long)set[i].n,
		    label_w - 8, y + 13);
		esc(set[i].name);
		fprintf(out, "</text><rect class=\"bar%s\" x=\"%d\" y=\"%d\" "
		    "width=\"%.1f\" height=\"15\" rx=\"2\"/><text x=\"%.1f\" "
		    "y=\"%d\">%llu</text></g>\n", is_weak(set[i].name) ?
		    " weak" : "", label_w, y, bw < 1 ? 1 : bw, label_w + bw + 6,
		    y + 12, (unsigned long long)set[i].n);
	}
	if (rest > 0)
		fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" "
		    "class=\"tick\">%llu more sessions</text>\n", label_w - 8,
		    4 + rows * 22 + 13, (unsigned long long)rest);
	fprintf(out, "</svg></figure>\n");
}

static void
write_charts(void)
{
	fprintf(out, "<h2 id=\"tls\">TLS</h2>\n<p class=\"note\">Sessions by "
	    "the protocol version and cipher suite they negotiated; red where "
	    "an alert of this run called them weak or obsolete.</p>\n"
	    "<div class=\"charts\">\n");
	qsort(versions, (size_t)nversions, sizeof(versions[0]), by_version);
	write_chart("chart-versions", "Protocol versions", versions, nversions,
	    versions_more, 120);
	qsort(suites, (size_t)nsuites, sizeof(suites[0]), by_count);
	write_chart("chart-suites", "Cipher suites", suites, nsuites,
	    suites_more, 300);
	fprintf(out, "</div>\n");
}

/* ---- writing: about ---- */

static void
write_about(void)
{
	int i;

	fprintf(out, "<h2 id=\"about\">About this report</h2>\n<p class=\"note\""
	    ">Made by imapwatch %s from the events of its run (", IW_VERSION);
	for (i = 0; i < 7; i++)
		fprintf(out, "%s%s <span id=\"n-ev-%s\" data-n=\"%llu\">%llu"
		    "</span>", i ? ", " : "", event_types[i], event_types[i],
		    (unsigned long long)events_by_type[i],
		    (unsigned long long)events_by_type[i]);
	fprintf(out, "), the same a SIEM receives: %llu bytes in %llu packets, "
	    "%llu anomalies. ", (unsigned long long)bytes,
	    (unsigned long long)packets, (unsigned long long)anomalies);
	fprintf(out, "Tables show at most %d rows, findings their first %d "
	    "connections, the timeline the first %d sessions and findings; "
	    "what is left out is counted where it is left out. Times are "
	    "packet times, UTC.</p>\n<p class=\"note\">Every name, greeting, "
	    "user name and certificate field on this page came from the "
	    "network and is shown as text: NUL as &#x2400;, control and "
	    "bidirectional characters as &#xFFFD;. The page loads nothing and "
	    "runs no script; its Content-Security-Policy forbids both.</p>\n",
	    IW_REPORT_ROWS, IW_REPORT_CONNECTIONS, IW_REPORT_TIMELINE);
	fprintf(out, "<footer>imapwatch %s &middot; passive IMAP and IMAPS "
	    "analyzer</footer>\n</main>\n</body>\n</html>\n", IW_VERSION);
}

/* ---- the end ---- */

static void
free_all(void)
{
	int i;

	iw_ev_table_free(&table);
	for (i = 0; i < nusers; i++)
		free(users[i]);
	nusers = 0;
	free(tl_sessions);
	free(tl_marks);
	tl_sessions = NULL;
	tl_marks = NULL;
	on = false;
}

int
iw_report_write(char *err, size_t errlen)
{
	int rc = 0;

	if (out == NULL)
		return 0;
	if (table.n > 0)
		qsort(table.items, (size_t)table.n, sizeof(*table.items),
		    server_order);
	write_head();
	write_title();
	write_cards();
	write_passwords();
	write_findings();
	write_servers();
	write_timeline();
	write_charts();
	write_about();
	if (ferror(out) || fclose(out) != 0) {
		snprintf(err, errlen, "--report: writing failed: %m");
		rc = -1;
	}
	out = NULL;
	free_all();
	return rc;
}
