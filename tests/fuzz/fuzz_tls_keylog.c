/* SPDX-License-Identifier: ISC */
/*
 * fuzz_tls_keylog.c - the TLS dissector with a key log loaded (--keylog),
 * driven through the session host: the decrypted paths behind
 * authentication (the TLS 1.3 handshake read after decryption and its
 * certificate analysis, application data handed to the IMAP dissector
 * inside, KeyUpdate, alerts, NewSessionTicket), the hold while keys are
 * missing (live key log), and records that fail authentication.
 *
 * The harness plays both peers.  At start it writes a key log (a memfd,
 * read by the run's loader, tls_keylog_run.c) with fixed secrets for one
 * client random.  Each input then opens a session on 993 (or on 143 after
 * a canned STARTTLS exchange), sends a ClientHello and ServerHello in the
 * clear, and for each chunk seals the plaintext the input gives with the
 * traffic keys derived from those secrets (the library's KDFs, then EVP
 * AES-128-GCM, as a peer would) and delivers the record as TCP bytes.
 * The sealers follow the keys as a peer does: TLS 1.3 from handshake to
 * application keys after a Finished, to the next ones after a KeyUpdate;
 * TLS 1.2 after the ChangeCipherSpec the harness sends on op 4.
 *
 * Input: a header byte, then chunks "u8 ctl, u16 len, len bytes":
 *   header bit 0: TLS 1.2 (ECDHE-RSA-AES128-GCM-SHA256), else TLS 1.3
 *                 (TLS_AES_128_GCM_SHA256)
 *          bit 1: STARTTLS on 143 (greeting, STARTTLS, OK in the clear)
 *          bit 2: a client random the key log does not have
 *          bit 3: the key log is live (sessions without keys hold)
 *          bit 4: the ClientHello offers early data (the client starts
 *                 with its early traffic keys)
 *   ctl    bit 7: direction (server to client)
 *          bits 4-6: 0 sealed record, type 20 + (ctl & 3), the bytes
 *                    as plaintext; 1 sealed handshake message, type
 *                    from a table by ctl & 7, the bytes its body (a
 *                    Certificate wraps them as one DER, or the harness's
 *                    test certificate when empty); 2 raw TCP bytes;
 *                    3 sealed record with one byte flipped; 4 key stage
 *                    of that direction: ctl & 3 = early, handshake,
 *                    application, next (1.2: ChangeCipherSpec); 5 gap
 *                    of len bytes; 6 the clock moves len seconds; 7 the
 *                    bytes as plaintext of a sealed application data
 *                    record delivered one TCP byte at a time
 */
#include <openssl/evp.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "correlate.h"
#include "session.h"
#include "tls_decrypt.h"
#include "tls_keys.h"

#define MAX_PLAIN	16384

enum { ST_EARLY, ST_HS, ST_AP, ST_NEXT };

struct sealer {
	EVP_CIPHER_CTX	*ctx;
	bool		 on;		/* records are sealed */
	bool		 keyed;		/* ctx holds the key */
	int		 stage;
	uint8_t		 key[16], iv[12], secret[32];
	uint64_t	 seq;
};

struct h {
	bool		 tls12;
	struct sealer	 s[2];
	struct iw_flowref flow;
	struct iw_session *sess;
	iw_time		 ts;
};

/* A self-signed P-256 certificate for imap.example.test (openssl req). */
static const uint8_t test_cert[] = {
  0x30, 0x82, 0x01, 0xab, 0x30, 0x82, 0x01, 0x51, 0xa0, 0x03, 0x02, 0x01,
  0x02, 0x02, 0x14, 0x26, 0x6f, 0x32, 0x7f, 0xcb, 0xb8, 0x19, 0x99, 0xc2,
  0x3d, 0xcf, 0xd9, 0x3b, 0xd8, 0x2a, 0x4a, 0xfc, 0x98, 0x53, 0x86, 0x30,
  0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x30,
  0x1c, 0x31, 0x1a, 0x30, 0x18, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x11,
  0x69, 0x6d, 0x61, 0x70, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65,
  0x2e, 0x74, 0x65, 0x73, 0x74, 0x30, 0x1e, 0x17, 0x0d, 0x32, 0x36, 0x31,
  0x32, 0x30, 0x38, 0x30, 0x31, 0x31, 0x39, 0x30, 0x30, 0x5a, 0x17, 0x0d,
  0x33, 0x36, 0x31, 0x32, 0x30, 0x35, 0x30, 0x31, 0x31, 0x39, 0x30, 0x30,
  0x5a, 0x30, 0x1c, 0x31, 0x1a, 0x30, 0x18, 0x06, 0x03, 0x55, 0x04, 0x03,
  0x0c, 0x11, 0x69, 0x6d, 0x61, 0x70, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70,
  0x6c, 0x65, 0x2e, 0x74, 0x65, 0x73, 0x74, 0x30, 0x59, 0x30, 0x13, 0x06,
  0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86,
  0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04, 0xd2, 0xf8,
  0x29, 0x33, 0xb5, 0xd4, 0x3e, 0xc9, 0x96, 0x55, 0x8e, 0x35, 0x58, 0xc4,
  0x5b, 0x54, 0x46, 0x9d, 0xb1, 0xdf, 0xab, 0x54, 0x9f, 0xc0, 0x44, 0x24,
  0x2d, 0xe5, 0x07, 0xba, 0x30, 0xee, 0x96, 0x21, 0xdf, 0xa5, 0xf6, 0xb0,
  0xd5, 0x9f, 0x1a, 0x37, 0x64, 0xdd, 0x31, 0xcc, 0x0b, 0xda, 0x33, 0x8a,
  0xad, 0xfd, 0xa3, 0xac, 0xdf, 0x1d, 0x49, 0x1c, 0x36, 0x50, 0x4a, 0x9e,
  0xb1, 0xe1, 0xa3, 0x71, 0x30, 0x6f, 0x30, 0x1d, 0x06, 0x03, 0x55, 0x1d,
  0x0e, 0x04, 0x16, 0x04, 0x14, 0x13, 0x6c, 0xcb, 0x89, 0x0e, 0xe9, 0xae,
  0x02, 0x85, 0x62, 0xd7, 0x9d, 0xde, 0x72, 0x3f, 0x3c, 0xf1, 0x8f, 0xa8,
  0x58, 0x30, 0x1f, 0x06, 0x03, 0x55, 0x1d, 0x23, 0x04, 0x18, 0x30, 0x16,
  0x80, 0x14, 0x13, 0x6c, 0xcb, 0x89, 0x0e, 0xe9, 0xae, 0x02, 0x85, 0x62,
  0xd7, 0x9d, 0xde, 0x72, 0x3f, 0x3c, 0xf1, 0x8f, 0xa8, 0x58, 0x30, 0x0f,
  0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01, 0xff, 0x04, 0x05, 0x30, 0x03,
  0x01, 0x01, 0xff, 0x30, 0x1c, 0x06, 0x03, 0x55, 0x1d, 0x11, 0x04, 0x15,
  0x30, 0x13, 0x82, 0x11, 0x69, 0x6d, 0x61, 0x70, 0x2e, 0x65, 0x78, 0x61,
  0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x74, 0x65, 0x73, 0x74, 0x30, 0x0a, 0x06,
  0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x03, 0x48, 0x00,
  0x30, 0x45, 0x02, 0x20, 0x55, 0x66, 0x46, 0x93, 0x34, 0xf4, 0x56, 0xa8,
  0xe6, 0x65, 0x67, 0x0a, 0x70, 0xe5, 0x4b, 0xe5, 0xd8, 0x61, 0x20, 0x8d,
  0x32, 0x08, 0xc0, 0xd1, 0x8b, 0x31, 0xf5, 0x9c, 0x91, 0xc3, 0xe2, 0x2a,
  0x02, 0x21, 0x00, 0xa7, 0x3d, 0xc4, 0x95, 0x6c, 0xf8, 0xb5, 0x0a, 0xb9,
  0xcd, 0x0f, 0xf6, 0xf2, 0xb2, 0x80, 0x7a, 0x56, 0xd4, 0xeb, 0xe6, 0x95,
  0x07, 0xe3, 0xa5, 0x30, 0x0d, 0x9f, 0xcf, 0x2e, 0x2d, 0x22, 0x3c
};

static const uint8_t crandom[32] = { 3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8,
    9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6, 4, 3, 3, 8, 3, 2, 7, 9, 5 };
static const uint8_t crandom_unknown[32] = { 2, 7, 1, 8, 2, 8, 1, 8, 2, 8,
    4, 5, 9, 0, 4, 5, 2, 3, 5, 3, 6, 0, 2, 8, 7, 4, 7, 1, 3, 5, 2, 6 };
static const uint8_t srandom_[32] = { 1, 4, 1, 4, 2, 1, 3, 5, 6, 2, 3, 7,
    3, 0, 9, 5, 0, 4, 8, 8, 0, 1, 6, 8, 8, 7, 2, 4, 2, 0, 9, 6 };

/* The fixed secrets of the key log: every byte 0x40 + kind. */
static void
secret(enum iw_tls_secret_kind k, uint8_t *out, size_t n)
{
	memset(out, 0x40 + (int)k, n);
}

static void
hex(FILE *f, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
}

/* The key log, once per process: a memfd the run's loader follows. */
static void
keylog_setup(void)
{
	static bool done;
	uint8_t v[48];
	char path[64], err[256];
	const char *paths[1] = { path };
	FILE *f;
	int fd, k;

	if (done)
		return;
	done = true;
	if ((fd = memfd_create("fz-keylog", 0)) < 0 || fchmod(fd, 0600) != 0 ||
	    (f = fdopen(dup(fd), "w")) == NULL)
		abort();
	fprintf(f, "# fuzz_tls_keylog\n");
	for (k = 0; k < IW_TLS_SECRET_KINDS; k++) {
		secret(k, v, k == IW_TLS_MASTER ? 48 : 32);
		fprintf(f, "%s ", iw_tls_secret_label(k));
		hex(f, crandom, 32);
		fputc(' ', f);
		hex(f, v, k == IW_TLS_MASTER ? 48 : 32);
		fputc('\n', f);
	}
	fclose(f);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (iw_keylog_run_files(paths, 1, false, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz: %s\n", err);
		abort();
	}
	iw_keylog_run_poll();
}

static void
put24(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 16);
	fz_put16(p + 1, v);
}

/* ---- the session ---- */

static void
tcp(struct h *h, enum iw_dir d, const uint8_t *p, size_t n)
{
	uint8_t *copy = malloc(n ? n : 1);	/* exactly its size */

	if (copy == NULL)
		abort();
	memcpy(copy, p, n);
	h->ts += 1000;
	iw_session_data(h->sess, d, copy, n, h->ts);
	free(copy);
}

static void
tcp_str(struct h *h, enum iw_dir d, const char *s)
{
	tcp(h, d, (const uint8_t *)s, strlen(s));
}

static void
record(struct h *h, enum iw_dir d, uint8_t type, const uint8_t *p,
    size_t n, bool bytewise)
{
	static uint8_t rec[MAX_PLAIN + 512];
	size_t i;

	rec[0] = type;
	fz_put16(rec + 1, 0x0303);
	fz_put16(rec + 3, n);
	memcpy(rec + 5, p, n);
	if (!bytewise) {
		tcp(h, d, rec, n + 5);
		return;
	}
	for (i = 0; i < n + 5; i++)
		tcp(h, d, rec + i, 1);
}

/* ---- the hellos ---- */

static void
hello(struct h *h, enum iw_dir d, const uint8_t *random, bool early)
{
	uint8_t m[160];
	size_t n = 0, ext_at;

	m[n++] = d == IW_TO_SERVER ? 1 : 2;
	n += 3;
	fz_put16(m + n, 0x0303);
	n += 2;
	memcpy(m + n, random, 32);
	n += 32;
	m[n++] = 0;				/* session id */
	if (d == IW_TO_SERVER) {
		fz_put16(m + n, 2);
		n += 2;
	}
	fz_put16(m + n, h->tls12 ? 0xc02f : 0x1301);
	n += 2;
	if (d == IW_TO_SERVER)
		m[n++] = 1;
	m[n++] = 0;				/* compression: null */
	ext_at = n;
	n += 2;
	if (d == IW_TO_SERVER) {		/* server_name */
		static const char sni[] = "imap.example.test";

		fz_put16(m + n, 0);
		fz_put16(m + n + 2, 5 + strlen(sni));
		fz_put16(m + n + 4, 3 + strlen(sni));
		m[n + 6] = 0;
		fz_put16(m + n + 7, strlen(sni));
		memcpy(m + n + 9, sni, strlen(sni));
		n += 9 + strlen(sni);
	}
	if (!h->tls12) {			/* supported_versions */
		fz_put16(m + n, 43);
		if (d == IW_TO_SERVER) {
			fz_put16(m + n + 2, 3);
			m[n + 4] = 2;
			fz_put16(m + n + 5, 0x0304);
			n += 7;
		} else {
			fz_put16(m + n + 2, 2);
			fz_put16(m + n + 4, 0x0304);
			n += 6;
		}
	}
	if (early && d == IW_TO_SERVER) {
		fz_put16(m + n, 42);
		fz_put16(m + n + 2, 0);
		n += 4;
	}
	fz_put16(m + ext_at, n - ext_at - 2);
	put24(m + 1, n - 4);
	record(h, d, 22, m, n, false);
}

/* ---- the sealers ---- */

static void
stage13(struct h *h, enum iw_dir d, int stage)
{
	static const enum iw_tls_secret_kind k[2][3] = {
		{ IW_TLS_C_EARLY, IW_TLS_C_HS, IW_TLS_C_AP },
		{ IW_TLS_C_EARLY, IW_TLS_S_HS, IW_TLS_S_AP },
	};
	struct sealer *s = &h->s[d];
	uint8_t next[32];

	if (stage == ST_NEXT) {
		iw_tls13_expand_label("SHA256", s->secret, 32, "traffic upd",
		    NULL, 0, next, 32);
		stage = ST_AP;
	} else
		secret(k[d][stage], next, 32);
	memcpy(s->secret, next, 32);
	iw_tls13_expand_label("SHA256", s->secret, 32, "key", NULL, 0,
	    s->key, 16);
	iw_tls13_expand_label("SHA256", s->secret, 32, "iv", NULL, 0, s->iv,
	    12);
	s->stage = stage;
	s->seq = 0;
	s->keyed = false;
	s->on = true;
}

static void
keys12(struct h *h)
{
	uint8_t master[48], kb[2 * (16 + 4)];

	secret(IW_TLS_MASTER, master, 48);
	iw_tls_prf("SHA256", master, 48, "key expansion", srandom_, 32,
	    crandom, 32, kb, sizeof(kb));
	memcpy(h->s[0].key, kb, 16);
	memcpy(h->s[1].key, kb + 16, 16);
	memcpy(h->s[0].iv, kb + 32, 4);
	memcpy(h->s[1].iv, kb + 36, 4);
}

/* The record's body sealed into out; its length. */
static size_t
seal(struct h *h, enum iw_dir d, uint8_t type, const uint8_t *p, size_t n,
    uint8_t *out)
{
	static uint8_t pt[MAX_PLAIN + 64];
	struct sealer *s = &h->s[d];
	uint8_t nonce[12], aad[13];
	int i;

	if (h->tls12) {
		memcpy(nonce, s->iv, 4);
		fz_put_seq(nonce + 4, s->seq);
		memcpy(out, nonce + 4, 8);
		fz_put_seq(aad, s->seq);
		aad[8] = type;
		fz_put16(aad + 9, 0x0303);
		fz_put16(aad + 11, n);
		s->seq++;
		return 8 + fz_gcm_seal(s->ctx, &s->keyed, s->key, nonce, aad,
		    13, p, n, out + 8);
	}
	memcpy(pt, p, n);
	pt[n] = type;
	aad[0] = 23;
	fz_put16(aad + 1, 0x0303);
	fz_put16(aad + 3, n + 1 + 16);
	memcpy(nonce, s->iv, 12);
	for (i = 0; i < 8; i++)
		nonce[4 + i] ^= (uint8_t)(s->seq >> (56 - 8 * i));
	s->seq++;
	return fz_gcm_seal(s->ctx, &s->keyed, s->key, nonce, aad, 5, pt,
	    n + 1, out);
}

/* TLS 1.3: the key changes the handshake messages of a record make. */
static void
follow13(struct h *h, enum iw_dir d, const uint8_t *p, size_t n)
{
	struct sealer *s = &h->s[d];
	size_t i = 0, len;

	while (n - i >= 4) {
		len = (size_t)p[i + 1] << 16 | (size_t)p[i + 2] << 8 | p[i + 3];
		if (len > n - i - 4)
			break;
		if (p[i] == 5 && s->stage == ST_EARLY)	/* EndOfEarlyData */
			stage13(h, d, ST_HS);
		else if (p[i] == 20 && s->stage == ST_HS)
			stage13(h, d, ST_AP);
		else if (p[i] == 24 && s->stage == ST_AP)
			stage13(h, d, ST_NEXT);
		i += 4 + len;
	}
}

static void
sealed(struct h *h, enum iw_dir d, uint8_t type, const uint8_t *p, size_t n,
    int flip, bool bytewise)
{
	static uint8_t out[MAX_PLAIN + 256];
	size_t len;

	if (n > MAX_PLAIN - 64)
		n = MAX_PLAIN - 64;
	if (!h->s[d].on) {
		record(h, d, type, p, n, bytewise);
		return;
	}
	len = seal(h, d, type, p, n, out);
	if (flip >= 0)
		out[(size_t)flip % len] ^= 0x40;
	record(h, d, h->tls12 ? type : 23, out, len, bytewise);
	if (!h->tls12 && type == 22 && flip < 0)
		follow13(h, d, p, n);
}

/* A handshake message of the type ctl picks, its body from the input. */
static void
handshake(struct h *h, enum iw_dir d, uint8_t ctl, const uint8_t *p,
    size_t n)
{
	static const uint8_t types[8] = { 11, 15, 20, 24, 4, 8, 13, 5 };
	static uint8_t m[MAX_PLAIN + 32];
	uint8_t type = types[ctl & 7];
	size_t off = 4;

	if (n == 0 && type == 11) {
		p = test_cert;
		n = sizeof(test_cert);
	}
	if (n > MAX_PLAIN - 64)
		n = MAX_PLAIN - 64;
	m[0] = type;
	if (type == 11) {	/* one certificate: the bytes as its DER */
		if (!h->tls12)
			m[off++] = 0;			/* context */
		put24(m + off, n + 3 + (h->tls12 ? 0 : 2));
		put24(m + off + 3, n);
		off += 6;
	}
	memcpy(m + off, p, n);
	off += n;
	if (type == 11 && !h->tls12) {
		fz_put16(m + off, 0);			/* no extensions */
		off += 2;
	}
	put24(m + 1, off - 4);
	sealed(h, d, 22, m, off, -1, false);
}

static void
key_stage(struct h *h, enum iw_dir d, int stage)
{
	static const uint8_t ccs[1] = { 1 };

	if (!h->tls12) {
		stage13(h, d, stage);
		return;
	}
	record(h, d, 20, ccs, 1, false);
	h->s[d].on = true;
	h->s[d].seq = 0;
	h->s[d].keyed = false;
}

/* ---- the input ---- */

static void
open_session(struct h *h, uint8_t hdr)
{
	struct iw_endpoints ep;

	memset(&ep, 0, sizeof(ep));
	iw_addr_parse("192.0.2.100", &ep.client);
	iw_addr_parse("192.0.2.1", &ep.server);
	ep.cport = 40000;
	ep.sport = (hdr & 2) ? 143 : 993;
	iw_flowref_init(&h->flow, &ep, h->ts);
	if ((h->sess = iw_session_new(&h->flow)) == NULL)
		abort();
	if (hdr & 2) {
		tcp_str(h, IW_TO_CLIENT, "* OK [CAPABILITY IMAP4rev1 STARTTLS "
		    "LOGINDISABLED] ready\r\n");
		tcp_str(h, IW_TO_SERVER, "a1 STARTTLS\r\n");
		tcp_str(h, IW_TO_CLIENT, "a1 OK Begin TLS negotiation now\r\n");
	}
}

static void
setup(struct h *h, uint8_t hdr)
{
	memset(h, 0, sizeof(*h));
	h->tls12 = (hdr & 1) != 0;
	h->ts = FZ_T0;
	h->s[0].ctx = EVP_CIPHER_CTX_new();
	h->s[1].ctx = EVP_CIPHER_CTX_new();
	if (h->s[0].ctx == NULL || h->s[1].ctx == NULL)
		abort();
	/* the loader keeps the files it follows: only the mode changes */
	{
		char err[128];

		(void)iw_keylog_run_files(NULL, 0, (hdr & 8) != 0, err,
		    sizeof(err));
	}
	open_session(h, hdr);
	hello(h, IW_TO_SERVER, (hdr & 4) ? crandom_unknown : crandom,
	    !h->tls12 && (hdr & 0x10));
	hello(h, IW_TO_CLIENT, srandom_, false);
	if (h->tls12)
		keys12(h);
	else {
		stage13(h, IW_TO_SERVER, (hdr & 0x10) ? ST_EARLY : ST_HS);
		stage13(h, IW_TO_CLIENT, ST_HS);
	}
}

static void
chunk(struct h *h, uint8_t ctl, const uint8_t *p, size_t n, uint16_t len)
{
	enum iw_dir d = (ctl & 0x80) ? IW_TO_CLIENT : IW_TO_SERVER;

	switch ((ctl >> 4) & 7) {
	case 0:
		sealed(h, d, (uint8_t)(20 + (ctl & 3)), p, n, -1, false);
		break;
	case 1:
		handshake(h, d, ctl, p, n);
		break;
	case 2:
		tcp(h, d, p, n);
		break;
	case 3:
		sealed(h, d, (uint8_t)(20 + (ctl & 3)), p, n,
		    n > 0 ? p[0] : 0, false);
		break;
	case 4:
		key_stage(h, d, ctl & 3);
		break;
	case 5:
		h->ts += 1000;
		iw_session_gap(h->sess, d, len, h->ts);
		break;
	case 6:
		h->ts += (iw_time)len * IW_USEC;
		break;
	default:
		sealed(h, d, 23, p, n, -1, true);
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	const uint8_t *p;
	struct h h;
	uint16_t len;
	uint8_t hdr, ctl;
	size_t n;

	fz_setup();
	keylog_setup();
	if (!fz_u8(&f, &hdr))
		return 0;
	setup(&h, hdr);
	while (fz_u8(&f, &ctl) && fz_u16(&f, &len)) {
		n = ((ctl >> 4) & 7) >= 4 && ((ctl >> 4) & 7) <= 6 ? 0 : len;
		p = fz_take(&f, &n);
		chunk(&h, ctl, p, n, len);
	}
	h.ts += 1000;
	iw_session_end(h.sess, IW_END_FIN, h.ts, NULL);
	iw_corr_flush();
	iw_session_free(h.sess);
	EVP_CIPHER_CTX_free(h.s[0].ctx);
	EVP_CIPHER_CTX_free(h.s[1].ctx);
	return 0;
}
