/* SPDX-License-Identifier: ISC */
/*
 * fingerprint.h - JA3 / JA3S (Salesforce, BSD-3) and JA4 (FoxIO, BSD-3) of
 * TLS hellos.  JA4S and JA4X are under the FoxIO licence and left out.
 *
 * The hello's vectors are given as readers over the message bytes (views,
 * no copies), so the same parse feeds the dissector and the fingerprints.
 * GREASE values (RFC 8701) are left out everywhere, as the specs say.
 */
#ifndef IW_FINGERPRINT_H
#define IW_FINGERPRINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reader.h"

struct iw_client_hello_fp {
	uint16_t	 version;	/* legacy_version */
	struct iw_rd	 suites;	/* cipher_suites: 2-byte values */
	struct iw_rd	 exts;		/* the extensions block: type, len, body */
	struct iw_rd	 groups;	/* supported_groups: 2-byte values */
	struct iw_rd	 formats;	/* ec_point_formats: 1-byte values */
	struct iw_rd	 sigalgs;	/* signature_algorithms: 2-byte */
	struct iw_rd	 versions;	/* supported_versions: 2-byte */
	bool		 has_sni;
	const uint8_t	*alpn;		/* first ALPN protocol, or NULL */
	size_t		 alpn_len;
};

/* "771,49195-49199,0-23-65281,29-23-24,0"; malloc'ed, NULL if no memory. */
char *iw_ja3_string(const struct iw_client_hello_fp *);

/* "771,49199,65281-0-11"; exts is the ServerHello's extensions block. */
char *iw_ja3s_string(uint16_t version, uint16_t cipher, struct iw_rd exts);

/* Lower-case hex MD5 of a string (JA3's hash). */
void iw_md5_hex(const char *s, size_t len, char out[33]);

/* "t13d1516h2_8daaf6152771_e5627efa2ab1" (TLS over TCP). */
#define IW_JA4_LEN 40
bool iw_ja4(const struct iw_client_hello_fp *, char out[IW_JA4_LEN]);

#endif /* IW_FINGERPRINT_H */
