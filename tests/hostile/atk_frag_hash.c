/* SPDX-License-Identifier: ISC */
/*
 * atk_frag_hash.c - issue 9, attack 2: hash flooding of the fragment
 * table.
 *
 * Until it was keyed, key_hash() (analyzer/ipfrag.c) read only the IP id
 * and the last two bytes of each address: first fragments with one id
 * from sources that differ anywhere else all fell in one of its 1024
 * buckets, and every new one walked the whole chain of the 8192 held (1 M
 * took 100 s instead of 0.8).
 *
 * Attack: IPv6 first fragments (offset 0, more to come, never completed)
 * with one id, from 2001:db8:G:H::1 to 2001:db8::143.  Control: the same
 * with random ids.  Either way the table is full and evicts the oldest.
 */
#include <string.h>

#include "hostile.h"

#define FRAG_ID		0x00c0ffee

static void
generate(struct pw_file *w, const struct hostile_run *r)
{
	struct pw_end src, dst;
	uint8_t seg[20 + 64];
	uint64_t rng = r->seed, i;
	struct pw_frag fr;
	struct pw_seg g;

	pw_v6(&src, "2001:db8::1", 40000);
	pw_v6(&dst, "2001:db8::143", 143);
	memset(&g, 0, sizeof(g));
	g.from = &src;
	g.to = &dst;
	g.flags = TH_ACK | TH_PSH;
	g.payload = (const uint8_t *)"a0 NOOP\r\na1 NOOP\r\na2 NOOP\r\n";
	g.len = 27;
	memset(&fr, 0, sizeof(fr));
	fr.from = &src;
	fr.to = &dst;
	fr.proto = 6;
	fr.more = true;
	fr.data = seg;
	fr.len = 16;		/* a multiple of 8: the rest never comes */
	for (i = 0; i < r->scale; i++) {
		src.addr[4] = (uint8_t)(i >> 24);
		src.addr[5] = (uint8_t)(i >> 16);
		src.addr[6] = (uint8_t)(i >> 8);
		src.addr[7] = (uint8_t)i;
		g.seq = (uint32_t)pw_rand(&rng);
		pw_tcp_bytes(seg, &g);
		fr.id = r->control ? (uint32_t)pw_rand(&rng) : FRAG_ID;
		pw_ip_fragment(w, &fr);
	}
	pw_victim_last(w, NULL, NULL);
}

const struct attack atk_frag_hash = {
	.name = "frag_hash",
	.default_scale = 1000000,
	.imapwatch_args = "",
	.counters = "hash_tables.ip_fragments.longest_chain,"
	    "hash_tables.ip_fragments.chain_evictions,"
	    "capture.ip_fragments_evicted",
	.description = "IPv6 first fragments with one id, all in one bucket "
	    "of the unkeyed fragment hash (scale: fragments)",
	.generate = generate,
};
