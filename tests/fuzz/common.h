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

#endif /* IW_FUZZ_COMMON_H */
