/* SPDX-License-Identifier: ISC */
/*
 * digest.h - message digests fetched from OpenSSL once.
 *
 * OpenSSL 3 looks an algorithm up in its provider tables (under a lock)
 * every time EVP_md5(), SHA1() and the like are used; per flow and per
 * handshake that lookup cost more than the hashing.  These fetch each
 * digest the first time and keep it for the run.
 */
#ifndef IW_DIGEST_H
#define IW_DIGEST_H

#include <openssl/evp.h>

const EVP_MD *iw_md_md5(void);
const EVP_MD *iw_md_sha1(void);
const EVP_MD *iw_md_sha256(void);

#endif /* IW_DIGEST_H */
