/*
 * ipfrag.c - IPv4 and IPv6 fragment reassembly.
 *
 * A datagram in progress keeps one buffer (grown to the highest byte seen,
 * never past 64 KiB) and a bitmap of the 8-byte blocks received.  Fragments
 * that overlap keep the bytes that arrived first; different bytes in an
 * overlap are counted (an evasion technique).  The memory held by all
 * datagrams is capped (--frag-memory); past the cap, and after 30 s of
 * packet time, the oldest datagram is dropped and counted.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "packet.h"
#include "stats.h"

#define MAX_DGRAM	65535	/* payload bytes of one datagram */
#define NBLOCKS		(MAX_DGRAM / 8 + 1)
#define NBUCKETS	1024
#define MAX_DGRAMS	8192
#define FRAG_TIMEOUT	(30 * IW_USEC)

struct dgram {
	struct dgram		*hnext;
	struct dgram		*prev, *next;	/* by age, oldest first */
	struct iw_frag_key	 key;
	iw_time			 first_ts;
	uint8_t			*buf;
	uint32_t		 cap;		/* bytes allocated */
	uint32_t		 total;		/* 0 until the last fragment */
	uint8_t			 next_proto;	/* from the first fragment */
	bool			 have_first;
	uint8_t			 blocks[NBLOCKS / 8 + 1];
};

static struct dgram *buckets[NBUCKETS];
static struct dgram *oldest, *newest;
static size_t n_dgrams;
static uint64_t mem_held;
/* Completed datagrams of the packet being decoded (one a tunnel level). */
#define MAX_DONE	8
static uint8_t *done[MAX_DONE];
static int n_done;

static unsigned
key_hash(const struct iw_frag_key *k)
{
	uint32_t h = k->id * 2654435761u;

	h ^= (uint32_t)k->src.a[15] << 8 | k->dst.a[15];
	h ^= (uint32_t)k->src.a[14] << 16 | (uint32_t)k->dst.a[14] << 24;
	return (h ^ (h >> 16)) & (NBUCKETS - 1);
}

static bool
key_eq(const struct iw_frag_key *a, const struct iw_frag_key *b)
{
	return a->id == b->id && a->proto == b->proto &&
	    a->version == b->version && iw_addr_eq(&a->src, &b->src) &&
	    iw_addr_eq(&a->dst, &b->dst);
}

static void
unlink_dgram(struct dgram *d)
{
	struct dgram **pp = &buckets[key_hash(&d->key)];

	while (*pp != NULL && *pp != d)
		pp = &(*pp)->hnext;
	if (*pp == d)
		*pp = d->hnext;
	if (d->prev)
		d->prev->next = d->next;
	else
		oldest = d->next;
	if (d->next)
		d->next->prev = d->prev;
	else
		newest = d->prev;
	n_dgrams--;
	mem_held -= d->cap;
}

static void
drop_dgram(struct dgram *d)
{
	unlink_dgram(d);
	free(d->buf);
	free(d);
}

static struct dgram *
find_or_create(const struct iw_frag_key *k, iw_time now)
{
	unsigned h = key_hash(k);
	struct dgram *d;

	for (d = buckets[h]; d != NULL; d = d->hnext)
		if (key_eq(&d->key, k))
			return d;
	if (n_dgrams >= MAX_DGRAMS) {
		iw_stats.frag_evicted++;
		drop_dgram(oldest);
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	d->key = *k;
	d->first_ts = now;
	d->hnext = buckets[h];
	buckets[h] = d;
	d->prev = newest;
	if (newest)
		newest->next = d;
	else
		oldest = d;
	newest = d;
	n_dgrams++;
	return d;
}

/* Makes room for `end` bytes, within the global memory cap. */
static bool
grow(struct dgram *d, uint32_t end)
{
	uint32_t ncap = d->cap ? d->cap : 2048;
	uint8_t *nb;

	if (end <= d->cap)
		return true;
	while (ncap < end)
		ncap *= 2;
	if (ncap > MAX_DGRAM)
		ncap = MAX_DGRAM;
	while (mem_held + (ncap - d->cap) > iw_cfg.frag_mem_cap &&
	    oldest != NULL && oldest != d) {
		iw_stats.frag_evicted++;
		drop_dgram(oldest);
	}
	if (mem_held + (ncap - d->cap) > iw_cfg.frag_mem_cap)
		return false;
	nb = realloc(d->buf, ncap);
	if (nb == NULL)
		return false;
	mem_held += ncap - d->cap;
	d->buf = nb;
	d->cap = ncap;
	return true;
}

static bool
block_set(const struct dgram *d, uint32_t b)
{
	return (d->blocks[b / 8] >> (b % 8)) & 1;
}

/* Copies a fragment's bytes into blocks not yet received (first wins). */
static void
store(struct dgram *d, uint32_t off, const uint8_t *data, uint32_t len)
{
	uint32_t b, start, end, n;

	for (b = off / 8; b * 8 < off + len; b++) {
		start = b * 8;
		end = start + 8 < off + len ? start + 8 : off + len;
		n = end - start;
		if (block_set(d, b)) {
			if (memcmp(d->buf + start, data + (start - off), n) != 0)
				iw_stats.bad[IW_BAD_FRAG_OVERLAP]++;
			continue;
		}
		memcpy(d->buf + start, data + (start - off), n);
		/* a short block is complete only as the datagram's end */
		if (n == 8 || end == off + len)
			d->blocks[b / 8] |= 1 << (b % 8);
	}
}

static bool
complete(const struct dgram *d)
{
	uint32_t b;

	if (d->total == 0 || !d->have_first)
		return false;
	for (b = 0; b * 8 < d->total; b++)
		if (!block_set(d, b))
			return false;
	return true;
}

const uint8_t *
iw_frag_add(const struct iw_frag_key *k, uint32_t off, const uint8_t *data,
    uint32_t len, bool more, uint8_t next_proto, iw_time now,
    uint32_t *out_len, uint8_t *out_next)
{
	struct dgram *d;
	uint8_t *buf;

	if (n_done == MAX_DONE)
		return NULL;
	if ((uint64_t)off + len > MAX_DGRAM ||
	    (more && (len == 0 || len % 8 != 0))) {
		iw_stats.bad[IW_BAD_FRAG_TOO_BIG]++;
		return NULL;
	}
	d = find_or_create(k, now);
	if (d == NULL || !grow(d, off + len))
		return NULL;
	if (!more) {
		if (d->total != 0 && d->total != off + len)
			iw_stats.bad[IW_BAD_FRAG_OVERLAP]++;
		else
			d->total = off + len;
	}
	if (off == 0) {
		d->have_first = true;
		d->next_proto = next_proto;
	}
	store(d, off, data, len);
	if (!complete(d))
		return NULL;
	*out_len = d->total;
	*out_next = d->next_proto;
	buf = d->buf;
	d->buf = NULL;
	unlink_dgram(d);	/* also gives back its memory */
	free(d);
	done[n_done++] = buf;
	return buf;
}

void
iw_frag_release(void)
{
	while (n_done > 0)
		free(done[--n_done]);
}

void
iw_frag_expire(iw_time now)
{
	while (oldest != NULL && oldest->first_ts + FRAG_TIMEOUT < now) {
		iw_stats.frag_timeouts++;
		drop_dgram(oldest);
	}
}

void
iw_frag_shutdown(void)
{
	while (oldest != NULL)
		drop_dgram(oldest);
	iw_frag_release();
}
