/* SPDX-License-Identifier: ISC */
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
#define SAN_TEXT_MAX	1024
#define SERIAL_MAX	1024	/* RFC 5280 says 20 */

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

/* a worker's own cache (iw_x509_thread_end frees it) */
static _Thread_local struct cached_cert cert_cache[CERT_CACHE];
static _Thread_local uint64_t cert_clock;

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

void
iw_x509_thread_end(void)
{
	int i;

	for (i = 0; i < CERT_CACHE; i++) {
		free(cert_cache[i].der);
		X509_free(cert_cache[i].x);
		json_object_put(cert_cache[i].json);
		memset(&cert_cache[i], 0, sizeof(cert_cache[i]));
	}
	cert_clock = 0;
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

/*
 * Names as Suricata's EVE writes them (rust/src/x509 through x509-parser
 * 0.16's X509Name Display): the RDNs in certificate order joined by ", ",
 * the attributes of a multi-valued RDN joined by " + ", each "NAME=value".
 * NAME is x509-parser's abbreviation, else oid-registry 0.7's short name,
 * else "OID(dotted)".  A string is written as its bytes (BMPString from
 * UTF-16), any other type as upper-case hex of its content; a string that
 * is not UTF-8 makes the whole name x509-parser's error text.
 */
struct dn_attr {
	const char	*oid;
	const char	*name;
};

static const struct dn_attr dn_attrs[] = {
	/* x509-parser's abbreviations */
	{ "2.5.4.3", "CN" }, { "2.5.4.6", "C" }, { "2.5.4.7", "L" },
	{ "2.5.4.8", "ST" }, { "2.5.4.10", "O" }, { "2.5.4.11", "OU" },
	{ "0.9.2342.19200300.100.1.25", "DC" },
	{ "1.2.840.113549.1.9.1", "Email" },
	/* oid-registry's short names (x509 and pkcs9 sets) */
	{ "2.5.4", "x509" }, { "2.5.4.0", "objectClass" },
	{ "2.5.4.1", "aliasedEntryName" }, { "2.5.4.2", "knowledgeInformation" },
	{ "2.5.4.4", "surname" }, { "2.5.4.5", "serialNumber" },
	{ "2.5.4.9", "streetAddress" }, { "2.5.4.12", "title" },
	{ "2.5.4.13", "description" }, { "2.5.4.14", "searchGuide" },
	{ "2.5.4.15", "businessCategory" }, { "2.5.4.16", "postalAddress" },
	{ "2.5.4.17", "postalCode" }, { "2.5.4.41", "name" },
	{ "2.5.4.42", "givenName" }, { "2.5.4.43", "initials" },
	{ "2.5.4.44", "generationQualifier" },
	{ "2.5.4.45", "uniqueIdentifier" }, { "2.5.4.46", "dnQualifier" },
	{ "0.9.2342.19200300.100.1.1", "uid" },
	{ "1.3.6.1.4.1.311.60.2.1.1", "msJurisdictionLocality" },
	{ "1.3.6.1.4.1.311.60.2.1.2", "msJurisdictionStateOrProvince" },
	{ "1.3.6.1.4.1.311.60.2.1.3", "msJurisdictionCountry" },
	{ "1.2.840.113549.1.9.2", "unstructuredName" },
	{ "1.2.840.113549.1.9.3", "contentType" },
	{ "1.2.840.113549.1.9.4", "id-messageDigest" },
	{ "1.2.840.113549.1.9.5", "signing-time" },
	{ "1.2.840.113549.1.9.7", "challengePassword" },
	{ "1.2.840.113549.1.9.14", "extensionRequest" },
	{ "1.2.840.113549.1.9.15", "smimeCapabilities" },
	{ "1.2.840.113549.1.9.20", "friendlyName" },
};

#define DN_ERROR	"<X509Error: Invalid X.509 name>"

/* A bounded output: what does not fit is cut at a character boundary. */
struct out {
	char	*p;
	size_t	 len, cap;
	bool	 full;
};

static void
out_bytes(struct out *o, const void *p, size_t n)
{
	if (o->full)
		return;
	if (n >= o->cap - o->len) {
		/* what fits; utf8_trim ends it on a character */
		n = o->cap - o->len - 1;
		o->full = true;
	}
	memcpy(o->p + o->len, p, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void
out_str(struct out *o, const char *s)
{
	out_bytes(o, s, strlen(s));
}

static void
out_hex_upper(struct out *o, const uint8_t *p, size_t n)
{
	static const char hx[] = "0123456789ABCDEF";
	char two[2];
	size_t i;

	for (i = 0; i < n; i++) {
		two[0] = hx[p[i] >> 4];
		two[1] = hx[p[i] & 15];
		out_bytes(o, two, 2);
	}
}

static bool
utf8_valid(const uint8_t *p, size_t n)
{
	char *tmp;
	bool ok;

	if ((tmp = malloc(n * 3 + 1)) == NULL)
		return false;
	ok = iw_utf8_sanitize(p, n, tmp, n * 3 + 1) == n &&
	    memcmp(tmp, p, n) == 0;
	free(tmp);
	return ok;
}

/* UTF-16BE to UTF-8 as Rust's String::from_utf16: false if malformed. */
static bool
out_bmp(struct out *o, const uint8_t *p, size_t n)
{
	unsigned char u[4];
	uint32_t c, lo;
	size_t i;

	if (n % 2 != 0)
		return false;
	for (i = 0; i < n; i += 2) {
		c = (uint32_t)p[i] << 8 | p[i + 1];
		if (c >= 0xdc00 && c <= 0xdfff)
			return false;
		if (c >= 0xd800 && c <= 0xdbff) {
			if (i + 3 >= n)
				return false;
			lo = (uint32_t)p[i + 2] << 8 | p[i + 3];
			if (lo < 0xdc00 || lo > 0xdfff)
				return false;
			c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
			i += 2;
		}
		if (c < 0x80) {
			u[0] = (unsigned char)c;
			out_bytes(o, u, 1);
		} else if (c < 0x800) {
			u[0] = (unsigned char)(0xc0 | c >> 6);
			u[1] = (unsigned char)(0x80 | (c & 0x3f));
			out_bytes(o, u, 2);
		} else if (c < 0x10000) {
			u[0] = (unsigned char)(0xe0 | c >> 12);
			u[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
			u[2] = (unsigned char)(0x80 | (c & 0x3f));
			out_bytes(o, u, 3);
		} else {
			u[0] = (unsigned char)(0xf0 | c >> 18);
			u[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
			u[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
			u[3] = (unsigned char)(0x80 | (c & 0x3f));
			out_bytes(o, u, 4);
		}
	}
	return true;
}

/* The content octets of a value OpenSSL kept whole (tag and length). */
static void
out_other(struct out *o, const ASN1_STRING *s)
{
	const unsigned char *p = ASN1_STRING_get0_data(s), *start = p;
	long len = 0;
	int tag, cls, n = ASN1_STRING_length(s);

	if ((ASN1_get_object(&p, &len, &tag, &cls, n) & 0x80) != 0 ||
	    len < 0 || len > n - (p - start)) {
		out_hex_upper(o, start, (size_t)n);
		return;
	}
	out_hex_upper(o, p, (size_t)len);
}

static bool
dn_value(struct out *o, const ASN1_STRING *s)
{
	const uint8_t *p = ASN1_STRING_get0_data(s);
	size_t n = (size_t)ASN1_STRING_length(s);

	switch (ASN1_STRING_type(s)) {
	case V_ASN1_NUMERICSTRING: case V_ASN1_VISIBLESTRING:
	case V_ASN1_PRINTABLESTRING: case V_ASN1_GENERALSTRING:
	case V_ASN1_OBJECT_DESCRIPTOR: case V_ASN1_GRAPHICSTRING:
	case V_ASN1_T61STRING: case V_ASN1_VIDEOTEXSTRING:
	case V_ASN1_UTF8STRING: case V_ASN1_IA5STRING:
		if (!utf8_valid(p, n))
			return false;
		out_bytes(o, p, n);
		return true;
	case V_ASN1_BMPSTRING:
		return out_bmp(o, p, n);
	case V_ASN1_OTHER: case V_ASN1_SEQUENCE: case V_ASN1_SET:
		out_other(o, s);
		return true;
	default:
		out_hex_upper(o, p, n);
		return true;
	}
}

/* n, or less so that a name cut at the bound ends on a character. */
static size_t
utf8_trim(const char *p, size_t n)
{
	size_t i = n, need;
	unsigned char lead;

	while (i > 0 && n - i < 3 && ((unsigned char)p[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0 || (lead = (unsigned char)p[i - 1]) < 0x80)
		return n;
	need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
	return n - (i - 1) >= need ? n : i - 1;
}

static void
dn_attr_name(struct out *o, const ASN1_OBJECT *obj)
{
	char oid[128];
	size_t i;

	if (OBJ_obj2txt(oid, sizeof(oid), obj, 1) <= 0)
		oid[0] = '\0';
	for (i = 0; i < sizeof(dn_attrs) / sizeof(dn_attrs[0]); i++)
		if (strcmp(dn_attrs[i].oid, oid) == 0) {
			out_str(o, dn_attrs[i].name);
			return;
		}
	out_str(o, "OID(");
	out_str(o, oid);
	out_str(o, ")");
}

size_t
iw_x509_name(const X509_NAME *name, char *buf, size_t len)
{
	struct out o = { buf, 0, len, false };
	const X509_NAME_ENTRY *e;
	int i, n, set = -1;

	if (len == 0)
		return 0;
	buf[0] = '\0';
	n = name != NULL ? X509_NAME_entry_count(name) : 0;
	for (i = 0; i < n; i++) {
		e = X509_NAME_get_entry(name, i);
		if (i > 0)
			out_str(&o, X509_NAME_ENTRY_set(e) == set ? " + " :
			    ", ");
		set = X509_NAME_ENTRY_set(e);
		dn_attr_name(&o, X509_NAME_ENTRY_get_object(e));
		out_str(&o, "=");
		if (!dn_value(&o, X509_NAME_ENTRY_get_data(e))) {
			o.len = 0;
			o.full = false;
			out_str(&o, DN_ERROR);
			break;
		}
	}
	o.len = utf8_trim(buf, o.len);
	buf[o.len] = '\0';
	return o.len;
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

/*
 * The serial as Suricata writes it: the DER INTEGER's content octets
 * (a leading 00 of a positive number with its top bit set included) in
 * upper-case hex joined by ':'.
 */
static void
add_serial(struct json_object *o, X509 *x)
{
	static const char hx[] = "0123456789ABCDEF";
	const ASN1_INTEGER *ai = X509_get0_serialNumber(x);
	unsigned char *der = NULL;
	const unsigned char *p;
	char s[3 * SERIAL_MAX + 1];
	long clen = 0;
	int tag, cls, n, i;

	if (ai == NULL || (n = i2d_ASN1_INTEGER(ai, &der)) <= 0)
		return;
	p = der;
	if ((ASN1_get_object(&p, &clen, &tag, &cls, n) & 0x80) == 0 &&
	    clen > 0) {
		if (clen > SERIAL_MAX)
			clen = SERIAL_MAX;
		for (i = 0; i < clen; i++) {
			s[3 * i] = hx[p[i] >> 4];
			s[3 * i + 1] = hx[p[i] & 15];
			s[3 * i + 2] = ':';
		}
		s[3 * clen - 1] = '\0';
		add_str(o, "serial", s);
	}
	OPENSSL_free(der);
}

/*
 * "2028-11-28T02:19:48": UTC without a zone, as Suricata writes
 * certificate dates; like Suricata, none for the epoch itself (its
 * "not set").
 */
static void
add_date(struct json_object *o, const char *k, const ASN1_TIME *t)
{
	char buf[IW_TSLEN];
	int64_t e;
	size_t n;

	if (!iw_asn1_time_epoch(t, &e) || e == 0)
		return;
	iw_format_date(e, buf);
	n = strlen(buf);
	if (n > 0 && buf[n - 1] == 'Z')
		buf[n - 1] = '\0';
	add_str(o, k, buf);
}

/*
 * One GENERAL_NAME as Suricata writes it (x509-parser 0.16): DNS names
 * and URIs bare, an IP address as Rust prints a byte slice
 * ("[10, 77, 0, 1]"), the other kinds as x509-parser's Display
 * ("RFC822Name(a@b)", "DirectoryName(CN=x)", "OtherName(oid, [...])").
 */
static size_t
san_text(const GENERAL_NAME *gn, char *buf, size_t len)
{
	struct out o = { buf, 0, len, false };
	const ASN1_STRING *s = NULL;
	const char *wrap = NULL;
	char oid[128], num[8];
	int i, n;

	buf[0] = '\0';
	switch (gn->type) {
	case GEN_DNS:	s = gn->d.dNSName; break;
	case GEN_URI:	s = gn->d.uniformResourceIdentifier; break;
	case GEN_EMAIL:	s = gn->d.rfc822Name; wrap = "RFC822Name("; break;
	case GEN_IPADD:
		s = gn->d.iPAddress;
		out_str(&o, "[");
		n = ASN1_STRING_length(s);
		for (i = 0; i < n; i++) {
			snprintf(num, sizeof(num), "%s%u", i ? ", " : "",
			    ASN1_STRING_get0_data(s)[i]);
			out_str(&o, num);
		}
		out_str(&o, "]");
		return o.len;
	case GEN_DIRNAME:
		out_str(&o, "DirectoryName(");
		o.len += iw_x509_name(gn->d.directoryName, buf + o.len,
		    len - o.len - 1);
		out_str(&o, ")");
		return o.len;
	case GEN_OTHERNAME:
		OBJ_obj2txt(oid, sizeof(oid), gn->d.otherName->type_id, 1);
		out_str(&o, "OtherName(");
		out_str(&o, oid);
		out_str(&o, ", [...])");
		return o.len;
	case GEN_RID:
		OBJ_obj2txt(oid, sizeof(oid), gn->d.registeredID, 1);
		out_str(&o, "RegisteredID(");
		out_str(&o, oid);
		out_str(&o, ")");
		return o.len;
	case GEN_X400:
		out_str(&o, "X400Address(<unparsed>)");
		return o.len;
	case GEN_EDIPARTY:
		out_str(&o, "EDIPartyName(<unparsed>)");
		return o.len;
	default:
		return 0;
	}
	if (wrap != NULL)
		out_str(&o, wrap);
	out_bytes(&o, ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
	if (wrap != NULL)
		out_str(&o, ")");
	return utf8_trim(buf, o.len);
}

static void
add_sans(struct json_object *o, X509 *x)
{
	GENERAL_NAMES *gens;
	struct json_object *arr;
	char buf[SAN_TEXT_MAX];
	int i, n;
	size_t len;

	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	if (gens == NULL)
		return;
	arr = json_object_new_array();
	n = sk_GENERAL_NAME_num(gens);
	for (i = 0; i < n; i++) {
		if (i == SAN_MAX) {
			json_object_object_add(o, "subjectaltname_truncated",
			    json_object_new_int(n));
			break;
		}
		len = san_text(sk_GENERAL_NAME_value(gens, i), buf,
		    sizeof(buf));
		json_object_array_add(arr, iw_json_bytes(buf, len));
	}
	GENERAL_NAMES_free(gens);
	/* Suricata writes no list for a certificate without names */
	if (json_object_array_length(arr) > 0)
		json_object_object_add(o, "subjectaltname", arr);
	else
		json_object_put(arr);
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
	size_t n;

	n = iw_x509_name(X509_get_subject_name(x), name, sizeof(name));
	json_object_object_add(o, "subject", iw_json_bytes(name, n));
	n = iw_x509_name(X509_get_issuer_name(x), name, sizeof(name));
	json_object_object_add(o, "issuerdn", iw_json_bytes(name, n));
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

/* Standard base64 with padding, no line breaks (Suricata's tls.chain). */
struct json_object *
iw_x509_base64(const uint8_t *der, size_t len)
{
	struct json_object *j;
	unsigned char *b;
	int n;

	if (len > 1024 * 1024 || (b = malloc(4 * ((len + 2) / 3) + 1)) == NULL)
		return NULL;
	n = EVP_EncodeBlock(b, der, (int)len);
	j = json_object_new_string_len((const char *)b, n);
	free(b);
	return j;
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
