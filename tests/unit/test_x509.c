/* SPDX-License-Identifier: ISC */
/*
 * test_x509.c - certificates built here with the OpenSSL API, checked
 * against the seed's name rules one by one (DESIGN.md), validity (also
 * before 1970), key size, signature hash, self-signed, chain validation as
 * of a given time, and the fields reported.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "event.h"
#include "harness.h"
#include "x509.h"

static EVP_PKEY *ec_key;

struct spec {
	const char	*cn;		/* NULL: no CN */
	const char	*san;		/* "DNS:a,IP:1.2.3.4" or NULL */
	const char	*not_before;	/* "YYYYMMDDHHMMSSZ" */
	const char	*not_after;
	EVP_PKEY	*key;		/* NULL: the EC P-256 key */
	const EVP_MD	*md;		/* NULL: SHA-256 */
	X509		*issuer;	/* NULL: self-signed */
	EVP_PKEY	*issuer_key;
	bool		 ca;
};

static void
set_time(ASN1_TIME *t, const char *s)
{
	if (ASN1_TIME_set_string_X509(t, s) != 1)
		fprintf(stderr, "bad time %s\n", s);
}

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
}

static X509 *
make_cert(const struct spec *sp)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	EVP_PKEY *key = sp->key ? sp->key : ec_key;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1234);
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
	    (const unsigned char *)"IMAP Lab", -1, -1, 0);
	if (sp->cn != NULL)
		X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
		    (const unsigned char *)sp->cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, sp->issuer ? X509_get_subject_name(
	    sp->issuer) : n);
	X509_NAME_free(n);
	set_time(X509_getm_notBefore(x), sp->not_before ? sp->not_before :
	    "20200101000000Z");
	set_time(X509_getm_notAfter(x), sp->not_after ? sp->not_after :
	    "20400101000000Z");
	X509_set_pubkey(x, key);
	if (sp->san != NULL)
		add_ext(x, sp->issuer, NID_subject_alt_name, sp->san);
	if (sp->ca)
		add_ext(x, sp->issuer, NID_basic_constraints,
		    "critical,CA:TRUE");
	X509_sign(x, sp->issuer_key ? sp->issuer_key : key,
	    sp->md ? sp->md : EVP_sha256());
	return x;
}

/* Round trip through DER, as the dissector sees certificates. */
static X509 *
via_der(X509 *x)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	X509 *y = iw_x509_parse(der, (size_t)n);

	OPENSSL_free(der);
	X509_free(x);
	return y;
}

static void
name_case(const struct spec *sp, const char *name, int want,
    const char *rule)
{
	X509 *x = via_der(make_cert(sp));

	CHECK(x && iw_x509_check_name(x, name) == want,
	    "name rule: %s: '%s' %s", rule, name, want ? "matches" :
	    "does not match");
	X509_free(x);
}

static void
test_name_rules(void)
{
	struct spec san = { .cn = "cn.example.com",
	    .san = "DNS:a.example.com" };
	struct spec cn_only = { .cn = "imap.example.com" };
	struct spec wild = { .cn = "x", .san = "DNS:*.example.com" };
	struct spec partial = { .cn = "x", .san = "DNS:f*.example.com" };
	struct spec several = { .cn = "x",
	    .san = "DNS:mail.example.org,DNS:imap.example.net" };
	struct spec ip = { .cn = "x", .san = "IP:192.0.2.10,IP:2001:db8::1" };

	name_case(&san, "a.example.com", 1, "SAN dNSName used");
	name_case(&san, "cn.example.com", 0, "SAN present: CN ignored");
	name_case(&cn_only, "imap.example.com", 1, "no SAN: the CN");
	name_case(&cn_only, "IMAP.Example.COM", 1, "case-insensitive");
	name_case(&cn_only, "other.example.com", 0, "different name");
	name_case(&wild, "a.example.com", 1, "*.example.com, one label");
	name_case(&wild, "A.EXAMPLE.com", 1, "wildcard, case-insensitive");
	name_case(&wild, "example.com", 0, "* is not the empty label");
	name_case(&wild, "a.b.example.com", 0, "* is one label only");
	name_case(&partial, "foo.example.com", 0, "f*.example.com no match");
	name_case(&partial, "f.example.com", 0, "partial wildcard refused");
	name_case(&several, "imap.example.net", 1, "any of several names");
	name_case(&several, "mail.example.org", 1, "the first of several");
	name_case(&several, "example.net", 0, "none of several");
	name_case(&ip, "192.0.2.10", 1, "IP address in SAN iPAddress");
	name_case(&ip, "2001:db8::1", 1, "IPv6 address in SAN iPAddress");
	name_case(&ip, "192.0.2.11", 0, "another IP address");
}

static void
test_validity(void)
{
	struct spec old = { .cn = "o", .not_before = "19691231000000Z",
	    .not_after = "19700102000000Z" };
	X509 *x = via_der(make_cert(&old));
	struct json_object *j;
	int64_t e = 0;

	CHECK(x != NULL, "pre-1970 certificate parses");
	CHECK(iw_asn1_time_epoch(X509_get0_notBefore(x), &e) && e == -86400,
	    "notBefore 1969-12-31 is -86400 s (%lld)", (long long)e);
	j = iw_x509_json(x);
	/* Suricata's rust/src/x509/time.rs: no zone, before 1970 too */
	CHECK(strcmp(th_str(j, "notbefore"), "1969-12-31T00:00:00") == 0 &&
	    strcmp(th_str(j, "notafter"), "1970-01-02T00:00:00") == 0,
	    "dates as Suricata writes them, before 1970 too");
	json_object_put(j);
	CHECK(iw_x509_validity(x, -86401) == -1, "not yet valid before");
	CHECK(iw_x509_validity(x, 0) == 0, "valid within");
	CHECK(iw_x509_validity(x, 86401) == 1, "expired after");
	X509_free(x);
}

static void
test_key_sig(void)
{
	EVP_PKEY *rsa1024 = EVP_RSA_gen(1024), *rsa2048 = EVP_RSA_gen(2048);
	EVP_PKEY *p192 = EVP_EC_gen("prime192v1");
	struct spec s1 = { .cn = "r", .key = rsa1024 };
	struct spec s2 = { .cn = "r", .key = rsa2048, .md = EVP_sha1() };
	struct spec s3 = { .cn = "e", .key = p192 };
	struct spec s4 = { .cn = "e" };
	X509 *a = via_der(make_cert(&s1)), *b = via_der(make_cert(&s2));
	X509 *c = via_der(make_cert(&s3)), *d = via_der(make_cert(&s4));
	const char *type;
	int bits;

	CHECK(iw_x509_weak_key(a) && iw_x509_key(a, &type, &bits) &&
	    strcmp(type, "RSA") == 0 && bits == 1024, "RSA 1024 is weak");
	CHECK(!iw_x509_weak_key(b), "RSA 2048 is not weak");
	CHECK(iw_x509_weak_key(c), "EC 192 is weak (< 224)");
	CHECK(!iw_x509_weak_key(d) && iw_x509_key(d, &type, &bits) &&
	    strcmp(type, "EC") == 0 && bits == 256, "EC P-256 is not weak");
	CHECK(iw_x509_weak_signature(b), "SHA-1 signature is weak");
	CHECK(!iw_x509_weak_signature(a), "SHA-256 signature is fine");
	X509_free(a);
	X509_free(b);
	X509_free(c);
	X509_free(d);
	EVP_PKEY_free(rsa1024);
	EVP_PKEY_free(rsa2048);
	EVP_PKEY_free(p192);
}

static void
test_chain(void)
{
	EVP_PKEY *ca_key = EVP_EC_gen("P-256");
	struct spec ca_spec = { .cn = "Test CA", .key = ca_key, .ca = true };
	X509 *ca = make_cert(&ca_spec);
	struct spec leaf_spec = { .cn = "imap.example.com", .issuer = ca,
	    .issuer_key = ca_key, .not_before = "20200101000000Z",
	    .not_after = "20300101000000Z" };
	X509 *leaf = via_der(make_cert(&leaf_spec)), *self;
	struct spec self_spec = { .cn = "self" };
	char path[] = "/tmp/iw-ca-XXXXXX", why[128];
	int fd = mkstemp(path);
	FILE *fp = fdopen(fd, "w");

	PEM_write_X509(fp, ca);
	fclose(fp);
	self = via_der(make_cert(&self_spec));
	CHECK(!iw_x509_self_signed(leaf), "a CA-signed leaf is not self-signed");
	CHECK(iw_x509_self_signed(self), "a self-signed certificate is");
	CHECK(iw_x509_verify(leaf, NULL, 1700000000, why, sizeof(why)) == -1,
	    "no --ca-file: no verdict");
	iw_cfg.ca_file = path;
	iw_x509_reset_store();
	CHECK(iw_x509_verify(leaf, NULL, 1700000000, why, sizeof(why)) == 1,
	    "leaf chains to the CA bundle in 2023");
	CHECK(iw_x509_verify(leaf, NULL, 1950000000, why, sizeof(why)) == 0,
	    "as of 2031 the leaf has expired: not trusted (%s)", why);
	CHECK(iw_x509_verify(self, NULL, 1700000000, why, sizeof(why)) == 0,
	    "a self-signed leaf is untrusted (%s)", why);
	iw_cfg.ca_file = NULL;
	iw_x509_reset_store();
	unlink(path);
	X509_free(ca);
	X509_free(leaf);
	X509_free(self);
	EVP_PKEY_free(ca_key);
}

static void
test_fields(void)
{
	struct spec sp = { .cn = "imap.example.com",
	    .san = "DNS:imap.example.com,IP:192.0.2.1,email:a@example.com" };
	X509 *x = via_der(make_cert(&sp));
	struct json_object *j = iw_x509_json(x), *san;
	const char *fp = th_str(j, "fingerprint");

	/* built O then CN: Suricata writes certificate order, ", " */
	CHECK(strcmp(th_str(j, "subject"), "O=IMAP Lab, CN=imap.example.com")
	    == 0, "subject in certificate order (%s)", th_str(j, "subject"));
	CHECK(strcmp(th_str(j, "serial"), "12:34") == 0, "serial as EVE");
	san = th_get(j, "subjectaltname");
	/* x509-parser: DNS bare, IP as a Rust byte slice, email wrapped */
	CHECK(san && json_object_array_length(san) == 3 &&
	    strcmp(json_object_get_string(json_object_array_get_idx(san, 0)),
	    "imap.example.com") == 0 &&
	    strcmp(json_object_get_string(json_object_array_get_idx(san, 1)),
	    "[192, 0, 2, 1]") == 0 &&
	    strcmp(json_object_get_string(json_object_array_get_idx(san, 2)),
	    "RFC822Name(a@example.com)") == 0, "SANs: DNS, IP, email");
	CHECK(fp && strlen(fp) == 59 && fp[2] == ':',
	    "SHA-1 fingerprint in colon hex");
	CHECK(strlen(th_str(j, "fingerprint_sha256")) == 95,
	    "SHA-256 fingerprint");
	CHECK(strcmp(th_str(j, "signature_algorithm"), "ecdsa-with-SHA256")
	    == 0, "signature algorithm name");
	json_object_put(j);
	X509_free(x);
	CHECK(iw_x509_parse((const uint8_t *)"\x30\x03\x02\x01", 4) == NULL,
	    "truncated DER does not parse");
}

/* A name's text as iw_x509_name writes it. */
static const char *
name_text(X509_NAME *n, char *buf, size_t len)
{
	size_t k = iw_x509_name(n, buf, len);

	return k == strlen(buf) ? buf : "(embedded NUL)";
}

static void
add_entry(X509_NAME *n, const char *field, int type, const void *v,
    int len, int set)
{
	X509_NAME_add_entry_by_txt(n, field, type, v, len, -1, set);
}

/*
 * Names as x509-parser 0.16 renders them (x509name_to_string,
 * attribute_value_to_string, objects.rs's abbreviations, oid-registry
 * 0.7's short names, asn1-rs's "OID(...)" Debug form).
 */
static void
test_dn_forms(void)
{
	static const unsigned char bmp[] = { 0x00, 'M', 0x00, 0xfc, 0x00,
	    'n' };
	static const unsigned char latin1[] = { 'M', 0xfc, 'n' };
	X509_NAME *n;
	char buf[256];

	n = X509_NAME_new();
	add_entry(n, "C", MBSTRING_ASC, "DE", -1, 0);
	add_entry(n, "O", MBSTRING_ASC, "A, B", -1, 0);
	add_entry(n, "OU", MBSTRING_ASC, "x", -1, 0);
	add_entry(n, "CN", MBSTRING_ASC, "y", -1, -1);	/* same RDN */
	add_entry(n, "emailAddress", MBSTRING_ASC, "a@b", -1, 0);
	add_entry(n, "businessCategory", MBSTRING_ASC, "Private", -1, 0);
	add_entry(n, "jurisdictionC", MBSTRING_ASC, "US", -1, 0);
	add_entry(n, "2.5.4.97", MBSTRING_ASC, "VATDE-1", -1, 0);
	CHECK(strcmp(name_text(n, buf, sizeof(buf)), "C=DE, O=A, B, OU=x + "
	    "CN=y, Email=a@b, businessCategory=Private, "
	    "msJurisdictionCountry=US, OID(2.5.4.97)=VATDE-1") == 0,
	    "DN: order, multi-valued RDN, names, no escaping (%s)", buf);
	X509_NAME_free(n);

	n = X509_NAME_new();
	add_entry(n, "CN", V_ASN1_BMPSTRING, bmp, sizeof(bmp), 0);
	add_entry(n, "serialNumber", V_ASN1_UNIVERSALSTRING,
	    "\0\0\0A", 4, 0);
	CHECK(strcmp(name_text(n, buf, sizeof(buf)), "CN=M\xc3\xbcn, "
	    "serialNumber=00000041") == 0,
	    "DN: BMPString decoded, UniversalString in hex (%s)", buf);
	X509_NAME_free(n);

	n = X509_NAME_new();
	add_entry(n, "O", MBSTRING_ASC, "ok", -1, 0);
	add_entry(n, "CN", V_ASN1_T61STRING, latin1, sizeof(latin1), 0);
	CHECK(strcmp(name_text(n, buf, sizeof(buf)),
	    "<X509Error: Invalid X.509 name>") == 0,
	    "DN: a string that is not UTF-8 gives x509-parser's error (%s)",
	    buf);
	X509_NAME_free(n);

	n = X509_NAME_new();
	add_entry(n, "CN", MBSTRING_UTF8, "\xc3\xa9\xc3\xa9\xc3\xa9", -1, 0);
	CHECK(iw_x509_name(n, buf, 7) == 5 && strcmp(buf, "CN=\xc3\xa9") == 0,
	    "DN cut at its bound on a character boundary (%s)", buf);
	X509_NAME_free(n);
}

/* The serial's DER content octets: a leading 00 stays (x509-parser's
 * raw_serial); the epoch as a date is not written (Suricata's "unset"). */
static void
test_serial_and_epoch(void)
{
	struct spec sp = { .cn = "s", .not_before = "19700101000000Z",
	    .not_after = "99991231235959Z" };
	X509 *x = make_cert(&sp), *y;
	struct json_object *j;

	ASN1_INTEGER_set(X509_get_serialNumber(x), 0x80ff);
	X509_sign(x, ec_key, EVP_sha256());
	y = via_der(x);
	j = iw_x509_json(y);
	CHECK(strcmp(th_str(j, "serial"), "00:80:FF") == 0,
	    "serial with its top bit set keeps the DER's 00 (%s)",
	    th_str(j, "serial"));
	CHECK(th_get(j, "notbefore") == NULL && th_get(j, "notafter") != NULL,
	    "a notBefore at the epoch is not written, as Suricata");
	/* RFC 5280's "no expiry": Suricata's time.rs writes it as is */
	CHECK(strcmp(th_str(j, "notafter"), "9999-12-31T23:59:59") == 0,
	    "9999-12-31 written as Suricata writes it (%s)",
	    th_str(j, "notafter"));
	json_object_put(j);
	X509_free(y);
}

int
main(void)
{
	th_init();
	ec_key = EVP_EC_gen("P-256");
	test_name_rules();
	test_validity();
	test_key_sig();
	test_chain();
	test_fields();
	test_dn_forms();
	test_serial_and_epoch();
	EVP_PKEY_free(ec_key);
	return th_done();
}
