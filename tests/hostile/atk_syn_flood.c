/* SPDX-License-Identifier: ISC */
/*
 * atk_syn_flood.c - SYNs from random IPv4 sources and ports to one IMAP
 * server, never answered: every one opens a half-open flow that has to be
 * timed out or evicted (--max-flows).
 *
 * Control: the same number of frames of the same size, from as many
 * clients with random addresses and ports, as ordinary connections (a
 * handshake and two ACKs, five frames each): as many flows, each made
 * once, so that what is compared is the cost of half-open flows that are
 * never answered and must be evicted, not the cost of having flows at all
 * (an earlier control sent everything over 1,000 connections that stayed
 * in cache, and made the flood look 5.5 times dearer than it is).
 */
#include <string.h>

#include "hostile.h"

#define CONTROL_FRAMES_PER_CONN 5

static void
flood(struct pw_file *w, const struct hostile_run *r, const struct pw_end *srv)
{
	uint64_t rng = r->seed, i;
	struct pw_end c;
	struct pw_seg g;

	memset(&g, 0, sizeof(g));
	g.from = &c;
	g.to = srv;
	g.flags = TH_SYN;
	for (i = 0; i < r->scale; i++) {
		uint64_t v = pw_rand(&rng);

		memset(&c, 0, sizeof(c));
		c.addr[0] = 10;		/* 10.0.0.0/8, never routed here */
		c.addr[1] = (uint8_t)(v >> 8);
		c.addr[2] = (uint8_t)(v >> 16);
		c.addr[3] = (uint8_t)(v >> 24);
		c.port = (uint16_t)(1024 + (v >> 32) % 64511);
		g.seq = (uint32_t)(v >> 32);
		g.ip_id = (uint16_t)v;
		pw_tcp(w, &g);
	}
}

static void
control(struct pw_file *w, const struct hostile_run *r,
    const struct pw_end *srv)
{
	uint64_t rng = r->seed ^ 0x5eed, i, n;
	struct pw_conn k;
	struct pw_end c;
	struct pw_seg g;

	n = r->scale / CONTROL_FRAMES_PER_CONN;
	if (n == 0)
		n = 1;
	memset(&g, 0, sizeof(g));
	g.flags = TH_ACK;
	for (i = 0; i < n; i++) {
		uint64_t v = pw_rand(&rng);

		memset(&c, 0, sizeof(c));
		c.addr[0] = 10;
		c.addr[1] = (uint8_t)(v >> 8);
		c.addr[2] = (uint8_t)(v >> 16);
		c.addr[3] = (uint8_t)(v >> 24);
		c.port = (uint16_t)(1024 + (v >> 32) % 64511);
		pw_conn_init(&k, &c, srv, (uint32_t)(v >> 32), (uint32_t)v);
		pw_handshake(w, &k);
		g.from = &k.c;
		g.to = &k.s;
		g.seq = k.cseq;
		g.ack = k.sseq;
		g.ip_id = k.ip_id++;
		pw_tcp(w, &g);
		g.ip_id = k.ip_id++;
		pw_tcp(w, &g);
	}
}

static void
generate(struct pw_file *w, const struct hostile_run *r)
{
	struct pw_end srv, vc, vs;

	pw_v4(&srv, "192.0.2.143", 143);
	if (r->control)
		control(w, r, &srv);
	else
		flood(w, r, &srv);
	pw_advance(w, 1000000);
	pw_v4(&vc, "192.0.2.10", 40000);
	pw_v4(&vs, "192.0.2.200", 143);
	pw_victim_session(w, &vc, &vs);
}

const struct attack atk_syn_flood = {
	.name = "syn_flood",
	.default_scale = 5000000,
	.imapwatch_args = "",
	.counters = "tcp.flows,tcp.flows_evicted,tcp.flows_timeout",
	.description = "SYNs from random sources, never answered "
	    "(scale: packets)",
	.generate = generate,
};
