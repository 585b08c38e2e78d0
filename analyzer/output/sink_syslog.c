/* SPDX-License-Identifier: ISC */
/*
 * sink_syslog.c - the RFC 5424 header of a syslog sink:
 *
 *   <PRI>1 TIMESTAMP HOSTNAME imapwatch PID MSGID - {"timestamp":...}
 *
 * PRI is the facility (local5 unless ?facility= says otherwise) and a
 * severity from the event (alert severity 1 crit, 2 err, 3 warning; any
 * other event info).  TIMESTAMP is the event's own timestamp field in
 * RFC 3339, MSGID its event_type, the whole JSON the MSG (no BOM, no
 * structured data).  The fields are found in the line as written: keys
 * are never inside a JSON string, where a '"' is always escaped.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "sink.h"

#define SEV_CRIT	2
#define SEV_ERR		3
#define SEV_WARNING	4
#define SEV_INFO	6

static const char *const facilities[24] = {
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console",
	"solaris-cron", "local0", "local1", "local2", "local3", "local4",
	"local5", "local6", "local7",
};

/* Facility by name or number, or -1. */
int
iw_syslog_facility(const char *s)
{
	char *end;
	long n;
	int i;

	for (i = 0; i < 24; i++)
		if (strcasecmp(s, facilities[i]) == 0)
			return i;
	if (!isdigit((unsigned char)*s))
		return -1;
	n = strtol(s, &end, 10);
	return *end == '\0' && n >= 0 && n < 24 ? (int)n : -1;
}

/* RFC 5424 PRINTUSASCII, at most max characters, or "-" for none. */
static size_t
printable(const char *in, size_t len, size_t max, char *out)
{
	size_t i, n = 0;

	for (i = 0; i < len && n < max; i++)
		out[n++] = in[i] > 32 && in[i] < 127 ? in[i] : '_';
	if (n == 0)
		out[n++] = '-';
	out[n] = '\0';
	return n;
}

void
iw_syslog_init(struct iw_sink *s)
{
	char host[256], clean[256];

	if (gethostname(host, sizeof(host)) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	printable(host, strlen(host), 255, clean);
	snprintf(s->hdr_tail, sizeof(s->hdr_tail), " %s imapwatch %ld ",
	    clean, (long)getpid());
}

/* The string value of the first "key":"..." in the line. */
static bool
find_str(const char *line, size_t len, const char *key, const char **v,
    size_t *vlen)
{
	const char *p, *q, *end = line + len;
	size_t klen = strlen(key);

	p = memmem(line, len, key, klen);
	if (p == NULL)
		return false;
	p += klen;
	q = memchr(p, '"', (size_t)(end - p));
	if (q == NULL)
		return false;
	*v = p;
	*vlen = (size_t)(q - p);
	return true;
}

static int
severity(const char *line, size_t len, const char *type, size_t tlen)
{
	const char *a, *p, *end = line + len;

	if (tlen != 5 || memcmp(type, "alert", 5) != 0)
		return SEV_INFO;
	if ((a = memmem(line, len, "\"alert\":{", 9)) == NULL)
		return SEV_INFO;
	p = memmem(a, (size_t)(end - a), "\"severity\":", 11);
	if (p == NULL || p + 11 >= end)
		return SEV_INFO;
	switch (p[11]) {
	case '1':	return SEV_CRIT;
	case '2':	return SEV_ERR;
	case '3':	return SEV_WARNING;
	}
	return SEV_INFO;
}

static bool
digits(const char *p, size_t n)
{
	while (n-- > 0)
		if (!isdigit((unsigned char)*p++))
			return false;
	return true;
}

/*
 * EVE's "2026-11-29T02:20:22.102203+0000" as RFC 3339
 * ("2026-11-29T02:20:22.102203Z"); false if it is not such a time.
 */
static bool
rfc3339(const char *t, size_t n, char *out, size_t outsz)
{
	size_t i = 19, f;

	if (n < 20 || n > 40 || !digits(t, 4) || t[4] != '-' ||
	    !digits(t + 5, 2) || t[7] != '-' || !digits(t + 8, 2) ||
	    t[10] != 'T' || !digits(t + 11, 2) || t[13] != ':' ||
	    !digits(t + 14, 2) || t[16] != ':' || !digits(t + 17, 2))
		return false;
	if (t[i] == '.') {
		for (f = i + 1; f < n && isdigit((unsigned char)t[f]); f++)
			;
		if (f == i + 1 || f - i - 1 > 6)
			return false;
		i = f;
	}
	if (n - i == 1 && t[i] == 'Z') {
		snprintf(out, outsz, "%.*sZ", (int)i, t);
		return true;
	}
	if (t[i] != '+' && t[i] != '-')
		return false;
	if (n - i == 5 && digits(t + i + 1, 4)) {
		if (memcmp(t + i + 1, "0000", 4) == 0)
			snprintf(out, outsz, "%.*sZ", (int)i, t);
		else
			snprintf(out, outsz, "%.*s%c%.2s:%.2s", (int)i, t,
			    t[i], t + i + 1, t + i + 3);
		return true;
	}
	if (n - i == 6 && digits(t + i + 1, 2) && t[i + 3] == ':' &&
	    digits(t + i + 4, 2)) {
		snprintf(out, outsz, "%.*s", (int)n, t);
		return true;
	}
	return false;
}

static void
now_rfc3339(char *out, size_t outsz)
{
	struct timeval tv;
	struct tm tm;
	time_t t;

	gettimeofday(&tv, NULL);
	t = tv.tv_sec;
	gmtime_r(&t, &tm);
	snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (long)tv.tv_usec);
}

/* The header before the JSON, into buf; its length. */
size_t
iw_syslog_header(const struct iw_sink *s, const char *line, size_t len,
    char *buf, size_t bufsz)
{
	char ts[48], msgid[33];
	const char *v;
	size_t vlen;
	int n, sev = SEV_INFO;

	if (!(find_str(line, len, "\"timestamp\":\"", &v, &vlen) ||
	    find_str(line, len, "\"@timestamp\":\"", &v, &vlen)) ||
	    !rfc3339(v, vlen, ts, sizeof(ts)))
		now_rfc3339(ts, sizeof(ts));
	if (find_str(line, len, "\"event_type\":\"", &v, &vlen)) {
		printable(v, vlen, 32, msgid);
		sev = severity(line, len, v, vlen);
	} else
		printable("", 0, 32, msgid);
	n = snprintf(buf, bufsz, "<%d>1 %s%s%s - ", s->facility * 8 + sev,
	    ts, s->hdr_tail, msgid);
	return n < 0 ? 0 : (size_t)n >= bufsz ? bufsz - 1 : (size_t)n;
}
