/* SPDX-License-Identifier: ISC */
/*
 * atk_idle_reassembly.c - tens of thousands of cleartext IMAP sessions
 * that exchange a greeting and one command each and then stay open, idle
 * (a keep-alive now and then), followed by the victim whose LOGIN comes
 * in two reordered segments.
 *
 * Each idle session makes the sensor keep, per direction, the ring of the
 * last bytes delivered (to compare retransmitted data).  Charged against
 * the global --reassembly-cap, some 65,000 of them used it up, and from
 * then on every out-of-order segment of every connection became a gap:
 * the victim's reordered LOGIN was never seen (issue 9, attack 3).
 *
 * Control: the same sessions, the same frames, but each ends with FINs
 * instead of keep-alives, so nothing stays held.
 */
#include <stdio.h>
#include <string.h>

#include "hostile.h"

static const char greeting[] =
    "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready.\r\n";
static const char capability[] = "a1 CAPABILITY\r\n";
static const char caps[] =
    "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na1 OK done\r\n";

static void
session(struct pw_file *w, const struct hostile_run *r, uint64_t i,
    const struct pw_end *srv)
{
	struct pw_conn k;
	struct pw_end c;

	pw_client_n(&c, 0, i);
	pw_open_imap(w, &k, &c, srv, (uint32_t)(i * 2654435761u), greeting);
	pw_send(w, &k, PW_C2S, capability, sizeof(capability) - 1);
	pw_send(w, &k, PW_S2C, caps, sizeof(caps) - 1);
	pw_linger(w, &k, r->control);
}

static void
generate(struct pw_file *w, const struct hostile_run *r)
{
	struct pw_end srv, vc, vs;
	uint64_t i;

	pw_v4(&srv, "192.0.2.143", 143);
	for (i = 0; i < r->scale; i++)
		session(w, r, i, &srv);
	pw_advance(w, 1000000);
	pw_v4(&vc, "192.0.2.10", 40000);
	pw_v4(&vs, "192.0.2.200", 143);
	pw_victim_session_split(w, &vc, &vs);
}

const struct attack atk_idle_reassembly = {
	.name = "idle_reassembly",
	.default_scale = 70000,
	.imapwatch_args = "",
	.counters = "tcp.reassembly_cap_hits,tcp.reassembly_holders_evicted,"
	    "tcp.flows_evicted_memory,memory.flows_peak",
	.description = "idle cleartext sessions, then the victim's LOGIN in "
	    "two reordered segments (scale: sessions)",
	.generate = generate,
};
