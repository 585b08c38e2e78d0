/* SPDX-License-Identifier: ISC */
/*
 * atk_one_byte_segments.c - one cleartext IMAP connection whose client
 * sends `scale` bytes one segment each, all in order, as command lines of
 * 8,000 bytes (just under the parser's 8 KiB line limit: the longest line
 * held and scanned again as each byte arrives).
 *
 * Control: the same one-byte segments carrying printable lines of random
 * length (1 to 80 bytes).
 */
#include <string.h>

#include "hostile.h"

#define LINE	8000

static const char greeting[] =
    "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready.\r\n";

static uint8_t
next_byte(const struct hostile_run *r, uint64_t i, uint64_t *rng,
    size_t *left)
{
	if (!r->control) {
		size_t at = (size_t)(i % LINE);

		if (at < 8)
			return (uint8_t)"o1 NOOP "[at];
		return at == LINE - 2 ? '\r' : at == LINE - 1 ? '\n' : 'x';
	}
	if (*left == 0) {
		*left = 1 + pw_rand(rng) % 80;
		return '\n';
	}
	(*left)--;
	return (uint8_t)('a' + pw_rand(rng) % 26);
}

static void
generate(struct pw_file *w, const struct hostile_run *r)
{
	struct pw_end c, s;
	struct pw_conn k;
	uint64_t i, rng = r->seed;
	size_t left = 20;
	uint8_t b;

	pw_v4(&c, "10.8.0.1", 40001);
	pw_v4(&s, "192.0.2.143", 143);
	pw_open_imap(w, &k, &c, &s, 0x15000000, greeting);
	for (i = 0; i < r->scale; i++) {
		b = next_byte(r, i, &rng, &left);
		pw_send(w, &k, PW_C2S, &b, 1);
	}
	pw_close_conn(w, &k);
	pw_victim_last(w, NULL, NULL);
}

const struct attack atk_one_byte_segments = {
	.name = "one_byte_segments",
	.default_scale = 10000000,
	.imapwatch_args = "",
	.counters = "tcp.segments,tcp.bytes_delivered,memory.flows_peak",
	.description = "every byte of 8 KB command lines in a segment of its "
	    "own (scale: segments)",
	.generate = generate,
};
