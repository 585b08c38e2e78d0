/* SPDX-License-Identifier: ISC */
/*
 * imap_parse.c - line framing for one direction of IMAP.
 *
 * A unit is one line segment: the bytes up to a LF, or up to the CRLF
 * after a literal announcement "{n}" (the logical line then goes on after
 * the literal's n bytes).  A literal is either read into a small buffer,
 * when the command wants its value (a LOGIN user name, an ID field) and
 * it is small, or skipped: the caller asks the engine (iw_session_skip)
 * or its own counter to pass over it, so a literal body is never copied
 * and never seen here.  A LOGIN password literal is always skipped.
 *
 * A line longer than IMAP_LINE_MAX is parsed from its prefix (tag,
 * command, first arguments) and the rest is discarded up to its LF,
 * keeping only a few tail bytes to see whether it announced a literal.
 */
#include <string.h>

#include "dissector.h"
#include "imap_internal.h"

/* Keeps the last IMAP_TAIL bytes seen of a discarded line. */
static void
tail_push(struct imap_dir *dr, const uint8_t *p, size_t n)
{
	size_t keep;

	if (n >= IMAP_TAIL) {
		memcpy(dr->tail, p + n - IMAP_TAIL, IMAP_TAIL);
		dr->taillen = IMAP_TAIL;
		return;
	}
	keep = IMAP_TAIL - n;
	if (keep > dr->taillen)
		keep = dr->taillen;
	memmove(dr->tail, dr->tail + dr->taillen - keep, keep);
	memcpy(dr->tail + keep, p, n);
	dr->taillen = (uint8_t)(keep + n);
}

/* The literal announcement that ends a discarded line, if any. */
static bool
tail_literal(struct imap_dir *dr, struct imap_token *t)
{
	size_t n = dr->taillen, i, pos;

	if (n > 0 && dr->tail[n - 1] == '\r')
		n--;
	if (n < 3 || dr->tail[n - 1] != '}')
		return false;
	for (i = n - 1; i > 0 && dr->tail[i - 1] != '{'; i--)
		;
	if (i == 0)
		return false;
	pos = i - 1;
	if (pos > 0 && dr->tail[pos - 1] == '~')
		pos--;
	if (pos > 0 && dr->tail[pos - 1] != ' ' && dr->tail[pos - 1] != '(')
		return false;
	imap_next_token(dr->tail, n, &pos, t, false);
	return t->t == T_LITERAL;
}

static void
lit_done(struct iw_imap *st, enum iw_dir d)
{
	struct imap_dir *dr = &st->dir[d];
	struct imap_token t;

	memset(&t, 0, sizeof(t));
	t.t = T_LITVAL;
	t.p = dr->litbuf;
	t.n = dr->litlen;
	dr->p = P_LINE;
	imap_line_token(st, d, &t);
}

/*
 * A literal of n bytes follows the segment just parsed.  may_read is
 * false when its place in the line is uncertain (after a discarded
 * prefix): it is then skipped whatever it is.
 */
static void
literal_begin(struct iw_imap *st, enum iw_dir d, uint64_t n, bool may_read)
{
	struct imap_dir *dr = &st->dir[d];
	struct imap_token t;

	st->literals++;
	st->literal_bytes += n;
	dr->cont = true;
	if (may_read && n <= IMAP_LITREAD_MAX &&
	    imap_line_wants_value(st, d)) {
		dr->p = P_LITREAD;
		dr->litwant = (uint32_t)n;
		dr->litlen = 0;
		if (n == 0)
			lit_done(st, d);
		return;
	}
	dr->want_skip = n;
	memset(&t, 0, sizeof(t));
	t.t = T_LITSKIP;
	t.lit = n;
	imap_line_token(st, d, &t);
}

static size_t
lit_read(struct iw_imap *st, enum iw_dir d, const uint8_t *buf, size_t len)
{
	struct imap_dir *dr = &st->dir[d];
	size_t k = dr->litwant - dr->litlen;

	if (k > len)
		k = len;
	memcpy(dr->litbuf + dr->litlen, buf, k);
	dr->litlen += (uint32_t)k;
	if (dr->litlen == dr->litwant)
		lit_done(st, d);
	return k;
}

/* The segment ended: a literal follows, or the logical line is done. */
static void
segment_end(struct iw_imap *st, enum iw_dir d, const struct imap_token *lit,
    bool may_read)
{
	struct imap_dir *dr = &st->dir[d];

	if (lit != NULL) {
		literal_begin(st, d, lit->lit, may_read);
		return;
	}
	imap_line_finish(st, d);
	dr->cont = false;
	memset(&dr->line, 0, sizeof(dr->line));
}

static void
segment(struct iw_imap *st, enum iw_dir d, const uint8_t *p, size_t n,
    bool truncated)
{
	struct imap_token lit;
	bool has;

	if (memchr(p, '\0', n) != NULL)
		imap_anomaly(st, A_NUL_IN_LINE);
	if (d == IW_TO_SERVER)
		has = imap_client_segment(st, p, n, truncated, &lit);
	else
		has = imap_server_segment(st, p, n, truncated, &lit);
	if (truncated) {
		st->dir[d].line.truncated = true;
		return;
	}
	segment_end(st, d, has ? &lit : NULL, true);
}

/* After a gap: is this line a plausible place to start again? */
static bool
resync_ok(struct iw_imap *st, enum iw_dir d, const uint8_t *p, size_t n)
{
	int r;

	if (d == IW_TO_SERVER)
		r = imap_probe_client_line(p, n, true);
	else
		r = imap_probe_server_line(p, n, true);
	if (r != IW_PROBE_MATCH)
		return false;
	st->dir[d].resync = false;
	return true;
}

static size_t
long_line(struct iw_imap *st, enum iw_dir d, const uint8_t *buf)
{
	struct imap_dir *dr = &st->dir[d];

	st->long_lines++;
	dr->p = P_DISCARD;
	dr->taillen = 0;
	dr->discarded = IMAP_LINE_MAX;
	tail_push(dr, buf, IMAP_LINE_MAX);
	if (!dr->resync)
		segment(st, d, buf, IMAP_LINE_MAX, true);
	return IMAP_LINE_MAX;
}

static size_t
discard(struct iw_imap *st, enum iw_dir d, const uint8_t *buf, size_t len)
{
	struct imap_dir *dr = &st->dir[d];
	const uint8_t *lf = memchr(buf, '\n', len);
	struct imap_token t;
	size_t n;

	if (lf == NULL) {
		tail_push(dr, buf, len);
		if (dr->discarded <= IW_PENDING_MAX &&
		    dr->discarded + len > IW_PENDING_MAX)
			imap_anomaly(st, A_LINE_TOO_LONG);
		dr->discarded += len;
		return len;
	}
	n = (size_t)(lf - buf);
	tail_push(dr, buf, n);
	dr->p = P_LINE;
	if (dr->resync)
		return n + 1;
	if (dr->line.kind != LK_NONE && tail_literal(dr, &t))
		segment_end(st, d, &t, false);
	else
		segment_end(st, d, NULL, false);
	return n + 1;
}

/*
 * Parses one unit of buf and returns the bytes it consumed (0: a line is
 * not complete yet).  A literal to pass over is left in dir.want_skip.
 */
size_t
imap_parse_unit(struct iw_imap *st, enum iw_dir d, const uint8_t *buf,
    size_t len)
{
	struct imap_dir *dr = &st->dir[d];
	const uint8_t *lf;
	size_t n, linelen;

	if (len == 0)
		return 0;
	if (dr->p == P_LITREAD)
		return lit_read(st, d, buf, len);
	if (dr->p == P_DISCARD)
		return discard(st, d, buf, len);
	lf = memchr(buf, '\n', len < IMAP_LINE_MAX ? len : IMAP_LINE_MAX);
	if (lf == NULL)
		return len < IMAP_LINE_MAX ? 0 : long_line(st, d, buf);
	n = (size_t)(lf - buf);
	linelen = n;
	if (linelen > 0 && buf[linelen - 1] == '\r')
		linelen--;
	if (dr->resync && !dr->cont && !resync_ok(st, d, buf, linelen))
		return n + 1;
	segment(st, d, buf, linelen, false);
	return n + 1;
}

/* After a gap: forget the line in progress and look for a line start. */
void
imap_parse_reset(struct iw_imap *st, enum iw_dir d)
{
	struct imap_dir *dr = &st->dir[d];

	dr->p = P_LINE;
	dr->cont = false;
	dr->resync = true;
	dr->want_skip = 0;
	dr->skip = 0;
	dr->litwant = dr->litlen = 0;
	dr->taillen = 0;
	memset(&dr->line, 0, sizeof(dr->line));
}
