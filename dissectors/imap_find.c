/*
 * imap_find.c - the IMAP findings: authentication attempts and the
 * cleartext findings raised for them, server posture from capability
 * lists, and the two facts kept across sessions (which servers offered
 * STARTTLS, failed authentications per client) in bounded memos.
 */
#include <json.h>
#include <string.h>

#include "config.h"
#include "event.h"
#include "imap_internal.h"
#include "memo.h"
#include "session.h"

#define SERVER_MEMO_CAP	65536
#define CLIENT_MEMO_CAP	16384
#define BF_RING		32	/* exact window up to this many failures */

/*
 * Keys are a multiple of 8 bytes: iw_memo stores the value right after
 * the key, and the values hold 64-bit fields.
 */
struct server_key {
	uint8_t		a[16];
	uint8_t		family;
	uint8_t		pad;
	uint16_t	port;
	uint8_t		pad2[4];
};

struct server_val {
	uint64_t	first_serial;	/* the session that first offered */
	uint8_t		offered;
};

struct client_key {
	uint8_t		a[16];
	uint8_t		family;
	uint8_t		pad[7];
};

struct client_val {
	iw_time		ring[BF_RING];
	uint32_t	n;
	uint32_t	head;
	iw_time		win_start;
	uint32_t	win_count;
};

static struct iw_memo *server_memo;
static struct iw_memo *client_memo;

/* ---- evidence ---- */

void
imap_add_str(struct json_object *o, const char *key, const void *p, size_t n)
{
	json_object_object_add(o, key, iw_json_bytes(p, n));
}

/* The "imap" object beside an alert: tag and command, and whether it was
 * inside NULL-cipher TLS. */
struct json_object *
imap_evidence(struct iw_imap *st, const uint8_t *tag, size_t taglen,
    const char *command)
{
	struct json_object *o = json_object_new_object();

	if (tag != NULL)
		imap_add_str(o, "tag", tag,
		    taglen < IMAP_TAG_MAX ? taglen : IMAP_TAG_MAX);
	if (command != NULL)
		json_object_object_add(o, "command",
		    json_object_new_string(command));
	if (st->inner)
		json_object_object_add(o, "inside_null_cipher_tls",
		    json_object_new_boolean(true));
	return o;
}

void
imap_json_caps(struct json_object *o, const char *key,
    const struct imap_caps *c)
{
	struct json_object *list = json_object_new_array();
	size_t i = 0, n;

	while (i < c->len) {
		n = strnlen(c->buf + i, c->len - i);
		json_object_array_add(list, iw_json_bytes(c->buf + i, n));
		i += n + 1;
	}
	json_object_object_add(o, key, list);
}

void
imap_raise_simple(struct iw_imap *st, enum iw_finding f,
    struct json_object *ev)
{
	iw_alert(st->s, f, 0, ev);
}

static void
add_username(struct json_object *o, const char *key, const uint8_t *p,
    size_t n)
{
	struct json_object *u = iw_json_username(p, n);

	if (u != NULL)
		json_object_object_add(o, key, u);
}

static struct json_object *
auth_evidence(struct iw_imap *st, const struct imap_auth *a)
{
	struct json_object *o = imap_evidence(st, a->tag, a->taglen,
	    imap_cmd_name(a->cmd));
	const char *status = imap_status_name(a->status);

	if (a->has_user)
		add_username(o, "username", a->user, a->userlen);
	if (a->authzlen > 0)
		add_username(o, "authzid", a->authzid, a->authzlen);
	if (a->cmd == C_AUTHENTICATE) {
		imap_add_str(o, "mechanism", a->mechname, a->mechlen);
		json_object_object_add(o, "sasl_ir",
		    json_object_new_boolean(a->sasl_ir));
	}
	if (status != NULL)
		json_object_object_add(o, "status",
		    json_object_new_string(status));
	if (a->codelen > 0)
		imap_add_str(o, "code", a->code, a->codelen);
	if (a->injected)
		json_object_object_add(o, "starttls_injected",
		    json_object_new_boolean(true));
	if (a->after_starttls)
		json_object_object_add(o, "after_starttls",
		    json_object_new_boolean(true));
	return o;
}

/* ---- authentication attempts ---- */

struct imap_auth *
imap_auth_new(struct iw_imap *st, int cmd, const uint8_t *tag, size_t taglen)
{
	uint32_t serial = ++st->auth_total;
	struct imap_auth *a = &st->auth[(serial - 1) % IMAP_AUTH_MAX];
	size_t n = taglen < IMAP_TAG_MAX ? taglen : IMAP_TAG_MAX;

	/* an attempt pushed out of the ring still gets its finding */
	if (a->serial != 0 && !a->raised)
		imap_auth_raise(st, a);
	memset(a, 0, sizeof(*a));
	a->serial = serial;
	a->cmd = (int16_t)cmd;
	if (n > 0)
		memcpy(a->tag, tag, n);
	a->taglen = (uint16_t)n;
	return a;
}

struct imap_auth *
imap_auth_get(struct iw_imap *st, uint32_t serial)
{
	struct imap_auth *a;

	if (serial == 0)
		return NULL;
	a = &st->auth[(serial - 1) % IMAP_AUTH_MAX];
	return a->serial == serial ? a : NULL;
}

/* cleartext_login / cleartext_auth for this attempt, once. */
void
imap_auth_raise(struct iw_imap *st, struct imap_auth *a)
{
	int sev = 0;

	if (a->raised)
		return;
	a->raised = true;
	if (a->cmd == C_AUTHENTICATE) {
		sev = imap_sasl_severity(a->mech);
		if (sev == 0)
			return;
	}
	iw_alert(st->s, a->cmd == C_LOGIN ? IW_F_CLEARTEXT_LOGIN :
	    IW_F_CLEARTEXT_AUTH, sev, auth_evidence(st, a));
}

/* Attempts whose response never came (gap, end). */
void
imap_auth_flush(struct iw_imap *st)
{
	int i;

	for (i = 0; i < IMAP_AUTH_MAX; i++)
		if (st->auth[i].serial != 0 && !st->auth[i].raised)
			imap_auth_raise(st, &st->auth[i]);
}

/* ---- auth_bruteforce ---- */

static struct client_val *
client_entry(struct iw_imap *st)
{
	const struct iw_flowref *f = iw_session_flow(st->s);
	struct client_key k;

	if (client_memo == NULL)
		client_memo = iw_memo_new(CLIENT_MEMO_CAP, sizeof(k),
		    sizeof(struct client_val));
	if (client_memo == NULL)
		return NULL;
	memset(&k, 0, sizeof(k));
	memcpy(k.a, f->ep.client.a, sizeof(k.a));
	k.family = f->ep.client.family;
	return iw_memo_put(client_memo, &k);
}

/* Counts one failure at now; true when the threshold is reached. */
static bool
bf_count(struct client_val *v, iw_time now, int count, int window)
{
	iw_time win = (iw_time)window * IW_USEC, oldest;

	v->ring[v->head] = now;
	v->head = (v->head + 1) % BF_RING;
	if (v->n < BF_RING)
		v->n++;
	if (count <= BF_RING) {
		if (v->n < (uint32_t)count)
			return false;
		oldest = v->ring[(v->head + BF_RING - (uint32_t)count) %
		    BF_RING];
		return now - oldest <= win;
	}
	/* past the ring: a fixed window from the first failure in it */
	if (v->win_count == 0 || now - v->win_start > win) {
		v->win_start = now;
		v->win_count = 0;
	}
	return ++v->win_count >= (uint32_t)count;
}

/*
 * A tagged NO to LOGIN/AUTHENTICATE.  When the client reaches the
 * threshold its count starts again, so a long attack gives one alert per
 * threshold's worth of failures, not one per session.
 */
void
imap_auth_failed(struct iw_imap *st, struct imap_auth *a)
{
	struct client_val *v;
	struct json_object *ev;

	if (iw_cfg.bruteforce_count <= 0 || iw_cfg.bruteforce_window <= 0)
		return;
	v = client_entry(st);
	if (v == NULL || !bf_count(v, iw_session_now(st->s),
	    iw_cfg.bruteforce_count, iw_cfg.bruteforce_window))
		return;
	memset(v, 0, sizeof(*v));
	ev = a != NULL ? auth_evidence(st, a) : imap_evidence(st, NULL, 0,
	    NULL);
	json_object_object_add(ev, "count",
	    json_object_new_int(iw_cfg.bruteforce_count));
	json_object_object_add(ev, "window",
	    json_object_new_int(iw_cfg.bruteforce_window));
	iw_alert(st->s, IW_F_AUTH_BRUTEFORCE, 0, ev);
}

/* ---- commands sent in clear ---- */

void
imap_login_checks(struct iw_imap *st, int cmd, const uint8_t *tag,
    size_t taglen, const struct imap_auth *a)
{
	struct json_object *ev;

	if (st->inner)
		return;
	if (cmd == C_LOGIN && st->phase_logindisabled)
		iw_alert(st->s, IW_F_LOGIN_DESPITE_LOGINDISABLED, 0,
		    a != NULL ? auth_evidence(st, a) :
		    imap_evidence(st, tag, taglen, "LOGIN"));
	if (!st->starttls_offered || st->starttls_requested ||
	    st->starttls_ok)
		return;
	if (a != NULL)
		ev = auth_evidence(st, a);
	else
		ev = imap_evidence(st, tag, taglen, imap_cmd_name(cmd));
	iw_alert(st->s, IW_F_STARTTLS_NOT_USED, 0, ev);
}

/* ---- capability lists ---- */

static void
server_key(struct iw_imap *st, struct server_key *k)
{
	const struct iw_flowref *f = iw_session_flow(st->s);

	memset(k, 0, sizeof(*k));
	memcpy(k->a, f->ep.server.a, sizeof(k->a));
	k->family = f->ep.server.family;
	k->port = f->ep.sport;
}

static struct iw_memo *
servers(void)
{
	if (server_memo == NULL)
		server_memo = iw_memo_new(SERVER_MEMO_CAP,
		    sizeof(struct server_key), sizeof(struct server_val));
	return server_memo;
}

/* Did this server offer STARTTLS in an earlier session?  Remembers
 * that it does now, when it does. */
static bool
offered_before(struct iw_imap *st, bool offers_now)
{
	struct server_key k;
	struct server_val *v;

	if (servers() == NULL)
		return false;
	server_key(st, &k);
	if (offers_now) {
		v = iw_memo_put(server_memo, &k);
		if (v != NULL && !v->offered) {
			v->offered = 1;
			v->first_serial = st->serial;
		}
		return false;
	}
	v = iw_memo_get(server_memo, &k);
	return v != NULL && v->offered && v->first_serial != st->serial;
}

static struct json_object *
caps_evidence(struct iw_imap *st, const struct imap_caps *c)
{
	struct json_object *o = imap_evidence(st, NULL, 0, NULL);

	imap_json_caps(o, "capabilities", c);
	return o;
}

/* Posture from a not-authenticated list on the cleartext connection. */
static void
posture(struct iw_imap *st, const struct imap_caps *c)
{
	bool before = offered_before(st, c->starttls);

	if (c->truncated)
		return;
	if (c->starttls && !c->logindisabled)
		iw_alert(st->s, IW_F_LOGINDISABLED_MISSING, 0,
		    caps_evidence(st, c));
	if (c->starttls)
		return;
	iw_alert(st->s, IW_F_STARTTLS_NOT_OFFERED, 0, caps_evidence(st, c));
	if (before)
		iw_alert(st->s, IW_F_STARTTLS_STRIPPING_SUSPECTED, 0,
		    caps_evidence(st, c));
}

/*
 * A capability list was seen.  Lists after login are only recorded;
 * posture is judged on lists of the not-authenticated cleartext phase,
 * never on lists that follow an OK to STARTTLS (injected, or in TLS).
 */
void
imap_caps_seen(struct iw_imap *st, const struct imap_caps *c,
    enum imap_caps_ctx ctx)
{
	if (st->inner)
		return;
	if (ctx == CAPS_AFTER_LOGIN) {
		st->caps_after = *c;
		return;
	}
	if (st->starttls_ok || st->state != S_NOTAUTH)
		return;
	st->caps = *c;
	if (c->starttls)
		st->starttls_offered = true;
	if (c->logindisabled)
		st->logindisabled = st->phase_logindisabled = true;
	posture(st, c);
}
