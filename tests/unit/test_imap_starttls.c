/* SPDX-License-Identifier: ISC */
/*
 * test_imap_starttls.c - the STARTTLS hand-off (DESIGN.md, RFC 3501
 * 6.2.1 / RFC 9051 6.2.1): which bytes reach the TLS dissector (seen in
 * the "tls" object it reports: the SNI of our ClientHello, the version of
 * our ServerHello), command injection (CVE-2011-0411 class), response
 * injection, plaintext after STARTTLS, refusal, failure, and a gap while
 * the answer is awaited.
 */
#include "test_imap.h"

static uint8_t ch[256], sh[128], fin[64];
static size_t chlen, shlen, finlen;

static void
records(void)
{
	chlen = ti_client_hello(ch, "imap.example.test");
	shlen = ti_server_hello(sh);
	finlen = ti_ccs_finished(fin);
}

/* RFC 3501 6.2.1's exchange, up to the client's STARTTLS line. */
static void
prelude(struct th *t, const char *client, const char *server)
{
	ti_open(t, client, server, 143);
	S(t, "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n");
	C(t, "a001 CAPABILITY\r\n");
	S(t, "* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n"
	    "a001 OK CAPABILITY completed\r\n");
}

/* Client and server complete a TLS 1.2 handshake, then exchange data. */
static void
handshake(struct th *t)
{
	static const uint8_t app[] = { 0x17, 3, 3, 0, 4, 1, 2, 3, 4 };

	th_send(t, C2S, ch, chlen);
	th_send(t, S2C, sh, shlen);
	th_send(t, S2C, fin, finlen);
	th_send(t, C2S, fin, finlen);
	th_send(t, C2S, app, sizeof(app));
	th_send(t, S2C, app, sizeof(app));
}

static bool
timeline_has(struct json_object *im, const char *event)
{
	struct json_object *e;
	size_t i;

	for (i = 0; (e = ti_idx(im, "imap.timeline", i)) != NULL; i++)
		if (ti_streq(e, "event", event))
			return true;
	return false;
}

static void
test_clean_starttls(void)
{
	struct json_object *ev, *im;
	struct th t;

	th_clear();
	prelude(&t, "192.0.2.60", "203.0.113.10");
	C(&t, "a002 STARTTLS\r\n");
	S(&t, "a002 OK Begin TLS negotiation now\r\n");
	handshake(&t);
	th_end(&t, IW_END_FIN);
	ev = th_events();
	CHECK(th_count(ev, "alert") == 0, "clean STARTTLS: no alert at all");
	im = th_first(ev, "imap");
	CHECK(ti_streq(im, "imap.mode", "starttls"), "mode starttls");
	CHECK(ti_streq(im, "imap.starttls.status", "OK") &&
	    ti_streq(im, "imap.starttls.tag", "a002") &&
	    ti_int(im, "imap.starttls.injected_bytes") == 0,
	    "starttls object: tag, status, no injected bytes");
	CHECK(ti_streq(im, "tls.sni", "imap.example.test") &&
	    ti_streq(im, "tls.version", "TLS 1.2"),
	    "TLS got the client from its first byte (SNI) and the server "
	    "from the byte after the OK line (version)");
	CHECK(timeline_has(im, "starttls_request") &&
	    timeline_has(im, "starttls_ok") && timeline_has(im, "tls_client")
	    && timeline_has(im, "tls_server"), "timeline of the hand-off");
	CHECK(ti_has(im, "imap.capabilities", "LOGINDISABLED") &&
	    json_object_get_boolean(th_get(im, "imap.logindisabled")),
	    "pre-TLS capabilities kept");
	json_object_put(ev);
}

/* The OK and the ServerHello in one segment. */
static void
test_ok_and_hello_together(void)
{
	struct json_object *ev, *im;
	uint8_t seg[256];
	static const char ok[] = "a002 OK Begin TLS negotiation now\r\n";
	struct th t;

	th_clear();
	prelude(&t, "192.0.2.61", "203.0.113.10");
	C(&t, "a002 STARTTLS\r\n");
	memcpy(seg, ok, strlen(ok));
	memcpy(seg + strlen(ok), sh, shlen);
	th_send(&t, S2C, seg, strlen(ok) + shlen);
	th_send(&t, C2S, ch, chlen);
	th_send(&t, S2C, fin, finlen);
	th_send(&t, C2S, fin, finlen);
	th_end(&t, IW_END_FIN);
	ev = th_events();
	im = th_first(ev, "imap");
	CHECK(th_alert(ev, "starttls_response_injection") == NULL &&
	    ti_streq(im, "tls.version", "TLS 1.2"),
	    "OK and ServerHello in one segment: TLS from after the CRLF");
	CHECK(th_alert(ev, "starttls_failed") == NULL,
	    "CCS and encrypted Finished both ways: established");
	json_object_put(ev);
}

static void
test_failed(void)
{
	struct json_object *ev, *a;
	struct th t;

	th_clear();
	prelude(&t, "192.0.2.62", "203.0.113.10");
	C(&t, "a002 STARTTLS\r\n");
	S(&t, "a002 OK Begin TLS negotiation now\r\n");
	th_send(&t, C2S, ch, chlen);
	th_end(&t, IW_END_FIN);
	ev = th_events();
	a = th_alert(ev, "starttls_failed");
	CHECK(a != NULL && ti_streq(a, "imap.tag", "a002") &&
	    ti_int(a, "alert.severity") == 2,
	    "OK then no handshake: starttls_failed");
	CHECK(th_alert(ev, "tls_handshake_failed") == NULL,
	    "never tls_handshake_failed as well");
	json_object_put(ev);
}

static void
test_command_injection(void)
{
	struct json_object *ev, *a, *im;
	struct th t;

	th_clear();
	prelude(&t, "192.0.2.63", "203.0.113.10");
	C(&t, "a002 STARTTLS\r\na003 CAPABILITY\r\n");
	S(&t, "a002 OK Begin TLS negotiation now\r\n");
	handshake(&t);
	th_end(&t, IW_END_FIN);
	ev = th_events();
	a = th_alert(ev, "starttls_command_injection");
	CHECK(a != NULL && ti_int(a, "imap.injected_bytes") == 17 &&
	    ti_has(a, "imap.injected_commands",
	    "CAPABILITY") && ti_int(a, "alert.severity") == 1,
	    "pipelined after STARTTLS: injection, 17 bytes, CAPABILITY");
	im = th_first(ev, "imap");
	CHECK(ti_int(im, "imap.starttls.injected_bytes") == 17 &&
	    ti_streq(im, "tls.sni", "imap.example.test"),
	    "injected bytes counted; TLS starts after them");
	CHECK(th_alert(ev, "plaintext_after_starttls") == NULL &&
	    th_alert(ev, "starttls_failed") == NULL,
	    "then a clean handshake");
	json_object_put(ev);
}

/* Injection in a later segment, an injected LOGIN carrying a password. */
static void
test_injected_login(void)
{
	struct json_object *ev, *a;
	struct th t;

	th_clear();
	prelude(&t, "192.0.2.64", "203.0.113.10");
	C(&t, "a002 STARTTLS\r\n");
	C(&t, "a003 LOGIN bobby hunter2\r\na004 SELECT {5}\r\nINBOX\r\n");
	S(&t, "a002 OK Begin TLS negotiation now\r\n");
	handshake(&t);
	th_end(&t, IW_END_FIN);
	ev = th_events();
	a = th_alert(ev, "starttls_command_injection");
	CHECK(a != NULL && ti_int(a, "imap.injected_bytes") == 50 &&
	    ti_has(a, "imap.injected_commands", "LOGIN") &&
	    ti_has(a, "imap.injected_commands", "SELECT"),
	    "injected LOGIN and SELECT with a literal: names and bytes");
	a = th_alert(ev, "cleartext_login");
	CHECK(a != NULL && json_object_get_boolean(th_get(a,
	    "imap.starttls_injected")),
	    "an injected LOGIN is cleartext_login too");
	CHECK(!th_output_contains("bobby") && !th_output_contains("INBOX"),
	    "no argument of an injected command is kept");
	SECRET_ABSENT("hunter2", "injected LOGIN password");
	CHECK(ti_streq(th_first(ev, "imap"), "tls.sni", "imap.example.test"),
	    "TLS after the injected bytes");
	json_object_put(ev);
}

/* A client that sends its ClientHello before the OK is not injecting. */
static void
test_early_hello(void)
{
	struct json_object *ev;
	uint8_t seg[512];
	struct th t;

	th_clear();
	prelude(&t, "192.0.2.65", "203.0.113.10");
	memcpy(seg, "a002 STARTTLS\r\n", 15);
	memcpy(seg + 15, ch, chlen);
	th_send(&t, C2S, seg, 15 + chlen);
	S(&t, "a002 OK Begin TLS negotiation now\r\n");
	th_send(&t, S2C, sh, shlen);
	th_send(&t, S2C, fin, finlen);
	/* held bytes reach TLS with the client's next flight */
	th_send(&t, C2S, fin, finlen);
	th_end(&t, IW_END_FIN);
	ev = th_events();
	CHECK(th_alert(ev, "starttls_failed") == NULL,
	    "early ClientHello: the handshake completes");
	CHECK(th_alert(ev, "starttls_command_injection") == NULL &&
	    ti_streq(th_first(ev, "imap"), "tls.sni", "imap.example.test"),
	    "ClientHello before the OK: no injection, TLS gets it");
	json_object_put(ev);
}

static void
test_response_injection(void)
{
	struct json_object *ev, *a, *im;
	struct th t;

	th_clear();
	ti_open(&t, "192.0.2.66", "203.0.113.11", 143);
	S(&t, "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n");
	C(&t, "a002 STARTTLS\r\n");
	S(&t, "a002 OK Begin TLS negotiation now\r\n"
	    "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n");
	th_send(&t, C2S, ch, chlen);
	th_send(&t, S2C, sh, shlen);
	th_end(&t, IW_END_FIN);
	ev = th_events();
	a = th_alert(ev, "starttls_response_injection");
	CHECK(a != NULL && ti_streq(a, "imap.data",
	    "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r") &&
	    ti_int(a, "alert.severity") == 1,
	    "server plaintext after OK: response injection, with its start");
	CHECK(th_alert(ev, "starttls_not_offered") == NULL,
	    "an injected capability list is not the server's posture");
	im = th_first(ev, "imap");
	CHECK(ti_int(im, "imap.starttls.response_injected_bytes") ==
	    (int64_t)strlen("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] "
	    "injected\r\n") &&
	    ti_streq(im, "tls.version", "TLS 1.2"),
	    "injected bytes counted, the ServerHello after them goes to TLS");
	json_object_put(ev);

	th_clear();
	ti_open(&t, "192.0.2.66", "203.0.113.11", 143);
	S(&t, "* OK ready\r\n");
	C(&t, "a002 STARTTLS\r\n");
	S(&t, "a002 OK Begin TLS negotiation now\r\n");
	th_send(&t, S2C, sh, shlen);
	th_end(&t, IW_END_FIN);
	ev = th_events();
	CHECK(th_alert(ev, "starttls_response_injection") == NULL,
	    "ServerHello after the OK: no response injection");
	json_object_put(ev);
}

static void
test_plaintext_after(void)
{
	struct json_object *ev, *a;
	struct th t;

	th_clear();
	prelude(&t, "192.0.2.67", "203.0.113.12");
	C(&t, "a002 STARTTLS\r\n");
	S(&t, "a002 OK Begin TLS negotiation now\r\n");
	C(&t, "a003 LOGIN alice wonderland\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	a = th_alert(ev, "plaintext_after_starttls");
	CHECK(a != NULL && ti_streq(a, "imap.tag", "a002") &&
	    ti_int(a, "alert.severity") == 1, "plaintext_after_starttls");
	a = th_alert(ev, "cleartext_login");
	CHECK(a != NULL && ti_streq(a, "imap.username", "alice") &&
	    json_object_get_boolean(th_get(a, "imap.after_starttls")),
	    "... and the LOGIN sent that way is cleartext_login");
	CHECK(th_alert(ev, "login_despite_logindisabled") == NULL,
	    "LOGINDISABLED of the cleartext phase is not carried past OK");
	CHECK(th_alert(ev, "starttls_failed") != NULL,
	    "no handshake either: starttls_failed");
	SECRET_ABSENT("wonderland", "password after STARTTLS");
	json_object_put(ev);

	/* the server answers the cleartext LOGIN: the answer is not
	 * response injection (DESIGN.md: server bytes sent before the
	 * client sent anything after the OK) */
	th_clear();
	prelude(&t, "192.0.2.67", "203.0.113.12");
	C(&t, "a002 STARTTLS\r\n");
	S(&t, "a002 OK Begin TLS negotiation now\r\n");
	C(&t, "a003 LOGIN alice wonderland\r\n");
	S(&t, "a003 BAD TLS negotiation expected\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	CHECK(th_alert(ev, "plaintext_after_starttls") != NULL &&
	    th_alert(ev, "starttls_response_injection") == NULL,
	    "the server answering cleartext after OK: only "
	    "plaintext_after_starttls");
	CHECK(th_get(th_first(ev, "imap"),
	    "imap.starttls.response_injected_bytes") == NULL,
	    "... and no response_injected_bytes");
	json_object_put(ev);
}

static void
test_refused(void)
{
	struct json_object *ev, *a;
	struct th t;

	th_clear();
	prelude(&t, "192.0.2.68", "203.0.113.13");
	C(&t, "a002 STARTTLS\r\na003 LOGIN bob s3same\r\n");
	S(&t, "a002 NO [UNAVAILABLE] TLS not available\r\n");
	C(&t, "a004 LOGOUT\r\n");
	S(&t, "a003 NO [PRIVACYREQUIRED] no\r\n* BYE\r\na004 OK bye\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	a = th_alert(ev, "starttls_refused");
	CHECK(a != NULL && ti_streq(a, "imap.status", "NO") &&
	    ti_streq(a, "imap.code", "UNAVAILABLE") &&
	    ti_streq(a, "imap.text", "TLS not available") &&
	    ti_int(a, "alert.severity") == 2,
	    "starttls_refused: status, code, text");
	CHECK(th_alert(ev, "starttls_command_injection") == NULL,
	    "refused: the pipelined bytes are not injection");
	a = th_alert(ev, "cleartext_login");
	CHECK(a != NULL && ti_streq(a, "imap.username", "bob") &&
	    ti_streq(a, "imap.code", "PRIVACYREQUIRED"),
	    "the held LOGIN is parsed as a command after the NO");
	CHECK(ti_streq(th_first(ev, "imap"), "imap.mode", "cleartext") &&
	    th_alert(ev, "starttls_failed") == NULL, "mode stays cleartext");
	SECRET_ABSENT("s3same", "LOGIN password");
	json_object_put(ev);

	th_clear();
	prelude(&t, "192.0.2.68", "203.0.113.13");
	C(&t, "a002 STARTTLS\r\n");
	S(&t, "a002 BAD unknown command\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	CHECK(ti_streq(th_alert(ev, "starttls_refused"), "imap.status", "BAD"),
	    "BAD to STARTTLS: starttls_refused");
	json_object_put(ev);
}

static void
test_gap_while_pending(void)
{
	struct json_object *ev;
	struct th t;

	th_clear();
	prelude(&t, "192.0.2.69", "203.0.113.14");
	C(&t, "a002 STARTTLS\r\n");
	th_gap(&t, S2C, 40);
	th_send(&t, C2S, ch, chlen);
	th_end(&t, IW_END_FIN);
	ev = th_events();
	CHECK(th_alert(ev, "starttls_command_injection") == NULL &&
	    th_alert(ev, "plaintext_after_starttls") == NULL &&
	    th_alert(ev, "starttls_failed") == NULL,
	    "gap while STARTTLS is unanswered: no STARTTLS finding");
	CHECK(th_count(ev, "anomaly") == 1 && ti_streq(th_first(ev,
	    "anomaly"), "anomaly.event", "imap_gap_during_starttls"),
	    "... but an anomaly");
	json_object_put(ev);
}

int
main(void)
{
	th_init();
	records();
	test_clean_starttls();
	test_ok_and_hello_together();
	test_failed();
	test_command_injection();
	test_injected_login();
	test_early_hello();
	test_response_injection();
	test_plaintext_after();
	test_refused();
	test_gap_while_pending();
	return th_done();
}
