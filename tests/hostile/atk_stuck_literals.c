/* SPDX-License-Identifier: ISC */
/*
 * atk_stuck_literals.c - cleartext IMAP connections whose client announces
 * a LOGIN literal (LITERAL+), sends part of it and then nothing more,
 * keeping the connection open with keep-alives: every session is stuck
 * inside a literal the parser reads for its value.  What they hold is
 * bounded by --flow-memory (the oldest are evicted, counted).
 *
 * Control: the same frames, each connection ending with FINs instead.
 */
#include <string.h>

#include "hostile.h"

static const char greeting[] =
    "* OK [CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN] ready.\r\n";
static const char stuck[] = "s1 LOGIN {64+}\r\nstuck-user-name-";

static void
connection(struct pw_file *w, const struct hostile_run *r, uint64_t i,
    const struct pw_end *srv)
{
	struct pw_conn k;
	struct pw_end c;

	pw_client_n(&c, 5, i);
	pw_open_imap(w, &k, &c, srv, (uint32_t)(i * 2654435761u), greeting);
	pw_send(w, &k, PW_C2S, stuck, sizeof(stuck) - 1);
	pw_linger(w, &k, r->control);
}

static void
generate(struct pw_file *w, const struct hostile_run *r)
{
	struct pw_end srv;
	uint64_t i;

	pw_v4(&srv, "192.0.2.143", 143);
	for (i = 0; i < r->scale; i++)
		connection(w, r, i, &srv);
	pw_victim_last(w, NULL, NULL);
}

const struct attack atk_stuck_literals = {
	.name = "stuck_literals",
	.default_scale = 200000,
	.imapwatch_args = "",
	.counters = "tcp.flows_evicted_memory,memory.flows_peak",
	.description = "connections stuck inside a LOGIN literal "
	    "(scale: connections)",
	.generate = generate,
};
