/* SPDX-License-Identifier: ISC */
/*
 * atk_holes_held.c - connections that each hold a megabyte out of order
 * behind a one-byte hole that is never filled, enough to fill
 * --reassembly-cap, topped up to the byte by connections holding 512 KiB,
 * 256 KiB, ... 1 byte (each either fits or is cut whole), and the
 * victim's LOGIN in two reordered segments in the middle of them: its
 * password half comes while the cap is full, then more such connections
 * arrive (leaving the victim the least recently active holder), then its
 * user name half.
 *
 * The global cap used to cut whoever asked for room when it was full:
 * the victim's held half became a gap and its LOGIN was never seen
 * (issue 9, attack 3).  Now the least recently active large holders give
 * up their holes first, and a direction holding little has a reserve no
 * large holder can take.
 *
 * Control: the same frames with each connection's first byte sent first:
 * everything in order, nothing held.
 */
#include <string.h>

#include "hostile.h"

#define HELD		1000000		/* bytes each connection holds */

static const char greeting[] =
    "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready.\r\n";
static const char login[] = "a1 LOGIN " VICTIM_USER " " VICTIM_PASS "\r\n";
#define SPLIT	(sizeof("a1 LOGIN " VICTIM_USER) - 1)

static void
holder(struct pw_file *w, const struct hostile_run *r, uint64_t i,
    uint32_t held, const struct pw_end *srv)
{
	static uint8_t bytes[HELD + 1];
	struct pw_conn k;
	struct pw_end c;
	uint32_t off;

	if (bytes[0] == 0)
		memset(bytes, 'x', sizeof(bytes));
	pw_client_n(&c, 9, i);
	pw_open_imap(w, &k, &c, srv, (uint32_t)(i * 2654435761u), greeting);
	if (r->control)
		pw_seg_at(w, &k, PW_C2S, 0, bytes, 1);
	for (off = 1; off <= held; off += 1448)
		pw_seg_at(w, &k, PW_C2S, off, bytes + off,
		    held + 1 - off < 1448 ? held + 1 - off : 1448);
	if (!r->control) {
		/* keep-alives: the server still acknowledges only up to the
		 * hole, so nothing says the hole was lost */
		pw_linger(w, &k, false);
		return;
	}
	pw_seq_skip(&k, PW_C2S, held + 1);
	pw_close_conn(w, &k);
}

static void
generate(struct pw_file *w, const struct hostile_run *r)
{
	static const char ok[] = "a1 OK Logged in\r\n";
	struct pw_end srv, vc, vs;
	struct pw_conn v;
	uint64_t i, n;
	uint32_t top;

	pw_v4(&srv, "192.0.2.143", 143);
	pw_v4(&vc, "192.0.2.10", 40000);
	pw_v4(&vs, "192.0.2.200", 143);
	for (i = 0; i < r->scale; i++)
		holder(w, r, i, HELD, &srv);
	for (top = 1u << 19; top > 0; top >>= 1)
		holder(w, r, i++, top, &srv);
	pw_open_imap(w, &v, &vc, &vs, 0x30000000, greeting);
	pw_seg_at(w, &v, PW_C2S, SPLIT, login + SPLIT, sizeof(login) - 1 -
	    SPLIT);
	for (n = i + r->scale / 2; i < n; i++)
		holder(w, r, i, HELD, &srv);
	pw_seg_at(w, &v, PW_C2S, 0, login, SPLIT);
	pw_seq_skip(&v, PW_C2S, sizeof(login) - 1);
	pw_send(w, &v, PW_S2C, ok, sizeof(ok) - 1);
	pw_close_conn(w, &v);
}

const struct attack atk_holes_held = {
	.name = "holes_held",
	.default_scale = 300,
	.imapwatch_args = "",
	.counters = "tcp.reassembly_cap_hits,tcp.reassembly_holders_evicted,"
	    "tcp.reassembly_bytes_peak,memory.flows_peak",
	.description = "connections holding 1 MB each behind a hole, around "
	    "the victim's reordered LOGIN (scale: connections before it)",
	.generate = generate,
};
