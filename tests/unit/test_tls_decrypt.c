/* SPDX-License-Identifier: ISC */
/*
 * test_tls_decrypt.c - record decryption against records OpenSSL's own
 * TLS stack (libssl) produced.
 *
 * A client and a server SSL talk through memory BIOs; every byte either
 * sends is kept in the order it crossed, as a capture would hold it.  The
 * client's key log callback writes the NSS key log lines to a file, which
 * the loader (tls_keylog.c) reads; an iw_tlsd session then follows the
 * recorded records with the keys it looks up there, and the application
 * data it decrypts must equal what SSL_write() was given, both ways.
 *
 * Every TLS 1.2 suite libssl offers with RSA, ECDSA or anonymous
 * authentication and ECDHE, DHE or RSA key exchange, each CBC suite with
 * and without encrypt_then_mac, TLS 1.0 and 1.1 CBC, all five TLS 1.3
 * suites, TLS 1.3 record padding, KeyUpdate both ways, HelloRetryRequest,
 * PSK resumption, 0-RTT data accepted and refused, a wrong key and a
 * missing one.  Suites the decryptor does not support must say so.
 */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tls_decrypt.h"
#include "tls_keys.h"

#define WIRE_MAX	(1 << 20)
#define CHUNKS_MAX	4096

static EVP_PKEY *rsa_key, *ec_key;
static X509 *rsa_cert, *ec_cert;
static char tmpdir[] = "/tmp/iw-tlsd-XXXXXX";

/* ---- what crossed the wire ---- */

struct chunk {
	enum iw_dir	dir;
	size_t		len;
};

struct conn {
	SSL		*c, *s;
	uint8_t		*wire[2];
	size_t		 wire_len[2];
	struct chunk	 chunks[CHUNKS_MAX];
	int		 nchunks;
	uint8_t		*sent[2];	/* application data written */
	size_t		 sent_len[2];
	FILE		*keylog;
};

static struct conn *cur;

static void
keylog_cb(const SSL *ssl, const char *line)
{
	if (cur != NULL && cur->keylog != NULL)
		fprintf(cur->keylog, "%s\n", line);
}

/* libssl's reasons, as comments in the test output. */
static int
print_error(const char *str, size_t len, void *u)
{
	printf("# %.*s", (int)len, str);
	return 1;
}

static void
ssl_errors(void)
{
	ERR_print_errors_cb(print_error, NULL);
}

/* Moves what one side wrote to the other, recording it. */
static bool
pump_one(struct conn *k, SSL *from, SSL *to, enum iw_dir dir)
{
	uint8_t buf[16384];
	bool moved = false;
	int n;

	while ((n = BIO_read(SSL_get_wbio(from), buf, sizeof(buf))) > 0) {
		if (k->wire_len[dir] + (size_t)n > WIRE_MAX ||
		    k->nchunks == CHUNKS_MAX)
			return moved;
		memcpy(k->wire[dir] + k->wire_len[dir], buf, (size_t)n);
		k->wire_len[dir] += (size_t)n;
		k->chunks[k->nchunks].dir = dir;
		k->chunks[k->nchunks++].len = (size_t)n;
		BIO_write(SSL_get_rbio(to), buf, n);
		moved = true;
	}
	return moved;
}

static bool
pump(struct conn *k)
{
	bool a = pump_one(k, k->c, k->s, IW_TO_SERVER);
	bool b = pump_one(k, k->s, k->c, IW_TO_CLIENT);

	return a || b;
}

/* SSL_get_error right after the call: moving bytes into a BIO clears
 * the retry flags it reads. */
static bool
step(SSL *ssl, int *done)
{
	int r = SSL_do_handshake(ssl);

	*done = r == 1;
	return r == 1 || SSL_get_error(ssl, r) == SSL_ERROR_WANT_READ;
}

static bool
handshake(struct conn *k)
{
	int i, dc, ds;

	for (i = 0; i < 64; i++) {
		if (!step(k->c, &dc)) {
			ssl_errors();
			return false;
		}
		pump(k);
		if (!step(k->s, &ds)) {
			ssl_errors();
			return false;
		}
		pump(k);
		if (dc && ds)
			return true;
	}
	return false;
}

/* One side writes n bytes of a pattern; the other reads them all. */
static bool
transfer(struct conn *k, enum iw_dir dir, size_t n, int seed)
{
	SSL *w = dir == IW_TO_SERVER ? k->c : k->s;
	SSL *r = dir == IW_TO_SERVER ? k->s : k->c;
	uint8_t *p = k->sent[dir] + k->sent_len[dir], buf[16384];
	size_t i, got = 0;
	int rr, tries;

	if (k->sent_len[dir] + n > WIRE_MAX)
		return false;
	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 31 + (i >> 8));
	if (SSL_write(w, p, (int)n) != (int)n)
		return false;
	k->sent_len[dir] += n;
	for (tries = 0; got < n && tries < 1000; tries++) {
		pump(k);
		rr = SSL_read(r, buf, sizeof(buf));
		if (rr > 0)
			got += (size_t)rr;
	}
	pump(k);
	return got == n;
}

static void
conn_free(struct conn *k)
{
	SSL_free(k->c);
	SSL_free(k->s);
	free(k->wire[0]);
	free(k->wire[1]);
	free(k->sent[0]);
	free(k->sent[1]);
	if (k->keylog != NULL)
		fclose(k->keylog);
	free(k);
}

struct opts {
	int		 version;	/* max (and min unless min_version) */
	int		 min_version;
	const char	*cipher;	/* TLS 1.2 and below */
	const char	*suites;	/* TLS 1.3 */
	bool		 no_etm;
	bool		 ec_cert;
	const char	*client_groups, *server_groups;
	size_t		 pad;		/* TLS 1.3 block padding */
	SSL_SESSION	*resume;
	uint32_t	 early;		/* server's max_early_data */
	const char	*early_data;	/* the client sends it */
};

static SSL_CTX *
ctx_for(const struct opts *o, bool server)
{
	SSL_CTX *x = SSL_CTX_new(TLS_method());

	SSL_CTX_set_min_proto_version(x, o->min_version ? o->min_version :
	    o->version);
	SSL_CTX_set_max_proto_version(x, o->version);
	SSL_CTX_set_security_level(x, 0);
	if (o->cipher != NULL && !SSL_CTX_set_cipher_list(x, o->cipher))
		goto fail;
	if (o->suites != NULL && !SSL_CTX_set_ciphersuites(x, o->suites))
		goto fail;
	if (o->no_etm)
		SSL_CTX_set_options(x, SSL_OP_NO_ENCRYPT_THEN_MAC);
	if (server) {
		SSL_CTX_use_certificate(x, o->ec_cert ? ec_cert : rsa_cert);
		SSL_CTX_use_PrivateKey(x, o->ec_cert ? ec_key : rsa_key);
		SSL_CTX_set_dh_auto(x, 1);
		if (o->server_groups)
			SSL_CTX_set1_groups_list(x, o->server_groups);
		if (o->pad)
			SSL_CTX_set_block_padding(x, o->pad);
		SSL_CTX_set_max_early_data(x, o->early);
		SSL_CTX_set_session_id_context(x, (const uint8_t *)"iw", 2);
		/* replay protection would refuse the same ticket twice */
		SSL_CTX_set_options(x, SSL_OP_NO_ANTI_REPLAY);
	} else {
		SSL_CTX_set_keylog_callback(x, keylog_cb);
		SSL_CTX_set_verify(x, SSL_VERIFY_NONE, NULL);
		if (o->client_groups)
			SSL_CTX_set1_groups_list(x, o->client_groups);
	}
	return x;
fail:
	SSL_CTX_free(x);
	return NULL;
}

static SSL_CTX *server_ctx;	/* kept across a resumption */

/* An empty memory BIO means "not yet", not end of file. */
static BIO *
mem_bio(void)
{
	BIO *b = BIO_new(BIO_s_mem());

	BIO_set_mem_eof_return(b, -1);
	return b;
}

static struct conn *
conn_new(const struct opts *o, const char *keylog_path, bool keep_server)
{
	struct conn *k = calloc(1, sizeof(*k));
	SSL_CTX *cx = ctx_for(o, false), *sx;

	if (!keep_server || server_ctx == NULL) {
		SSL_CTX_free(server_ctx);
		server_ctx = ctx_for(o, true);
	}
	sx = server_ctx;
	if (k == NULL || cx == NULL || sx == NULL) {
		SSL_CTX_free(cx);
		free(k);
		return NULL;
	}
	k->c = SSL_new(cx);
	k->s = SSL_new(sx);
	SSL_CTX_free(cx);
	SSL_set_bio(k->c, mem_bio(), mem_bio());
	SSL_set_bio(k->s, mem_bio(), mem_bio());
	SSL_set_connect_state(k->c);
	SSL_set_accept_state(k->s);
	SSL_set_tlsext_host_name(k->c, "imap.example.test");
	if (o->resume != NULL)
		SSL_set_session(k->c, o->resume);
	k->wire[0] = malloc(WIRE_MAX);
	k->wire[1] = malloc(WIRE_MAX);
	k->sent[0] = malloc(WIRE_MAX);
	k->sent[1] = malloc(WIRE_MAX);
	k->keylog = fopen(keylog_path, "a");
	cur = k;
	return k;
}

/* ---- following the recorded records ---- */

struct follow {
	uint8_t		*plain[2];
	size_t		 plain_len[2];
	bool		 overflow;
	int		 alerts[2];
	int		 stopped;
	struct iw_keylog *kl;
	int		 result[5];	/* per enum iw_tlsd_rec */
};

static void
f_plain(void *arg, enum iw_dir dir, uint8_t type, const uint8_t *p,
    size_t n)
{
	struct follow *f = arg;

	if (type == 21)
		f->alerts[dir]++;
	if (type != 23)
		return;
	if (f->plain_len[dir] + n > WIRE_MAX) {
		f->overflow = true;
		return;
	}
	memcpy(f->plain[dir] + f->plain_len[dir], p, n);
	f->plain_len[dir] += n;
}

static bool
f_keys(void *arg, const uint8_t *random, struct iw_tls_secrets *s)
{
	struct follow *f = arg;

	return iw_keylog_lookup(f->kl, random, s);
}

static void
f_stopped(void *arg, enum iw_dir dir, enum iw_tlsd_state why)
{
	struct follow *f = arg;

	f->stopped++;
}

static const struct iw_tlsd_ops f_ops = { f_plain, f_keys, f_stopped };

/* The recorded bytes, chunk by chunk in capture order, cut into records. */
static struct iw_tlsd *
follow(struct conn *k, struct follow *f, const char *kpath,
    size_t hold)
{
	size_t off[2] = { 0, 0 }, avail[2] = { 0, 0 }, rl;
	char err[256];
	struct iw_tlsd *t;
	const uint8_t *w;
	enum iw_tlsd_rec r;
	int i, d;

	memset(f, 0, sizeof(*f));
	f->plain[0] = malloc(WIRE_MAX);
	f->plain[1] = malloc(WIRE_MAX);
	fflush(k->keylog);
	f->kl = iw_keylog_new(0);
	iw_keylog_add_file(f->kl, kpath, err, sizeof(err));
	iw_keylog_poll(f->kl, NULL, NULL);
	t = iw_tlsd_new(&f_ops, f, hold);
	for (i = 0; i < k->nchunks; i++) {
		d = k->chunks[i].dir;
		avail[d] += k->chunks[i].len;
		w = k->wire[d];
		while (avail[d] - off[d] >= 5) {
			rl = (size_t)w[off[d] + 3] << 8 | w[off[d] + 4];
			if (avail[d] - off[d] < 5 + rl)
				break;
			r = iw_tlsd_record(t, (enum iw_dir)d, w[off[d]],
			    (uint16_t)(w[off[d] + 1] << 8 | w[off[d] + 2]),
			    w + off[d] + 5, rl);
			f->result[r]++;
			off[d] += 5 + rl;
		}
	}
	return t;
}

static void
follow_free(struct follow *f, struct iw_tlsd *t)
{
	iw_tlsd_free(t);
	iw_keylog_free(f->kl);
	free(f->plain[0]);
	free(f->plain[1]);
}

static bool
same_both_ways(const struct conn *k, const struct follow *f)
{
	int d;

	if (f->overflow)
		return false;
	for (d = 0; d < 2; d++)
		if (f->plain_len[d] != k->sent_len[d] ||
		    memcmp(f->plain[d], k->sent[d], k->sent_len[d]) != 0)
			return false;
	return k->sent_len[0] > 0 && k->sent_len[1] > 0;
}

/* The key log file of a test, emptied; spaces in names become dashes. */
struct kpath {
	char	p[256];
};

static const char *
keylog_path(struct kpath *kp, const char *name)
{
	char *c;

	snprintf(kp->p, sizeof(kp->p), "%s/%s.keylog", tmpdir, name);
	for (c = kp->p + strlen(tmpdir) + 1; *c != '\0'; c++)
		if (*c == ' ' || *c == '/' || *c == '(' || *c == ')' ||
		    *c == ',')
			*c = '-';
	unlink(kp->p);
	return kp->p;
}

/* An IMAP-like exchange: small lines, a full record, a long answer. */
static bool
exchange(struct conn *k)
{
	return transfer(k, IW_TO_SERVER, 20, 1) &&
	    transfer(k, IW_TO_CLIENT, 300, 2) &&
	    transfer(k, IW_TO_SERVER, 1, 3) &&
	    transfer(k, IW_TO_CLIENT, 16384, 4) &&
	    transfer(k, IW_TO_CLIENT, 40000, 5) &&
	    transfer(k, IW_TO_SERVER, 17000, 6);
}

static void
close_both(struct conn *k)
{
	uint8_t buf[64];

	SSL_shutdown(k->c);
	pump(k);
	SSL_read(k->s, buf, sizeof(buf));
	SSL_shutdown(k->s);
	pump(k);
}

/*
 * One connection: handshake, exchange, close; then follow it.  Returns the
 * negotiated suite id (0 if the handshake failed).
 */
static uint16_t
run(const char *name, const struct opts *o, bool expect_decrypt)
{
	struct kpath kb;
	const char *kp = keylog_path(&kb, name);
	struct conn *k = conn_new(o, kp, false);
	struct follow f;
	struct iw_tlsd *t;
	uint16_t id = 0;

	if (k == NULL || !handshake(k)) {
		CHECK(false, "%s: handshake", name);
		if (k)
			conn_free(k);
		return 0;
	}
	id = (uint16_t)SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(k->c));
	if (!exchange(k)) {
		CHECK(false, "%s: exchange", name);
		conn_free(k);
		return id;
	}
	close_both(k);
	t = follow(k, &f, kp, 0);
	if (expect_decrypt)
		CHECK(same_both_ways(k, &f) && f.alerts[0] == 1 &&
		    f.alerts[1] == 1 && f.stopped == 0 &&
		    iw_tlsd_state(t, IW_TO_SERVER) == IW_TLSD_ACTIVE,
		    "%s (0x%04x): both directions decrypted, byte for byte "
		    "(%zu + %zu bytes), close_notify alerts too", name, id,
		    f.plain_len[0], f.plain_len[1]);
	else
		CHECK(iw_tlsd_state(t, IW_TO_SERVER) == IW_TLSD_UNSUPPORTED &&
		    f.plain_len[0] + f.plain_len[1] == 0 &&
		    f.result[IW_TLSD_OPAQUE] > 0,
		    "%s (0x%04x): not supported, and says so", name, id);
	follow_free(&f, t);
	conn_free(k);
	return id;
}

/* ---- TLS 1.2 and below ---- */

static bool
wanted_12(const SSL_CIPHER *c)
{
	int kx = SSL_CIPHER_get_kx_nid(c), au = SSL_CIPHER_get_auth_nid(c);

	if ((SSL_CIPHER_get_protocol_id(c) & 0xff00) == 0x1300)
		return false;
	if (kx != NID_kx_ecdhe && kx != NID_kx_dhe && kx != NID_kx_rsa)
		return false;
	return au == NID_auth_rsa || au == NID_auth_ecdsa ||
	    au == NID_auth_null;
}

static void
test_tls12_suites(void)
{
	SSL_CTX *x = SSL_CTX_new(TLS_method());
	STACK_OF(SSL_CIPHER) *sk;
	const SSL_CIPHER *c;
	struct iw_tls_suite info;
	struct opts o;
	char name[128];
	int i, n = 0, supported = 0;
	bool cbc;

	SSL_CTX_set_security_level(x, 0);
	SSL_CTX_set_cipher_list(x, "ALL:COMPLEMENTOFALL:@SECLEVEL=0");
	sk = SSL_CTX_get_ciphers(x);
	for (i = 0; i < sk_SSL_CIPHER_num(sk); i++) {
		c = sk_SSL_CIPHER_value(sk, i);
		if (!wanted_12(c))
			continue;
		if (SSL_CIPHER_get_cipher_nid(c) == NID_undef)
			continue;	/* eNULL: plaintext, read as such */
		memset(&o, 0, sizeof(o));
		o.version = TLS1_2_VERSION;
		o.cipher = SSL_CIPHER_get_name(c);
		o.ec_cert = SSL_CIPHER_get_auth_nid(c) == NID_auth_ecdsa;
		o.cipher = SSL_CIPHER_get_name(c);
		{
			char cl[128];

			snprintf(cl, sizeof(cl), "%s:@SECLEVEL=0", o.cipher);
			o.cipher = cl;
			snprintf(name, sizeof(name), "TLS 1.2 %s",
			    SSL_CIPHER_standard_name(c));
			supported = iw_tls_suite_info((uint16_t)
			    SSL_CIPHER_get_protocol_id(c), &info);
			run(name, &o, supported);
			cbc = supported && info.mode == IW_RP_CBC;
			if (cbc) {
				o.no_etm = true;
				snprintf(name, sizeof(name), "TLS 1.2 %s "
				    "without encrypt_then_mac",
				    SSL_CIPHER_standard_name(c));
				run(name, &o, true);
			}
		}
		n++;
	}
	CHECK(n >= 40, "libssl offered %d TLS 1.2 suites to try", n);
	SSL_CTX_free(x);
}

static void
test_tls10_11(void)
{
	static const struct {
		int version;
		const char *cipher, *name;
		bool ec;
	} cases[] = {
		{ TLS1_VERSION, "ECDHE-RSA-AES128-SHA", "TLS 1.0", false },
		{ TLS1_VERSION, "AES256-SHA", "TLS 1.0", false },
		{ TLS1_VERSION, "ECDHE-ECDSA-AES256-SHA", "TLS 1.0", true },
		{ TLS1_VERSION, "DHE-RSA-CAMELLIA256-SHA", "TLS 1.0", false },
		{ TLS1_1_VERSION, "ECDHE-RSA-AES256-SHA", "TLS 1.1", false },
		{ TLS1_1_VERSION, "CAMELLIA128-SHA", "TLS 1.1", false },
	};
	struct opts o;
	char name[128], cl[128];
	size_t i;
	int etm;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (etm = 0; etm < 2; etm++) {
			memset(&o, 0, sizeof(o));
			o.version = cases[i].version;
			snprintf(cl, sizeof(cl), "%s:@SECLEVEL=0",
			    cases[i].cipher);
			o.cipher = cl;
			o.ec_cert = cases[i].ec;
			o.no_etm = !etm;
			snprintf(name, sizeof(name), "%s %s %s", cases[i].name,
			    cases[i].cipher, etm ? "encrypt_then_mac" :
			    "MAC-then-encrypt");
			run(name, &o, true);
		}
}

/* ---- TLS 1.3 ---- */

static void
test_tls13_suites(void)
{
	static const char *const suites[] = {
		"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
		"TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256",
		"TLS_AES_128_CCM_8_SHA256",
	};
	struct opts o;
	char name[128];
	size_t i;

	for (i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		memset(&o, 0, sizeof(o));
		o.version = TLS1_3_VERSION;
		o.suites = suites[i];
		snprintf(name, sizeof(name), "TLS 1.3 %s", suites[i]);
		run(name, &o, true);
	}
	memset(&o, 0, sizeof(o));
	o.version = TLS1_3_VERSION;
	o.suites = "TLS_AES_256_GCM_SHA384";
	o.pad = 512;
	run("TLS 1.3 with records padded to 512-byte blocks", &o, true);
	memset(&o, 0, sizeof(o));
	o.version = TLS1_3_VERSION;
	o.client_groups = "X25519:P-384";
	o.server_groups = "P-384";
	run("TLS 1.3 after a HelloRetryRequest (X25519 share, P-384 wanted)",
	    &o, true);
}

static void
test_tls13_key_update(void)
{
	struct kpath kb;
	const char *kp = keylog_path(&kb, "keyupdate");
	struct opts o;
	struct conn *k;
	struct follow f;
	struct iw_tlsd *t;
	bool ok;

	memset(&o, 0, sizeof(o));
	o.version = TLS1_3_VERSION;
	o.suites = "TLS_CHACHA20_POLY1305_SHA256";
	k = conn_new(&o, kp, false);
	ok = k && handshake(k) && transfer(k, IW_TO_SERVER, 10, 1);
	/* client updates and asks the server to update too */
	ok = ok && SSL_key_update(k->c, SSL_KEY_UPDATE_REQUESTED) &&
	    transfer(k, IW_TO_SERVER, 100, 2) &&
	    transfer(k, IW_TO_CLIENT, 100, 3) &&
	    SSL_key_update(k->s, SSL_KEY_UPDATE_NOT_REQUESTED) &&
	    transfer(k, IW_TO_CLIENT, 5000, 4) &&
	    SSL_key_update(k->c, SSL_KEY_UPDATE_NOT_REQUESTED) &&
	    transfer(k, IW_TO_SERVER, 7, 5);
	if (!CHECK(ok, "KeyUpdate: libssl exchange")) {
		if (k)
			conn_free(k);
		return;
	}
	close_both(k);
	t = follow(k, &f, kp, 0);
	CHECK(same_both_ways(k, &f) && iw_tlsd_counts(t)->key_updates[0] == 2
	    && iw_tlsd_counts(t)->key_updates[1] == 2,
	    "KeyUpdate: 2 updates each way followed, all data decrypted "
	    "(%llu, %llu)",
	    (unsigned long long)iw_tlsd_counts(t)->key_updates[0],
	    (unsigned long long)iw_tlsd_counts(t)->key_updates[1]);
	follow_free(&f, t);
	conn_free(k);
}

/* A first connection whose ticket the second one uses. */
static SSL_SESSION *
first_session(const struct opts *o, const char *kp)
{
	struct conn *k = conn_new(o, kp, false);
	SSL_SESSION *sess = NULL;

	if (k != NULL && handshake(k) && transfer(k, IW_TO_CLIENT, 10, 1) &&
	    transfer(k, IW_TO_SERVER, 10, 2))
		sess = SSL_get1_session(k->c);
	if (k != NULL) {
		close_both(k);
		conn_free(k);
	}
	return sess;
}

/* 0-RTT: the client writes before the handshake completes; the server
 * reads it if it accepts it. */
static bool
early_data(struct conn *k)
{
	uint8_t buf[64];
	size_t w = 0, r = 0;

	memcpy(k->sent[0], "a1 NOOP\r\n", 9);
	if (SSL_write_early_data(k->c, k->sent[0], 9, &w) != 1 || w != 9)
		return false;
	pump(k);
	(void)SSL_read_early_data(k->s, buf, sizeof(buf), &r);
	pump(k);
	(void)SSL_read_early_data(k->s, buf, sizeof(buf), &r);
	pump(k);
	return true;
}

static void
resumed(const char *name, uint32_t server_early, bool send_early,
    bool expect_early)
{
	struct kpath kb;
	const char *kp = keylog_path(&kb, name);
	struct opts o;
	struct conn *k;
	struct follow f;
	struct iw_tlsd *t;
	bool ok;

	memset(&o, 0, sizeof(o));
	o.version = TLS1_3_VERSION;
	o.early = 16384;
	if ((o.resume = first_session(&o, kp)) == NULL) {
		CHECK(false, "%s: no ticket", name);
		return;
	}
	unlink(kp);
	o.early = server_early;
	SSL_CTX_set_max_early_data(server_ctx, server_early);
	k = conn_new(&o, kp, true);
	ok = k != NULL;
	if (ok && send_early) {
		ok = early_data(k);
		k->sent_len[0] = expect_early ? 9 : 0;
	}
	ok = ok && handshake(k) && SSL_session_reused(k->c) && exchange(k);
	if (!CHECK(ok, "%s: libssl resumed", name)) {
		if (k)
			conn_free(k);
		SSL_SESSION_free(o.resume);
		return;
	}
	if (send_early)
		CHECK((SSL_get_early_data_status(k->c) ==
		    SSL_EARLY_DATA_ACCEPTED) == expect_early,
		    "%s: libssl says early data %s", name, expect_early ?
		    "accepted" : "rejected");
	close_both(k);
	t = follow(k, &f, kp, 64 * 1024);
	CHECK(same_both_ways(k, &f) && f.stopped == 0,
	    "%s: both directions decrypted (%zu + %zu bytes)", name,
	    f.plain_len[0], f.plain_len[1]);
	if (send_early && expect_early)
		CHECK(iw_tlsd_counts(t)->early_records == 1 &&
		    memcmp(f.plain[0], "a1 NOOP\r\n", 9) == 0,
		    "%s: the 0-RTT record was decrypted with the early secret",
		    name);
	if (send_early && !expect_early)
		CHECK(iw_tlsd_counts(t)->early_records == 0 &&
		    iw_tlsd_counts(t)->early_skipped == 1 &&
		    f.result[IW_TLSD_HELD] == 1,
		    "%s: the refused 0-RTT record, held until the server's "
		    "EncryptedExtensions said no, is skipped: not delivered, "
		    "not a failure", name);
	follow_free(&f, t);
	conn_free(k);
	SSL_SESSION_free(o.resume);
}

/* 0-RTT without its secret in the log: skipped, not failed. */
static void
early_without_secret(void)
{
	struct kpath kb, kb2;
	const char *kp = keylog_path(&kb, "early-nosecret");
	const char *kp2 = keylog_path(&kb2, "early-nosecret-filtered");
	struct opts o;
	struct conn *k;
	struct follow f;
	struct iw_tlsd *t;
	char line[512];
	FILE *in, *out;
	bool ok;

	memset(&o, 0, sizeof(o));
	o.version = TLS1_3_VERSION;
	o.early = 16384;
	if ((o.resume = first_session(&o, kp)) == NULL)
		return;
	unlink(kp);
	k = conn_new(&o, kp, true);
	ok = k && early_data(k);
	ok = ok && handshake(k) && exchange(k);
	if (!CHECK(ok, "0-RTT without its secret: libssl exchange")) {
		if (k)
			conn_free(k);
		SSL_SESSION_free(o.resume);
		return;
	}
	close_both(k);
	fflush(k->keylog);
	in = fopen(kp, "r");
	out = fopen(kp2, "w");
	while (in && out && fgets(line, sizeof(line), in))
		if (strncmp(line, "CLIENT_EARLY_TRAFFIC_SECRET", 27) != 0)
			fputs(line, out);
	if (in)
		fclose(in);
	if (out)
		fclose(out);
	t = follow(k, &f, kp2, 64 * 1024);
	CHECK(same_both_ways(k, &f) && iw_tlsd_counts(t)->early_skipped == 2 &&
	    iw_tlsd_counts(t)->early_records == 0 && f.stopped == 0,
	    "0-RTT without CLIENT_EARLY_TRAFFIC_SECRET: the data record and "
	    "EndOfEarlyData skipped and counted, the rest decrypted");
	follow_free(&f, t);
	conn_free(k);
	SSL_SESSION_free(o.resume);
}

/* ---- wrong and missing keys ---- */

static void
bad_keys(int version, const char *what)
{
	struct kpath kb, kb2;
	const char *kp = keylog_path(&kb, "badkeys"), *kp2;
	char line[512], *sp;
	struct opts o;
	struct conn *k;
	struct follow f;
	struct iw_tlsd *t;
	FILE *in, *out;

	memset(&o, 0, sizeof(o));
	o.version = version;
	k = conn_new(&o, kp, false);
	if (!CHECK(k && handshake(k) && exchange(k), "%s: libssl", what)) {
		if (k)
			conn_free(k);
		return;
	}
	close_both(k);
	fflush(k->keylog);
	/* every secret's last digit changed */
	kp2 = keylog_path(&kb2, "badkeys-wrong");
	in = fopen(kp, "r");
	out = fopen(kp2, "w");
	while (in && out && fgets(line, sizeof(line), in)) {
		if ((sp = strchr(line, '\n')) != NULL && sp > line)
			sp[-1] = sp[-1] == '0' ? '1' : '0';
		fputs(line, out);
	}
	if (in)
		fclose(in);
	if (out)
		fclose(out);
	t = follow(k, &f, kp2, 0);
	CHECK(iw_tlsd_state(t, IW_TO_SERVER) == IW_TLSD_AUTH_FAILED &&
	    iw_tlsd_state(t, IW_TO_CLIENT) == IW_TLSD_AUTH_FAILED &&
	    iw_tlsd_counts(t)->auth_failures == 2 &&
	    f.plain_len[0] + f.plain_len[1] == 0 && f.stopped == 2,
	    "%s, wrong keys: both directions fail authentication at their "
	    "first protected record, nothing comes out", what);
	follow_free(&f, t);
	/* no key at all */
	kp2 = keylog_path(&kb2, "badkeys-empty");
	fclose(fopen(kp2, "w"));
	t = follow(k, &f, kp2, 0);
	CHECK(iw_tlsd_state(t, IW_TO_SERVER) == IW_TLSD_NO_KEYS &&
	    iw_tlsd_state(t, IW_TO_CLIENT) == IW_TLSD_NO_KEYS &&
	    f.plain_len[0] + f.plain_len[1] == 0 &&
	    iw_tlsd_counts(t)->auth_failures == 0,
	    "%s, no key logged: no_keys, not an authentication failure", what);
	follow_free(&f, t);
	conn_free(k);
}

/* ---- certificates ---- */

static X509 *
self_signed(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *n;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const uint8_t *)"imap.example.test", -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509_sign(x, key, EVP_sha256());
	return x;
}

int
main(void)
{
	th_init();
	umask(077);		/* key logs other users cannot read */
	if (mkdtemp(tmpdir) == NULL)
		return 2;
	rsa_key = EVP_RSA_gen(2048);
	ec_key = EVP_EC_gen("P-256");
	rsa_cert = self_signed(rsa_key);
	ec_cert = self_signed(ec_key);
	test_tls13_suites();
	test_tls13_key_update();
	resumed("TLS 1.3 PSK resumption", 0, false, false);
	resumed("TLS 1.3 0-RTT accepted", 16384, true, true);
	resumed("TLS 1.3 0-RTT refused", 0, true, false);
	early_without_secret();
	bad_keys(TLS1_3_VERSION, "TLS 1.3");
	bad_keys(TLS1_2_VERSION, "TLS 1.2");
	test_tls12_suites();
	test_tls10_11();
	SSL_CTX_free(server_ctx);
	X509_free(rsa_cert);
	X509_free(ec_cert);
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(ec_key);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", tmpdir);
	}
	return th_done();
}
