/* SPDX-License-Identifier: ISC */
/*
 * sink_redis.c - Redis through hiredis's non-blocking API, as Suricata's
 * redis output: RPUSH (or LPUSH) each event to a list, or PUBLISH it to
 * a channel.
 *
 * The event is queued already as a RESP command (prefix here, "\r\n" by
 * sink_net.c).  Queued commands are appended to hiredis's output buffer a
 * window at a time (redisAppendFormattedCommand) and written with
 * redisBufferWrite; each reply, read with redisBufferRead and hiredis's
 * reader, acknowledges the oldest command in flight, which only then
 * leaves the queue.  A connection that dies sends what it had in flight
 * again on the next one: no event is lost to a restart, but one Redis ran
 * without its reply getting back is stored twice.  An error reply
 * (WRONGTYPE, OOM...) drops that event.
 *
 * The reader's reply objects are replaced by two tokens: a reply is only
 * "done" or "refused" here, and nothing is allocated per reply.
 */
#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "sink.h"

#define FEED_MAX	(256 * 1024)	/* in hiredis's output buffer */

static char ok_token, err_token;

static void *
reply_string(const redisReadTask *t, char *str, size_t len)
{
	struct iw_sink *s = t->privdata;
	size_t n;

	if (t->type != REDIS_REPLY_ERROR || t->parent != NULL)
		return &ok_token;
	if (s != NULL) {
		/* the error's name and words, never an echo of the event */
		for (n = 0; n < len && n < sizeof(s->lasterr) - 1 &&
		    str[n] != '\'' && str[n] >= ' ' && str[n] < 127; n++)
			;
		memcpy(s->lasterr, str, n);
		s->lasterr[n] = '\0';
	}
	return &err_token;
}

static void *
reply_array(const redisReadTask *t, int n)
{
	return &ok_token;
}

static void *
reply_integer(const redisReadTask *t, long long v)
{
	return &ok_token;
}

static void *
reply_nil(const redisReadTask *t)
{
	return &ok_token;
}

static void
reply_free(void *p)
{
}

static redisReplyObjectFunctions reply_fns = {
	.createString = reply_string,
	.createArray = reply_array,
	.createInteger = reply_integer,
	.createNil = reply_nil,
	.freeObject = reply_free,
};

size_t
iw_redis_prefix(const struct iw_sink *s, size_t len, char *buf, size_t bufsz)
{
	static const char *const cmd[] = {
		[IW_REDIS_RPUSH] = "RPUSH",
		[IW_REDIS_LPUSH] = "LPUSH",
		[IW_REDIS_PUBLISH] = "PUBLISH",
	};
	const char *c = cmd[s->mode];
	int n;

	n = snprintf(buf, bufsz, "*3\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n$%zu\r\n",
	    strlen(c), c, strlen(s->key), s->key, len);
	return n < 0 || (size_t)n >= bufsz ? 0 : (size_t)n;
}

int
iw_redis_connect(struct iw_sink *s, char *why, size_t whylen)
{
	redisContext *c;

	c = redisConnectNonBlock(s->ip, s->port);
	if (c == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (c->err != 0) {
		snprintf(why, whylen, "%s", c->errstr);
		redisFree(c);
		return -1;
	}
	s->rc = c;
	s->fd = c->fd;
	return 0;
}

void
iw_redis_connected(struct iw_sink *s)
{
	s->rc->reader->fn = &reply_fns;
	s->rc->reader->privdata = s;
}

static void
lost(struct iw_sink *s, int64_t now)
{
	char why[sizeof(s->rc->errstr)];

	snprintf(why, sizeof(why), "%s", s->rc->err != 0 ? s->rc->errstr :
	    "protocol error");
	iw_sink_net_lost(s, why, now);
}

static void
ack(struct iw_sink *s, void *reply)
{
	iwq_pop(&s->q);
	if (reply != &err_token) {
		s->sent++;
		return;
	}
	if (!s->said_refused)
		fprintf(stderr, "imapwatch: output %s: the server refused an "
		    "event: %s\n", s->name, s->lasterr);
	s->said_refused = true;
	iw_sink_drop(s, 1);
}

/* Replies to the commands in flight; false when the connection died. */
static bool
read_replies(struct iw_sink *s, int64_t now)
{
	void *reply;
	int i, n, rv;

	for (i = 0; i < 64; i++) {
		if (redisBufferRead(s->rc) != REDIS_OK) {
			lost(s, now);
			return false;
		}
		n = 0;
		while ((rv = redisGetReplyFromReader(s->rc, &reply)) ==
		    REDIS_OK && reply != NULL) {
			if (s->q.n_marked == 0) {
				lost(s, now);	/* a reply to nothing */
				return false;
			}
			ack(s, reply);
			n++;
		}
		if (rv != REDIS_OK) {
			lost(s, now);
			return false;
		}
		if (n == 0)
			break;
	}
	return true;
}

/* Queued commands into hiredis's buffer, a window at a time. */
static bool
feed(struct iw_sink *s, int64_t now)
{
	const char *p;
	size_t len;

	while (sdslen(s->rc->obuf) < FEED_MAX &&
	    iwq_unsent(&s->q, &p, &len)) {
		if (redisAppendFormattedCommand(s->rc, p, len) != REDIS_OK) {
			lost(s, now);
			return false;
		}
		iwq_mark_sent(&s->q);
	}
	return true;
}

/* Write until done or the socket is full; false when it died. */
static bool
write_out(struct iw_sink *s, int64_t now, bool *full)
{
	size_t before;
	int done = 0;

	*full = false;
	while (!done && (before = sdslen(s->rc->obuf)) > 0) {
		if (redisBufferWrite(s->rc, &done) != REDIS_OK) {
			lost(s, now);
			return false;
		}
		if (!done && sdslen(s->rc->obuf) == before) {
			*full = true;
			break;
		}
	}
	return true;
}

void
iw_redis_flush(struct iw_sink *s, int64_t now)
{
	bool full = false;
	int i;

	if (!read_replies(s, now))
		return;
	for (i = 0; i < 16 && !full; i++) {
		if (!feed(s, now) || !write_out(s, now, &full))
			return;
		if (s->q.n_marked == s->q.count)
			break;
	}
}

void
iw_redis_close(struct iw_sink *s)
{
	if (s->rc != NULL)
		redisFree(s->rc);	/* closes the socket */
	s->rc = NULL;
}
