/*
 * summary.c - the --summary report, from the events as they are emitted.
 */
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "findings.h"
#include "summary.h"
#include "suppress.h"

#define SRV_BUCKETS	1024
#define MAX_SET		6	/* versions, ciphers a server */
#define MAX_CERTS	6	/* certificates a server */
#define TEXT		256

enum mode { M_CLEAR, M_STARTTLS, M_IMPLICIT, M_TLS, M_COUNT };

static const char *const mode_name[M_COUNT] = {
	"cleartext", "starttls", "implicit_tls", "tls (not IMAP)",
};

struct cert {
	char	subject[TEXT];
	char	names[TEXT];
	char	notafter[32];
	char	key[32];		/* "RSA 2048" */
};

struct server {
	struct server	*next;
	char		 addr[64];	/* "ip:port", "[v6]:port" */
	uint64_t	 sessions[M_COUNT];
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
static uint64_t modes[M_COUNT], packets, alerts_total, servers_dropped;
static char first_ts[40], last_ts[40];
static struct server *buckets[SRV_BUCKETS];
static struct server **list;		/* in order of first sight */
static int nservers;
static struct finding_sum fsum[IW_F_COUNT];

/* ---- reading events ---- */

static struct json_object *
get(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, k, &v))
		return NULL;
	return v;
}

static const char *
str(struct json_object *o, const char *k)
{
	struct json_object *v = get(o, k);

	return v != NULL && json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : NULL;
}

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
endpoint(char *dst, size_t len, struct json_object *ev, const char *ip,
    const char *port)
{
	const char *a = str(ev, ip);
	struct json_object *p = get(ev, port);

	if (a == NULL)
		a = "?";
	snprintf(dst, len, strchr(a, ':') ? "[%s]:%d" : "%s:%d", a,
	    p != NULL ? json_object_get_int(p) : 0);
}

static void
note_time(struct json_object *ev)
{
	const char *ts = str(ev, "timestamp");

	if (ts == NULL)
		return;
	if (first_ts[0] == '\0' || strcmp(ts, first_ts) < 0)
		copy_clean(first_ts, sizeof(first_ts), ts);
	if (strcmp(ts, last_ts) > 0)
		copy_clean(last_ts, sizeof(last_ts), ts);
}

/* ---- servers ---- */

static unsigned
hash_str(const char *s)
{
	unsigned h = 5381;

	while (*s != '\0')
		h = h * 33 + (unsigned char)*s++;
	return h % SRV_BUCKETS;
}

static struct server *
server_get(const char *addr)
{
	unsigned b = hash_str(addr);
	struct server *s, **grown;

	for (s = buckets[b]; s != NULL; s = s->next)
		if (strcmp(s->addr, addr) == 0)
			return s;
	if (nservers == IW_SUMMARY_MAX_SERVERS) {
		servers_dropped++;
		return NULL;
	}
	if ((nservers & (nservers - 1)) == 0) {
		grown = realloc(list, (size_t)(nservers ? nservers * 2 : 16) *
		    sizeof(*grown));
		if (grown == NULL)
			return NULL;
		list = grown;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	s->next = buckets[b];
	buckets[b] = s;
	list[nservers++] = s;
	return s;
}

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
san_names(char *dst, size_t len, struct json_object *san)
{
	size_t i, n = san != NULL ? json_object_array_length(san) : 0, o = 0;
	const char *v;

	dst[0] = '\0';
	for (i = 0; i < n && o + 1 < len; i++) {
		v = json_object_get_string(json_object_array_get_idx(san, i));
		if (v == NULL)
			continue;
		if (strncmp(v, "DNS:", 4) == 0)
			v += 4;
		o += (size_t)snprintf(dst + o, len - o, "%s%s", o ? ", " : "",
		    v);
	}
}

static void
key_text(char *dst, size_t len, struct json_object *key)
{
	struct json_object *bits = get(key, "bits");
	char type[16];

	copy_clean(type, sizeof(type), str(key, "type"));
	snprintf(dst, len, "%s %d", type, bits ? json_object_get_int(bits) : 0);
}

static void
add_cert(struct server *s, struct json_object *tls)
{
	struct cert c;
	const char *subject = str(tls, "subject");
	char names[TEXT];
	int i;

	if (subject == NULL)
		return;
	copy_clean(c.subject, sizeof(c.subject), subject);
	san_names(names, sizeof(names), get(tls, "subjectaltname"));
	copy_clean(c.names, sizeof(c.names), names);
	copy_clean(c.notafter, sizeof(c.notafter), str(tls, "notafter"));
	key_text(c.key, sizeof(c.key), get(tls, "key"));
	for (i = 0; i < s->ncert; i++)
		if (strcmp(s->cert[i].subject, c.subject) == 0 &&
		    strcmp(s->cert[i].notafter, c.notafter) == 0 &&
		    strcmp(s->cert[i].key, c.key) == 0)
			return;
	if (s->ncert < MAX_CERTS)
		s->cert[s->ncert++] = c;
	else
		s->certs_more++;
}

static void
add_bool(uint64_t counts[2], struct json_object *v)
{
	if (v != NULL && json_object_is_type(v, json_type_boolean))
		counts[json_object_get_boolean(v) ? 1 : 0]++;
}

static enum mode
session_mode(const char *type, struct json_object *app)
{
	const char *m = str(app, "mode");

	if (strcmp(type, "tls") == 0 || m == NULL)
		return M_TLS;
	if (strcmp(m, "starttls") == 0)
		return M_STARTTLS;
	if (strcmp(m, "implicit_tls") == 0)
		return M_IMPLICIT;
	return M_CLEAR;
}

static void
add_findings(struct server *s, struct json_object *list_)
{
	size_t i, n = list_ != NULL ? json_object_array_length(list_) : 0;
	int f;

	for (i = 0; i < n; i++) {
		f = iw_finding_by_id(json_object_get_string(
		    json_object_array_get_idx(list_, i)));
		if (f >= 0)
			s->findings |= 1ULL << f;
	}
}

static void
session_event(struct json_object *ev, const char *type)
{
	struct json_object *app = get(ev, type), *tls = get(ev, "tls");
	enum mode m = session_mode(type, app);
	struct server *s;
	char addr[64];

	modes[m]++;
	endpoint(addr, sizeof(addr), ev, "dest_ip", "dest_port");
	if ((s = server_get(addr)) == NULL)
		return;
	s->sessions[m]++;
	/* what the server offers is known only if its capabilities were seen */
	if (get(app, "capabilities") != NULL) {
		add_bool(s->starttls, get(app, "starttls_offered"));
		add_bool(s->logindisabled, get(app, "logindisabled"));
	}
	add_findings(s, get(app, "findings"));
	if (tls == NULL)
		return;
	add_to_set(&s->version[0][0], sizeof(s->version[0]), &s->nversion,
	    str(tls, "version"));
	add_to_set(&s->cipher[0][0], sizeof(s->cipher[0]), &s->ncipher,
	    str(tls, "cipher"));
	if (str(tls, "certificate_status") != NULL &&
	    strcmp(str(tls, "certificate_status"), "encrypted") == 0)
		s->tls13_hidden++;
	add_cert(s, tls);
}

/* ---- findings ---- */

static void
alert_event(struct json_object *ev)
{
	struct json_object *al = get(ev, "alert"), *sev;
	struct finding_sum *fs;
	struct example *x;
	const char *user;
	int f;

	if ((f = iw_finding_by_id(str(al, "signature") ?
	    str(al, "signature") : "")) < 0)
		return;
	alerts_total++;
	fs = &fsum[f];
	sev = get(al, "severity");
	if (sev != NULL) {
		int v = json_object_get_int(sev);

		if (fs->alerts == 0 || v < fs->sev_min)
			fs->sev_min = v;
		if (fs->alerts == 0 || v > fs->sev_max)
			fs->sev_max = v;
	}
	fs->alerts++;
	if (fs->nex == IW_SUMMARY_EXAMPLES)
		return;
	x = &fs->ex[fs->nex++];
	copy_clean(x->ts, sizeof(x->ts), str(ev, "timestamp"));
	endpoint(x->client, sizeof(x->client), ev, "src_ip", "src_port");
	endpoint(x->server, sizeof(x->server), ev, "dest_ip", "dest_port");
	user = str(get(ev, "imap"), "username");
	copy_clean(x->user, sizeof(x->user), user);
}

static void
stats_event(struct json_object *ev)
{
	struct json_object *st = get(ev, "stats"), *sess, *sup, *rep, *p;
	int f;

	if ((p = get(get(st, "capture"), "packets")) != NULL)
		packets = (uint64_t)json_object_get_uint64(p);
	sess = get(st, "sessions");
	sup = get(sess, "findings_suppressed");
	rep = get(sess, "findings_repeated");
	for (f = 0; f < IW_F_COUNT; f++) {
		p = get(sup, iw_finding_info(f)->id);
		fsum[f].suppressed = p ? (uint64_t)json_object_get_uint64(p) :
		    0;
		p = get(rep, iw_finding_info(f)->id);
		fsum[f].repeated = p ? (uint64_t)json_object_get_uint64(p) : 0;
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
	if (on && (type = str(ev, "event_type")) != NULL &&
	    strcmp(type, "stats") == 0)
		stats_event(ev);
}

void
iw_summary_observe(struct json_object *ev)
{
	const char *type;

	if (!on || (type = str(ev, "event_type")) == NULL ||
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

	for (m = 0; m < M_COUNT; m++)
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
	return strcmp(x->addr, y->addr);
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
write_set(FILE *fp, const char *label, const char *set, size_t width, int n)
{
	int i;

	fprintf(fp, "    %s: ", label);
	if (n == 0)
		fprintf(fp, "none");
	for (i = 0; i < n; i++)
		fprintf(fp, "%s%s", i ? ", " : "", set + (size_t)i * width);
	fprintf(fp, "\n");
}

static void
write_server(FILE *fp, const struct server *s)
{
	char b1[96], b2[96];
	int m, i, first = 1;

	fprintf(fp, "  %s\n    sessions: %llu (", s->addr,
	    (unsigned long long)total_sessions(s));
	for (m = 0; m < M_COUNT; m++) {
		if (s->sessions[m] == 0)
			continue;
		fprintf(fp, "%s%s %llu", first ? "" : ", ", mode_name[m],
		    (unsigned long long)s->sessions[m]);
		first = 0;
	}
	fprintf(fp, ")\n    STARTTLS offered: %s\n    LOGINDISABLED "
	    "advertised: %s\n", yes_no(s->starttls, b1, sizeof(b1)),
	    yes_no(s->logindisabled, b2, sizeof(b2)));
	write_set(fp, "TLS versions", &s->version[0][0],
	    sizeof(s->version[0]), s->nversion);
	write_set(fp, "TLS ciphers", &s->cipher[0][0], sizeof(s->cipher[0]),
	    s->ncipher);
	for (i = 0; i < s->ncert; i++)
		fprintf(fp, "    certificate: %s; names: %s; expires %s; key "
		    "%s\n", s->cert[i].subject, s->cert[i].names[0] ?
		    s->cert[i].names : "-", s->cert[i].notafter,
		    s->cert[i].key);
	if (s->certs_more > 0)
		fprintf(fp, "    certificate: %llu more seen\n",
		    (unsigned long long)s->certs_more);
	if (s->tls13_hidden > 0)
		fprintf(fp, "    certificate: encrypted (TLS 1.3) in %llu "
		    "sessions\n", (unsigned long long)s->tls13_hidden);
	fprintf(fp, "    findings: ");
	for (i = 0, first = 1; i < IW_F_COUNT; i++) {
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

	fprintf(fp, "\nServers (%d)\n", nservers);
	if (nservers > 0)
		qsort(list, (size_t)nservers, sizeof(*list), by_sessions);
	for (i = 0; i < nservers; i++)
		write_server(fp, list[i]);
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
	int i;

	fprintf(fp, "  %s: %llu alerts, %llu suppressed, %llu repeated "
	    "(severity ", fi->id, (unsigned long long)s->alerts,
	    (unsigned long long)s->suppressed,
	    (unsigned long long)s->repeated);
	if (s->alerts > 0 && s->sev_min != s->sev_max)
		fprintf(fp, "%d-%d", s->sev_min, s->sev_max);
	else
		fprintf(fp, "%d", s->alerts > 0 ? s->sev_min : fi->severity);
	fprintf(fp, ", %s)\n", fi->category);
	for (i = 0; i < s->nex; i++)
		fprintf(fp, "    %s  %s -> %s  user %s\n", s->ex[i].ts,
		    s->ex[i].client, s->ex[i].server, s->ex[i].user);
}

static void
write_findings(FILE *fp)
{
	int order[IW_F_COUNT], n = 0, f;

	for (f = 0; f < IW_F_COUNT; f++)
		if (listed(f))
			order[n++] = f;
	qsort(order, (size_t)n, sizeof(order[0]), finding_order);
	fprintf(fp, "\nFindings (%d ids, %llu alerts)\n", n,
	    (unsigned long long)alerts_total);
	if (n == 0)
		fprintf(fp, "  none\n");
	for (f = 0; f < n; f++)
		write_finding(fp, order[f]);
}

static void
free_all(void)
{
	int i;

	for (i = 0; i < nservers; i++)
		free(list[i]);
	free(list);
	list = NULL;
	nservers = 0;
	memset(buckets, 0, sizeof(buckets));
	on = false;
}

void
iw_summary_write(FILE *fp)
{
	uint64_t imap = modes[M_CLEAR] + modes[M_STARTTLS] + modes[M_IMPLICIT];
	int m;

	fprintf(fp, "imapwatch summary\n");
	fprintf(fp, "  packets: %llu\n  first event: %s\n  last event: %s\n",
	    (unsigned long long)packets, first_ts[0] ? first_ts : "-",
	    last_ts[0] ? last_ts : "-");
	fprintf(fp, "\nSessions (%llu IMAP, %llu other TLS)\n",
	    (unsigned long long)imap, (unsigned long long)modes[M_TLS]);
	for (m = 0; m < M_COUNT; m++)
		fprintf(fp, "  %s: %llu\n", mode_name[m],
		    (unsigned long long)modes[m]);
	write_servers(fp);
	write_findings(fp);
	fflush(fp);
	free_all();
}
