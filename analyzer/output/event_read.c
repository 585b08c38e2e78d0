/* SPDX-License-Identifier: ISC */
/*
 * event_read.c - reading events back (event_read.h).
 */
#include <ctype.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event_read.h"
#include "findings.h"

struct json_object *
iw_ev_get(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, k, &v))
		return NULL;
	return v;
}

const char *
iw_ev_str(struct json_object *o, const char *k)
{
	struct json_object *v = iw_ev_get(o, k);

	return v != NULL && json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : NULL;
}

int64_t
iw_ev_int(struct json_object *o, const char *k, int64_t def)
{
	struct json_object *v = iw_ev_get(o, k);

	if (v == NULL || !json_object_is_type(v, json_type_int))
		return def;
	return json_object_get_int64(v);
}

bool
iw_ev_true(struct json_object *o, const char *k)
{
	struct json_object *v = iw_ev_get(o, k);

	return v != NULL && json_object_is_type(v, json_type_boolean) &&
	    json_object_get_boolean(v);
}

void
iw_ev_endpoint(char *dst, size_t len, struct json_object *ev,
    const char *ip, const char *port)
{
	const char *a = iw_ev_str(ev, ip);

	if (a == NULL)
		a = "?";
	snprintf(dst, len, strchr(a, ':') ? "[%.46s]:%d" : "%.46s:%d", a,
	    (int)iw_ev_int(ev, port, 0));
}

/* n digits at *p, advancing it; -1 if they are not all there. */
static int
digits(const char **p, int n)
{
	int v = 0;

	while (n-- > 0) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (*(*p)++ - '0');
	}
	return v;
}

/* "+hhmm", "+hh:mm", "Z" or nothing: the offset in seconds east of UTC. */
static bool
utc_offset(const char *p, long *off)
{
	int sign, h, m;

	*off = 0;
	if (*p == '\0' || strcmp(p, "Z") == 0)
		return true;
	if (*p != '+' && *p != '-')
		return false;
	sign = *p++ == '-' ? -1 : 1;
	if ((h = digits(&p, 2)) < 0)
		return false;
	if (*p == ':')
		p++;
	if ((m = digits(&p, 2)) < 0 || *p != '\0')
		return false;
	*off = sign * (h * 3600L + m * 60L);
	return true;
}

bool
iw_ev_time(const char *s, iw_time *out)
{
	struct tm tm;
	const char *p = s;
	long off, usec = 0, scale = 100000;
	int v[6], i;
	static const char sep[] = "--T::";

	if (s == NULL)
		return false;
	memset(&tm, 0, sizeof(tm));
	for (i = 0; i < 6; i++) {
		if ((v[i] = digits(&p, i == 0 ? 4 : 2)) < 0)
			return false;
		if (i < 5 && *p++ != sep[i])
			return false;
	}
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++) {
			usec += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (!utc_offset(p, &off) || v[1] < 1 || v[1] > 12 || v[2] < 1 ||
	    v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60)
		return false;
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	*out = ((iw_time)timegm(&tm) - off) * IW_USEC + usec;
	return true;
}

int
iw_ev_tls_version(const char *s)
{
	const char *p;
	int minor = 0;

	if (s == NULL)
		return 0;
	if (strncmp(s, "SSL", 3) == 0) {
		p = s + 3;
		if (*p == 'v' || *p == ' ')
			p++;
		return *p == '2' ? 0x0200 : *p == '3' ? 0x0300 : 0;
	}
	if (strncmp(s, "TLS", 3) != 0)
		return 0;
	p = s + 3;
	if (*p == 'v' || *p == ' ')
		p++;
	if (*p != '1')
		return 0;
	if (p[1] == '.' && isdigit((unsigned char)p[2]))
		minor = p[2] - '0';
	/* "TLSv1" and "TLS 1.0" are both 1.0 */
	return minor > 3 ? 0 : 0x0301 + minor;
}

bool
iw_ev_cert_encrypted(struct json_object *tls)
{
	const char *st = iw_ev_str(tls, "certificate_status");

	if (st == NULL)
		st = iw_ev_str(tls, "certificate");
	return st != NULL && strcmp(st, "encrypted") == 0;
}

void
iw_ev_san_names(char *dst, size_t len, struct json_object *san)
{
	size_t i, n, o = 0;
	const char *v;

	dst[0] = '\0';
	if (san == NULL || !json_object_is_type(san, json_type_array))
		return;
	n = json_object_array_length(san);
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

const char *const iw_ev_mode_label[IW_EV_MODES] = {
	"cleartext", "STARTTLS", "IMAPS", "other TLS",
};

enum iw_ev_mode
iw_ev_session_mode(const char *type, struct json_object *app)
{
	const char *m = iw_ev_str(app, "mode");

	if (strcmp(type, "tls") == 0 || m == NULL)
		return IW_EV_OTHER_TLS;
	if (strcmp(m, "starttls") == 0)
		return IW_EV_STARTTLS;
	if (strcmp(m, "implicit_tls") == 0)
		return IW_EV_IMAPS;
	return IW_EV_CLEARTEXT;
}

void
iw_ev_count_bool(uint64_t counts[2], struct json_object *v)
{
	if (v != NULL && json_object_is_type(v, json_type_boolean))
		counts[json_object_get_boolean(v) ? 1 : 0]++;
}

uint64_t
iw_ev_finding_bits(struct json_object *ids)
{
	uint64_t bits = 0;
	size_t i, n;
	const char *id;
	int f;

	if (ids == NULL || !json_object_is_type(ids, json_type_array))
		return 0;
	n = json_object_array_length(ids);
	for (i = 0; i < n; i++) {
		id = json_object_get_string(json_object_array_get_idx(ids, i));
		if (id != NULL && (f = iw_finding_by_id(id)) >= 0)
			bits |= 1ULL << f;
	}
	return bits;
}

bool
iw_ev_password_alert(int f, int severity)
{
	return f == IW_F_CLEARTEXT_LOGIN ||
	    (f == IW_F_CLEARTEXT_AUTH && severity == 1);
}

const char *
iw_ev_short_time(const char *ts, char *buf, size_t len)
{
	snprintf(buf, len, "%.19s", ts != NULL ? ts : "");
	if (strlen(buf) == 19 && buf[10] == 'T')
		buf[10] = ' ';
	return buf;
}

static unsigned
bucket_of(const char *s)
{
	unsigned h = 5381;

	while (*s != '\0')
		h = h * 33 + (unsigned char)*s++;
	return h % IW_EV_BUCKETS;
}

void *
iw_ev_table_get(struct iw_ev_table *t, const char *key)
{
	unsigned b = bucket_of(key);
	struct iw_ev_item *it, **grown;

	for (it = t->buckets[b]; it != NULL; it = it->next)
		if (strcmp(it->key, key) == 0)
			return it;
	if (t->n >= t->max)
		return NULL;
	if ((t->n & (t->n - 1)) == 0) {
		grown = realloc(t->items, (size_t)(t->n ? t->n * 2 : 16) *
		    sizeof(*grown));
		if (grown == NULL)
			return NULL;
		t->items = grown;
	}
	if ((it = calloc(1, t->size)) == NULL)
		return NULL;
	snprintf(it->key, sizeof(it->key), "%s", key);
	it->next = t->buckets[b];
	t->buckets[b] = it;
	t->items[t->n++] = it;
	return it;
}

void
iw_ev_table_free(struct iw_ev_table *t)
{
	int i;

	for (i = 0; i < t->n; i++)
		free(t->items[i]);
	free(t->items);
	t->items = NULL;
	t->n = 0;
	memset(t->buckets, 0, sizeof(t->buckets));
}
