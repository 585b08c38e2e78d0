/* SPDX-License-Identifier: ISC */
/*
 * imap_proto.c - what IMAP lines mean: client commands (tag matching,
 * LOGIN, AUTHENTICATE and its SASL exchange, ID, IDLE/DONE, STARTTLS,
 * COMPRESS) and server responses (greeting, status responses and their
 * codes, CAPABILITY, ID, continuations), and the session state they move.
 *
 * Values are taken only where the report needs them: a LOGIN user name,
 * a mechanism, capability atoms, ID fields.  The second LOGIN argument
 * and SASL responses go no further than the function that looks at them
 * (imap_sasl.c keeps only the identity).
 */
#include <string.h>

#include "dissector.h"
#include "imap_internal.h"
#include "session.h"

static void
copy_tag(uint8_t *dst, uint16_t *dlen, const uint8_t *tag, size_t taglen)
{
	size_t n = taglen < IMAP_TAG_MAX ? taglen : IMAP_TAG_MAX;

	memcpy(dst, tag, n);
	*dlen = (uint16_t)(taglen > 0xffff ? 0xffff : taglen);
}

static void
set_state(struct iw_imap *st, enum imap_state s)
{
	if (st->state == s)
		return;
	st->state = s;
	imap_timeline(st, imap_state_name(s));
}

/* ---- commands awaiting their tagged response ---- */

static void
pending_evict(struct iw_imap *st, struct imap_pending *e)
{
	struct imap_auth *a = imap_auth_get(st, e->auth);

	if (st->pend_evicted++ == 0)
		imap_anomaly(st, A_TOO_MANY_COMMANDS);
	if (a != NULL)
		imap_auth_raise(st, a);
	e->seq = 0;
}

/*
 * The client sends a tag of an injected command inside TLS itself: from
 * now on an answer with that tag may be to either, so to neither.
 */
static void
injected_forget(struct iw_imap *st, const uint8_t *tag, size_t taglen)
{
	struct imap_pending *e;
	int i;

	for (i = 0; i < IMAP_OUTSTANDING; i++) {
		e = &st->pend[i];
		if (e->seq != 0 && e->inj != 0 && e->taglen == taglen &&
		    memcmp(e->tag, tag, taglen) == 0)
			e->seq = 0;
	}
}

static struct imap_pending *
pending_put(struct iw_imap *st, int cmd, const uint8_t *tag, size_t taglen,
    uint32_t auth)
{
	struct imap_pending *e = NULL, *old = NULL;
	int i;

	for (i = 0; i < IMAP_OUTSTANDING; i++) {
		if (st->pend[i].seq == 0) {
			e = &st->pend[i];
			break;
		}
		if (old == NULL || st->pend[i].seq < old->seq)
			old = &st->pend[i];
	}
	if (e == NULL) {
		e = old;
		pending_evict(st, e);
	}
	e->seq = ++st->pend_seq;
	e->cmd = (int16_t)cmd;
	e->auth = auth;
	e->inj = 0;
	copy_tag(e->tag, &e->taglen, tag, taglen);
	return e;
}

static void
pending_add(struct iw_imap *st, int cmd, const uint8_t *tag, size_t taglen,
    uint32_t auth)
{
	if (st->inj_seeded) {
		imap_injection_check(st, true);
		if (taglen <= IMAP_INJ_TAG)
			injected_forget(st, tag, taglen);
	}
	pending_put(st, cmd, tag, taglen, auth);
}

/*
 * The outer's held alert can go once the client spoke inside TLS (the
 * server had its turn) or every injected command was answered.
 */
void
imap_injection_check(struct iw_imap *st, bool client_spoke)
{
	int i;

	if (st->outer == NULL || !st->outer->inj_alert_held)
		return;
	for (i = 0; !client_spoke && i < st->n_inj; i++)
		if (st->inj_taglen[i] > 0 && st->inj_status[i] == ST_NONE)
			return;
	imap_injection_settle(st->outer, st);
}

/*
 * The commands the client sent after STARTTLS in clear (the outer's),
 * for the decrypted inner session: a tagged response inside TLS to one
 * of them, before the client sent that tag inside TLS, is the server
 * answering an injected command (imap.inside_tls.injected_answers).
 */
void
imap_inner_injected(struct iw_imap *st, struct iw_imap *outer)
{
	struct imap_pending *e;
	int i;

	if (!st->inner || !st->decrypted || outer->injected_bytes == 0)
		return;
	st->inj_seeded = true;
	st->outer = outer;
	st->n_inj = outer->n_inj;
	st->inj_total = outer->inj_total;
	memcpy(st->inj_cmd, outer->inj_cmd, sizeof(st->inj_cmd));
	memcpy(st->inj_taglen, outer->inj_taglen, sizeof(st->inj_taglen));
	memcpy(st->inj_tag, outer->inj_tag, sizeof(st->inj_tag));
	for (i = 0; i < st->n_inj; i++) {
		if (st->inj_taglen[i] == 0)
			continue;
		e = pending_put(st, st->inj_cmd[i], st->inj_tag[i],
		    st->inj_taglen[i], 0);
		e->inj = (uint8_t)(i + 1);
	}
}

/* The oldest outstanding command with this tag. */
static struct imap_pending *
pending_find(struct iw_imap *st, const uint8_t *tag, size_t taglen)
{
	struct imap_pending *e, *best = NULL;
	size_t n = taglen < IMAP_TAG_MAX ? taglen : IMAP_TAG_MAX;
	int i;

	if (taglen > 0xffff)
		taglen = 0xffff;
	for (i = 0; i < IMAP_OUTSTANDING; i++) {
		e = &st->pend[i];
		if (e->seq == 0 || e->taglen != taglen ||
		    memcmp(e->tag, tag, n) != 0)
			continue;
		if (best == NULL || e->seq < best->seq)
			best = e;
	}
	return best;
}

/* ---- command names ---- */

/*
 * Unknown names are kept only as clients write commands, in capitals
 * (X-COMMAND); anything else might be a stray secret and is counted as
 * "other", never shown.
 */
static bool
plain_name(const uint8_t *p, size_t n)
{
	size_t i;

	if (n == 0 || n >= IMAP_NAME_MAX || p[0] < 'A' || p[0] > 'Z')
		return false;
	for (i = 0; i < n; i++)
		if (!(p[i] >= 'A' && p[i] <= 'Z') && p[i] != '-' &&
		    p[i] != '_' && p[i] != '.')
			return false;
	return true;
}

/* Counts a command by name; a few unknown names are kept. */
static void
count_command(struct iw_imap *st, int cmd, const uint8_t *p, size_t n)
{
	struct imap_unknown_name *u;
	int k;

	st->commands++;
	if (cmd != C_UNKNOWN) {
		st->by_cmd[cmd]++;
		return;
	}
	if (!plain_name(p, n)) {
		st->other_names++;
		return;
	}
	for (k = 0; k < IMAP_UNKNOWN_NAMES; k++) {
		u = &st->unknown[k];
		if (u->name[0] == '\0') {
			memcpy(u->name, p, n);
			u->name[n] = '\0';
		}
		if (imap_word_eq(p, n, u->name)) {
			u->count++;
			return;
		}
	}
	st->other_names++;
}

/* ---- client ---- */

static void
set_user(struct imap_auth *a, const struct imap_token *t)
{
	size_t n;

	switch (t->t) {
	case T_ATOM:
	case T_LITVAL:
		n = t->n < IMAP_USER_MAX ? t->n : IMAP_USER_MAX;
		memcpy(a->user, t->p, n);
		break;
	case T_BADQUOTE:
		/* unterminated within the line: the password may be in it */
		if (!t->partial)
			return;
		/* FALLTHROUGH */
	case T_QUOTED:
		n = imap_unquote(t->p, t->n, a->user, IMAP_USER_MAX);
		break;
	default:
		return;
	}
	a->userlen = (uint16_t)n;
	a->has_user = true;
}

/* LOGIN userid password: only the first argument is ever looked at. */
static void
login_token(struct iw_imap *st, struct imap_line *ln,
    const struct imap_token *t)
{
	struct imap_auth *a = imap_auth_get(st, ln->auth);

	if (t->t == T_LPAREN || t->t == T_RPAREN)
		return;
	if (ln->argi++ != 0 || a == NULL)
		return;
	set_user(a, t);
}

/* AUTHENTICATE mechanism [initial-response] (RFC 9051, RFC 4959). */
static void
authenticate_token(struct iw_imap *st, struct imap_line *ln,
    const struct imap_token *t)
{
	struct imap_auth *a = imap_auth_get(st, ln->auth);
	size_t i, n;

	if (a == NULL || t->t != T_ATOM) {
		ln->argi++;
		return;
	}
	if (ln->argi == 0) {
		a->mech = (uint8_t)imap_sasl_mech(t->p, t->n);
		st->sasl.mech = a->mech;
		n = t->n < IMAP_MECH_MAX - 1 ? t->n : IMAP_MECH_MAX - 1;
		for (i = 0; i < n; i++)
			a->mechname[i] = (char)(t->p[i] >= 'a' &&
			    t->p[i] <= 'z' ? t->p[i] - 32 : t->p[i]);
		a->mechname[n] = '\0';
		a->mechlen = (uint8_t)n;
	} else if (ln->argi == 1) {
		a->sasl_ir = true;
		imap_sasl_response(a, &st->sasl, t->p, t->n, true);
		st->sasl.responses++;
	}
	ln->argi++;
}

static size_t
token_value(const struct imap_token *t, uint8_t *out, size_t outsz)
{
	size_t n;

	switch (t->t) {
	case T_QUOTED:
	case T_BADQUOTE:
		return imap_unquote(t->p, t->n, out, outsz);
	case T_ATOM:
	case T_LITVAL:
		n = t->n < outsz ? t->n : outsz;
		memcpy(out, t->p, n);
		return n;
	default:
		return 0;
	}
}

/* ID ("name" "value" ...) or ID NIL (RFC 2971), either side. */
static void
id_token(struct imap_line *ln, struct imap_id *id, const struct imap_token *t)
{
	struct imap_idfield *f;
	bool nil = t->t == T_ATOM && imap_word_eq(t->p, t->n, "NIL");

	if (t->t == T_LPAREN) {
		if (ln->depth++ == 0)
			id->seen = true;
		return;
	}
	if (t->t == T_RPAREN) {
		if (ln->depth > 0)
			ln->depth--;
		return;
	}
	if (ln->depth == 0) {
		if (nil)
			id->seen = id->nil = true;
		return;
	}
	if (ln->depth != 1)
		return;
	if (!ln->id_have_key) {
		ln->id_klen = (uint8_t)token_value(t, (uint8_t *)ln->id_key,
		    IMAP_ID_KEY_MAX - 1);
		ln->id_have_key = true;
		return;
	}
	ln->id_have_key = false;
	if (id->n >= IMAP_ID_MAX)
		return;
	f = &id->f[id->n++];
	memcpy(f->key, ln->id_key, ln->id_klen);
	f->klen = ln->id_klen;
	f->nil = nil || t->t == T_LITSKIP;
	if (!f->nil)
		f->vlen = (uint8_t)token_value(t, f->val, IMAP_ID_VAL_MAX);
}

static void
client_token(struct iw_imap *st, const struct imap_token *t)
{
	struct imap_line *ln = &st->dir[IW_TO_SERVER].line;

	if (ln->kind != LK_CMD)
		return;
	switch (ln->cmd) {
	case C_LOGIN:
		login_token(st, ln, t);
		break;
	case C_AUTHENTICATE:
		authenticate_token(st, ln, t);
		break;
	case C_ID:
		id_token(ln, &st->id_client, t);
		break;
	case C_COMPRESS:
		if (ln->argi++ == 0 && t->t == T_ATOM &&
		    imap_word_eq(t->p, t->n, "DEFLATE"))
			ln->deflate = true;
		break;
	}
}

/* A command's tag and name are known: what it starts. */
static void
command_begin(struct iw_imap *st, struct imap_line *ln)
{
	struct imap_dir *cli = &st->dir[IW_TO_SERVER];
	struct imap_auth *a;

	switch (ln->cmd) {
	case C_LOGIN:
	case C_AUTHENTICATE:
		a = imap_auth_new(st, ln->cmd, ln->tag, ln->taglen);
		a->after_starttls = cli->x == X_PLAIN_AFTER;
		ln->auth = a->serial;
		if (ln->cmd == C_AUTHENTICATE) {
			memset(&st->sasl, 0, sizeof(st->sasl));
			st->sasl.auth = a->serial;
		}
		break;
	case C_STARTTLS:
		if (st->inner || cli->x != X_IMAP || st->starttls_ok)
			break;
		st->starttls_requested = true;
		copy_tag(st->starttls_tag, &st->starttls_taglen, ln->tag,
		    ln->taglen);
		imap_timeline(st, "starttls_request");
		break;
	case C_ID:
		memset(&st->id_client, 0, sizeof(st->id_client));
		break;
	}
	pending_add(st, ln->cmd, ln->tag, ln->taglen, ln->auth);
}

/* The whole command line (with its literals) has been seen. */
static void
command_end(struct iw_imap *st, struct imap_line *ln)
{
	struct imap_dir *cli = &st->dir[IW_TO_SERVER];
	const struct imap_auth *a = imap_auth_get(st, ln->auth);
	size_t tl = ln->taglen < IMAP_TAG_MAX ? ln->taglen : IMAP_TAG_MAX;

	switch (ln->cmd) {
	case C_AUTHENTICATE:
		st->sasl.active = true;
		/* FALLTHROUGH */
	case C_LOGIN:
	case C_SELECT:
	case C_EXAMINE:
		imap_login_checks(st, ln->cmd, ln->tag, tl, a);
		break;
	case C_STARTTLS:
		if (!st->starttls_requested || st->starttls_ok ||
		    st->inner || cli->x != X_IMAP)
			break;
		st->starttls_pending = true;
		cli->x = X_HOLD;
		cli->held = cli->held_inj = 0;
		cli->held_scan = 0;
		cli->held_tls = false;
		st->n_inj = 0;
		st->inj_total = 0;
		break;
	case C_IDLE:
		st->idle = true;
		break;
	}
}

static bool
command_start(struct iw_imap *st, const uint8_t *p, size_t n, size_t *posp,
    bool truncated)
{
	struct imap_line *ln = &st->dir[IW_TO_SERVER].line;
	struct imap_token tag, name;
	size_t i;
	int cmd;

	imap_next_token(p, n, posp, &tag, truncated);
	if (tag.t != T_ATOM || tag.partial)
		return false;
	for (i = 0; i < tag.n; i++)
		if (!imap_tag_char(tag.p[i]))
			return false;
	imap_next_token(p, n, posp, &name, truncated);
	if (name.t != T_ATOM || name.partial)
		return false;
	cmd = imap_cmd_lookup(name.p, name.n);
	count_command(st, cmd, name.p, name.n);
	memset(ln, 0, sizeof(*ln));
	ln->kind = LK_CMD;
	ln->cmd = (int16_t)cmd;
	copy_tag(ln->tag, &ln->taglen, tag.p, tag.n);
	command_begin(st, ln);
	return true;
}

/* A client line inside AUTHENTICATE: a SASL response, or "*" to cancel. */
static void
sasl_line(struct iw_imap *st, const uint8_t *p, size_t n)
{
	struct imap_auth *a = imap_auth_get(st, st->sasl.auth);

	if (st->sasl.challenges > 0)
		st->sasl.challenges--;
	if (n == 1 && p[0] == '*')
		return;
	if (a != NULL)
		imap_sasl_response(a, &st->sasl, p, n, false);
	st->sasl.responses++;
}

/* SASL responses and the DONE that ends IDLE are not commands. */
static bool
client_special(struct iw_imap *st, const uint8_t *p, size_t n)
{
	if (st->sasl.active && (st->sasl.challenges > 0 ||
	    memchr(p, ' ', n) == NULL)) {
		sasl_line(st, p, n);
		return true;
	}
	if (st->idle && imap_word_eq(p, n, "DONE")) {
		st->idle = false;
		return true;
	}
	return false;
}

/*
 * Tokens from pos to the end of the segment go to the line's handler; a
 * literal announcement ending it is returned in lit.
 */
static bool
feed_tokens(struct iw_imap *st, enum iw_dir d, const uint8_t *p, size_t n,
    size_t pos, bool truncated, struct imap_token *lit)
{
	struct imap_token t;

	for (;;) {
		imap_next_token(p, n, &pos, &t, truncated);
		if (t.badlit)
			imap_anomaly(st, A_BAD_LITERAL);
		switch (t.t) {
		case T_END:
			return false;
		case T_LITERAL:
			*lit = t;
			return true;
		case T_BADQUOTE:
			if (!t.partial)
				imap_anomaly(st, A_UNTERMINATED_QUOTED);
			imap_line_token(st, d, &t);
			return false;
		default:
			imap_line_token(st, d, &t);
			break;
		}
	}
}

bool
imap_client_segment(struct iw_imap *st, const uint8_t *p, size_t n,
    bool truncated, struct imap_token *lit)
{
	struct imap_dir *dr = &st->dir[IW_TO_SERVER];
	size_t pos = 0;

	if (!dr->cont) {
		dr->lines++;
		memset(&dr->line, 0, sizeof(dr->line));
		if (client_special(st, p, n))
			return false;
		if (!command_start(st, p, n, &pos, truncated)) {
			/* still framed, for the literals it may announce */
			st->unparsed++;
			dr->line.kind = LK_GENERIC;
			pos = 0;
		}
	}
	if (dr->line.kind == LK_NONE)
		return false;
	return feed_tokens(st, IW_TO_SERVER, p, n, pos, truncated, lit);
}

/* ---- server ---- */

struct resp_text {
	const uint8_t	*code;
	size_t		 codelen;
	const uint8_t	*args;
	size_t		 argslen;
	const uint8_t	*text;
	size_t		 textlen;
};

/* resp-text = ["[" resp-text-code "]" SP] text */
static void
resp_text(const uint8_t *p, size_t n, struct resp_text *r)
{
	size_t i = 0, j, close;

	memset(r, 0, sizeof(*r));
	while (i < n && p[i] == ' ')
		i++;
	if (i < n && p[i] == '[') {
		j = ++i;
		while (j < n && p[j] != ' ' && p[j] != ']')
			j++;
		r->code = p + i;
		r->codelen = j - i;
		for (close = j; close < n && p[close] != ']'; close++)
			;
		if (j < close) {
			r->args = p + j + 1;
			r->argslen = close - j - 1;
		}
		i = close < n ? close + 1 : n;
		while (i < n && p[i] == ' ')
			i++;
	}
	r->text = p + i;
	r->textlen = n - i;
}

static void
caps_add(struct imap_caps *c, const uint8_t *p, size_t n)
{
	c->seen = true;
	c->count++;
	if (imap_word_eq(p, n, "STARTTLS"))
		c->starttls = true;
	if (imap_word_eq(p, n, "LOGINDISABLED"))
		c->logindisabled = true;
	if (n + 1 > (size_t)(IMAP_CAPS_MAX - c->len)) {
		c->overflow = true;
		return;
	}
	memcpy(c->buf + c->len, p, n);
	c->len += (uint16_t)n;
	c->buf[c->len++] = '\0';
}

/* The atoms of a [CAPABILITY ...] response code into st->scratch. */
static void
caps_from_code(struct iw_imap *st, const struct resp_text *r, bool truncated)
{
	size_t i = 0, j;

	memset(&st->scratch, 0, sizeof(st->scratch));
	st->scratch.seen = true;
	/* a code without its "]" was cut by the line bound */
	st->scratch.truncated = truncated &&
	    r->args + r->argslen == r->text + r->textlen;
	while (i < r->argslen) {
		for (j = i; j < r->argslen && r->args[j] != ' '; j++)
			;
		if (j > i)
			caps_add(&st->scratch, r->args + i, j - i);
		i = j + 1;
	}
}

static bool
auth_outstanding(const struct iw_imap *st)
{
	int i;

	for (i = 0; i < IMAP_OUTSTANDING; i++)
		if (st->pend[i].seq != 0 && (st->pend[i].cmd == C_LOGIN ||
		    st->pend[i].cmd == C_AUTHENTICATE))
			return true;
	return false;
}

/*
 * A list whose context is the current state.  Servers may announce the
 * post-login list untagged just before the OK to LOGIN: while an
 * authentication is unanswered, the answer decides what the list was.
 */
static void
caps_by_state(struct iw_imap *st)
{
	if (st->state == S_AUTH || st->state == S_SELECTED)
		imap_caps_seen(st, &st->scratch, CAPS_AFTER_LOGIN);
	else if (st->state == S_NOTAUTH && auth_outstanding(st))
		st->deferred = st->scratch;
	else if (st->state == S_NOTAUTH)
		imap_caps_seen(st, &st->scratch, CAPS_BY_STATE);
}

static void
caps_undefer(struct iw_imap *st, uint8_t status)
{
	struct imap_caps c = st->deferred;

	if (!c.seen)
		return;
	st->deferred.seen = false;
	imap_caps_seen(st, &c, status == ST_OK ? CAPS_AFTER_LOGIN :
	    CAPS_BY_STATE);
}

static size_t
bounded_copy(uint8_t *dst, size_t dstsz, const uint8_t *src, size_t n)
{
	if (n > dstsz)
		n = dstsz;
	memcpy(dst, src, n);
	return n;
}

static size_t
code_copy(char *dst, const struct resp_text *r)
{
	size_t i, n = r->codelen < IMAP_CODE_MAX - 1 ? r->codelen :
	    IMAP_CODE_MAX - 1;

	for (i = 0; i < n; i++)
		dst[i] = (char)r->code[i];
	dst[n] = '\0';
	return n;
}

/*
 * The first server line, if nothing was said before it, is the greeting;
 * codes that only follow a SELECT mean we joined mid-stream.
 */
static bool
is_greeting(const struct iw_imap *st, uint8_t status, const struct resp_text *r)
{
	if (st->greeting_seen || st->dir[IW_TO_CLIENT].lines != 1 ||
	    st->dir[IW_TO_SERVER].lines != 0)
		return false;
	if (status != ST_OK && status != ST_PREAUTH && status != ST_BYE)
		return false;
	return r->code == NULL || imap_word_eq(r->code, r->codelen,
	    "CAPABILITY") || imap_word_eq(r->code, r->codelen, "ALERT");
}

static void
greeting(struct iw_imap *st, uint8_t status, const struct resp_text *r,
    bool code_caps)
{
	struct json_object *ev;

	st->greeting_seen = true;
	st->greeting_status = status;
	st->greeting_textlen = (uint16_t)bounded_copy(st->greeting_text,
	    IMAP_TEXT_MAX, r->text, r->textlen);
	imap_timeline(st, "greeting");
	if (status == ST_OK)
		st->state = S_NOTAUTH;
	else if (status == ST_BYE)
		st->state = S_LOGOUT;
	else {
		st->state = S_AUTH;
		imap_timeline(st, "preauth");
		if (!st->inner) {
			ev = imap_evidence(st, NULL, 0, NULL);
			imap_add_str(ev, "status", "PREAUTH", 7);
			imap_add_str(ev, "text", st->greeting_text,
			    st->greeting_textlen);
			imap_raise_simple(st, IW_F_PREAUTH_ON_CLEARTEXT, ev);
		}
	}
	if (!code_caps)
		return;
	st->greeting_caps = st->scratch;
	imap_caps_seen(st, &st->scratch, status == ST_PREAUTH ?
	    CAPS_AFTER_LOGIN : CAPS_BY_STATE);
}

static uint8_t
status_word(const struct imap_token *t)
{
	if (t->t != T_ATOM)
		return ST_NONE;
	if (imap_word_eq(t->p, t->n, "OK"))
		return ST_OK;
	if (imap_word_eq(t->p, t->n, "NO"))
		return ST_NO;
	if (imap_word_eq(t->p, t->n, "BAD"))
		return ST_BAD;
	if (imap_word_eq(t->p, t->n, "PREAUTH"))
		return ST_PREAUTH;
	if (imap_word_eq(t->p, t->n, "BYE"))
		return ST_BYE;
	return ST_NONE;
}

static void
untagged_status(struct iw_imap *st, uint8_t status, const uint8_t *p,
    size_t n, bool truncated)
{
	struct resp_text r;
	bool code_caps;

	resp_text(p, n, &r);
	code_caps = r.code != NULL &&
	    imap_word_eq(r.code, r.codelen, "CAPABILITY");
	if (code_caps)
		caps_from_code(st, &r, truncated);
	if (is_greeting(st, status, &r)) {
		greeting(st, status, &r, code_caps);
		return;
	}
	if (status == ST_BYE)
		set_state(st, S_LOGOUT);
	if (code_caps)
		caps_by_state(st);
}

/* "* ..." : true when the rest of the line is to be tokenized. */
static bool
untagged(struct iw_imap *st, const uint8_t *p, size_t n, size_t *posp,
    bool truncated)
{
	struct imap_line *ln = &st->dir[IW_TO_CLIENT].line;
	struct imap_token kw;
	uint8_t status;
	size_t pos = 2;

	imap_next_token(p, n, &pos, &kw, truncated);
	ln->kind = LK_GENERIC;
	*posp = pos;
	status = status_word(&kw);
	if (status != ST_NONE) {
		ln->kind = LK_NONE;
		untagged_status(st, status, p + pos, n - pos, truncated);
		return false;
	}
	if (kw.t != T_ATOM) {
		st->unparsed++;
		*posp = 2;	/* framed still: it may announce a literal */
		return true;
	}
	if (imap_word_eq(kw.p, kw.n, "CAPABILITY")) {
		ln->kind = LK_CAPS;
		memset(&st->scratch, 0, sizeof(st->scratch));
		st->scratch.seen = true;
	} else if (imap_word_eq(kw.p, kw.n, "ID")) {
		ln->kind = LK_ID;
		memset(&st->id_server, 0, sizeof(st->id_server));
	}
	return true;
}

static void
auth_done(struct iw_imap *st, const struct imap_pending *c, uint8_t status,
    const struct resp_text *r, bool code_caps)
{
	struct imap_auth *a = imap_auth_get(st, c->auth);

	if (st->sasl.auth == c->auth)
		st->sasl.active = false;
	if (a != NULL) {
		a->status = status;
		if (r->code != NULL)
			a->codelen = (uint8_t)code_copy(a->code, r);
	}
	if (status == ST_OK)
		set_state(st, S_AUTH);
	caps_undefer(st, status);
	if (status == ST_OK && code_caps)
		imap_caps_seen(st, &st->scratch, CAPS_AFTER_LOGIN);
	if (a != NULL)
		imap_auth_raise(st, a);
	if (status == ST_NO)
		imap_auth_failed(st, a);
}

static void
starttls_done(struct iw_imap *st, uint8_t status, const struct resp_text *r)
{
	if (st->inner || !st->starttls_pending)
		return;
	st->starttls_status = status;
	if (r->code != NULL)
		st->starttls_codelen = (uint8_t)code_copy(st->starttls_code, r);
	st->starttls_textlen = (uint16_t)bounded_copy(st->starttls_text,
	    IMAP_TEXT_MAX, r->text, r->textlen);
	imap_starttls_answer(st, status);
}

/* A tagged response completes the command with that tag. */
static void
completion(struct iw_imap *st, const struct imap_pending *c, uint8_t status,
    const struct resp_text *r, bool code_caps)
{
	switch (c->cmd) {
	case C_LOGIN:
	case C_AUTHENTICATE:
		auth_done(st, c, status, r, code_caps);
		return;
	case C_STARTTLS:
		starttls_done(st, status, r);
		return;
	case C_SELECT:
	case C_EXAMINE:
		if (status == ST_OK)
			set_state(st, S_SELECTED);
		else if (st->state == S_SELECTED)
			set_state(st, S_AUTH);
		break;
	case C_CLOSE:
	case C_UNSELECT:
		if (status == ST_OK)
			set_state(st, S_AUTH);
		break;
	case C_LOGOUT:
		if (status == ST_OK)
			set_state(st, S_LOGOUT);
		break;
	case C_UNAUTHENTICATE:
		if (status == ST_OK)
			set_state(st, S_NOTAUTH);
		break;
	case C_COMPRESS:
		if (status == ST_OK)
			imap_compress_start(st);
		break;
	case C_IDLE:
		st->idle = false;
		break;
	}
	if (code_caps)
		caps_by_state(st);
}

static void
tagged(struct iw_imap *st, const uint8_t *p, size_t n, bool truncated)
{
	struct imap_token tag, word;
	struct imap_pending *e, c;
	struct resp_text r;
	uint8_t status;
	size_t pos = 0, i;
	bool code_caps;

	imap_next_token(p, n, &pos, &tag, truncated);
	imap_next_token(p, n, &pos, &word, truncated);
	status = status_word(&word);
	for (i = 0; tag.t == T_ATOM && i < tag.n; i++)
		if (!imap_tag_char(tag.p[i]))
			break;
	if (tag.t != T_ATOM || tag.partial || i < tag.n ||
	    (status != ST_OK && status != ST_NO && status != ST_BAD)) {
		st->unparsed++;
		return;
	}
	resp_text(p + pos, n - pos, &r);
	code_caps = r.code != NULL &&
	    imap_word_eq(r.code, r.codelen, "CAPABILITY");
	if (code_caps)
		caps_from_code(st, &r, truncated);
	e = pending_find(st, tag.p, tag.n);
	if (e == NULL) {
		/* its command was not seen: it may have been a LOGIN */
		st->unmatched++;
		if (st->state != S_LOGOUT)
			st->state = S_UNKNOWN;
		return;
	}
	c = *e;
	e->seq = 0;
	if (c.inj != 0) {
		/* the server ran a command sent before TLS, inside TLS */
		st->inj_status[c.inj - 1] = status;
		imap_injection_check(st, false);
		return;
	}
	completion(st, &c, status, &r, code_caps);
}

/* "+ ..." : a SASL challenge while AUTHENTICATE runs; else literal or
 * IDLE go-ahead, nothing to learn. */
static void
continuation(struct iw_imap *st, const uint8_t *p, size_t n)
{
	if (!st->sasl.active)
		return;
	st->sasl.challenges++;
	while (n > 0 && *p == ' ') {
		p++;
		n--;
	}
	if (st->sasl.mech == M_LOGIN)
		st->sasl.last_chal = (uint8_t)imap_sasl_challenge(p, n);
}

static void
server_token(struct iw_imap *st, const struct imap_token *t)
{
	struct imap_line *ln = &st->dir[IW_TO_CLIENT].line;

	switch (ln->kind) {
	case LK_CAPS:
		if (t->t == T_ATOM)
			caps_add(&st->scratch, t->p, t->n);
		if (t->partial)
			st->scratch.truncated = true;
		break;
	case LK_ID:
		id_token(ln, &st->id_server, t);
		break;
	}
}

bool
imap_server_segment(struct iw_imap *st, const uint8_t *p, size_t n,
    bool truncated, struct imap_token *lit)
{
	struct imap_dir *dr = &st->dir[IW_TO_CLIENT];
	size_t pos = 0;

	if (!dr->cont) {
		dr->lines++;
		memset(&dr->line, 0, sizeof(dr->line));
		if (n >= 1 && p[0] == '+') {
			continuation(st, p + 1, n - 1);
			return false;
		}
		if (n < 2 || p[0] != '*' || p[1] != ' ') {
			tagged(st, p, n, truncated);
			return false;
		}
		if (!untagged(st, p, n, &pos, truncated))
			return false;
	}
	if (dr->line.kind == LK_NONE)
		return false;
	return feed_tokens(st, IW_TO_CLIENT, p, n, pos, truncated, lit);
}

/* ---- both ---- */

void
imap_line_token(struct iw_imap *st, enum iw_dir d, const struct imap_token *t)
{
	if (d == IW_TO_SERVER)
		client_token(st, t);
	else
		server_token(st, t);
}

bool
imap_line_wants_value(const struct iw_imap *st, enum iw_dir d)
{
	const struct imap_line *ln = &st->dir[d].line;

	if (d == IW_TO_CLIENT)
		return ln->kind == LK_ID && ln->depth == 1;
	if (ln->kind != LK_CMD)
		return false;
	return (ln->cmd == C_LOGIN && ln->argi == 0) ||
	    (ln->cmd == C_ID && ln->depth == 1);
}

void
imap_line_finish(struct iw_imap *st, enum iw_dir d)
{
	struct imap_line *ln = &st->dir[d].line;

	if (d == IW_TO_SERVER) {
		if (ln->kind == LK_CMD)
			command_end(st, ln);
		return;
	}
	if (ln->kind == LK_CAPS) {
		if (ln->truncated)
			st->scratch.truncated = true;
		caps_by_state(st);
	}
}
