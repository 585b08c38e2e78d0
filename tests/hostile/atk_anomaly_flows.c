/* SPDX-License-Identifier: ISC */
/*
 * atk_anomaly_flows.c - a million connections, picked up mid-stream, each
 * sending one segment and then a copy of it with other bytes, then a
 * reset: one anomaly per connection, so one-per-flow deduplication alone
 * still lets a million events through; a process-wide limit per kind in
 * packet time has to hold them back (issue 9, attack 6).
 *
 * Control: the same frames, but each copy carries the same bytes as the
 * original (a plain retransmission, no anomaly).
 */
#include <string.h>

#include "hostile.h"

/* One segment, a copy of it, a reset: one connection of anomaly_flows. */
static void
one_flow(struct pw_file *w, const struct hostile_run *r, uint64_t i,
    uint64_t *rng, const struct pw_end *srv)
{
	uint8_t data[16], copy[16];
	struct pw_end c;
	struct pw_seg g;
	uint64_t v = pw_rand(rng);

	pw_client_n(&c, 4, i);
	/* above every port taken for a server's when no handshake is seen */
	c.port = (uint16_t)(10000 + (v >> 32) % 50000);
	data[0] = 0;		/* neither IMAP nor TLS: no session event */
	for (size_t j = 1; j < sizeof(data); j++)
		data[j] = (uint8_t)(pw_rand(rng) >> 24);
	memcpy(copy, data, sizeof(copy));
	if (!r->control)
		copy[sizeof(copy) - 1] ^= 0x5a;
	memset(&g, 0, sizeof(g));
	g.from = &c;
	g.to = srv;
	g.seq = (uint32_t)v;
	g.ack = 1;
	g.flags = TH_ACK | TH_PSH;
	g.payload = data;
	g.len = sizeof(data);
	g.ip_id = 1;
	pw_tcp(w, &g);
	g.payload = copy;
	g.ip_id = 2;
	pw_tcp(w, &g);
	g.seq += sizeof(data);
	g.flags = TH_RST | TH_ACK;
	g.payload = NULL;
	g.len = 0;
	g.ip_id = 3;
	pw_tcp(w, &g);
}

static void
generate(struct pw_file *w, const struct hostile_run *r)
{
	struct pw_end srv;
	uint64_t i, rng = r->seed;

	pw_v4(&srv, "192.0.2.80", 8080);
	for (i = 0; i < r->scale; i++)
		one_flow(w, r, i, &rng, &srv);
	pw_victim_last(w, NULL, NULL);
}

const struct attack atk_anomaly_flows = {
	.name = "anomaly_flows",
	.default_scale = 1000000,
	.imapwatch_args = "",
	.counters = "tcp.overlaps_different_data,sessions.anomalies_repeated,"
	    "sessions.anomalies_rate_limited,events",
	.description = "connections each with one overlap of different data "
	    "(scale: connections)",
	.generate = generate,
};
