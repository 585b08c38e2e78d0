/* SPDX-License-Identifier: ISC */
/*
 * suppress.c - noise control: the --suppress rules, --alert-once-per-server
 * and the notes that tell the session and stats events what was held back.
 *
 * Whether a server's posture alert is folded is the correlator's decision
 * (correlate.c, on packet time, its memory shared across sensors with
 * --state); it tells this file through iw_noise_note_repeat().
 *
 * Tables are bounded: MAX_RULES rules, MAX_NOTES sessions waiting for their
 * session event with something held back (past that, the oldest note is
 * dropped and its session event lacks the annotation; the stats counts stay
 * exact).
 * The notes table is keyed (siphash.h: flow_ids come from the wire) and
 * its chains capped at CHAIN_MAX: a note in a full chain pushes out the
 * chain's oldest, counted.
 */
#include <errno.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "config.h"
#include "event.h"
#include "hchain.h"
#include "session.h"
#include "siphash.h"
#include "stats.h"
#include "suppress.h"

#define MAX_RULES	4096
#define MAX_NOTES	65536
#define NBUCKETS	65536	/* as many as entries: short chains */
#define CHAIN_MAX	16
#define LINE_MAX_LEN	1024
#define USER_MAX	256

struct rule {
	int		 finding;	/* -1: any */
	bool		 has_server, has_client;
	struct iw_addr	 server;
	int		 sport;		/* 0: any */
	struct iw_addr	 client;
	int		 cbits;		/* prefix, of the 16 bytes */
	char		*user;		/* NULL: any */
};

struct iw_ruleset {
	struct rule	*r;
	int		 n;
};

/* A session with something held back, until its session event. */
struct note {
	struct iw_hlink	 hlink;		/* first member */
	struct note	*older, *newer;	/* age list */
	uint64_t	 age;		/* order of creation */
	uint64_t	 flow_id;
	uint64_t	 suppressed;	/* bit per finding */
	uint64_t	 repeated;
	uint32_t	 count[IW_F_COUNT];
};

static struct iw_ruleset *active;
static bool once_on, once_live;
static struct iw_hlink *notes[NBUCKETS];
static struct note *oldest, *newest;
static int n_notes;
static uint64_t notes_made;
static uint64_t n_suppressed[IW_F_COUNT], n_repeated[IW_F_COUNT];

/* The findings that describe a server rather than a client or a session. */
static const bool posture[IW_F_COUNT] = {
	[IW_F_LOGINDISABLED_MISSING] = true,
	[IW_F_STARTTLS_NOT_OFFERED] = true,
	[IW_F_CLEARTEXT_ON_IMAPS_PORT] = true,
	[IW_F_WEAK_CIPHER] = true,
	[IW_F_OBSOLETE_TLS_VERSION] = true,
	[IW_F_NO_FORWARD_SECRECY] = true,
	[IW_F_CERT_NAME_MISMATCH] = true,
	[IW_F_CERT_EXPIRED] = true,
	[IW_F_CERT_NOT_YET_VALID] = true,
	[IW_F_CERT_SELF_SIGNED] = true,
	[IW_F_CERT_UNTRUSTED] = true,
	[IW_F_WEAK_KEY] = true,
	[IW_F_WEAK_SIGNATURE] = true,
	[IW_F_NO_SNI] = true,
};

bool
iw_noise_is_server_posture(enum iw_finding f)
{
	return (int)f >= 0 && f < IW_F_COUNT && posture[f];
}

/* ---- rules ---- */

static int
parse_server(struct rule *r, const char *v)
{
	char buf[128], *colon, *end;
	long port = 0;

	if (strlen(v) >= sizeof(buf))
		return -1;
	strcpy(buf, v);
	colon = NULL;
	if (buf[0] == '[') {
		end = strchr(buf, ']');
		if (end == NULL || (end[1] != '\0' && end[1] != ':'))
			return -1;
		*end = '\0';
		if (end[1] == ':')
			colon = end + 1;
		memmove(buf, buf + 1, strlen(buf + 1) + 1);
	} else if ((colon = strchr(buf, ':')) != NULL &&
	    strchr(colon + 1, ':') != NULL)
		colon = NULL;		/* a bare IPv6 address */
	if (colon != NULL) {
		*colon = '\0';
		port = strtol(colon + 1, &end, 10);
		if (colon[1] == '\0' || *end != '\0' || port < 1 ||
		    port > 65535)
			return -1;
	}
	if (iw_addr_parse(buf, &r->server) != 0)
		return -1;
	r->sport = (int)port;
	r->has_server = true;
	return 0;
}

static int
parse_client(struct rule *r, const char *v)
{
	char buf[128], *slash, *end;
	long bits;

	if (strlen(v) >= sizeof(buf))
		return -1;
	strcpy(buf, v);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash = '\0';
	if (iw_addr_parse(buf, &r->client) != 0)
		return -1;
	bits = r->client.family == AF_INET ? 32 : 128;
	if (slash != NULL) {
		long max = bits;

		bits = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || bits < 0 ||
		    bits > max)
			return -1;
	}
	r->cbits = (int)(r->client.family == AF_INET ? 96 + bits : bits);
	r->has_client = true;
	return 0;
}

static int
condition(struct rule *r, const char *key, const char *v, const char **why)
{
	if (strcmp(key, "server") == 0 && !r->has_server) {
		*why = "bad server (ADDR, ADDR:PORT or [IPV6]:PORT)";
		return parse_server(r, v);
	}
	if (strcmp(key, "client") == 0 && !r->has_client) {
		*why = "bad client (ADDR or ADDR/PREFIX)";
		return parse_client(r, v);
	}
	if (strcmp(key, "user") == 0 && r->user == NULL) {
		*why = "user name too long";
		if (strlen(v) >= USER_MAX || (r->user = strdup(v)) == NULL)
			return -1;
		return 0;
	}
	*why = "unknown or repeated condition (server=, client=, user=)";
	return -1;
}

/* "key=value"; the token is left as it was (for the error message). */
static int
parse_condition(struct rule *r, char *tok, const char **why)
{
	char *eq = strchr(tok, '=');
	int rc;

	*why = "expected server=, client= or user=";
	if (eq == NULL || eq[1] == '\0')
		return -1;
	*eq = '\0';
	rc = condition(r, tok, eq + 1, why);
	*eq = '=';
	return rc;
}

/* One line into r; 1 a rule, 0 blank, -1 an error (why and *bad set). */
static int
parse_rule(char *line, struct rule *r, const char **why, char **bad)
{
	char *tok, *save = NULL;

	memset(r, 0, sizeof(*r));
	line[strcspn(line, "#\r\n")] = '\0';
	tok = strtok_r(line, " \t", &save);
	if (tok == NULL)
		return 0;
	*bad = tok;
	r->finding = -1;
	if (strcmp(tok, "*") != 0 &&
	    (r->finding = iw_finding_by_id(tok)) < 0) {
		*why = "unknown finding id (or * for any)";
		return -1;
	}
	while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
		*bad = tok;
		if (parse_condition(r, tok, why) != 0)
			return -1;
	}
	return 1;
}

void
iw_suppress_free(struct iw_ruleset *rs)
{
	int i;

	if (rs == NULL)
		return;
	for (i = 0; i < rs->n; i++)
		free(rs->r[i].user);
	free(rs->r);
	free(rs);
}

static int
add_rule(struct iw_ruleset *rs, const struct rule *r)
{
	struct rule *grown;

	if (rs->n == MAX_RULES)
		return -1;
	grown = realloc(rs->r, (size_t)(rs->n + 1) * sizeof(*grown));
	if (grown == NULL)
		return -1;
	rs->r = grown;
	rs->r[rs->n++] = *r;
	return 0;
}

static struct iw_ruleset *
load_failed(FILE *fp, struct iw_ruleset *rs, struct rule *r)
{
	if (r != NULL)
		free(r->user);
	iw_suppress_free(rs);
	if (fp != NULL)
		fclose(fp);
	return NULL;
}

struct iw_ruleset *
iw_suppress_load(const char *path, char *err, size_t errlen)
{
	char line[LINE_MAX_LEN + 2], *bad = line;
	const char *why = "";
	struct iw_ruleset *rs;
	struct rule r;
	FILE *fp;
	int n = 0, rc;

	if ((rs = calloc(1, sizeof(*rs))) == NULL ||
	    (fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, rs == NULL ?
		    "out of memory" : strerror(errno));
		return load_failed(NULL, rs, NULL);
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		n++;
		if (strlen(line) > LINE_MAX_LEN) {
			snprintf(err, errlen, "%s:%d: line too long", path, n);
			return load_failed(fp, rs, NULL);
		}
		if ((rc = parse_rule(line, &r, &why, &bad)) == 0)
			continue;
		if (rc < 0 || add_rule(rs, &r) != 0) {
			snprintf(err, errlen, "%s:%d: '%.64s': %s", path, n,
			    bad, rc < 0 ? why : "too many rules");
			return load_failed(fp, rs, &r);
		}
	}
	fclose(fp);
	return rs;
}

int
iw_suppress_count(const struct iw_ruleset *rs)
{
	return rs != NULL ? rs->n : 0;
}

struct iw_ruleset *
iw_suppress_set(struct iw_ruleset *rs)
{
	struct iw_ruleset *old = active;

	active = rs;
	return old;
}

static bool
prefix_match(const struct iw_addr *a, const struct iw_addr *net, int bits)
{
	int full = bits / 8, rest = bits % 8;
	uint8_t mask;

	if (a->family != net->family || memcmp(a->a, net->a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a->a[full] & mask) == (net->a[full] & mask);
}

/* The rule's user as alerts carry it, compared with what the alert has. */
static bool
user_match(const char *want, const char *have)
{
	struct json_object *u;
	bool eq;

	if (have == NULL)
		return false;
	if (iw_cfg.usernames == IW_USERNAMES_PLAIN)
		return strcasecmp(want, have) == 0;
	if ((u = iw_json_username(want, strlen(want))) == NULL)
		return false;
	eq = strcmp(json_object_get_string(u), have) == 0;
	json_object_put(u);
	return eq;
}

static bool
rule_match(const struct rule *r, enum iw_finding f,
    const struct iw_endpoints *ep, const char *user)
{
	if (r->finding >= 0 && r->finding != (int)f)
		return false;
	if (r->has_server && (!iw_addr_eq(&r->server, &ep->server) ||
	    (r->sport != 0 && r->sport != ep->sport)))
		return false;
	if (r->has_client && !prefix_match(&ep->client, &r->client, r->cbits))
		return false;
	return r->user == NULL || user_match(r->user, user);
}

bool
iw_suppress_match(const struct iw_ruleset *rs, enum iw_finding f,
    const struct iw_endpoints *ep, const char *user)
{
	int i;

	if (rs == NULL)
		return false;
	for (i = 0; i < rs->n; i++)
		if (rule_match(&rs->r[i], f, ep, user))
			return true;
	return false;
}

/* ---- --alert-once-per-server ---- */

void
iw_noise_set_once_per_server(bool on, bool live)
{
	once_on = on;
	once_live = live;
}

bool
iw_noise_once_per_server(bool *live)
{
	*live = once_live;
	return once_on;
}

/* ---- notes for the session events ---- */

static struct iw_hlink **
note_bucket(uint64_t id)
{
	return &notes[iw_hash_u64(id) & (NBUCKETS - 1)];
}

static void
note_unlink(struct note *n)
{
	iw_hchain_del(&n->hlink);
	if (n->older != NULL)
		n->older->newer = n->newer;
	else
		oldest = n->newer;
	if (n->newer != NULL)
		n->newer->older = n->older;
	else
		newest = n->older;
	n_notes--;
	free(n);
}

/* The note of flow `id` in its chain, or NULL; *walked set. */
static struct note *
note_lookup(struct iw_hlink **head, uint64_t id, uint64_t *walked)
{
	struct iw_hlink *l;
	struct note *n;

	*walked = 0;
	for (l = *head; l != NULL; l = l->next) {
		(*walked)++;
		if ((n = (struct note *)l)->flow_id == id) {
			iw_stats_chain(IW_TABLE_NOTES, *walked);
			return n;
		}
	}
	iw_stats_chain(IW_TABLE_NOTES, *walked);
	return NULL;
}

static struct note *
note_find(uint64_t id)
{
	uint64_t walked;

	return note_lookup(note_bucket(id), id, &walked);
}

static bool
older(const struct iw_hlink *a, const struct iw_hlink *b)
{
	return ((const struct note *)a)->age < ((const struct note *)b)->age;
}

/* A full chain gives up its oldest note. */
static void
note_chain_evict(struct iw_hlink *chain)
{
	iw_stats.tables[IW_TABLE_NOTES].chain_evictions++;
	note_unlink((struct note *)iw_hchain_first(chain, older));
}

static struct note *
note_get(uint64_t id)
{
	struct iw_hlink **head = note_bucket(id);
	struct note *n;
	uint64_t walked;

	if ((n = note_lookup(head, id, &walked)) != NULL)
		return n;
	if (walked >= CHAIN_MAX)
		note_chain_evict(*head);
	else if (n_notes == MAX_NOTES)
		note_unlink(oldest);
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return NULL;
	n->flow_id = id;
	n->age = ++notes_made;
	iw_hchain_add(head, &n->hlink);
	n->older = newest;
	if (newest != NULL)
		newest->newer = n;
	else
		oldest = n;
	newest = n;
	n_notes++;
	return n;
}

/* ---- the hook ---- */

static const char *
evidence_user(struct json_object *evidence)
{
	struct json_object *u;

	if (evidence == NULL ||
	    !json_object_object_get_ex(evidence, "username", &u) ||
	    !json_object_is_type(u, json_type_string))
		return NULL;
	return json_object_get_string(u);
}

bool
iw_noise_alert(const struct iw_flowref *fl, enum iw_finding f,
    struct json_object *evidence)
{
	struct note *n;

	if (!iw_suppress_match(active, f, &fl->ep, evidence_user(evidence)))
		return true;
	n_suppressed[f]++;
	if ((n = note_get(fl->flow_id)) != NULL)
		n->suppressed |= 1ULL << f;
	json_object_put(evidence);
	return false;
}

void
iw_noise_note_repeat(const struct iw_flowref *fl, enum iw_finding f,
    uint32_t count)
{
	struct note *n;

	n_repeated[f]++;
	if ((n = note_get(fl->flow_id)) != NULL) {
		n->repeated |= 1ULL << f;
		n->count[f] = count;
	}
}

static struct json_object *
counts_object(const uint64_t *counts)
{
	struct json_object *o = json_object_new_object();
	int f;

	/* only findings that occurred: a table of zeros hides the point */
	for (f = 0; f < IW_F_COUNT; f++)
		if (counts[f] != 0)
			json_object_object_add(o, iw_finding_info(f)->id,
			    json_object_new_uint64(counts[f]));
	return o;
}

static void
annotate_stats(struct json_object *ev)
{
	struct json_object *st, *sess;

	if (!json_object_object_get_ex(ev, "stats", &st) ||
	    !json_object_object_get_ex(st, "sessions", &sess))
		return;
	json_object_object_add(sess, "findings_suppressed",
	    counts_object(n_suppressed));
	json_object_object_add(sess, "findings_repeated",
	    counts_object(n_repeated));
}

static void
annotate_session(struct json_object *ev, const char *type)
{
	struct json_object *id, *app, *list, *rep;
	struct note *n;
	int f;

	if (n_notes == 0 || !json_object_object_get_ex(ev, "flow_id", &id) ||
	    !json_object_object_get_ex(ev, type, &app) ||
	    (n = note_find((uint64_t)json_object_get_uint64(id))) == NULL)
		return;
	list = json_object_new_array();
	rep = json_object_new_object();
	for (f = 0; f < IW_F_COUNT; f++) {
		if (n->suppressed & (1ULL << f))
			json_object_array_add(list, json_object_new_string(
			    iw_finding_info(f)->id));
		if (n->repeated & (1ULL << f))
			json_object_object_add(rep, iw_finding_info(f)->id,
			    json_object_new_uint64(n->count[f]));
	}
	if (n->suppressed != 0)
		json_object_object_add(app, "findings_suppressed", list);
	else
		json_object_put(list);
	if (n->repeated != 0)
		json_object_object_add(app, "findings_repeated", rep);
	else
		json_object_put(rep);
	note_unlink(n);
}

void
iw_noise_annotate(struct json_object *ev)
{
	struct json_object *t;
	const char *type;

	if (!json_object_object_get_ex(ev, "event_type", &t))
		return;
	type = json_object_get_string(t);
	if (strcmp(type, "stats") == 0)
		annotate_stats(ev);
	else if (strcmp(type, "imap") == 0 || strcmp(type, "tls") == 0)
		annotate_session(ev, type);
}

uint64_t
iw_noise_suppressed(enum iw_finding f)
{
	return (int)f >= 0 && f < IW_F_COUNT ? n_suppressed[f] : 0;
}

uint64_t
iw_noise_repeated(enum iw_finding f)
{
	return (int)f >= 0 && f < IW_F_COUNT ? n_repeated[f] : 0;
}

void
iw_noise_shutdown(void)
{
	while (oldest != NULL)
		note_unlink(oldest);
	iw_suppress_free(iw_suppress_set(NULL));
}
