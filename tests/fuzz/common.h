/* SPDX-License-Identifier: ISC */
/*
 * common.h - what the fuzz harnesses share: a one-time setup of the
 * run's settings (small tables and caps, --all-tls, events to /dev/null),
 * and a reader of the harnesses' input framing.
 *
 * Each harness defines LLVMFuzzerTestOneInput.  Built three ways
 * (tests/fuzz/run.sh, tests/t_fuzz_regress.sh):
 *   clang -fsanitize=fuzzer,address,undefined	libFuzzer
 *   afl-clang-fast -fsanitize=fuzzer		AFL++ (libAFLDriver)
 *   cc ... replay.c				plain replay of files, for the
 *						normal and ASan builds
 */
#ifndef IW_FUZZ_COMMON_H
#define IW_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iw.h"

/* Packet time every input starts at (2025-11-29T02:20:22Z). */
#define FZ_T0	(1764382822LL * IW_USEC)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Settings once per process: iw_cfg with small caps, /dev/null output. */
void fz_setup(void);

/* A cursor over the input. */
struct fz {
	const uint8_t	*p;
	size_t		 n;
};

static inline bool
fz_u8(struct fz *f, uint8_t *v)
{
	if (f->n < 1)
		return false;
	*v = f->p[0];
	f->p++;
	f->n--;
	return true;
}

static inline bool
fz_u16(struct fz *f, uint16_t *v)
{
	if (f->n < 2)
		return false;
	*v = (uint16_t)(f->p[0] << 8 | f->p[1]);
	f->p += 2;
	f->n -= 2;
	return true;
}

/* Up to n bytes (fewer at the end of the input). */
static inline const uint8_t *
fz_take(struct fz *f, size_t *n)
{
	const uint8_t *p = f->p;

	if (*n > f->n)
		*n = f->n;
	f->p += *n;
	f->n -= *n;
	return p;
}

/* Big-endian writers for the records the harnesses build. */
static inline void
fz_put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
fz_put_seq(uint8_t *p, uint64_t seq)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(seq >> (56 - 8 * i));
}

/*
 * AES-128-GCM as a TLS peer seals a record (EVP): n bytes of pt into out,
 * the 16-byte tag after them; returns n + 16.  ctx is keyed on the first
 * call (*keyed false) and only given new nonces after that: setting the
 * cipher up again for each of thousands of tiny records timed out.
 */
struct evp_cipher_ctx_st;
size_t	fz_gcm_seal(struct evp_cipher_ctx_st *ctx, bool *keyed,
	    const uint8_t key[16], const uint8_t nonce[12], const uint8_t *aad,
	    size_t aadlen, const uint8_t *pt, size_t n, uint8_t *out);

#endif /* IW_FUZZ_COMMON_H */
