/* SPDX-License-Identifier: ISC */
/*
 * imap_report.c - the "imap" object of the session event (DESIGN.md):
 * what the connection showed, bounded, every wire string made valid
 * UTF-8, usernames as --usernames says.
 */
#include <json.h>
#include <string.h>

#include "event.h"
#include "imap_internal.h"

static void
add_bool(struct json_object *o, const char *k, bool v)
{
	json_object_object_add(o, k, json_object_new_boolean(v));
}

static void
add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

static void
add_const(struct json_object *o, const char *k, const char *v)
{
	if (v != NULL)
		json_object_object_add(o, k, json_object_new_string(v));
}

static void
greeting(struct iw_imap *st, struct json_object *o)
{
	struct json_object *g;

	if (!st->greeting_seen)
		return;
	g = json_object_new_object();
	add_const(g, "status", imap_status_name(st->greeting_status));
	imap_add_str(g, "text", st->greeting_text, st->greeting_textlen);
	if (st->greeting_caps.seen)
		imap_json_caps(g, "capabilities", &st->greeting_caps);
	json_object_object_add(o, "greeting", g);
}

static void
starttls(struct iw_imap *st, struct json_object *o)
{
	struct json_object *t, *list;
	int i;

	t = json_object_new_object();
	add_bool(t, "offered", st->starttls_offered);
	add_bool(t, "requested", st->starttls_requested);
	json_object_object_add(o, "starttls", t);
	if (!st->starttls_requested)
		return;
	imap_add_str(t, "tag", st->starttls_tag, st->starttls_taglen <
	    IMAP_TAG_MAX ? st->starttls_taglen : IMAP_TAG_MAX);
	add_const(t, "status", imap_status_name(st->starttls_status));
	if (st->starttls_codelen > 0)
		imap_add_str(t, "code", st->starttls_code,
		    st->starttls_codelen);
	add_u64(t, "injected_bytes", st->injected_bytes);
	list = json_object_new_array();
	for (i = 0; i < st->n_inj; i++)
		json_object_array_add(list,
		    json_object_new_string(imap_cmd_name(st->inj_cmd[i])));
	json_object_object_add(t, "injected_commands", list);
	if (st->inj_total > st->n_inj)
		add_u64(t, "injected_commands_total", st->inj_total);
	if (st->response_injected && st->dir[IW_TO_CLIENT].plain > 0)
		add_u64(t, "response_injected_bytes",
		    st->dir[IW_TO_CLIENT].plain);
	if (st->dir[IW_TO_SERVER].plain > 0)
		add_u64(t, "plaintext_after_bytes",
		    st->dir[IW_TO_SERVER].plain);
}

static void
timeline(struct iw_imap *st, struct json_object *o)
{
	struct json_object *list = json_object_new_array(), *e;
	char ts[IW_TSLEN];
	int i;

	for (i = 0; i < st->n_timeline; i++) {
		e = json_object_new_object();
		add_const(e, "timestamp", iw_format_ts(st->timeline[i].ts,
		    ts));
		add_const(e, "event", st->timeline[i].ev);
		json_object_array_add(list, e);
	}
	json_object_object_add(o, "timeline", list);
	if (st->timeline_dropped > 0)
		add_u64(o, "timeline_dropped", st->timeline_dropped);
}

static struct json_object *
auth_entry(const struct iw_imap *st, const struct imap_auth *a)
{
	struct json_object *e = json_object_new_object(), *u;

	add_const(e, "command", imap_cmd_name(a->cmd));
	if (a->cmd == C_AUTHENTICATE)
		imap_add_str(e, "mechanism", a->mechname, a->mechlen);
	if (a->has_user &&
	    (u = iw_json_username(a->user, a->userlen)) != NULL)
		json_object_object_add(e, "username", u);
	if (a->authzlen > 0 &&
	    (u = iw_json_username(a->authzid, a->authzlen)) != NULL)
		json_object_object_add(e, "authzid", u);
	add_const(e, "status", imap_status_name(a->status));
	if (a->codelen > 0)
		imap_add_str(e, "code", a->code, a->codelen);
	add_bool(e, "encrypted", st->decrypted);
	add_bool(e, "sasl_ir", a->sasl_ir);
	if (a->injected)
		add_bool(e, "starttls_injected", true);
	if (a->after_starttls)
		add_bool(e, "after_starttls", true);
	if (st->inner)
		add_bool(e, st->decrypted ? "inside_tls" :
		    "inside_null_cipher_tls", true);
	return e;
}

/* Attempts in the order they were made (the ring keeps the last ones). */
static void
auth(struct iw_imap *st, struct json_object *o)
{
	struct json_object *list = json_object_new_array();
	const struct imap_auth *a;
	uint32_t s, first = 1;

	if (st->auth_total > IMAP_AUTH_MAX)
		first = st->auth_total - IMAP_AUTH_MAX + 1;
	for (s = first; s <= st->auth_total; s++) {
		a = imap_auth_get(st, s);
		if (a != NULL)
			json_object_array_add(list, auth_entry(st, a));
	}
	json_object_object_add(o, "auth", list);
	if (st->auth_total > IMAP_AUTH_MAX)
		add_u64(o, "auth_attempts", st->auth_total);
}

static struct json_object *
id_side(const struct imap_id *id)
{
	struct json_object *o;
	const struct imap_idfield *f;
	char key[3 * IMAP_ID_KEY_MAX + 1];
	int i;

	if (id->nil)
		return NULL;
	o = json_object_new_object();
	for (i = 0; i < id->n; i++) {
		f = &id->f[i];
		if (iw_utf8_sanitize((const uint8_t *)f->key, f->klen, key,
		    sizeof(key)) == 0)
			continue;
		json_object_object_add(o, key, f->nil ? NULL :
		    iw_json_bytes(f->val, f->vlen));
	}
	return o;
}

static void
id(struct iw_imap *st, struct json_object *o)
{
	struct json_object *ido;

	if (!st->id_client.seen && !st->id_server.seen)
		return;
	ido = json_object_new_object();
	if (st->id_client.seen)
		json_object_object_add(ido, "client", id_side(&st->id_client));
	if (st->id_server.seen)
		json_object_object_add(ido, "server", id_side(&st->id_server));
	json_object_object_add(o, "id", ido);
}

static struct json_object *
commands(struct iw_imap *st)
{
	struct json_object *c = json_object_new_object();
	struct json_object *by = json_object_new_object();
	int i;

	add_u64(c, "total", st->commands);
	for (i = 0; i < C_COUNT; i++)
		if (st->by_cmd[i] > 0)
			add_u64(by, imap_cmd_name(i), st->by_cmd[i]);
	for (i = 0; i < IMAP_UNKNOWN_NAMES; i++)
		if (st->unknown[i].count > 0)
			add_u64(by, st->unknown[i].name, st->unknown[i].count);
	if (st->other_names > 0)
		add_u64(by, "other", st->other_names);
	json_object_object_add(c, "by_name", by);
	return c;
}

static void
counts(struct iw_imap *st, struct json_object *o)
{
	struct json_object *lit = json_object_new_object();

	json_object_object_add(o, "commands", commands(st));
	add_bool(o, "compressed", st->compressed);
	add_u64(lit, "count", st->literals);
	add_u64(lit, "bytes", st->literal_bytes);
	json_object_object_add(o, "literals", lit);
	add_u64(o, "long_lines", st->long_lines);
	add_u64(o, "unparsed_lines", st->unparsed);
	add_u64(o, "unmatched_responses", st->unmatched);
	add_u64(o, "commands_evicted", st->pend_evicted);
	add_const(o, "state", imap_state_name(st->state));
}

static struct json_object *
imap_object(struct json_object *ev)
{
	struct json_object *o;

	if (json_object_object_get_ex(ev, "imap", &o))
		return o;
	o = json_object_new_object();
	json_object_object_add(ev, "imap", o);
	return o;
}

void
imap_report_full(struct iw_imap *st, struct json_object *ev)
{
	struct json_object *o = imap_object(ev);

	add_const(o, "mode", st->starttls_ok ? "starttls" : "cleartext");
	greeting(st, o);
	if (st->caps.seen)
		imap_json_caps(o, "capabilities", &st->caps);
	if (st->caps_after.seen)
		imap_json_caps(o, "capabilities_after_login", &st->caps_after);
	add_bool(o, "starttls_offered", st->starttls_offered);
	add_bool(o, "logindisabled", st->logindisabled);
	starttls(st, o);
	timeline(st, o);
	auth(st, o);
	id(st, o);
	counts(st, o);
}

/*
 * The inner attempts also join the session's "auth" list (each marked
 * inside_null_cipher_tls), so every credential exposure of a connection
 * is in one place; an existing list is appended to, never replaced.
 */
static void
auth_append(struct iw_imap *st, struct json_object *o)
{
	struct json_object *list, *tmp, *mine;
	size_t i;

	if (!json_object_object_get_ex(o, "auth", &list) ||
	    !json_object_is_type(list, json_type_array)) {
		list = json_object_new_array();
		json_object_object_add(o, "auth", list);
	}
	tmp = json_object_new_object();
	auth(st, tmp);
	if (json_object_object_get_ex(tmp, "auth", &mine))
		for (i = 0; i < json_object_array_length(mine); i++)
			json_object_array_add(list, json_object_get(
			    json_object_array_get_idx(mine, i)));
	json_object_put(tmp);
}

/*
 * Commands the client injected before TLS that the server answered
 * inside it (a server that keeps what it read before the handshake, the
 * STARTTLS injection of CVE-2011-0411): tag, command, status.
 * Empty when the server answered none (it discarded them, as it must).
 */
struct json_object *
imap_injected_answers(const struct iw_imap *st)
{
	struct json_object *list = json_object_new_array(), *a;
	int i;

	for (i = 0; i < st->n_inj; i++) {
		if (st->inj_status[i] == ST_NONE)
			continue;
		a = json_object_new_object();
		imap_add_str(a, "tag", st->inj_tag[i], st->inj_taglen[i]);
		add_const(a, "command", imap_cmd_name(st->inj_cmd[i]));
		add_const(a, "status", imap_status_name(st->inj_status[i]));
		json_object_array_add(list, a);
	}
	return list;
}

/*
 * Decrypted with a key log: the capabilities the server announced inside
 * TLS and whether the client asked for them again (RFC 2595 3.1: what it
 * learnt before TLS must be forgotten).
 */
static void
decrypted(struct iw_imap *st, struct json_object *in)
{
	add_bool(in, "decrypted", true);
	if (st->caps.seen)
		imap_json_caps(in, "capabilities", &st->caps);
	if (st->caps_after.seen)
		imap_json_caps(in, "capabilities_after_login", &st->caps_after);
	add_bool(in, "capability_requested", st->by_cmd[C_CAPABILITY] > 0);
	add_bool(in, "compressed", st->compressed);
	if (st->inj_seeded)
		json_object_object_add(in, "injected_answers",
		    imap_injected_answers(st));
}

/* What a NULL-cipher TLS session carried, beside the outer "mode". */
void
imap_report_inner(struct iw_imap *st, struct json_object *ev)
{
	struct json_object *o = imap_object(ev), *in;

	auth_append(st, o);
	in = json_object_new_object();
	greeting(st, in);
	auth(st, in);
	id(st, in);
	json_object_object_add(in, "commands", commands(st));
	if (st->decrypted)
		decrypted(st, in);
	add_u64(in, "unparsed_lines", st->unparsed);
	add_const(in, "state", imap_state_name(st->state));
	json_object_object_add(o, "inside_tls", in);
}
