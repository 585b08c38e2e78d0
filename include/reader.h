/* SPDX-License-Identifier: ISC */
/*
 * reader.h - bounds-checked reads of untrusted bytes.
 *
 * Every parser reads packet and stream bytes through a struct iw_rd, never
 * through raw pointer arithmetic on a length that came from the wire.  A read
 * past the end sets `bad`, returns zero and leaves the position at the end;
 * later reads keep failing, so a parser can read a whole structure and check
 * `bad` once (as tcpdump's GET_ macros and ND_TCHECK do, without longjmp).
 */
#ifndef IW_READER_H
#define IW_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct iw_rd {
	const uint8_t	*base;
	size_t		 len;
	size_t		 pos;
	bool		 bad;
};

static inline struct iw_rd
rd_init(const uint8_t *base, size_t len)
{
	struct iw_rd r = { base, len, 0, false };
	return r;
}

static inline size_t
rd_left(const struct iw_rd *r)
{
	return r->bad ? 0 : r->len - r->pos;
}

static inline bool
rd_has(struct iw_rd *r, size_t n)
{
	if (r->bad || n > r->len - r->pos) {
		r->bad = true;
		r->pos = r->len;
		return false;
	}
	return true;
}

static inline const uint8_t *
rd_ptr(const struct iw_rd *r)
{
	return r->base + r->pos;
}

static inline uint8_t
rd_u8(struct iw_rd *r)
{
	if (!rd_has(r, 1))
		return 0;
	return r->base[r->pos++];
}

static inline uint16_t
rd_u16(struct iw_rd *r)
{
	const uint8_t *p;

	if (!rd_has(r, 2))
		return 0;
	p = r->base + r->pos;
	r->pos += 2;
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
rd_u24(struct iw_rd *r)
{
	const uint8_t *p;

	if (!rd_has(r, 3))
		return 0;
	p = r->base + r->pos;
	r->pos += 3;
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static inline uint32_t
rd_u32(struct iw_rd *r)
{
	const uint8_t *p;

	if (!rd_has(r, 4))
		return 0;
	p = r->base + r->pos;
	r->pos += 4;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Little-endian reads, for the few link headers that use host order. */
static inline uint16_t
rd_u16le(struct iw_rd *r)
{
	const uint8_t *p;

	if (!rd_has(r, 2))
		return 0;
	p = r->base + r->pos;
	r->pos += 2;
	return (uint16_t)(p[1] << 8 | p[0]);
}

static inline uint32_t
rd_u32le(struct iw_rd *r)
{
	const uint8_t *p;

	if (!rd_has(r, 4))
		return 0;
	p = r->base + r->pos;
	r->pos += 4;
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[1] << 8 | p[0];
}

static inline bool
rd_skip(struct iw_rd *r, size_t n)
{
	if (!rd_has(r, n))
		return false;
	r->pos += n;
	return true;
}

/* Points *out at the next n bytes and steps over them. */
static inline bool
rd_bytes(struct iw_rd *r, size_t n, const uint8_t **out)
{
	if (!rd_has(r, n)) {
		*out = NULL;
		return false;
	}
	*out = r->base + r->pos;
	r->pos += n;
	return true;
}

/*
 * A sub-reader over the next n bytes (a length-prefixed vector); the parent
 * steps over them.  If they are not all there, both readers are bad.
 */
static inline struct iw_rd
rd_sub(struct iw_rd *r, size_t n)
{
	struct iw_rd sub = { NULL, 0, 0, true };

	if (!rd_has(r, n))
		return sub;
	sub.base = r->base + r->pos;
	sub.len = n;
	sub.pos = 0;
	sub.bad = false;
	r->pos += n;
	return sub;
}

#endif /* IW_READER_H */
