/* SPDX-License-Identifier: ISC */
/*
 * fuzz_sasl.c - the SASL decoders of dissectors/imap_sasl.c through their
 * direct entry points: the identity taken from one client response for
 * each mechanism (PLAIN, LOGIN, CRAM-MD5, DIGEST-MD5, SCRAM, XOAUTH2,
 * OAUTHBEARER, NTLM ...), base64 decoding into buffers of every size, the
 * LOGIN prompts, mechanism names and the NTLM type 3 parser.
 *
 * Input:
 *   u8   mechanism (enum sasl_mech, modulo)
 *   u8   flags: bit 0 SASL-IR; bits 1-2 the last challenge (enum
 *        sasl_chal); bit 3 a response came before; bit 4 the rest is
 *        given as it is (base64 text) instead of being encoded here
 *   the response, decoded (encoded here, so mutations work on the
 *   structure), or base64 text with bit 4
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "imap_internal.h"

#define NMECHS (M_GS2_KRB5 + 1)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct imap_auth a;
	struct imap_sasl sx;
	uint8_t mech, flags, out[IMAP_USER_MAX], small[7];
	const uint8_t *p;
	uint8_t *b64 = NULL, *copy;
	size_t n, k;

	fz_setup();
	if (!fz_u8(&f, &mech) || !fz_u8(&f, &flags))
		return 0;
	n = f.n;
	p = fz_take(&f, &n);
	copy = malloc(n ? n : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, p, n);

	/* the helpers on the raw bytes */
	(void)imap_sasl_mech(copy, n);
	(void)imap_sasl_challenge(copy, n);
	(void)imap_sasl_ntlm_user(copy, n, out, sizeof(out));
	(void)imap_sasl_ntlm_user(copy, n, small, sizeof(small));
	(void)imap_b64_decode(copy, n, small, sizeof(small));
	(void)imap_b64_decode(copy, n, small, 0);

	memset(&a, 0, sizeof(a));
	memset(&sx, 0, sizeof(sx));
	a.mech = mech % NMECHS;
	sx.mech = a.mech;
	sx.active = true;
	sx.last_chal = (flags >> 1) & 3;
	sx.responses = (flags & 8) ? 1 : 0;
	if (flags & 0x10) {
		imap_sasl_response(&a, &sx, copy, n, flags & 1);
	} else {
		/* EVP_EncodeBlock: 4 bytes out per 3 in, plus a NUL */
		b64 = malloc(4 * ((n + 2) / 3) + 1);
		if (b64 != NULL) {
			k = (size_t)EVP_EncodeBlock(b64, copy, (int)n);
			imap_sasl_response(&a, &sx, b64, k, flags & 1);
			free(b64);
		}
	}
	if (a.userlen > IMAP_USER_MAX || a.authzlen > IMAP_USER_MAX)
		abort();
	free(copy);
	return 0;
}
