/* SPDX-License-Identifier: ISC */
/*
 * test_imap_literal.c - framing under stress: every literal form ({n},
 * {n+}, ~{n}, ~{n+}; RFC 9051 4.3, RFC 7888, RFC 3516) with the
 * conversation cut at every byte, literal bodies that look like IMAP
 * lines, a 1 GB literal announced, a line that never ends, NUL bytes, an
 * unterminated quoted string, a 10 KB tag, 10,000 pipelined commands,
 * bad literal syntax, and resynchronisation after gaps.
 */
#include "flowmem.h"
#include "test_imap.h"

/* Body of the APPEND literal: it looks like a command, it is not one. */
#define APPEND_BODY	"Subject: hi\r\n\r\nA001 LOGIN x y\r\n"
#define BIN_BODY	"\0\1\2\r\n\3\4\5\6\7"
#define FETCH_RESP	"* 1 FETCH (BODY[] {12}\r\n* BYE fake\r\n BINARY[1] " \
			"~{4}\r\n\0\1\2\3)\r\n"

static const struct ti_step script[] = {
	{ S2C, "* OK [CAPABILITY IMAP4rev1 LITERAL+ BINARY] ready\r\n", 0 },
	{ C2S, "A001 LOGIN {11}\r\n", 0 },
	{ S2C, "+ Ready for additional command text\r\n", 0 },
	{ C2S, "FRED FOOBAR {7}\r\n", 0 },
	{ S2C, "+ Ready for additional command text\r\n", 0 },
	{ C2S, "fat man\r\n", 0 },
	{ S2C, "A001 OK LOGIN completed\r\n", 0 },
	{ C2S, "A002 LOGIN {11+}\r\nFRED FOOBAR {7+}\r\nfat man\r\n", 0 },
	{ S2C, "A002 OK LOGIN completed\r\n", 0 },
	{ C2S, "A003 APPEND saved-messages (\\Seen) {31}\r\n", 0 },
	{ S2C, "+ Ready for literal data\r\n", 0 },
	{ C2S, APPEND_BODY "\r\n", 0 },
	{ S2C, "A003 OK APPEND completed\r\n", 0 },
	{ C2S, "A004 APPEND Drafts ~{10+}\r\n" BIN_BODY "\r\n",
	    sizeof("A004 APPEND Drafts ~{10+}\r\n" BIN_BODY "\r\n") - 1 },
	{ S2C, "A004 OK done\r\n", 0 },
	{ C2S, "A005 FETCH 1 (BODY[] BINARY[1])\r\n", 0 },
	{ S2C, FETCH_RESP, sizeof(FETCH_RESP) - 1 },
	{ S2C, "A005 OK FETCH completed\r\n", 0 },
	{ C2S, "A006 LOGOUT\r\n", 0 },
	{ S2C, "* BYE bye\r\nA006 OK LOGOUT completed\r\n", 0 },
	{ 0, NULL, 0 }
};

/* What every replay of the script must give; returns the failures. */
static int
script_check(struct json_object *ev)
{
	struct json_object *im = th_first(ev, "imap");
	int bad = 0;

	bad += !ti_streq(ti_idx(im, "imap.auth", 0), "username", "FRED FOOBAR");
	bad += !ti_streq(ti_idx(im, "imap.auth", 1), "username", "FRED FOOBAR");
	bad += !ti_streq(ti_idx(im, "imap.auth", 1), "status", "OK");
	bad += ti_int(im, "imap.commands.total") != 6;
	bad += ti_int(im, "imap.commands.by_name.APPEND") != 2;
	bad += ti_int(im, "imap.literals.count") != 8;
	bad += ti_int(im, "imap.literals.bytes") != 11 + 7 + 11 + 7 + 31 +
	    10 + 12 + 4;
	bad += ti_int(im, "imap.unparsed_lines") != 0;
	bad += ti_int(im, "imap.unmatched_responses") != 0;
	bad += !ti_streq(im, "imap.state", "logout");
	bad += ti_streq(th_alert(ev, "cleartext_login"), "imap.username",
	    "FRED FOOBAR") ? 0 : 1;
	bad += th_count(ev, "anomaly") != 0;
	bad += !ti_secret_absent("fat man", 7);
	return bad;
}

static int
script_run(size_t split)
{
	struct json_object *ev;
	struct th t;
	int bad;

	th_clear();
	ti_open(&t, "192.0.2.150", "203.0.113.50", 143);
	ti_replay(&t, script, split);
	th_end(&t, IW_END_FIN);
	ev = th_events();
	bad = script_check(ev);
	json_object_put(ev);
	return bad;
}

static void
test_literals_split_everywhere(void)
{
	size_t k;
	int bad, worst = 0, failed = 0;

	bad = script_run(0);
	CHECK(bad == 0, "literal forms, whole segments (%d wrong)", bad);
	for (k = 1; k < 64; k++) {
		bad = script_run(k);
		if (bad != 0) {
			failed++;
			worst = (int)k;
		}
	}
	CHECK(failed == 0, "literal forms, every message cut at every byte "
	    "(%d splits wrong, last %d)", failed, worst);
	bad = script_run((size_t)-1);
	CHECK(bad == 0, "literal forms, one byte a segment (%d wrong)", bad);
}

static void
test_huge_literal(void)
{
	struct json_object *ev, *im;
	char junk[1000];
	struct th t;

	memset(junk, 'z', sizeof(junk));
	th_clear();
	ti_open(&t, "192.0.2.151", "203.0.113.51", 143);
	S(&t, "* PREAUTH ready\r\n");
	C(&t, "a1 SELECT INBOX\r\n");
	S(&t, "a1 OK [READ-WRITE] done\r\n");
	C(&t, "a2 FETCH 1 BODY[]\r\n");
	S(&t, "* 1 FETCH (BODY[] {1073741824}\r\n");
	th_send(&t, S2C, junk, sizeof(junk));
	C(&t, "a3 APPEND INBOX {1073741824+}\r\n");
	th_send(&t, C2S, junk, sizeof(junk));
	CHECK(iw_session_held(t.s) <= IW_PENDING_MAX,
	    "1 GB literals: nothing held for them");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	im = th_first(ev, "imap");
	CHECK(ti_int(im, "imap.literals.count") == 2 &&
	    ti_int(im, "imap.literals.bytes") == 2 * 1073741824LL,
	    "1 GB literals announced: counted, skipped");
	CHECK(ti_streq(im, "imap.state", "selected"), "state kept");
	json_object_put(ev);
}

static void
test_endless_line(void)
{
	struct json_object *ev, *im;
	char junk[1000];
	struct th t;
	size_t held_max = 0;
	uint64_t mem_idle, mem_max = 0;
	int i;

	memset(junk, 'x', sizeof(junk));
	th_clear();
	ti_open(&t, "192.0.2.152", "203.0.113.52", 143);
	S(&t, "* OK ready\r\n");
	C(&t, "a1 NOOP\r\n");
	mem_idle = iw_flowmem_in_use();
	S(&t, "* 3 EXISTS ");
	for (i = 0; i < 1024; i++) {
		th_send(&t, S2C, junk, sizeof(junk));
		th_send(&t, C2S, junk, sizeof(junk));
		if (iw_session_held(t.s) > held_max)
			held_max = iw_session_held(t.s);
		if (iw_flowmem_in_use() > mem_max)
			mem_max = iw_flowmem_in_use();
	}
	CHECK(held_max <= 2 * IW_PENDING_MAX,
	    "1 MB lines without CRLF: held bytes stay bounded (%zu)",
	    held_max);
	S(&t, "\r\na1 OK done\r\n");
	C(&t, "\r\na2 NOOP\r\n");
	S(&t, "a2 OK done\r\n");
	CHECK(mem_max > mem_idle + 8192 &&
	    iw_flowmem_in_use() <= mem_idle + 2 * 4096,
	    "the lines ended: the buffers that held them are given back "
	    "(idle %llu, peak %llu, after %llu bytes)",
	    (unsigned long long)mem_idle, (unsigned long long)mem_max,
	    (unsigned long long)iw_flowmem_in_use());
	th_end(&t, IW_END_FIN);
	ev = th_events();
	im = th_first(ev, "imap");
	CHECK(ti_int(im, "imap.long_lines") == 2, "two long lines counted");
	CHECK(ti_int(im, "imap.unmatched_responses") == 0 &&
	    ti_int(im, "imap.commands.by_name.NOOP") == 2,
	    "parsing goes on after the long lines");
	CHECK(th_count(ev, "anomaly") == 1 && ti_streq(th_first(ev,
	    "anomaly"), "anomaly.event", "imap_line_too_long"),
	    "one imap_line_too_long anomaly for the session");
	json_object_put(ev);
}

static void
test_nul_and_quotes(void)
{
	struct json_object *ev;
	struct th t;

	th_clear();
	ti_open(&t, "192.0.2.153", "203.0.113.53", 143);
	S(&t, "* OK ready\r\n");
	th_send(&t, C2S, "a1 LOGIN al\0ice pw0\r\n", 21);
	S(&t, "a1 NO\r\n");
	C(&t, "a2 LOGIN \"carol unterminated-pw\r\n");
	S(&t, "a2 BAD\r\n");
	C(&t, "a3 LOGIN \"dave\r\n");
	S(&t, "a3 BAD\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	CHECK(ti_nalerts(ev, "cleartext_login") == 1,
	    "NUL in a LOGIN line: still cleartext_login, no crash");
	CHECK(th_alert(ev, "cleartext_login") != NULL &&
	    th_get(ti_idx(th_first(ev, "imap"), "imap.auth", 1), "username")
	    == NULL, "unterminated quoted user: no username taken");
	SECRET_ABSENT("unterminated-pw", "password after an open quote");
	CHECK(th_count(ev, "anomaly") == 2, "two anomalies (NUL, quote)");
	json_object_put(ev);
}

static void
test_big_tag(void)
{
	struct json_object *ev, *im;
	char *line;
	struct th t;

	line = malloc(10240 + 64);
	memset(line, 'A', 10240);
	strcpy(line + 10240, " LOGIN bob tagpw\r\n");
	th_clear();
	ti_open(&t, "192.0.2.154", "203.0.113.54", 143);
	S(&t, "* OK ready\r\n");
	C(&t, line);
	strcpy(line + 10240, " NO bad\r\n");
	S(&t, line);
	C(&t, "a2 NOOP\r\n");
	S(&t, "a2 OK\r\n");
	th_end(&t, IW_END_FIN);
	free(line);
	ev = th_events();
	im = th_first(ev, "imap");
	CHECK(ti_int(im, "imap.long_lines") == 2 &&
	    ti_int(im, "imap.unparsed_lines") == 2,
	    "10 KB tags: long, unparsed lines");
	CHECK(ti_int(im, "imap.commands.total") == 1 &&
	    ti_int(im, "imap.unmatched_responses") == 0,
	    "the next command is parsed and matched");
	SECRET_ABSENT("tagpw", "password");
	json_object_put(ev);
}

static void
test_pipelined(void)
{
	struct json_object *ev, *im, *a;
	size_t n = 0, cap = 200000, off;
	char *buf = malloc(cap);
	struct th t;
	int i;

	for (i = 1; i <= 10000; i++)
		n += (size_t)snprintf(buf + n, cap - n, i == 5000 ?
		    "a%d LOGIN carol pipelinepw\r\n" : "a%d NOOP\r\n", i);
	th_clear();
	ti_open(&t, "192.0.2.155", "203.0.113.55", 143);
	S(&t, "* OK ready\r\n");
	for (off = 0; off < n; off += 1460)
		th_send(&t, C2S, buf + off, n - off < 1460 ? n - off : 1460);
	n = 0;
	for (i = 1; i <= 10000; i++)
		n += (size_t)snprintf(buf + n, cap - n, "a%d OK done\r\n", i);
	for (off = 0; off < n; off += 1460)
		th_send(&t, S2C, buf + off, n - off < 1460 ? n - off : 1460);
	th_end(&t, IW_END_FIN);
	free(buf);
	ev = th_events();
	im = th_first(ev, "imap");
	CHECK(ti_int(im, "imap.commands.total") == 10000 &&
	    ti_int(im, "imap.commands.by_name.NOOP") == 9999,
	    "10,000 pipelined commands counted");
	CHECK(ti_int(im, "imap.commands_evicted") == 10000 - 64 &&
	    ti_int(im, "imap.unmatched_responses") == 10000 - 64,
	    "outstanding table bounded at 64: evictions counted");
	a = th_alert(ev, "cleartext_login");
	CHECK(a != NULL && ti_streq(a, "imap.username", "carol"),
	    "an evicted LOGIN still raises cleartext_login");
	CHECK(th_count(ev, "anomaly") == 1, "one anomaly for the overflow");
	SECRET_ABSENT("pipelinepw", "pipelined LOGIN password");
	json_object_put(ev);
}

static void
test_bad_literals(void)
{
	struct json_object *ev, *im;
	struct th t;

	th_clear();
	ti_open(&t, "192.0.2.156", "203.0.113.56", 143);
	S(&t, "* OK ready\r\n");
	C(&t, "a1 FETCH 1 BODY[]\r\n");
	S(&t, "* 1 FETCH (BODY[] {abc}\r\n");
	S(&t, "* 1 FETCH (BODY[] {99999999999999999999999}\r\n");
	S(&t, "* 2 FETCH (BODY[] {}\r\n");
	S(&t, "a1 OK done\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	im = th_first(ev, "imap");
	CHECK(ti_int(im, "imap.literals.count") == 0 &&
	    ti_int(im, "imap.unmatched_responses") == 0,
	    "bad literal syntax: no literal, lines go on");
	CHECK(th_count(ev, "anomaly") == 1 && ti_streq(th_first(ev,
	    "anomaly"), "anomaly.event", "imap_bad_literal"),
	    "imap_bad_literal once");
	json_object_put(ev);
}

/* A long line whose end announces a literal: the tail is enough. */
static void
test_long_line_literal(void)
{
	struct json_object *ev, *im;
	char *line = malloc(12000);
	struct th t;
	size_t n;

	n = (size_t)snprintf(line, 12000, "a1 APPEND box (");
	memset(line + n, 'F', 9000);
	n += 9000;
	snprintf(line + n, 12000 - n, ") {22}\r\na2 LOGIN fake fakepw\r\n\r\n");
	th_clear();
	ti_open(&t, "192.0.2.157", "203.0.113.57", 143);
	S(&t, "* OK ready\r\n");
	C(&t, line);
	C(&t, "a3 NOOP\r\n");
	th_end(&t, IW_END_FIN);
	free(line);
	ev = th_events();
	im = th_first(ev, "imap");
	CHECK(ti_int(im, "imap.literals.count") == 1 &&
	    ti_int(im, "imap.commands.total") == 2 &&
	    th_alert(ev, "cleartext_login") == NULL,
	    "literal after a 9 KB line: skipped, its body not parsed");
	json_object_put(ev);
}

static void
test_gaps(void)
{
	struct json_object *ev, *im;
	char ten[10], forty[40];
	struct th t;

	memset(ten, 'b', sizeof(ten));
	memset(forty, 'c', sizeof(forty));
	th_clear();
	ti_open(&t, "192.0.2.158", "203.0.113.58", 143);
	S(&t, "* OK ready\r\n");
	C(&t, "a1 LOGIN u p\r\n");
	S(&t, "a1 OK\r\n");
	C(&t, "a2 SELECT INBOX\r\n");
	S(&t, "* 3 EX");
	th_gap(&t, S2C, 100);
	S(&t, "ISTS\r\n* 4 EXISTS\r\na2 OK [READ-WRITE] done\r\n");
	C(&t, "a3 FET");
	th_gap(&t, C2S, 10);
	C(&t, "CH 1 BODY[]\r\na4 FETCH 1 BODY[]\r\n");
	S(&t, "* 1 FETCH (BODY[] {100}\r\n");
	th_send(&t, S2C, ten, sizeof(ten));
	th_gap(&t, S2C, 50);		/* inside the literal */
	th_send(&t, S2C, forty, sizeof(forty));
	S(&t, ")\r\na4 OK done\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	im = th_first(ev, "imap");
	CHECK(ti_streq(ti_idx(im, "imap.timeline", 2), "event", "gap") &&
	    ti_streq(ti_idx(im, "imap.timeline", 3), "event", "selected"),
	    "after a gap: resynchronised, SELECT's OK matched");
	CHECK(ti_streq(im, "imap.state", "selected"),
	    "a client gap alone does not change the state");
	CHECK(ti_int(im, "imap.commands.total") == 3 &&
	    ti_int(im, "imap.unmatched_responses") == 0,
	    "client gap: the broken command is dropped, the next parsed");
	CHECK(ti_int(im, "imap.literals.count") == 1 &&
	    ti_int(im, "imap.gaps") == 3,
	    "gap inside a skipped literal: the line after it still parsed");
	json_object_put(ev);

	/* a response to a command never seen: the state is unknown */
	th_clear();
	ti_open(&t, "192.0.2.158", "203.0.113.60", 143);
	S(&t, "* OK ready\r\n");
	C(&t, "a1 NOOP\r\n");
	th_gap(&t, C2S, 20);
	S(&t, "* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK\r\nzz OK done\r\n");
	C(&t, "a2 CAPABILITY\r\n");
	S(&t, "* CAPABILITY IMAP4rev1\r\na2 OK\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	im = th_first(ev, "imap");
	CHECK(th_alert(ev, "logindisabled_missing") != NULL &&
	    th_alert(ev, "starttls_not_offered") == NULL &&
	    ti_streq(im, "imap.state", "unknown"),
	    "client gap: a list before any unmatched response is judged, "
	    "one after it is not");
	json_object_put(ev);

	/* a capability list after a gap is not judged: state unknown */
	th_clear();
	ti_open(&t, "192.0.2.158", "203.0.113.59", 143);
	S(&t, "* OK ready\r\n");
	C(&t, "a1 LOGIN u p\r\n");
	th_gap(&t, S2C, 20);
	C(&t, "a2 CAPABILITY\r\n");
	S(&t, "* CAPABILITY IMAP4rev1\r\na2 OK\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	CHECK(th_alert(ev, "starttls_not_offered") == NULL &&
	    th_alert(ev, "cleartext_login") != NULL,
	    "after a gap: no posture guess, LOGIN still flagged");
	json_object_put(ev);
}

int
main(void)
{
	th_init();
	test_literals_split_everywhere();
	test_huge_literal();
	test_endless_line();
	test_nul_and_quotes();
	test_big_tag();
	test_pipelined();
	test_bad_literals();
	test_long_line_literal();
	test_gaps();
	return th_done();
}
