/* SPDX-License-Identifier: ISC */
/*
 * test_tls.c - the TLS dissector on byte strings built here after RFC 5246,
 * RFC 8446 and the SSLv2 draft: records and handshake messages split at
 * every byte, length fields at their limit and one past, hostile lengths,
 * SSLv2 hellos, HelloRetryRequest, GREASE, completion, failures, NULL
 * cipher plaintext, the app decision and the findings.
 */
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "ciphers.h"
#include "config.h"
#include "flowmem.h"
#include "harness.h"
#include "tls.h"
#include "tls_int.h"

/* ---- a byte-string builder with length-prefixed vectors ---- */

struct buf {
	uint8_t	*b;
	size_t	 n, cap;
	size_t	 at[8];
	int	 width[8];
	int	 depth;
};

static void
put(struct buf *o, const void *p, size_t n)
{
	if (o->n + n > o->cap) {
		o->cap = (o->n + n) * 2 + 1024;
		o->b = realloc(o->b, o->cap);
	}
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void
p8(struct buf *o, unsigned v)
{
	uint8_t c = (uint8_t)v;

	put(o, &c, 1);
}

static void
p16(struct buf *o, unsigned v)
{
	p8(o, v >> 8);
	p8(o, v);
}

static void
p24(struct buf *o, unsigned v)
{
	p8(o, v >> 16);
	p16(o, v & 0xffff);
}

/* Opens a vector whose length (width bytes) is filled at vclose. */
static void
vopen(struct buf *o, int width)
{
	o->at[o->depth] = o->n;
	o->width[o->depth++] = width;
	put(o, "\0\0\0", (size_t)width);
}

static void
vclose_adj(struct buf *o, int adjust)
{
	size_t at = o->at[--o->depth], len = o->n - at - o->width[o->depth];
	unsigned v = (unsigned)((int)len + adjust);
	int w = o->width[o->depth], i;

	for (i = w - 1; i >= 0; i--, v >>= 8)
		o->b[at + (size_t)i] = (uint8_t)v;
}

static void
vclose(struct buf *o)
{
	vclose_adj(o, 0);
}

static void
bfree(struct buf *o)
{
	free(o->b);
	memset(o, 0, sizeof(*o));
}

/* ---- TLS messages ---- */

struct ch {
	const char	*sni;
	int		 sni_adjust;	/* added to the host name length */
	const char	*alpn;		/* one protocol */
	bool		 tls13;
	bool		 grease;
	int		 suites_adjust;
	int		 sid_len;
	const uint16_t	*suites;
	size_t		 nsuites;
};

static const uint16_t default_suites[] = { 0xc02f, 0xc030, 0x002f, 0x000a };

static void
ext_begin(struct buf *o, unsigned type)
{
	p16(o, type);
	vopen(o, 2);
}

static void
ch_exts(struct buf *o, const struct ch *c)
{
	vopen(o, 2);
	if (c->grease) {
		ext_begin(o, 0x1a1a);
		vclose(o);
	}
	if (c->sni) {
		ext_begin(o, 0);
		vopen(o, 2);
		p8(o, 0);
		vopen(o, 2);
		put(o, c->sni, strlen(c->sni));
		vclose_adj(o, c->sni_adjust);
		vclose(o);
		vclose(o);
	}
	ext_begin(o, 10);		/* supported_groups */
	vopen(o, 2);
	if (c->grease)
		p16(o, 0x2a2a);
	p16(o, 29);
	p16(o, 23);
	vclose(o);
	vclose(o);
	ext_begin(o, 11);		/* ec_point_formats */
	vopen(o, 1);
	p8(o, 0);
	vclose(o);
	vclose(o);
	ext_begin(o, 13);		/* signature_algorithms */
	vopen(o, 2);
	p16(o, 0x0403);
	p16(o, 0x0804);
	vclose(o);
	vclose(o);
	if (c->alpn) {
		ext_begin(o, 16);
		vopen(o, 2);
		vopen(o, 1);
		put(o, c->alpn, strlen(c->alpn));
		vclose(o);
		vclose(o);
		vclose(o);
	}
	if (c->tls13) {
		ext_begin(o, 43);
		vopen(o, 1);
		if (c->grease)
			p16(o, 0x3a3a);
		p16(o, 0x0304);
		p16(o, 0x0303);
		vclose(o);
		vclose(o);
		ext_begin(o, 51);
		vopen(o, 2);
		p16(o, 29);
		vopen(o, 2);
		put(o, "0123456789abcdef0123456789abcdef", 32);
		vclose(o);
		vclose(o);
		vclose(o);
	}
	vclose(o);
}

/* A ClientHello handshake message. */
static void
client_hello(struct buf *o, const struct ch *c)
{
	const uint16_t *s = c->suites ? c->suites : default_suites;
	size_t n = c->suites ? c->nsuites : 4, i;
	uint8_t zero[33] = { 0 };

	p8(o, 1);
	vopen(o, 3);
	p16(o, 0x0303);
	put(o, zero, 32);
	p8(o, (unsigned)c->sid_len);
	put(o, zero, (size_t)c->sid_len);
	vopen(o, 2);
	if (c->grease)
		p16(o, 0x0a0a);
	for (i = 0; i < n; i++)
		p16(o, s[i]);
	vclose_adj(o, c->suites_adjust);
	p8(o, 1);
	p8(o, 0);
	ch_exts(o, c);
	vclose(o);
}

static const uint8_t hrr_magic[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
	0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
	0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

static void
server_hello(struct buf *o, unsigned version, unsigned cipher, bool tls13,
    bool hrr)
{
	uint8_t zero[32] = { 0 };

	p8(o, 2);
	vopen(o, 3);
	p16(o, tls13 ? 0x0303 : version);
	put(o, hrr ? hrr_magic : zero, 32);
	p8(o, 0);
	p16(o, cipher);
	p8(o, 0);
	vopen(o, 2);
	ext_begin(o, 0xff01);
	p8(o, 0);
	vclose(o);
	if (tls13) {
		ext_begin(o, 43);
		p16(o, 0x0304);
		vclose(o);
	}
	vclose(o);
	vclose(o);
}

/* A Certificate message carrying xs[0..n-1], leaf first. */
static void
certificate_chain(struct buf *o, X509 *const *xs, int n)
{
	unsigned char *der;
	int i, len;

	p8(o, 11);
	vopen(o, 3);
	vopen(o, 3);
	for (i = 0; i < n; i++) {
		der = NULL;
		len = i2d_X509(xs[i], &der);
		vopen(o, 3);
		put(o, der, (size_t)len);
		vclose(o);
		OPENSSL_free(der);
	}
	vclose(o);
	vclose(o);
}

static void
certificate(struct buf *o, X509 *x)
{
	certificate_chain(o, &x, 1);
}

static void
hello_done(struct buf *o)
{
	p8(o, 14);
	p24(o, 0);
}

/* Wraps msg into records of at most frag bytes. */
static void
records(struct buf *o, unsigned type, const struct buf *msg, size_t frag)
{
	size_t off = 0, n;

	do {
		n = msg->n - off < frag ? msg->n - off : frag;
		p8(o, type);
		p16(o, 0x0303);
		p16(o, (unsigned)n);
		put(o, msg->b + off, n);
		off += n;
	} while (off < msg->n);
}

static void
record_fill(struct buf *o, unsigned type, size_t len, uint8_t fill)
{
	p8(o, type);
	p16(o, 0x0303);
	p16(o, (unsigned)len);
	while (len-- > 0)
		p8(o, fill);
}

static void
ccs(struct buf *o)
{
	record_fill(o, 20, 1, 1);
}

/* ---- certificates ---- */

static EVP_PKEY *key;

static X509 *
self_signed(const char *cn, const char *san)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_get_subject_name(x);
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, n);
	ASN1_TIME_set_string_X509(X509_getm_notBefore(x), "20200101000000Z");
	ASN1_TIME_set_string_X509(X509_getm_notAfter(x), "20400101000000Z");
	X509_set_pubkey(x, key);
	if (san != NULL) {
		X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
		e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	X509_sign(x, key, EVP_sha256());
	return x;
}

/* ---- sessions ---- */

static struct json_object *
session_event(struct json_object *evs)
{
	struct json_object *e = th_first(evs, "imap");

	return e ? e : th_first(evs, "tls");
}

static bool
has_anomaly(struct json_object *evs, const char *name)
{
	size_t i;
	const char *s;

	for (i = 0; i < json_object_array_length(evs); i++) {
		s = th_str(json_object_array_get_idx(evs, i), "anomaly.kind");
		if (s && strcmp(s, name) == 0)
			return true;
	}
	return false;
}

/* The client's first flight and the server's answer for TLS 1.2. */
static void
flights_12(struct buf *cli, struct buf *srv, const struct ch *c,
    unsigned version, unsigned cipher, X509 *cert)
{
	struct buf m = { 0 };

	client_hello(&m, c);
	records(cli, 22, &m, 16384);
	bfree(&m);
	server_hello(&m, version, cipher, false, false);
	if (cert != NULL)
		certificate(&m, cert);
	hello_done(&m);
	records(srv, 22, &m, 16384);	/* several messages in one record */
	bfree(&m);
}

/* Client key exchange, CCS, Finished; then the server's CCS, Finished. */
static void
finish_12(struct th *t, size_t fin_len)
{
	struct buf c = { 0 }, s = { 0 }, m = { 0 };

	p8(&m, 16);
	vopen(&m, 3);
	vopen(&m, 1);
	put(&m, "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", 32);
	vclose(&m);
	vclose(&m);
	records(&c, 22, &m, 16384);
	ccs(&c);
	record_fill(&c, 22, fin_len, 0xee);
	ccs(&s);
	record_fill(&s, 22, fin_len, 0xdd);
	th_send(t, IW_TO_SERVER, c.b, c.n);
	th_send(t, IW_TO_CLIENT, s.b, s.n);
	bfree(&c);
	bfree(&s);
	bfree(&m);
}

static void
test_full_12(void)
{
	struct ch c = { .sni = "imap.example.com" };
	struct buf cli = { 0 }, srv = { 0 };
	X509 *x = self_signed("imap.example.com", "DNS:imap.example.com");
	struct json_object *evs, *ev;
	struct th t;

	th_clear();
	flights_12(&cli, &srv, &c, 0x0303, 0xc02f, x);
	th_open(&t, "192.0.2.100", 40000, "192.0.2.1", 993);
	th_send(&t, IW_TO_SERVER, cli.b, cli.n);
	th_send(&t, IW_TO_CLIENT, srv.b, srv.n);
	finish_12(&t, 40);
	CHECK(!iw_session_wants(t.s, IW_TO_SERVER) &&
	    !iw_session_wants(t.s, IW_TO_CLIENT),
	    "established: both directions bypassed");
	th_end(&t, IW_END_FIN);
	evs = th_events();
	ev = th_first(evs, "imap");
	CHECK(ev != NULL && strcmp(th_str(ev, "imap.mode"), "implicit_tls") ==
	    0, "IMAPS on 993: imap event, mode implicit_tls");
	CHECK(ev && strcmp(th_str(ev, "tls.version"), "TLS 1.2") == 0 &&
	    strcmp(th_str(ev, "tls.cipher"),
	    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256") == 0 &&
	    strcmp(th_str(ev, "tls.cipher_id"), "0xc02f") == 0,
	    "version and cipher");
	CHECK(ev && strcmp(th_str(ev, "tls.sni"), "imap.example.com") == 0 &&
	    strcmp(th_str(ev, "tls.name_check.result"), "match") == 0 &&
	    strcmp(th_str(ev, "tls.name_check.source"), "sni") == 0,
	    "SNI and a matching name");
	CHECK(ev && json_object_get_boolean(th_get(ev, "tls.established")) &&
	    !json_object_get_boolean(th_get(ev, "tls.session_resumed")),
	    "established, not resumed");
	CHECK(ev && strcmp(th_str(ev, "tls.subject"), "CN=imap.example.com")
	    == 0 && json_object_array_length(th_get(ev, "tls.chain")) == 1,
	    "leaf certificate and chain");
	CHECK(ev && strncmp(th_str(ev, "tls.ja3.string"),
	    "771,49199-49200-47-10,0-10-11-13,29-23,0", 40) == 0 &&
	    strlen(th_str(ev, "tls.ja3.hash")) == 32,
	    "JA3 of the hello we built");
	CHECK(ev && strcmp(th_str(ev, "tls.ja3s.string"), "771,49199,65281") ==
	    0, "JA3S");
	CHECK(th_alert(evs, "cert_self_signed") != NULL &&
	    th_alert(evs, "weak_cipher_offered") != NULL &&
	    th_alert(evs, "cert_name_mismatch") == NULL &&
	    th_alert(evs, "weak_cipher") == NULL &&
	    th_alert(evs, "tls_handshake_failed") == NULL &&
	    th_alert(evs, "no_sni") == NULL, "findings: exactly the right ones");
	CHECK(strcmp(th_str(th_alert(evs, "cert_self_signed"), "tls.subject"),
	    "CN=imap.example.com") == 0, "evidence beside the alert");
	json_object_put(evs);
	bfree(&cli);
	bfree(&srv);
	X509_free(x);
}

/* Runs a client stream split at byte i; returns the session's SNI+JA3. */
static bool
split_run(const struct buf *cli, const struct buf *srv, size_t i,
    const char *want_ja3)
{
	struct json_object *evs, *ev;
	struct th t;
	bool good;

	th_clear();
	th_open(&t, "192.0.2.100", 40001, "192.0.2.1", 993);
	th_send(&t, IW_TO_SERVER, cli->b, i);
	th_send(&t, IW_TO_SERVER, cli->b + i, cli->n - i);
	th_send(&t, IW_TO_CLIENT, srv->b, srv->n);
	th_end(&t, IW_END_SHUTDOWN);
	evs = th_events();
	ev = session_event(evs);
	good = ev && th_str(ev, "tls.sni") &&
	    strcmp(th_str(ev, "tls.sni"), "imap.example.com") == 0 &&
	    th_str(ev, "tls.ja3.string") &&
	    strcmp(th_str(ev, "tls.ja3.string"), want_ja3) == 0 &&
	    th_str(ev, "tls.cipher") && th_count(evs, "anomaly") == 0;
	json_object_put(evs);
	return good;
}

static void
test_split_every_byte(void)
{
	struct ch c = { .sni = "imap.example.com", .alpn = "imap" };
	struct buf cli = { 0 }, srv = { 0 }, m = { 0 }, frag = { 0 };
	const char *ja3 = "771,49199-49200-47-10,0-10-11-13-16,29-23,0";
	size_t i, bad = 0, first_bad = 0, n;

	flights_12(&cli, &srv, &c, 0x0303, 0xc02f, NULL);
	n = cli.n;
	for (i = 1; i < n; i++)
		if (!split_run(&cli, &srv, i, ja3) && bad++ == 0)
			first_bad = i;
	CHECK(bad == 0, "records split at each of %zu bytes (first bad %zu)",
	    n - 1, first_bad);
	/* the handshake message split across two records at every byte */
	client_hello(&m, &c);
	for (i = 1, bad = 0; i < m.n; i++) {
		struct buf a = { .b = m.b, .n = i }, b = { .b = m.b + i,
		    .n = m.n - i };

		frag.n = 0;
		records(&frag, 22, &a, 16384);
		records(&frag, 22, &b, 16384);
		if (!split_run(&frag, &srv, frag.n / 2, ja3) && bad++ == 0)
			first_bad = i;
	}
	CHECK(bad == 0, "ClientHello split across records at each of %zu bytes "
	    "(first bad %zu)", m.n - 1, first_bad);
	/* one byte a record */
	frag.n = 0;
	records(&frag, 22, &m, 1);
	CHECK(split_run(&frag, &srv, 1, ja3),
	    "ClientHello in %zu one-byte records", m.n);
	bfree(&cli);
	bfree(&srv);
	bfree(&m);
	bfree(&frag);
}

/* One ClientHello with a length field changed: 1 anomaly, 0 none, -1 the
 * SNI is not what it should be. */
static int
ch_anomaly(const struct ch *c, const char *want_sni)
{
	struct buf cli = { 0 }, m = { 0 };
	struct json_object *evs, *ev;
	struct th t;
	bool anomaly, sni_ok;

	client_hello(&m, c);
	records(&cli, 22, &m, 16384);
	th_clear();
	th_open(&t, "192.0.2.100", 40002, "192.0.2.1", 993);
	th_send(&t, IW_TO_SERVER, cli.b, cli.n);
	th_end(&t, IW_END_SHUTDOWN);
	evs = th_events();
	anomaly = has_anomaly(evs, "invalid_client_hello");
	ev = session_event(evs);
	sni_ok = want_sni ? (th_str(ev, "tls.sni") &&
	    strcmp(th_str(ev, "tls.sni"), want_sni) == 0) :
	    th_get(ev, "tls.sni") == NULL;
	json_object_put(evs);
	bfree(&cli);
	bfree(&m);
	return sni_ok ? anomaly : -1;
}

static void
test_length_limits(void)
{
	struct ch c = { .sni = "imap.example.com" };
	struct buf b = { 0 };
	struct json_object *evs;
	struct th t;

	CHECK(ch_anomaly(&c, "imap.example.com") == 0,
	    "SNI name length exact: parsed, no anomaly");
	c.sni_adjust = 1;
	CHECK(ch_anomaly(&c, NULL) == 1,
	    "SNI name length one past its vector: anomaly, no SNI");
	c.sni_adjust = 0;
	c.suites_adjust = 1;
	CHECK(ch_anomaly(&c, NULL) == 1,
	    "cipher_suites length one past: anomaly");
	c.suites_adjust = 0;
	c.sid_len = 32;
	CHECK(ch_anomaly(&c, "imap.example.com") == 0,
	    "session id of 32 bytes");
	c.sid_len = 33;
	CHECK(ch_anomaly(&c, NULL) == 1, "session id of 33 bytes: anomaly");

	/* record length: 2^14 + 2048 is the limit */
	th_clear();
	th_open(&t, "192.0.2.100", 40003, "192.0.2.1", 993);
	record_fill(&b, 23, 16384 + 2048, 0x55);
	th_send(&t, IW_TO_CLIENT, b.b, b.n);
	b.n = 0;
	record_fill(&b, 23, 16384 + 2049, 0x55);
	th_send(&t, IW_TO_SERVER, b.b, b.n);
	th_end(&t, IW_END_SHUTDOWN);
	evs = th_events();
	CHECK(has_anomaly(evs, "invalid_record") &&
	    th_count(evs, "anomaly") == 1,
	    "record of 18432 bytes accepted, 18433 refused");
	json_object_put(evs);

	/* a handshake message declaring 1 MiB + 1: refused before memory */
	th_clear();
	th_open(&t, "192.0.2.100", 40004, "192.0.2.1", 993);
	b.n = 0;
	p8(&b, 22);
	p16(&b, 0x0301);
	p16(&b, 4);
	p8(&b, 1);
	p24(&b, 1024 * 1024 + 1);
	th_send(&t, IW_TO_SERVER, b.b, b.n);
	th_end(&t, IW_END_SHUTDOWN);
	evs = th_events();
	CHECK(has_anomaly(evs, "handshake_message_too_long"),
	    "handshake message of 1 MiB + 1: anomaly");
	json_object_put(evs);
	bfree(&b);
}

/* A handshake message of exactly 1 MiB, in 16 KiB records, is read. */
static void
test_hs_max(void)
{
	struct buf m = { 0 }, r = { 0 };
	struct json_object *evs;
	struct ch c = { .sni = "a.example" };
	struct th t;
	uint8_t *junk = calloc(1, 1024 * 1024);

	client_hello(&m, &c);
	records(&r, 22, &m, 16384);
	m.n = 0;
	p8(&m, 99);		/* an unknown type: skipped whole */
	p24(&m, 1024 * 1024);
	put(&m, junk, 1024 * 1024);
	server_hello(&m, 0x0303, 0xc02f, false, false);
	th_clear();
	th_open(&t, "192.0.2.100", 40005, "192.0.2.1", 993);
	th_send(&t, IW_TO_SERVER, r.b, r.n);
	r.n = 0;
	records(&r, 22, &m, 16384);
	th_send(&t, IW_TO_CLIENT, r.b, r.n);
	th_end(&t, IW_END_SHUTDOWN);
	evs = th_events();
	CHECK(th_count(evs, "anomaly") == 0 && th_str(session_event(evs),
	    "tls.cipher") != NULL,
	    "a 1 MiB handshake message, then the ServerHello after it");
	json_object_put(evs);
	free(junk);
	bfree(&m);
	bfree(&r);
}

static void
test_sslv2(void)
{
	struct buf b = { 0 }, m = { 0 };
	struct json_object *evs, *ev, *a;
	struct th t;

	/* SSLv2-compatible CLIENT-HELLO for TLS 1.0, then a TLS answer */
	vopen(&b, 2);
	p8(&b, 1);
	p16(&b, 0x0301);
	p16(&b, 9);
	p16(&b, 0);
	p16(&b, 16);
	p24(&b, 0x010080);
	p24(&b, 0x00002f);
	p24(&b, 0x000005);
	put(&b, "CCCCCCCCCCCCCCCC", 16);
	vclose(&b);
	b.b[0] |= 0x80;
	th_clear();
	th_open(&t, "192.0.2.100", 40006, "192.0.2.1", 993);
	th_send(&t, IW_TO_SERVER, b.b, b.n);
	server_hello(&m, 0x0301, 0x002f, false, false);
	hello_done(&m);
	b.n = 0;
	records(&b, 22, &m, 16384);
	th_send(&t, IW_TO_CLIENT, b.b, b.n);
	th_end(&t, IW_END_SHUTDOWN);
	evs = th_events();
	ev = session_event(evs);
	CHECK(ev && json_object_get_boolean(th_get(ev,
	    "tls.client_hello.sslv2_hello")) && strcmp(th_str(ev, "tls.version"),
	    "TLSv1") == 0, "SSLv2-compatible hello, TLS 1.0 answer");
	a = th_get(ev, "tls.client_hello.weak_offered");
	CHECK(a && json_object_array_length(a) == 2 &&
	    strcmp(json_object_get_string(json_object_array_get_idx(a, 0)),
	    "SSL2_RC4_128_WITH_MD5") == 0, "SSLv2 and TLS specs judged");
	CHECK(th_alert(evs, "obsolete_tls_version") &&
	    json_object_get_int(th_get(th_alert(evs, "obsolete_tls_version"),
	    "alert.severity")) == 2, "TLS 1.0: obsolete, severity 2");
	CHECK(th_alert(evs, "no_forward_secrecy") != NULL,
	    "static RSA: no_forward_secrecy");
	json_object_put(evs);
	bfree(&b);
	bfree(&m);
}

static void
test_pure_sslv2(void)
{
	X509 *x = self_signed("Very Secure", NULL);
	unsigned char *der = NULL;
	int dn = i2d_X509(x, &der);
	struct buf b = { 0 };
	struct json_object *evs, *ev;
	struct th t;

	th_clear();
	th_open(&t, "192.0.2.100", 40007, "192.0.2.1", 993);
	vopen(&b, 2);		/* CLIENT-HELLO, SSL 2.0 */
	p8(&b, 1);
	p16(&b, 0x0002);
	p16(&b, 3);
	p16(&b, 0);
	p16(&b, 16);
	p24(&b, 0x010080);
	put(&b, "CCCCCCCCCCCCCCCC", 16);
	vclose(&b);
	b.b[0] |= 0x80;
	th_send(&t, IW_TO_SERVER, b.b, b.n);
	b.n = 0;
	vopen(&b, 2);		/* SERVER-HELLO with the certificate */
	p8(&b, 4);
	p8(&b, 0);
	p8(&b, 1);
	p16(&b, 0x0002);
	p16(&b, (unsigned)dn);
	p16(&b, 3);
	p16(&b, 16);
	put(&b, der, (size_t)dn);
	p24(&b, 0x010080);
	put(&b, "IIIIIIIIIIIIIIII", 16);
	vclose(&b);
	b.b[0] |= 0x80;
	th_send(&t, IW_TO_CLIENT, b.b, b.n);
	b.n = 0;
	vopen(&b, 2);		/* CLIENT-MASTER-KEY */
	p8(&b, 2);
	p24(&b, 0x010080);
	p16(&b, 0);
	p16(&b, 0);
	p16(&b, 0);
	vclose(&b);
	b.b[0] |= 0x80;
	put(&b, "\x80\x03xyz", 5);	/* CLIENT-FINISHED, encrypted */
	th_send(&t, IW_TO_SERVER, b.b, b.n);
	th_send(&t, IW_TO_CLIENT, "\x00\x03\x00xyz", 6);	/* 3-byte hdr */
	th_end(&t, IW_END_FIN);
	evs = th_events();
	ev = session_event(evs);
	CHECK(ev && strcmp(th_str(ev, "tls.version"), "SSLv2") == 0 &&
	    strcmp(th_str(ev, "tls.cipher"), "SSL2_RC4_128_WITH_MD5") == 0 &&
	    strcmp(th_str(ev, "tls.subject"), "CN=Very Secure") == 0 &&
	    strcmp(th_str(ev, "tls.certificate_status"), "clear") == 0,
	    "pure SSL 2.0: version, cipher, certificate");
	CHECK(ev && json_object_get_boolean(th_get(ev, "tls.established")),
	    "SSL 2.0 established after CLIENT-MASTER-KEY");
	CHECK(json_object_get_int(th_get(th_alert(evs,
	    "obsolete_tls_version"), "alert.severity")) == 1 &&
	    th_alert(evs, "weak_cipher") != NULL,
	    "SSL 2.0: obsolete (severity 1), weak cipher");
	json_object_put(evs);
	bfree(&b);
	OPENSSL_free(der);
	X509_free(x);
}

static void
test_hrr_tls13(void)
{
	struct ch c = { .sni = "imap.example.com", .tls13 = true };
	struct buf b = { 0 }, m = { 0 };
	struct json_object *evs, *ev;
	struct th t;

	th_clear();
	th_open(&t, "192.0.2.100", 40008, "192.0.2.1", 993);
	client_hello(&m, &c);
	records(&b, 22, &m, 16384);
	th_send(&t, IW_TO_SERVER, b.b, b.n);
	b.n = m.n = 0;
	server_hello(&m, 0x0303, 0x1302, true, true);	/* HRR */
	records(&b, 22, &m, 16384);
	ccs(&b);
	th_send(&t, IW_TO_CLIENT, b.b, b.n);
	b.n = m.n = 0;
	ccs(&b);
	client_hello(&m, &c);
	records(&b, 22, &m, 16384);
	th_send(&t, IW_TO_SERVER, b.b, b.n);
	b.n = m.n = 0;
	server_hello(&m, 0x0303, 0x1301, true, false);
	records(&b, 22, &m, 16384);
	record_fill(&b, 23, 900, 0xab);	/* EE, Certificate, ... encrypted */
	th_send(&t, IW_TO_CLIENT, b.b, b.n);
	CHECK(iw_session_wants(t.s, IW_TO_SERVER),
	    "not established before the client's encrypted flight");
	b.n = 0;
	record_fill(&b, 23, 53, 0xcd);		/* client Finished */
	th_send(&t, IW_TO_SERVER, b.b, b.n);
	th_end(&t, IW_END_FIN);
	evs = th_events();
	ev = session_event(evs);
	if (getenv("IW_DEBUG"))
		printf("# %s\n", json_object_to_json_string(evs));
	CHECK(ev && th_str(ev, "tls.version") && strcmp(th_str(ev,
	    "tls.version"), "TLS 1.3") == 0 &&
	    strcmp(th_str(ev, "tls.cipher"), "TLS_AES_128_GCM_SHA256") == 0,
	    "after HRR: the real ServerHello's version and cipher");
	CHECK(ev && json_object_get_boolean(th_get(ev,
	    "tls.hello_retry_request")) && json_object_get_boolean(th_get(ev,
	    "tls.established")), "HRR noted; established by the TLS 1.3 rule");
	CHECK(ev && strcmp(th_str(ev, "tls.certificate_status"), "encrypted") == 0 &&
	    th_get(ev, "tls.certificate") == NULL &&
	    strcmp(th_str(ev, "tls.name_check.result"), "encrypted") == 0,
	    "TLS 1.3: certificate encrypted, name check says so");
	CHECK(th_count(evs, "alert") == 1 && th_alert(evs,
	    "weak_cipher_offered") && th_count(evs, "anomaly") == 0,
	    "no findings but the offered 3DES suite, no anomalies");
	json_object_put(evs);
	bfree(&b);
	bfree(&m);
}

static void
test_grease(void)
{
	struct ch c = { .sni = "imap.example.com", .tls13 = true,
	    .grease = true };
	struct buf b = { 0 }, m = { 0 };
	struct json_object *evs, *ev;
	struct th t;

	client_hello(&m, &c);
	records(&b, 22, &m, 16384);
	th_clear();
	th_open(&t, "192.0.2.100", 40009, "192.0.2.1", 993);
	th_send(&t, IW_TO_SERVER, b.b, b.n);
	th_end(&t, IW_END_SHUTDOWN);
	evs = th_events();
	ev = session_event(evs);
	CHECK(ev && strcmp(th_str(ev, "tls.ja3.string"),
	    "771,49199-49200-47-10,0-10-11-13-43-51,29-23,0") == 0,
	    "JA3 leaves GREASE suites, extensions and groups out (%s)",
	    th_str(ev, "tls.ja3.string"));
	CHECK(ev && strncmp(th_str(ev, "tls.ja4"), "t13d040600_", 11) == 0,
	    "JA4: version from supported_versions without GREASE (%s)",
	    th_str(ev, "tls.ja4"));
	CHECK(ev && json_object_get_int(th_get(ev, "tls.client_hello.cipher_suites"))
	    == 4 && json_object_array_length(th_get(ev,
	    "tls.client_hello.versions")) == 2, "GREASE not counted as offered");
	json_object_put(evs);
	bfree(&b);
	bfree(&m);
}

/* ClientHello, then what the server does; returns the events. */
static struct json_object *
fail_case(enum iw_tls_origin origin, const struct buf *srv,
    enum iw_end_reason why)
{
	struct ch c = { .sni = "imap.example.com" };
	struct buf b = { 0 }, m = { 0 };
	struct iw_tls *tls = NULL;
	struct th t;

	client_hello(&m, &c);
	records(&b, 22, &m, 16384);
	th_clear();
	th_open(&t, "192.0.2.100", 40010, "192.0.2.1", 993);
	if (origin == IW_TLS_STARTTLS) {
		/* as the IMAP dissector hosts it after STARTTLS */
		tls = iw_tls_new(t.s, IW_TLS_STARTTLS);
		iw_tls_data(tls, IW_TO_SERVER, b.b, b.n);
		if (srv)
			iw_tls_data(tls, IW_TO_CLIENT, srv->b, srv->n);
		iw_tls_end(tls, why);
		iw_tls_free(tls);
	} else {
		th_send(&t, IW_TO_SERVER, b.b, b.n);
		if (srv)
			th_send(&t, IW_TO_CLIENT, srv->b, srv->n);
	}
	th_end(&t, why);
	bfree(&b);
	bfree(&m);
	return th_events();
}

static void
test_failures(void)
{
	struct buf alert = { 0 };
	struct json_object *evs, *a;

	p8(&alert, 21);
	p16(&alert, 0x0303);
	p16(&alert, 2);
	p8(&alert, 2);
	p8(&alert, 40);
	evs = fail_case(IW_TLS_IMPLICIT, &alert, IW_END_FIN);
	a = th_alert(evs, "tls_handshake_failed");
	CHECK(a && strcmp(th_str(a, "tls.failure"), "fatal alert") == 0 &&
	    json_object_get_int(th_get(json_object_array_get_idx(th_get(a,
	    "tls.alert"), 0), "description")) == 40,
	    "fatal handshake_failure alert: tls_handshake_failed with it");
	json_object_put(evs);
	evs = fail_case(IW_TLS_STARTTLS, &alert, IW_END_FIN);
	CHECK(th_alert(evs, "tls_handshake_failed") == NULL,
	    "after STARTTLS it is the IMAP side's starttls_failed instead");
	json_object_put(evs);
	evs = fail_case(IW_TLS_IMPLICIT, NULL, IW_END_RST);
	CHECK(th_alert(evs, "tls_handshake_failed") != NULL,
	    "reset after the ClientHello: failed");
	json_object_put(evs);
	evs = fail_case(IW_TLS_IMPLICIT, NULL, IW_END_SHUTDOWN);
	CHECK(th_alert(evs, "tls_handshake_failed") == NULL,
	    "capture ended after the ClientHello: not a failure");
	json_object_put(evs);
	alert.b[3] = 1;		/* warning level */
	evs = fail_case(IW_TLS_IMPLICIT, &alert, IW_END_SHUTDOWN);
	CHECK(th_alert(evs, "tls_handshake_failed") == NULL,
	    "a warning alert is not a failure");
	json_object_put(evs);
	bfree(&alert);
}

static void
test_midstream(void)
{
	struct buf b = { 0 }, m = { 0 };
	struct json_object *evs, *ev;
	struct th t;

	record_fill(&b, 23, 100, 0x11);
	server_hello(&m, 0x0300, 0x0004, false, false);
	records(&b, 22, &m, 16384);
	th_clear();
	th_open(&t, "192.0.2.100", 40011, "192.0.2.1", 993);
	th_send(&t, IW_TO_CLIENT, b.b, b.n);
	th_end(&t, IW_END_FIN);
	evs = th_events();
	ev = session_event(evs);
	CHECK(ev && json_object_get_boolean(th_get(ev, "tls.midstream")) &&
	    th_count(evs, "alert") == 0,
	    "midstream: recorded, no handshake findings at all");
	json_object_put(evs);
	bfree(&b);
	bfree(&m);
}

static void
test_app_decision(void)
{
	struct ch plain = { .sni = "www.example.com" };
	struct ch alpn = { .sni = "imap.example.com", .alpn = "imap" };
	struct buf b = { 0 }, m = { 0 };
	struct json_object *evs;
	struct th t;

	client_hello(&m, &plain);
	records(&b, 22, &m, 16384);
	iw_cfg.all_tls = false;
	th_clear();
	th_open(&t, "192.0.2.100", 40012, "192.0.2.2", 443);
	th_send(&t, IW_TO_SERVER, b.b, b.n);
	CHECK(!iw_session_wants(t.s, IW_TO_SERVER), "non-IMAP TLS dropped");
	th_end(&t, IW_END_FIN);
	evs = th_events();
	CHECK(json_object_array_length(evs) == 0,
	    "without --all-tls: no event, no alert");
	json_object_put(evs);
	b.n = m.n = 0;
	client_hello(&m, &alpn);
	records(&b, 22, &m, 16384);
	th_clear();
	th_open(&t, "192.0.2.100", 40013, "192.0.2.2", 443);
	th_send(&t, IW_TO_SERVER, b.b, b.n);
	th_end(&t, IW_END_SHUTDOWN);
	evs = th_events();
	CHECK(th_first(evs, "imap") && strcmp(th_str(th_first(evs, "imap"),
	    "imap.mode"), "implicit_tls") == 0 && strcmp(
	    json_object_get_string(json_object_array_get_idx(th_get(
	    th_first(evs, "imap"), "tls.client_alpns"), 0)), "imap") == 0,
	    "ALPN imap on 443: IMAPS");
	json_object_put(evs);
	iw_cfg.all_tls = true;
	bfree(&b);
	bfree(&m);
}

static void
test_names(void)
{
	struct ch nosni = { 0 };
	struct buf cli = { 0 }, srv = { 0 };
	X509 *x = self_signed("other.example.com", NULL);
	struct json_object *evs, *ev;
	struct th t;

	flights_12(&cli, &srv, &nosni, 0x0303, 0xc02f, x);
	th_clear();
	th_open(&t, "192.0.2.100", 40014, "192.0.2.3", 993);
	th_send(&t, IW_TO_SERVER, cli.b, cli.n);
	th_send(&t, IW_TO_CLIENT, srv.b, srv.n);
	th_end(&t, IW_END_SHUTDOWN);
	evs = th_events();
	ev = session_event(evs);
	CHECK(th_alert(evs, "no_sni") && json_object_get_int(th_get(
	    th_alert(evs, "no_sni"), "alert.severity")) == 3 &&
	    strcmp(th_str(ev, "tls.name_check.result"), "unchecked") == 0 &&
	    th_alert(evs, "cert_name_mismatch") == NULL,
	    "no SNI, nothing configured: no_sni (3), identity unchecked");
	json_object_put(evs);
	iw_config_add_server_name("192.0.2.3=imap.example.com");
	th_clear();
	th_open(&t, "192.0.2.100", 40015, "192.0.2.3", 993);
	th_send(&t, IW_TO_SERVER, cli.b, cli.n);
	th_send(&t, IW_TO_CLIENT, srv.b, srv.n);
	th_end(&t, IW_END_SHUTDOWN);
	evs = th_events();
	ev = session_event(evs);
	CHECK(th_alert(evs, "no_sni") == NULL && th_alert(evs,
	    "cert_name_mismatch") && strcmp(th_str(ev,
	    "tls.name_check.source"), "configured") == 0 && strcmp(th_str(ev,
	    "tls.name_check.name"), "imap.example.com") == 0,
	    "configured name checked: mismatch against other.example.com");
	json_object_put(evs);
	bfree(&cli);
	bfree(&srv);
	X509_free(x);
}

static void
test_cert_changed(void)
{
	struct ch c = { .sni = "imap.example.com" };
	struct buf cli = { 0 }, srv = { 0 };
	X509 *x1 = self_signed("imap.example.com", NULL), *x2;
	EVP_PKEY *saved = key;
	struct json_object *evs;
	struct th t;
	int round;

	for (round = 0; round < 3; round++) {
		if (round == 2) {
			key = EVP_EC_gen("P-256");
			x2 = self_signed("imap.example.com", NULL);
			EVP_PKEY_free(key);
			key = saved;
		} else
			x2 = X509_dup(x1);
		cli.n = srv.n = 0;
		flights_12(&cli, &srv, &c, 0x0303, 0xc02f, x2);
		X509_free(x2);
		th_clear();
		th_open(&t, "192.0.2.100", (uint16_t)(40020 + round),
		    "192.0.2.9", 993);
		th_send(&t, IW_TO_SERVER, cli.b, cli.n);
		th_send(&t, IW_TO_CLIENT, srv.b, srv.n);
		th_end(&t, IW_END_SHUTDOWN);
		evs = th_events();
		CHECK((th_alert(evs, "cert_changed") != NULL) == (round == 2),
		    "cert_changed %s in round %d", round == 2 ? "raised" :
		    "quiet", round);
		json_object_put(evs);
	}
	bfree(&cli);
	bfree(&srv);
	X509_free(x1);
}

/*
 * A Certificate message of 1 MiB fits thousands of small certificates,
 * each some 5 KB once OpenSSL has parsed it: only the first TLS_CHAIN_MAX
 * are parsed and kept, the memory they take is charged to --flow-memory,
 * and all of it is given back when the session ends.
 */
static void
chain_run(int n, bool *anomaly, size_t *chain_len, uint64_t *charged,
    uint64_t *left)
{
	struct ch c = { .sni = "imap.example.com" };
	struct buf cli = { 0 }, srv = { 0 }, m = { 0 };
	X509 *xs[40];
	struct json_object *evs, *ev;
	uint64_t base;
	char cn[32];
	struct th t;
	int i;

	for (i = 0; i < n; i++) {
		snprintf(cn, sizeof(cn), "c%d.example.com", i);
		xs[i] = self_signed(cn, NULL);
	}
	client_hello(&m, &c);
	records(&cli, 22, &m, 16384);
	bfree(&m);
	server_hello(&m, 0x0303, 0xc02f, false, false);
	certificate_chain(&m, xs, n);
	hello_done(&m);
	records(&srv, 22, &m, 16384);
	bfree(&m);
	th_clear();
	base = iw_flowmem_in_use();
	th_open(&t, "192.0.2.100", (uint16_t)(40100 + n), "192.0.2.12", 993);
	th_send(&t, IW_TO_SERVER, cli.b, cli.n);
	th_send(&t, IW_TO_CLIENT, srv.b, srv.n);
	*charged = iw_flowmem_in_use() - base;
	th_end(&t, IW_END_FIN);
	*left = iw_flowmem_in_use() - base;
	evs = th_events();
	ev = session_event(evs);
	*anomaly = has_anomaly(evs, "certificate_chain_too_long");
	*chain_len = ev != NULL && th_get(ev, "tls.chain") != NULL ?
	    json_object_array_length(th_get(ev, "tls.chain")) : 0;
	json_object_put(evs);
	bfree(&cli);
	bfree(&srv);
	for (i = 0; i < n; i++)
		X509_free(xs[i]);
}

static void
test_chain_cap(void)
{
	uint64_t charged3, charged40, left;
	size_t len;
	bool anomaly;

	chain_run(3, &anomaly, &len, &charged3, &left);
	CHECK(!anomaly && len == 3 && left == 0,
	    "a chain of 3: all kept, no anomaly, memory given back (%zu, %llu)",
	    len, (unsigned long long)left);
	chain_run(40, &anomaly, &len, &charged40, &left);
	CHECK(anomaly && len == TLS_CHAIN_MAX,
	    "a chain of 40: the first %d kept, anomaly "
	    "certificate_chain_too_long (%zu)", TLS_CHAIN_MAX, len);
	CHECK(charged40 - charged3 >= (uint64_t)(TLS_CHAIN_MAX - 3) * 6144 &&
	    charged40 - charged3 < (uint64_t)(TLS_CHAIN_MAX - 3 + 1) * 8192,
	    "parsed certificates are charged to --flow-memory, %d of them "
	    "(%llu bytes more than for 3)", TLS_CHAIN_MAX,
	    (unsigned long long)(charged40 - charged3));
	CHECK(left == 0, "... and given back when the session ends (%llu)",
	    (unsigned long long)left);
}

/* RFC 5246 NULL suite: records are plaintext and a 20-byte HMAC-SHA1. */
static void
test_null_cipher(void)
{
	struct ch c = { .sni = "imap.example.com" };
	struct buf cli = { 0 }, srv = { 0 }, r = { 0 };
	const char *login = "a1 LOGIN alice s3cret\r\n";
	struct json_object *evs, *ev;
	struct th t;

	flights_12(&cli, &srv, &c, 0x0303, 0x0002, NULL);
	th_clear();
	th_open(&t, "192.0.2.100", 40030, "192.0.2.1", 993);
	th_send(&t, IW_TO_SERVER, cli.b, cli.n);
	th_send(&t, IW_TO_CLIENT, srv.b, srv.n);
	finish_12(&t, 12 + 4 + 20);
	CHECK(iw_session_wants(t.s, IW_TO_SERVER),
	    "NULL cipher IMAP: still read after the handshake");
	p8(&r, 23);
	p16(&r, 0x0303);
	vopen(&r, 2);
	put(&r, "* OK ready\r\n", 12);
	put(&r, "MMMMMMMMMMMMMMMMMMMM", 20);
	vclose(&r);
	th_send(&t, IW_TO_CLIENT, r.b, r.n);
	r.n = 0;
	p8(&r, 23);
	p16(&r, 0x0303);
	vopen(&r, 2);
	put(&r, login, strlen(login));
	put(&r, "MMMMMMMMMMMMMMMMMMMM", 20);
	vclose(&r);
	th_send(&t, IW_TO_SERVER, r.b, r.n);
	th_end(&t, IW_END_FIN);
	evs = th_events();
	ev = session_event(evs);
	CHECK(th_alert(evs, "weak_cipher") && strcmp(th_str(th_alert(evs,
	    "weak_cipher"), "tls.cipher"), "TLS_RSA_WITH_NULL_SHA") == 0,
	    "NULL cipher negotiated: weak_cipher");
	CHECK(ev && json_object_get_boolean(th_get(ev, "tls.established")),
	    "NULL cipher session established");
	CHECK(!th_output_contains("s3cret") && !th_output_contains("MMMM"),
	    "neither the password nor the MAC bytes reach any output");
	CHECK(th_alert(evs, "cleartext_login") != NULL,
	    "LOGIN inside NULL-cipher TLS is flagged (by the inner IMAP)");
	json_object_put(evs);
	bfree(&cli);
	bfree(&srv);
	bfree(&r);
}

/* Mutated handshakes: no crash, no leak (run under ASan). */
static void
test_mutations(void)
{
	struct ch c = { .sni = "imap.example.com", .alpn = "imap",
	    .tls13 = true, .grease = true };
	struct buf cli = { 0 }, srv = { 0 };
	X509 *x = self_signed("imap.example.com", "DNS:imap.example.com");
	uint32_t seed = 12345;
	struct th t;
	int i, k;

	flights_12(&cli, &srv, &c, 0x0303, 0xc02f, x);
	for (i = 0; i < 3000; i++) {
		struct buf a = { 0 }, b = { 0 };

		put(&a, cli.b, cli.n);
		put(&b, srv.b, srv.n);
		for (k = 0; k < 1 + i % 4; k++) {
			seed = seed * 1103515245 + 12345;
			if (seed & 0x10000)
				a.b[(seed >> 8) % a.n] = (uint8_t)(seed >> 24);
			else
				b.b[(seed >> 8) % b.n] = (uint8_t)(seed >> 24);
		}
		th_open(&t, "192.0.2.100", 41000, "192.0.2.1", 993);
		th_send(&t, IW_TO_SERVER, a.b, (seed >> 3) % a.n + 1);
		th_send(&t, IW_TO_CLIENT, b.b, b.n);
		th_send(&t, IW_TO_SERVER, a.b, a.n);
		th_end(&t, i & 1 ? IW_END_FIN : IW_END_SHUTDOWN);
		bfree(&a);
		bfree(&b);
	}
	th_clear();
	CHECK(true, "3000 mutated handshakes analysed without a crash");
	bfree(&cli);
	bfree(&srv);
	X509_free(x);
}

int
main(void)
{
	th_init();
	iw_cfg.all_tls = true;
	key = EVP_EC_gen("P-256");
	CHECK(iw_tls_probe_bytes((const uint8_t *)"\x16\x03\x01\x00\x05", 5)
	    == 2 && iw_tls_probe_bytes((const uint8_t *)"\x16\x03", 2) == 1 &&
	    iw_tls_probe_bytes((const uint8_t *)"* OK", 4) == 0 &&
	    iw_tls_probe_bytes((const uint8_t *)"\x16\x03\x01\x48\x01", 5) ==
	    0, "probe: TLS record, need more, IMAP greeting, length too big");
	CHECK(iw_tls_probe_bytes((const uint8_t *)"\x80\x2e\x01\x03\x01", 5)
	    == 2, "probe: SSLv2-compatible ClientHello");
	test_full_12();
	test_split_every_byte();
	test_length_limits();
	test_hs_max();
	test_sslv2();
	test_pure_sslv2();
	test_hrr_tls13();
	test_grease();
	test_failures();
	test_midstream();
	test_app_decision();
	test_names();
	test_cert_changed();
	test_chain_cap();
	test_null_cipher();
	test_mutations();
	EVP_PKEY_free(key);
	return th_done();
}
