/* SPDX-License-Identifier: ISC */
/*
 * atk_held_segments.c - connections whose client sends its first byte
 * last: 10,000 one-byte segments come out of order, in ascending order,
 * ahead of a one-byte hole; then the byte that fills the hole, then a
 * LOGIN in order (user HELD_USER), which the server acknowledges.
 *
 * The sensor holds at most 4,096 segments a direction.  Beyond that they
 * were dropped without a counter, the byte that fills the hole too, so
 * the stream stalled until the server's ACK turned everything into a gap,
 * LOGIN included; and each ascending insertion walked the whole list
 * (issue 9, attack 4).
 *
 * Control: the same frames with the first byte sent first: every segment
 * is in order.
 */
#include <stdio.h>
#include <string.h>

#include "hostile.h"

#define SEGS_PER_CONN	10000
#define HELD_USER	"held"
#define HELD_PASS	"held-secret-4"

static const char greeting[] =
    "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready.\r\n";
static const char login[] = "h1 LOGIN " HELD_USER " " HELD_PASS "\r\n";
static const char ok[] = "h1 OK Logged in\r\n";

/* Pipelined NOOPs, the bytes the one-byte segments carry. */
static void
fill_noops(uint8_t *buf, size_t len)
{
	size_t n = 0;
	unsigned tag = 0;
	char line[32];
	int k;

	while (n < len) {
		k = snprintf(line, sizeof(line), "n%u NOOP\r\n", tag++);
		if ((size_t)k > len - n)
			k = (int)(len - n);
		memcpy(buf + n, line, (size_t)k);
		n += (size_t)k;
	}
}

static void
connection(struct pw_file *w, const struct hostile_run *r, uint64_t i,
    uint32_t segs, const struct pw_end *srv)
{
	static uint8_t bytes[SEGS_PER_CONN + 1];
	struct pw_conn k;
	struct pw_end c;
	uint32_t j;

	pw_client_n(&c, 1, i);
	pw_open_imap(w, &k, &c, srv, (uint32_t)(i * 2654435761u), greeting);
	fill_noops(bytes, (size_t)segs + 1);
	if (r->control)
		pw_seg_at(w, &k, PW_C2S, 0, bytes, 1);
	for (j = 1; j <= segs; j++)
		pw_seg_at(w, &k, PW_C2S, j, bytes + j, 1);
	if (!r->control)
		pw_seg_at(w, &k, PW_C2S, 0, bytes, 1);	/* fills the hole */
	pw_seq_skip(&k, PW_C2S, segs + 1);
	pw_send(w, &k, PW_C2S, login, sizeof(login) - 1);
	pw_send(w, &k, PW_S2C, ok, sizeof(ok) - 1);	/* acks it all */
	pw_close_conn(w, &k);
}

static void
generate(struct pw_file *w, const struct hostile_run *r)
{
	struct pw_end srv;
	uint64_t i, left = r->scale;

	pw_v4(&srv, "192.0.2.143", 143);
	for (i = 0; left > 0; i++) {
		uint32_t n = left > SEGS_PER_CONN ? SEGS_PER_CONN :
		    (uint32_t)left;

		connection(w, r, i, n, &srv);
		left -= n;
	}
	pw_victim_last(w, NULL, NULL);
}

const struct attack atk_held_segments = {
	.name = "held_segments",
	.default_scale = 1000000,
	.imapwatch_args = "",
	.counters = "tcp.out_of_order,tcp.reassembly_segments_dropped,"
	    "tcp.gaps,sessions.findings.cleartext_login",
	.description = "10,000 one-byte segments a connection held behind a "
	    "one-byte hole, then a LOGIN (scale: segments)",
	.generate = generate,
};
