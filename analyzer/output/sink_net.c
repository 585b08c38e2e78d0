/* SPDX-License-Identifier: ISC */
/*
 * sink_net.c - the socket sinks: syslog (local, UDP, TCP), Unix stream and
 * datagram sockets, and the connection side of Redis.
 *
 * iw_sink_net_line frames the event (syslog header, newline, RESP) into
 * the sink's bounded queue and, when connected, writes what the socket
 * takes at once; iw_sink_net_service, called from the tick, connects,
 * notices a finished connect and writes the rest.  Sockets are
 * non-blocking, so nothing here ever waits.
 *
 * Streams: the front record is written from woff; a connection that dies
 * restarts it from byte 0 on the next one, so the collector never sees
 * half an event (it may see one twice).  Before writing, a stream checks
 * for the peer's FIN, so a collector that went away while we were idle is
 * noticed before an event is written into the void.  Datagrams: one
 * record, one send; a refused send keeps the record for the next
 * connection.
 *
 * A connect that fails, or a connection that dies young, waits backoff
 * (1 s, doubling to 30 s) before the next try; one that lived longer
 * than HELD_LONG reconnects at once.
 */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sink.h"
#include "stats.h"

#define BACKOFF_MIN	1000
#define BACKOFF_MAX	30000
#define CONNECT_TIMEOUT	5000
#define HELD_LONG	10000

int64_t
iw_sink_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
iw_sink_drop(struct iw_sink *s, uint64_t n)
{
	s->dropped += n;
	iw_stats.events_dropped += n;
}

void
iw_sink_net_init(struct iw_sink *s, size_t max_bytes, size_t max_count)
{
	iwq_init(&s->q, max_bytes, max_count);
	s->state = IW_SS_DOWN;
	s->fd = -1;
	s->backoff = BACKOFF_MIN;
}

/* ---- framing ---- */

static size_t
frame_prefix(const struct iw_sink *s, const char *line, size_t len,
    char *buf, size_t bufsz)
{
	char hdr[IW_SYSLOG_HDRMAX];
	size_t hlen;
	int n;

	switch (s->kind) {
	case IW_SINK_SYSLOG:
		hlen = iw_syslog_header(s, line, len, hdr, sizeof(hdr));
		if (s->socktype != SOCK_STREAM) {
			memcpy(buf, hdr, hlen);
			return hlen;
		}
		/* RFC 6587 octet counting: "LEN SP" before the message */
		n = snprintf(buf, bufsz, "%zu ", hlen + len);
		memcpy(buf + n, hdr, hlen);
		return (size_t)n + hlen;
	case IW_SINK_REDIS:
		return iw_redis_prefix(s, len, buf, bufsz);
	default:
		return 0;
	}
}

static const char *
frame_suffix(const struct iw_sink *s)
{
	if (s->kind == IW_SINK_UNIX)
		return "\n";
	if (s->kind == IW_SINK_REDIS)
		return "\r\n";
	return "";
}

/* ---- connection states ---- */

static void
disconnect(struct iw_sink *s)
{
	if (s->kind == IW_SINK_REDIS)
		iw_redis_close(s);
	else if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->woff = 0;
	iwq_rewind(&s->q);
	s->state = IW_SS_DOWN;
}

static void
later(struct iw_sink *s, int64_t now)
{
	s->next_try = now + s->backoff;
	s->backoff = s->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX :
	    s->backoff * 2;
}

static void
connect_failed(struct iw_sink *s, const char *why, int64_t now)
{
	disconnect(s);
	later(s, now);
	if (!s->said_down)
		fprintf(stderr, "imapwatch: output %s: cannot connect: %s "
		    "(events are queued, retrying)\n", s->name, why);
	s->said_down = true;
}

void
iw_sink_net_lost(struct iw_sink *s, const char *why, int64_t now)
{
	disconnect(s);
	if (now - s->since >= HELD_LONG) {
		s->backoff = BACKOFF_MIN;
		s->next_try = now;
	} else
		later(s, now);
	if (!s->said_down)
		fprintf(stderr, "imapwatch: output %s: connection lost: %s "
		    "(events are queued, reconnecting)\n", s->name, why);
	s->said_down = true;
}

static void
connected(struct iw_sink *s, int64_t now)
{
	s->state = IW_SS_UP;
	s->since = now;
	if (s->ever_up)
		s->reconnects++;
	if (s->said_down)
		fprintf(stderr, "imapwatch: output %s: connected\n", s->name);
	s->ever_up = true;
	s->said_down = false;
	if (s->kind == IW_SINK_REDIS)
		iw_redis_connected(s);
}

static void
start_connect(struct iw_sink *s, int64_t now)
{
	char why[160];

	s->since = now;
	if (s->kind == IW_SINK_REDIS) {
		if (iw_redis_connect(s, why, sizeof(why)) == 0)
			s->state = IW_SS_CONNECTING;
		else
			connect_failed(s, why, now);
		return;
	}
	s->fd = socket(s->addr.ss_family, s->socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		connect_failed(s, strerror(errno), now);
		return;
	}
	if (connect(s->fd, (struct sockaddr *)&s->addr, s->addrlen) == 0)
		connected(s, now);
	else if (errno == EINPROGRESS)
		s->state = IW_SS_CONNECTING;
	else
		connect_failed(s, strerror(errno), now);
}

static void
check_connect(struct iw_sink *s, int64_t now)
{
	struct pollfd pfd = { .fd = s->fd, .events = POLLOUT };
	socklen_t elen = sizeof(int);
	int e = 0;

	if (poll(&pfd, 1, 0) <= 0) {
		if (now - s->since >= CONNECT_TIMEOUT)
			connect_failed(s, "timed out", now);
		return;
	}
	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &elen) != 0)
		e = errno;
	if (e != 0)
		connect_failed(s, strerror(e), now);
	else
		connected(s, now);
}

/* ---- writing ---- */

/* A stream collector that closed (or reset) shows up as readable. */
static bool
peer_gone(struct iw_sink *s)
{
	char buf[512];
	ssize_t n;
	int i;

	for (i = 0; i < 16; i++) {
		n = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0)
			continue;	/* nothing is expected; ignore it */
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR))
			return false;
		iw_sink_net_lost(s, n == 0 ? "closed by the peer" :
		    strerror(errno), iw_sink_now());
		return true;
	}
	return false;
}

static void
flush_stream(struct iw_sink *s)
{
	const char *p;
	size_t len;
	ssize_t n;

	if (s->q.count == 0 || peer_gone(s))
		return;
	while (iwq_front(&s->q, &p, &len)) {
		n = send(s->fd, p + s->woff, len - s->woff,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				iw_sink_net_lost(s, strerror(errno),
				    iw_sink_now());
			return;
		}
		s->woff += (size_t)n;
		if (s->woff < len)
			continue;
		s->woff = 0;
		iwq_pop(&s->q);
		s->sent++;
	}
}

static void
flush_dgram(struct iw_sink *s)
{
	const char *p;
	size_t len;

	while (iwq_front(&s->q, &p, &len)) {
		if (send(s->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) {
			iwq_pop(&s->q);
			s->sent++;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == ENOBUFS)
			return;
		if (errno == EMSGSIZE) {
			/* this one can never go: drop it, not the sink */
			if (!s->said_refused)
				fprintf(stderr, "imapwatch: output %s: an "
				    "event of %zu bytes is too large for a "
				    "datagram (dropped)\n", s->name, len);
			s->said_refused = true;
			iwq_pop(&s->q);
			iw_sink_drop(s, 1);
			continue;
		}
		iw_sink_net_lost(s, strerror(errno), iw_sink_now());
		return;
	}
}

static void
flush(struct iw_sink *s)
{
	if (s->kind == IW_SINK_REDIS)
		iw_redis_flush(s, iw_sink_now());
	else if (s->socktype == SOCK_STREAM)
		flush_stream(s);
	else
		flush_dgram(s);
}

/* ---- the interface ---- */

void
iw_sink_net_line(struct iw_sink *s, const char *line, size_t len)
{
	char pre[IW_SYSLOG_HDRMAX + 32];
	const char *suf = frame_suffix(s);
	size_t plen, slen = strlen(suf);
	char *p;

	s->events++;
	plen = frame_prefix(s, line, len, pre, sizeof(pre));
	p = iwq_push(&s->q, plen + len + slen);
	if (p == NULL && s->state == IW_SS_UP) {
		flush(s);	/* replies may have freed some room */
		p = iwq_push(&s->q, plen + len + slen);
	}
	if (p == NULL) {
		iw_sink_drop(s, 1);
		return;
	}
	memcpy(p, pre, plen);
	memcpy(p + plen, line, len);
	memcpy(p + plen + len, suf, slen);
	if (s->state == IW_SS_UP)
		flush(s);
}

bool
iw_sink_net_busy(const struct iw_sink *s)
{
	return s->state != IW_SS_UP || s->q.count > 0;
}

void
iw_sink_net_service(struct iw_sink *s, int64_t now)
{
	if (s->state == IW_SS_DOWN) {
		if (now < s->next_try)
			return;
		start_connect(s, now);
	}
	if (s->state == IW_SS_CONNECTING)
		check_connect(s, now);
	if (s->state == IW_SS_UP && s->q.count > 0)
		flush(s);
}

/* What to wait for while draining at exit; -1: nothing. */
int
iw_sink_net_pollfd(struct iw_sink *s, short *events)
{
	const char *p;
	size_t len;

	if (s->fd < 0 || s->state == IW_SS_DOWN)
		return -1;
	if (s->state == IW_SS_CONNECTING) {
		*events = POLLOUT;
		return s->fd;
	}
	*events = POLLIN;
	if (iwq_unsent(&s->q, &p, &len))
		*events |= POLLOUT;
	return s->fd;
}

/* Draining at exit: try a dead connection now, and then often. */
void
iw_sink_net_retry_now(struct iw_sink *s, int64_t now, int64_t cap)
{
	if (s->state == IW_SS_DOWN)
		s->next_try = now;
	if (s->backoff > cap)
		s->backoff = cap;
}

void
iw_sink_net_close(struct iw_sink *s)
{
	disconnect(s);
	iwq_free(&s->q);
}
