/*
 * x509.c - certificates through OpenSSL.  We parse nothing of X.509
 * ourselves: d2i_X509 reads the DER, X509_check_host applies the name rule,
 * X509_verify_cert builds the chain.
 */
#include <arpa/inet.h>
#include <json.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "digest.h"
#include "event.h"
#include "siphash.h"
#include "x509.h"

/* Bounds on what one certificate puts in an event. */
#define NAME_MAX_LEN	1024
#define SAN_MAX		500

/*
 * Servers present the same certificates session after session, and
 * OpenSSL 3's decoding of a certificate (its public key goes through the
 * provider decoders) costs more than everything else we do with a TLS
 * session: recently seen DER is remembered, byte for byte, with its
 * parsed X509 (kept until exit: reachable, bounded, not a leak).  Its
 * hash, compared before the bytes, is keyed (siphash.h): certificates
 * crafted to share an unkeyed hash would make every lookup compare up to
 * 32 KiB with each of the 64 entries.
 */
#define CERT_CACHE	64
#define CERT_CACHE_MAX	(32 * 1024)	/* bigger DER is not kept */

struct cached_cert {
	uint8_t		*der;
	size_t		 len;
	uint64_t	 hash;
	X509		*x;
	uint64_t	 used;		/* last use, for eviction */
	struct json_object *json;	/* iw_x509_json(x), read-only */
	int		 self_signed;	/* -1 not known yet */
};

static struct cached_cert cert_cache[CERT_CACHE];
static uint64_t cert_clock;

static X509 *
cache_lookup(const uint8_t *der, size_t len, uint64_t h)
{
	int i;

	for (i = 0; i < CERT_CACHE; i++) {
		struct cached_cert *c = &cert_cache[i];

		if (c->x != NULL && c->hash == h && c->len == len &&
		    memcmp(c->der, der, len) == 0) {
			c->used = ++cert_clock;
			X509_up_ref(c->x);
			return c->x;
		}
	}
	return NULL;
}

static void
cache_store(const uint8_t *der, size_t len, uint64_t h, X509 *x)
{
	struct cached_cert *c = &cert_cache[0];
	uint8_t *copy;
	int i;

	if (len > CERT_CACHE_MAX || (copy = malloc(len)) == NULL)
		return;
	for (i = 1; i < CERT_CACHE; i++)
		if (cert_cache[i].used < c->used)
			c = &cert_cache[i];
	free(c->der);
	X509_free(c->x);
	json_object_put(c->json);
	c->json = NULL;
	c->self_signed = -1;
	memcpy(copy, der, len);
	c->der = copy;
	c->len = len;
	c->hash = h;
	X509_up_ref(x);
	c->x = x;
	c->used = ++cert_clock;
}

/* The cache entry of a certificate we parsed, by identity. */
static struct cached_cert *
cache_entry(const X509 *x)
{
	int i;

	for (i = 0; i < CERT_CACHE; i++)
		if (cert_cache[i].x == x)
			return &cert_cache[i];
	return NULL;
}

X509 *
iw_x509_parse(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	uint64_t h;
	X509 *x;

	if (len == 0 || len > 1024 * 1024)
		return NULL;
	h = iw_hash_bytes(der, len);
	if ((x = cache_lookup(der, len, h)) != NULL)
		return x;
	x = d2i_X509(NULL, &p, (long)len);
	/* trailing bytes after the certificate: not a clean DER object */
	if (x != NULL && p != der + len) {
		X509_free(x);
		return NULL;
	}
	if (x != NULL)
		cache_store(der, len, h, x);
	return x;
}

void
iw_x509_name(const X509_NAME *name, char *buf, size_t len)
{
	/* RFC 2253 order and escaping, but UTF-8 kept as UTF-8 rather than
	 * \XX escapes, so names read as they were written */
	unsigned long flags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (b == NULL || name == NULL) {
		BIO_free(b);
		return;
	}
	if (X509_NAME_print_ex(b, name, 0, flags) >= 0) {
		n = BIO_get_mem_data(b, &p);
		if (n > 0)
			iw_utf8_sanitize((const uint8_t *)p, (size_t)n, buf, len);
	}
	BIO_free(b);
}

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

bool
iw_asn1_time_epoch(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	/* ASN1_TIME_to_tm, not time_t arithmetic: dates before 1970 (and
	 * after 2038 on 32-bit time_t) come out right */
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return false;
	*out = days_from_civil((int64_t)tm.tm_year + 1900,
	    (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday) * 86400 +
	    tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
	return true;
}

int
iw_x509_validity(X509 *x, int64_t when)
{
	int64_t nb, na;

	if (!iw_asn1_time_epoch(X509_get0_notBefore(x), &nb) ||
	    !iw_asn1_time_epoch(X509_get0_notAfter(x), &na))
		return -2;
	if (when < nb)
		return -1;
	if (when > na)
		return 1;
	return 0;
}

static bool
is_ip_literal(const char *name)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, name, buf) == 1 ||
	    inet_pton(AF_INET6, name, buf) == 1;
}

int
iw_x509_check_name(X509 *x, const char *name)
{
	int r;

	if (x == NULL || name == NULL || name[0] == '\0')
		return -1;
	if (is_ip_literal(name))
		r = X509_check_ip_asc(x, name, 0);
	else
		r = X509_check_host(x, name, strlen(name),
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL);
	if (r < 0)
		return -1;
	return r == 1 ? 1 : 0;
}

bool
iw_x509_key(X509 *x, const char **type, int *bits)
{
	EVP_PKEY *k = X509_get0_pubkey(x);

	*type = "unknown";
	*bits = 0;
	if (k == NULL)
		return false;
	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_RSA:	*type = "RSA"; break;
	case EVP_PKEY_RSA_PSS:	*type = "RSA-PSS"; break;
	case EVP_PKEY_DSA:	*type = "DSA"; break;
	case EVP_PKEY_EC:	*type = "EC"; break;
	case EVP_PKEY_ED25519:	*type = "ED25519"; break;
	case EVP_PKEY_ED448:	*type = "ED448"; break;
	case EVP_PKEY_DH:	*type = "DH"; break;
	default:		break;
	}
	*bits = EVP_PKEY_get_bits(k);
	return true;
}

bool
iw_x509_weak_key(X509 *x)
{
	const char *type;
	int bits;

	if (!iw_x509_key(x, &type, &bits) || bits <= 0)
		return false;
	if (strcmp(type, "RSA") == 0 || strcmp(type, "RSA-PSS") == 0 ||
	    strcmp(type, "DSA") == 0)
		return bits < 2048;
	if (strcmp(type, "EC") == 0)
		return bits < 224;
	return false;
}

bool
iw_x509_weak_signature(X509 *x)
{
	int md = NID_undef, pk = NID_undef;

	if (!OBJ_find_sigid_algs(X509_get_signature_nid(x), &md, &pk))
		return false;
	return md == NID_md5 || md == NID_sha1 || md == NID_md2 ||
	    md == NID_md4 || md == NID_md5_sha1;
}

bool
iw_x509_self_signed(X509 *x)
{
	struct cached_cert *c = cache_entry(x);

	/* checking the signature is an RSA or ECDSA verification: once per
	 * certificate, not per session */
	if (c != NULL && c->self_signed >= 0)
		return c->self_signed;
	if (c == NULL)
		return X509_self_signed(x, 1) == 1;
	c->self_signed = X509_self_signed(x, 1) == 1;
	return c->self_signed;
}

bool
iw_x509_key_digest(X509 *x, uint8_t out[32])
{
	unsigned int n = 0;

	return X509_pubkey_digest(x, iw_md_sha256(), out, &n) == 1 && n == 32;
}

/* ---- JSON ---- */

static void
add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, iw_json_str(v));
}

static void
add_hex_digest(struct json_object *o, const char *k, X509 *x,
    const EVP_MD *md)
{
	static const char hx[] = "0123456789abcdef";
	unsigned char d[EVP_MAX_MD_SIZE];
	char s[EVP_MAX_MD_SIZE * 3 + 1];
	unsigned int n = 0, i;

	if (X509_digest(x, md, d, &n) != 1)
		return;
	for (i = 0; i < n; i++) {
		s[3 * i] = hx[d[i] >> 4];
		s[3 * i + 1] = hx[d[i] & 15];
		s[3 * i + 2] = ':';
	}
	s[n ? 3 * n - 1 : 0] = '\0';
	add_str(o, k, s);
}

/* The serial as EVE writes it: upper-case hex bytes joined by ':'. */
static void
add_serial(struct json_object *o, X509 *x)
{
	static const char hx[] = "0123456789ABCDEF";
	const ASN1_INTEGER *ai = X509_get0_serialNumber(x);
	char s[3 * 64 + 1];
	int i, n;

	if (ai == NULL)
		return;
	n = ASN1_STRING_length(ai);
	if (n > 64)
		n = 64;
	for (i = 0; i < n; i++) {
		s[3 * i] = hx[ASN1_STRING_get0_data(ai)[i] >> 4];
		s[3 * i + 1] = hx[ASN1_STRING_get0_data(ai)[i] & 15];
		s[3 * i + 2] = ':';
	}
	s[n ? 3 * n - 1 : 0] = '\0';
	add_str(o, "serial", s);
}

static void
add_date(struct json_object *o, const char *k, const ASN1_TIME *t)
{
	char buf[IW_TSLEN];
	int64_t e;

	if (iw_asn1_time_epoch(t, &e))
		add_str(o, k, iw_format_date(e, buf));
}

/* One GENERAL_NAME as "DNS:...", "IP:...", "email:..."; false if other. */
static bool
san_text(const GENERAL_NAME *gn, char *buf, size_t len)
{
	const ASN1_STRING *s;
	const char *pfx;
	char ip[INET6_ADDRSTRLEN], raw[256];
	int n;

	switch (gn->type) {
	case GEN_DNS:	pfx = "DNS:"; s = gn->d.dNSName; break;
	case GEN_EMAIL:	pfx = "email:"; s = gn->d.rfc822Name; break;
	case GEN_URI:	pfx = "URI:"; s = gn->d.uniformResourceIdentifier;
			break;
	case GEN_IPADD:
		s = gn->d.iPAddress;
		n = ASN1_STRING_length(s);
		if ((n != 4 && n != 16) || inet_ntop(n == 4 ? AF_INET :
		    AF_INET6, ASN1_STRING_get0_data(s), ip, sizeof(ip)) == NULL)
			return false;
		snprintf(buf, len, "IP:%s", ip);
		return true;
	default:
		return false;
	}
	n = ASN1_STRING_length(s);
	iw_utf8_sanitize(ASN1_STRING_get0_data(s), (size_t)n, raw,
	    sizeof(raw));
	snprintf(buf, len, "%s%s", pfx, raw);
	return true;
}

static void
add_sans(struct json_object *o, X509 *x)
{
	GENERAL_NAMES *gens;
	struct json_object *arr;
	char buf[300];
	int i, n, added = 0;

	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	if (gens == NULL)
		return;
	arr = json_object_new_array();
	n = sk_GENERAL_NAME_num(gens);
	for (i = 0; i < n; i++) {
		if (added == SAN_MAX) {
			json_object_object_add(o, "subjectaltname_truncated",
			    json_object_new_int(n));
			break;
		}
		if (san_text(sk_GENERAL_NAME_value(gens, i), buf,
		    sizeof(buf))) {
			json_object_array_add(arr, iw_json_str(buf));
			added++;
		}
	}
	GENERAL_NAMES_free(gens);
	json_object_object_add(o, "subjectaltname", arr);
}

static void
add_key_and_sig(struct json_object *o, X509 *x)
{
	struct json_object *k = json_object_new_object();
	const char *type;
	int bits, nid;

	iw_x509_key(x, &type, &bits);
	add_str(k, "type", type);
	json_object_object_add(k, "bits", json_object_new_int(bits));
	json_object_object_add(o, "key", k);
	nid = X509_get_signature_nid(x);
	add_str(o, "signature_algorithm",
	    nid != NID_undef ? OBJ_nid2ln(nid) : "unknown");
}

static struct json_object *x509_describe(X509 *);

/* The description is the same every time a certificate is seen:
 * callers only read it (and take references). */
struct json_object *
iw_x509_json(X509 *x)
{
	struct cached_cert *c = cache_entry(x);
	struct json_object *o;

	if (c != NULL && c->json != NULL)
		return json_object_get(c->json);
	o = x509_describe(x);
	if (c != NULL)
		c->json = json_object_get(o);
	return o;
}

static struct json_object *
x509_describe(X509 *x)
{
	struct json_object *o = json_object_new_object();
	char name[NAME_MAX_LEN];

	iw_x509_name(X509_get_subject_name(x), name, sizeof(name));
	add_str(o, "subject", name);
	iw_x509_name(X509_get_issuer_name(x), name, sizeof(name));
	add_str(o, "issuerdn", name);
	add_serial(o, x);
	add_date(o, "notbefore", X509_get0_notBefore(x));
	add_date(o, "notafter", X509_get0_notAfter(x));
	add_sans(o, x);
	add_key_and_sig(o, x);
	add_hex_digest(o, "fingerprint", x, iw_md_sha1());
	add_hex_digest(o, "fingerprint_sha256", x, iw_md_sha256());
	json_object_object_add(o, "self_signed",
	    json_object_new_boolean(iw_x509_self_signed(x)));
	return o;
}

/* ---- chain validation ---- */

static X509_STORE *store;
static bool store_failed;

void
iw_x509_reset_store(void)
{
	X509_STORE_free(store);
	store = NULL;
	store_failed = false;
}

static X509_STORE *
ca_store(void)
{
	if (store != NULL || store_failed || iw_cfg.ca_file == NULL)
		return store;
	store = X509_STORE_new();
	if (store == NULL || X509_STORE_load_file(store, iw_cfg.ca_file) != 1) {
		X509_STORE_free(store);
		store = NULL;
		store_failed = true;
	}
	return store;
}

int
iw_x509_load_ca(char *err, size_t errlen)
{
	if (iw_cfg.ca_file == NULL || ca_store() != NULL)
		return 0;
	snprintf(err, errlen, "%s: not a readable PEM CA bundle",
	    iw_cfg.ca_file);
	return -1;
}

int
iw_x509_verify(X509 *leaf, STACK_OF(X509) *chain, int64_t when, char *why,
    size_t whylen)
{
	X509_STORE *st = ca_store();
	X509_STORE_CTX *ctx;
	int ok, err;

	if (st == NULL)
		return -1;
	if ((ctx = X509_STORE_CTX_new()) == NULL)
		return -1;
	if (X509_STORE_CTX_init(ctx, st, leaf, chain) != 1) {
		X509_STORE_CTX_free(ctx);
		return -1;
	}
	/* as of the packet's time, not the analyst's clock */
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx),
	    (time_t)when);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	ok = X509_verify_cert(ctx) == 1;
	if (!ok) {
		err = X509_STORE_CTX_get_error(ctx);
		snprintf(why, whylen, "%s", X509_verify_cert_error_string(err));
	}
	X509_STORE_CTX_free(ctx);
	return ok ? 1 : 0;
}
