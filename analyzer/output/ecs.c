/* SPDX-License-Identifier: ISC */
/*
 * ecs.c - --format ecs: an event built in EVE's shape is translated into
 * the Elastic Common Schema (8.x) just before it is written.
 *
 * schema/ECS.md is the mapping.  The table below moves fields to their
 * ECS names (converting a few values), a handful of ECS fields are
 * derived (event.kind/category/type, network.type, related.*, a
 * session's user.name, a flow's totals and duration), and every field
 * left keeps its EVE name under "imapwatch".  tests/t_schema.py checks
 * this code against ECS.md, capture by capture.
 */
#include <ctype.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "event.h"

#define ECS_VERSION	"8.11.0"
#define SEG_MAX		64	/* one name of a dotted path */

enum conv {
	CV_AS_IS,
	CV_TIMESTAMP,	/* "...+0000" becomes "...Z" */
	CV_LOWER,	/* "TCP" becomes "tcp" */
	CV_DATASET,	/* "alert" becomes "imapwatch.alert" */
	CV_STRING,	/* 1 becomes "1" */
	CV_HEX,		/* "ab:cd" becomes "ABCD" */
	CV_UTC,		/* "2028-11-28T02:19:48" becomes "...:48Z" */
	CV_FIRST,	/* a list's first item */
	CV_USERNAME,	/* user.name, or user.hash with --usernames hash */
	CV_TLS_VERSION,	/* "TLS 1.2" becomes 1.2 and version_protocol tls */
};

struct mapping {
	const char	*eve;
	const char	*ecs;
	enum conv	 conv;
};

/* The table of schema/ECS.md, in its order. */
static const struct mapping mappings[] = {
	{ "timestamp", "@timestamp", CV_TIMESTAMP },
	{ "event_type", "event.dataset", CV_DATASET },
	{ "src_ip", "source.ip", CV_AS_IS },
	{ "src_port", "source.port", CV_AS_IS },
	{ "dest_ip", "destination.ip", CV_AS_IS },
	{ "dest_port", "destination.port", CV_AS_IS },
	{ "proto", "network.transport", CV_LOWER },
	{ "community_id", "network.community_id", CV_AS_IS },
	{ "app_proto", "network.protocol", CV_AS_IS },
	{ "alert.signature", "rule.name", CV_AS_IS },
	{ "alert.signature_id", "rule.id", CV_STRING },
	{ "alert.rev", "rule.version", CV_STRING },
	{ "alert.category", "rule.category", CV_AS_IS },
	{ "alert.severity", "event.severity", CV_AS_IS },
	{ "alert.message", "message", CV_AS_IS },
	{ "imap.username", "user.name", CV_USERNAME },
	{ "anomaly.event", "event.action", CV_AS_IS },
	{ "flow.start", "event.start", CV_TIMESTAMP },
	{ "flow.end", "event.end", CV_TIMESTAMP },
	{ "flow.pkts_toserver", "source.packets", CV_AS_IS },
	{ "flow.bytes_toserver", "source.bytes", CV_AS_IS },
	{ "flow.pkts_toclient", "destination.packets", CV_AS_IS },
	{ "flow.bytes_toclient", "destination.bytes", CV_AS_IS },
	{ "tls.version", "tls.version", CV_TLS_VERSION },
	{ "tls.cipher", "tls.cipher", CV_AS_IS },
	{ "tls.sni", "tls.client.server_name", CV_AS_IS },
	{ "tls.ja3.hash", "tls.client.ja3", CV_AS_IS },
	{ "tls.ja3s.hash", "tls.server.ja3s", CV_AS_IS },
	{ "tls.server_alpns", "tls.next_protocol", CV_FIRST },
	{ "tls.established", "tls.established", CV_AS_IS },
	{ "tls.session_resumed", "tls.resumed", CV_AS_IS },
	{ "tls.subject", "tls.server.x509.subject.distinguished_name",
	    CV_AS_IS },
	{ "tls.issuerdn", "tls.server.x509.issuer.distinguished_name",
	    CV_AS_IS },
	{ "tls.serial", "tls.server.x509.serial_number", CV_HEX },
	{ "tls.notbefore", "tls.server.x509.not_before", CV_UTC },
	{ "tls.notafter", "tls.server.x509.not_after", CV_UTC },
	{ "tls.subjectaltname", "tls.server.x509.alternative_names",
	    CV_AS_IS },
	{ "tls.key.type", "tls.server.x509.public_key_algorithm", CV_AS_IS },
	{ "tls.key.bits", "tls.server.x509.public_key_size", CV_AS_IS },
	{ "tls.signature_algorithm", "tls.server.x509.signature_algorithm",
	    CV_AS_IS },
	{ "tls.fingerprint", "tls.server.hash.sha1", CV_HEX },
	{ "tls.fingerprint_sha256", "tls.server.hash.sha256", CV_HEX },
	{ "tls.certificate", "tls.server.certificate", CV_AS_IS },
	{ "tls.chain", "tls.server.certificate_chain", CV_AS_IS },
	{ "tls.client.subject", "tls.client.x509.subject.distinguished_name",
	    CV_AS_IS },
	{ "tls.client.issuerdn", "tls.client.x509.issuer.distinguished_name",
	    CV_AS_IS },
	{ "tls.client.serial", "tls.client.x509.serial_number", CV_HEX },
	{ "tls.client.notbefore", "tls.client.x509.not_before", CV_UTC },
	{ "tls.client.notafter", "tls.client.x509.not_after", CV_UTC },
	{ "tls.client.fingerprint", "tls.client.hash.sha1", CV_HEX },
};

/* ---- dotted paths ---- */

/* The first name of path into seg; returns the rest, or NULL if none. */
static const char *
first_name(const char *path, char seg[SEG_MAX])
{
	const char *dot = strchr(path, '.');
	size_t n = dot != NULL ? (size_t)(dot - path) : strlen(path);

	if (n >= SEG_MAX)
		n = SEG_MAX - 1;
	memcpy(seg, path, n);
	seg[n] = '\0';
	return dot != NULL ? dot + 1 : NULL;
}

static struct json_object *
get_path(struct json_object *o, const char *path)
{
	char seg[SEG_MAX];

	while (path != NULL && o != NULL) {
		path = first_name(path, seg);
		if (!json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, seg, &o))
			return NULL;
	}
	return o;
}

/* Sets path in root to v (taken), making the objects on the way. */
static void
set_path(struct json_object *root, const char *path, struct json_object *v)
{
	struct json_object *next;
	char seg[SEG_MAX];

	for (;;) {
		path = first_name(path, seg);
		if (path == NULL)
			break;
		if (!json_object_object_get_ex(root, seg, &next)) {
			next = json_object_new_object();
			if (next == NULL ||
			    json_object_object_add(root, seg, next) != 0) {
				json_object_put(next);
				json_object_put(v);
				return;
			}
		} else if (!json_object_is_type(next, json_type_object)) {
			json_object_put(v);
			return;
		}
		root = next;
	}
	if (v != NULL && json_object_object_add(root, seg, v) != 0)
		json_object_put(v);
}

/* Deletes path from o, and the objects this leaves empty. */
static void
del_path(struct json_object *o, const char *path)
{
	struct json_object *child;
	const char *rest;
	char seg[SEG_MAX];

	rest = first_name(path, seg);
	if (rest == NULL) {
		json_object_object_del(o, seg);
		return;
	}
	if (!json_object_object_get_ex(o, seg, &child) ||
	    !json_object_is_type(child, json_type_object))
		return;
	del_path(child, rest);
	if (json_object_object_length(child) == 0)
		json_object_object_del(o, seg);
}

/* ---- conversions ---- */

static struct json_object *
conv_timestamp(const char *s)
{
	size_t n = strlen(s);
	char buf[64];

	if (n < 5 || n >= sizeof(buf) || strcmp(s + n - 5, "+0000") != 0)
		return NULL;
	memcpy(buf, s, n - 5);
	memcpy(buf + n - 5, "Z", 2);
	return json_object_new_string(buf);
}

static struct json_object *
conv_lower(const char *s)
{
	char buf[64];
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < sizeof(buf); i++)
		buf[i] = (char)tolower((unsigned char)s[i]);
	buf[i] = '\0';
	return json_object_new_string(buf);
}

static struct json_object *
conv_prefixed(const char *prefix, const char *s)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "%s%s", prefix, s);
	return json_object_new_string(buf);
}

/* "f2:8e:a8" becomes "F28EA8" (ECS writes hashes and serials so). */
static struct json_object *
conv_hex(const char *s)
{
	char buf[256];
	size_t o = 0;

	for (; *s != '\0' && o + 1 < sizeof(buf); s++)
		if (*s != ':')
			buf[o++] = (char)toupper((unsigned char)*s);
	buf[o] = '\0';
	return json_object_new_string(buf);
}

/* A certificate date, UTC without a zone, with its "Z". */
static struct json_object *
conv_utc(const char *s)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%sZ", s);
	return json_object_new_string(buf);
}

/*
 * The value for m->ecs, or NULL when this value has no ECS form (it then
 * stays under "imapwatch").  *path may be changed (user.hash).
 */
static struct json_object *
convert(const struct mapping *m, struct json_object *v, const char **path)
{
	const char *s = json_object_get_string(v);

	switch (m->conv) {
	case CV_AS_IS:
		return json_object_get(v);
	case CV_TIMESTAMP:
		return conv_timestamp(s);
	case CV_LOWER:
		return conv_lower(s);
	case CV_DATASET:
		return conv_prefixed("imapwatch.", s);
	case CV_STRING:
		return json_object_new_string(s);
	case CV_HEX:
		return conv_hex(s);
	case CV_UTC:
		return conv_utc(s);
	case CV_FIRST:
		return json_object_is_type(v, json_type_array) &&
		    json_object_array_length(v) > 0 ? json_object_get(
		    json_object_array_get_idx(v, 0)) : NULL;
	case CV_USERNAME:
		if (iw_cfg.usernames == IW_USERNAMES_HASH)
			*path = "user.hash";
		return json_object_get(v);
	case CV_TLS_VERSION:
		break;
	}
	return NULL;
}

/*
 * Suricata's version names as ECS's: "TLS 1.2" gives tls.version "1.2"
 * and tls.version_protocol "tls", "TLSv1" 1.0, "SSLv3" 3.0 and ssl.
 */
static bool
tls_version(struct json_object *ecs, const char *s)
{
	static const struct {
		const char	*eve, *version, *protocol;
	} names[] = {
		{ "SSLv2", "2.0", "ssl" }, { "SSLv3", "3.0", "ssl" },
		{ "TLSv1", "1.0", "tls" }, { "TLS 1.1", "1.1", "tls" },
		{ "TLS 1.2", "1.2", "tls" }, { "TLS 1.3", "1.3", "tls" },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].eve) == 0) {
			set_path(ecs, "tls.version",
			    json_object_new_string(names[i].version));
			set_path(ecs, "tls.version_protocol",
			    json_object_new_string(names[i].protocol));
			return true;
		}
	return false;
}

static void
apply(const struct mapping *m, struct json_object *eve,
    struct json_object *ecs)
{
	struct json_object *v = get_path(eve, m->eve), *nv;
	const char *path = m->ecs;

	if (v == NULL)
		return;
	if (m->conv == CV_TLS_VERSION) {
		if (tls_version(ecs, json_object_get_string(v)))
			del_path(eve, m->eve);
		return;
	}
	nv = convert(m, v, &path);
	if (nv == NULL)
		return;
	set_path(ecs, path, nv);
	del_path(eve, m->eve);
}

/* ---- derived fields ---- */

static struct json_object *
str_array(const char *const *s)
{
	struct json_object *a = json_object_new_array();

	for (; a != NULL && *s != NULL; s++)
		json_object_array_add(a, json_object_new_string(*s));
	return a;
}

/* event.kind, event.category, event.type, event.module from the type. */
static void
event_class(struct json_object *ecs, const char *type, const char *alert_cat)
{
	static const char *const alert_c[] = { "network",
	    "intrusion_detection", NULL };
	static const char *const cred_c[] = { "network",
	    "intrusion_detection", "authentication", NULL };
	static const char *const net_c[] = { "network", NULL };
	static const char *const info_t[] = { "info", NULL };
	static const char *const session_t[] = { "connection", "protocol",
	    "end", NULL };
	static const char *const flow_t[] = { "connection", "end", NULL };
	static const char *const anomaly_t[] = { "protocol", NULL };
	const char *const *cat = net_c, *const *typ = info_t;
	const char *kind = "event";

	if (strcmp(type, "alert") == 0) {
		kind = "alert";
		cat = alert_cat != NULL && strcmp(alert_cat, "credentials") ==
		    0 ? cred_c : alert_c;
	} else if (strcmp(type, "imap") == 0 || strcmp(type, "tls") == 0)
		typ = session_t;
	else if (strcmp(type, "flow") == 0)
		typ = flow_t;
	else if (strcmp(type, "anomaly") == 0)
		typ = anomaly_t;
	else if (strcmp(type, "stats") == 0)
		kind = "metric";
	set_path(ecs, "event.kind", json_object_new_string(kind));
	set_path(ecs, "event.category", str_array(cat));
	set_path(ecs, "event.type", str_array(typ));
	set_path(ecs, "event.module", json_object_new_string("imapwatch"));
}

/* Microseconds since the epoch of an EVE timestamp; false if it is not. */
static bool
parse_ts(const char *s, int64_t *t)
{
	struct tm tm;
	long usec;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%6ld",
	    &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
	    &tm.tm_sec, &usec) != 7)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*t = (int64_t)timegm(&tm) * IW_USEC + usec;
	return true;
}

/* A flow's event.duration (ns), from its EVE start and end. */
static void
flow_duration(struct json_object *eve, struct json_object *ecs)
{
	int64_t a, b;

	if (parse_ts(json_object_get_string(get_path(eve, "flow.start")), &a) &&
	    parse_ts(json_object_get_string(get_path(eve, "flow.end")), &b) &&
	    b >= a)
		set_path(ecs, "event.duration",
		    json_object_new_int64((b - a) * 1000));
}

static void
add_sum(struct json_object *ecs, const char *to, const char *a,
    const char *b)
{
	struct json_object *x = get_path(ecs, a), *y = get_path(ecs, b);

	if (x != NULL && y != NULL)
		set_path(ecs, to, json_object_new_uint64(
		    json_object_get_uint64(x) + json_object_get_uint64(y)));
}

static void
network_type(struct json_object *ecs)
{
	const char *ip = json_object_get_string(get_path(ecs, "source.ip"));

	if (ip != NULL)
		set_path(ecs, "network.type", json_object_new_string(
		    strchr(ip, ':') != NULL ? "ipv6" : "ipv4"));
}

/* Appends v (a string) to the array at path unless it is there. */
static void
add_unique(struct json_object *ecs, const char *path, struct json_object *v)
{
	struct json_object *a = get_path(ecs, path);
	const char *s = json_object_get_string(v);
	size_t i, n;

	if (s == NULL || !json_object_is_type(v, json_type_string))
		return;
	if (a == NULL) {
		a = json_object_new_array();
		set_path(ecs, path, a);
		if (get_path(ecs, path) != a)
			return;
	}
	n = json_object_array_length(a);
	for (i = 0; i < n; i++)
		if (strcmp(json_object_get_string(
		    json_object_array_get_idx(a, i)), s) == 0)
			return;
	json_object_array_add(a, json_object_new_string(s));
}

static void
related_ip(struct json_object *ecs)
{
	add_unique(ecs, "related.ip", get_path(ecs, "source.ip"));
	add_unique(ecs, "related.ip", get_path(ecs, "destination.ip"));
}

/*
 * related.user: every username and authzid of the event, in order; a
 * session whose attempts all name one user gets it as user.name (or
 * user.hash).
 */
static void
related_user(struct json_object *eve, struct json_object *ecs)
{
	struct json_object *auth, *e, *one = NULL;
	size_t i, n;
	bool several = false;

	add_unique(ecs, "related.user", get_path(ecs, "user.name"));
	add_unique(ecs, "related.user", get_path(ecs, "user.hash"));
	add_unique(ecs, "related.user", get_path(eve, "imap.authzid"));
	auth = get_path(eve, "imap.auth");
	if (auth == NULL || !json_object_is_type(auth, json_type_array))
		return;
	n = json_object_array_length(auth);
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(auth, i);
		add_unique(ecs, "related.user", get_path(e, "username"));
		add_unique(ecs, "related.user", get_path(e, "authzid"));
		if ((e = get_path(e, "username")) == NULL)
			continue;
		if (one != NULL && strcmp(json_object_get_string(one),
		    json_object_get_string(e)) != 0)
			several = true;
		one = e;
	}
	if (one != NULL && !several)
		set_path(ecs, iw_cfg.usernames == IW_USERNAMES_HASH ?
		    "user.hash" : "user.name", json_object_get(one));
}

/* Whatever the table did not move keeps its EVE name under imapwatch. */
static void
keep_rest(struct json_object *eve, struct json_object *ecs)
{
	struct json_object *rest = json_object_new_object();

	if (rest == NULL)
		return;
	json_object_object_foreach(eve, key, val)
		json_object_object_add(rest, key, json_object_get(val));
	if (json_object_object_length(rest) > 0)
		json_object_object_add(ecs, "imapwatch", rest);
	else
		json_object_put(rest);
}

/*
 * An event may share objects between its fields (the leaf certificate's
 * key is both tls.key and tls.chain[0].key): fields are moved out of a
 * private copy.
 */
static struct json_object *
private_copy(struct json_object *eve)
{
	struct json_object *copy = NULL;

	if (json_object_deep_copy(eve, &copy, NULL) != 0)
		copy = NULL;
	json_object_put(eve);
	return copy;
}

struct json_object *
iw_ecs_event(struct json_object *shared)
{
	struct json_object *eve = private_copy(shared), *ecs;
	const char *type;
	size_t i;

	ecs = eve != NULL ? json_object_new_object() : NULL;
	type = json_object_get_string(get_path(eve, "event_type"));
	if (ecs == NULL || type == NULL) {
		json_object_put(ecs);
		json_object_put(eve);
		return NULL;
	}
	apply(&mappings[0], eve, ecs);
	set_path(ecs, "ecs.version", json_object_new_string(ECS_VERSION));
	event_class(ecs, type, json_object_get_string(get_path(eve,
	    "alert.category")));
	if (strcmp(type, "flow") == 0)
		flow_duration(eve, ecs);
	for (i = 1; i < sizeof(mappings) / sizeof(mappings[0]); i++)
		apply(&mappings[i], eve, ecs);
	network_type(ecs);
	add_sum(ecs, "network.packets", "source.packets",
	    "destination.packets");
	add_sum(ecs, "network.bytes", "source.bytes", "destination.bytes");
	related_ip(ecs);
	related_user(eve, ecs);
	keep_rest(eve, ecs);
	json_object_put(eve);
	return ecs;
}
