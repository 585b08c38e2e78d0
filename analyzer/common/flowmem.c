/* SPDX-License-Identifier: ISC */
/*
 * flowmem.c - counted allocations for per-connection state.
 *
 * Each block carries its size in a header aligned for any type, so a free
 * needs no size from its caller and the count cannot drift when a caller
 * forgets one.
 */
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flowmem.h"

#define HDR	alignof(max_align_t)

/* what the calling thread's worker holds (--flow-memory is split among
 * workers: workers.h) */
static _Thread_local uint64_t in_use;
static _Thread_local uint64_t peak;

static void *
header_to_block(unsigned char *h, size_t n)
{
	memcpy(h, &n, sizeof(n));
	in_use += n + HDR;
	if (in_use > peak)
		peak = in_use;
	return h + HDR;
}

static unsigned char *
block_to_header(void *p, size_t *n)
{
	unsigned char *h = (unsigned char *)p - HDR;

	memcpy(n, h, sizeof(*n));
	return h;
}

void *
iw_flowmem_calloc(size_t n)
{
	unsigned char *h;

	if (n > SIZE_MAX - HDR || (h = calloc(1, n + HDR)) == NULL)
		return NULL;
	return header_to_block(h, n);
}

void *
iw_flowmem_realloc(void *p, size_t n)
{
	unsigned char *h, *nh;
	size_t old;

	if (p == NULL) {
		if (n > SIZE_MAX - HDR || (h = malloc(n + HDR)) == NULL)
			return NULL;
		return header_to_block(h, n);
	}
	if (n > SIZE_MAX - HDR)
		return NULL;
	h = block_to_header(p, &old);
	if ((nh = realloc(h, n + HDR)) == NULL)
		return NULL;		/* the old block stays, still counted */
	in_use -= old + HDR;
	return header_to_block(nh, n);
}

void
iw_flowmem_free(void *p)
{
	unsigned char *h;
	size_t n;

	if (p == NULL)
		return;
	h = block_to_header(p, &n);
	in_use -= n + HDR;
	free(h);
}

void
iw_flowmem_charge(int64_t delta)
{
	in_use += (uint64_t)delta;	/* wraps back when delta < 0 */
	if (delta > 0 && in_use > peak)
		peak = in_use;
}

uint64_t
iw_flowmem_in_use(void)
{
	return in_use;
}

uint64_t
iw_flowmem_peak(void)
{
	return peak;
}

void *
iw_flowmem_zalloc(void *opaque, unsigned int items, unsigned int size)
{
	(void)opaque;
	if (size != 0 && items > SIZE_MAX / size)
		return NULL;
	return iw_flowmem_calloc((size_t)items * size);
}

void
iw_flowmem_zfree(void *opaque, void *p)
{
	(void)opaque;
	iw_flowmem_free(p);
}
