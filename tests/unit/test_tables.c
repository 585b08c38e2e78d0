/* SPDX-License-Identifier: ISC */
/*
 * test_tables.c - the keyed tables cap their chains (issue 9).
 *
 * Under a random key nothing on the wire can fill one bucket, so the cap
 * is for bad luck; to reach it, this test finds keys that share a bucket
 * under this process's key by trying many, through the same iw_hash_*
 * functions the tables use.  Filling a chain past its cap must make it
 * give up its least recently used entry, counted, never grow longer.
 */
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "flow.h"
#include "harness.h"
#include "memo.h"
#include "packet.h"
#include "siphash.h"
#include "stats.h"

#define MEMO_BUCKETS	64	/* iw_memo_new's for a cap of 64 */
#define MEMO_CHAIN	16
#define FLOW_BUCKETS	4096	/* the flow table's first size */
#define FLOW_CHAIN	32
#define FRAG_BUCKETS	16384
#define FRAG_CHAIN	16

/* n memo keys (8 bytes) that share one bucket. */
static void
memo_keys(uint64_t *keys, int n)
{
	uint64_t k, want = iw_hash_bytes("\0\0\0\0\0\0\0\0", 8) &
	    (MEMO_BUCKETS - 1);
	int i = 0;

	for (k = 1; i < n; k++)
		if ((iw_hash_bytes(&k, 8) & (MEMO_BUCKETS - 1)) == want)
			keys[i++] = k;
}

static void
memo_chain(void)
{
	struct iw_memo *m = iw_memo_new(64, 8, 8);
	uint64_t keys[MEMO_CHAIN + 2];
	int i, present = 0;

	memo_keys(keys, MEMO_CHAIN + 2);
	for (i = 0; i < MEMO_CHAIN; i++)
		iw_memo_put(m, &keys[i]);
	iw_memo_get(m, &keys[0]);		/* the oldest, used again */
	iw_memo_put(m, &keys[MEMO_CHAIN]);
	CHECK(iw_stats.tables[IW_TABLE_MEMO].chain_evictions == 1,
	    "memo: a 17th key in a full chain evicts one (%llu)",
	    (unsigned long long)iw_stats.tables[IW_TABLE_MEMO].
	    chain_evictions);
	CHECK(iw_memo_get(m, &keys[0]) != NULL &&
	    iw_memo_get(m, &keys[1]) == NULL,
	    "memo: the least recently used of the chain went, not the "
	    "oldest put");
	for (i = 0; i <= MEMO_CHAIN; i++)
		present += iw_memo_get(m, &keys[i]) != NULL;
	CHECK(present == MEMO_CHAIN, "memo: the chain holds %d (%d)",
	    MEMO_CHAIN, present);
	CHECK(iw_stats.tables[IW_TABLE_MEMO].longest_chain <= MEMO_CHAIN,
	    "memo: no lookup walked more than %d (%llu)", MEMO_CHAIN,
	    (unsigned long long)iw_stats.tables[IW_TABLE_MEMO].longest_chain);
	iw_memo_free(m);
}

/* Client i: 10.0.(i >> 16).(i >> 8 & 255), port 1024 + (i & 255). */
static void
client(uint32_t i, struct iw_addr *a, uint16_t *port)
{
	iw_addr_parse("10.0.0.0", a);
	a->a[14] = (uint8_t)(i >> 16);
	a->a[15] = (uint8_t)(i >> 8);
	*port = (uint16_t)(1024 + (i & 255));
}

/* A SYN (or FIN) from client i to 192.0.2.143:143. */
static void
packet(struct iw_packet *pk, uint32_t i, uint8_t flags, iw_time ts)
{
	memset(pk, 0, sizeof(*pk));
	client(i, &pk->src, &pk->sport);
	iw_addr_parse("192.0.2.143", &pk->dst);
	pk->dport = 143;
	pk->flags = flags;
	pk->seq = i;
	pk->ts = ts;
	pk->ipver = 4;
}

static void
flow_chain(void)
{
	uint32_t clients[FLOW_CHAIN + 1], want = 0, p;
	struct iw_packet pk;
	struct iw_flow *f;
	struct iw_addr c, s;
	enum iw_dir dir;
	int i = 0, found = 0;
	uint16_t cport;

	iw_addr_parse("192.0.2.143", &s);
	for (p = 0; p < (1u << 24) && i <= FLOW_CHAIN; p++) {
		client(p, &c, &cport);
		if (p == 0)
			want = (uint32_t)iw_hash_endpoints(&c, cport, &s, 143) &
			    (FLOW_BUCKETS - 1);
		if (((uint32_t)iw_hash_endpoints(&c, cport, &s, 143) &
		    (FLOW_BUCKETS - 1)) == want)
			clients[i++] = p;
	}
	if (!CHECK(i == FLOW_CHAIN + 1, "flows: %d clients in one bucket "
	    "found", FLOW_CHAIN + 1))
		return;
	iw_flows_init();
	for (i = 0; i <= FLOW_CHAIN; i++) {
		packet(&pk, clients[i], IW_TH_SYN, (iw_time)(i + 1) * IW_USEC);
		if ((f = iw_flow_get(&pk, &dir)) != NULL)
			iw_flow_packet(f, dir, &pk);
	}
	CHECK(iw_stats.tables[IW_TABLE_FLOWS].chain_evictions == 1 &&
	    iw_stats.flows_evicted == 1,
	    "flows: a 33rd flow in a full chain evicts one, counted");
	CHECK(iw_stats.tables[IW_TABLE_FLOWS].longest_chain <= FLOW_CHAIN,
	    "flows: no lookup walked more than %d (%llu)", FLOW_CHAIN,
	    (unsigned long long)iw_stats.tables[IW_TABLE_FLOWS].longest_chain);
	/* a FIN finds a flow held but never makes one */
	for (i = 0; i <= FLOW_CHAIN; i++) {
		packet(&pk, clients[i], IW_TH_FIN | IW_TH_ACK, 100 * IW_USEC);
		found += iw_flow_get(&pk, &dir) != NULL;
	}
	packet(&pk, clients[0], IW_TH_FIN | IW_TH_ACK, 100 * IW_USEC);
	CHECK(found == FLOW_CHAIN && iw_flow_get(&pk, &dir) == NULL,
	    "flows: the least recently active went, the other %d stay",
	    FLOW_CHAIN);
	iw_flows_shutdown(200 * IW_USEC);
}

static uint32_t
frag_bucket(const struct iw_frag_key *k)
{
	return iw_frag_key_hash(k) & (FRAG_BUCKETS - 1);
}

static void
frag_chain(void)
{
	static const uint8_t data[16];
	struct iw_frag_key k;
	struct iw_frag_out out;
	uint32_t want, id;
	int n = 0;

	memset(&k, 0, sizeof(k));
	iw_addr_parse("2001:db8::1", &k.src);
	iw_addr_parse("2001:db8::143", &k.dst);
	k.version = 6;
	want = frag_bucket(&k);
	for (id = 1; n <= FRAG_CHAIN; id++) {
		k.id = id;
		if (frag_bucket(&k) != want)
			continue;
		iw_frag_add(&k, 0, data, sizeof(data), true, 6,
		    (iw_time)(n + 1) * IW_USEC, &out);
		n++;
	}
	CHECK(iw_stats.tables[IW_TABLE_FRAGMENTS].chain_evictions == 1 &&
	    iw_stats.frag_evicted == 1,
	    "fragments: a 17th datagram in a full chain evicts the oldest, "
	    "counted");
	CHECK(iw_stats.tables[IW_TABLE_FRAGMENTS].longest_chain <=
	    FRAG_CHAIN, "fragments: no lookup walked more than %d (%llu)",
	    FRAG_CHAIN, (unsigned long long)iw_stats.tables[
	    IW_TABLE_FRAGMENTS].longest_chain);
	iw_frag_shutdown();
}

int
main(void)
{
	th_init();
	memo_chain();
	flow_chain();
	frag_chain();
	return th_done();
}
