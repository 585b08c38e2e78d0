/* SPDX-License-Identifier: ISC */
/*
 * tls_hello.c - handshake messages: reassembly across records (bounded),
 * ClientHello, ServerHello / HelloRetryRequest, Certificate,
 * ServerKeyExchange, ServerHelloDone, and the SSLv2 hello messages.
 *
 * Every read of message bytes goes through a struct iw_rd; a vector's
 * declared length is checked against the bytes present before it is used
 * (rd_sub), and a message's declared length against TLS_HS_MAX before any
 * memory is given to it.
 */
#include <json.h>
#include <stdlib.h>
#include <string.h>

#include "ciphers.h"
#include "event.h"
#include "fingerprint.h"
#include "flowmem.h"
#include "session.h"
#include "tls_int.h"
#include "x509.h"

/* Handshake message types (RFC 8446 4, RFC 5246 7.4). */
#define HS_CLIENT_HELLO		1
#define HS_SERVER_HELLO		2
#define HS_CERTIFICATE		11
#define HS_SERVER_KEY_EXCHANGE	12
#define HS_SERVER_HELLO_DONE	14
#define HS_FINISHED		20

/* Extension types. */
#define EXT_SNI			0
#define EXT_GROUPS		10
#define EXT_POINT_FORMATS	11
#define EXT_SIGALGS		13
#define EXT_ALPN		16
#define EXT_PSK			41
#define EXT_VERSIONS		43
#define EXT_KEY_SHARE		51

/* SHA-256("HelloRetryRequest"), the ServerHello.random of an HRR. */
static const uint8_t hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
	0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
	0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

/* An integer to one of client_handshake's lists, GREASE left out. */
static void
hs_add(struct json_object **list, uint16_t v)
{
	if (iw_grease(v))
		return;
	if (*list == NULL)
		*list = json_object_new_array();
	if (json_object_array_length(*list) < TLS_HS_LIST_MAX)
		json_object_array_add(*list, json_object_new_int(v));
}

static void
list_add(struct json_object **list, struct json_object *v)
{
	if (*list == NULL)
		*list = json_object_new_array();
	if (json_object_array_length(*list) < TLS_LIST_MAX)
		json_object_array_add(*list, v);
	else
		json_object_put(v);
}

/* A version offered, named as tls.version is (Suricata's names). */
static struct json_object *
version_json(uint16_t v)
{
	char buf[24];

	return json_object_new_string(tls_eve_version(v, buf));
}

/* ---- ClientHello ---- */

static void
ch_sni(struct iw_tls *t, struct iw_rd e, struct iw_client_hello_fp *fp)
{
	struct iw_rd list = rd_sub(&e, rd_u16(&e)), name;
	uint8_t type;

	fp->has_sni = true;
	while (rd_left(&list) >= 3) {
		type = rd_u8(&list);
		name = rd_sub(&list, rd_u16(&list));
		if (name.bad || type != 0 || rd_left(&name) == 0)
			continue;
		/* the whole name, NUL bytes too: a NUL is an evasion */
		t->has_sni = true;
		t->sni_len = iw_utf8_sanitize(rd_ptr(&name), rd_left(&name),
		    t->sni, sizeof(t->sni));
		break;
	}
	if (list.bad || e.bad)
		tls_anomaly(t, TA_CLIENT_HELLO);
}

static void
ch_alpn(struct iw_tls *t, struct iw_rd e, struct iw_client_hello_fp *fp)
{
	struct iw_rd list = rd_sub(&e, rd_u16(&e)), name;

	while (rd_left(&list) >= 1) {
		name = rd_sub(&list, rd_u8(&list));
		if (name.bad)
			break;
		if (fp->alpn == NULL) {
			fp->alpn = rd_ptr(&name);
			fp->alpn_len = rd_left(&name);
		}
		if (rd_left(&name) == 4 && memcmp(rd_ptr(&name), "imap", 4) == 0)
			t->alpn_imap = true;
		list_add(&t->alpn_offered, iw_json_bytes(rd_ptr(&name),
		    rd_left(&name)));
	}
	if (list.bad || e.bad)
		tls_anomaly(t, TA_CLIENT_HELLO);
}

static void
ch_versions(struct iw_tls *t, struct iw_rd e, struct iw_client_hello_fp *fp)
{
	struct iw_rd list = rd_sub(&e, rd_u8(&e)), r;
	uint16_t v;

	fp->versions = list;
	for (r = list; rd_left(&r) >= 2;) {
		v = rd_u16(&r);
		if (t->ch_sv_first == 0 && tls_eve_version_known(v))
			t->ch_sv_first = v;
		if (!iw_grease(v))
			list_add(&t->versions_offered, version_json(v));
	}
	if (list.bad)
		tls_anomaly(t, TA_CLIENT_HELLO);
}

static void
ch_key_share(struct iw_tls *t, struct iw_rd e)
{
	struct iw_rd list = rd_sub(&e, rd_u16(&e)), ke;
	uint16_t g;

	while (rd_left(&list) >= 4) {
		g = rd_u16(&list);
		ke = rd_sub(&list, rd_u16(&list));
		if (ke.bad)
			break;
		if (!iw_grease(g))
			list_add(&t->groups_offered, json_object_new_int(g));
	}
	if (list.bad)
		tls_anomaly(t, TA_CLIENT_HELLO);
}

static void
ch_extension(struct iw_tls *t, uint16_t type, struct iw_rd e,
    struct iw_client_hello_fp *fp)
{
	struct iw_rd copy = e, r;

	switch (type) {
	case EXT_SNI:
		ch_sni(t, e, fp);
		break;
	case EXT_ALPN:
		ch_alpn(t, e, fp);
		break;
	case EXT_GROUPS:
		fp->groups = rd_sub(&copy, rd_u16(&copy));
		break;
	case EXT_POINT_FORMATS:
		fp->formats = rd_sub(&copy, rd_u8(&copy));
		break;
	case EXT_SIGALGS:
		fp->sigalgs = rd_sub(&copy, rd_u16(&copy));
		for (r = fp->sigalgs; rd_left(&r) >= 2;)
			hs_add(&t->ch_sigalgs, rd_u16(&r));
		break;
	case EXT_VERSIONS:
		ch_versions(t, e, fp);
		break;
	case EXT_KEY_SHARE:
		ch_key_share(t, e);
		break;
	}
	if (copy.bad)
		tls_anomaly(t, TA_CLIENT_HELLO);
}

/* Offered suites: count, and the weak ones by name (bounded). */
static void
ch_suites(struct iw_tls *t, struct iw_rd r)
{
	const struct iw_cipher_suite *cs;
	char buf[8];
	uint16_t id;

	while (rd_left(&r) >= 2) {
		id = rd_u16(&r);
		if (iw_grease(id))
			continue;
		hs_add(&t->ch_ciphers, id);
		t->n_suites++;
		if (iw_policy_cipher_weak(id) == 0)
			continue;
		t->n_weak_offered++;
		cs = iw_cipher_lookup(id);
		snprintf(buf, sizeof(buf), "0x%04x", id);
		list_add(&t->weak_offered, json_object_new_string(cs ? cs->name :
		    buf));
	}
}

static void
ch_fingerprints(struct iw_tls *t, const struct iw_client_hello_fp *fp)
{
	t->ja3 = iw_ja3_string(fp);
	if (t->ja3 != NULL)
		iw_md5_hex(t->ja3, strlen(t->ja3), t->ja3_md5);
	if (!iw_ja4(fp, t->ja4))
		t->ja4[0] = '\0';
}

/* Empty readers for vectors the hello lacks. */
static void
fp_init(struct iw_client_hello_fp *fp)
{
	static const uint8_t none[1];

	memset(fp, 0, sizeof(*fp));
	fp->suites = fp->exts = fp->groups = fp->formats = rd_init(none, 0);
	fp->sigalgs = fp->versions = rd_init(none, 0);
}

static void
client_hello(struct iw_tls *t, struct iw_rd m)
{
	struct iw_client_hello_fp fp;
	struct iw_rd sid, comp, exts, e;
	uint16_t type;

	if (++t->n_ch > 1)
		return;		/* after an HRR: the first one describes */
	fp_init(&fp);
	fp.version = t->ch_version = rd_u16(&m);
	rd_skip(&m, 32);
	sid = rd_sub(&m, rd_u8(&m));
	fp.suites = rd_sub(&m, rd_u16(&m));
	comp = rd_sub(&m, rd_u8(&m));
	if (m.bad || sid.bad || rd_left(&sid) > 32 || comp.bad ||
	    rd_left(&fp.suites) % 2 != 0) {
		tls_anomaly(t, TA_CLIENT_HELLO);
		tls_decide_app(t);
		return;
	}
	t->ch_sid_len = (uint8_t)rd_left(&sid);
	memcpy(t->ch_sid, rd_ptr(&sid), t->ch_sid_len);
	if (rd_left(&m) > 0) {
		exts = fp.exts = rd_sub(&m, rd_u16(&m));
		while (rd_left(&exts) >= 4) {
			type = rd_u16(&exts);
			e = rd_sub(&exts, rd_u16(&exts));
			if (e.bad)
				continue;
			hs_add(&t->ch_exts, type);
			ch_extension(t, type, e, &fp);
		}
		if (m.bad || exts.bad || rd_left(&exts) != 0)
			tls_anomaly(t, TA_CLIENT_HELLO);
	}
	tls_decide_app(t);
	if (t->dropped)
		return;
	ch_suites(t, fp.suites);
	/* Suricata's client_handshake version: the highest of the hello's
	 * version and the first supported_versions entry it knows */
	t->ch_hs_version = iw_grease(t->ch_version) ? 0 : t->ch_version;
	if (t->ch_sv_first > t->ch_hs_version)
		t->ch_hs_version = t->ch_sv_first;
	if (t->versions_offered == NULL)
		list_add(&t->versions_offered, version_json(t->ch_version));
	ch_fingerprints(t, &fp);
	tls_client_hello_findings(t);
}

/* ---- ServerHello ---- */

static void
sh_alpn(struct iw_tls *t, struct iw_rd e)
{
	struct iw_rd list = rd_sub(&e, rd_u16(&e));
	struct iw_rd name = rd_sub(&list, rd_u8(&list));

	if (name.bad) {
		tls_anomaly(t, TA_SERVER_HELLO);
		return;
	}
	t->alpn_sel_set = true;
	iw_utf8_sanitize(rd_ptr(&name), rd_left(&name), t->alpn_sel,
	    sizeof(t->alpn_sel));
}

static void
sh_extensions(struct iw_tls *t, struct iw_rd exts)
{
	struct iw_rd e;
	uint16_t type;

	json_object_put(t->sh_exts);
	t->sh_exts = NULL;
	while (rd_left(&exts) >= 4) {
		type = rd_u16(&exts);
		e = rd_sub(&exts, rd_u16(&exts));
		if (e.bad)
			break;
		hs_add(&t->sh_exts, type);
		if (type == EXT_VERSIONS && rd_left(&e) == 2) {
			t->version = rd_u16(&e);
			t->version_set = true;
		} else if (type == EXT_ALPN)
			sh_alpn(t, e);
		else if (type == EXT_PSK)
			t->resumed = true;	/* TLS 1.3 PSK accepted */
		else if (type == EXT_KEY_SHARE && rd_left(&e) >= 2)
			t->kx_group = rd_u16(&e);
	}
	if (exts.bad || rd_left(&exts) != 0)
		tls_anomaly(t, TA_SERVER_HELLO);
}

static void
sh_cipher(struct iw_tls *t, uint16_t cipher)
{
	const struct iw_cipher_suite *cs = iw_cipher_lookup(cipher);

	t->cipher = cipher;
	t->cipher_set = true;
	/* TLS 1.3's integrity-only suites still wrap records: not ours */
	t->null_cipher = cs != NULL && (cs->flags & IW_CS_NULL) &&
	    !(cs->flags & IW_CS_TLS13);
	t->mac_len = t->null_cipher ? cs->mac_len : 0;
}

static void
server_hello(struct iw_tls *t, struct iw_rd m)
{
	struct iw_rd sid, exts;
	const uint8_t *random;
	uint16_t legacy, cipher;

	legacy = rd_u16(&m);
	rd_bytes(&m, 32, &random);
	if ((legacy >> 8) == 0x7f && (legacy & 0xff) < 22) {
		/* TLS 1.3 drafts before 22: no session id, no compression */
		sid = rd_init(random, 0);
		cipher = rd_u16(&m);
	} else {
		sid = rd_sub(&m, rd_u8(&m));
		cipher = rd_u16(&m);
		rd_u8(&m);	/* compression */
	}
	if (m.bad || rd_left(&sid) > 32) {
		tls_anomaly(t, TA_SERVER_HELLO);
		return;
	}
	t->version = t->sh_legacy = legacy;
	t->version_set = true;
	sh_cipher(t, cipher);
	exts = rd_init(random, 0);
	if (rd_left(&m) > 0) {
		exts = rd_sub(&m, rd_u16(&m));
		sh_extensions(t, exts);
	}
	free(t->ja3s);
	t->ja3s = iw_ja3s_string(legacy, cipher, exts);
	if (t->ja3s != NULL)
		iw_md5_hex(t->ja3s, strlen(t->ja3s), t->ja3s_md5);
	if (memcmp(random, hrr_random, 32) == 0) {
		t->hrr = true;	/* a second ClientHello and ServerHello follow */
		return;
	}
	t->sh_seen = true;
	if (!tls13(t) && t->ch_sid_len > 0 && rd_left(&sid) == t->ch_sid_len &&
	    memcmp(rd_ptr(&sid), t->ch_sid, t->ch_sid_len) == 0)
		t->resumed = true;	/* the server took the session id */
	tls_server_hello_findings(t);
}

/* ---- Certificate, ServerKeyExchange ---- */

/*
 * OpenSSL allocates a parsed certificate itself, so its size is charged
 * to --flow-memory as an estimate: measured on Debian's CA bundle, d2i_X509
 * takes about 4.2 KB plus 0.9 times the DER; this errs above that.
 */
static size_t
x509_cost(size_t der_len)
{
	return 6144 + 2 * der_len;
}

static void
cert_keep(struct iw_tls *t, X509 *x, size_t index, struct iw_rd der)
{
	struct json_object *j = iw_x509_json(x), *b64;
	size_t der_len = rd_left(&der);

	/* the base64 copy is 4/3 of the DER: within the estimate's 2x */
	t->x509_charge += x509_cost(der_len);
	iw_flowmem_charge((int64_t)x509_cost(der_len));

	if (t->chain_b64 == NULL)
		t->chain_b64 = json_object_new_array();
	if ((b64 = iw_x509_base64(rd_ptr(&der), der_len)) != NULL)
		json_object_array_add(t->chain_b64, b64);

	if (t->chain_json == NULL)
		t->chain_json = json_object_new_array();
	if (json_object_array_length(t->chain_json) < TLS_LIST_MAX)
		json_object_array_add(t->chain_json, json_object_get(j));
	if (index == 0) {
		t->leaf = x;
		t->leaf_json = j;
		return;
	}
	json_object_put(j);
	if (t->chain == NULL)
		t->chain = sk_X509_new_null();
	if (t->chain == NULL || !sk_X509_push(t->chain, x))
		X509_free(x);
}

/* The next certificate's DER in a list; a TLS 1.3 entry's extensions
 * (OCSP, SCT) are stepped over. */
static struct iw_rd
next_der(struct iw_rd *list, enum tls_cert_form form)
{
	struct iw_rd der, ext;

	if (form == TLS_CERTS_SSLV2)
		return rd_sub(list, rd_left(list));
	der = rd_sub(list, rd_u24(list));
	if (form == TLS_CERTS_TLS13) {
		ext = rd_sub(list, rd_u16(list));
		if (ext.bad)
			der.bad = true;
	}
	return der;
}

void
tls_certificates(struct iw_tls *t, struct iw_rd list, enum tls_cert_form form)
{
	struct iw_rd der;
	size_t i;
	X509 *x;

	if (t->cert_seen)
		return;
	t->cert_seen = true;
	for (i = 0; rd_left(&list) > 0; i++) {
		der = next_der(&list, form);
		if (der.bad) {
			tls_anomaly(t, TA_CERTIFICATE);
			break;
		}
		if (i == TLS_CHAIN_MAX) {
			/* the rest is neither parsed nor kept */
			tls_anomaly(t, TA_CHAIN_TOO_LONG);
			break;
		}
		x = iw_x509_parse(rd_ptr(&der), rd_left(&der));
		if (x == NULL) {
			/* the leaf unreadable: judge nothing rather than the
			 * wrong certificate */
			tls_anomaly(t, TA_CERTIFICATE);
			if (i == 0)
				return;
			continue;
		}
		cert_keep(t, x, i, der);
	}
	if (t->leaf != NULL)
		tls_cert_findings(t);
}

/*
 * The client's first certificate, sent in the clear (TLS <= 1.2): its
 * description is tls.client, as Suricata's.  An empty list is a client
 * declining to authenticate.
 */
static void
client_certificate(struct iw_tls *t, struct iw_rd m, enum tls_cert_form form)
{
	struct iw_rd list, der;
	X509 *x;

	if (form == TLS_CERTS_TLS13)	/* certificate_request_context */
		(void)rd_sub(&m, rd_u8(&m));
	list = rd_sub(&m, rd_u24(&m));
	t->client_cert = true;
	if (t->client_leaf != NULL || list.bad || rd_left(&list) == 0)
		return;
	der = next_der(&list, form);
	if (der.bad || (x = iw_x509_parse(rd_ptr(&der), rd_left(&der))) ==
	    NULL) {
		tls_anomaly(t, TA_CERTIFICATE);
		return;
	}
	t->client_leaf = iw_x509_json(x);
	X509_free(x);
}

/*
 * Under TLS 1.3 a Certificate message is encrypted: it reaches here only
 * decrypted with a key log, and has a request context before the list.
 */
static void
certificate(struct iw_tls *t, enum iw_dir dir, struct iw_rd m)
{
	enum tls_cert_form form = tls13(t) ? TLS_CERTS_TLS13 : TLS_CERTS_TLS12;
	struct iw_rd list;

	if (dir == IW_TO_SERVER) {
		client_certificate(t, m, form);
		return;
	}
	if (form == TLS_CERTS_TLS13 && rd_sub(&m, rd_u8(&m)).bad) {
		tls_anomaly(t, TA_CERTIFICATE);
		return;
	}
	list = rd_sub(&m, rd_u24(&m));
	if (list.bad || rd_left(&m) != 0) {
		tls_anomaly(t, TA_CERTIFICATE);
		return;
	}
	t->cert_decrypted = form == TLS_CERTS_TLS13;
	tls_certificates(t, list, form);
}

/* The key exchange's group, or the DH prime's size, from the suite. */
static void
server_key_exchange(struct iw_tls *t, struct iw_rd m)
{
	const struct iw_cipher_suite *cs = iw_cipher_lookup(t->cipher);
	struct iw_rd p, peek;
	size_t bits;
	uint8_t top;

	if (cs == NULL)
		return;
	if (strstr(cs->name, "ECDHE_") != NULL ||
	    strstr(cs->name, "ECDH_anon") != NULL) {
		if (rd_u8(&m) == 3)	/* named_curve */
			t->kx_group = rd_u16(&m);
	} else if (strstr(cs->name, "DHE_") != NULL ||
	    strstr(cs->name, "DH_anon") != NULL) {
		p = rd_sub(&m, rd_u16(&m));
		for (peek = p; rd_left(&peek) > 0 && rd_u8(&peek) == 0;)
			p = peek;	/* leading zero bytes of dh_p */
		peek = p;
		bits = rd_left(&p) * 8;
		if (bits > 0)
			for (top = rd_u8(&peek); !(top & 0x80); top <<= 1)
				bits--;
		t->kx_dh_bits = (int)bits;
	} else
		return;
	if (m.bad)
		tls_anomaly(t, TA_KEY_EXCHANGE);
}

static void
message(struct iw_tls *t, enum iw_dir dir, uint8_t type, struct iw_rd m)
{
	if (dir == IW_TO_SERVER) {
		if (type == HS_CLIENT_HELLO)
			client_hello(t, m);
		else if (type == HS_CERTIFICATE)
			certificate(t, dir, m);
		return;
	}
	switch (type) {
	case HS_SERVER_HELLO:
		server_hello(t, m);
		break;
	case HS_CERTIFICATE:
		certificate(t, dir, m);
		break;
	case HS_SERVER_KEY_EXCHANGE:
		server_key_exchange(t, m);
		break;
	case HS_SERVER_HELLO_DONE:
		t->shd_seen = true;
		break;
	case HS_FINISHED:
		/* decrypted TLS 1.3: a server that authenticated without a
		 * certificate resumed a session (PSK) */
		if (tls13(t) && !t->cert_seen)
			t->resumed = true;
		break;
	}
}

/* ---- reassembly ---- */

/*
 * Bytes held in split handshake messages by every session: a client that
 * sends half a ClientHello and waits costs memory until the connection
 * ends, so the total is capped too, not only each message.
 */
static _Thread_local size_t hs_held;	/* the worker's */

void
tls_hs_free(struct tls_dir *d)
{
	hs_held -= d->hs_cap;
	iw_flowmem_free(d->hs);
	d->hs = NULL;
	d->hs_len = d->hs_cap = 0;
}

static void
hs_give_up(struct iw_tls *t, struct tls_dir *d, enum tls_anomaly a)
{
	tls_anomaly(t, a);
	tls_hs_free(d);
	d->hs_dead = true;
}

/*
 * Parses the complete messages at the start of p; returns the bytes they
 * took.  A message longer than TLS_HS_MAX stops the direction's handshake
 * before anything is allocated for it.
 */
static size_t
hs_parse(struct iw_tls *t, enum iw_dir dir, const uint8_t *p, size_t n)
{
	struct iw_rd r = rd_init(p, n), m;
	size_t done = 0;
	uint32_t mlen;
	uint8_t type;

	while (rd_left(&r) >= 4 && !t->dropped) {
		type = rd_u8(&r);
		mlen = rd_u24(&r);
		if (mlen > TLS_HS_MAX) {
			hs_give_up(t, &t->d[dir], TA_TOO_LONG);
			return n;
		}
		m = rd_sub(&r, mlen);
		if (m.bad)
			break;
		message(t, dir, type, m);
		done = r.pos;
	}
	return done;
}

/* Keeps part of a split message; the anomaly to report when it cannot. */
static enum tls_anomaly
hs_keep(struct tls_dir *d, enum iw_dir dir, const uint8_t *p, size_t n)
{
	size_t max = dir == IW_TO_SERVER ? TLS_HS_CLIENT_MAX : TLS_HS_MAX;
	size_t ncap;
	uint8_t *nb;

	if (n > max + 4 - d->hs_len)
		return TA_TOO_LONG;
	if (d->hs_len + n > d->hs_cap) {
		ncap = d->hs_cap ? d->hs_cap : 4096;
		while (ncap < d->hs_len + n)
			ncap *= 2;
		if (ncap > max + 4)
			ncap = max + 4;
		if (hs_held - d->hs_cap + ncap > TLS_HS_BUDGET)
			return TA_BUDGET;
		if ((nb = iw_flowmem_realloc(d->hs, ncap)) == NULL)
			return TA_BUDGET;
		hs_held += ncap - d->hs_cap;
		d->hs = nb;
		d->hs_cap = ncap;
	}
	memcpy(d->hs + d->hs_len, p, n);
	d->hs_len += n;
	return TA_COUNT;
}

/* Bytes still missing from the message held in d->hs. */
static size_t
hs_need(const struct tls_dir *d, bool *too_long)
{
	struct iw_rd r = rd_init(d->hs, d->hs_len);
	uint32_t mlen;

	*too_long = false;
	if (d->hs_len < 4)
		return 4 - d->hs_len;
	rd_u8(&r);
	mlen = rd_u24(&r);
	if (mlen > TLS_HS_MAX) {
		*too_long = true;
		return 0;
	}
	return 4 + (size_t)mlen - d->hs_len;
}

/*
 * The content of a plaintext handshake record.  Whole messages are parsed
 * where they lie; only a message split across records is copied, and the
 * copy never holds more than that one message.
 */
void
tls_handshake(struct iw_tls *t, enum iw_dir dir, const uint8_t *p, size_t n)
{
	struct tls_dir *d = &t->d[dir];
	size_t c, need;
	bool too_long;
	enum tls_anomaly a;

	while (n > 0 && !d->hs_dead && !t->dropped) {
		if (d->hs_len == 0) {
			c = hs_parse(t, dir, p, n);
			if (c < n && !d->hs_dead &&
			    (a = hs_keep(d, dir, p + c, n - c)) != TA_COUNT)
				hs_give_up(t, d, a);
			return;
		}
		need = hs_need(d, &too_long);
		if (too_long) {
			hs_give_up(t, d, TA_TOO_LONG);
			return;
		}
		c = need < n ? need : n;
		if ((a = hs_keep(d, dir, p, c)) != TA_COUNT) {
			hs_give_up(t, d, a);
			return;
		}
		p += c;
		n -= c;
		if (d->hs_len >= 4 && hs_need(d, &too_long) == 0 && !too_long) {
			hs_parse(t, dir, d->hs, d->hs_len);
			tls_hs_free(d);
		}
	}
}

/* ---- SSLv2 ---- */

static void
sslv2_client_hello(struct iw_tls *t, struct iw_rd m)
{
	struct iw_rd specs;
	uint16_t slen, sidlen, chlen;
	uint32_t kind;
	char buf[12];
	const char *name;

	if (++t->n_ch > 1)
		return;
	t->ch_sslv2 = true;
	t->ch_version = rd_u16(&m);
	slen = rd_u16(&m);
	sidlen = rd_u16(&m);
	chlen = rd_u16(&m);
	specs = rd_sub(&m, slen);
	if (m.bad || slen % 3 != 0 || !rd_skip(&m, (size_t)sidlen + chlen)) {
		tls_anomaly(t, TA_SSLV2);
		tls_decide_app(t);
		return;
	}
	tls_decide_app(t);
	if (t->dropped)
		return;
	list_add(&t->versions_offered, version_json(t->ch_version));
	while (rd_left(&specs) >= 3) {
		kind = rd_u24(&specs);
		t->n_suites++;
		if ((kind >> 16) == 0 ? iw_policy_cipher_weak((uint16_t)kind) :
		    iw_policy_sslv2_cipher_weak(kind)) {
			t->n_weak_offered++;
			name = (kind >> 16) == 0 ? (iw_cipher_lookup(
			    (uint16_t)kind) ? iw_cipher_lookup((uint16_t)kind)->
			    name : NULL) : iw_sslv2_cipher_name(kind);
			snprintf(buf, sizeof(buf), "0x%06x", kind);
			list_add(&t->weak_offered, json_object_new_string(
			    name ? name : buf));
		}
	}
	tls_client_hello_findings(t);
}

static void
sslv2_server_hello(struct iw_tls *t, struct iw_rd m)
{
	struct iw_rd cert;
	uint16_t clen;

	rd_u8(&m);		/* session id hit */
	rd_u8(&m);		/* certificate type */
	t->version = rd_u16(&m);
	t->version_set = true;
	clen = rd_u16(&m);
	rd_u16(&m);		/* cipher specs length */
	rd_u16(&m);		/* connection id length */
	cert = rd_sub(&m, clen);
	if (m.bad) {
		tls_anomaly(t, TA_SSLV2);
		return;
	}
	t->sslv2 = true;
	t->sh_seen = true;
	tls_server_hello_findings(t);
	if (rd_left(&cert) > 0)
		tls_certificates(t, cert, TLS_CERTS_SSLV2);
}

static void
sslv2_master_key(struct iw_tls *t, struct iw_rd m)
{
	uint32_t kind = rd_u24(&m);

	if (m.bad) {
		tls_anomaly(t, TA_SSLV2);
		return;
	}
	t->v2_cipher = kind;
	t->v2_cmk = true;
	tls_server_hello_findings(t);	/* now the cipher is known */
}

void
tls_sslv2_msg(struct iw_tls *t, enum iw_dir dir, struct iw_rd m)
{
	uint8_t type = rd_u8(&m);

	if (m.bad) {
		tls_anomaly(t, TA_SSLV2);
		return;
	}
	if (dir == IW_TO_SERVER && type == 1)
		sslv2_client_hello(t, m);
	else if (dir == IW_TO_CLIENT && type == 4)
		sslv2_server_hello(t, m);
	else if (dir == IW_TO_SERVER && type == 2 && t->sslv2)
		sslv2_master_key(t, m);
}
