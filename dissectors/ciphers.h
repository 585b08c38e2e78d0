/* SPDX-License-Identifier: ISC */
/*
 * ciphers.h - the IANA TLS cipher suite registry (generated at build time
 * from dissectors/tls-parameters-4.csv), SSLv2 cipher kinds, protocol
 * version names, and the policy that says which suites and versions are
 * weak (--policy FILE).
 *
 * Policy file format, one rule a line, '#' starts a comment, case does not
 * matter:
 *
 *	weak-cipher CLASS|0xNNNN|NAME	flag a class or one suite
 *	ok-cipher   CLASS|0xNNNN|NAME	do not flag it
 *	weak-version VERSION		flag a protocol version
 *	ok-version   VERSION
 *	reset				start from nothing flagged
 *
 * CLASS is one of NULL, anon, EXPORT, RC4, DES, 3DES, RC2, IDEA, MD5 (or
 * MD5-MAC), RSA-KX (static RSA key exchange), CBC; NAME an IANA name
 * (TLS_RSA_WITH_3DES_EDE_CBC_SHA); VERSION SSLv2, SSLv3, TLS1.0, TLS1.1,
 * TLS1.2, TLS1.3 (also written "SSL 3.0", "TLSv1.2", 0x0303).  A rule on
 * one suite beats a rule on its class; among rules on the same thing the
 * last wins.  The defaults flag NULL anon EXPORT RC4 DES 3DES RC2 IDEA MD5
 * and SSLv2 SSLv3 TLS1.0 TLS1.1; a file changes them from there (or from
 * nothing after `reset`).
 */
#ifndef IW_CIPHERS_H
#define IW_CIPHERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Classes of a suite, from its registry name. */
#define IW_CS_NULL	0x0001u	/* no encryption */
#define IW_CS_ANON	0x0002u	/* no authentication */
#define IW_CS_EXPORT	0x0004u
#define IW_CS_RC4	0x0008u
#define IW_CS_DES	0x0010u	/* single DES, DES40 */
#define IW_CS_3DES	0x0020u
#define IW_CS_RC2	0x0040u
#define IW_CS_IDEA	0x0080u
#define IW_CS_MD5	0x0100u	/* HMAC-MD5 record MAC */
#define IW_CS_RSA_KX	0x0200u	/* static RSA key exchange: no forward
				 * secrecy */
#define IW_CS_CBC	0x0400u
#define IW_CS_AEAD	0x0800u
#define IW_CS_SCSV	0x1000u	/* a signal, not a suite */
#define IW_CS_GREASE	0x2000u	/* RFC 8701 reserved value */
#define IW_CS_TLS13	0x4000u	/* a TLS 1.3 suite */

/* The classes the default policy flags. */
#define IW_CS_WEAK_DEFAULT (IW_CS_NULL | IW_CS_ANON | IW_CS_EXPORT | \
	IW_CS_RC4 | IW_CS_DES | IW_CS_3DES | IW_CS_RC2 | IW_CS_IDEA | \
	IW_CS_MD5)

struct iw_cipher_suite {
	uint16_t	 id;
	const char	*name;		/* as IANA (and tshark) write it */
	uint32_t	 flags;		/* IW_CS_* */
	uint8_t		 mac_len;	/* NULL suites (TLS <= 1.2): MAC bytes
					 * at the end of each record */
};

/* The registry entry for a suite, or NULL if unassigned. */
const struct iw_cipher_suite *iw_cipher_lookup(uint16_t id);

/* Number of entries in the generated table (for tests). */
size_t iw_cipher_count(void);

/* RFC 8701 GREASE value (0x0a0a, 0x1a1a, ... 0xfafa)? */
bool iw_grease(uint16_t v);

/* The name of a class bit ("RC4"), or NULL. */
const char *iw_cipher_class_name(uint32_t flag);

/* SSLv2 cipher kinds (3 bytes): tshark's name and classes. */
const char *iw_sslv2_cipher_name(uint32_t kind);
uint32_t iw_sslv2_cipher_flags(uint32_t kind);

/*
 * A protocol version as tshark names it: "SSL 2.0" (0x0002), "SSL 3.0",
 * "TLS 1.0" ... "TLS 1.3", "TLS 1.3 (draft 19)"; NULL if unknown.
 */
const char *iw_tls_version_name(uint16_t v, char *buf, size_t len);

/* TLS 1.3 drafts and vendor variants count as TLS 1.3 (0x0304). */
uint16_t iw_tls_version_canon(uint16_t v);

/* ---- policy ---- */

/* Back to the defaults (tests). */
void iw_policy_defaults(void);

/* Read a policy file; 0, or -1 with a message (file:line: why). */
int iw_policy_load(const char *path, char *err, size_t errlen);

/* The same for text already in memory; origin names it in messages. */
int iw_policy_parse(const char *text, const char *origin, char *err,
    size_t errlen);

/* The policy's verdict: the weak classes of a suite (0: not weak; a suite
 * flagged on its own yields IW_CS_WEAK_SUITE). */
#define IW_CS_WEAK_SUITE 0x80000000u
uint32_t iw_policy_cipher_weak(uint16_t id);
uint32_t iw_policy_sslv2_cipher_weak(uint32_t kind);
bool iw_policy_version_weak(uint16_t version);

#endif /* IW_CIPHERS_H */
