/* SPDX-License-Identifier: ISC */
/*
 * imap_find.c - the IMAP findings: authentication attempts and the
 * cleartext findings raised for them, and server posture from capability
 * lists.  What spans sessions (did this server offer STARTTLS before?
 * how many failures from this client?) is the correlator's to decide:
 * this file hands it the facts (correlate.h).
 */
#include <json.h>
#include <string.h>

#include "config.h"
#include "correlate.h"
#include "event.h"
#include "imap_internal.h"
#include "session.h"

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

/*
 * A tagged NO to LOGIN/AUTHENTICATE: a fact for the correlator, which
 * counts the client's failures across sessions (auth_bruteforce).
 */
void
imap_auth_failed(struct iw_imap *st, struct imap_auth *a)
{
	struct json_object *ev;

	if (iw_cfg.bruteforce_count <= 0 || iw_cfg.bruteforce_window <= 0)
		return;
	ev = a != NULL ? auth_evidence(st, a) : imap_evidence(st, NULL, 0,
	    NULL);
	iw_corr_auth_failed(st->s, a != NULL ? a->serial : 0, ev);
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

static struct json_object *
caps_evidence(struct iw_imap *st, const struct imap_caps *c)
{
	struct json_object *o = imap_evidence(st, NULL, 0, NULL);

	imap_json_caps(o, "capabilities", c);
	return o;
}

/*
 * Posture from a not-authenticated list on the cleartext connection.  The
 * correlator learns every list offering STARTTLS (a cut one too: what it
 * shows is there) and every whole list without it, which is stripping if
 * the server offered STARTTLS in an earlier session.
 */
static void
posture(struct iw_imap *st, const struct imap_caps *c)
{
	if (c->starttls)
		iw_corr_caps(st->s, true, NULL);
	if (c->truncated)
		return;
	if (c->starttls && !c->logindisabled)
		iw_alert(st->s, IW_F_LOGINDISABLED_MISSING, 0,
		    caps_evidence(st, c));
	if (c->starttls)
		return;
	iw_alert(st->s, IW_F_STARTTLS_NOT_OFFERED, 0, caps_evidence(st, c));
	iw_corr_caps(st->s, false, caps_evidence(st, c));
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
