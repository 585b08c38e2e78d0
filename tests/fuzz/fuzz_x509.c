/* SPDX-License-Identifier: ISC */
/*
 * fuzz_x509.c - a certificate's DER straight into dissectors/x509.c: parse,
 * the EVE fields (names, serial, dates, SANs, key, digests), the name rule
 * against DNS names, wildcards and IP addresses, validity, weak key and
 * signature, self-signed, the key digest, and chain validation against
 * the project's test CA (tests/captures/certs/ca.pem); each DER is parsed
 * twice, the second time from x509.c's cache.
 *
 * Input: the DER bytes, nothing else.
 */
#include <json.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "config.h"
#include "x509.h"

#ifndef FZ_SRCDIR
#define FZ_SRCDIR "."
#endif

static const char *const names[] = {
	"imap.example.test", "a.example.test", "example.test",
	"a.b.example.test", "*.example.test", "xn--bcher-kva.example",
	"192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1", "localhost", ".",
	"a..b", "*", "imap.gmx.net",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t whens[] = { 0, -86400LL * 365 * 100,
	    1764382822LL, 253402300799LL };
	struct json_object *j;
	STACK_OF(X509) *chain;
	const char *type;
	uint8_t dig[32];
	char buf[64], why[128];
	uint8_t *copy;
	X509 *x, *x2;
	size_t i;
	int bits;

	fz_setup();
	if (iw_cfg.ca_file == NULL) {
		iw_cfg.ca_file = getenv("FZ_CA_FILE") ? getenv("FZ_CA_FILE") :
		    FZ_SRCDIR "/tests/captures/certs/ca.pem";
		if (iw_x509_load_ca(why, sizeof(why)) != 0)
			fprintf(stderr, "fuzz_x509: %s (verify not fuzzed)\n",
			    why);
	}
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	x = iw_x509_parse(copy, size);
	free(copy);		/* the X509 must not point into the input */
	if (x == NULL)
		return 0;
	/* the same DER again, from another buffer: x509.c's cache of
	 * recently parsed certificates answers, with its own copy */
	copy = malloc(size);
	if (copy != NULL) {
		memcpy(copy, data, size);
		x2 = iw_x509_parse(copy, size);
		free(copy);
		if (x2 == NULL) {
			fprintf(stderr, "fuzz_x509: parsed once, not twice\n");
			abort();
		}
		X509_free(x2);
	}
	j = iw_x509_json(x);
	(void)json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
	json_object_put(j);
	iw_x509_name(X509_get_subject_name(x), buf, sizeof(buf));
	iw_x509_name(X509_get_issuer_name(x), buf, 2);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		(void)iw_x509_check_name(x, names[i]);
	for (i = 0; i < sizeof(whens) / sizeof(whens[0]); i++)
		(void)iw_x509_validity(x, whens[i]);
	(void)iw_x509_key(x, &type, &bits);
	(void)iw_x509_weak_key(x);
	(void)iw_x509_weak_signature(x);
	(void)iw_x509_self_signed(x);
	(void)iw_x509_key_digest(x, dig);
	chain = sk_X509_new_null();
	if (chain != NULL && X509_up_ref(x) == 1 && !sk_X509_push(chain, x))
		X509_free(x);
	(void)iw_x509_verify(x, chain, 1764382822LL, why, sizeof(why));
	sk_X509_pop_free(chain, X509_free);
	X509_free(x);
	return 0;
}
