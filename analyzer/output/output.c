/* SPDX-License-Identifier: ISC */
/*
 * output.c - the -o outputs: parsing their specs, handing every event to
 * each, the tick that keeps socket sinks moving, the drain at exit and
 * the per-output counters of the stats event.  output.h has the syntax;
 * sink_*.c do the work.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <json.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "output.h"
#include "sink.h"
#include "stats.h"

#define MAX_OUTPUTS	16
#define QUEUE_BYTES	(16 * 1024 * 1024)
#define QUEUE_EVENTS	100000
#define TICK_MS		10	/* the tick works at most this often */
#define DRAIN_MS	2000	/* at exit */
#define DRAIN_RETRY_MS	250

static struct iw_sink sinks[MAX_OUTPUTS];
static int n_sinks;
static pthread_mutex_t sinks_lock = PTHREAD_MUTEX_INITIALIZER;

struct opts {
	size_t	 qbytes, qevents;
	int	 facility;		/* -1: not given */
	int	 mode;			/* -1: not given */
};

static bool
is_net(const struct iw_sink *s)
{
	return s->kind != IW_SINK_STDOUT && s->kind != IW_SINK_FILE;
}

static const char *
kind_name(enum iw_sink_kind k)
{
	switch (k) {
	case IW_SINK_STDOUT:	return "stdout";
	case IW_SINK_FILE:	return "file";
	case IW_SINK_SYSLOG:	return "syslog";
	case IW_SINK_UNIX:	return "unix";
	case IW_SINK_UNIXGRAM:	return "unixgram";
	case IW_SINK_REDIS:	return "redis";
	}
	return "?";
}

/* ---- parsing ---- */

static int
fail(char *err, size_t errlen, const char *spec, const char *what)
{
	snprintf(err, errlen, "-o %s: %s", spec, what);
	return -1;
}

static bool
parse_uint(const char *v, uint64_t max, uint64_t *out)
{
	char *end;

	if (!isdigit((unsigned char)*v))
		return false;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return errno == 0 && *end == '\0' && *out <= max;
}

/* "16m": bytes, with k, m or g (powers of 1024). */
static bool
parse_size(const char *v, size_t *out)
{
	char num[32], *end;
	unsigned long long n;
	size_t len = strlen(v), mult = 1;

	if (len == 0 || len >= sizeof(num))
		return false;
	memcpy(num, v, len + 1);
	switch (tolower((unsigned char)num[len - 1])) {
	case 'k': mult = 1024; break;
	case 'm': mult = 1024 * 1024; break;
	case 'g': mult = 1024 * 1024 * 1024; break;
	}
	if (mult != 1)
		num[len - 1] = '\0';
	if (!isdigit((unsigned char)num[0]))
		return false;
	errno = 0;
	n = strtoull(num, &end, 10);
	if (errno != 0 || *end != '\0' || n > (4ULL << 30) / mult)
		return false;
	*out = (size_t)n * mult;
	return *out >= 1024;
}

static int
parse_mode(const char *v)
{
	if (strcmp(v, "list") == 0 || strcmp(v, "rpush") == 0)
		return IW_REDIS_RPUSH;
	if (strcmp(v, "lpush") == 0)
		return IW_REDIS_LPUSH;
	if (strcmp(v, "publish") == 0 || strcmp(v, "channel") == 0)
		return IW_REDIS_PUBLISH;
	return -1;
}

static const char *
parse_option(struct opts *o, char *kv, enum iw_sink_kind kind)
{
	char *v = strchr(kv, '=');
	uint64_t n;

	if (v == NULL)
		return "an option needs a value (NAME=VALUE)";
	*v++ = '\0';
	if (strcmp(kv, "queue") == 0) {
		if (!parse_size(v, &o->qbytes))
			return "queue= takes a size from 1k to 4g (16m, 512k)";
	} else if (strcmp(kv, "queue_events") == 0) {
		if (!parse_uint(v, 100000000, &n) || n == 0)
			return "queue_events= takes a number from 1 to "
			    "100000000";
		o->qevents = (size_t)n;
	} else if (strcmp(kv, "facility") == 0 && kind == IW_SINK_SYSLOG) {
		if ((o->facility = iw_syslog_facility(v)) < 0)
			return "facility= takes a syslog facility (local0 .. "
			    "local7, daemon, user, ... or 0 .. 23)";
	} else if (strcmp(kv, "mode") == 0 && kind == IW_SINK_REDIS) {
		if ((o->mode = parse_mode(v)) < 0)
			return "mode= takes list, rpush, lpush or publish";
	} else
		return kind == IW_SINK_SYSLOG ? "unknown option (queue, "
		    "queue_events, facility)" : kind == IW_SINK_REDIS ?
		    "unknown option (queue, queue_events, mode)" :
		    "unknown option (queue, queue_events)";
	return NULL;
}

/* Splits "?a=b&c=d" off rest (in place). */
static const char *
parse_options(struct opts *o, char *rest, enum iw_sink_kind kind)
{
	char *q = strchr(rest, '?'), *kv, *save = NULL;
	const char *why;

	o->qbytes = QUEUE_BYTES;
	o->qevents = QUEUE_EVENTS;
	o->facility = o->mode = -1;
	if (q == NULL)
		return NULL;
	*q++ = '\0';
	for (kv = strtok_r(q, "&", &save); kv != NULL;
	    kv = strtok_r(NULL, "&", &save))
		if ((why = parse_option(o, kv, kind)) != NULL)
			return why;
	return NULL;
}

static const char *
set_unix(struct iw_sink *s, const char *path, int socktype)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&s->addr;

	if (*path == '\0')
		return "a socket path is needed";
	if (strlen(path) >= sizeof(sun->sun_path))
		return "the socket path is too long";
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, strlen(path) + 1);
	s->addrlen = sizeof(*sun);
	s->socktype = socktype;
	return NULL;
}

/*
 * "//HOST[:PORT]" (HOST may be [IPv6]) resolved now, so that no name
 * lookup ever blocks later; the rest after it in *rest.
 */
static const char *
set_host(struct iw_sink *s, char *p, int socktype, const char *defport,
    char **rest, char *why, size_t whylen)
{
	struct addrinfo hints, *res;
	char *host, *port = NULL, *end;
	uint64_t n;
	int rc;

	if (strncmp(p, "//", 2) != 0)
		return "expected //HOST:PORT";
	host = p + 2;
	if (*host == '[') {
		if ((end = strchr(++host, ']')) == NULL)
			return "an IPv6 address needs its closing ']'";
		*end++ = '\0';
	} else
		end = host + strcspn(host, ":/");
	if (*end == ':') {
		*end++ = '\0';
		port = end;
		end += strcspn(end, "/");
	}
	*rest = end;
	if (*end == '/') {
		*end = '\0';
		*rest = end + 1;
	}
	if (*host == '\0')
		return "a host is needed (//HOST:PORT)";
	if (port == NULL)
		port = (char *)defport;
	if (!parse_uint(port, 65535, &n) || n == 0)
		return "the port must be a number from 1 to 65535";
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = socktype;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(why, whylen, "cannot resolve %s: %s", host,
		    gai_strerror(rc));
		return why;
	}
	memcpy(&s->addr, res->ai_addr, res->ai_addrlen);
	s->addrlen = res->ai_addrlen;
	s->socktype = socktype;
	s->port = (int)n;
	getnameinfo(res->ai_addr, res->ai_addrlen, s->ip, sizeof(s->ip),
	    NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(res);
	return NULL;
}

static const char *
set_syslog(struct iw_sink *s, const char *scheme, char *rest,
    const struct opts *o, char *why, size_t whylen)
{
	char *tail = NULL;
	const char *e;

	s->kind = IW_SINK_SYSLOG;
	s->facility = o->facility >= 0 ? o->facility : 21;	/* local5 */
	iw_syslog_init(s);
	if (strcmp(scheme, "syslog") == 0 && strncmp(rest, "//", 2) != 0) {
		if (*rest == '\0')
			return set_unix(s, "/dev/log", SOCK_DGRAM);
		if (*rest != '/')
			return "expected syslog:, syslog:/PATH or "
			    "syslog://HOST:PORT";
		return set_unix(s, rest, SOCK_DGRAM);
	}
	e = set_host(s, rest, strcmp(scheme, "syslog+tcp") == 0 ?
	    SOCK_STREAM : SOCK_DGRAM, "514", &tail, why, whylen);
	if (e == NULL && *tail != '\0')
		return "nothing may follow HOST:PORT";
	return e;
}

static const char *
set_redis(struct iw_sink *s, char *rest, const struct opts *o, char *why,
    size_t whylen)
{
	char *key = NULL;
	const char *e;

	s->kind = IW_SINK_REDIS;
	s->mode = o->mode >= 0 ? o->mode : IW_REDIS_RPUSH;
	if ((e = set_host(s, rest, SOCK_STREAM, "6379", &key, why,
	    whylen)) != NULL)
		return e;
	if (*key == '\0')
		return "a key is needed (redis://HOST:PORT/KEY)";
	if (strlen(key) >= sizeof(s->key))
		return "the key is too long";
	memcpy(s->key, key, strlen(key) + 1);
	return NULL;
}

/* A socket sink: "scheme:rest?options" (spec copied to buf). */
static const char *
set_net(struct iw_sink *s, char *buf, char *why, size_t whylen)
{
	char *rest = strchr(buf, ':');
	enum iw_sink_kind kind = IW_SINK_SYSLOG;
	struct opts o;
	const char *e;

	*rest++ = '\0';
	if (strcmp(buf, "redis") == 0)
		kind = IW_SINK_REDIS;
	else if (strcmp(buf, "unix") == 0)
		kind = IW_SINK_UNIX;
	else if (strcmp(buf, "unixgram") == 0)
		kind = IW_SINK_UNIXGRAM;
	if ((e = parse_options(&o, rest, kind)) != NULL)
		return e;
	iw_sink_net_init(s, o.qbytes, o.qevents);
	switch (kind) {
	case IW_SINK_REDIS:
		return set_redis(s, rest, &o, why, whylen);
	case IW_SINK_UNIX:
	case IW_SINK_UNIXGRAM:
		s->kind = kind;
		return set_unix(s, rest, kind == IW_SINK_UNIX ?
		    SOCK_STREAM : SOCK_DGRAM);
	default:
		return set_syslog(s, buf, rest, &o, why, whylen);
	}
}

static bool
net_scheme(const char *spec)
{
	static const char *const schemes[] = { "syslog:", "syslog+udp:",
	    "syslog+tcp:", "unix:", "unixgram:", "redis:" };
	size_t i;

	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(spec, schemes[i], strlen(schemes[i])) == 0)
			return true;
	return false;
}

/* "word://" that is none of ours: a typo, not a file name. */
static bool
unknown_scheme(const char *spec)
{
	size_t n = strspn(spec, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");

	return n > 0 && strncmp(spec + n, "://", 3) == 0;
}

/* "scheme://user:password@host": refused without being echoed. */
static bool
has_userinfo(const char *spec)
{
	const char *a = strstr(spec, "://");

	return a != NULL && memchr(a + 3, '@', strcspn(a + 3, "/?")) != NULL;
}

static int
add_net(struct iw_sink *s, const char *spec, char *err, size_t errlen)
{
	char buf[1024], why[256];
	const char *e;

	if (has_userinfo(spec)) {
		snprintf(err, errlen, "-o %.*s//...: a user or password in "
		    "the URL is not supported", (int)strcspn(spec, "/"), spec);
		return -1;
	}
	if (strlen(spec) >= sizeof(buf))
		return fail(err, errlen, "...", "the output spec is too long");
	memcpy(buf, spec, strlen(spec) + 1);
	if ((e = set_net(s, buf, why, sizeof(why))) != NULL) {
		iwq_free(&s->q);
		return fail(err, errlen, spec, e);
	}
	/* a collector that goes away must not kill us with SIGPIPE */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int
iw_output_add(const char *spec, char *err, size_t errlen)
{
	struct iw_sink *s = &sinks[n_sinks];
	char why[512];

	if (n_sinks == MAX_OUTPUTS)
		return fail(err, errlen, spec, "too many outputs (at most 16)");
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	snprintf(s->name, sizeof(s->name), "%s", spec);
	if (strcmp(spec, "-") == 0) {
		s->kind = IW_SINK_STDOUT;
		setvbuf(stdout, NULL, _IOLBF, 0);
	} else if (net_scheme(spec)) {
		if (add_net(s, spec, err, errlen) != 0)
			return -1;
	} else if (unknown_scheme(spec)) {
		return fail(err, errlen, spec, "unknown output type (syslog:, "
		    "syslog://, syslog+tcp://, unix:, unixgram:, redis://, "
		    "file:, -)");
	} else {
		s->kind = IW_SINK_FILE;
		if (strncmp(spec, "file:", 5) == 0)
			spec += 5;
		if (iw_sink_file_open(s, spec, why, sizeof(why)) != 0)
			return fail(err, errlen, s->name, why);
	}
	n_sinks++;
	return 0;
}

/* ---- running ---- */

void
iw_output_line(const char *line, size_t len)
{
	struct iw_sink *s;
	int i;

	if (n_sinks == 0) {
		memset(&sinks[0], 0, sizeof(sinks[0]));
		sinks[0].kind = IW_SINK_STDOUT;
		sinks[0].fd = -1;
		snprintf(sinks[0].name, sizeof(sinks[0].name), "-");
		n_sinks = 1;
	}
	for (i = 0; i < n_sinks; i++) {
		s = &sinks[i];
		if (is_net(s))
			iw_sink_net_line(s, line, len);
		else
			iw_sink_file_write(s, line, len);
	}
}

void
iw_output_lock(void)
{
	pthread_mutex_lock(&sinks_lock);
}

void
iw_output_unlock(void)
{
	pthread_mutex_unlock(&sinks_lock);
}

static void tick_locked(void);

void
iw_output_tick(void)
{
	iw_output_lock();
	tick_locked();
	iw_output_unlock();
}

static void
tick_locked(void)
{
	static int64_t last;
	int64_t now;
	int i;
	bool busy = false;

	for (i = 0; i < n_sinks && !busy; i++)
		busy = is_net(&sinks[i]) && iw_sink_net_busy(&sinks[i]);
	if (!busy)
		return;
	now = iw_sink_now();
	if (now - last < TICK_MS)
		return;
	last = now;
	for (i = 0; i < n_sinks; i++)
		if (is_net(&sinks[i]))
			iw_sink_net_service(&sinks[i], now);
}

void
iw_output_reopen(void)
{
	int i;

	iw_output_lock();
	for (i = 0; i < n_sinks; i++)
		if (!is_net(&sinks[i]))
			iw_sink_file_reopen(&sinks[i]);
	iw_output_unlock();
}

/* Serve the socket sinks until their queues are empty or time is up. */
static void
drain(int64_t ms)
{
	struct pollfd pfd[MAX_OUTPUTS];
	int64_t now = iw_sink_now(), deadline = now + ms;
	int i, n, pending;
	short ev;

	for (i = 0; i < n_sinks; i++)
		if (is_net(&sinks[i]))
			iw_sink_net_retry_now(&sinks[i], now, DRAIN_RETRY_MS);
	for (;;) {
		pending = n = 0;
		for (i = 0; i < n_sinks; i++) {
			if (!is_net(&sinks[i]) || sinks[i].q.count == 0)
				continue;
			iw_sink_net_service(&sinks[i], now);
			if (sinks[i].q.count == 0)
				continue;
			pending++;
			if ((pfd[n].fd = iw_sink_net_pollfd(&sinks[i],
			    &ev)) >= 0)
				pfd[n++].events = ev;
		}
		now = iw_sink_now();
		if (pending == 0 || now >= deadline)
			return;
		poll(pfd, (nfds_t)n, deadline - now < 50 ? (int)(deadline -
		    now) : 50);
		now = iw_sink_now();
	}
}

static void
report_losses(const struct iw_sink *s)
{
	if (s->dropped == 0)
		return;
	if (is_net(s))
		fprintf(stderr, "imapwatch: output %s: %llu of %llu events "
		    "dropped, %llu reconnects\n", s->name,
		    (unsigned long long)s->dropped,
		    (unsigned long long)s->events,
		    (unsigned long long)s->reconnects);
	else
		fprintf(stderr, "imapwatch: output %s: %llu of %llu events "
		    "dropped\n", s->name, (unsigned long long)s->dropped,
		    (unsigned long long)s->events);
}

void
iw_output_close(void)
{
	struct iw_sink *s;
	int i;

	iw_output_lock();
	drain(DRAIN_MS);
	for (i = 0; i < n_sinks; i++) {
		s = &sinks[i];
		if (is_net(s)) {
			/* what could not be delivered in time is lost */
			iw_sink_drop(s, s->q.count);
			iw_sink_net_close(s);
		} else
			iw_sink_file_close(s);
		report_losses(s);
	}
	n_sinks = 0;
	iw_output_unlock();
}

/* ---- counters ---- */

static void
add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

struct json_object *
iw_output_stats(void)
{
	struct json_object *arr = json_object_new_array(), *o;
	const struct iw_sink *s;
	int i;

	iw_output_lock();
	for (i = 0; i < n_sinks; i++) {
		s = &sinks[i];
		o = json_object_new_object();
		json_object_object_add(o, "output", iw_json_str(s->name));
		json_object_object_add(o, "type",
		    json_object_new_string(kind_name(s->kind)));
		add_u64(o, "events", s->events);
		add_u64(o, "sent", s->sent);
		add_u64(o, "dropped", s->dropped);
		if (is_net(s)) {
			add_u64(o, "queued", s->q.count);
			add_u64(o, "queued_bytes", s->q.bytes);
			add_u64(o, "reconnects", s->reconnects);
			json_object_object_add(o, "connected",
			    json_object_new_boolean(s->state == IW_SS_UP));
		}
		json_object_array_add(arr, o);
	}
	iw_output_unlock();
	return arr;
}
