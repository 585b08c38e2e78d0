/* SPDX-License-Identifier: ISC */
/*
 * imap_lex.c - the lexical layer of IMAP (RFC 9051 section 9, RFC 3501
 * section 9): command names, tag characters, tokens of one line segment,
 * and the probes that recognise a first line of either direction.
 *
 * Nothing here keeps state or copies bytes: tokens point into the
 * segment, and a quoted string is unescaped only by a caller that wants
 * its value (never a password).
 */
#include <string.h>

#include "dissector.h"
#include "imap_internal.h"

static const char *const cmd_names[C_COUNT] = {
	"APPEND", "AUTHENTICATE", "CAPABILITY", "CHECK", "CLOSE",
	"COMPRESS", "COPY", "CREATE", "DELETE", "DELETEACL", "ENABLE",
	"EXAMINE", "EXPUNGE", "FETCH", "GETACL", "GETMETADATA", "GETQUOTA",
	"GETQUOTAROOT", "ID", "IDLE", "LIST", "LISTRIGHTS", "LOGIN",
	"LOGOUT", "LSUB", "MOVE", "MYRIGHTS", "NAMESPACE", "NOOP", "NOTIFY",
	"RENAME", "REPLACE", "SEARCH", "SELECT", "SETACL", "SETMETADATA",
	"SETQUOTA", "SORT", "STARTTLS", "STATUS", "STORE", "SUBSCRIBE",
	"THREAD", "UID", "UNAUTHENTICATE", "UNSELECT", "UNSUBSCRIBE",
	"XLIST",
};

static int
upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 32 : c;
}

/* Case-insensitive comparison of bytes with a NUL-terminated keyword. */
bool
imap_word_eq(const uint8_t *p, size_t n, const char *kw)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (kw[i] == '\0' || upper(p[i]) != kw[i])
			return false;
	return kw[n] == '\0';
}

/* True if p[0..n) is a case-insensitive prefix of kw. */
static bool
word_prefix(const uint8_t *p, size_t n, const char *kw)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (kw[i] == '\0' || upper(p[i]) != kw[i])
			return false;
	return true;
}

int
imap_cmd_lookup(const uint8_t *p, size_t n)
{
	int i;

	if (n == 0 || n >= IMAP_NAME_MAX)
		return C_UNKNOWN;
	for (i = 0; i < C_COUNT; i++)
		if (imap_word_eq(p, n, cmd_names[i]))
			return i;
	return C_UNKNOWN;
}

const char *
imap_cmd_name(int c)
{
	return c >= 0 && c < C_COUNT ? cmd_names[c] : "UNKNOWN";
}

const char *
imap_status_name(uint8_t st)
{
	switch (st) {
	case ST_OK:		return "OK";
	case ST_NO:		return "NO";
	case ST_BAD:		return "BAD";
	case ST_PREAUTH:	return "PREAUTH";
	case ST_BYE:		return "BYE";
	}
	return NULL;
}

const char *
imap_state_name(uint8_t s)
{
	switch (s) {
	case S_NOTAUTH:		return "not_authenticated";
	case S_AUTH:		return "authenticated";
	case S_SELECTED:	return "selected";
	case S_LOGOUT:		return "logout";
	}
	return "unknown";
}

/* tag = 1*<any ASTRING-CHAR except "+"> (RFC 9051). */
bool
imap_tag_char(uint8_t c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\+", c) == NULL;
}

/* ---- tokens ---- */

static bool
atom_delim(uint8_t c)
{
	return c == ' ' || c == '(' || c == ')' || c == '"';
}

/*
 * A literal announcement "{n}", "{n+}", "~{n}" or "~{n+}" starting at i
 * and ending the segment.  A "{...}" that ends the segment without being
 * one (no digits, a number past 2^62) is flagged badlit.
 */
static bool
literal_at(const uint8_t *p, size_t n, size_t i, struct imap_token *t)
{
	size_t k = i, m = n - 1, j;
	uint64_t v = 0;

	if (p[k] == '~') {
		if (k + 1 >= n || p[k + 1] != '{')
			return false;
		k++;
	}
	if (p[m] != '}' || m <= k || memchr(p + k, ' ', m - k) != NULL)
		return false;
	if (p[m - 1] == '+')
		m--;
	if (m == k + 1 || m - k - 1 > 19) {
		t->badlit = true;
		return false;
	}
	for (j = k + 1; j < m; j++) {
		if (p[j] < '0' || p[j] > '9') {
			t->badlit = true;
			return false;
		}
		v = v * 10 + (uint64_t)(p[j] - '0');
	}
	if (v > (1ULL << 62)) {
		t->badlit = true;
		return false;
	}
	t->t = T_LITERAL;
	t->lit = v;
	return true;
}

static void
quoted_at(const uint8_t *p, size_t n, size_t i, size_t *posp,
    struct imap_token *t, bool truncated)
{
	size_t j = i + 1;

	while (j < n && p[j] != '"')
		j += p[j] == '\\' ? 2 : 1;
	if (j >= n) {
		t->t = T_BADQUOTE;
		t->p = p + i + 1;
		t->n = n - i - 1;
		t->partial = truncated;
		*posp = n;
		return;
	}
	t->t = T_QUOTED;
	t->p = p + i + 1;
	t->n = j - i - 1;
	*posp = j + 1;
}

/*
 * The next token of segment p[0..n) from *posp.  A literal announcement
 * is a token only where it ends a segment that is not truncated (the
 * real end of a truncated one is not known).
 */
void
imap_next_token(const uint8_t *p, size_t n, size_t *posp,
    struct imap_token *t, bool truncated)
{
	size_t i = *posp, j;

	memset(t, 0, sizeof(*t));
	while (i < n && p[i] == ' ')
		i++;
	if (i >= n) {
		t->t = T_END;
		*posp = n;
		return;
	}
	switch (p[i]) {
	case '(':
		t->t = T_LPAREN;
		*posp = i + 1;
		return;
	case ')':
		t->t = T_RPAREN;
		*posp = i + 1;
		return;
	case '"':
		quoted_at(p, n, i, posp, t, truncated);
		return;
	case '{':
	case '~':
		if (!truncated && literal_at(p, n, i, t)) {
			*posp = n;
			return;
		}
		break;
	}
	for (j = i; j < n && !atom_delim(p[j]); j++)
		;
	t->t = T_ATOM;
	t->p = p + i;
	t->n = j - i;
	t->partial = truncated && j == n;
	*posp = j;
}

/* A quoted string's value, escapes removed, at most outsz bytes. */
size_t
imap_unquote(const uint8_t *p, size_t n, uint8_t *out, size_t outsz)
{
	size_t i, o = 0;

	for (i = 0; i < n && o < outsz; i++) {
		if (p[i] == '\\' && i + 1 < n)
			i++;
		out[o++] = p[i];
	}
	return o;
}

/* ---- probes ---- */

enum follow { F_SP, F_SP_PAREN, F_SP_OR_END, F_END };

struct kw {
	const char	*word;
	enum follow	 follow;
};

/* Untagged responses that show a stream is IMAP (RFC 9051 7). */
static const struct kw untagged_kw[] = {
	{ "OK", F_SP }, { "NO", F_SP }, { "BAD", F_SP },
	{ "PREAUTH", F_SP }, { "BYE", F_SP },
	{ "CAPABILITY", F_SP }, { "LIST", F_SP_PAREN },
	{ "LSUB", F_SP_PAREN }, { "FLAGS", F_SP_PAREN },
	{ "ENABLED", F_SP_OR_END }, { "SEARCH", F_SP_OR_END },
	{ "ESEARCH", F_SP_OR_END }, { "SORT", F_SP_OR_END },
	{ "THREAD", F_SP_OR_END }, { "STATUS", F_SP },
	{ "NAMESPACE", F_SP }, { "ID", F_SP }, { "QUOTA", F_SP },
	{ "QUOTAROOT", F_SP }, { "METADATA", F_SP },
	{ NULL, F_SP }
};

/* Message data: "* 12 EXISTS", "* 3 FETCH (". */
static const struct kw numbered_kw[] = {
	{ "EXISTS", F_END }, { "RECENT", F_END }, { "EXPUNGE", F_END },
	{ "FETCH", F_SP_PAREN },
	{ NULL, F_SP }
};

static const struct kw tagged_kw[] = {
	{ "OK", F_SP }, { "NO", F_SP }, { "BAD", F_SP },
	{ NULL, F_SP }
};

/* What follows a keyword at i: MATCH, NO, or MORE (not there yet). */
static int
probe_follow(const uint8_t *p, size_t n, size_t i, bool complete,
    enum follow f)
{
	bool end_ok = f == F_END || f == F_SP_OR_END;

	if (i >= n)
		return complete ? (end_ok ? IW_PROBE_MATCH : IW_PROBE_NO) :
		    IW_PROBE_MORE;
	if (p[i] == '\r')
		return end_ok ? IW_PROBE_MATCH : IW_PROBE_NO;
	if (p[i] != ' ' || f == F_END)
		return IW_PROBE_NO;
	if (f != F_SP_PAREN)
		return IW_PROBE_MATCH;
	if (i + 1 >= n)
		return complete ? IW_PROBE_NO : IW_PROBE_MORE;
	return p[i + 1] == '(' ? IW_PROBE_MATCH : IW_PROBE_NO;
}

/* The keyword at p[i..], from the table, and what follows it. */
static int
probe_keyword(const uint8_t *p, size_t n, size_t i, bool complete,
    const struct kw *tab)
{
	size_t j = i;
	int k;

	while (j < n && ((p[j] >= 'A' && p[j] <= 'Z') ||
	    (p[j] >= 'a' && p[j] <= 'z')))
		j++;
	if (j == n && !complete) {
		for (k = 0; tab[k].word != NULL; k++)
			if (word_prefix(p + i, j - i, tab[k].word))
				return IW_PROBE_MORE;
		return IW_PROBE_NO;
	}
	for (k = 0; tab[k].word != NULL; k++)
		if (j > i && imap_word_eq(p + i, j - i, tab[k].word))
			return probe_follow(p, n, j, complete, tab[k].follow);
	return IW_PROBE_NO;
}

/* A tag and the space after it; returns the position after the space. */
static int
probe_tag(const uint8_t *p, size_t n, bool complete, size_t *after)
{
	size_t i = 0;

	while (i < n && i < 64 && imap_tag_char(p[i]))
		i++;
	if (i == n)
		return complete ? IW_PROBE_NO : IW_PROBE_MORE;
	if (i == 0 || p[i] != ' ')
		return IW_PROBE_NO;
	*after = i + 1;
	return IW_PROBE_MATCH;
}

static int
probe_untagged(const uint8_t *p, size_t n, bool complete)
{
	size_t i = 2;

	if (n < 2)
		return complete ? IW_PROBE_NO : IW_PROBE_MORE;
	if (p[1] != ' ')
		return IW_PROBE_NO;
	if (i < n && p[i] >= '0' && p[i] <= '9') {
		while (i < n && i < 24 && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == n)
			return complete ? IW_PROBE_NO : IW_PROBE_MORE;
		if (p[i] != ' ')
			return IW_PROBE_NO;
		return probe_keyword(p, n, i + 1, complete, numbered_kw);
	}
	if (i == n)
		return complete ? IW_PROBE_NO : IW_PROBE_MORE;
	return probe_keyword(p, n, i, complete, untagged_kw);
}

/*
 * A server line: a greeting or untagged response with a known keyword,
 * or a tagged status.  "+OK" (POP3), "220 " (SMTP), "HTTP/" and TLS
 * records all fail at the first or second word.
 */
int
imap_probe_server_line(const uint8_t *p, size_t n, bool complete)
{
	size_t after = 0;
	int r;

	if (n == 0)
		return complete ? IW_PROBE_NO : IW_PROBE_MORE;
	if (p[0] == '*')
		return probe_untagged(p, n, complete);
	r = probe_tag(p, n, complete, &after);
	if (r != IW_PROBE_MATCH)
		return r;
	/* "220 " and "250 " are SMTP (and FTP) replies: say so at once */
	if (after == 4 && p[0] >= '1' && p[0] <= '5' && p[1] >= '0' &&
	    p[1] <= '9' && p[2] >= '0' && p[2] <= '9')
		return IW_PROBE_NO;
	return probe_keyword(p, n, after, complete, tagged_kw);
}

/* A client line: tag SP known-command, then SP or the end of the line. */
int
imap_probe_client_line(const uint8_t *p, size_t n, bool complete)
{
	size_t after = 0, j;
	int r, k;

	if (n == 0)
		return complete ? IW_PROBE_NO : IW_PROBE_MORE;
	r = probe_tag(p, n, complete, &after);
	if (r != IW_PROBE_MATCH)
		return r;
	for (j = after; j < n && ((p[j] >= 'A' && p[j] <= 'Z') ||
	    (p[j] >= 'a' && p[j] <= 'z')); j++)
		;
	if (j == n && !complete) {
		for (k = 0; k < C_COUNT; k++)
			if (word_prefix(p + after, j - after, cmd_names[k]))
				return IW_PROBE_MORE;
		return IW_PROBE_NO;
	}
	if (imap_cmd_lookup(p + after, j - after) == C_UNKNOWN)
		return IW_PROBE_NO;
	return probe_follow(p, n, j, complete, F_SP_OR_END);
}
