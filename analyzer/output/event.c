/* SPDX-License-Identifier: ISC */
/*
 * event.c - NDJSON events in EVE's shape: common fields, community id,
 * flow id, UTF-8 clean strings, usernames per --usernames, timestamps.
 */
#include <json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "config.h"
#include "digest.h"
#include "event.h"
#include "output.h"
#include "session.h"
#include "stats.h"
#include "summary.h"

static const char hexdigits[] = "0123456789abcdef";

const char *
iw_end_reason_name(enum iw_end_reason r)
{
	switch (r) {
	case IW_END_FIN:	return "fin";
	case IW_END_RST:	return "rst";
	case IW_END_TIMEOUT:	return "timeout";
	case IW_END_EVICTED:	return "evicted";
	case IW_END_SHUTDOWN:	return "shutdown";
	case IW_END_REUSED:	return "port_reuse";
	}
	return "unknown";
}

/* ---- flow id and community id ---- */

static uint64_t
mix64(uint64_t x)
{
	/* splitmix64's finaliser: every input bit affects every output bit */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t
hash_bytes(uint64_t h, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		h = mix64(h ^ p[i]) + i;
	return h;
}

/*
 * Community ID v1 (https://github.com/corelight/community-id-spec): SHA-1
 * over seed, the lower endpoint's address, the other address, protocol, a
 * pad byte and the two ports, base64.  Made when an event is written, not
 * when a flow is: most flows on a span port never have an event, and a
 * SHA-1 for each was a tenth of a SYN flood's cost.
 */
void
iw_flowref_community_id(const struct iw_flowref *f, char out[40])
{
	const struct iw_endpoints *ep = &f->ep;
	const struct iw_addr *a1 = &ep->client, *a2 = &ep->server;
	uint16_t p1 = ep->cport, p2 = ep->sport;
	size_t alen = ep->client.family == AF_INET ? 4 : 16;
	size_t off = alen == 4 ? 12 : 0;
	uint8_t buf[2 + 16 + 16 + 2 + 4], md[SHA_DIGEST_LENGTH];
	size_t n = 0;
	int c;

	c = memcmp(a1->a + off, a2->a + off, alen);
	if (c > 0 || (c == 0 && p1 > p2)) {
		a1 = &ep->server;
		a2 = &ep->client;
		p1 = ep->sport;
		p2 = ep->cport;
	}
	buf[n++] = 0;		/* seed 0, network order */
	buf[n++] = 0;
	memcpy(buf + n, a1->a + off, alen);
	n += alen;
	memcpy(buf + n, a2->a + off, alen);
	n += alen;
	buf[n++] = 6;		/* TCP */
	buf[n++] = 0;
	buf[n++] = p1 >> 8;
	buf[n++] = p1 & 0xff;
	buf[n++] = p2 >> 8;
	buf[n++] = p2 & 0xff;
	EVP_Digest(buf, n, md, NULL, iw_md_sha1(), NULL);
	memcpy(out, "1:", 2);
	EVP_EncodeBlock((unsigned char *)out + 2, md, sizeof(md));
}

void
iw_flowref_init(struct iw_flowref *f, const struct iw_endpoints *ep,
    iw_time first_seen)
{
	uint64_t h;

	memset(f, 0, sizeof(*f));
	f->ep = *ep;
	h = hash_bytes(0x1f2e3d4c5b6a7988ULL, ep->client.a, 16);
	h = hash_bytes(h, ep->server.a, 16);
	h = mix64(h ^ ((uint64_t)ep->cport << 16 | ep->sport));
	h = mix64(h ^ (uint64_t)first_seen);
	/* 51 bits: exact in every JSON reader (doubles), as Suricata does */
	f->flow_id = h & ((1ULL << 51) - 1);
}

/* ---- times ---- */

/*
 * Years 1 to 9999: what ISO 8601 and EVE readers take.  A capture can say
 * anything (a pcapng timestamp decades or millennia off); the event still
 * has to parse.
 */
#define TS_MIN	(-62135596800LL)	/* 0001-01-01T00:00:00Z */
#define TS_MAX	253402300799LL		/* 9999-12-31T23:59:59Z */

static int64_t
clamp_seconds(int64_t sec)
{
	return sec < TS_MIN ? TS_MIN : sec > TS_MAX ? TS_MAX : sec;
}

const char *
iw_format_ts(iw_time t, char out[IW_TSLEN])
{
	int64_t sec = t / IW_USEC, usec = t % IW_USEC;
	time_t tt;
	struct tm tm;

	if (usec < 0) {
		usec += IW_USEC;
		sec--;
	}
	if (sec != clamp_seconds(sec)) {
		sec = clamp_seconds(sec);
		usec = sec == TS_MAX ? IW_USEC - 1 : 0;
	}
	tt = (time_t)sec;
	if (gmtime_r(&tt, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	snprintf(out, IW_TSLEN, "%04d-%02d-%02dT%02d:%02d:%02d.%06d+0000",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)usec);
	return out;
}

const char *
iw_format_date(int64_t sec, char out[IW_TSLEN])
{
	time_t tt = (time_t)clamp_seconds(sec);
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	snprintf(out, IW_TSLEN, "%04d-%02d-%02dT%02d:%02d:%02dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
	return out;
}

/* ---- strings from the wire ---- */

/*
 * The UTF-8 sequence at p: returns its length (1..4) if valid, else 0 and
 * sets *bad to the length of its maximal valid prefix (at least 1), which
 * becomes one U+FFFD (Unicode 15, 3.9, "U+FFFD Substitution of Maximal
 * Subparts", as Python's decoder does).
 */
static size_t
utf8_seq_len(const uint8_t *p, size_t left, size_t *bad)
{
	uint8_t c = p[0], lo = 0x80, hi = 0xbf;
	size_t n, i;

	*bad = 1;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* the second byte's range excludes overlongs and surrogates */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	for (i = 1; i < n; i++) {
		if (i >= left || p[i] < lo || p[i] > hi) {
			*bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return n;
}

size_t
iw_utf8_sanitize(const uint8_t *in, size_t len, char *out, size_t outsz)
{
	size_t i = 0, o = 0, n, bad;

	if (outsz == 0)
		return 0;
	while (i < len) {
		n = utf8_seq_len(in + i, len - i, &bad);
		if (n == 0) {
			if (o + 3 >= outsz)
				break;
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i += bad;
			continue;
		}
		if (o + n >= outsz)
			break;
		memcpy(out + o, in + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	return o;
}

struct json_object *
iw_json_bytes(const void *buf, size_t len)
{
	char small[512], *big = NULL, *out = small;
	size_t outsz = sizeof(small), n;
	struct json_object *j;

	/* each input byte becomes at most 3 output bytes */
	if (len * 3 + 1 > sizeof(small)) {
		outsz = len * 3 + 1;
		big = malloc(outsz);
		if (big == NULL)
			return json_object_new_string("");
		out = big;
	}
	n = iw_utf8_sanitize(buf, len, out, outsz);
	j = json_object_new_string_len(out, (int)n);
	free(big);
	return j;
}

struct json_object *
iw_json_str(const char *s)
{
	return iw_json_bytes(s, strlen(s));
}

struct json_object *
iw_json_username(const void *buf, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	char hex[7 + 2 * EVP_MAX_MD_SIZE + 1];

	switch (iw_cfg.usernames) {
	case IW_USERNAMES_PLAIN:
		return iw_json_bytes(buf, len);
	case IW_USERNAMES_OMIT:
		return NULL;
	case IW_USERNAMES_HASH:
		break;
	}
	if (HMAC(iw_md_sha256(), iw_cfg.username_salt,
	    sizeof(iw_cfg.username_salt), buf, len, md, &mdlen) == NULL)
		return NULL;
	memcpy(hex, "sha256:", 7);
	for (i = 0; i < mdlen; i++) {
		hex[7 + 2 * i] = hexdigits[md[i] >> 4];
		hex[7 + 2 * i + 1] = hexdigits[md[i] & 15];
	}
	hex[7 + 2 * mdlen] = '\0';
	return json_object_new_string(hex);
}

/* ---- events ---- */

struct json_object *
iw_event_new(const char *event_type, iw_time ts, const struct iw_flowref *f)
{
	struct json_object *ev = json_object_new_object();
	char tsbuf[IW_TSLEN], a[IW_ADDRSTRLEN], cid[40];

	if (ev == NULL)
		return NULL;
	json_object_object_add(ev, "timestamp",
	    json_object_new_string(iw_format_ts(ts, tsbuf)));
	json_object_object_add(ev, "event_type",
	    json_object_new_string(event_type));
	if (f == NULL)
		return ev;
	json_object_object_add(ev, "src_ip",
	    json_object_new_string(iw_addr_str(&f->ep.client, a)));
	json_object_object_add(ev, "src_port",
	    json_object_new_int(f->ep.cport));
	json_object_object_add(ev, "dest_ip",
	    json_object_new_string(iw_addr_str(&f->ep.server, a)));
	json_object_object_add(ev, "dest_port",
	    json_object_new_int(f->ep.sport));
	json_object_object_add(ev, "proto", json_object_new_string("TCP"));
	json_object_object_add(ev, "flow_id",
	    json_object_new_uint64(f->flow_id));
	iw_flowref_community_id(f, cid);
	json_object_object_add(ev, "community_id", json_object_new_string(cid));
	return ev;
}

/*
 * The line of an event: converted to ECS if asked, serialised.  Returns
 * the object that holds the line (free it with json_object_put once the
 * line is written) or NULL; ev is taken either way.
 */
struct json_object *
iw_event_serialise(struct json_object *ev, const char **line, size_t *len)
{
	*line = NULL;
	*len = 0;
	if (ev != NULL && iw_sensor.format == IW_FORMAT_ECS)
		ev = iw_ecs_event(ev);
	if (ev != NULL)
		*line = json_object_to_json_string_length(ev,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
		    len);
	return ev;
}

void
iw_event_write_line(const char *line, size_t len)
{
	if (line == NULL) {
		iw_stats.events_dropped++;
		return;
	}
	iw_output_lock();
	iw_event_log(line, len);
	iw_output_line(line, len);
	iw_output_unlock();
	iw_stats.events++;
}

void
iw_event_emit(struct json_object *ev)
{
	const char *s;
	size_t len;

	if (ev == NULL) {
		iw_stats.events_dropped++;
		return;
	}
	iw_event_observe(ev);
	ev = iw_event_serialise(ev, &s, &len);
	iw_event_write_line(s, len);
	json_object_put(ev);
}
