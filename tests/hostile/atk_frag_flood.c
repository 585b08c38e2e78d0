/* SPDX-License-Identifier: ISC */
/*
 * atk_frag_flood.c - issue 9: a flood of fragments never completed,
 * which already holds: at most 8192 datagrams are held (and
 * --frag-memory, 30 s), the oldest evicted and counted.
 *
 * Attack: IPv4 first fragments with random sources and ids, the rest
 * never sent.  Control: the same number of fragments making whole
 * datagrams, two each, of segments on 1000 established connections.
 */
#include <string.h>

#include "hostile.h"

#define CONNS	1000

static const char noops[] = "a0 NOOP\r\na1 NOOP\r\n";

static void
fragment_pair(struct pw_file *w, struct pw_conn *k, bool whole)
{
	static uint8_t seg[20 + sizeof(noops)];
	struct pw_frag fr;
	struct pw_seg g;
	size_t n;

	pw_client_seg(&g, k, noops, sizeof(noops) - 1);
	n = pw_tcp_bytes(seg, &g);
	memset(&fr, 0, sizeof(fr));
	fr.from = &k->c;
	fr.to = &k->s;
	fr.id = k->ip_id++;
	fr.proto = 6;
	fr.more = true;
	fr.data = seg;
	fr.len = 24;
	pw_ip_fragment(w, &fr);
	if (!whole)
		return;
	fr.offset = 24;
	fr.more = false;
	fr.data = seg + 24;
	fr.len = n - 24;
	pw_ip_fragment(w, &fr);
	k->cseq += (uint32_t)g.len;
}

static void
generate(struct pw_file *w, const struct hostile_run *r)
{
	static struct pw_conn conns[CONNS];
	uint64_t rng = r->seed, i;
	struct pw_end srv, c;
	struct pw_conn k;

	pw_v4(&srv, "192.0.2.143", 143);
	if (!r->control) {
		for (i = 0; i < r->scale; i++) {
			pw_client_v4(&c, pw_rand(&rng));
			pw_conn_init(&k, &c, &srv, (uint32_t)pw_rand(&rng), 1);
			k.ip_id = (uint16_t)pw_rand(&rng);
			fragment_pair(w, &k, false);
		}
	} else {
		for (i = 0; i < CONNS; i++) {
			pw_client_v4(&c, pw_rand(&rng));
			pw_conn_init(&conns[i], &c, &srv,
			    (uint32_t)pw_rand(&rng), 1);
			pw_handshake(w, &conns[i]);
		}
		for (i = 3 * CONNS; i + 1 < r->scale; i += 2)
			fragment_pair(w, &conns[i % CONNS], true);
	}
	pw_victim_last(w, NULL, NULL);
}

const struct attack atk_frag_flood = {
	.name = "frag_flood",
	.default_scale = 1000000,
	.imapwatch_args = "",
	.counters = "capture.ip_fragments_evicted,"
	    "capture.ip_fragments_reassembled,memory.peak_rss",
	.description = "IPv4 first fragments never completed, random "
	    "sources and ids (scale: fragments)",
	.generate = generate,
};
