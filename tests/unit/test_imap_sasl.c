/* SPDX-License-Identifier: ISC */
/*
 * test_imap_sasl.c - AUTHENTICATE in clear: cleartext_auth, its severity
 * by mechanism, and the identity taken from each SASL exchange, with the
 * RFCs' own examples: RFC 4616 (PLAIN), RFC 4959 (SASL-IR), RFC 2195
 * (CRAM-MD5), RFC 2831 (DIGEST-MD5), RFC 5802 (SCRAM-SHA-1), RFC 7628
 * (OAUTHBEARER), Google's XOAUTH2 and draft-murchison-sasl-login (LOGIN).
 * Every test checks that the password, the token or the digest response
 * never appears, in clear or base64.
 */
#include "test_imap.h"

/* Runs a whole AUTHENTICATE session; returns its events. */
static struct json_object *
run(const char *client, const struct ti_step *steps)
{
	struct th t;

	th_clear();
	ti_open(&t, client, "203.0.113.1", 143);
	S(&t, "* OK IMAP4rev1 Server Ready\r\n");
	ti_replay(&t, steps, 0);
	th_end(&t, IW_END_FIN);
	return th_events();
}

static struct json_object *
auth_alert(struct json_object *ev)
{
	return th_alert(ev, "cleartext_auth");
}

/* RFC 4616 section 4: authzid = authcid = "tim", without SASL-IR. */
static void
test_plain(void)
{
	static const struct ti_step steps[] = {
		{ C2S, "A01 AUTHENTICATE PLAIN\r\n", 0 },
		{ S2C, "+ \r\n", 0 },
		{ C2S, "dGltAHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n", 0 },
		{ S2C, "A01 OK Success\r\n", 0 },
		{ 0, NULL, 0 }
	};
	struct json_object *ev = run("192.0.2.100", steps), *a, *au;

	a = auth_alert(ev);
	CHECK(a != NULL && ti_streq(a, "imap.mechanism", "PLAIN") &&
	    ti_streq(a, "imap.username", "tim") &&
	    ti_streq(a, "imap.status", "OK") &&
	    ti_int(a, "alert.severity") == 1 &&
	    !json_object_get_boolean(th_get(a, "imap.sasl_ir")),
	    "PLAIN: cleartext_auth severity 1, authcid tim, no SASL-IR");
	au = ti_idx(th_first(ev, "imap"), "imap.auth", 0);
	CHECK(ti_streq(au, "command", "AUTHENTICATE") &&
	    ti_streq(au, "mechanism", "PLAIN") &&
	    ti_streq(au, "username", "tim"), "PLAIN attempt in the session");
	CHECK(ti_int(th_first(ev, "imap"), "imap.unparsed_lines") == 0,
	    "PLAIN: the SASL response is not an unparsed command");
	SECRET_ABSENT("tanstaaftanstaaf", "PLAIN password");
	SECRET_ABSENT("dGltAHRpbQB0YW5zdGFhZnRhbnN0YWFm", "PLAIN blob");
	json_object_put(ev);
}

/* RFC 4616 section 4: authzid "Ursel", authcid "Kurt", with SASL-IR
 * (RFC 4959). */
static void
test_plain_ir_authzid(void)
{
	static const struct ti_step steps[] = {
		{ C2S, "A01 AUTHENTICATE PLAIN VXJzZWwAS3VydAB4aXBqM3BsbXE=\r\n",
		    0 },
		{ S2C, "A01 NO Not authorized to requested authorization "
		    "identity\r\n", 0 },
		{ 0, NULL, 0 }
	};
	struct json_object *ev = run("192.0.2.101", steps), *a;

	a = auth_alert(ev);
	CHECK(a != NULL && ti_streq(a, "imap.username", "Kurt") &&
	    ti_streq(a, "imap.authzid", "Ursel") &&
	    ti_streq(a, "imap.status", "NO") &&
	    json_object_get_boolean(th_get(a, "imap.sasl_ir")),
	    "PLAIN SASL-IR: authcid Kurt, authzid Ursel, NO, sasl_ir");
	SECRET_ABSENT("xipj3plmq", "PLAIN password");
	json_object_put(ev);
}

/* RFC 4959 section 3 example: AUTHENTICATE PLAIN with SASL-IR. */
static void
test_sasl_ir_rfc4959(void)
{
	static const struct ti_step steps[] = {
		{ C2S, "A01 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n", 0 },
		{ S2C, "A01 OK Success (tls protection)\r\n", 0 },
		{ 0, NULL, 0 }
	};
	struct json_object *ev = run("192.0.2.102", steps), *im;

	CHECK(ti_streq(auth_alert(ev), "imap.username", "test"),
	    "RFC 4959: username test");
	im = th_first(ev, "imap");
	CHECK(ti_streq(im, "imap.state", "authenticated") &&
	    json_object_get_boolean(th_get(ti_idx(im, "imap.auth", 0),
	    "sasl_ir")), "RFC 4959: authenticated, sasl_ir true");
	CHECK(!th_output_contains("dGVzdAB0ZXN0AHRlc3Q"),
	    "RFC 4959: the SASL-IR blob is not in the output");
	json_object_put(ev);
}

/* LOGIN: "Username:" then "Password:" (draft-murchison-sasl-login). */
static void
test_login_mech(void)
{
	static const struct ti_step steps[] = {
		{ C2S, "a1 AUTHENTICATE LOGIN\r\n", 0 },
		{ S2C, "+ VXNlcm5hbWU6\r\n", 0 },
		{ C2S, "dGlt\r\n", 0 },
		{ S2C, "+ UGFzc3dvcmQ6\r\n", 0 },
		{ C2S, "dGFuc3RhYWZ0YW5zdGFhZg==\r\n", 0 },
		{ S2C, "a1 OK LOGIN completed\r\n", 0 },
		{ 0, NULL, 0 }
	};
	static const struct ti_step ir[] = {
		{ C2S, "a1 AUTHENTICATE LOGIN dGlt\r\n", 0 },
		{ S2C, "+ UGFzc3dvcmQ6\r\n", 0 },
		{ C2S, "dGFuc3RhYWZ0YW5zdGFhZg==\r\n", 0 },
		{ S2C, "a1 OK LOGIN completed\r\n", 0 },
		{ 0, NULL, 0 }
	};
	struct json_object *ev = run("192.0.2.103", steps), *a;

	a = auth_alert(ev);
	CHECK(a != NULL && ti_streq(a, "imap.mechanism", "LOGIN") &&
	    ti_streq(a, "imap.username", "tim") &&
	    ti_int(a, "alert.severity") == 1,
	    "LOGIN mechanism: the response to Username:, severity 1");
	SECRET_ABSENT("tanstaaftanstaaf", "LOGIN mechanism password");
	json_object_put(ev);
	ev = run("192.0.2.103", ir);
	CHECK(ti_streq(auth_alert(ev), "imap.username", "tim") &&
	    json_object_get_boolean(th_get(auth_alert(ev), "imap.sasl_ir")),
	    "LOGIN mechanism with the user name as initial response");
	SECRET_ABSENT("tanstaaftanstaaf", "LOGIN mechanism password (IR)");
	json_object_put(ev);
}

/* RFC 2195 section 2 example: severity 3, user "tim". */
static void
test_cram_md5(void)
{
	static const struct ti_step steps[] = {
		{ C2S, "a0001 AUTHENTICATE CRAM-MD5\r\n", 0 },
		{ S2C, "+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"
		    "\r\n", 0 },
		{ C2S, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n", 0 },
		{ S2C, "a0001 OK CRAM authentication successful\r\n", 0 },
		{ 0, NULL, 0 }
	};
	struct json_object *ev = run("192.0.2.104", steps), *a;

	a = auth_alert(ev);
	CHECK(a != NULL && ti_streq(a, "imap.mechanism", "CRAM-MD5") &&
	    ti_streq(a, "imap.username", "tim") &&
	    ti_int(a, "alert.severity") == 3, "CRAM-MD5: tim, severity 3");
	SECRET_ABSENT("b913a602c7eda7a495b4e6e7334d3890", "CRAM-MD5 digest");
	SECRET_ABSENT("tanstaaftanstaaf", "CRAM-MD5 secret");
	json_object_put(ev);
}

/* RFC 2831 section 4 example (user chris, password secret). */
static void
test_digest_md5(void)
{
	static const char resp[] = "charset=utf-8,username=\"chris\","
	    "realm=\"elwood.innosoft.com\",nonce=\"OA6MG9tEQGm2hh\","
	    "nc=00000001,cnonce=\"OA6MHXh6VqTrRk\","
	    "digest-uri=\"imap/elwood.innosoft.com\","
	    "response=d388dad90d4bbd760a152321f2143af7,qop=auth";
	struct json_object *ev, *a;
	struct th t;

	th_clear();
	ti_open(&t, "192.0.2.105", "203.0.113.1", 143);
	S(&t, "* OK elwood.innosoft.com PMDF IMAP4rev1 V6.0-9\r\n");
	C(&t, "a AUTHENTICATE DIGEST-MD5\r\n");
	S(&t, "+ cmVhbG09ImVsd29vZC5pbm5vc29mdC5jb20iLG5vbmNlPSJPQTZNRzl0RVFH"
	    "bTJoaCIscW9wPSJhdXRoIixhbGdvcml0aG09bWQ1LXNlc3MsY2hhcnNldD11dG"
	    "YtOA==\r\n");
	ti_send_b64(&t, resp, strlen(resp));
	S(&t, "+ cnNwYXV0aD1lYTQwZjYwMzM1YzQyN2I1NTI3Yjg0ZGJhYmNkZmZmZA==\r\n");
	C(&t, "\r\n");
	S(&t, "a OK User logged in\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	a = auth_alert(ev);
	CHECK(a != NULL && ti_streq(a, "imap.username", "chris") &&
	    ti_int(a, "alert.severity") == 3 &&
	    ti_streq(a, "imap.status", "OK"),
	    "DIGEST-MD5: username chris, severity 3");
	SECRET_ABSENT("d388dad90d4bbd760a152321f2143af7", "DIGEST response");
	json_object_put(ev);
}

/* RFC 5802 section 5 example (user "user", password "pencil"). */
static void
test_scram(void)
{
	static const char first[] = "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL";
	static const char final[] = "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHY"
	    "JY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
	static const char s1[] = "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
	    "s=QSXCR+Q6sek8bf92,i=4096";
	char b[256], line[300];
	struct json_object *ev, *a;
	struct th t;

	th_clear();
	ti_open(&t, "192.0.2.106", "203.0.113.1", 143);
	S(&t, "* OK ready\r\n");
	C(&t, "a AUTHENTICATE SCRAM-SHA-1\r\n");
	S(&t, "+ \r\n");
	ti_send_b64(&t, first, strlen(first));
	snprintf(line, sizeof(line), "+ %s\r\n", ti_b64(s1, strlen(s1), b));
	S(&t, line);
	ti_send_b64(&t, final, strlen(final));
	S(&t, "+ dj1ybUY5cHFWOFM3c3VBb1pXamE0ZEpSa0ZzS1E9\r\n");
	C(&t, "\r\n");
	S(&t, "a OK done\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	a = auth_alert(ev);
	CHECK(a != NULL && ti_streq(a, "imap.mechanism", "SCRAM-SHA-1") &&
	    ti_streq(a, "imap.username", "user") &&
	    ti_int(a, "alert.severity") == 3, "SCRAM-SHA-1: n=user, severity 3");
	SECRET_ABSENT("v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", "SCRAM proof");
	SECRET_ABSENT("pencil", "SCRAM password");
	json_object_put(ev);
}

/* RFC 7628 section 4.1 example, with SASL-IR. */
static void
test_oauthbearer(void)
{
	static const struct ti_step steps[] = {
		{ C2S, "a AUTHENTICATE OAUTHBEARER bixhPXVzZXJAZXhhbXBsZS5jb20sAWh"
		    "vc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZG"
		    "OWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB\r\n",
		    0 },
		{ S2C, "a OK Success\r\n", 0 },
		{ 0, NULL, 0 }
	};
	struct json_object *ev = run("192.0.2.107", steps), *a;

	a = auth_alert(ev);
	CHECK(a != NULL && ti_streq(a, "imap.mechanism", "OAUTHBEARER") &&
	    ti_streq(a, "imap.username", "user@example.com") &&
	    ti_int(a, "alert.severity") == 1,
	    "OAUTHBEARER: a=user@example.com, severity 1");
	SECRET_ABSENT("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
	    "OAUTHBEARER token");
	CHECK(!th_output_contains("server.example.com"),
	    "OAUTHBEARER: nothing but the user is kept");
	json_object_put(ev);
}

/* XOAUTH2 (Google), without SASL-IR, then the error challenge. */
static void
test_xoauth2(void)
{
	static const char msg[] = "user=someuser@example.com\001auth=Bearer "
	    "ya29.vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg\001\001";
	struct json_object *ev, *a;
	struct th t;

	th_clear();
	ti_open(&t, "192.0.2.108", "203.0.113.1", 143);
	S(&t, "* OK Gimap ready\r\n");
	C(&t, "a AUTHENTICATE XOAUTH2\r\n");
	S(&t, "+ \r\n");
	ti_send_b64(&t, msg, strlen(msg));
	S(&t, "+ eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIG1hYyIsInNjb3Bl"
	    "IjoiaHR0cHM6Ly9tYWlsLmdvb2dsZS5jb20vIn0K\r\n");
	C(&t, "\r\n");
	S(&t, "a NO SASL authentication failed\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	a = auth_alert(ev);
	CHECK(a != NULL && ti_streq(a, "imap.username",
	    "someuser@example.com") && ti_streq(a, "imap.status", "NO") &&
	    ti_int(a, "alert.severity") == 1, "XOAUTH2: user=, NO, severity 1");
	SECRET_ABSENT("ya29.vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg",
	    "XOAUTH2 token");
	json_object_put(ev);
}

static size_t
put16(uint8_t *p, size_t off, uint16_t v)
{
	p[off] = (uint8_t)v;
	p[off + 1] = (uint8_t)(v >> 8);
	return off + 2;
}

static size_t
put32(uint8_t *p, size_t off, uint32_t v)
{
	off = put16(p, off, (uint16_t)v);
	return put16(p, off, (uint16_t)(v >> 16));
}

/* An NTLM type 3 message ([MS-NLMP] 2.2.1.3) for DOM\alice, unicode. */
static size_t
ntlm_type3(uint8_t *m)
{
	static const char *fields[] = { "", "", "DOM", "alice", "WS" };
	size_t off = 8, pay = 64, i, j, n;

	memset(m, 0, 256);
	memcpy(m, "NTLMSSP", 8);
	off = put32(m, off, 3);
	for (i = 0; i < 5; i++) {
		n = strlen(fields[i]);
		off = put16(m, off, (uint16_t)(2 * n));
		off = put16(m, off, (uint16_t)(2 * n));
		off = put32(m, off, (uint32_t)pay);
		for (j = 0; j < n; j++) {
			m[pay++] = (uint8_t)fields[i][j];
			m[pay++] = 0;
		}
	}
	off += 8;			/* session key fields */
	put32(m, off, 0x1);		/* NTLMSSP_NEGOTIATE_UNICODE */
	return pay;
}

static void
test_ntlm_unknown_none(void)
{
	static const struct ti_step xfoo[] = {
		{ C2S, "a AUTHENTICATE X-FOO Zm9v\r\n", 0 },
		{ S2C, "a NO unknown\r\n", 0 },
		{ 0, NULL, 0 }
	};
	static const struct ti_step anon[] = {
		{ C2S, "a AUTHENTICATE ANONYMOUS\r\n", 0 },
		{ S2C, "+ \r\n", 0 },
		{ C2S, "c2lyaGMxMjNAZXhhbXBsZS5jb20=\r\n", 0 },
		{ S2C, "a OK welcome\r\n", 0 },
		{ C2S, "b AUTHENTICATE EXTERNAL =\r\n", 0 },
		{ S2C, "b NO no\r\n", 0 },
		{ 0, NULL, 0 }
	};
	uint8_t m[256];
	struct json_object *ev, *a;
	struct th t;
	size_t n = ntlm_type3(m);

	th_clear();
	ti_open(&t, "192.0.2.109", "203.0.113.1", 143);
	S(&t, "* OK ready\r\n");
	C(&t, "a AUTHENTICATE NTLM\r\n");
	S(&t, "+ \r\n");
	C(&t, "TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==\r\n");
	S(&t, "+ TlRMTVNTUAACAAAAAAAAACgAAAABggAAU3J2Tm9uY2UAAAAAAAAAAA==\r\n");
	ti_send_b64(&t, m, n);
	S(&t, "a OK done\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	a = auth_alert(ev);
	CHECK(a != NULL && ti_streq(a, "imap.mechanism", "NTLM") &&
	    ti_streq(a, "imap.username", "alice") &&
	    ti_int(a, "alert.severity") == 2,
	    "NTLM: type 3 user name, severity 2");
	json_object_put(ev);

	ev = run("192.0.2.110", xfoo);
	CHECK(ti_int(auth_alert(ev), "alert.severity") == 2 &&
	    ti_streq(auth_alert(ev), "imap.mechanism", "X-FOO"),
	    "unknown mechanism: severity 2");
	json_object_put(ev);

	ev = run("192.0.2.111", anon);
	CHECK(auth_alert(ev) == NULL,
	    "ANONYMOUS and EXTERNAL: no cleartext_auth");
	CHECK(json_object_array_length(th_get(th_first(ev, "imap"),
	    "imap.auth")) == 2, "... but both attempts are recorded");
	json_object_put(ev);
}

/* A client that cancels ("*") and then LOGINs. */
static void
test_cancel(void)
{
	static const struct ti_step steps[] = {
		{ C2S, "a AUTHENTICATE PLAIN\r\n", 0 },
		{ S2C, "+ \r\n", 0 },
		{ C2S, "*\r\n", 0 },
		{ S2C, "a BAD AUTHENTICATE cancelled\r\n", 0 },
		{ C2S, "b LOGIN joe j0es3cret\r\n", 0 },
		{ S2C, "b OK\r\n", 0 },
		{ 0, NULL, 0 }
	};
	struct json_object *ev = run("192.0.2.112", steps), *im;

	CHECK(ti_streq(auth_alert(ev), "imap.status", "BAD") &&
	    th_get(auth_alert(ev), "imap.username") == NULL,
	    "cancelled AUTHENTICATE: BAD, no user");
	CHECK(ti_streq(th_alert(ev, "cleartext_login"), "imap.username",
	    "joe"), "then LOGIN parsed as a command");
	im = th_first(ev, "imap");
	CHECK(ti_int(im, "imap.commands.total") == 2 &&
	    ti_int(im, "imap.unparsed_lines") == 0, "two commands, no junk");
	SECRET_ABSENT("j0es3cret", "LOGIN password");
	json_object_put(ev);
}

/* AUTHENTICATE never answered: raised at the end. */
static void
test_auth_no_answer(void)
{
	static const struct ti_step steps[] = {
		{ C2S, "a AUTHENTICATE PLAIN AGJvYgBzd29yZGZpc2g=\r\n", 0 },
		{ 0, NULL, 0 }
	};
	struct json_object *ev = run("192.0.2.113", steps);

	CHECK(ti_streq(auth_alert(ev), "imap.username", "bob") &&
	    th_get(auth_alert(ev), "imap.status") == NULL,
	    "unanswered AUTHENTICATE: raised at end, no status");
	SECRET_ABSENT("swordfish", "PLAIN password");
	json_object_put(ev);
}

int
main(void)
{
	th_init();
	test_plain();
	test_plain_ir_authzid();
	test_sasl_ir_rfc4959();
	test_login_mech();
	test_cram_md5();
	test_digest_md5();
	test_scram();
	test_oauthbearer();
	test_xoauth2();
	test_ntlm_unknown_none();
	test_cancel();
	test_auth_no_answer();
	return th_done();
}
