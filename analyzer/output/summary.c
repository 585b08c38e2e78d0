/* SPDX-License-Identifier: ISC */
/*
 * summary.c - the --summary report, from the events as they are emitted.
 *
 * Written for someone who has just run imapwatch on a capture: the answer
 * first (were passwords sent in clear, how many alerts of what severity),
 * then each finding with what it means and its first connections, then the
 * servers.  Nothing that did not occur is listed.
 */
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event_read.h"
#include "findings.h"
#include "report.h"
#include "summary.h"
#include "suppress.h"

#define MAX_SET		6	/* versions, ciphers a server */
#define MAX_CERTS	6	/* certificates a server */
#define MAX_USERS	5	/* users named in the headline */
#define TEXT		256

static const char *const severity_name[4] = {
	"?", "high", "medium", "low",
};

struct cert {
	char	subject[TEXT];
	char	names[TEXT];
	char	notafter[32];
	char	key[32];		/* "RSA 2048" */
	char	when[64];		/* "expired 9098 days before" */
};

struct server {
	struct iw_ev_item item;		/* key "ip:port", "[v6]:port" */
	uint64_t	 sessions[IW_EV_MODES];
	uint64_t	 starttls[2];	/* sessions saying no, yes */
	uint64_t	 logindisabled[2];
	uint64_t	 tls13_hidden;	/* certificate encrypted */
	char		 version[MAX_SET][16];
	char		 cipher[MAX_SET][80];
	int		 nversion, ncipher;
	struct cert	 cert[MAX_CERTS];
	int		 ncert;
	uint64_t	 certs_more;	/* more than MAX_CERTS */
	uint64_t	 findings;		/* bit per finding */
};

struct example {
	char	ts[40];
	char	client[64];
	char	server[64];
	char	user[TEXT];
};

struct finding_sum {
	uint64_t	alerts;
	int		sev_min, sev_max;
	struct example	ex[IW_SUMMARY_EXAMPLES];
	int		nex;
	uint64_t	suppressed, repeated;	/* from the stats event */
};

static bool on;
static uint64_t modes[IW_EV_MODES], packets, alerts_total, servers_dropped;
static uint64_t by_severity[4], passwords_clear;
static char users[MAX_USERS][TEXT];
static int nusers;
static bool users_more;
static char first_ts[40], last_ts[40];		/* of the events */
static char first_pkt[40], last_pkt[40];	/* from the stats event */
static struct iw_ev_table servers = {
	.max = IW_SUMMARY_MAX_SERVERS, .size = sizeof(struct server),
};
static struct finding_sum fsum[IW_F_COUNT];

/* ---- reading events ---- */

/* Copies s, control characters (C0, DEL, C1) made "?". */
static void
copy_clean(char *dst, size_t len, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "-");
	size_t o = 0;

	while (*p != '\0' && o + 1 < len) {
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			dst[o++] = '?';
			p += 2;
			continue;
		}
		dst[o++] = (*p < 0x20 || *p == 0x7f) ? '?' : (char)*p;
		p++;
	}
	/* never end inside a UTF-8 sequence */
	while (o > 0 && ((unsigned char)dst[o - 1] & 0xc0) == 0x80 && *p)
		o--;
	if (o > 0 && ((unsigned char)dst[o - 1] & 0xc0) == 0xc0 && *p)
		o--;
	dst[o] = '\0';
}

static void
note_time(struct json_object *ev)
{
	const char *ts = iw_ev_str(ev, "timestamp");

	if (ts == NULL)
		return;
	if (first_ts[0] == '\0' || strcmp(ts, first_ts) < 0)
		copy_clean(first_ts, sizeof(first_ts), ts);
	if (strcmp(ts, last_ts) > 0)
		copy_clean(last_ts, sizeof(last_ts), ts);
}

/* ---- servers ---- */

static void
add_to_set(char *set, size_t width, int *n, const char *v)
{
	char clean[TEXT];
	int i;

	if (v == NULL)
		return;
	copy_clean(clean, width < sizeof(clean) ? width : sizeof(clean), v);
	for (i = 0; i < *n; i++)
		if (strcmp(set + (size_t)i * width, clean) == 0)
			return;
	if (*n == MAX_SET)
		return;
	memcpy(set + (size_t)(*n)++ * width, clean, strlen(clean) + 1);
}

static void
key_text(char *dst, size_t len, struct json_object *key)
{
	char type[16];

	copy_clean(type, sizeof(type), iw_ev_str(key, "type"));
	snprintf(dst, len, "%s %d", type, (int)iw_ev_int(key, "bits", 0));
}

/* "expired 9098 days before the session", "expires in 8432 days". */
static void
validity_text(char *dst, size_t len, const char *notafter,
    const char *session_ts)
{
	iw_time end, at;

	dst[0] = '\0';
	if (!iw_ev_time(notafter, &end) || !iw_ev_time(session_ts, &at))
		return;
	if (end < at)
		snprintf(dst, len, "expired %lld days before the session",
		    (long long)((at - end) / (86400 * IW_USEC)));
	else
		snprintf(dst, len, "%lld days left at the session",
		    (long long)((end - at) / (86400 * IW_USEC)));
}

static void
add_cert(struct server *s, struct json_object *ev, struct json_object *tls)
{
	struct cert c;
	const char *subject = iw_ev_str(tls, "subject");
	char names[TEXT];
	int i;

	if (subject == NULL)
		return;
	copy_clean(c.subject, sizeof(c.subject), subject);
	iw_ev_san_names(names, sizeof(names), iw_ev_get(tls, "subjectaltname"));
	copy_clean(c.names, sizeof(c.names), names);
	copy_clean(c.notafter, sizeof(c.notafter), iw_ev_str(tls, "notafter"));
	key_text(c.key, sizeof(c.key), iw_ev_get(tls, "key"));
	for (i = 0; i < s->ncert; i++)
		if (strcmp(s->cert[i].subject, c.subject) == 0 &&
		    strcmp(s->cert[i].notafter, c.notafter) == 0 &&
		    strcmp(s->cert[i].key, c.key) == 0)
			return;
	validity_text(c.when, sizeof(c.when), iw_ev_str(tls, "notafter"),
	    iw_ev_str(ev, "timestamp"));
	if (s->ncert < MAX_CERTS)
		s->cert[s->ncert++] = c;
	else
		s->certs_more++;
}

static void
session_event(struct json_object *ev, const char *type)
{
	struct json_object *app = iw_ev_get(ev, type), *tls = iw_ev_get(ev, "tls");
	enum iw_ev_mode m = iw_ev_session_mode(type, app);
	struct server *s;
	char addr[64];

	modes[m]++;
	iw_ev_endpoint(addr, sizeof(addr), ev, "dest_ip", "dest_port");
	if ((s = iw_ev_table_get(&servers, addr)) == NULL) {
		servers_dropped++;
		return;
	}
	s->sessions[m]++;
	/* what the server offers is known only if its capabilities were seen */
	if (iw_ev_get(app, "capabilities") != NULL) {
		iw_ev_count_bool(s->starttls, iw_ev_get(app, "starttls_offered"));
		iw_ev_count_bool(s->logindisabled, iw_ev_get(app, "logindisabled"));
	}
	s->findings |= iw_ev_finding_bits(iw_ev_get(app, "findings"));
	if (tls == NULL)
		return;
	add_to_set(&s->version[0][0], sizeof(s->version[0]), &s->nversion,
	    iw_ev_str(tls, "version"));
	add_to_set(&s->cipher[0][0], sizeof(s->cipher[0]), &s->ncipher,
	    iw_ev_str(tls, "cipher"));
	if (iw_ev_cert_encrypted(tls))
		s->tls13_hidden++;
	add_cert(s, ev, tls);
}

/* ---- findings ---- */

static void
note_user(const char *user)
{
	char clean[TEXT];
	int i;

	if (user == NULL)
		return;
	copy_clean(clean, sizeof(clean), user);
	for (i = 0; i < nusers; i++)
		if (strcmp(users[i], clean) == 0)
			return;
	if (nusers == MAX_USERS) {
		users_more = true;
		return;
	}
	memcpy(users[nusers++], clean, strlen(clean) + 1);
}

static void
alert_event(struct json_object *ev)
{
	struct json_object *al = iw_ev_get(ev, "alert");
	struct finding_sum *fs;
	struct example *x;
	const char *user = iw_ev_str(iw_ev_get(ev, "imap"), "username");
	int f, v;

	if ((f = iw_finding_by_id(iw_ev_str(al, "signature") ?
	    iw_ev_str(al, "signature") : "")) < 0)
		return;
	alerts_total++;
	fs = &fsum[f];
	v = (int)iw_ev_int(al, "severity", iw_finding_info(f)->severity);
	if (v >= 1 && v <= 3)
		by_severity[v]++;
	if (iw_ev_password_alert(f, v)) {
		passwords_clear++;
		note_user(user);
	}
	if (fs->alerts == 0 || v < fs->sev_min)
		fs->sev_min = v;
	if (fs->alerts == 0 || v > fs->sev_max)
		fs->sev_max = v;
	fs->alerts++;
	if (fs->nex == IW_SUMMARY_EXAMPLES)
		return;
	x = &fs->ex[fs->nex++];
	copy_clean(x->ts, sizeof(x->ts), iw_ev_str(ev, "timestamp"));
	iw_ev_endpoint(x->client, sizeof(x->client), ev, "src_ip", "src_port");
	iw_ev_endpoint(x->server, sizeof(x->server), ev, "dest_ip",
	    "dest_port");
	x->user[0] = '\0';
	if (user != NULL)
		copy_clean(x->user, sizeof(x->user), user);
}

static void
stats_event(struct json_object *ev)
{
	struct json_object *st = iw_ev_get(ev, "stats"), *cap, *sess, *sup, *rep;
	int f;

	cap = iw_ev_get(st, "capture");
	packets = (uint64_t)iw_ev_int(cap, "packets", 0);
	if (iw_ev_str(cap, "first_packet") != NULL)
		copy_clean(first_pkt, sizeof(first_pkt),
		    iw_ev_str(cap, "first_packet"));
	if (iw_ev_str(cap, "last_packet") != NULL)
		copy_clean(last_pkt, sizeof(last_pkt), iw_ev_str(cap, "last_packet"));
	sess = iw_ev_get(st, "sessions");
	sup = iw_ev_get(sess, "findings_suppressed");
	rep = iw_ev_get(sess, "findings_repeated");
	for (f = 0; f < IW_F_COUNT; f++) {
		fsum[f].suppressed = (uint64_t)iw_ev_int(sup,
		    iw_finding_info(f)->id, 0);
		fsum[f].repeated = (uint64_t)iw_ev_int(rep,
		    iw_finding_info(f)->id, 0);
	}
}

void
iw_summary_enable(void)
{
	on = true;
}

void
iw_event_observe(struct json_object *ev)
{
	const char *type;

	iw_noise_annotate(ev);
	iw_report_event(ev);
	if (on && (type = iw_ev_str(ev, "event_type")) != NULL &&
	    strcmp(type, "stats") == 0)
		stats_event(ev);
}

void
iw_summary_observe(struct json_object *ev)
{
	const char *type;

	if (!on || (type = iw_ev_str(ev, "event_type")) == NULL ||
	    strcmp(type, "stats") == 0)
		return;
	note_time(ev);
	if (strcmp(type, "alert") == 0)
		alert_event(ev);
	else if (strcmp(type, "imap") == 0 || strcmp(type, "tls") == 0)
		session_event(ev, type);
}

/* ---- the report ---- */

static uint64_t
total_sessions(const struct server *s)
{
	uint64_t n = 0;
	int m;

	for (m = 0; m < IW_EV_MODES; m++)
		n += s->sessions[m];
	return n;
}

static int
by_sessions(const void *a, const void *b)
{
	const struct server *x = *(struct server *const *)a;
	const struct server *y = *(struct server *const *)b;
	uint64_t nx = total_sessions(x), ny = total_sessions(y);

	if (nx != ny)
		return nx > ny ? -1 : 1;
	return strcmp(x->item.key, y->item.key);
}

static const char *
yes_no(const uint64_t c[2], char *buf, size_t len)
{
	if (c[0] == 0 && c[1] == 0)
		return "not seen";
	if (c[0] == 0)
		return "yes";
	if (c[1] == 0)
		return "no";
	snprintf(buf, len, "yes in %llu sessions, no in %llu",
	    (unsigned long long)c[1], (unsigned long long)c[0]);
	return buf;
}

static void
write_set(FILE *fp, const char *set, size_t width, int n)
{
	int i;

	for (i = 0; i < n; i++)
		fprintf(fp, "%s%s", i ? ", " : "", set + (size_t)i * width);
}

static void
write_modes(FILE *fp, const uint64_t counts[IW_EV_MODES])
{
	int m, first = 1;

	for (m = 0; m < IW_EV_MODES; m++) {
		if (counts[m] == 0)
			continue;
		fprintf(fp, "%s%s %llu", first ? "" : ", ", iw_ev_mode_label[m],
		    (unsigned long long)counts[m]);
		first = 0;
	}
}

static void
write_cert(FILE *fp, const struct cert *c)
{
	fprintf(fp, "    certificate: %s; names: %s; expires %s%s%s%s; key "
	    "%s\n", c->subject, c->names[0] ? c->names : "-", c->notafter,
	    c->when[0] ? " (" : "", c->when, c->when[0] ? ")" : "", c->key);
}

static void
write_server(FILE *fp, const struct server *s)
{
	char b1[96], b2[96];
	int i, first = 1;

	fprintf(fp, "  %s: %llu session%s (", s->item.key,
	    (unsigned long long)total_sessions(s),
	    total_sessions(s) == 1 ? "" : "s");
	write_modes(fp, s->sessions);
	fprintf(fp, ")\n");
	if (s->starttls[0] + s->starttls[1] > 0)
		fprintf(fp, "    STARTTLS offered: %s; LOGINDISABLED "
		    "advertised: %s\n", yes_no(s->starttls, b1, sizeof(b1)),
		    yes_no(s->logindisabled, b2, sizeof(b2)));
	if (s->nversion > 0) {
		fprintf(fp, "    TLS: ");
		write_set(fp, &s->version[0][0], sizeof(s->version[0]),
		    s->nversion);
		fprintf(fp, "; ");
		write_set(fp, &s->cipher[0][0], sizeof(s->cipher[0]),
		    s->ncipher);
		fprintf(fp, "\n");
	}
	for (i = 0; i < s->ncert; i++)
		write_cert(fp, &s->cert[i]);
	if (s->certs_more > 0)
		fprintf(fp, "    certificate: %llu more seen\n",
		    (unsigned long long)s->certs_more);
	if (s->tls13_hidden > 0)
		fprintf(fp, "    certificate: encrypted (TLS 1.3) in %llu "
		    "session%s\n", (unsigned long long)s->tls13_hidden,
		    s->tls13_hidden == 1 ? "" : "s");
	fprintf(fp, "    findings: ");
	for (i = 0; i < IW_F_COUNT; i++) {
		if (!(s->findings & (1ULL << i)))
			continue;
		fprintf(fp, "%s%s", first ? "" : ", ", iw_finding_info(i)->id);
		first = 0;
	}
	fprintf(fp, "%s\n", first ? "none" : "");
}

static void
write_servers(FILE *fp)
{
	int i;

	fprintf(fp, "\nServers (%d), busiest first\n", servers.n);
	if (servers.n > 0)
		qsort(servers.items, (size_t)servers.n, sizeof(*servers.items),
		    by_sessions);
	for (i = 0; i < servers.n; i++)
		write_server(fp, (const struct server *)servers.items[i]);
	if (servers_dropped > 0)
		fprintf(fp, "  (%llu sessions with further servers not listed)"
		    "\n", (unsigned long long)servers_dropped);
}

static int
severity_of(int f)
{
	return fsum[f].alerts ? fsum[f].sev_min : iw_finding_info(f)->severity;
}

static bool
listed(int f)
{
	return fsum[f].alerts || fsum[f].suppressed || fsum[f].repeated;
}

/* Order: severity (high first), then alerts (most first), then id. */
static int
finding_order(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	int sx = severity_of(x), sy = severity_of(y);

	if (sx != sy)
		return sx - sy;
	if (fsum[x].alerts != fsum[y].alerts)
		return fsum[x].alerts > fsum[y].alerts ? -1 : 1;
	return strcmp(iw_finding_info(x)->id, iw_finding_info(y)->id);
}

static void
write_finding(FILE *fp, int f)
{
	const struct finding_sum *s = &fsum[f];
	const struct iw_finding_info *fi = iw_finding_info(f);
	int i, sev = severity_of(f);
	char t[40];

	fprintf(fp, "  %-6s %s: %llu alert%s", severity_name[sev], fi->id,
	    (unsigned long long)s->alerts, s->alerts == 1 ? "" : "s");
	if (s->alerts > 0 && s->sev_min != s->sev_max)
		fprintf(fp, " (severity %d-%d)", s->sev_min, s->sev_max);
	if (s->suppressed > 0)
		fprintf(fp, ", %llu suppressed",
		    (unsigned long long)s->suppressed);
	if (s->repeated > 0)
		fprintf(fp, ", %llu repeated (once per server)",
		    (unsigned long long)s->repeated);
	fprintf(fp, "\n         %s\n", fi->message);
	for (i = 0; i < s->nex; i++)
		fprintf(fp, "         %s  %s -> %s%s%s\n",
		    iw_ev_short_time(s->ex[i].ts, t, sizeof(t)), s->ex[i].client,
		    s->ex[i].server, s->ex[i].user[0] ? "  user " : "",
		    s->ex[i].user);
}

static void
write_findings(FILE *fp)
{
	int order[IW_F_COUNT], n = 0, f;

	for (f = 0; f < IW_F_COUNT; f++)
		if (listed(f))
			order[n++] = f;
	qsort(order, (size_t)n, sizeof(order[0]), finding_order);
	fprintf(fp, "\nFindings: %d kinds, %llu alerts (high %llu, medium %llu, "
	    "low %llu)\n", n, (unsigned long long)alerts_total,
	    (unsigned long long)by_severity[1],
	    (unsigned long long)by_severity[2],
	    (unsigned long long)by_severity[3]);
	if (n == 0)
		fprintf(fp, "  none\n");
	for (f = 0; f < n; f++)
		write_finding(fp, order[f]);
}

static void
write_span(FILE *fp)
{
	const char *a = first_pkt[0] ? first_pkt : first_ts;
	const char *b = last_pkt[0] ? last_pkt : last_ts;
	char t1[40], t2[40];
	iw_time x, y;
	long long secs;

	if (a[0] == '\0') {
		fprintf(fp, "  capture: %llu packets\n",
		    (unsigned long long)packets);
		return;
	}
	iw_ev_short_time(a, t1, sizeof(t1));
	iw_ev_short_time(b, t2, sizeof(t2));
	/* the second date only if it is another day */
	fprintf(fp, "  capture: %s to %s UTC", t1,
	    strncmp(t1, t2, 11) == 0 ? t2 + 11 : t2);
	if (iw_ev_time(a, &x) && iw_ev_time(b, &y) && y >= x) {
		secs = (long long)((y - x) / IW_USEC);
		if (secs >= 2 * 86400)
			fprintf(fp, " (%lld days)", secs / 86400);
		else if (secs >= 3600)
			fprintf(fp, " (%lld h %lld min)", secs / 3600,
			    secs % 3600 / 60);
		else
			fprintf(fp, " (%lld min %lld s)", secs / 60, secs % 60);
	}
	fprintf(fp, ", %llu packets\n", (unsigned long long)packets);
}

static void
write_headline(FILE *fp)
{
	uint64_t imap = modes[IW_EV_CLEARTEXT] + modes[IW_EV_STARTTLS] +
	    modes[IW_EV_IMAPS];
	int i;

	fprintf(fp, "imapwatch summary\n");
	write_span(fp);
	fprintf(fp, "  sessions: %llu IMAP", (unsigned long long)imap);
	if (imap + modes[IW_EV_OTHER_TLS] > 0) {
		fprintf(fp, " (");
		write_modes(fp, modes);
		fprintf(fp, ")");
	}
	fprintf(fp, "\n  passwords sent in clear: %llu login%s",
	    (unsigned long long)passwords_clear,
	    passwords_clear == 1 ? "" : "s");
	for (i = 0; i < nusers; i++)
		fprintf(fp, "%s%s", i ? ", " : ", users: ", users[i]);
	if (users_more)
		fprintf(fp, ", ...");
	fprintf(fp, "\n");
}

static void
free_all(void)
{
	iw_ev_table_free(&servers);
	on = false;
}

void
iw_summary_write(FILE *fp)
{
	write_headline(fp);
	write_findings(fp);
	write_servers(fp);
	fflush(fp);
	free_all();
}
