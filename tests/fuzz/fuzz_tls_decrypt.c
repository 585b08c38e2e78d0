/* SPDX-License-Identifier: ISC */
/*
 * fuzz_tls_decrypt.c - the decrypting record layer (dissectors/
 * tls_decrypt.c) on records sealed with fixed keys and on raw ones: the
 * hellos it reads, the key stages it follows (0-RTT, handshake,
 * application, KeyUpdate, ChangeCipherSpec), holding and retry, the
 * handshake messages and EncryptedExtensions it reads after decryption,
 * padding, MACs, lengths.
 *
 * The harness plays both peers.  It sends a ClientHello and ServerHello
 * in the clear for the mode the first byte picks, then for each chunk of
 * the input either a raw record or one it seals itself (EVP, with keys
 * derived by the library's KDFs from fixed secrets, which the key lookup
 * returns), so that the fuzzer reaches what lies behind authentication.
 *
 * Input: a mode byte, then chunks "u8 ctl, u16 len, len bytes":
 *   mode  bits 0-1: TLS 1.3 AES-128-GCM, TLS 1.2 AES-128-GCM, TLS 1.2
 *                   AES-128-CBC-SHA encrypt_then_mac, ... MAC-then-encrypt
 *         bit 2: the ClientHello offers early data
 *         bit 3: a hold of 4 KiB (else none)
 *         bit 4: some secrets missing (1.3: early and server application;
 *                1.2: the master secret)
 *         bit 5: CBC: TLS 1.0; TLS 1.3: the keys come only on a retry
 *         bit 6: a HelloRetryRequest first
 *         bit 7: no hellos at all (picked up mid-stream)
 *   ctl   bit 7: direction (server to client)
 *         bits 4-6: 0 raw record of type 20 + (ctl & 7); 1 sealed record
 *                   of (inner) type 20 + (ctl & 3), TLS 1.3 padding
 *                   4 * ((ctl >> 2) & 3); 2 the same with one byte
 *                   flipped; 3 the sealer of that direction moves to
 *                   stage ctl & 3 (early, handshake, application,
 *                   KeyUpdate); 4 control: ctl & 3 = gap, retry, give
 *                   up, read the counters; 5-7 raw record, type and
 *                   version from its first bytes
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "tls_decrypt.h"
#include "tls_keys.h"

#define MAX_PLAIN	17000

struct sealer {
	EVP_CIPHER_CTX	*ctx;
	bool		 keyed;		/* ctx holds key: only nonces change */
	uint8_t		 key[16], iv[16], mac_key[20];
	uint8_t		 secret[32];
	uint64_t	 seq;
};

struct h {
	int		 mode;		/* 0..3 */
	uint16_t	 version;
	bool		 tls13, etm, keys_late, keys_ready, some_missing;
	struct sealer	 s[2];
	struct iw_tlsd	*t;
	uint64_t	 out;		/* plaintext bytes seen */
};

static const uint8_t crandom[32] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 7 };
static const uint8_t srandom_[32] = { 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 9 };
static const uint8_t hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
	0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
	0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

static void
secret(enum iw_tls_secret_kind k, uint8_t *out, size_t n)
{
	memset(out, 0x20 + (int)k, n);
}

static void
on_plain(void *arg, enum iw_dir dir, uint8_t type, const uint8_t *p,
    size_t n)
{
	struct h *h = arg;
	size_t i;

	for (i = 0; i < n; i++)		/* touch every byte given */
		h->out += p[i] == 0x5a;
	h->out += n;
}

static bool
on_keys(void *arg, const uint8_t *random, struct iw_tls_secrets *s)
{
	struct h *h = arg;
	int k;

	if (memcmp(random, crandom, 32) != 0 || (h->keys_late &&
	    !h->keys_ready))
		return false;
	memset(s, 0, sizeof(*s));
	for (k = 0; k < IW_TLS_SECRET_KINDS; k++) {
		if (h->some_missing && (k == IW_TLS_MASTER ||
		    k == IW_TLS_C_EARLY || k == IW_TLS_S_AP))
			continue;
		s->len[k] = k == IW_TLS_MASTER ? 48 : 32;
		secret(k, s->v[k], s->len[k]);
	}
	return true;
}

static const struct iw_tlsd_ops ops = { on_plain, on_keys, NULL };

/* ---- the hellos ---- */

static void
send_hs(struct h *h, enum iw_dir dir, const uint8_t *msg, size_t n)
{
	(void)iw_tlsd_record(h->t, dir, 22, 0x0303, msg, n);
}

/* An empty extension (type only), then the lengths of the extension list
 * and of the message filled in; the message is sent. */
static size_t
put_ext(uint8_t *m, size_t n, uint16_t type)
{
	fz_put16(m + n, type);
	fz_put16(m + n + 2, 0);
	return n + 4;
}

static void
finish_hello(struct h *h, enum iw_dir dir, uint8_t *m, size_t n,
    size_t ext_at)
{
	fz_put16(m + ext_at, n - ext_at - 2);
	m[1] = 0;
	fz_put16(m + 2, n - 4);
	send_hs(h, dir, m, n);
}

static void
client_hello(struct h *h, bool early)
{
	uint8_t m[128];
	size_t n = 0, ext_at;

	m[n++] = 1;
	n += 3;				/* length, below */
	m[n++] = 3;
	m[n++] = 3;
	memcpy(m + n, crandom, 32);
	n += 32;
	m[n++] = 0;			/* session id */
	fz_put16(m + n, 2);
	fz_put16(m + n + 2, h->tls13 ? 0x1301 : 0xc02f);
	n += 4;
	m[n++] = 1;
	m[n++] = 0;			/* compression: null */
	ext_at = n;
	n += 2;
	if (early)
		n = put_ext(m, n, 42);
	finish_hello(h, IW_TO_SERVER, m, n, ext_at);
}

static void
server_hello(struct h *h, const uint8_t *random)
{
	static const uint16_t suites[4] = { 0x1301, 0xc02f, 0xc013, 0xc013 };
	uint8_t m[128];
	size_t n = 0, ext_at;

	m[n++] = 2;
	n += 3;
	fz_put16(m + n, h->tls13 ? 0x0303 : h->version);
	n += 2;
	memcpy(m + n, random, 32);
	n += 32;
	m[n++] = 0;
	fz_put16(m + n, suites[h->mode]);
	n += 2;
	m[n++] = 0;
	ext_at = n;
	n += 2;
	if (h->tls13) {
		fz_put16(m + n, 43);
		fz_put16(m + n + 2, 2);
		fz_put16(m + n + 4, 0x0304);
		n += 6;
	}
	if (h->etm)
		n = put_ext(m, n, 22);
	finish_hello(h, IW_TO_CLIENT, m, n, ext_at);
}

/* ---- the sealers ---- */

static void
stage13(struct h *h, enum iw_dir dir, int stage)
{
	struct sealer *s = &h->s[dir];
	static const enum iw_tls_secret_kind k[2][3] = {
		{ IW_TLS_C_EARLY, IW_TLS_C_HS, IW_TLS_C_AP },
		{ IW_TLS_C_EARLY, IW_TLS_S_HS, IW_TLS_S_AP },
	};
	uint8_t next[32];

	if (stage == 3)		/* KeyUpdate: the next secret */
		iw_tls13_expand_label("SHA256", s->secret, 32, "traffic upd",
		    NULL, 0, next, 32);
	else
		secret(k[dir][stage], next, 32);
	memcpy(s->secret, next, 32);
	iw_tls13_expand_label("SHA256", s->secret, 32, "key", NULL, 0, s->key,
	    16);
	iw_tls13_expand_label("SHA256", s->secret, 32, "iv", NULL, 0, s->iv,
	    12);
	s->seq = 0;
	s->keyed = false;
}

static void
keys12(struct h *h)
{
	uint8_t master[48], kb[2 * (20 + 16 + 16)];
	size_t mk = h->mode >= 2 ? 20 : 0, iv = h->mode >= 2 ? 16 : 4;

	secret(IW_TLS_MASTER, master, 48);
	iw_tls_prf(h->version < 0x0303 ? "MD5-SHA1" : "SHA256", master, 48,
	    "key expansion", srandom_, 32, crandom, 32, kb,
	    2 * (mk + 16 + iv));
	memcpy(h->s[0].mac_key, kb, mk);
	memcpy(h->s[1].mac_key, kb + mk, mk);
	memcpy(h->s[0].key, kb + 2 * mk, 16);
	memcpy(h->s[1].key, kb + 2 * mk + 16, 16);
	memcpy(h->s[0].iv, kb + 2 * mk + 32, iv);
	memcpy(h->s[1].iv, kb + 2 * mk + 32 + iv, iv);
}

static void
nonce_xor(const struct sealer *s, uint8_t nonce[12])
{
	int i;

	memcpy(nonce, s->iv, 12);
	for (i = 0; i < 8; i++)
		nonce[4 + i] ^= (uint8_t)(s->seq >> (56 - 8 * i));
}

static size_t
seal13(struct h *h, enum iw_dir dir, uint8_t type, const uint8_t *p,
    size_t n, size_t pad, uint8_t *out)
{
	static uint8_t pt[MAX_PLAIN + 64];
	uint8_t nonce[12], aad[5] = { 23, 3, 3, 0, 0 };
	size_t len;

	memcpy(pt, p, n);
	pt[n] = type;
	memset(pt + n + 1, 0, pad);
	len = n + 1 + pad;
	fz_put16(aad + 3, len + 16);
	nonce_xor(&h->s[dir], nonce);
	h->s[dir].seq++;
	return fz_gcm_seal(h->s[dir].ctx, &h->s[dir].keyed, h->s[dir].key,
	    nonce, aad, 5, pt, len, out);
}

static size_t
seal12_gcm(struct h *h, enum iw_dir dir, uint8_t type, const uint8_t *p,
    size_t n, uint8_t *out)
{
	struct sealer *s = &h->s[dir];
	uint8_t nonce[12], aad[13];

	memcpy(nonce, s->iv, 4);
	fz_put_seq(nonce + 4, s->seq);
	memcpy(out, nonce + 4, 8);
	fz_put_seq(aad, s->seq);
	aad[8] = type;
	fz_put16(aad + 9, h->version);
	fz_put16(aad + 11, n);
	s->seq++;
	return 8 + fz_gcm_seal(s->ctx, &s->keyed, s->key, nonce, aad, 13, p,
	    n, out + 8);
}

static void
mac(struct sealer *s, uint8_t type, uint16_t ver, const uint8_t *p,
    size_t n, uint8_t out[20])
{
	static uint8_t buf[MAX_PLAIN + 64];
	size_t ol = 0;

	fz_put_seq(buf, s->seq);
	buf[8] = type;
	fz_put16(buf + 9, ver);
	fz_put16(buf + 11, n);
	memcpy(buf + 13, p, n);
	EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, s->mac_key, 20, buf,
	    13 + n, out, 20, &ol);
}

static size_t
seal12_cbc(struct h *h, enum iw_dir dir, uint8_t type, const uint8_t *p,
    size_t n, uint8_t *out)
{
	static uint8_t pt[MAX_PLAIN + 64];
	struct sealer *s = &h->s[dir];
	size_t ivl = h->version >= 0x0302 ? 16 : 0, len = n, pad;
	int l = 0, fl = 0;

	memcpy(pt, p, n);
	if (!h->etm) {
		mac(s, type, h->version, p, n, pt + n);
		len += 20;
	}
	pad = 15 - len % 16;
	memset(pt + len, (int)pad, pad + 1);
	len += pad + 1;
	if (ivl)
		memset(out, (int)(s->seq & 0xff), 16);	/* explicit IV */
	if (!s->keyed) {
		EVP_EncryptInit_ex(s->ctx, EVP_aes_128_cbc(), NULL, s->key,
		    NULL);
		EVP_CIPHER_CTX_set_padding(s->ctx, 0);
		s->keyed = true;
	}
	EVP_EncryptInit_ex(s->ctx, NULL, NULL, NULL, ivl ? out : s->iv);
	EVP_EncryptUpdate(s->ctx, out + ivl, &l, pt, (int)len);
	EVP_EncryptFinal_ex(s->ctx, out + ivl + l, &fl);
	if (!ivl)
		memcpy(s->iv, out + len - 16, 16);	/* TLS 1.0 chain */
	len += ivl;
	if (h->etm) {
		mac(s, type, h->version, out, len, out + len);
		len += 20;
	}
	s->seq++;
	return len;
}

static void
sealed(struct h *h, enum iw_dir dir, uint8_t ctl, const uint8_t *p,
    size_t n, bool flip)
{
	static uint8_t out[MAX_PLAIN + 256];
	uint8_t type = (uint8_t)(20 + (ctl & 3));
	size_t len;

	if (n > MAX_PLAIN - 64)
		n = MAX_PLAIN - 64;
	if (h->tls13)
		len = seal13(h, dir, type, p, n, 4 * ((ctl >> 2) & 3), out);
	else if (h->mode == 1)
		len = seal12_gcm(h, dir, type, p, n, out);
	else
		len = seal12_cbc(h, dir, type, p, n, out);
	if (flip && len > 0)
		out[(n > 0 ? p[0] : 0) % len] ^= 0x40;
	(void)iw_tlsd_record(h->t, dir, h->tls13 ? 23 : type, h->tls13 ?
	    0x0303 : h->version, out, len);
}

static void
control(struct h *h, enum iw_dir dir, int what)
{
	const struct iw_tlsd_counts *c;

	switch (what) {
	case 0:
		iw_tlsd_gap(h->t, dir);
		break;
	case 1:
		h->keys_ready = true;
		(void)iw_tlsd_retry(h->t);
		break;
	case 2:
		iw_tlsd_give_up(h->t);
		break;
	default:
		c = iw_tlsd_counts(h->t);
		h->out += c->records[0] + c->early_skipped + iw_tlsd_held(h->t) +
		    iw_tlsd_version(h->t) + iw_tlsd_suite(h->t);
		(void)iw_tlsd_state_name(iw_tlsd_state(h->t, dir));
		break;
	}
}

static void
setup(struct h *h, uint8_t m)
{
	h->mode = m & 3;
	h->tls13 = h->mode == 0;
	h->etm = h->mode == 2;
	h->version = h->tls13 ? 0x0304 : (h->mode >= 2 && (m & 0x20)) ?
	    0x0301 : 0x0303;
	h->keys_late = h->tls13 && (m & 0x20);
	h->some_missing = (m & 0x10) != 0;
	h->s[0].ctx = EVP_CIPHER_CTX_new();
	h->s[1].ctx = EVP_CIPHER_CTX_new();
	h->t = iw_tlsd_new(&ops, h, (m & 0x08) ? 4096 : 0);
	if (h->tls13) {
		stage13(h, IW_TO_SERVER, (m & 4) ? 0 : 1);
		stage13(h, IW_TO_CLIENT, 1);
	} else
		keys12(h);
	if (m & 0x80)
		return;
	client_hello(h, (m & 4) != 0);
	if (m & 0x40) {
		server_hello(h, hrr_random);
		client_hello(h, false);
	}
	server_hello(h, srandom_);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	const uint8_t *p;
	struct h h;
	uint16_t len;
	uint8_t m, ctl;
	size_t n;
	enum iw_dir dir;

	fz_setup();
	if (!fz_u8(&f, &m))
		return 0;
	memset(&h, 0, sizeof(h));
	setup(&h, m);
	while (h.t != NULL && fz_u8(&f, &ctl) && fz_u16(&f, &len)) {
		n = len;
		p = fz_take(&f, &n);
		dir = (ctl & 0x80) ? IW_TO_CLIENT : IW_TO_SERVER;
		switch ((ctl >> 4) & 7) {
		case 0:
			(void)iw_tlsd_record(h.t, dir, (uint8_t)(20 +
			    (ctl & 7)), h.version, p, n);
			break;
		case 1:
		case 2:
			sealed(&h, dir, ctl, p, n, ((ctl >> 4) & 7) == 2);
			break;
		case 3:
			if (h.tls13)
				stage13(&h, dir, ctl & 3);
			break;
		case 4:
			control(&h, dir, ctl & 3);
			break;
		default:
			if (n >= 3)
				(void)iw_tlsd_record(h.t, dir, p[0],
				    (uint16_t)(p[1] << 8 | p[2]), p + 3,
				    n - 3);
			break;
		}
	}
	if (getenv("FZ_VERBOSE") != NULL && h.t != NULL)
		fprintf(stderr, "decrypted %llu/%llu records, early %llu "
		    "skipped %llu, updates %llu/%llu, states %s/%s\n",
		    (unsigned long long)iw_tlsd_counts(h.t)->records[0],
		    (unsigned long long)iw_tlsd_counts(h.t)->records[1],
		    (unsigned long long)iw_tlsd_counts(h.t)->early_records,
		    (unsigned long long)iw_tlsd_counts(h.t)->early_skipped,
		    (unsigned long long)iw_tlsd_counts(h.t)->key_updates[0],
		    (unsigned long long)iw_tlsd_counts(h.t)->key_updates[1],
		    iw_tlsd_state_name(iw_tlsd_state(h.t, 0)),
		    iw_tlsd_state_name(iw_tlsd_state(h.t, 1)));
	iw_tlsd_free(h.t);
	EVP_CIPHER_CTX_free(h.s[0].ctx);
	EVP_CIPHER_CTX_free(h.s[1].ctx);
	return 0;
}
