/* SPDX-License-Identifier: ISC */
/*
 * tlsw.h - TLS bytes for the hostile captures: records, and the few
 * handshake messages a passive dissector needs to follow a TLS 1.2
 * session (no cryptography: the encrypted records are random bytes).
 */
#ifndef HOSTILE_TLSW_H
#define HOSTILE_TLSW_H

#include "pcapw.h"

#define TW_RECORD_MAX	(16384 + 2048)	/* TLSCiphertext's bound */

/* A record of `type` around body (len <= TW_RECORD_MAX), sent in k. */
void tw_record(struct pw_file *, struct pw_conn *, enum pw_dir,
    uint8_t type, const uint8_t *body, size_t len);

/* ClientHello (TLS 1.2, SNI name) and ServerHello, one record each. */
void tw_client_hello(struct pw_file *, struct pw_conn *, const char *sni);
void tw_server_hello(struct pw_file *, struct pw_conn *);

/*
 * The server's Certificate (n DER certificates) and ServerHelloDone in
 * one record; then the rest of a full handshake and one application data
 * record each way, so that the session is established.
 */
void tw_certificates(struct pw_file *, struct pw_conn *,
    const uint8_t *const *der, const size_t *len, int n);
void tw_finish_handshake(struct pw_file *, struct pw_conn *);

/*
 * A real certificate (RSA 2048, CN and SAN imap.example.test, valid 2025
 * to 2035, made for these captures) whose serial number, at
 * TW_CERT_SERIAL, may be changed to make as many distinct ones as needed.
 */
extern const uint8_t tw_cert[];
extern const size_t tw_cert_len;
#define TW_CERT_SERIAL	15	/* offset of its 20 serial bytes */

#endif /* HOSTILE_TLSW_H */
