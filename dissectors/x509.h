/* SPDX-License-Identifier: ISC */
/*
 * x509.h - server certificates through OpenSSL: what EVE reports of them,
 * the checks the TLS findings need (name, validity, self-signed, key size,
 * signature hash, chain to a CA bundle), and the key digest cert_changed
 * remembers.
 */
#ifndef IW_X509_H
#define IW_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

struct json_object;

/* A certificate from its DER bytes, or NULL if they do not parse. */
X509 *iw_x509_parse(const uint8_t *der, size_t len);

/*
 * The certificate's fields with Suricata EVE's names and forms (its
 * rust/src/x509 and src/output-json-tls.c): subject, issuerdn (certificate
 * order, ", " between RDNs), serial ("00:A1:..."), notbefore, notafter
 * ("2028-11-28T02:19:48", UTC), subjectaltname (bare names), fingerprint
 * (SHA-1, lower-case colon hex); and ours: key {type, bits},
 * signature_algorithm, fingerprint_sha256, self_signed.
 */
struct json_object *iw_x509_json(X509 *);

/* A name as Suricata writes it, bounded and valid UTF-8 (it may hold NUL
 * bytes), into buf; returns its length. */
size_t iw_x509_name(const X509_NAME *, char *buf, size_t len);

/* DER bytes as one base64 string (NULL if over 1 MiB or out of memory). */
struct json_object *iw_x509_base64(const uint8_t *der, size_t len);

/* Validity at a time: -1 not yet valid, 0 valid, 1 expired, -2 unknown. */
int iw_x509_validity(X509 *, int64_t when);

/* Seconds since the epoch of an ASN1_TIME (works before 1970). */
bool iw_asn1_time_epoch(const ASN1_TIME *, int64_t *out);

/*
 * The seed's name rule (SAN dNSName when present, else CN; no partial
 * wildcards; an IP address is matched against SAN iPAddress): 1 match,
 * 0 mismatch, -1 the name or certificate is unusable.
 */
int iw_x509_check_name(X509 *, const char *name);

/* Key type ("RSA", "EC", "DSA", "ED25519", ...) and size in bits. */
bool iw_x509_key(X509 *, const char **type, int *bits);

/* RSA or DSA under 2048 bits, EC under 224. */
bool iw_x509_weak_key(X509 *);

/* Signed with MD5 or SHA-1 (or MD2/MD4). */
bool iw_x509_weak_signature(X509 *);

/* Issuer equals subject and the signature verifies with its own key. */
bool iw_x509_self_signed(X509 *);

/* SHA-256 of the DER SubjectPublicKeyInfo. */
bool iw_x509_key_digest(X509 *, uint8_t out[32]);

/*
 * Chain validation against --ca-file as of `when`: 1 trusted, 0 not
 * (reason in why), -1 no CA bundle configured or it cannot be read.
 */
int iw_x509_verify(X509 *leaf, STACK_OF(X509) *chain, int64_t when,
    char *why, size_t whylen);

/* Load --ca-file now (at start, so a bad bundle is a clear error, not a
 * silent lack of checks); 0, or -1 with a message. */
int iw_x509_load_ca(char *err, size_t errlen);

/* Forget the loaded CA bundle (tests change iw_cfg.ca_file). */
void iw_x509_reset_store(void);

/* Frees the calling thread's certificate cache (a worker that ends). */
void iw_x509_thread_end(void);

#endif /* IW_X509_H */
