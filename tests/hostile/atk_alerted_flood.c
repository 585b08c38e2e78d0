/* SPDX-License-Identifier: ISC */
/*
 * atk_alerted_flood.c - issue 9, item 9: --write-alerted kept one entry
 * per alerted connection until the end of the run (in two passes, for
 * the second): 2 M alerting connections cost 340 MB more.  At most
 * IW_ALERTED_MAX_FLOWS (262144) are held now, the least recently active
 * forgotten past that, counted.
 *
 * Attack: one server greeting each, picked up mid-stream, whose
 * capabilities lack STARTTLS: every connection alerts
 * (starttls_not_offered).  Control: the same greetings offering STARTTLS
 * and LOGINDISABLED, which raise nothing.
 */
#include <string.h>

#include "hostile.h"

static const char lacking[] =
    "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN ID IDLE] mail ready.\r\n";
static const char offering[] =
    "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] mail ready.\r\n";

static void
generate(struct pw_file *w, const struct hostile_run *r)
{
	struct pw_end srv, c;
	uint64_t rng = r->seed, i, v;
	const char *greeting = r->control ? offering : lacking;
	struct pw_seg g;

	pw_v4(&srv, "192.0.2.143", 143);
	memset(&g, 0, sizeof(g));
	g.from = &srv;
	g.to = &c;
	g.flags = TH_ACK | TH_PSH;
	g.payload = (const uint8_t *)greeting;
	g.len = strlen(greeting);
	for (i = 0; i < r->scale; i++) {
		v = pw_rand(&rng);
		pw_client_v4(&c, v);
		g.seq = (uint32_t)v;
		g.ack = (uint32_t)(v >> 32);
		pw_tcp(w, &g);
	}
	pw_victim_last(w, NULL, NULL);
}

const struct attack atk_alerted_flood = {
	.name = "alerted_flood",
	.default_scale = 2000000,
	.imapwatch_args = "--write-alerted /dev/null --flow-memory 256M",
	.counters = "write_alerted.alerted_flows,write_alerted.flows_evicted,"
	    "write_alerted.alerted_flows_evicted",
	.description = "greetings without STARTTLS, one a connection: "
	    "every connection alerts (scale: connections)",
	.generate = generate,
};
