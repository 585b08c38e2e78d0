/* SPDX-License-Identifier: ISC */
/*
 * imap_compress.c - COMPRESS=DEFLATE (RFC 4978): after the tagged OK both
 * directions are raw deflate streams.  Each is inflated into a bounded
 * buffer and the IMAP lines in it parsed as usual; literals in the
 * inflated stream are passed over by count (the engine's skip would
 * count compressed bytes, not these).
 *
 * A few compressed bytes can inflate a thousandfold (a deflate bomb), and
 * inflating and parsing cost CPU per inflated byte: past the first MiB a
 * direction may inflate at most --inflate-ratio bytes per compressed byte
 * read so far, and --inflate-max bytes in all.  Past either, the direction
 * is an anomaly and is skipped from there on (counted, not parsed).
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "config.h"
#include "flowmem.h"
#include "imap_internal.h"
#include "session.h"
#include "stats.h"

/* Inflated bytes a direction may produce before the ratio applies. */
#define INFLATE_FREE	(1u << 20)

static bool
inflate_open(struct imap_dir *dr)
{
	dr->z = iw_flowmem_calloc(sizeof(*dr->z));
	dr->zbuf = iw_flowmem_realloc(NULL, IMAP_ZBUF);
	if (dr->z != NULL) {
		/* zlib's window counts against --flow-memory too */
		dr->z->zalloc = iw_flowmem_zalloc;
		dr->z->zfree = iw_flowmem_zfree;
	}
	if (dr->z == NULL || dr->zbuf == NULL ||
	    inflateInit2(dr->z, -15) != Z_OK) {
		iw_flowmem_free(dr->z);
		iw_flowmem_free(dr->zbuf);
		dr->z = NULL;
		dr->zbuf = NULL;
		return false;
	}
	dr->zlen = 0;
	return true;
}

void
imap_inflate_free(struct imap_dir *dr)
{
	if (dr->z != NULL)
		inflateEnd(dr->z);
	iw_flowmem_free(dr->z);
	iw_flowmem_free(dr->zbuf);
	dr->z = NULL;
	dr->zbuf = NULL;
}

/* The stream cannot be followed: say so once, stop looking at it. */
static size_t
inflate_fail(struct iw_imap *st, enum iw_dir d, size_t len)
{
	st->compress_failed = true;
	imap_anomaly(st, A_INFLATE_FAILED);
	st->dir[d].x = X_OFF;
	if (!st->inner)
		iw_session_bypass(st->s, d);
	return len;
}

static bool
over_limits(const z_stream *z)
{
	uint64_t in = z->total_in, out = z->total_out;

	if (iw_cfg.inflate_max != 0 && out > iw_cfg.inflate_max)
		return true;
	return iw_cfg.inflate_ratio != 0 && out > INFLATE_FREE &&
	    out - INFLATE_FREE > iw_cfg.inflate_ratio * in;
}

/* A bomb, or more than we follow: say so once, skip the rest. */
static size_t
inflate_limited(struct iw_imap *st, enum iw_dir d, size_t len)
{
	iw_stats.inflate_limited++;
	imap_anomaly(st, A_INFLATE_LIMIT);
	st->dir[d].x = X_OFF;
	imap_inflate_free(&st->dir[d]);
	if (!st->inner)
		iw_session_bypass(st->s, d);
	return len;
}

/*
 * The peer ended its deflate stream (dovecot does at LOGOUT): nothing
 * more is expected; bytes after the end are not deflate.
 */
static size_t
inflate_done(struct iw_imap *st, enum iw_dir d, size_t len)
{
	if (st->dir[d].z->avail_in > 0)
		return inflate_fail(st, d, len);
	st->dir[d].x = X_OFF;
	if (!st->inner)
		iw_session_bypass(st->s, d);
	return len;
}

/* Parses what was inflated; false when the parser cannot make room. */
static bool
drain(struct iw_imap *st, enum iw_dir d)
{
	struct imap_dir *dr = &st->dir[d];
	size_t c = imap_feed_internal(st, d, dr->zbuf, dr->zlen);

	memmove(dr->zbuf, dr->zbuf + c, dr->zlen - c);
	dr->zlen -= c;
	return c > 0 || dr->zlen < IMAP_ZBUF;
}

/*
 * Inflates all of buf (zlib keeps what it cannot use yet), parsing the
 * output as it comes: memory stays at IMAP_ZBUF however large the
 * output.
 */
size_t
imap_inflate(struct iw_imap *st, enum iw_dir d, const uint8_t *buf,
    size_t len)
{
	struct imap_dir *dr = &st->dir[d];
	z_stream *z;
	uInt room;
	int ret;

	if (dr->z == NULL && !inflate_open(dr))
		return inflate_fail(st, d, len);
	z = dr->z;
	z->next_in = (Bytef *)(uintptr_t)buf;
	z->avail_in = (uInt)len;
	for (;;) {
		room = (uInt)(IMAP_ZBUF - dr->zlen);
		z->next_out = dr->zbuf + dr->zlen;
		z->avail_out = room;
		ret = inflate(z, Z_SYNC_FLUSH);
		dr->zlen = IMAP_ZBUF - z->avail_out;
		iw_stats.inflated_bytes += room - z->avail_out;
		if (ret != Z_OK && ret != Z_BUF_ERROR && ret != Z_STREAM_END)
			return inflate_fail(st, d, len);
		if (over_limits(z))
			return inflate_limited(st, d, len);
		if (!drain(st, d) || dr->x != X_DEFLATE)
			return inflate_fail(st, d, len);
		if (ret == Z_STREAM_END)
			return inflate_done(st, d, len);
		if (z->avail_in == 0 && z->avail_out > 0)
			break;
	}
	return len;
}
