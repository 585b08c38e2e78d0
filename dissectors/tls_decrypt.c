/* SPDX-License-Identifier: ISC */
/*
 * tls_decrypt.c - TLS record decryption with key log secrets (see
 * include/tls_decrypt.h): suites from their IANA names, the PRF and the
 * TLS 1.3 key schedule through EVP_KDF, record protection through EVP
 * ciphers and HMAC, and the session that follows a connection's records.
 *
 * Nothing here writes a cipher, a hash or a KDF: OpenSSL does all of it.
 * What is ours is framing: nonces, additional data, padding and MAC
 * checks, sequence numbers, which key protects which record.
 */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <pthread.h>
#include <string.h>

#include "ciphers.h"
#include "flowmem.h"
#include "reader.h"
#include "tls_decrypt.h"

/* Record content types and handshake message types (RFC 8446). */
#define CT_CCS		20
#define CT_ALERT	21
#define CT_HANDSHAKE	22
#define CT_APPDATA	23

#define HS_CLIENT_HELLO		1
#define HS_SERVER_HELLO		2
#define HS_END_OF_EARLY_DATA	5
#define HS_ENCRYPTED_EXTENSIONS	8
#define HS_FINISHED		20
#define HS_KEY_UPDATE		24

#define EXT_ETM			22
#define EXT_EARLY_DATA		42
#define EXT_SUPPORTED_VERSIONS	43

#define HELLO_MAX	(64 * 1024)	/* a hello we keep to read */
#define EARLY_SKIP_MAX	(64 * 1024)	/* 0-RTT bytes skipped before a
					 * failure is a failure: servers
					 * accept 16 KiB by default */
#define RP_CHARGE	2048		/* OpenSSL's contexts of one
					 * direction, charged to flowmem */

/* ---- OpenSSL algorithms, fetched once ---- */

static EVP_KDF *kdf_prf, *kdf_tls13;
static EVP_MAC *mac_hmac;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

struct cipher_token {
	const char		*token;		/* in the IANA name */
	const char		*evp;		/* OpenSSL's name */
	enum iw_tls_rp_mode	 mode;
	uint8_t			 key_len;
	uint8_t			 block_len;
	uint8_t			 tag_len;
	EVP_CIPHER		*cipher;	/* fetched */
};

/*
 * The record ciphers OpenSSL's default provider has, by the part of the
 * IANA suite name that names them (TLS_<kx>_WITH_<this>_<mac>, or
 * TLS_<this>_<hash> for TLS 1.3).  Longer tokens first (CCM_8 before CCM).
 */
static struct cipher_token tokens[] = {
	{ "AES_128_GCM", "AES-128-GCM", IW_RP_GCM, 16, 0, 16, NULL },
	{ "AES_256_GCM", "AES-256-GCM", IW_RP_GCM, 32, 0, 16, NULL },
	{ "AES_128_CCM_8", "AES-128-CCM", IW_RP_CCM, 16, 0, 8, NULL },
	{ "AES_256_CCM_8", "AES-256-CCM", IW_RP_CCM, 32, 0, 8, NULL },
	{ "AES_128_CCM", "AES-128-CCM", IW_RP_CCM, 16, 0, 16, NULL },
	{ "AES_256_CCM", "AES-256-CCM", IW_RP_CCM, 32, 0, 16, NULL },
	{ "CHACHA20_POLY1305", "ChaCha20-Poly1305", IW_RP_CHACHA, 32, 0, 16,
	    NULL },
	{ "ARIA_128_GCM", "ARIA-128-GCM", IW_RP_GCM, 16, 0, 16, NULL },
	{ "ARIA_256_GCM", "ARIA-256-GCM", IW_RP_GCM, 32, 0, 16, NULL },
	{ "AES_128_CBC", "AES-128-CBC", IW_RP_CBC, 16, 16, 0, NULL },
	{ "AES_256_CBC", "AES-256-CBC", IW_RP_CBC, 32, 16, 0, NULL },
	{ "CAMELLIA_128_CBC", "CAMELLIA-128-CBC", IW_RP_CBC, 16, 16, 0, NULL },
	{ "CAMELLIA_256_CBC", "CAMELLIA-256-CBC", IW_RP_CBC, 32, 16, 0, NULL },
};
#define NTOKENS (sizeof(tokens) / sizeof(tokens[0]))

static void
fetch_all(void)
{
	size_t i;

	kdf_prf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
	kdf_tls13 = EVP_KDF_fetch(NULL, "TLS13-KDF", NULL);
	mac_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	for (i = 0; i < NTOKENS; i++)
		tokens[i].cipher = EVP_CIPHER_fetch(NULL, tokens[i].evp, NULL);
}

static void
fetch(void)
{
	pthread_once(&fetch_once, fetch_all);
}

/* ---- suites ---- */

/* The MAC or hash at the end of a suite name: "SHA", "SHA256", "SHA384". */
static const char *
hash_suffix(const char *rest, size_t *tok_len)
{
	static const struct {
		const char *suffix, *digest;
	} h[] = { { "_SHA384", "SHA384" }, { "_SHA256", "SHA256" },
	    { "_SHA", "SHA1" } };
	size_t n = strlen(rest), i, sl;

	for (i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
		sl = strlen(h[i].suffix);
		if (n > sl && strcmp(rest + n - sl, h[i].suffix) == 0) {
			*tok_len = n - sl;
			return h[i].digest;
		}
	}
	*tok_len = n;
	return NULL;
}

static uint8_t
digest_len(const char *digest)
{
	if (strcmp(digest, "SHA1") == 0)
		return 20;
	return strcmp(digest, "SHA384") == 0 ? 48 : 32;
}

bool
iw_tls_suite_info(uint16_t id, struct iw_tls_suite *out)
{
	const struct iw_cipher_suite *cs = iw_cipher_lookup(id);
	const char *rest, *hash;
	size_t i, tl;

	fetch();
	if (cs == NULL || (cs->flags & (IW_CS_NULL | IW_CS_EXPORT)))
		return false;
	if (cs->flags & IW_CS_TLS13)
		rest = cs->name + 4;
	else if ((rest = strstr(cs->name, "_WITH_")) != NULL)
		rest += 6;
	else
		return false;
	hash = hash_suffix(rest, &tl);
	for (i = 0; i < NTOKENS; i++)
		if (strlen(tokens[i].token) == tl &&
		    strncmp(rest, tokens[i].token, tl) == 0)
			break;
	if (i == NTOKENS || tokens[i].cipher == NULL)
		return false;
	memset(out, 0, sizeof(*out));
	out->id = id;
	out->tls13 = (cs->flags & IW_CS_TLS13) != 0;
	out->mode = tokens[i].mode;
	out->cipher = tokens[i].evp;
	out->key_len = tokens[i].key_len;
	out->block_len = tokens[i].block_len;
	out->tag_len = tokens[i].tag_len;
	if (out->mode == IW_RP_CBC) {
		if (hash == NULL || out->tls13)
			return false;
		out->mac = hash;
		out->mac_len = digest_len(hash);
	} else if (hash != NULL && strcmp(hash, "SHA1") == 0)
		return false;		/* no AEAD suite ends in _SHA */
	if (out->tls13 && hash == NULL)
		return false;
	/* TLS 1.2's PRF is SHA-256 unless the suite names SHA-384 */
	out->prf = hash != NULL && strcmp(hash, "SHA384") == 0 ? "SHA384" :
	    "SHA256";
	return true;
}

static EVP_CIPHER *
suite_cipher(const struct iw_tls_suite *s)
{
	size_t i;

	for (i = 0; i < NTOKENS; i++)
		if (strcmp(tokens[i].evp, s->cipher) == 0 &&
		    tokens[i].mode == s->mode)
			return tokens[i].cipher;
	return NULL;
}

/* ---- key derivation ---- */

int
iw_tls_prf(const char *digest, const uint8_t *secret, size_t slen,
    const char *label, const uint8_t *seed1, size_t s1len,
    const uint8_t *seed2, size_t s2len, uint8_t *out, size_t outlen)
{
	OSSL_PARAM p[6], *q = p;
	EVP_KDF_CTX *c;
	int ok;

	fetch();
	if (kdf_prf == NULL || (c = EVP_KDF_CTX_new(kdf_prf)) == NULL)
		return -1;
	*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)digest, 0);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET,
	    (void *)secret, slen);
	/* TLS1-PRF concatenates its seeds: label || seed1 || seed2 */
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED,
	    (void *)label, strlen(label));
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED,
	    (void *)seed1, s1len);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED,
	    (void *)seed2, s2len);
	*q = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(c, out, outlen, p);
	EVP_KDF_CTX_free(c);
	return ok > 0 ? 0 : -1;
}

static int
tls13_kdf(int mode, const char *digest, const uint8_t *key, size_t klen,
    const uint8_t *salt, size_t slen, const char *label,
    const uint8_t *data, size_t dlen, uint8_t *out, size_t outlen)
{
	OSSL_PARAM p[8], *q = p;
	EVP_KDF_CTX *c;
	int ok;

	fetch();
	if (kdf_tls13 == NULL || (c = EVP_KDF_CTX_new(kdf_tls13)) == NULL)
		return -1;
	*q++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)digest, 0);
	if (key != NULL)
		*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
		    (void *)key, klen);
	if (salt != NULL)
		*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
		    (void *)salt, slen);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PREFIX,
	    "tls13 ", 6);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_LABEL,
	    (void *)label, strlen(label));
	if (data != NULL)
		*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_DATA,
		    (void *)data, dlen);
	*q = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(c, out, outlen, p);
	EVP_KDF_CTX_free(c);
	return ok > 0 ? 0 : -1;
}

int
iw_tls13_expand_label(const char *digest, const uint8_t *secret,
    size_t slen, const char *label, const uint8_t *context, size_t clen,
    uint8_t *out, size_t outlen)
{
	return tls13_kdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, digest, secret, slen,
	    NULL, 0, label, context ? context : (const uint8_t *)"", clen,
	    out, outlen);
}

int
iw_tls13_extract(const char *digest, const uint8_t *prev, size_t plen,
    const uint8_t *ikm, size_t ilen, uint8_t *out, size_t outlen)
{
	/* TLS13-KDF derives the salt itself: Derive-Secret(prev, label, "") */
	return tls13_kdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, digest, ikm, ilen,
	    prev, plen, "derived", NULL, 0, out, outlen);
}

/* ---- one direction's record protection ---- */

struct iw_tls_rp {
	struct iw_tls_suite	 suite;
	EVP_CIPHER		*cipher;
	uint16_t		 version;
	bool			 etm;
	bool			 keyed;
	uint64_t		 seq;
	EVP_CIPHER_CTX		*ctx;
	EVP_MAC_CTX		*mac;
	uint8_t			 iv[16];	/* TLS 1.3 and ChaCha: the
						 * static IV; GCM/CCM 1.2: the
						 * salt; CBC 1.0: the chain */
	uint8_t			 iv_len;
	uint8_t			 secret[IW_TLS_SECRET_MAX];	/* 1.3 */
	uint8_t			 secret_len;
};

struct iw_tls_rp *
iw_tls_rp_new(void)
{
	struct iw_tls_rp *rp = iw_flowmem_calloc(sizeof(*rp));

	if (rp == NULL)
		return NULL;
	if ((rp->ctx = EVP_CIPHER_CTX_new()) == NULL) {
		iw_flowmem_free(rp);
		return NULL;
	}
	iw_flowmem_charge(RP_CHARGE);
	return rp;
}

void
iw_tls_rp_free(struct iw_tls_rp *rp)
{
	if (rp == NULL)
		return;
	EVP_CIPHER_CTX_free(rp->ctx);	/* cleanses the key schedule */
	EVP_MAC_CTX_free(rp->mac);
	OPENSSL_cleanse(rp, sizeof(*rp));
	iw_flowmem_charge(-(int64_t)RP_CHARGE);
	iw_flowmem_free(rp);
}

uint64_t
iw_tls_rp_seq(const struct iw_tls_rp *rp)
{
	return rp->seq;
}

/* The cipher keyed for decryption (AEAD: with its tag and nonce sizes). */
static int
rp_key(struct iw_tls_rp *rp, const struct iw_tls_suite *s,
    const uint8_t *key)
{
	EVP_CIPHER_CTX *c = rp->ctx;

	rp->suite = *s;
	rp->keyed = false;
	if ((rp->cipher = suite_cipher(s)) == NULL ||
	    !EVP_CIPHER_CTX_reset(c) ||
	    !EVP_DecryptInit_ex2(c, rp->cipher, NULL, NULL, NULL))
		return -1;
	if (s->mode != IW_RP_CBC &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) <= 0)
		return -1;
	if (s->mode == IW_RP_CCM &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, s->tag_len, NULL) <= 0)
		return -1;
	if (s->mode == IW_RP_CBC && !EVP_CIPHER_CTX_set_padding(c, 0))
		return -1;
	if (!EVP_DecryptInit_ex2(c, NULL, key, NULL, NULL))
		return -1;
	rp->seq = 0;
	rp->keyed = true;
	return 0;
}

static int
rp_mac_key(struct iw_tls_rp *rp, const uint8_t *key, size_t len)
{
	OSSL_PARAM p[2];

	EVP_MAC_CTX_free(rp->mac);
	if ((rp->mac = EVP_MAC_CTX_new(mac_hmac)) == NULL)
		return -1;
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)rp->suite.mac, 0);
	p[1] = OSSL_PARAM_construct_end();
	return EVP_MAC_init(rp->mac, key, len, p) > 0 ? 0 : -1;
}

int
iw_tls_rp_set13(struct iw_tls_rp *rp, const struct iw_tls_suite *s,
    const uint8_t *secret, size_t slen)
{
	uint8_t key[32];
	int rc = -1;

	if (!s->tls13 || slen > sizeof(rp->secret) ||
	    slen != digest_len(s->prf))
		return -1;
	if (iw_tls13_expand_label(s->prf, secret, slen, "key", NULL, 0, key,
	    s->key_len) == 0 &&
	    iw_tls13_expand_label(s->prf, secret, slen, "iv", NULL, 0, rp->iv,
	    12) == 0 && rp_key(rp, s, key) == 0) {
		rp->iv_len = 12;
		rp->version = 0x0304;
		memmove(rp->secret, secret, slen);
		rp->secret_len = (uint8_t)slen;
		rc = 0;
	}
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

int
iw_tls_rp_update13(struct iw_tls_rp *rp)
{
	uint8_t next[IW_TLS_SECRET_MAX];
	int rc;

	if (!rp->keyed || rp->secret_len == 0)
		return -1;
	/* RFC 8446 7.2: application_traffic_secret_N+1 */
	rc = iw_tls13_expand_label(rp->suite.prf, rp->secret, rp->secret_len,
	    "traffic upd", NULL, 0, next, rp->secret_len);
	if (rc == 0)
		rc = iw_tls_rp_set13(rp, &rp->suite, next, rp->secret_len);
	OPENSSL_cleanse(next, sizeof(next));
	return rc;
}

static int
rp_set12(struct iw_tls_rp *rp, const struct iw_tls_suite *s,
    uint16_t version, bool etm, const uint8_t *mac_key, const uint8_t *key,
    const uint8_t *iv, size_t iv_len)
{
	if (rp_key(rp, s, key) != 0)
		return -1;
	rp->version = version;
	rp->etm = etm && s->mode == IW_RP_CBC;
	memcpy(rp->iv, iv, iv_len);
	rp->iv_len = (uint8_t)iv_len;
	if (s->mode == IW_RP_CBC && rp_mac_key(rp, mac_key, s->mac_len) != 0)
		return -1;
	return 0;
}

/* Implicit IV bytes of the key block per direction (RFC 5246 6.3; RFC
 * 5288, 6655, 7905 for the AEADs). */
static size_t
fixed_iv_len(const struct iw_tls_suite *s)
{
	switch (s->mode) {
	case IW_RP_GCM:
	case IW_RP_CCM:
		return 4;
	case IW_RP_CHACHA:
		return 12;
	default:
		return s->block_len;
	}
}

int
iw_tls12_keys(const struct iw_tls_suite *s, uint16_t version, bool etm,
    const uint8_t master[48], const uint8_t client_random[32],
    const uint8_t server_random[32], struct iw_tls_rp *client,
    struct iw_tls_rp *server)
{
	uint8_t kb[2 * (48 + 32 + 16)], *p = kb;
	size_t mk = s->mode == IW_RP_CBC ? s->mac_len : 0, k = s->key_len;
	size_t iv = fixed_iv_len(s), need = 2 * (mk + k + iv);
	int rc = -1;

	if (s->tls13 || version < 0x0301 || version > 0x0303 ||
	    (s->mode != IW_RP_CBC && version < 0x0303) || need > sizeof(kb))
		return -1;
	if (iw_tls_prf(version < 0x0303 ? "MD5-SHA1" : s->prf, master, 48,
	    "key expansion", server_random, 32, client_random, 32, kb,
	    need) == 0 &&
	    rp_set12(client, s, version, etm, p, p + 2 * mk,
	    p + 2 * mk + 2 * k, iv) == 0 &&
	    rp_set12(server, s, version, etm, p + mk, p + 2 * mk + k,
	    p + 2 * mk + 2 * k + iv, iv) == 0)
		rc = 0;
	OPENSSL_cleanse(kb, sizeof(kb));
	return rc;
}

static void
put_seq(uint8_t out[8], uint64_t seq)
{
	int i;

	for (i = 7; i >= 0; i--) {
		out[i] = (uint8_t)seq;
		seq >>= 8;
	}
}

/* iv XOR the sequence number, right-aligned (RFC 8446 5.3, RFC 7905). */
static void
xor_nonce(const struct iw_tls_rp *rp, uint8_t nonce[12])
{
	uint8_t s[8];
	int i;

	put_seq(s, rp->seq);
	memcpy(nonce, rp->iv, 12);
	for (i = 0; i < 8; i++)
		nonce[4 + i] ^= s[i];
}

static enum iw_tls_rp_result
aead_open(struct iw_tls_rp *rp, const uint8_t nonce[12], const uint8_t *aad,
    size_t aadlen, const uint8_t *ct, size_t ctlen, const uint8_t *tag,
    uint8_t *out)
{
	EVP_CIPHER_CTX *c = rp->ctx;
	int l = 0, fl = 0;

	if (!EVP_DecryptInit_ex2(c, NULL, NULL, nonce, NULL) ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, rp->suite.tag_len,
	    (void *)tag) <= 0)
		return IW_RP_ERROR;
	if (rp->suite.mode == IW_RP_CCM &&
	    !EVP_DecryptUpdate(c, NULL, &l, NULL, (int)ctlen))
		return IW_RP_ERROR;
	if (!EVP_DecryptUpdate(c, NULL, &l, aad, (int)aadlen))
		return IW_RP_BAD_MAC;
	l = 0;
	if (ctlen > 0 && !EVP_DecryptUpdate(c, out, &l, ct, (int)ctlen))
		return IW_RP_BAD_MAC;	/* CCM checks the tag here */
	if (rp->suite.mode != IW_RP_CCM &&
	    EVP_DecryptFinal_ex(c, out + l, &fl) <= 0)
		return IW_RP_BAD_MAC;
	return (size_t)(l + fl) == ctlen ? IW_RP_OK : IW_RP_ERROR;
}

static enum iw_tls_rp_result
open13(struct iw_tls_rp *rp, uint8_t type, uint16_t version,
    const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen,
    uint8_t *ctype)
{
	uint8_t nonce[12], aad[5];
	size_t ctlen, n;
	enum iw_tls_rp_result r;

	if (type != CT_APPDATA || inlen < (size_t)rp->suite.tag_len + 1 ||
	    inlen > IW_TLS13_CIPHER_MAX)
		return IW_RP_MALFORMED;
	ctlen = inlen - rp->suite.tag_len;
	xor_nonce(rp, nonce);
	aad[0] = type;
	aad[1] = (uint8_t)(version >> 8);
	aad[2] = (uint8_t)version;
	aad[3] = (uint8_t)(inlen >> 8);
	aad[4] = (uint8_t)inlen;
	if ((r = aead_open(rp, nonce, aad, sizeof(aad), in, ctlen, in + ctlen,
	    out)) != IW_RP_OK)
		return r;
	/* TLSInnerPlaintext: content, type, zeros */
	for (n = ctlen; n > 0 && out[n - 1] == 0; n--)
		;
	if (n == 0 || n - 1 > IW_TLS_PLAIN_MAX)
		return IW_RP_MALFORMED;
	*ctype = out[n - 1];
	*outlen = n - 1;
	rp->seq++;
	return IW_RP_OK;
}

static enum iw_tls_rp_result
open12_aead(struct iw_tls_rp *rp, uint8_t type, uint16_t version,
    const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
	size_t explicit = rp->suite.mode == IW_RP_CHACHA ? 0 : 8, plen;
	uint8_t nonce[12], aad[13];
	enum iw_tls_rp_result r;

	if (inlen < explicit + rp->suite.tag_len)
		return IW_RP_MALFORMED;
	plen = inlen - explicit - rp->suite.tag_len;
	if (explicit) {
		memcpy(nonce, rp->iv, 4);
		memcpy(nonce + 4, in, 8);
	} else
		xor_nonce(rp, nonce);
	put_seq(aad, rp->seq);
	aad[8] = type;
	aad[9] = (uint8_t)(version >> 8);
	aad[10] = (uint8_t)version;
	aad[11] = (uint8_t)(plen >> 8);
	aad[12] = (uint8_t)plen;
	if ((r = aead_open(rp, nonce, aad, sizeof(aad), in + explicit, plen,
	    in + explicit + plen, out)) != IW_RP_OK)
		return r;
	*outlen = plen;
	rp->seq++;
	return IW_RP_OK;
}

/* HMAC(seq || type || version || length || data) == mac?  The data may
 * come in two pieces (EtM: IV and ciphertext are one here). */
static enum iw_tls_rp_result
check_mac(struct iw_tls_rp *rp, uint8_t type, uint16_t version,
    const uint8_t *data, size_t len, const uint8_t *mac)
{
	uint8_t hdr[13], got[EVP_MAX_MD_SIZE];
	size_t gl = 0;

	put_seq(hdr, rp->seq);
	hdr[8] = type;
	hdr[9] = (uint8_t)(version >> 8);
	hdr[10] = (uint8_t)version;
	hdr[11] = (uint8_t)(len >> 8);
	hdr[12] = (uint8_t)len;
	if (EVP_MAC_init(rp->mac, NULL, 0, NULL) <= 0 ||
	    EVP_MAC_update(rp->mac, hdr, sizeof(hdr)) <= 0 ||
	    EVP_MAC_update(rp->mac, data, len) <= 0 ||
	    EVP_MAC_final(rp->mac, got, &gl, sizeof(got)) <= 0 ||
	    gl != rp->suite.mac_len)
		return IW_RP_ERROR;
	return CRYPTO_memcmp(got, mac, gl) == 0 ? IW_RP_OK : IW_RP_BAD_MAC;
}

static bool
cbc_decrypt(struct iw_tls_rp *rp, const uint8_t *iv, const uint8_t *ct,
    size_t len, uint8_t *out)
{
	int l = 0, fl = 0;

	return EVP_DecryptInit_ex2(rp->ctx, NULL, NULL, iv, NULL) &&
	    EVP_DecryptUpdate(rp->ctx, out, &l, ct, (int)len) &&
	    EVP_DecryptFinal_ex(rp->ctx, out + l, &fl) &&
	    (size_t)(l + fl) == len;
}

/* The padding of a decrypted CBC record (all its bytes equal its length
 * byte); returns the bytes before it, or -1. */
static long
cbc_unpad(const uint8_t *p, size_t len, size_t mac_len)
{
	size_t pad, i;

	if (len == 0)
		return -1;
	pad = p[len - 1];
	if (pad + 1 + mac_len > len)
		return -1;
	for (i = len - 1 - pad; i < len; i++)
		if (p[i] != pad)
			return -1;
	return (long)(len - 1 - pad);
}

/*
 * CBC with HMAC: MAC-then-encrypt (RFC 5246 6.2.3.2) or encrypt-then-MAC
 * (RFC 7366).  TLS 1.1+ carry an explicit IV; TLS 1.0 chains the last
 * ciphertext block of the previous record.
 */
static enum iw_tls_rp_result
open12_cbc(struct iw_tls_rp *rp, uint8_t type, uint16_t version,
    const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
	size_t bl = rp->suite.block_len, ml = rp->suite.mac_len;
	size_t ivl = version >= 0x0302 ? bl : 0, enc, clen;
	const uint8_t *iv = ivl ? in : rp->iv, *ct;
	enum iw_tls_rp_result r;
	long plen;

	/* at least one block after the IV; MAC-then-encrypt: the MAC and
	 * one padding byte inside the ciphertext */
	if (rp->etm ? inlen < ml + ivl + bl : inlen < ivl +
	    ((ml + 1 + bl - 1) / bl) * bl)
		return IW_RP_MALFORMED;
	enc = rp->etm ? inlen - ml : inlen;	/* IV + ciphertext */
	if ((enc - ivl) % bl != 0)
		return IW_RP_MALFORMED;
	ct = in + ivl;
	clen = enc - ivl;
	if (rp->etm && (r = check_mac(rp, type, version, in, enc,
	    in + enc)) != IW_RP_OK)
		return r;
	if (!cbc_decrypt(rp, iv, ct, clen, out))
		return IW_RP_ERROR;
	if ((plen = cbc_unpad(out, clen, rp->etm ? 0 : ml)) < 0)
		return IW_RP_BAD_MAC;
	if (!rp->etm) {
		plen -= (long)ml;
		if ((r = check_mac(rp, type, version, out, (size_t)plen,
		    out + plen)) != IW_RP_OK)
			return r;
	}
	if (ivl == 0)
		memcpy(rp->iv, ct + clen - bl, bl);
	*outlen = (size_t)plen;
	rp->seq++;
	return IW_RP_OK;
}

enum iw_tls_rp_result
iw_tls_rp_open(struct iw_tls_rp *rp, uint8_t type, uint16_t version,
    const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen,
    uint8_t *ctype)
{
	if (!rp->keyed)
		return IW_RP_ERROR;
	if (rp->version == 0x0304)
		return open13(rp, type, version, in, inlen, out, outlen,
		    ctype);
	if (inlen > IW_TLS12_CIPHER_MAX)
		return IW_RP_MALFORMED;
	*ctype = type;
	if (rp->suite.mode == IW_RP_CBC)
		return open12_cbc(rp, type, version, in, inlen, out, outlen);
	return open12_aead(rp, type, version, in, inlen, out, outlen);
}

/* ---- sessions ---- */

/* Handshake message boundaries in one direction's byte stream (the hellos
 * in the clear, or the decrypted handshake); the bodies of the hellos are
 * kept to be read. */
struct hs_walk {
	uint8_t		 hdr[4];
	uint8_t		 hdr_have;
	uint8_t		 type;
	uint32_t	 left;		/* body bytes still to come */
	bool		 keep;
	uint8_t		*body;
	uint32_t	 body_len;
	uint32_t	 messages;
};

enum stage { ST_EARLY, ST_HS, ST_AP, ST_12, ST_COUNT };

struct tlsd_dir {
	enum iw_tlsd_state	 state;
	bool			 reported;	/* ops->stopped called */
	struct iw_tls_rp	*rp[ST_COUNT];
	enum stage		 stage;
	bool			 ccs;		/* TLS 1.2: keys from here */
	bool			 early_possible;/* client: 0-RTT may come */
	size_t			 early_skipped;	/* bytes */
	struct hs_walk		 clear, prot;
};

struct iw_tlsd {
	const struct iw_tlsd_ops *ops;
	void			*arg;
	size_t			 hold_max;
	struct tlsd_dir		 d[2];
	uint8_t			 client_random[IW_TLS_RANDOM_LEN];
	uint8_t			 server_random[IW_TLS_RANDOM_LEN];
	bool			 have_ch, have_sh, keyed, waiting;
	bool			 early_offered, etm, hrr;
	bool			 ee_seen, ee_new;	/* EncryptedExtensions */
	bool			 early_accepted;	/* it had early_data */
	bool			 replaying;
	uint16_t		 version;
	struct iw_tls_suite	 suite;
	uint8_t			*hold;		/* records: u8 dir, u8 type,
						 * u16 version, u16 len, body */
	size_t			 hold_len, hold_cap;
	struct iw_tlsd_counts	 counts;
};

/* Plaintext of the record being opened: one per thread, so a session
 * costs nothing while idle. */
static _Thread_local uint8_t plain_buf[IW_TLS12_CIPHER_MAX];

/* SHA-256("HelloRetryRequest"), the ServerHello random of an HRR. */
static const uint8_t hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
	0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
	0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

static const char *const state_names[] = {
	[IW_TLSD_IDLE] = "idle",
	[IW_TLSD_ACTIVE] = "decrypting",
	[IW_TLSD_WAITING] = "waiting_for_keys",
	[IW_TLSD_NO_KEYS] = "no_keys",
	[IW_TLSD_AUTH_FAILED] = "authentication_failed",
	[IW_TLSD_GAP] = "gap",
	[IW_TLSD_UNSUPPORTED] = "unsupported",
	[IW_TLSD_MALFORMED] = "malformed",
	[IW_TLSD_HOLD_FULL] = "hold_full",
};

const char *
iw_tlsd_state_name(enum iw_tlsd_state s)
{
	return (size_t)s < sizeof(state_names) / sizeof(state_names[0]) ?
	    state_names[s] : "?";
}

static void replay_held(struct iw_tlsd *);
static bool early_pending(const struct iw_tlsd *, enum iw_dir);

static bool
stopped(enum iw_tlsd_state s)
{
	return s >= IW_TLSD_NO_KEYS;
}

static void
dir_stop(struct iw_tlsd *t, enum iw_dir dir, enum iw_tlsd_state why)
{
	struct tlsd_dir *d = &t->d[dir];

	if (stopped(d->state))
		return;
	d->state = why;
	if (why == IW_TLSD_AUTH_FAILED)
		t->counts.auth_failures++;
	if (!d->reported && t->ops->stopped != NULL) {
		d->reported = true;
		t->ops->stopped(t->arg, dir, why);
	}
	/* no EncryptedExtensions will come: 0-RTT data held for them is
	 * taken as refused */
	if (dir == IW_TO_CLIENT && early_pending(t, IW_TO_SERVER)) {
		t->ee_seen = true;
		t->early_accepted = false;
		if (!t->waiting)
			replay_held(t);
	}
}

static void
both_stop(struct iw_tlsd *t, enum iw_tlsd_state why)
{
	dir_stop(t, IW_TO_SERVER, why);
	dir_stop(t, IW_TO_CLIENT, why);
}

/* ---- handshake messages ---- */

static void
walk_reset(struct hs_walk *w)
{
	iw_flowmem_free(w->body);
	memset(w, 0, sizeof(*w));
}

/*
 * Feeds a direction's handshake bytes; for each complete message sets bit
 * (1 << type) in *done (types under 32) and, for the types in keep (a bit
 * each), collects the body and calls message().  false if a kept message
 * is too long to keep, or message() finds it malformed.
 */
#define KEEP_HELLOS	(1u << HS_CLIENT_HELLO | 1u << HS_SERVER_HELLO)
#define KEEP_EE		(1u << HS_ENCRYPTED_EXTENSIONS)

static bool message(struct iw_tlsd *, enum iw_dir, uint8_t, const uint8_t *,
    size_t);

static bool
walk(struct iw_tlsd *t, enum iw_dir dir, struct hs_walk *w, const uint8_t *p,
    size_t n, uint32_t keep, uint32_t *done)
{
	size_t take;

	while (n > 0) {
		if (w->hdr_have < 4) {
			w->hdr[w->hdr_have++] = *p++;
			n--;
			if (w->hdr_have < 4)
				continue;
			w->type = w->hdr[0];
			w->left = (uint32_t)w->hdr[1] << 16 |
			    (uint32_t)w->hdr[2] << 8 | w->hdr[3];
			w->keep = w->type < 32 && (keep & (1u << w->type));
			if (w->keep && w->left > HELLO_MAX)
				return false;
			if (w->keep && (w->body = iw_flowmem_realloc(w->body,
			    w->left ? w->left : 1)) == NULL)
				return false;
			w->body_len = 0;
		}
		take = n < w->left ? n : w->left;
		if (w->keep)
			memcpy(w->body + w->body_len, p, take);
		w->body_len += (uint32_t)take;
		w->left -= (uint32_t)take;
		p += take;
		n -= take;
		if (w->left > 0)
			break;
		w->hdr_have = 0;
		w->messages++;
		if (w->type < 32)
			*done |= 1u << w->type;
		if (w->keep && !message(t, dir, w->type, w->body, w->body_len))
			return false;
	}
	return true;
}

/* Looks through hello extensions for the ones we use. */
static bool
hello_extensions(struct iw_tlsd *t, struct iw_rd *r, bool server,
    uint16_t *sv)
{
	struct iw_rd exts, e;
	uint16_t type;

	if (rd_left(r) == 0)
		return true;		/* no extensions */
	exts = rd_sub(r, rd_u16(r));
	while (!exts.bad && rd_left(&exts) > 0) {
		type = rd_u16(&exts);
		e = rd_sub(&exts, rd_u16(&exts));
		if (e.bad)
			return false;
		if (!server && type == EXT_EARLY_DATA)
			t->early_offered = true;
		else if (server && type == EXT_ETM)
			t->etm = true;
		else if (server && type == EXT_SUPPORTED_VERSIONS)
			*sv = rd_u16(&e);
	}
	return !exts.bad && !r->bad;
}

static bool
client_hello(struct iw_tlsd *t, const uint8_t *p, size_t n)
{
	struct iw_rd r = rd_init(p, n);
	const uint8_t *random;
	uint16_t unused = 0;

	rd_u16(&r);				/* legacy_version */
	if (!rd_bytes(&r, IW_TLS_RANDOM_LEN, &random))
		return false;
	if (t->have_ch)		/* after an HRR: the same random */
		return true;
	memcpy(t->client_random, random, IW_TLS_RANDOM_LEN);
	t->have_ch = true;
	rd_skip(&r, rd_u8(&r));			/* session id */
	rd_skip(&r, rd_u16(&r));		/* cipher suites */
	rd_skip(&r, rd_u8(&r));			/* compression */
	return hello_extensions(t, &r, false, &unused);
}

static void install_keys(struct iw_tlsd *);

static bool
server_hello(struct iw_tlsd *t, const uint8_t *p, size_t n)
{
	struct iw_rd r = rd_init(p, n);
	const uint8_t *random;
	uint16_t legacy, sv = 0, suite;
	uint8_t comp;

	legacy = rd_u16(&r);
	if (!rd_bytes(&r, IW_TLS_RANDOM_LEN, &random))
		return false;
	rd_skip(&r, rd_u8(&r));			/* session id */
	suite = rd_u16(&r);
	comp = rd_u8(&r);
	t->etm = false;
	if (r.bad || !hello_extensions(t, &r, true, &sv))
		return false;
	if (memcmp(random, hrr_random, sizeof(hrr_random)) == 0) {
		t->hrr = true;		/* the real ServerHello follows */
		return true;
	}
	memcpy(t->server_random, random, IW_TLS_RANDOM_LEN);
	t->have_sh = true;
	t->version = sv ? sv : legacy;
	if (t->version < 0x0301 || t->version > 0x0304 || comp != 0 ||
	    !iw_tls_suite_info(suite, &t->suite)) {
		both_stop(t, IW_TLSD_UNSUPPORTED);
		return true;
	}
	if (t->suite.tls13 != (t->version == 0x0304) ||
	    (t->suite.mode != IW_RP_CBC && t->version < 0x0303)) {
		both_stop(t, IW_TLSD_MALFORMED);
		return true;
	}
	install_keys(t);
	return true;
}

/* The server's EncryptedExtensions say whether it took the 0-RTT data. */
static bool
encrypted_extensions(struct iw_tlsd *t, const uint8_t *p, size_t n)
{
	struct iw_rd r = rd_init(p, n), exts;
	uint16_t type;

	if (t->ee_seen)
		return true;
	t->ee_seen = true;
	t->ee_new = true;
	exts = rd_sub(&r, rd_u16(&r));
	while (!exts.bad && rd_left(&exts) > 0) {
		type = rd_u16(&exts);
		rd_skip(&exts, rd_u16(&exts));
		if (type == EXT_EARLY_DATA)
			t->early_accepted = true;
	}
	return !exts.bad && !r.bad;
}

static bool
message(struct iw_tlsd *t, enum iw_dir dir, uint8_t type, const uint8_t *p,
    size_t n)
{
	if (dir == IW_TO_SERVER && type == HS_CLIENT_HELLO)
		return client_hello(t, p, n);
	if (dir == IW_TO_CLIENT && type == HS_SERVER_HELLO && !t->have_sh)
		return server_hello(t, p, n);
	if (dir == IW_TO_CLIENT && type == HS_ENCRYPTED_EXTENSIONS)
		return encrypted_extensions(t, p, n);
	return true;
}

/* ---- keys ---- */

static struct iw_tls_rp *
stage_rp(struct iw_tlsd *t, const struct iw_tls_secrets *s,
    enum iw_tls_secret_kind k)
{
	struct iw_tls_rp *rp;

	if (s->len[k] == 0 || (rp = iw_tls_rp_new()) == NULL)
		return NULL;
	if (iw_tls_rp_set13(rp, &t->suite, s->v[k], s->len[k]) != 0) {
		iw_tls_rp_free(rp);
		return NULL;
	}
	return rp;
}

static bool
keys12(struct iw_tlsd *t, const struct iw_tls_secrets *s)
{
	struct tlsd_dir *c = &t->d[IW_TO_SERVER], *sv = &t->d[IW_TO_CLIENT];

	if (s->len[IW_TLS_MASTER] != 48)
		return false;
	c->rp[ST_12] = iw_tls_rp_new();
	sv->rp[ST_12] = iw_tls_rp_new();
	if (c->rp[ST_12] == NULL || sv->rp[ST_12] == NULL ||
	    iw_tls12_keys(&t->suite, t->version, t->etm, s->v[IW_TLS_MASTER],
	    t->client_random, t->server_random, c->rp[ST_12],
	    sv->rp[ST_12]) != 0)
		return false;
	c->stage = sv->stage = ST_12;
	return true;
}

static bool
keys13(struct iw_tlsd *t, const struct iw_tls_secrets *s)
{
	struct tlsd_dir *c = &t->d[IW_TO_SERVER], *sv = &t->d[IW_TO_CLIENT];

	if (s->len[IW_TLS_C_HS] == 0 && s->len[IW_TLS_S_HS] == 0)
		return false;
	if (t->early_offered)
		c->rp[ST_EARLY] = stage_rp(t, s, IW_TLS_C_EARLY);
	c->rp[ST_HS] = stage_rp(t, s, IW_TLS_C_HS);
	c->rp[ST_AP] = stage_rp(t, s, IW_TLS_C_AP);
	sv->rp[ST_HS] = stage_rp(t, s, IW_TLS_S_HS);
	sv->rp[ST_AP] = stage_rp(t, s, IW_TLS_S_AP);
	c->stage = c->rp[ST_EARLY] != NULL ? ST_EARLY : ST_HS;
	c->early_possible = t->early_offered;
	sv->stage = ST_HS;
	return true;
}

/* The ServerHello has come (or the key log grew): look the keys up. */
static void
install_keys(struct iw_tlsd *t)
{
	struct iw_tls_secrets s;
	bool ok = false;
	int i;

	if (t->keyed || !t->have_sh || stopped(t->d[0].state))
		return;
	if (!t->have_ch) {
		both_stop(t, IW_TLSD_NO_KEYS);
		return;
	}
	memset(&s, 0, sizeof(s));
	if (t->ops->keys != NULL && t->ops->keys(t->arg, t->client_random,
	    &s))
		ok = t->version == 0x0304 ? keys13(t, &s) : keys12(t, &s);
	iw_tls_secrets_wipe(&s);
	if (!ok) {
		for (i = 0; i < 2 * ST_COUNT; i++) {
			iw_tls_rp_free(t->d[i / ST_COUNT].rp[i % ST_COUNT]);
			t->d[i / ST_COUNT].rp[i % ST_COUNT] = NULL;
		}
		if (t->hold_max > 0) {
			t->waiting = true;
			t->d[0].state = t->d[1].state = IW_TLSD_WAITING;
		} else
			both_stop(t, IW_TLSD_NO_KEYS);
		return;
	}
	t->keyed = true;
	t->waiting = false;
	for (i = 0; i < 2; i++)
		if (t->d[i].state == IW_TLSD_IDLE ||
		    t->d[i].state == IW_TLSD_WAITING)
			t->d[i].state = IW_TLSD_ACTIVE;
	replay_held(t);
}

/* ---- protected records ---- */

static void
deliver(struct iw_tlsd *t, enum iw_dir dir, uint8_t type, const uint8_t *p,
    size_t n)
{
	t->counts.records[dir]++;
	t->counts.bytes[dir] += n;
	if (t->ops->plaintext != NULL)
		t->ops->plaintext(t->arg, dir, type, p, n);
}

/* After a decrypted TLS 1.3 handshake record: the key changes it made. */
static void
stage13_after(struct iw_tlsd *t, enum iw_dir dir, uint32_t done)
{
	struct tlsd_dir *d = &t->d[dir];

	if (d->stage == ST_EARLY && (done & (1u << HS_END_OF_EARLY_DATA)))
		d->stage = ST_HS;
	else if (d->stage == ST_HS && (done & (1u << HS_FINISHED))) {
		d->stage = ST_AP;
		if (d->rp[ST_AP] == NULL)
			dir_stop(t, dir, IW_TLSD_NO_KEYS);
	} else if (d->stage == ST_AP && (done & (1u << HS_KEY_UPDATE))) {
		if (iw_tls_rp_update13(d->rp[ST_AP]) != 0)
			dir_stop(t, dir, IW_TLSD_AUTH_FAILED);
		else
			t->counts.key_updates[dir]++;
	}
}

static enum iw_tlsd_rec
fail(struct iw_tlsd *t, enum iw_dir dir, enum iw_tls_rp_result r)
{
	dir_stop(t, dir, r == IW_RP_BAD_MAC ? IW_TLSD_AUTH_FAILED :
	    r == IW_RP_MALFORMED ? IW_TLSD_MALFORMED : IW_TLSD_UNSUPPORTED);
	return IW_TLSD_OPAQUE;
}

static bool hold(struct iw_tlsd *, enum iw_dir, uint8_t, uint16_t,
    const uint8_t *, size_t);

/*
 * A decrypted record (in plain_buf): its handshake messages tracked, its
 * plaintext out, then the key changes it makes; the server's
 * EncryptedExtensions release the 0-RTT records held for them.
 */
static enum iw_tls_rp_result
take(struct iw_tlsd *t, enum iw_dir dir, enum stage st, uint8_t ctype,
    size_t len)
{
	struct tlsd_dir *d = &t->d[dir];
	uint32_t done = 0;

	if (ctype == CT_HANDSHAKE && !walk(t, dir, &d->prot, plain_buf, len,
	    dir == IW_TO_CLIENT && t->version == 0x0304 ? KEEP_EE : 0, &done))
		return IW_RP_MALFORMED;
	deliver(t, dir, ctype, plain_buf, len);
	if (st == ST_12) {
		/* a hello under encryption: renegotiation, not followed */
		if (done & (1u << HS_CLIENT_HELLO | 1u << HS_SERVER_HELLO))
			both_stop(t, IW_TLSD_UNSUPPORTED);
	} else if (ctype == CT_HANDSHAKE)
		stage13_after(t, dir, done);
	if (t->ee_new) {
		t->ee_new = false;
		replay_held(t);
	}
	return IW_RP_OK;
}

static enum iw_tls_rp_result
open_stage(struct iw_tlsd *t, enum iw_dir dir, enum stage st, uint8_t type,
    uint16_t ver, const uint8_t *b, size_t n)
{
	enum iw_tls_rp_result r;
	uint8_t ctype;
	size_t len;

	r = iw_tls_rp_open(t->d[dir].rp[st], type, ver, b, n, plain_buf, &len,
	    &ctype);
	return r == IW_RP_OK ? take(t, dir, st, ctype, len) : r;
}

/* 0-RTT data the server may not have read: held until its
 * EncryptedExtensions say (or skipped, with nowhere to hold it). */
static bool
early_pending(const struct iw_tlsd *t, enum iw_dir dir)
{
	return dir == IW_TO_SERVER && t->version == 0x0304 &&
	    t->early_offered && !t->ee_seen;
}

static enum iw_tlsd_rec
early_skip(struct iw_tlsd *t)
{
	t->counts.early_skipped++;
	return IW_TLSD_EARLY_SKIPPED;
}

/* A TLS 1.3 client record: 0-RTT under the early key (delivered only if
 * the server took it), or skipped; then the handshake and application
 * keys. */
static enum iw_tlsd_rec
client13(struct iw_tlsd *t, const uint8_t *b, size_t n, uint16_t ver)
{
	struct tlsd_dir *d = &t->d[IW_TO_SERVER];
	enum iw_tls_rp_result r;
	uint8_t ctype;
	size_t len;

	if (d->stage == ST_EARLY) {
		r = iw_tls_rp_open(d->rp[ST_EARLY], CT_APPDATA, ver, b, n,
		    plain_buf, &len, &ctype);
		if (r == IW_RP_OK && !t->early_accepted)
			return early_skip(t);	/* the server never read it */
		if (r == IW_RP_OK) {
			if (ctype == CT_APPDATA)
				t->counts.early_records++;
			r = take(t, IW_TO_SERVER, ST_EARLY, ctype, len);
			return r == IW_RP_OK ? IW_TLSD_DECRYPTED :
			    fail(t, IW_TO_SERVER, r);
		}
		d->stage = ST_HS;	/* not early data: refused or over */
	}
	if (d->rp[d->stage] == NULL) {
		dir_stop(t, IW_TO_SERVER, IW_TLSD_NO_KEYS);
		return IW_TLSD_OPAQUE;
	}
	r = open_stage(t, IW_TO_SERVER, d->stage, CT_APPDATA, ver, b, n);
	if (r == IW_RP_OK) {
		d->early_possible = false;
		return IW_TLSD_DECRYPTED;
	}
	if (r == IW_RP_BAD_MAC && d->stage == ST_HS && d->early_possible &&
	    d->early_skipped + n <= EARLY_SKIP_MAX) {
		d->early_skipped += n;
		return early_skip(t);
	}
	return fail(t, IW_TO_SERVER, r);
}

/* A protected record of a keyed session. */
static enum iw_tlsd_rec
protected(struct iw_tlsd *t, enum iw_dir dir, uint8_t type, uint16_t ver,
    const uint8_t *b, size_t n)
{
	struct tlsd_dir *d = &t->d[dir];
	enum iw_tls_rp_result r;

	if (d->state != IW_TLSD_ACTIVE)
		return IW_TLSD_OPAQUE;
	if (early_pending(t, dir)) {
		if (t->hold_max == 0)
			return early_skip(t);
		return hold(t, dir, type, ver, b, n) ? IW_TLSD_HELD :
		    IW_TLSD_OPAQUE;
	}
	if (t->version == 0x0304 && dir == IW_TO_SERVER)
		return client13(t, b, n, ver);
	if (d->rp[d->stage] == NULL) {
		dir_stop(t, dir, IW_TLSD_NO_KEYS);
		return IW_TLSD_OPAQUE;
	}
	r = open_stage(t, dir, d->stage, type, ver, b, n);
	return r == IW_RP_OK ? IW_TLSD_DECRYPTED : fail(t, dir, r);
}

/* ---- holding ---- */

static void
hold_drop(struct iw_tlsd *t)
{
	iw_flowmem_free(t->hold);
	t->hold = NULL;
	t->hold_len = t->hold_cap = 0;
}

static bool
hold(struct iw_tlsd *t, enum iw_dir dir, uint8_t type, uint16_t ver,
    const uint8_t *b, size_t n)
{
	size_t need = t->hold_len + 6 + n, ncap;
	uint8_t *nb, *e;

	if (n > 0xffff || need > t->hold_max) {
		t->counts.held_dropped += t->hold_len + n;
		hold_drop(t);
		both_stop(t, IW_TLSD_HOLD_FULL);
		return false;
	}
	if (need > t->hold_cap) {
		ncap = t->hold_cap ? t->hold_cap : 4096;
		while (ncap < need)
			ncap *= 2;
		if (ncap > t->hold_max)
			ncap = t->hold_max;
		if ((nb = iw_flowmem_realloc(t->hold, ncap)) == NULL) {
			t->counts.held_dropped += t->hold_len + n;
			hold_drop(t);
			both_stop(t, IW_TLSD_HOLD_FULL);
			return false;
		}
		t->hold = nb;
		t->hold_cap = ncap;
	}
	e = t->hold + t->hold_len;
	e[0] = (uint8_t)dir;
	e[1] = type;
	e[2] = (uint8_t)(ver >> 8);
	e[3] = (uint8_t)ver;
	e[4] = (uint8_t)(n >> 8);
	e[5] = (uint8_t)n;
	memcpy(e + 6, b, n);
	t->hold_len = need;
	return true;
}

static void
replay_held(struct iw_tlsd *t)
{
	uint8_t *h = t->hold;
	size_t len = t->hold_len, off = 0, n;

	t->hold = NULL;
	t->hold_len = t->hold_cap = 0;
	while (off + 6 <= len) {
		n = (size_t)h[off + 4] << 8 | h[off + 5];
		(void)protected(t, (enum iw_dir)h[off], h[off + 1],
		    (uint16_t)(h[off + 2] << 8 | h[off + 3]), h + off + 6, n);
		off += 6 + n;
	}
	OPENSSL_cleanse(h, len);
	iw_flowmem_free(h);
}

/* ---- the API ---- */

struct iw_tlsd *
iw_tlsd_new(const struct iw_tlsd_ops *ops, void *arg, size_t hold_max)
{
	struct iw_tlsd *t = iw_flowmem_calloc(sizeof(*t));

	fetch();
	if (t == NULL)
		return NULL;
	t->ops = ops;
	t->arg = arg;
	t->hold_max = hold_max;
	return t;
}

void
iw_tlsd_free(struct iw_tlsd *t)
{
	int i, k;

	if (t == NULL)
		return;
	for (i = 0; i < 2; i++) {
		for (k = 0; k < ST_COUNT; k++)
			iw_tls_rp_free(t->d[i].rp[k]);
		walk_reset(&t->d[i].clear);
		walk_reset(&t->d[i].prot);
	}
	if (t->hold != NULL)
		OPENSSL_cleanse(t->hold, t->hold_len);
	hold_drop(t);
	OPENSSL_cleanse(t, sizeof(*t));
	iw_flowmem_free(t);
}

/* Is this record protected, given what the session knows? */
static bool
is_protected(const struct iw_tlsd *t, enum iw_dir dir, uint8_t type)
{
	if (type == CT_CCS)
		return false;
	if (!t->have_sh || t->version == 0x0304)
		return type == CT_APPDATA;
	return t->d[dir].ccs;
}

enum iw_tlsd_rec
iw_tlsd_record(struct iw_tlsd *t, enum iw_dir dir, uint8_t type,
    uint16_t version, const uint8_t *body, size_t len)
{
	struct tlsd_dir *d = &t->d[dir];
	uint32_t done = 0;

	if (!is_protected(t, dir, type)) {
		if (type == CT_CCS && t->have_sh && t->version != 0x0304)
			d->ccs = true;
		if (type == CT_HANDSHAKE && !t->have_sh &&
		    !stopped(d->state) && !walk(t, dir, &d->clear, body, len,
		    KEEP_HELLOS, &done))
			both_stop(t, IW_TLSD_MALFORMED);
		if (t->have_sh)
			walk_reset(&d->clear);
		return IW_TLSD_CLEAR;
	}
	if (stopped(d->state))
		return IW_TLSD_OPAQUE;
	if (!t->have_sh) {
		/* 0-RTT data before the ServerHello, or a stream picked up
		 * in the middle */
		if (dir != IW_TO_SERVER || !t->have_ch) {
			both_stop(t, IW_TLSD_NO_KEYS);
			return IW_TLSD_OPAQUE;
		}
		if (t->hold_max == 0) {
			t->counts.early_skipped++;
			return IW_TLSD_EARLY_SKIPPED;
		}
		return hold(t, dir, type, version, body, len) ? IW_TLSD_HELD :
		    IW_TLSD_OPAQUE;
	}
	if (t->waiting)
		return hold(t, dir, type, version, body, len) ? IW_TLSD_HELD :
		    IW_TLSD_OPAQUE;
	return protected(t, dir, type, version, body, len);
}

void
iw_tlsd_gap(struct iw_tlsd *t, enum iw_dir dir)
{
	dir_stop(t, dir, IW_TLSD_GAP);
}

bool
iw_tlsd_retry(struct iw_tlsd *t)
{
	if (!t->waiting)
		return t->keyed;
	install_keys(t);
	return t->keyed;
}

void
iw_tlsd_give_up(struct iw_tlsd *t)
{
	if (!t->waiting)
		return;
	t->waiting = false;
	OPENSSL_cleanse(t->hold, t->hold_len);
	hold_drop(t);
	both_stop(t, IW_TLSD_NO_KEYS);
}

enum iw_tlsd_state
iw_tlsd_state(const struct iw_tlsd *t, enum iw_dir dir)
{
	return t->d[dir].state;
}

const struct iw_tlsd_counts *
iw_tlsd_counts(const struct iw_tlsd *t)
{
	return &t->counts;
}

size_t
iw_tlsd_held(const struct iw_tlsd *t)
{
	return t->hold_len;
}

uint16_t
iw_tlsd_version(const struct iw_tlsd *t)
{
	return t->have_sh ? t->version : 0;
}

uint16_t
iw_tlsd_suite(const struct iw_tlsd *t)
{
	return t->have_sh ? t->suite.id : 0;
}
