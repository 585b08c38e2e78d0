/* SPDX-License-Identifier: ISC */
/*
 * siphash.h - the keyed hash of every table indexed by bytes from the
 * wire: SipHash (J.-P. Aumasson and D. J. Bernstein, "SipHash: a fast
 * short-input PRF", INDOCRYPT 2012) under a key drawn once a process from
 * getrandom(2).
 *
 * Without a key, whoever reads our code can choose addresses, ports,
 * fragment ids or certificate bytes that all land in one bucket and turn
 * every lookup into a walk of the whole table.  Under a secret key the
 * buckets are as good as random whatever the input, so chains stay short;
 * the tables also cap their chains (flow.c, ipfrag.c, memo.c ...) so that
 * even bad luck costs a bounded walk.
 *
 * OpenSSL 3 offers SipHash as EVP_MAC "SIPHASH", but a call costs about
 * 100 ns for 36 bytes (context set-up), five times this one: too much on
 * the per-packet path.  tests/unit/test_siphash.c checks this
 * implementation against the reference vectors and against OpenSSL's.
 *
 * Nothing here may reach an output: bucket order is the only thing the
 * key changes, and flow_id (event.c) stays an unkeyed, stable hash.
 */
#ifndef IW_SIPHASH_H
#define IW_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#include "iw.h"

struct iw_sipkey {
	uint64_t	k0, k1;		/* the 16 key bytes, little-endian */
};

/* SipHash-2-4 and SipHash-1-3 of n bytes, 64-bit output. */
uint64_t iw_siphash24(const struct iw_sipkey *, const void *, size_t);
uint64_t iw_siphash13(const struct iw_sipkey *, const void *, size_t);

/* ---- the process's table hash: SipHash-1-3 under the process key ---- */

/*
 * Draws the key (getrandom).  The first hash does it if nobody did, which
 * is not thread-safe: a program with threads calls this before starting
 * them.  The key never changes afterwards, so the hashes below may then
 * be called from any thread.
 */
void iw_hash_init(void);

/* Any byte string (a memo key, a certificate's DER). */
uint64_t iw_hash_bytes(const void *, size_t);

/* One 64-bit value (a flow_id). */
uint64_t iw_hash_u64(uint64_t);

/*
 * A TCP or UDP connection's two endpoints (address and port), the same
 * value whichever is given first: the flow table's bucket, and the worker
 * a packet goes to when packets are spread over threads.
 */
uint64_t iw_hash_endpoints(const struct iw_addr *, uint16_t,
    const struct iw_addr *, uint16_t);

/* The 36 bytes that name a pair of endpoints whichever comes first (the
 * lower address and port, then the other): what iw_hash_endpoints hashes. */
#define IW_ENDPOINTS_KEY_LEN	36
void iw_endpoints_key(uint8_t out[IW_ENDPOINTS_KEY_LEN],
    const struct iw_addr *, uint16_t, const struct iw_addr *, uint16_t);

#endif /* IW_SIPHASH_H */
