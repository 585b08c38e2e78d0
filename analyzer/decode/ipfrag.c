/* SPDX-License-Identifier: ISC */
/*
 * ipfrag.c - IPv4 and IPv6 fragment reassembly, as Linux does it.
 *
 * A datagram in progress keeps one buffer (grown to the highest byte seen,
 * never past 64 KiB) and the runs of fragments received, by offset: a
 * fragment that starts where the furthest one ended extends that run, any
 * other starts a run of its own (Linux's inet_frag_queue_insert keeps the
 * same runs).  A fragment that lies wholly inside one run is a duplicate:
 * ignored, its bytes not even compared.  One that overlaps in any other
 * way discards the whole datagram (RFC 5722 requires it for IPv6; Linux
 * does it for both): resolving the overlap either way would show bytes
 * some host never reassembled (first-wins turned "alice" and "rory" into
 * "alilory").  Which bytes the receiver saw cannot be known, so none are
 * shown; the drop is counted and, when the first fragment gave the ports,
 * reported as an anomaly of the connection (decode.c).
 *
 * Datagrams are found by a keyed hash of both addresses, the id, the
 * protocol and the IP version (siphash.h): nobody can make them share a
 * bucket.  Chains are capped all the same, and so are the datagrams held
 * (MAX_DGRAMS), their memory (--frag-memory) and their age (30 s of packet
 * time); past any cap the oldest goes, counted.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "hchain.h"
#include "packet.h"
#include "siphash.h"
#include "stats.h"

#define MAX_DGRAM	65535	/* payload bytes of one datagram */
#define MAX_DGRAMS	8192
#define NBUCKETS	16384	/* twice MAX_DGRAMS: short chains */
#define CHAIN_MAX	16
#define MAX_RUNS	256	/* separate runs in one datagram */
#define FRAG_TIMEOUT	(30 * IW_USEC)

struct run {
	uint32_t	start, end;	/* bytes [start, end) */
};

struct dgram {
	struct iw_hlink		 hlink;		/* first member */
	struct dgram		*prev, *next;	/* by age, oldest first */
	struct iw_frag_key	 key;
	uint32_t		 hash;
	iw_time			 first_ts;
	uint8_t			*buf;
	uint32_t		 cap;		/* bytes allocated */
	uint32_t		 max_end;	/* end of the furthest fragment */
	uint32_t		 total;		/* once the last fragment came */
	uint32_t		 received;	/* bytes in the runs */
	bool			 have_last;
	uint8_t			 next_proto;	/* from the first fragment */
	struct run		*runs;		/* by offset, disjoint */
	uint16_t		 nruns, runs_cap;
};

enum insert_result { INSERTED, DUPLICATE, OVERLAP, SCATTERED, NO_MEMORY };

static struct iw_hlink *buckets[NBUCKETS];
static struct dgram *oldest, *newest;
static size_t n_dgrams;
static uint64_t mem_held;
/* Completed datagrams of the packet being decoded (one a tunnel level). */
#define MAX_DONE	8
static uint8_t *done[MAX_DONE];
static int n_done;

/* ---- the table ---- */

uint32_t
iw_frag_key_hash(const struct iw_frag_key *k)
{
	uint8_t b[16 + 16 + 4 + 2];

	memcpy(b, k->src.a, 16);
	memcpy(b + 16, k->dst.a, 16);
	memcpy(b + 32, &k->id, 4);
	b[36] = k->proto;
	b[37] = k->version;
	return (uint32_t)iw_hash_bytes(b, sizeof(b));
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
	iw_hchain_del(&d->hlink);
	if (d->prev)
		d->prev->next = d->next;
	else
		oldest = d->next;
	if (d->next)
		d->next->prev = d->prev;
	else
		newest = d->prev;
	n_dgrams--;
	mem_held -= d->cap + (uint64_t)d->runs_cap * sizeof(struct run);
}

static void
drop_dgram(struct dgram *d)
{
	unlink_dgram(d);
	free(d->runs);
	free(d->buf);
	free(d);
}

/* The oldest datagram of a full chain goes. */
static bool
older(const struct iw_hlink *a, const struct iw_hlink *b)
{
	return ((const struct dgram *)a)->first_ts <
	    ((const struct dgram *)b)->first_ts;
}

static void
chain_evict(struct iw_hlink *chain)
{
	iw_stats.frag_evicted++;
	iw_stats.tables[IW_TABLE_FRAGMENTS].chain_evictions++;
	drop_dgram((struct dgram *)iw_hchain_first(chain, older));
}

static struct dgram *
find_or_create(const struct iw_frag_key *k, iw_time now)
{
	uint32_t h = iw_frag_key_hash(k);
	struct iw_hlink **head = &buckets[h & (NBUCKETS - 1)], *l;
	uint64_t walked = 0;
	struct dgram *d;

	for (l = *head; l != NULL; l = l->next) {
		walked++;
		d = (struct dgram *)l;
		if (d->hash == h && key_eq(&d->key, k)) {
			iw_stats_chain(IW_TABLE_FRAGMENTS, walked);
			return d;
		}
	}
	iw_stats_chain(IW_TABLE_FRAGMENTS, walked);
	if (walked >= CHAIN_MAX)
		chain_evict(*head);
	if (n_dgrams >= MAX_DGRAMS) {
		iw_stats.frag_evicted++;
		drop_dgram(oldest);
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	d->key = *k;
	d->hash = h;
	d->first_ts = now;
	iw_hchain_add(head, &d->hlink);
	d->prev = newest;
	if (newest)
		newest->next = d;
	else
		oldest = d;
	newest = d;
	n_dgrams++;
	return d;
}

/* ---- memory ---- */

/* Room for `more` bytes within --frag-memory, the oldest others going. */
static bool
reserve(const struct dgram *d, uint64_t more)
{
	while (mem_held + more > iw_cfg.frag_mem_cap && oldest != NULL &&
	    oldest != d) {
		iw_stats.frag_evicted++;
		drop_dgram(oldest);
	}
	return mem_held + more <= iw_cfg.frag_mem_cap;
}

/* Makes room for `end` bytes of data. */
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
	if (!reserve(d, ncap - d->cap) || (nb = realloc(d->buf, ncap)) == NULL)
		return false;
	mem_held += ncap - d->cap;
	d->buf = nb;
	d->cap = ncap;
	return true;
}

/* A new run at index i. */
static enum insert_result
add_run(struct dgram *d, uint16_t i, uint32_t start, uint32_t end)
{
	uint16_t ncap;
	struct run *nr;

	if (d->nruns == MAX_RUNS)
		return SCATTERED;
	if (d->nruns == d->runs_cap) {
		ncap = d->runs_cap ? d->runs_cap * 2 : 4;
		if (!reserve(d, (uint64_t)(ncap - d->runs_cap) *
		    sizeof(*nr)) ||
		    (nr = realloc(d->runs, ncap * sizeof(*nr))) == NULL)
			return NO_MEMORY;
		mem_held += (uint64_t)(ncap - d->runs_cap) * sizeof(*nr);
		d->runs = nr;
		d->runs_cap = ncap;
	}
	memmove(d->runs + i + 1, d->runs + i,
	    (size_t)(d->nruns - i) * sizeof(*d->runs));
	d->runs[i].start = start;
	d->runs[i].end = end;
	d->nruns++;
	return INSERTED;
}

/*
 * Places bytes [start, end) among the runs.  A fragment beyond the
 * furthest one either continues its run or starts one; any other is
 * looked up among the runs: inside one, a duplicate; across an edge, an
 * overlap; in a hole, a run of its own.
 */
static enum insert_result
insert_run(struct dgram *d, uint32_t start, uint32_t end)
{
	uint16_t lo = 0, hi = d->nruns, mid;
	struct run *r;

	if (d->nruns == 0 || end > d->max_end) {
		if (start < d->max_end && d->nruns > 0)
			return OVERLAP;
		if (d->nruns > 0 && start == d->max_end) {
			d->runs[d->nruns - 1].end = end;
			return INSERTED;
		}
		return add_run(d, d->nruns, start, end);
	}
	/* the first run that ends after start */
	while (lo < hi) {
		mid = (uint16_t)((lo + hi) / 2);
		if (d->runs[mid].end <= start)
			lo = (uint16_t)(mid + 1);
		else
			hi = mid;
	}
	if (lo < d->nruns && (r = &d->runs[lo])->start < end)
		return start >= r->start && end <= r->end ? DUPLICATE :
		    OVERLAP;
	return add_run(d, lo, start, end);
}

/* The port numbers at the start of the datagram's TCP header. */
static void
first_ports(const uint8_t *p, uint32_t len, uint8_t proto,
    struct iw_frag_out *out)
{
	if (proto != 6 || len < 4)
		return;
	out->sport = (uint16_t)(p[0] << 8 | p[1]);
	out->dport = (uint16_t)(p[2] << 8 | p[3]);
	out->have_ports = true;
}

/* The datagram is dropped: its fragments overlap. */
static enum iw_frag_status
overlap(struct dgram *d, uint32_t off, const uint8_t *data, uint32_t len,
    uint8_t next_proto, struct iw_frag_out *out)
{
	iw_stats.bad[IW_BAD_FRAG_OVERLAP]++;
	iw_stats.frag_overlap_dropped++;
	if (d->nruns > 0 && d->runs[0].start == 0)
		first_ports(d->buf, d->runs[0].end, d->next_proto, out);
	else if (off == 0)
		first_ports(data, len, next_proto, out);
	drop_dgram(d);
	return IW_FRAG_OVERLAP;
}

/* Where the last fragment says the datagram ends: right or not. */
static bool
consistent_end(struct dgram *d, uint32_t end, bool more)
{
	if (!more) {
		if (end < d->max_end || (d->have_last && end != d->total))
			return false;
		d->have_last = true;
		d->total = end;
		return true;
	}
	return !(d->have_last && end > d->total);
}

static bool
complete(const struct dgram *d)
{
	return d->have_last && d->nruns > 0 && d->runs[0].start == 0 &&
	    d->received == d->total;
}

enum iw_frag_status
iw_frag_add(const struct iw_frag_key *k, uint32_t off, const uint8_t *data,
    uint32_t len, bool more, uint8_t next_proto, iw_time now,
    struct iw_frag_out *out)
{
	struct dgram *d;
	uint32_t end = off + len;

	memset(out, 0, sizeof(*out));
	if (n_done == MAX_DONE)
		return IW_FRAG_DROPPED;
	if ((uint64_t)off + len > MAX_DGRAM ||
	    (more && (len == 0 || len % 8 != 0))) {
		iw_stats.bad[IW_BAD_FRAG_TOO_BIG]++;
		return IW_FRAG_DROPPED;
	}
	if ((d = find_or_create(k, now)) == NULL)
		return IW_FRAG_DROPPED;
	if (!consistent_end(d, end, more)) {
		iw_stats.bad[IW_BAD_FRAG_INCONSISTENT]++;
		return IW_FRAG_DROPPED;
	}
	if (len == 0)
		return IW_FRAG_HELD;	/* an empty last fragment: its end */
	switch (insert_run(d, off, end)) {
	case DUPLICATE:
		iw_stats.frag_duplicates++;
		return IW_FRAG_HELD;
	case OVERLAP:
		return overlap(d, off, data, len, next_proto, out);
	case SCATTERED:
		iw_stats.bad[IW_BAD_FRAG_SCATTERED]++;
		drop_dgram(d);
		return IW_FRAG_DROPPED;
	case NO_MEMORY:
		return IW_FRAG_DROPPED;
	case INSERTED:
		break;
	}
	if (end > d->max_end)
		d->max_end = end;
	if (!grow(d, end)) {
		/* the run says these bytes came: they cannot be kept */
		drop_dgram(d);
		return IW_FRAG_DROPPED;
	}
	memcpy(d->buf + off, data, len);
	d->received += len;
	if (off == 0)
		d->next_proto = next_proto;
	if (!complete(d))
		return IW_FRAG_HELD;
	out->data = d->buf;
	out->len = d->total;
	out->next_proto = d->next_proto;
	done[n_done++] = d->buf;
	d->buf = NULL;
	drop_dgram(d);		/* also gives back its memory */
	return IW_FRAG_DONE;
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
