/* SPDX-License-Identifier: ISC */
/*
 * state_redis.c - the correlator's state in Redis, shared by every sensor
 * that names the same server and prefix, and kept across restarts.
 *
 * Through hiredis's blocking API with a bounded wait (redisSetTimeout):
 * each operation is one round trip, and the front (state.c) falls back to
 * memory when it fails or times out.  A standalone Redis 6.2 or later
 * (the scripts delete the keys they evict, which Redis Cluster forbids).
 * Debian's hiredis 0.14 has no TLS: keep Redis on the host (a Unix
 * socket) or on a trusted link.
 *
 * Keys (SCHEMA is IW_STATE_SCHEMA; TEXT as below):
 *
 *	PREFIX:vSCHEMA:starttls:ADDR|PORT		hash
 *	PREFIX:vSCHEMA:leaf:ADDR|PORT|NAME		hash
 *	PREFIX:vSCHEMA:authfail:ADDR			sorted set of failures
 *	PREFIX:vSCHEMA:authfail:ADDR:alerted		time of the last alert
 *	PREFIX:vSCHEMA:once:ADDR|PORT|FINDING|DAY	hash
 *	PREFIX:vSCHEMA:KIND:@once, ...:@established	sorted sets: the tiers
 *
 * A hash holds first, last (packet times, microseconds), flow0, flow
 * (flow ids of the first and last session), n (sessions), rep (sightings
 * after the first), and for leaf key (SHA-256 of the key, hex) and check
 * (the name check).  NAME has every byte outside '!'..'~' and '%', '|'
 * as %XX.  Every write sets the key's TTL (wall-clock seconds, per kind)
 * and files the key in its kind's tier, scored by its last packet time;
 * a tier over its cap loses its lowest scores (keys deleted, counted).
 * Each decision is one script or one command, so it is atomic.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <hiredis/hiredis.h>

#include "event.h"
#include "findings.h"
#include "state.h"

#define DEFAULT_PREFIX	"imapwatch"
#define DEFAULT_PORT	6379
#define PREFIX_MAX	64
#define KEY_MAX		1024
#define DAY		(86400 * IW_USEC)

struct iw_state_redis {
	char			 host[256];
	int			 port;
	char			 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool			 unix_socket;
	char			 prefix[PREFIX_MAX + 1];
	char			*password;
	struct iw_state_limits	 lim[IW_STATE_KINDS];
	int			 timeout_ms;
	redisContext		*c;
	char			 sha_sight[41];
	char			 sha_window[41];
	char			 err[256];
	char			 target[400];
	uint64_t		 evictions[IW_STATE_KINDS];
};

/*
 * Both scripts file the fact's key (KEYS[1]) in its kind's tiers, the
 * once tier (KEYS[2]) or, seen in two sessions or more, the established
 * one (KEYS[3]), scored by its last packet time; a tier over its cap
 * loses its lowest scores, keys and all.  Returns how many went.
 */
#define LUA_TIERS \
"local function trim(idx, cap)\n" \
"  local over = redis.call('ZCARD', idx) - cap\n" \
"  if over <= 0 then return 0 end\n" \
"  local gone = redis.call('ZRANGE', idx, 0, over - 1)\n" \
"  for i = 1, #gone do redis.call('DEL', gone[i]) end\n" \
"  redis.call('ZREMRANGEBYRANK', idx, 0, over - 1)\n" \
"  return over\n" \
"end\n" \
"local function file(established, score, cap_once, cap_est, ttl)\n" \
"  if established then\n" \
"    redis.call('ZREM', KEYS[2], KEYS[1])\n" \
"    redis.call('ZADD', KEYS[3], score, KEYS[1])\n" \
"  else\n" \
"    redis.call('ZADD', KEYS[2], score, KEYS[1])\n" \
"  end\n" \
"  local gone = trim(KEYS[2], cap_once) + trim(KEYS[3], cap_est)\n" \
"  redis.call('EXPIRE', KEYS[2], ttl)\n" \
"  redis.call('EXPIRE', KEYS[3], ttl)\n" \
"  return gone\n" \
"end\n"

/*
 * A sighting (put_nx, getset).  KEYS: the fact, its kind's tiers.  ARGV:
 * mode (nx, set, merge), last, flow, key hex (or ""), check, ttl, cap of
 * the once tier, of the established one, first, first flow.  Returns the
 * value as it was (nil fields when new) and how many keys the tiers lost.
 */
static const char SIGHT[] = LUA_TIERS
"local k = KEYS[1]\n"
"local mode, ts, flow, hex, check = ARGV[1], ARGV[2], ARGV[3], ARGV[4], "
"ARGV[5]\n"
"local ttl = tonumber(ARGV[6])\n"
"local old = redis.call('HMGET', k, 'first', 'last', 'flow0', 'flow', 'n', "
"'rep', 'key', 'check')\n"
"local n, last = 1, ts\n"
"if not old[1] then\n"
"  redis.call('HSET', k, 'first', ARGV[9], 'last', ts, 'flow0', ARGV[10], "
"'flow', flow, 'n', 1, 'rep', 0)\n"
"  if hex ~= '' then redis.call('HSET', k, 'key', hex, 'check', check) end\n"
"else\n"
"  n = tonumber(old[5])\n"
"  if old[4] ~= flow then n = n + 1 end\n"
"  last = old[2]\n"
"  if tonumber(ts) > tonumber(last) then last = ts end\n"
"  redis.call('HSET', k, 'last', last, 'flow', flow, 'n', n)\n"
"  redis.call('HINCRBY', k, 'rep', 1)\n"
"  if hex ~= '' and (mode == 'set' or (mode == 'merge' and "
"tonumber(ts) >= tonumber(old[2]))) then\n"
"    redis.call('HSET', k, 'key', hex, 'check', check)\n"
"  end\n"
"end\n"
"redis.call('EXPIRE', k, ttl)\n"
"old[9] = file(n >= 2, last, tonumber(ARGV[7]), tonumber(ARGV[8]), ttl)\n"
"return old\n";

/*
 * A failure in a client's window.  KEYS: the window, its tiers, the time
 * of the last alert.  ARGV: time, member, window, threshold, ttl, caps of
 * the tiers, mode (decide, replay).  Failures up to the last alert's time
 * are not counted again (another sensor that saw the same ones); the
 * window keeps the threshold newest failures no older than time - window.
 * Returns {reached, count, tier losses}.
 */
static const char WINDOW[] = LUA_TIERS
"local k, ts, window = KEYS[1], ARGV[1], tonumber(ARGV[3])\n"
"local threshold, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])\n"
"local alerted = redis.call('GET', KEYS[4])\n"
"if alerted and tonumber(ts) <= tonumber(alerted) then return {0, 0, 0} end\n"
"redis.call('ZADD', k, ts, ARGV[2])\n"
"redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. "
"string.format('%.0f', tonumber(ts) - window))\n"
"redis.call('ZREMRANGEBYRANK', k, 0, -(threshold + 1))\n"
"local c = redis.call('ZCARD', k)\n"
"if c >= threshold and ARGV[8] == 'decide' then\n"
"  redis.call('DEL', k)\n"
"  redis.call('SET', KEYS[4], ts, 'EX', ttl)\n"
"  redis.call('ZREM', KEYS[2], k)\n"
"  redis.call('ZREM', KEYS[3], k)\n"
"  return {1, c, 0}\n"
"end\n"
"redis.call('EXPIRE', k, ttl)\n"
"return {0, c, file(c >= 2, ts, tonumber(ARGV[6]), tonumber(ARGV[7]), "
"ttl)}\n";

static const char *const kind_key[IW_STATE_KINDS] = {
	"starttls", "leaf", "authfail", "once",
};

/* ---- the spec ---- */

static bool
prefix_ok(const char *p)
{
	size_t n = strlen(p), i;

	if (n == 0 || n > PREFIX_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' &&
		    p[i] <= 'Z') || (p[i] >= '0' && p[i] <= '9') ||
		    p[i] == '-' || p[i] == '_' || p[i] == '.'))
			return false;
	return true;
}

/*
 * "HOST[:PORT][/PREFIX]", HOST an IPv4 address or [IPv6]: not a name,
 * whose resolving at each reconnect no timeout would bound.
 */
static int
parse_tcp(struct iw_state_redis *r, const char *s)
{
	const char *slash = strchr(s, '/'), *hend, *colon = NULL;
	struct iw_addr ad;
	char *end;
	size_t hl;
	long port = DEFAULT_PORT;

	if (strchr(s, '@') != NULL)
		return -1;
	if (slash == NULL)
		slash = s + strlen(s);
	if (s[0] == '[') {
		if ((hend = memchr(s, ']', (size_t)(slash - s))) == NULL)
			return -1;
		if (hend + 1 < slash && hend[1] != ':')
			return -1;
		colon = hend + 1 < slash ? hend + 1 : NULL;
		s++;
	} else {
		hend = memchr(s, ':', (size_t)(slash - s));
		colon = hend;
		if (hend == NULL)
			hend = slash;
	}
	hl = (size_t)(hend - s);
	if (hl == 0 || hl >= sizeof(r->host))
		return -1;
	memcpy(r->host, s, hl);
	r->host[hl] = '\0';
	if (iw_addr_parse(r->host, &ad) != 0)
		return -1;
	if (colon != NULL) {
		port = strtol(colon + 1, &end, 10);
		if (end != slash || port < 1 || port > 65535)
			return -1;
	}
	r->port = (int)port;
	if (*slash == '/' && slash[1] != '\0')
		snprintf(r->prefix, sizeof(r->prefix), "%s", slash + 1);
	return *slash == '/' && slash[1] != '\0' && !prefix_ok(slash + 1) ?
	    -1 : 0;
}

/*
 * "/PATH[/PREFIX]": a path whose last name ends in ".sock" is the socket
 * alone; otherwise its last name is the prefix.
 */
static int
parse_unix(struct iw_state_redis *r, const char *s)
{
	size_t n = strlen(s);
	const char *last;

	if (s[0] != '/')
		return -1;
	if (n < 5 || strcmp(s + n - 5, ".sock") != 0) {
		last = strrchr(s, '/');
		if (last == s || !prefix_ok(last + 1))
			return -1;
		snprintf(r->prefix, sizeof(r->prefix), "%s", last + 1);
		n = (size_t)(last - s);
	}
	if (n >= sizeof(r->path))
		return -1;
	memcpy(r->path, s, n);
	r->path[n] = '\0';
	r->unix_socket = true;
	return 0;
}

struct iw_state_redis *
iw_state_redis_new(const char *spec, const char *password,
    const struct iw_state_limits *lim, int timeout_ms, char *err,
    size_t errlen)
{
	struct iw_state_redis *r = calloc(1, sizeof(*r));
	int rc = -1;

	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(r->prefix, sizeof(r->prefix), "%s", DEFAULT_PREFIX);
	if (strncmp(spec, "redis://", 8) == 0)
		rc = parse_tcp(r, spec + 8);
	else if (strncmp(spec, "unix:", 5) == 0)
		rc = parse_unix(r, spec + 5);
	if (rc != 0 || (password != NULL &&
	    (r->password = strdup(password)) == NULL)) {
		snprintf(err, errlen, "--state: expected redis://ADDRESS[:PORT]"
		    "[/PREFIX] (an IPv4 or [IPv6] address) or unix:/PATH.sock "
		    "or unix:/PATH/PREFIX (PREFIX letters, digits, '-', '_', "
		    "'.'; a password goes in the config file or "
		    "--state-password-file, never here)");
		free(r);
		return NULL;
	}
	memcpy(r->lim, lim, sizeof(r->lim));
	r->timeout_ms = timeout_ms;
	if (r->unix_socket)
		snprintf(r->target, sizeof(r->target), "unix:%s (prefix %s)",
		    r->path, r->prefix);
	else
		snprintf(r->target, sizeof(r->target), strchr(r->host, ':') ?
		    "redis://[%s]:%d/%s" : "redis://%s:%d/%s", r->host,
		    r->port, r->prefix);
	return r;
}

void
iw_state_redis_free(struct iw_state_redis *r)
{
	if (r == NULL)
		return;
	if (r->c != NULL)
		redisFree(r->c);
	if (r->password != NULL) {
		explicit_bzero(r->password, strlen(r->password));
		free(r->password);
	}
	free(r);
}

const char *
iw_state_redis_target(const struct iw_state_redis *r)
{
	return r != NULL ? r->target : "-";
}

const char *
iw_state_redis_error(const struct iw_state_redis *r)
{
	return r->err;
}

bool
iw_state_redis_connected(const struct iw_state_redis *r)
{
	return r->c != NULL;
}

uint64_t
iw_state_redis_evictions(const struct iw_state_redis *r,
    enum iw_state_kind k)
{
	return r->evictions[k];
}

/* ---- the connection ---- */

/* Keeps why, the password (if it ever shows) replaced. */
static void
set_error(struct iw_state_redis *r, const char *why, size_t len)
{
	char *at;
	size_t n, pl = r->password != NULL ? strlen(r->password) : 0;

	n = len < sizeof(r->err) - 1 ? len : sizeof(r->err) - 1;
	memcpy(r->err, why, n);
	r->err[n] = '\0';
	for (n = 0; r->err[n] != '\0'; n++)
		if ((unsigned char)r->err[n] < ' ' || r->err[n] == 0x7f)
			r->err[n] = '?';
	while (pl > 0 && (at = strstr(r->err, r->password)) != NULL)
		memset(at, '*', pl);
}

static void
drop(struct iw_state_redis *r)
{
	if (r->c != NULL) {
		if (r->c->err != 0)
			set_error(r, r->c->errstr, strlen(r->c->errstr));
		redisFree(r->c);
	}
	r->c = NULL;
}

/* A reply of the expected type, else NULL with r->err (reply freed). */
static redisReply *
expect(struct iw_state_redis *r, redisReply *rep, int type)
{
	if (rep == NULL) {
		if (r->c->err == 0)
			set_error(r, "no reply", 8);
		return NULL;
	}
	if (rep->type == type)
		return rep;
	if (rep->type == REDIS_REPLY_ERROR)
		set_error(r, rep->str, rep->len);
	else
		set_error(r, "unexpected reply", 16);
	freeReplyObject(rep);
	return NULL;
}

static int
load_script(struct iw_state_redis *r, const char *lua, char sha[41])
{
	redisReply *rep = expect(r, redisCommand(r->c, "SCRIPT LOAD %s", lua),
	    REDIS_REPLY_STRING);

	if (rep == NULL)
		return -1;
	snprintf(sha, 41, "%s", rep->len == 40 ? rep->str : "");
	freeReplyObject(rep);
	return sha[0] != '\0' ? 0 : -1;
}

static int
authenticate(struct iw_state_redis *r)
{
	const char *argv[2] = { "AUTH", r->password };
	size_t len[2] = { 4, strlen(r->password) };
	redisReply *rep;

	rep = expect(r, redisCommandArgv(r->c, 2, argv, len),
	    REDIS_REPLY_STATUS);
	if (rep == NULL)
		return -1;
	freeReplyObject(rep);
	return 0;
}

int
iw_state_redis_up(struct iw_state_redis *r, char *why, size_t whylen)
{
	struct timeval tv;

	if (r->c != NULL)
		return 0;
	tv.tv_sec = r->timeout_ms / 1000;
	tv.tv_usec = (r->timeout_ms % 1000) * 1000;
	r->c = r->unix_socket ? redisConnectUnixWithTimeout(r->path, tv) :
	    redisConnectWithTimeout(r->host, r->port, tv);
	if (r->c == NULL) {
		set_error(r, "out of memory", 13);
		goto fail;
	}
	if (r->c->err != 0 || redisSetTimeout(r->c, tv) != REDIS_OK ||
	    (r->password != NULL && authenticate(r) != 0) ||
	    load_script(r, SIGHT, r->sha_sight) != 0 ||
	    load_script(r, WINDOW, r->sha_window) != 0)
		goto fail;
	return 0;
fail:
	drop(r);
	snprintf(why, whylen, "%s", r->err);
	return -1;
}

/* ---- keys ---- */

static size_t
put_addr(char *out, size_t len, uint8_t family, const uint8_t a[16])
{
	struct iw_addr ad;
	char buf[IW_ADDRSTRLEN];

	ad.family = family;
	memcpy(ad.a, a, 16);
	return (size_t)snprintf(out, len, "%s", iw_addr_str(&ad, buf));
}

static size_t
put_name(char *out, size_t len, const char *name, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;
	size_t i, o = 0;

	for (i = 0; i < n && o + 4 < len; i++) {
		c = (unsigned char)name[i];
		if (c > ' ' && c < 0x7f && c != '%' && c != '|') {
			out[o++] = (char)c;
			continue;
		}
		out[o++] = '%';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
	}
	out[o] = '\0';
	return o;
}

/* The once kind's period: its UTC day as 2026-11-29, or "run". */
static void
day_text(char *out, size_t len, int64_t period)
{
	char date[IW_TSLEN];

	if (period < 0) {
		snprintf(out, len, "run");
		return;
	}
	iw_format_date(period * 86400, date);
	snprintf(out, len, "%.10s", date);
}

/* "PREFIX:v1:KIND:TEXT"; its tiers with tier "once" or "established". */
static void
key_text(const struct iw_state_redis *r, const struct iw_state_key *k,
    char *out, size_t len)
{
	size_t o;
	char day[32];

	o = (size_t)snprintf(out, len, "%s:v%d:%s:", r->prefix,
	    IW_STATE_SCHEMA, kind_key[k->kind]);
	o += put_addr(out + o, len - o, k->family, k->addr);
	switch (k->kind) {
	case IW_STATE_STARTTLS:
		snprintf(out + o, len - o, "|%u", k->port);
		break;
	case IW_STATE_LEAF:
		o += (size_t)snprintf(out + o, len - o, "|%u|", k->port);
		put_name(out + o, len - o, k->name, k->name_len);
		break;
	case IW_STATE_ONCE:
		day_text(day, sizeof(day), k->period);
		snprintf(out + o, len - o, "|%u|%s|%s", k->port,
		    k->finding < IW_F_COUNT ?
		    iw_finding_info(k->finding)->id : "?", day);
		break;
	}
}

static void
tier_text(const struct iw_state_redis *r, enum iw_state_kind kind,
    const char *tier, char *out, size_t len)
{
	snprintf(out, len, "%s:v%d:%s:@%s", r->prefix, IW_STATE_SCHEMA,
	    kind_key[kind], tier);
}

/* ---- operations ---- */

/*
 * EVALSHA of a script with the fact's key and its kind's tiers, then the
 * arguments; a Redis that lost its scripts (restarted under us without a
 * reconnect, SCRIPT FLUSH) gets them again once.  NULL on failure.
 */
static redisReply *
run_script(struct iw_state_redis *r, const char *sha, const char *lua,
    const struct iw_state_key *k, const char **args, size_t nargs)
{
	char key[KEY_MAX], once[KEY_MAX], est[KEY_MAX], mark[KEY_MAX + 16];
	const char *argv[16];
	size_t len[16], i, n = 0;
	redisReply *rep;
	int tries;

	if (r->c == NULL || nargs > 10)
		return NULL;
	key_text(r, k, key, sizeof(key));
	tier_text(r, k->kind, "once", once, sizeof(once));
	tier_text(r, k->kind, "established", est, sizeof(est));
	argv[n++] = "EVALSHA";
	argv[n++] = sha;
	argv[n++] = k->kind == IW_STATE_AUTHFAIL ? "4" : "3";
	argv[n++] = key;
	argv[n++] = once;
	argv[n++] = est;
	if (k->kind == IW_STATE_AUTHFAIL) {
		snprintf(mark, sizeof(mark), "%s:alerted", key);
		argv[n++] = mark;
	}
	for (i = 0; i < nargs; i++)
		argv[n++] = args[i];
	for (i = 0; i < n; i++)
		len[i] = strlen(argv[i]);
	for (tries = 0; tries < 2; tries++) {
		rep = redisCommandArgv(r->c, (int)n, argv, len);
		if (rep == NULL) {
			drop(r);
			return NULL;
		}
		if (rep->type != REDIS_REPLY_ERROR ||
		    strncmp(rep->str, "NOSCRIPT", 8) != 0 || tries > 0)
			break;
		freeReplyObject(rep);
		if (load_script(r, lua, (char *)sha) != 0) {
			drop(r);
			return NULL;
		}
	}
	if ((rep = expect(r, rep, REDIS_REPLY_ARRAY)) == NULL)
		drop(r);
	return rep;
}

static int64_t
int_elem(const redisReply *rep, size_t i)
{
	const redisReply *e;

	if (i >= rep->elements)
		return 0;
	e = rep->element[i];
	if (e->type == REDIS_REPLY_INTEGER)
		return e->integer;
	if (e->type == REDIS_REPLY_STRING)
		return strtoll(e->str, NULL, 10);
	return 0;
}

static uint8_t
check_code(const char *s)
{
	static const char *const names[] = {
		[IW_CHECK_UNCHECKED] = "unchecked",
		[IW_CHECK_MATCH] = "match",
		[IW_CHECK_MISMATCH] = "mismatch",
		[IW_CHECK_ENCRYPTED] = "encrypted",
	};
	uint8_t i;

	for (i = 0; i <= IW_CHECK_ENCRYPTED; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return IW_CHECK_UNCHECKED;
}

static const char *
check_name(uint8_t c)
{
	switch (c) {
	case IW_CHECK_MATCH:		return "match";
	case IW_CHECK_MISMATCH:		return "mismatch";
	case IW_CHECK_ENCRYPTED:	return "encrypted";
	}
	return "unchecked";
}

static bool
unhex(const char *s, size_t n, uint8_t out[32])
{
	unsigned int b;
	size_t i;

	if (n != 64)
		return false;
	for (i = 0; i < 32; i++) {
		if (sscanf(s + 2 * i, "%2x", &b) != 1)
			return false;
		out[i] = (uint8_t)b;
	}
	return true;
}

/* A hash as HMGET (first, last, flow0, flow, n, rep, key, check) gives
 * it; 0 when absent, -1 when it does not read. */
static int
read_value(const redisReply *rep, struct iw_state_val *v)
{
	const redisReply *key, *check;

	memset(v, 0, sizeof(*v));
	if (rep->elements < 8)
		return -1;
	if (rep->element[0]->type != REDIS_REPLY_STRING)
		return 0;
	v->first = int_elem(rep, 0);
	v->last = int_elem(rep, 1);
	v->first_flow = (uint64_t)int_elem(rep, 2);
	v->last_flow = (uint64_t)int_elem(rep, 3);
	v->sessions = (uint32_t)int_elem(rep, 4);
	v->repeats = (uint32_t)int_elem(rep, 5);
	key = rep->element[6];
	check = rep->element[7];
	if (key->type == REDIS_REPLY_STRING &&
	    unhex(key->str, key->len, v->key_sha256)) {
		v->has_key = 1;
		if (check->type == REDIS_REPLY_STRING)
			v->name_check = check_code(check->str);
	}
	return 1;
}

static int
redis_get(void *arg, const struct iw_state_key *k, struct iw_state_val *out)
{
	struct iw_state_redis *r = arg;
	char key[KEY_MAX];
	redisReply *rep;
	int rc;

	if (k->kind == IW_STATE_AUTHFAIL)
		return 0;	/* a window has no value to read */
	if (r->c == NULL)
		return -1;
	key_text(r, k, key, sizeof(key));
	rep = expect(r, redisCommand(r->c, "HMGET %s first last flow0 flow n "
	    "rep key check", key), REDIS_REPLY_ARRAY);
	if (rep == NULL) {
		drop(r);
		return -1;
	}
	rc = read_value(rep, out);
	freeReplyObject(rep);
	return rc;
}

/* The caps of the kind's tiers, as script arguments. */
static void
tier_caps(const struct iw_state_redis *r, enum iw_state_kind kind,
    char once[24], char est[24])
{
	snprintf(once, 24, "%llu", (unsigned long long)
	    iw_state_tier_cap(&r->lim[kind], false));
	snprintf(est, 24, "%llu", (unsigned long long)
	    iw_state_tier_cap(&r->lim[kind], true));
}

static int
sight(struct iw_state_redis *r, const struct iw_state_key *k,
    const struct iw_state_val *v, struct iw_state_val *old, const char *mode)
{
	char last[24], flow[24], first[24], flow0[24], hex[65], ttl[24];
	char cap_once[24], cap_est[24];
	const char *args[10];
	redisReply *rep;
	int i, rc;

	snprintf(last, sizeof(last), "%lld", (long long)v->last);
	snprintf(first, sizeof(first), "%lld", (long long)v->first);
	snprintf(flow, sizeof(flow), "%llu", (unsigned long long)v->last_flow);
	snprintf(flow0, sizeof(flow0), "%llu",
	    (unsigned long long)v->first_flow);
	hex[0] = '\0';
	for (i = 0; v->has_key && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", v->key_sha256[i]);
	snprintf(ttl, sizeof(ttl), "%llu", (unsigned long long)
	    r->lim[k->kind].ttl);
	tier_caps(r, k->kind, cap_once, cap_est);
	args[0] = mode;
	args[1] = last;
	args[2] = flow;
	args[3] = hex;
	args[4] = check_name(v->name_check);
	args[5] = ttl;
	args[6] = cap_once;
	args[7] = cap_est;
	args[8] = first;
	args[9] = flow0;
	if ((rep = run_script(r, r->sha_sight, SIGHT, k, args, 10)) == NULL)
		return -1;
	rc = read_value(rep, old);
	r->evictions[k->kind] += (uint64_t)int_elem(rep, 8);
	freeReplyObject(rep);
	if (rc < 0) {
		set_error(r, "unexpected reply", 16);
		drop(r);
	}
	return rc;
}

static int
redis_put_nx(void *arg, const struct iw_state_key *k,
    const struct iw_state_val *v, struct iw_state_val *old,
    enum iw_state_mode mode)
{
	return sight(arg, k, v, old, "nx");
}

static int
redis_getset(void *arg, const struct iw_state_key *k,
    const struct iw_state_val *v, struct iw_state_val *old,
    enum iw_state_mode mode)
{
	return sight(arg, k, v, old, mode == IW_STATE_REPLAY ? "merge" :
	    "set");
}

/*
 * The window never needs more than the threshold's newest failures, so
 * the TTL only has to outlast the window (the larger of the two is set).
 */
static int
redis_window_add(void *arg, const struct iw_state_key *k, iw_time ts,
    uint64_t member, iw_time window, int threshold, enum iw_state_mode mode)
{
	struct iw_state_redis *r = arg;
	char t[24], m[48], w[24], th[24], ttl[24], cap_once[24], cap_est[24];
	const char *args[8];
	uint64_t secs = r->lim[k->kind].ttl;
	redisReply *rep;
	int rc;

	if ((uint64_t)(window / IW_USEC) + 60 > secs)
		secs = (uint64_t)(window / IW_USEC) + 60;
	snprintf(t, sizeof(t), "%lld", (long long)ts);
	snprintf(m, sizeof(m), "%lld/%llx", (long long)ts,
	    (unsigned long long)member);
	snprintf(w, sizeof(w), "%lld", (long long)window);
	snprintf(th, sizeof(th), "%d", threshold);
	snprintf(ttl, sizeof(ttl), "%llu", (unsigned long long)secs);
	tier_caps(r, k->kind, cap_once, cap_est);
	args[0] = t;
	args[1] = m;
	args[2] = w;
	args[3] = th;
	args[4] = ttl;
	args[5] = cap_once;
	args[6] = cap_est;
	args[7] = mode == IW_STATE_REPLAY ? "replay" : "decide";
	if ((rep = run_script(r, r->sha_window, WINDOW, k, args, 8)) == NULL)
		return -1;
	rc = rep->elements == 3 ? (int_elem(rep, 0) == 1) : -1;
	r->evictions[k->kind] += (uint64_t)int_elem(rep, 2);
	freeReplyObject(rep);
	if (rc < 0) {
		set_error(r, "unexpected reply", 16);
		drop(r);
	}
	return rc;
}

const struct iw_state_backend iw_state_redis = {
	.name = "redis",
	.get = redis_get,
	.put_nx = redis_put_nx,
	.getset = redis_getset,
	.window_add = redis_window_add,
};
