/* SPDX-License-Identifier: ISC */
/*
 * test_imap.c - the IMAP dissector on byte strings: probing, the session
 * event, and the posture and LOGIN findings, each positive and negative.
 * Exchanges and expected values are those of the RFCs' examples (RFC 3501
 * and 9051, RFC 2971 ID, RFC 2177 IDLE, RFC 5161 ENABLE, RFC 5530 codes).
 */
#include "test_imap.h"

static enum iw_probe
probe(enum iw_dir d, const char *s)
{
	struct iw_endpoints ep;

	memset(&ep, 0, sizeof(ep));
	ep.sport = 143;
	return iw_imap_dissector.probe(d, (const uint8_t *)s, strlen(s), &ep);
}

static void
test_probe(void)
{
	char big[700];
	uint8_t hello[128];
	struct iw_endpoints ep;
	size_t n;

	CHECK(probe(S2C, "* OK IMAP4rev1 Service Ready\r\n") ==
	    IW_PROBE_MATCH, "probe: * OK greeting");
	CHECK(probe(S2C, "* PREAUTH IMAP4rev1 server logged in as Smith\r\n")
	    == IW_PROBE_MATCH, "probe: * PREAUTH greeting");
	CHECK(probe(S2C, "* BYE Autologout; idle for too long\r\n") ==
	    IW_PROBE_MATCH, "probe: * BYE greeting");
	CHECK(probe(S2C, "* OK ") == IW_PROBE_MATCH,
	    "probe: * OK SP is enough");
	CHECK(probe(S2C, "* 12 EXISTS\r\n") == IW_PROBE_MATCH,
	    "probe: * 12 EXISTS mid-stream");
	CHECK(probe(S2C, "* 3 FETCH (FLAGS (\\Seen))\r\n") == IW_PROBE_MATCH,
	    "probe: * 3 FETCH ( mid-stream");
	CHECK(probe(S2C, "* CAPABILITY IMAP4rev1 STARTTLS\r\n") ==
	    IW_PROBE_MATCH, "probe: * CAPABILITY");
	CHECK(probe(S2C, "* LIST (\\Noselect) \"/\" ~/Mail/foo\r\n") ==
	    IW_PROBE_MATCH, "probe: * LIST (");
	CHECK(probe(S2C, "A001 OK LOGIN completed\r\n") == IW_PROBE_MATCH,
	    "probe: tagged OK");
	CHECK(probe(S2C, "a1 NO [AUTHENTICATIONFAILED] x\r\n") ==
	    IW_PROBE_MATCH, "probe: tagged NO");
	CHECK(probe(C2S, "a001 LOGIN SMITH SESAME\r\n") == IW_PROBE_MATCH,
	    "probe: client LOGIN");
	CHECK(probe(C2S, "a1 capability\r\n") == IW_PROBE_MATCH,
	    "probe: client command, any case, then CRLF");
	CHECK(probe(C2S, "A142 SELECT INBOX\r\n") == IW_PROBE_MATCH,
	    "probe: client SELECT");
	CHECK(probe(S2C, "* O") == IW_PROBE_MORE, "probe: * O needs more");
	CHECK(probe(S2C, "*") == IW_PROBE_MORE, "probe: * needs more");
	CHECK(probe(C2S, "a1 LOG") == IW_PROBE_MORE, "probe: a1 LOG needs more");
	CHECK(probe(S2C, "+OK POP3 server ready\r\n") == IW_PROBE_NO,
	    "probe: POP3 greeting is not IMAP");
	CHECK(probe(S2C, "+OK") == IW_PROBE_NO, "probe: +OK at once");
	CHECK(probe(S2C, "220 mail.example.com ESMTP Postfix\r\n") ==
	    IW_PROBE_NO, "probe: SMTP greeting is not IMAP");
	CHECK(probe(S2C, "220 ") == IW_PROBE_NO, "probe: 220 SP at once");
	CHECK(probe(S2C, "HTTP/1.1 200 OK\r\n") == IW_PROBE_NO,
	    "probe: HTTP response is not IMAP");
	CHECK(probe(C2S, "GET / HTTP/1.1\r\n") == IW_PROBE_NO,
	    "probe: HTTP request is not IMAP");
	CHECK(probe(C2S, "EHLO client.example\r\n") == IW_PROBE_NO,
	    "probe: SMTP EHLO is not IMAP");
	CHECK(probe(C2S, "USER bob\r\n") == IW_PROBE_NO,
	    "probe: POP3 USER is not IMAP");
	CHECK(probe(C2S, "CAPA\r\n") == IW_PROBE_NO, "probe: POP3 CAPA");
	CHECK(probe(S2C, "* FOO bar\r\n") == IW_PROBE_NO,
	    "probe: unknown untagged keyword");
	CHECK(probe(C2S, "* OK IMAP4rev1 Service Ready\r\n") ==
	    IW_PROBE_MATCH_REVERSED && probe(C2S, "A001 OK done\r\n") ==
	    IW_PROBE_MATCH_REVERSED, "probe: server lines from the "
	    "\"client\": roles reversed");
	CHECK(probe(S2C, "a001 LOGIN SMITH SESAME\r\n") ==
	    IW_PROBE_MATCH_REVERSED, "probe: a command from the \"server\": "
	    "roles reversed");
	n = ti_client_hello(hello, "imap.example.test");
	memset(&ep, 0, sizeof(ep));
	CHECK(iw_imap_dissector.probe(C2S, hello, n, &ep) == IW_PROBE_NO &&
	    iw_imap_dissector.probe(C2S, hello, 1, &ep) == IW_PROBE_NO,
	    "probe: a TLS ClientHello is not IMAP, from its first byte");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(probe(C2S, big) == IW_PROBE_NO,
	    "probe: 700 bytes without a line end is not IMAP");
}

/* A POP3 stream on 143 is dropped from IMAP analysis. */
static void
test_not_imap_on_143(void)
{
	struct json_object *ev;
	struct th t;

	th_clear();
	ti_open(&t, "192.0.2.10", "198.51.100.1", 143);
	S(&t, "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n");
	C(&t, "USER mrose\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	CHECK(th_count(ev, "imap") == 0 && th_count(ev, "alert") == 0,
	    "POP3 on port 143: no imap event, no alert");
	json_object_put(ev);
}

/* RFC 3501 6.2.3: a001 LOGIN SMITH SESAME. */
static void
test_cleartext_login(void)
{
	struct json_object *ev, *a, *im, *au;
	struct th t;

	th_clear();
	ti_open(&t, "192.0.2.10", "198.51.100.2", 143);
	S(&t, "* OK IMAP4rev1 Service Ready\r\n");
	C(&t, "a001 LOGIN SMITH SESAME\r\n");
	S(&t, "a001 OK LOGIN completed\r\n");
	C(&t, "a002 LOGOUT\r\n");
	S(&t, "* BYE IMAP4rev1 Server logging out\r\n"
	    "a002 OK LOGOUT completed\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	a = th_alert(ev, "cleartext_login");
	CHECK(a != NULL, "cleartext_login raised");
	CHECK(ti_streq(a, "imap.username", "SMITH") &&
	    ti_streq(a, "imap.tag", "a001") &&
	    ti_streq(a, "imap.command", "LOGIN") &&
	    ti_streq(a, "imap.status", "OK"),
	    "cleartext_login evidence: tag, command, username, status");
	CHECK(ti_int(a, "alert.severity") == 1 &&
	    ti_int(a, "alert.signature_id") == 1, "cleartext_login severity 1");
	im = th_first(ev, "imap");
	CHECK(im != NULL && ti_streq(im, "imap.mode", "cleartext"),
	    "imap event, mode cleartext");
	CHECK(ti_streq(im, "imap.greeting.status", "OK") &&
	    ti_streq(im, "imap.greeting.text", "IMAP4rev1 Service Ready"),
	    "greeting status and text");
	au = ti_idx(im, "imap.auth", 0);
	CHECK(au != NULL && ti_streq(au, "command", "LOGIN") &&
	    ti_streq(au, "username", "SMITH") && ti_streq(au, "status", "OK")
	    && json_object_get_boolean(th_get(au, "encrypted")) == 0,
	    "auth attempt recorded, not encrypted");
	CHECK(ti_streq(im, "imap.state", "logout"), "state logout at the end");
	CHECK(ti_int(im, "imap.commands.total") == 2 &&
	    ti_int(im, "imap.commands.by_name.LOGIN") == 1 &&
	    ti_int(im, "imap.commands.by_name.LOGOUT") == 1,
	    "commands counted by name");
	CHECK(ti_int(im, "imap.unparsed_lines") == 0 &&
	    ti_int(im, "imap.unmatched_responses") == 0,
	    "every line parsed, every response matched");
	CHECK(th_alert(ev, "starttls_not_offered") == NULL &&
	    th_alert(ev, "logindisabled_missing") == NULL,
	    "no posture finding without a capability list");
	CHECK(ti_has(im, "imap.findings", "cleartext_login"),
	    "session lists the finding");
	SECRET_ABSENT("SESAME", "LOGIN password");
	json_object_put(ev);
}

/* RFC 5530: a failed LOGIN still sent the password; code kept. */
static void
test_login_failed_code(void)
{
	struct json_object *ev, *a;
	struct th t;

	th_clear();
	ti_open(&t, "192.0.2.11", "198.51.100.2", 143);
	S(&t, "* OK IMAP4rev1 Service Ready\r\n");
	C(&t, "a LOGIN \"fred\" \"foo \\\"bar\\\"\"\r\n");
	S(&t, "a NO [AUTHENTICATIONFAILED] Authentication failed\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	a = th_alert(ev, "cleartext_login");
	CHECK(a != NULL && ti_streq(a, "imap.username", "fred") &&
	    ti_streq(a, "imap.status", "NO") &&
	    ti_streq(a, "imap.code", "AUTHENTICATIONFAILED"),
	    "quoted LOGIN: username, NO and response code");
	SECRET_ABSENT("foo \\\"bar", "quoted password");
	SECRET_ABSENT("foo \"bar", "unescaped quoted password");
	json_object_put(ev);
}

/* No tagged response: raised at the end, without status. */
static void
test_login_no_response(void)
{
	struct json_object *ev, *a;
	struct th t;

	th_clear();
	ti_open(&t, "192.0.2.12", "198.51.100.2", 143);
	S(&t, "* OK ready\r\n");
	C(&t, "x1 login alice s3cr3t-pw\r\n");
	th_end(&t, IW_END_RST);
	ev = th_events();
	a = th_alert(ev, "cleartext_login");
	CHECK(a != NULL && ti_streq(a, "imap.username", "alice") &&
	    th_get(a, "imap.status") == NULL,
	    "LOGIN without answer: raised at end, no status");
	SECRET_ABSENT("s3cr3t-pw", "LOGIN password");
	json_object_put(ev);
}

static void
test_no_login_no_finding(void)
{
	struct json_object *ev;
	struct th t;

	th_clear();
	ti_open(&t, "192.0.2.13", "198.51.100.2", 143);
	S(&t, "* OK IMAP4rev1 Service Ready\r\n");
	C(&t, "a1 NOOP\r\n");
	S(&t, "a1 OK NOOP completed\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	CHECK(th_count(ev, "alert") == 0, "NOOP only: no alert");
	CHECK(th_count(ev, "imap") == 1, "one imap event");
	json_object_put(ev);
}

/* RFC 3501 7.1.4 PREAUTH. */
static void
test_preauth(void)
{
	struct json_object *ev, *a, *im;
	struct th t;

	th_clear();
	ti_open(&t, "192.0.2.14", "198.51.100.3", 143);
	S(&t, "* PREAUTH [CAPABILITY IMAP4rev1] IMAP4rev1 server logged in "
	    "as Smith\r\n");
	C(&t, "a1 SELECT INBOX\r\n");
	S(&t, "* 18 EXISTS\r\n* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"
	    "a1 OK [READ-WRITE] SELECT completed\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	a = th_alert(ev, "preauth_on_cleartext");
	CHECK(a != NULL && ti_streq(a, "imap.status", "PREAUTH"),
	    "preauth_on_cleartext raised");
	CHECK(th_alert(ev, "starttls_not_offered") == NULL,
	    "PREAUTH capability list does not count for starttls_not_offered");
	im = th_first(ev, "imap");
	CHECK(ti_streq(im, "imap.state", "selected") &&
	    ti_streq(im, "imap.greeting.status", "PREAUTH") &&
	    th_get(im, "imap.capabilities_after_login") != NULL &&
	    th_get(im, "imap.capabilities") == NULL,
	    "PREAUTH: state selected, caps recorded as after login");
	json_object_put(ev);

	th_clear();
	ti_open(&t, "192.0.2.14", "198.51.100.3", 143);
	S(&t, "* OK IMAP4rev1 Service Ready\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	CHECK(th_alert(ev, "preauth_on_cleartext") == NULL,
	    "OK greeting: no preauth_on_cleartext");
	json_object_put(ev);
}

/* Posture from the greeting's capability list. */
static struct json_object *
greet(const char *server, const char *greeting)
{
	struct th t;

	th_clear();
	ti_open(&t, "192.0.2.20", server, 143);
	S(&t, greeting);
	th_end(&t, IW_END_FIN);
	return th_events();
}

static void
test_posture(void)
{
	struct json_object *ev, *a;

	ev = greet("198.51.100.10", "* OK [CAPABILITY IMAP4rev1 STARTTLS "
	    "AUTH=PLAIN] ready\r\n");
	a = th_alert(ev, "logindisabled_missing");
	CHECK(a != NULL && ti_has(a, "imap.capabilities", "STARTTLS") &&
	    ti_int(a, "alert.severity") == 2,
	    "logindisabled_missing: STARTTLS without LOGINDISABLED");
	CHECK(th_alert(ev, "starttls_not_offered") == NULL,
	    "STARTTLS offered: no starttls_not_offered");
	CHECK(ti_has(th_first(ev, "imap"), "imap.greeting.capabilities",
	    "AUTH=PLAIN") && json_object_get_boolean(th_get(th_first(ev,
	    "imap"), "imap.starttls_offered")),
	    "greeting capabilities reported, starttls_offered true");
	json_object_put(ev);

	ev = greet("198.51.100.11", "* OK [CAPABILITY IMAP4rev1 STARTTLS "
	    "LOGINDISABLED AUTH=GSSAPI] ready\r\n");
	CHECK(th_alert(ev, "logindisabled_missing") == NULL &&
	    th_count(ev, "alert") == 0,
	    "STARTTLS and LOGINDISABLED: no posture finding");
	CHECK(json_object_get_boolean(th_get(th_first(ev, "imap"),
	    "imap.logindisabled")), "logindisabled true");
	json_object_put(ev);

	ev = greet("198.51.100.12", "* OK [CAPABILITY IMAP4rev1 "
	    "AUTH=PLAIN] ready\r\n");
	a = th_alert(ev, "starttls_not_offered");
	CHECK(a != NULL && ti_has(a, "imap.capabilities", "AUTH=PLAIN"),
	    "starttls_not_offered raised with the list");
	CHECK(th_alert(ev, "logindisabled_missing") == NULL,
	    "no STARTTLS: logindisabled_missing does not apply");
	json_object_put(ev);

	ev = greet("198.51.100.13", "* OK IMAP4rev1 Service Ready\r\n");
	CHECK(th_count(ev, "alert") == 0,
	    "greeting without capabilities: no posture finding");
	json_object_put(ev);
}

/* A CAPABILITY command's answer; the list after login never counts. */
static void
test_posture_capability_command(void)
{
	struct json_object *ev, *im;
	struct th t;

	th_clear();
	ti_open(&t, "192.0.2.21", "198.51.100.14", 143);
	S(&t, "* OK IMAP4rev1 Service Ready\r\n");
	C(&t, "abcd CAPABILITY\r\n");
	S(&t, "* CAPABILITY IMAP4rev1 STARTTLS AUTH=GSSAPI LOGINDISABLED\r\n"
	    "abcd OK CAPABILITY completed\r\n");
	C(&t, "efgh STARTTLS\r\n");
	S(&t, "efgh NO [UNAVAILABLE] not now\r\n");
	C(&t, "a1 AUTHENTICATE GSSAPI\r\n");
	S(&t, "+ \r\n");
	C(&t, "YIIB+wYJKoZIhvcSAQICAQBuggHqMIIB5qADAgEFoQMCAQ6iBwMFACAAAACj\r\n");
	S(&t, "a1 OK [CAPABILITY IMAP4rev1 IDLE] GSSAPI done\r\n");
	C(&t, "a2 CAPABILITY\r\n");
	S(&t, "* CAPABILITY IMAP4rev1 IDLE UIDPLUS\r\na2 OK done\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	CHECK(th_alert(ev, "starttls_not_offered") == NULL &&
	    th_alert(ev, "logindisabled_missing") == NULL,
	    "capability lists after login do not count");
	CHECK(th_alert(ev, "cleartext_auth") == NULL,
	    "AUTHENTICATE GSSAPI: no cleartext_auth");
	im = th_first(ev, "imap");
	CHECK(ti_has(im, "imap.capabilities", "LOGINDISABLED") &&
	    ti_has(im, "imap.capabilities_after_login", "UIDPLUS"),
	    "pre-login and post-login lists reported apart");
	CHECK(ti_streq(ti_idx(im, "imap.auth", 0), "mechanism", "GSSAPI") &&
	    ti_streq(ti_idx(im, "imap.auth", 0), "status", "OK"),
	    "GSSAPI attempt recorded");
	json_object_put(ev);
}

/* The post-login list sent untagged before the OK to LOGIN. */
static void
test_caps_before_login_ok(void)
{
	struct json_object *ev, *im;
	struct th t;

	th_clear();
	ti_open(&t, "192.0.2.21", "198.51.100.16", 143);
	S(&t, "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n");
	C(&t, "a1 AUTHENTICATE GSSAPI\r\n");
	S(&t, "+ \r\n");
	C(&t, "YIIB+wYJKoZIhvcSAQICAQBuggHqMIIB5qADAgEFoQMCAQ6iBwMFACAAAACj\r\n");
	S(&t, "* CAPABILITY IMAP4rev1 IDLE\r\na1 OK GSSAPI done\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	CHECK(th_alert(ev, "starttls_not_offered") == NULL,
	    "untagged list before the OK to AUTHENTICATE: after login");
	im = th_first(ev, "imap");
	CHECK(ti_has(im, "imap.capabilities_after_login", "IDLE") &&
	    ti_has(im, "imap.capabilities", "LOGINDISABLED"),
	    "... reported as the post-login list");
	json_object_put(ev);

	th_clear();
	ti_open(&t, "192.0.2.21", "198.51.100.17", 143);
	S(&t, "* OK ready\r\n");
	C(&t, "a1 LOGIN joe pw\r\n");
	S(&t, "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na1 NO bad password\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	CHECK(th_alert(ev, "starttls_not_offered") != NULL,
	    "... but after a NO it was the not-authenticated list");
	json_object_put(ev);
}

/* Mid-stream: nothing the bytes do not show. */
static void
test_midstream_no_posture(void)
{
	struct json_object *ev;
	struct th t;

	th_clear();
	ti_open(&t, "192.0.2.22", "198.51.100.15", 143);
	S(&t, "* 22 EXISTS\r\n");
	C(&t, "a7 CAPABILITY\r\n");
	S(&t, "* CAPABILITY IMAP4rev1 IDLE\r\na7 OK done\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	CHECK(th_count(ev, "imap") == 1 && th_count(ev, "alert") == 0,
	    "mid-stream capability list: no posture finding");
	CHECK(th_get(th_first(ev, "imap"), "imap.greeting") == NULL &&
	    ti_streq(th_first(ev, "imap"), "imap.state", "unknown"),
	    "mid-stream: no greeting, state unknown");
	json_object_put(ev);

	/* a first untagged OK with a SELECT-only code is not a greeting */
	th_clear();
	ti_open(&t, "192.0.2.22", "198.51.100.15", 143);
	S(&t, "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n");
	C(&t, "a8 CAPABILITY\r\n");
	S(&t, "* CAPABILITY IMAP4rev1 IDLE\r\na8 OK done\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	CHECK(th_count(ev, "alert") == 0,
	    "mid-stream untagged OK [UIDVALIDITY]: not a greeting");
	json_object_put(ev);
}

static void
test_stripping(void)
{
	struct json_object *ev, *a;

	ev = greet("198.51.100.30", "* OK [CAPABILITY IMAP4rev1 STARTTLS "
	    "LOGINDISABLED] ready\r\n");
	CHECK(th_count(ev, "alert") == 0, "first session offers STARTTLS");
	json_object_put(ev);
	ev = greet("198.51.100.30", "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] "
	    "ready\r\n");
	a = th_alert(ev, "starttls_stripping_suspected");
	CHECK(a != NULL && ti_int(a, "alert.severity") == 1 &&
	    ti_has(a, "imap.capabilities", "IMAP4rev1"),
	    "same server without STARTTLS: starttls_stripping_suspected");
	CHECK(th_alert(ev, "starttls_not_offered") != NULL,
	    "... and starttls_not_offered");
	json_object_put(ev);

	ev = greet("198.51.100.31", "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] "
	    "ready\r\n");
	CHECK(th_alert(ev, "starttls_stripping_suspected") == NULL,
	    "a server never seen offering STARTTLS: no stripping");
	json_object_put(ev);
}

static void
test_stripping_other_port(void)
{
	struct json_object *ev;
	struct th t;

	ev = greet("198.51.100.32", "* OK [CAPABILITY IMAP4rev1 STARTTLS "
	    "LOGINDISABLED] ready\r\n");
	json_object_put(ev);
	th_clear();
	ti_open(&t, "192.0.2.20", "198.51.100.32", 1143);
	S(&t, "* OK [CAPABILITY IMAP4rev1] ready\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	CHECK(th_alert(ev, "starttls_stripping_suspected") == NULL &&
	    th_alert(ev, "starttls_not_offered") != NULL,
	    "same address, other port: no stripping (IMAP found on 1143)");
	json_object_put(ev);

	/* STARTTLS then no STARTTLS in one session is not "earlier" */
	th_clear();
	ti_open(&t, "192.0.2.20", "198.51.100.33", 143);
	S(&t, "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n");
	C(&t, "a CAPABILITY\r\n");
	S(&t, "* CAPABILITY IMAP4rev1\r\na OK\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	CHECK(th_alert(ev, "starttls_stripping_suspected") == NULL,
	    "within one session: no stripping");
	json_object_put(ev);
}

static void
test_login_despite_logindisabled(void)
{
	struct json_object *ev, *a;
	struct th t;

	th_clear();
	ti_open(&t, "192.0.2.23", "198.51.100.40", 143);
	S(&t, "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n");
	C(&t, "a1 LOGIN bob hunter2\r\n");
	S(&t, "a1 NO [PRIVACYREQUIRED] Connection is not private\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	a = th_alert(ev, "login_despite_logindisabled");
	CHECK(a != NULL && ti_streq(a, "imap.username", "bob") &&
	    ti_streq(a, "imap.tag", "a1"),
	    "login_despite_logindisabled raised with username");
	a = th_alert(ev, "cleartext_login");
	CHECK(a != NULL && ti_streq(a, "imap.code", "PRIVACYREQUIRED") &&
	    ti_streq(a, "imap.status", "NO"),
	    "cleartext_login carries PRIVACYREQUIRED");
	CHECK(th_alert(ev, "starttls_not_used") != NULL,
	    "STARTTLS offered and not used");
	SECRET_ABSENT("hunter2", "LOGIN password");
	json_object_put(ev);

	th_clear();
	ti_open(&t, "192.0.2.23", "198.51.100.41", 143);
	S(&t, "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n");
	C(&t, "a1 LOGIN bob hunter2\r\n");
	S(&t, "a1 OK done\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	CHECK(th_alert(ev, "login_despite_logindisabled") == NULL,
	    "no LOGINDISABLED: no login_despite_logindisabled");
	json_object_put(ev);
}

static void
test_starttls_not_used(void)
{
	struct json_object *ev, *a;
	struct th t;

	th_clear();
	ti_open(&t, "192.0.2.24", "198.51.100.42", 143);
	S(&t, "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n");
	C(&t, "a1 SELECT INBOX\r\n");
	S(&t, "a1 NO not authenticated\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	a = th_alert(ev, "starttls_not_used");
	CHECK(a != NULL && ti_streq(a, "imap.command", "SELECT"),
	    "SELECT in clear with STARTTLS offered: starttls_not_used");
	json_object_put(ev);

	th_clear();
	ti_open(&t, "192.0.2.24", "198.51.100.43", 143);
	S(&t, "* OK [CAPABILITY IMAP4rev1] ready\r\n");
	C(&t, "a1 LOGIN bob pw\r\n");
	S(&t, "a1 OK done\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	CHECK(th_alert(ev, "starttls_not_used") == NULL,
	    "STARTTLS not offered: no starttls_not_used");
	json_object_put(ev);
}

static void
test_imaps_port(void)
{
	struct json_object *ev, *a;
	struct th t;

	th_clear();
	ti_open(&t, "192.0.2.25", "198.51.100.50", 993);
	S(&t, "* OK IMAP4rev1 Service Ready\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	a = th_alert(ev, "cleartext_on_imaps_port");
	CHECK(a != NULL && ti_int(a, "imap.port") == 993 &&
	    ti_int(a, "alert.severity") == 2,
	    "cleartext_on_imaps_port on 993");
	json_object_put(ev);

	ev = greet("198.51.100.51", "* OK IMAP4rev1 Service Ready\r\n");
	CHECK(th_alert(ev, "cleartext_on_imaps_port") == NULL,
	    "port 143: no cleartext_on_imaps_port");
	json_object_put(ev);
}

/* Failed logins from one client, each in its own session. */
static int
bruteforce_run(const char *client, int sessions, iw_time step)
{
	struct json_object *ev;
	struct th t;
	iw_time ts = 1764382822LL * IW_USEC;
	int i, alerts = 0;

	for (i = 0; i < sessions; i++) {
		th_clear();
		ti_open(&t, client, "198.51.100.60", 143);
		t.ts = ts + (iw_time)i * step;
		S(&t, "* OK ready\r\n");
		C(&t, "a1 LOGIN admin letmein\r\n");
		S(&t, "a1 NO [AUTHENTICATIONFAILED] Authentication failed\r\n");
		th_end(&t, IW_END_FIN);
		ev = th_events();
		alerts += ti_nalerts(ev, "auth_bruteforce");
		if (th_alert(ev, "auth_bruteforce") != NULL)
			CHECK(ti_int(th_alert(ev, "auth_bruteforce"),
			    "imap.count") == 10 && ti_int(th_alert(ev,
			    "auth_bruteforce"), "imap.window") == 60 &&
			    i == 9, "auth_bruteforce in the 10th session, "
			    "count and window");
		json_object_put(ev);
	}
	return alerts;
}

static void
test_bruteforce(void)
{
	struct json_object *ev;
	struct th t;
	int i;

	CHECK(bruteforce_run("192.0.2.50", 10, IW_USEC) == 1,
	    "10 failures in 10 s: one auth_bruteforce");
	CHECK(bruteforce_run("192.0.2.51", 9, IW_USEC) == 0,
	    "9 failures: none");
	CHECK(bruteforce_run("192.0.2.52", 10, 7 * IW_USEC) == 0,
	    "10 failures over 63 s: none (window 60 s)");
	/* ten in one session */
	th_clear();
	ti_open(&t, "192.0.2.53", "198.51.100.60", 143);
	S(&t, "* OK ready\r\n");
	for (i = 0; i < 12; i++) {
		C(&t, "a1 LOGIN admin letmein\r\n");
		S(&t, "a1 NO [AUTHENTICATIONFAILED] Authentication failed\r\n");
	}
	th_end(&t, IW_END_FIN);
	ev = th_events();
	CHECK(ti_nalerts(ev, "auth_bruteforce") == 1,
	    "12 failures in one session: one alert");
	CHECK(ti_int(th_first(ev, "imap"), "imap.auth_attempts") == 12 &&
	    json_object_array_length(th_get(th_first(ev, "imap"),
	    "imap.auth")) == 8, "auth list bounded, total counted");
	SECRET_ABSENT("letmein", "password");
	json_object_put(ev);
}

/* RFC 2971 examples. */
static void
test_id(void)
{
	struct json_object *ev, *im;
	struct th t;

	th_clear();
	ti_open(&t, "192.0.2.26", "198.51.100.70", 143);
	S(&t, "* OK ready\r\n");
	C(&t, "a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" "
	    "\"Pink Floyd Music Limited\")\r\n");
	S(&t, "* ID NIL\r\na023 OK ID completed\r\n");
	C(&t, "a042 ID NIL\r\n");
	S(&t, "* ID (\"name\" \"Cyrus\" \"version\" \"1.5\" \"os\" \"sunos\" "
	    "\"os-version\" \"5.5\" \"support-url\" "
	    "\"mailto:cyrus-bugs+@andrew.cmu.edu\")\r\n"
	    "a042 OK ID command completed\r\n");
	C(&t, "a043 ID (\"name\" {11}\r\n");
	S(&t, "+ go\r\n");
	C(&t, "Thunderbird \"os\" NIL)\r\n");
	S(&t, "a043 OK\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	im = th_first(ev, "imap");
	CHECK(ti_streq(im, "imap.id.server.name", "Cyrus") &&
	    ti_streq(im, "imap.id.server.os", "sunos") &&
	    ti_streq(im, "imap.id.server.support-url",
	    "mailto:cyrus-bugs+@andrew.cmu.edu"), "server ID fields");
	CHECK(ti_streq(im, "imap.id.client.name", "Thunderbird"),
	    "client ID with a literal value (the last ID wins)");
	CHECK(ti_int(im, "imap.commands.by_name.ID") == 3 &&
	    ti_int(im, "imap.unparsed_lines") == 0, "three ID commands");
	json_object_put(ev);
}

/* RFC 2177 IDLE, RFC 5161 ENABLE, RFC 3501 SELECT/CLOSE. */
static void
test_idle_enable(void)
{
	struct json_object *ev, *im;
	struct th t;

	th_clear();
	ti_open(&t, "192.0.2.27", "198.51.100.71", 143);
	S(&t, "* PREAUTH ready\r\n");
	C(&t, "t2 ENABLE CONDSTORE X-GOOD-IDEA\r\n");
	S(&t, "* ENABLED X-GOOD-IDEA\r\nt2 OK foo\r\n");
	C(&t, "A001 SELECT INBOX\r\n");
	S(&t, "* FLAGS (Deleted Seen)\r\n* 3 EXISTS\r\n* 0 RECENT\r\n"
	    "* OK [UIDVALIDITY 1] UIDs valid\r\n"
	    "A001 OK [READ-WRITE] SELECT completed\r\n");
	C(&t, "A002 IDLE\r\n");
	S(&t, "+ idling\r\n* 4 EXISTS\r\n");
	C(&t, "DONE\r\n");
	S(&t, "A002 OK IDLE terminated\r\n");
	C(&t, "A003 CLOSE\r\n");
	S(&t, "A003 OK CLOSE completed\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	im = th_first(ev, "imap");
	CHECK(ti_int(im, "imap.commands.total") == 4 &&
	    ti_int(im, "imap.commands.by_name.IDLE") == 1 &&
	    ti_int(im, "imap.commands.by_name.ENABLE") == 1,
	    "ENABLE, SELECT, IDLE, CLOSE counted; DONE is not a command");
	CHECK(ti_int(im, "imap.unparsed_lines") == 0 &&
	    ti_int(im, "imap.unmatched_responses") == 0, "all lines parsed");
	CHECK(ti_streq(im, "imap.state", "authenticated"),
	    "CLOSE: back to authenticated");
	json_object_put(ev);
}

/* Timeline, with the packets' timestamps. */
static void
test_timeline(void)
{
	struct json_object *ev, *im, *e;
	struct th t;

	th_clear();
	ti_open(&t, "192.0.2.28", "198.51.100.72", 143);
	S(&t, "* OK ready\r\n");
	C(&t, "a LOGIN u p\r\n");
	S(&t, "a OK\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	im = th_first(ev, "imap");
	e = ti_idx(im, "imap.timeline", 0);
	CHECK(ti_streq(e, "event", "greeting") && ti_streq(e, "timestamp",
	    "2025-11-29T02:20:22.001000+0000"),
	    "timeline: greeting at the first packet's time");
	e = ti_idx(im, "imap.timeline", 1);
	CHECK(ti_streq(e, "event", "authenticated") && ti_streq(e,
	    "timestamp", "2025-11-29T02:20:22.003000+0000"),
	    "timeline: authenticated at the OK's time");
	json_object_put(ev);
}

static void
test_usernames(void)
{
	struct json_object *ev, *a;
	struct th t;
	const char *u;

	iw_cfg.usernames = IW_USERNAMES_HASH;
	th_clear();
	ti_open(&t, "192.0.2.29", "198.51.100.73", 143);
	S(&t, "* OK ready\r\n");
	C(&t, "a LOGIN wilhelmina pw1\r\n");
	S(&t, "a OK\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	a = th_alert(ev, "cleartext_login");
	u = th_str(a, "imap.username");
	CHECK(u != NULL && strncmp(u, "sha256:", 7) == 0 && strlen(u) == 71,
	    "--usernames hash: sha256:<hex>");
	CHECK(!th_output_contains("wilhelmina"),
	    "--usernames hash: the name never appears");
	json_object_put(ev);

	iw_cfg.usernames = IW_USERNAMES_OMIT;
	th_clear();
	ti_open(&t, "192.0.2.29", "198.51.100.73", 143);
	S(&t, "* OK ready\r\n");
	C(&t, "a LOGIN wilhelmina pw1\r\n");
	S(&t, "a OK\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	a = th_alert(ev, "cleartext_login");
	CHECK(a != NULL && th_get(a, "imap.username") == NULL &&
	    th_get(ti_idx(th_first(ev, "imap"), "imap.auth", 0), "username")
	    == NULL, "--usernames omit: no username key");
	CHECK(!th_output_contains("wilhelmina"),
	    "--usernames omit: the name never appears");
	json_object_put(ev);
	iw_cfg.usernames = IW_USERNAMES_PLAIN;
}

int
main(void)
{
	th_init();
	test_probe();
	test_not_imap_on_143();
	test_cleartext_login();
	test_login_failed_code();
	test_login_no_response();
	test_no_login_no_finding();
	test_preauth();
	test_posture();
	test_posture_capability_command();
	test_caps_before_login_ok();
	test_midstream_no_posture();
	test_stripping();
	test_stripping_other_port();
	test_login_despite_logindisabled();
	test_starttls_not_used();
	test_imaps_port();
	test_bruteforce();
	test_id();
	test_idle_enable();
	test_timeline();
	test_usernames();
	return th_done();
}
