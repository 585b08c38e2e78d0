/* SPDX-License-Identifier: ISC */
/*
 * imap.c - the IMAP dissector: probing, the per-direction modes, and the
 * STARTTLS and COMPRESS hand-offs (DESIGN.md).
 *
 * STARTTLS: client bytes that follow the STARTTLS command are held (not
 * consumed) until the server answers.  On OK they are the injection
 * evidence: counted, and scanned for command names only (an injected
 * LOGIN carries a password, so no argument is kept); the server goes to
 * TLS from the byte after its OK line, the client from the first byte
 * it sends after the OK.  The first bytes each side sends then must be
 * TLS; if not, the finding is raised and that side is parsed as IMAP
 * again (a LOGIN sent that way is also cleartext_login).  On NO or BAD
 * the held bytes are ordinary commands and are parsed when delivered.
 */
#include <json.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dissector.h"
#include "event.h"
#include "flowmem.h"
#include "imap.h"
#include "imap_internal.h"
#include "session.h"
#include "tls.h"

/* Bytes after which a "need more" from the TLS probe means "not TLS". */
#define TLS_PROBE_MAX	16

static _Thread_local uint64_t imap_serial;	/* the worker's */

static const char *const anomaly_names[] = {
	[A_NUL_IN_LINE] = "imap_nul_in_line",
	[A_BAD_LITERAL] = "imap_bad_literal",
	[A_UNTERMINATED_QUOTED] = "imap_unterminated_quoted_string",
	[A_LINE_TOO_LONG] = "imap_line_too_long",
	[A_INFLATE_FAILED] = "imap_inflate_failed",
	[A_STARTTLS_GAP] = "imap_gap_during_starttls",
	[A_TOO_MANY_COMMANDS] = "imap_too_many_outstanding_commands",
	[A_INFLATE_LIMIT] = "imap_inflate_limit",
};

void
imap_anomaly(struct iw_imap *st, enum imap_anomaly a)
{
	if (st->anomalies & (1u << a))
		return;
	st->anomalies |= 1u << a;
	iw_anomaly(st->s, "applayer", anomaly_names[a], "imap");
}

void
imap_timeline(struct iw_imap *st, const char *ev)
{
	if (st->n_timeline >= IMAP_TIMELINE_MAX) {
		st->timeline_dropped++;
		return;
	}
	st->timeline[st->n_timeline].ts = iw_session_now(st->s);
	st->timeline[st->n_timeline].ev = ev;
	st->n_timeline++;
}

/* ---- probe ---- */

/*
 * Content decides.  Bytes that are plainly the other side's (a greeting
 * or tagged status from the "client", a command from the "server") say
 * the roles of a connection picked up mid-stream were guessed the wrong
 * way round.
 */
static enum iw_probe
imap_probe(enum iw_dir dir, const uint8_t *buf, size_t len,
    const struct iw_endpoints *ep)
{
	size_t n = len < IMAP_PROBE_LINE ? len : IMAP_PROBE_LINE;
	const uint8_t *lf = memchr(buf, '\n', n);
	size_t linelen = lf != NULL ? (size_t)(lf - buf) : n;
	int own, other;

	if (dir == IW_TO_CLIENT) {
		own = imap_probe_server_line(buf, linelen, lf != NULL);
		other = imap_probe_client_line(buf, linelen, lf != NULL);
	} else {
		own = imap_probe_client_line(buf, linelen, lf != NULL);
		other = imap_probe_server_line(buf, linelen, lf != NULL);
	}
	if (own == IW_PROBE_MATCH)
		return IW_PROBE_MATCH;
	if (other == IW_PROBE_MATCH)
		return IW_PROBE_MATCH_REVERSED;
	/* waiting is for our own direction's syntax only: "220 " from a
	 * server is SMTP at once, not a client tag still being read */
	if (own == IW_PROBE_MORE && len < IMAP_PROBE_LINE)
		return IW_PROBE_MORE;
	return IW_PROBE_NO;
}

/* ---- lines ---- */

/* Lines of the TCP stream: literals are passed over by the engine. */
static size_t
stream_lines(struct iw_imap *st, enum iw_dir d, const uint8_t *buf,
    size_t len)
{
	struct imap_dir *dr = &st->dir[d];
	size_t n = imap_parse_unit(st, d, buf, len);

	if (dr->want_skip > 0) {
		iw_session_skip(st->s, d, dr->want_skip);
		dr->want_skip = 0;
	}
	return n;
}

/* Lines of bytes we were handed (NULL-cipher plaintext, inflated data):
 * literals are passed over by our own count. */
size_t
imap_feed_internal(struct iw_imap *st, enum iw_dir d, const uint8_t *buf,
    size_t len)
{
	struct imap_dir *dr = &st->dir[d];
	uint8_t x = dr->x;
	size_t done = 0, n;

	/* a line that changes the mode (the OK to COMPRESS inside TLS)
	 * ends what is read as plain lines */
	while (done < len && dr->x == x) {
		if (dr->skip > 0) {
			n = len - done;
			if (dr->skip < n)
				n = (size_t)dr->skip;
			dr->skip -= n;
			done += n;
			continue;
		}
		n = imap_parse_unit(st, d, buf + done, len - done);
		dr->skip += dr->want_skip;
		dr->want_skip = 0;
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

/* ---- STARTTLS ---- */

static void
both_off(struct iw_imap *st)
{
	st->dir[0].x = st->dir[1].x = X_OFF;
	if (!st->inner) {
		iw_session_bypass(st->s, IW_TO_SERVER);
		iw_session_bypass(st->s, IW_TO_CLIENT);
	}
}

/*
 * The outer session whose bytes TLS is reading now, in this thread: the
 * inner session TLS makes meanwhile (after STARTTLS) belongs to it.  IMAP
 * and TLS meet only through the session host, so the outer is found
 * here rather than handed over by TLS.
 */
static _Thread_local struct iw_imap *feeding;

/* An injected command: its name, and its tag if short enough to keep. */
static void
inj_name(struct iw_imap *st, int cmd, const struct imap_token *tag)
{
	st->inj_total++;
	if (st->n_inj == IMAP_INJ_NAMES)
		return;
	if (tag->n > 0 && tag->n <= IMAP_INJ_TAG) {
		memcpy(st->inj_tag[st->n_inj], tag->p, tag->n);
		st->inj_taglen[st->n_inj] = (uint8_t)tag->n;
	}
	st->inj_cmd[st->n_inj++] = (int8_t)cmd;
}

/*
 * One held line: its tag and command name only (never an argument).
 * Returns the bytes it and the literal it announces take (possibly more
 * than len: the literal is still to come), or 0 if it is not complete.
 */
static uint64_t
scan_line(struct iw_imap *st, const uint8_t *p, size_t len)
{
	const uint8_t *lf = memchr(p, '\n', len);
	struct imap_token t, name;
	size_t n, pos = 0, adv;

	if (lf == NULL)
		return 0;
	adv = (size_t)(lf - p) + 1;
	n = adv - 1;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	imap_next_token(p, n, &pos, &t, false);
	imap_next_token(p, n, &pos, &name, false);
	if (t.t == T_ATOM && name.t == T_ATOM)
		inj_name(st, imap_cmd_lookup(name.p, name.n), &t);
	for (;;) {
		imap_next_token(p, n, &pos, &t, false);
		if (t.t == T_END || t.t == T_BADQUOTE)
			break;
		if (t.t == T_LITERAL)
			return adv + t.lit;	/* t.lit < 2^62 */
	}
	return adv;
}

/*
 * Scans the held client bytes: the command names among them and where TLS
 * starts, if it does (a client that sent its ClientHello early is not
 * injecting commands).  Nothing is consumed while holding, so the bytes
 * only grow at their end: the scan goes on from where the last one
 * stopped (held_scan, which may lie past len inside a literal) rather
 * than starting over, or a client sending a byte a segment would cost
 * the square of what it sends.
 */
static void
scan_held(struct iw_imap *st, const uint8_t *buf, size_t len)
{
	struct imap_dir *cli = &st->dir[IW_TO_SERVER];
	uint64_t adv;
	size_t pos;

	if (cli->held_tls)
		return;		/* held_inj is where TLS starts */
	cli->held_inj = len;
	while (cli->held_scan < len) {
		pos = (size_t)cli->held_scan;
		if (iw_tls_probe_bytes(buf + pos, len - pos) ==
		    IW_PROBE_MATCH) {
			cli->held_inj = pos;
			cli->held_tls = true;
			return;
		}
		adv = scan_line(st, buf + pos, len - pos);
		if (adv == 0)
			return;
		cli->held_scan += adv;
	}
}

static size_t
hold(struct iw_imap *st, const uint8_t *buf, size_t len)
{
	struct imap_dir *cli = &st->dir[IW_TO_SERVER];

	if (len >= IW_PENDING_MAX) {
		/* the server is silent: count them, we cannot hold more */
		st->injected_consumed += len;
		cli->held = cli->held_inj = 0;
		return len;
	}
	if (st->injected_consumed == 0)
		scan_held(st, buf, len);
	else
		cli->held_inj = len;
	cli->held = len;
	return 0;
}

static size_t
injected(struct iw_imap *st, const uint8_t *buf, size_t len)
{
	struct imap_dir *cli = &st->dir[IW_TO_SERVER];
	size_t n = len;

	if (cli->inj_left < n)
		n = (size_t)cli->inj_left;
	cli->inj_left -= n;
	if (cli->inj_left == 0)
		cli->x = X_TLS_FIRST;
	return n;
}

/*
 * inner: the decrypted session that saw what the server did with them
 * (NULL: not known).
 */
static void
injection_found(struct iw_imap *st, const struct iw_imap *inner)
{
	struct json_object *ev, *list;
	int i;

	ev = imap_evidence(st, st->starttls_tag, st->starttls_taglen,
	    "STARTTLS");
	json_object_object_add(ev, "injected_bytes",
	    json_object_new_uint64(st->injected_bytes));
	list = json_object_new_array();
	for (i = 0; i < st->n_inj; i++)
		json_object_array_add(list,
		    json_object_new_string(imap_cmd_name(st->inj_cmd[i])));
	json_object_object_add(ev, "injected_commands", list);
	if (inner != NULL && inner->inj_seeded)
		json_object_object_add(ev, "injected_answers",
		    imap_injected_answers(inner));
	iw_alert(st->s, IW_F_STARTTLS_COMMAND_INJECTION, 0, ev);
}

/* Credentials among the injected commands crossed in clear, whatever
 * came next. */
static void
injected_credentials(struct iw_imap *st)
{
	struct imap_auth *a;
	int i;

	imap_timeline(st, "command_injection");
	for (i = 0; i < st->n_inj; i++) {
		if (st->inj_cmd[i] != C_LOGIN &&
		    st->inj_cmd[i] != C_AUTHENTICATE)
			continue;
		a = imap_auth_new(st, st->inj_cmd[i], NULL, 0);
		a->injected = true;
		imap_auth_raise(st, a);
	}
}

static void
starttls_ok(struct iw_imap *st)
{
	struct imap_dir *cli = &st->dir[IW_TO_SERVER];

	st->starttls_ok = true;
	st->phase_logindisabled = false;
	imap_timeline(st, "starttls_ok");
	st->tls = iw_tls_new(st->s, IW_TLS_STARTTLS);
	if (st->tls == NULL) {
		both_off(st);
		return;
	}
	st->dir[IW_TO_CLIENT].x = X_TLS_FIRST;
	if (cli->x != X_HOLD) {
		cli->x = X_TLS_FIRST;
		return;
	}
	st->injected_bytes = st->injected_consumed + cli->held_inj;
	cli->inj_left = cli->held_inj;
	cli->x = cli->inj_left > 0 ? X_INJECTED : X_TLS_FIRST;
	if (st->injected_bytes == 0)
		return;
	if (iw_cfg.n_keylogs > 0)
		st->inj_alert_held = true;	/* the keys may tell more */
	else
		injection_found(st, NULL);
	injected_credentials(st);
}

/*
 * With --keylog the starttls_command_injection alert is held until the
 * decrypted inner session knows what the server did with the injected
 * commands (the client spoke inside TLS, or every one was answered), or
 * the connection ends (inner NULL: TLS was not read), so that the alert
 * can say it.
 */
void
imap_injection_settle(struct iw_imap *st, const struct iw_imap *inner)
{
	if (!st->inj_alert_held)
		return;
	st->inj_alert_held = false;
	injection_found(st, inner);
}

static void
starttls_refused(struct iw_imap *st, uint8_t status)
{
	struct imap_dir *cli = &st->dir[IW_TO_SERVER];
	struct json_object *ev;
	const char *sn = imap_status_name(status);

	imap_timeline(st, "starttls_refused");
	if (cli->x == X_HOLD)
		cli->x = X_IMAP;	/* held bytes are commands after all */
	st->injected_consumed = 0;
	ev = imap_evidence(st, st->starttls_tag, st->starttls_taglen,
	    "STARTTLS");
	json_object_object_add(ev, "status", json_object_new_string(sn));
	if (st->starttls_codelen > 0)
		imap_add_str(ev, "code", st->starttls_code,
		    st->starttls_codelen);
	imap_add_str(ev, "text", st->starttls_text, st->starttls_textlen);
	iw_alert(st->s, IW_F_STARTTLS_REFUSED, 0, ev);
}

/* The server's tagged response to STARTTLS. */
void
imap_starttls_answer(struct iw_imap *st, uint8_t status)
{
	st->starttls_pending = false;
	if (status != ST_OK) {
		starttls_refused(st, status);
		return;
	}
	if (st->compressed) {
		/* TLS inside COMPRESS cannot be followed (RFC 4978 forbids
		 * the order); stop rather than guess */
		st->starttls_ok = true;
		both_off(st);
		return;
	}
	starttls_ok(st);
}

static size_t
to_tls(struct iw_imap *st, enum iw_dir d, const uint8_t *buf, size_t len)
{
	st->dir[d].x = X_TLS;
	imap_timeline(st, d == IW_TO_CLIENT ? "tls_server" : "tls_client");
	return iw_tls_data(st->tls, d, buf, len);
}

static size_t
plain_after(struct iw_imap *st, enum iw_dir d, const uint8_t *buf,
    size_t len)
{
	struct imap_dir *dr = &st->dir[d];
	size_t n;
	int r;

	if (dr->p == P_LINE && !dr->cont) {
		r = iw_tls_probe_bytes(buf, len);
		if (r == IW_PROBE_MATCH)
			return to_tls(st, d, buf, len);
		if (r == IW_PROBE_MORE && len < TLS_PROBE_MAX)
			return 0;
	}
	n = stream_lines(st, d, buf, len);
	dr->plain += n;
	return n;
}

/* The first bytes a side sends after the OK to STARTTLS. */
static size_t
tls_first(struct iw_imap *st, enum iw_dir d, const uint8_t *buf, size_t len)
{
	struct json_object *ev;
	const uint8_t *lf;
	int r = iw_tls_probe_bytes(buf, len);

	if (r == IW_PROBE_MATCH)
		return to_tls(st, d, buf, len);
	if (r == IW_PROBE_MORE && len < TLS_PROBE_MAX)
		return 0;
	if (d == IW_TO_CLIENT && st->client_after_ok) {
		/* the server answers a client that went on in cleartext:
		 * not injection (the client's plaintext_after_starttls) */
		st->dir[d].x = X_PLAIN_AFTER;
		return plain_after(st, d, buf, len);
	}
	ev = imap_evidence(st, st->starttls_tag, st->starttls_taglen,
	    "STARTTLS");
	if (d == IW_TO_CLIENT) {
		st->response_injected = true;
		/* the server's words are not secrets: show how they start */
		lf = memchr(buf, '\n', len < 64 ? len : 64);
		imap_add_str(ev, "data", buf, lf != NULL ?
		    (size_t)(lf - buf) : (len < 64 ? len : 64));
		iw_alert(st->s, IW_F_STARTTLS_RESPONSE_INJECTION, 0, ev);
		imap_timeline(st, "response_injection");
	} else {
		iw_alert(st->s, IW_F_PLAINTEXT_AFTER_STARTTLS, 0, ev);
		imap_timeline(st, "plaintext_after_starttls");
	}
	st->dir[d].x = X_PLAIN_AFTER;
	return plain_after(st, d, buf, len);
}

/* ---- COMPRESS ---- */

/* Tagged OK to COMPRESS: the server compresses after that line, the
 * client everything it sends once it has seen it.  Inside TLS too: the
 * inner session inflates what TLS gave it. */
void
imap_compress_start(struct iw_imap *st)
{
	int d;

	if (st->compressed)
		return;
	st->compressed = true;
	imap_timeline(st, "compress");
	for (d = 0; d < 2; d++)
		if (st->dir[d].x == X_IMAP)
			st->dir[d].x = X_DEFLATE;
}

/* ---- the dissector ---- */

static void
check_imaps_port(struct iw_imap *st)
{
	const struct iw_flowref *f = iw_session_flow(st->s);
	struct json_object *ev;

	st->imaps_checked = true;
	if (!iw_config_is_imaps_port(f->ep.sport))
		return;
	ev = imap_evidence(st, NULL, 0, NULL);
	json_object_object_add(ev, "port", json_object_new_int(f->ep.sport));
	iw_alert(st->s, IW_F_CLEARTEXT_ON_IMAPS_PORT, 0, ev);
}

static size_t
outer_data(struct iw_imap *st, enum iw_dir d, const uint8_t *buf, size_t len)
{
	if (!st->imaps_checked)
		check_imaps_port(st);
	/* bytes from the client now came after the OK to STARTTLS (the
	 * engine delivers a direction's bytes as its packets arrive) */
	if (d == IW_TO_SERVER && st->starttls_ok)
		st->client_after_ok = true;
	switch (st->dir[d].x) {
	case X_IMAP:
		return stream_lines(st, d, buf, len);
	case X_HOLD:
		return hold(st, buf, len);
	case X_INJECTED:
		return injected(st, buf, len);
	case X_TLS_FIRST:
		return tls_first(st, d, buf, len);
	case X_PLAIN_AFTER:
		return plain_after(st, d, buf, len);
	case X_TLS:
		return iw_tls_data(st->tls, d, buf, len);
	case X_DEFLATE:
		return imap_inflate(st, d, buf, len);
	}
	return len;
}

static struct iw_imap *
imap_alloc(struct iw_session *s, bool inner)
{
	struct iw_imap *st = iw_flowmem_calloc(sizeof(*st));

	if (st == NULL)
		return NULL;
	st->s = s;
	st->inner = inner;
	st->serial = ++imap_serial;
	st->state = S_UNKNOWN;
	return st;
}

static void *
imap_create(struct iw_session *s)
{
	struct iw_imap *st = imap_alloc(s, false);

	if (st != NULL)
		iw_session_set_app(s, "imap");
	return st;
}

size_t
iw_imap_data(struct iw_imap *st, enum iw_dir d, const uint8_t *buf,
    size_t len)
{
	struct iw_imap *was = feeding;
	size_t n;

	if (st->inner) {
		switch (st->dir[d].x) {
		case X_OFF:
			return len;
		case X_DEFLATE:
			return imap_inflate(st, d, buf, len);
		}
		return imap_feed_internal(st, d, buf, len);
	}
	feeding = st;
	n = outer_data(st, d, buf, len);
	feeding = was;
	return n;
}

/* A gap while STARTTLS is unanswered: what happened cannot be told. */
static void
starttls_gap(struct iw_imap *st)
{
	st->starttls_pending = false;
	imap_anomaly(st, A_STARTTLS_GAP);
	imap_timeline(st, "gap");
	both_off(st);
}

static void
lines_gap(struct iw_imap *st, enum iw_dir d, uint64_t len)
{
	struct imap_dir *dr = &st->dir[d];

	if (st->inner && dr->skip >= len) {
		dr->skip -= len;	/* inside a literal */
		return;
	}
	imap_parse_reset(st, d);
	st->sasl.active = false;
	st->idle = false;
	imap_timeline(st, "gap");
	if (d == IW_TO_SERVER)
		return;		/* a lost command shows as an unmatched
				 * response, which makes the state unknown */
	if (st->state != S_LOGOUT)
		st->state = S_UNKNOWN;
	imap_auth_flush(st);
}

void
iw_imap_gap(struct iw_imap *st, enum iw_dir d, uint64_t len)
{
	struct imap_dir *dr = &st->dir[d];

	if (st->starttls_pending && dr->x != X_OFF) {
		starttls_gap(st);
		return;
	}
	switch (dr->x) {
	case X_IMAP:
	case X_PLAIN_AFTER:
		lines_gap(st, d, len);
		break;
	case X_TLS_FIRST:
	case X_INJECTED:
	case X_TLS:
		dr->x = X_TLS;
		iw_tls_gap(st->tls, d, len);
		break;
	case X_DEFLATE:
		dr->x = X_OFF;
		if (!st->inner)
			iw_session_bypass(st->s, d);
		break;
	}
}

void
iw_imap_end(struct iw_imap *st, enum iw_end_reason why)
{
	struct json_object *ev;

	imap_auth_flush(st);
	if (st->outer != NULL)		/* an inner session after STARTTLS */
		imap_injection_settle(st->outer, st);
	if (st->tls == NULL)
		return;
	iw_tls_end(st->tls, why);	/* the inner settles first, if any */
	imap_injection_settle(st, NULL);
	if (!st->starttls_ok || iw_tls_established(st->tls))
		return;
	ev = imap_evidence(st, st->starttls_tag, st->starttls_taglen,
	    "STARTTLS");
	json_object_object_add(ev, "status", json_object_new_string("OK"));
	iw_alert(st->s, IW_F_STARTTLS_FAILED, 0, ev);
}

void
iw_imap_report(struct iw_imap *st, struct json_object *ev)
{
	if (st->inner) {
		imap_report_inner(st, ev);
		return;
	}
	imap_report_full(st, ev);
	if (st->tls != NULL)
		iw_tls_report(st->tls, ev);
}

struct iw_imap *
iw_imap_new_inner(struct iw_session *s, unsigned flags)
{
	struct iw_imap *st = imap_alloc(s, true);

	if (st == NULL)
		return NULL;
	st->decrypted = (flags & IW_IMAP_DECRYPTED) != 0;
	/* RFC 3501 6.2.1: TLS after STARTTLS begins not authenticated,
	 * with no greeting to say so */
	if (flags & IW_IMAP_AFTER_STARTTLS) {
		st->state = S_NOTAUTH;
		/* made while its outer session feeds TLS the bytes */
		if (feeding != NULL && feeding->s == s)
			imap_inner_injected(st, feeding);
	}
	return st;
}

void
iw_imap_free(struct iw_imap *st)
{
	if (st == NULL)
		return;
	imap_inflate_free(&st->dir[0]);
	imap_inflate_free(&st->dir[1]);
	if (st->tls != NULL)
		iw_tls_free(st->tls);
	iw_flowmem_free(st);
}

static size_t
imap_data(void *st, enum iw_dir d, const uint8_t *buf, size_t len)
{
	return iw_imap_data(st, d, buf, len);
}

static void
imap_gap(void *st, enum iw_dir d, uint64_t len)
{
	iw_imap_gap(st, d, len);
}

static void
imap_end(void *st, enum iw_end_reason why)
{
	iw_imap_end(st, why);
}

static void
imap_report(void *st, struct json_object *ev)
{
	iw_imap_report(st, ev);
}

static void
imap_destroy(void *st)
{
	iw_imap_free(st);
}

const struct iw_dissector iw_imap_dissector = {
	.name = "imap",
	.probe = imap_probe,
	.create = imap_create,
	.data = imap_data,
	.gap = imap_gap,
	.end = imap_end,
	.report = imap_report,
	.destroy = imap_destroy,
};
