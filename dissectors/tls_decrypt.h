/* SPDX-License-Identifier: ISC */
/*
 * tls_decrypt.h - TLS 1.0-1.3 record decryption with secrets from a key
 * log (tls_keys.h), OpenSSL only: the TLS 1.0-1.2 PRF and key block by
 * EVP_KDF "TLS1-PRF", the TLS 1.3 key schedule by EVP_KDF "TLS13-KDF",
 * record protection by EVP ciphers and EVP_MAC "HMAC".
 *
 * Three layers, each usable alone:
 *
 *   suites	iw_tls_suite_info(): what a cipher suite needs (cipher, key
 *		and IV sizes, MAC, PRF hash), read from its IANA name in the
 *		generated registry (ciphers.h), so no suite table is typed in.
 *		AES-GCM, AES-CCM, AES-CCM_8, ChaCha20-Poly1305, ARIA-GCM, and
 *		AES or Camellia in CBC with HMAC-SHA1/256/384 (what OpenSSL
 *		3.0's default provider and libssl still do, so each is tested
 *		against libssl's own records); SSLv3, NULL, export, RC4,
 *		3DES and the rest are not supported.
 *
 *   records	struct iw_tls_rp: one direction's record protection, its
 *		keys and sequence number; iw_tls_rp_open() decrypts and
 *		authenticates one record, removing TLS 1.3's inner type and
 *		padding or CBC's padding and MAC.
 *
 *   sessions	struct iw_tlsd: follows a connection's records in capture
 *		order (hellos in the clear, ChangeCipherSpec, the TLS 1.3 key
 *		stages: early data, handshake, application, KeyUpdate), asks
 *		for the keys of its client random once the ServerHello says
 *		what to do with them, holds records while keys are missing
 *		(bounded), and hands decrypted content to a callback.
 *
 * A record that fails authentication stops its direction for good
 * (IW_TLSD_AUTH_FAILED): with wrong or stale keys nothing after it can be
 * trusted, and garbage must never reach a parser as plaintext.  So does a
 * TCP gap (sequence numbers and CBC chaining are lost).
 */
#ifndef IW_TLS_DECRYPT_H
#define IW_TLS_DECRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iw.h"
#include "tls_keys.h"

#define IW_TLS_PLAIN_MAX	16384		/* TLSPlaintext.fragment */
#define IW_TLS13_CIPHER_MAX	(16384 + 256)	/* TLSCiphertext, RFC 8446 */
#define IW_TLS12_CIPHER_MAX	(16384 + 2048)	/* RFC 5246 6.2.3 */

/* ---- suites ---- */

enum iw_tls_rp_mode {
	IW_RP_GCM = 1,		/* AES-GCM, ARIA-GCM */
	IW_RP_CCM,		/* AES-CCM (16 or 8 byte tag) */
	IW_RP_CHACHA,		/* ChaCha20-Poly1305 */
	IW_RP_CBC,		/* block cipher in CBC with HMAC */
};

struct iw_tls_suite {
	uint16_t		 id;
	bool			 tls13;		/* a TLS 1.3 suite */
	enum iw_tls_rp_mode	 mode;
	const char		*cipher;	/* OpenSSL name */
	uint8_t			 key_len;
	uint8_t			 block_len;	/* CBC */
	uint8_t			 tag_len;	/* AEAD */
	const char		*mac;		/* CBC: HMAC digest */
	uint8_t			 mac_len;
	const char		*prf;		/* TLS 1.2 PRF / TLS 1.3 HKDF */
};

/* false if the suite is unknown or not supported here. */
bool	iw_tls_suite_info(uint16_t id, struct iw_tls_suite *);

/* ---- key derivation ---- */

/*
 * The TLS PRF: digest "MD5-SHA1" for TLS 1.0 and 1.1, the suite's PRF hash
 * for TLS 1.2; seed = seed1 || seed2.  0, or -1.
 */
int	iw_tls_prf(const char *digest, const uint8_t *secret, size_t slen,
	    const char *label, const uint8_t *seed1, size_t s1len,
	    const uint8_t *seed2, size_t s2len, uint8_t *out, size_t outlen);

/* TLS 1.3 HKDF-Expand-Label(secret, label, context, outlen). */
int	iw_tls13_expand_label(const char *digest, const uint8_t *secret,
	    size_t slen, const char *label, const uint8_t *context,
	    size_t clen, uint8_t *out, size_t outlen);

/*
 * TLS 1.3 HKDF-Extract(salt = Derive-Secret(prev, "derived", ""), ikm);
 * prev NULL: the early secret's zero salt; ikm NULL: zeros.  Writes the
 * digest's size.
 */
int	iw_tls13_extract(const char *digest, const uint8_t *prev, size_t plen,
	    const uint8_t *ikm, size_t ilen, uint8_t *out, size_t outlen);

/* ---- one direction's record protection ---- */

enum iw_tls_rp_result {
	IW_RP_OK = 0,
	IW_RP_BAD_MAC = -1,	/* authentication failed (tag, MAC, padding) */
	IW_RP_MALFORMED = -2,	/* a length impossible for this cipher */
	IW_RP_ERROR = -3,	/* OpenSSL failed (memory) */
};

struct iw_tls_rp;

struct iw_tls_rp *iw_tls_rp_new(void);
void	iw_tls_rp_free(struct iw_tls_rp *);

/* TLS 1.3: keys from a traffic secret; sequence number 0.  0, or -1. */
int	iw_tls_rp_set13(struct iw_tls_rp *, const struct iw_tls_suite *,
	    const uint8_t *secret, size_t slen);

/* TLS 1.3 KeyUpdate: the next traffic secret's keys.  0, or -1. */
int	iw_tls_rp_update13(struct iw_tls_rp *);

/*
 * TLS 1.0-1.2 keys of both directions from the master secret: the key
 * block (RFC 5246 6.3), encrypt_then_mac (RFC 7366) for CBC suites when
 * the ServerHello echoed it.  0, or -1.
 */
int	iw_tls12_keys(const struct iw_tls_suite *, uint16_t version, bool etm,
	    const uint8_t master[48], const uint8_t client_random[32],
	    const uint8_t server_random[32], struct iw_tls_rp *client,
	    struct iw_tls_rp *server);

/*
 * Opens one record (the body after the 5-byte header; type and version
 * from the header).  On IW_RP_OK: out holds *outlen plaintext bytes (at
 * most IW_TLS_PLAIN_MAX + 1024; out must have IW_TLS12_CIPHER_MAX), *ctype
 * the content type (TLS 1.3: the inner one), and the sequence number
 * advanced.  On failure nothing changes.
 */
enum iw_tls_rp_result iw_tls_rp_open(struct iw_tls_rp *, uint8_t type,
	    uint16_t version, const uint8_t *in, size_t inlen, uint8_t *out,
	    size_t *outlen, uint8_t *ctype);

uint64_t iw_tls_rp_seq(const struct iw_tls_rp *);

/* ---- sessions ---- */

/* What became of one record given to iw_tlsd_record(). */
enum iw_tlsd_rec {
	IW_TLSD_CLEAR = 0,	/* not protected: read it as before */
	IW_TLSD_DECRYPTED,	/* its plaintext went to ops->plaintext */
	IW_TLSD_HELD,		/* kept until the keys come */
	IW_TLSD_EARLY_SKIPPED,	/* 0-RTT data without its key, or that the
				 * server refused: skipped, not a failure */
	IW_TLSD_OPAQUE,		/* protected, and this direction does not
				 * decrypt (iw_tlsd_state says why) */
};

/* Where a direction stands. */
enum iw_tlsd_state {
	IW_TLSD_IDLE = 0,	/* nothing protected yet */
	IW_TLSD_ACTIVE,		/* decrypting */
	IW_TLSD_WAITING,	/* holding records for keys not yet logged */
	IW_TLSD_NO_KEYS,	/* the key log has no (usable) key for it */
	IW_TLSD_AUTH_FAILED,	/* a record failed authentication */
	IW_TLSD_GAP,		/* a TCP gap */
	IW_TLSD_UNSUPPORTED,	/* SSLv2/3, suite, compression, renegotiation */
	IW_TLSD_MALFORMED,	/* a record or hello that cannot be */
	IW_TLSD_HOLD_FULL,	/* held records over the budget: dropped */
};

const char *iw_tlsd_state_name(enum iw_tlsd_state);

struct iw_tlsd_ops {
	/* Decrypted content of one record: handshake (22), alert (21),
	 * application data (23); p is valid during the call only. */
	void	(*plaintext)(void *arg, enum iw_dir, uint8_t type,
		    const uint8_t *p, size_t n);
	/* The secrets logged for this client random (iw_keylog_lookup), or
	 * false.  The session wipes its copy once the keys are derived. */
	bool	(*keys)(void *arg, const uint8_t random[IW_TLS_RANDOM_LEN],
		    struct iw_tls_secrets *);
	/* Optional: a direction stopped decrypting (once per direction). */
	void	(*stopped)(void *arg, enum iw_dir, enum iw_tlsd_state);
};

struct iw_tlsd_counts {
	uint64_t	records[2];	/* decrypted */
	uint64_t	bytes[2];	/* plaintext */
	uint64_t	early_records;	/* 0-RTT decrypted */
	uint64_t	early_skipped;	/* 0-RTT skipped */
	uint64_t	key_updates[2];
	uint64_t	auth_failures;	/* 0, 1 or 2: directions */
	uint64_t	held_dropped;	/* bytes dropped past the hold budget */
};

struct iw_tlsd;

/*
 * A session.  hold_max: bytes of records kept while the keys are not
 * logged yet or the ServerHello has not come (0-RTT); 0 gives up on a
 * session at once when the log has no key for it.  Memory is charged to
 * --flow-memory (flowmem.h).  NULL when out of memory.
 */
struct iw_tlsd *iw_tlsd_new(const struct iw_tlsd_ops *, void *arg,
	    size_t hold_max);
void	iw_tlsd_free(struct iw_tlsd *);

/*
 * Every record of the connection after the STARTTLS hand-off (or from the
 * first byte on IMAPS), in capture order: header type and version, body.
 */
enum iw_tlsd_rec iw_tlsd_record(struct iw_tlsd *, enum iw_dir, uint8_t type,
	    uint16_t version, const uint8_t *body, size_t len);

/* The reassembler lost bytes of a direction: it stops. */
void	iw_tlsd_gap(struct iw_tlsd *, enum iw_dir);

/* The key log grew: look for the keys again, and decrypt what was held.
 * Returns true if the keys were found. */
bool	iw_tlsd_retry(struct iw_tlsd *);

/* Stop holding (the hold's time ran out): what is held is dropped and the
 * waiting directions become IW_TLSD_NO_KEYS. */
void	iw_tlsd_give_up(struct iw_tlsd *);

enum iw_tlsd_state iw_tlsd_state(const struct iw_tlsd *, enum iw_dir);
const struct iw_tlsd_counts *iw_tlsd_counts(const struct iw_tlsd *);
/* Bytes held now. */
size_t	iw_tlsd_held(const struct iw_tlsd *);
/* The negotiated version (0 before the ServerHello) and suite. */
uint16_t iw_tlsd_version(const struct iw_tlsd *);
uint16_t iw_tlsd_suite(const struct iw_tlsd *);

#endif /* IW_TLS_DECRYPT_H */
