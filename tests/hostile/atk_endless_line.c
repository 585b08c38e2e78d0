/* SPDX-License-Identifier: ISC */
/*
 * atk_endless_line.c - one cleartext IMAP connection whose client sends
 * `scale` bytes of a single command line that never ends (no LF).  The
 * parser keeps the line's prefix, discards the rest as it comes and says
 * so once (imap_line_too_long).
 *
 * Control: the same bytes in the same segments, as printable lines of
 * random length (1 to 200 bytes) and random letters.
 */
#include <string.h>

#include "hostile.h"

#define CHUNK	(64 * 1024)

static const char greeting[] =
    "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready.\r\n";

static void
random_lines(uint8_t *buf, size_t len, uint64_t *rng, size_t *left)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (*left == 0) {
			*left = 1 + pw_rand(rng) % 200;
			buf[i] = '\n';
			continue;
		}
		buf[i] = (uint8_t)('a' + pw_rand(rng) % 26);
		if (pw_rand(rng) % 6 == 0)
			buf[i] = ' ';
		(*left)--;
	}
}

static void
generate(struct pw_file *w, const struct hostile_run *r)
{
	static uint8_t buf[CHUNK];
	struct pw_end c, s;
	struct pw_conn k;
	uint64_t sent = 0, rng = r->seed;
	size_t left = 20;

	pw_v4(&c, "10.6.0.1", 40001);
	pw_v4(&s, "192.0.2.143", 143);
	pw_open_imap(w, &k, &c, &s, 0x11000000, greeting);
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, "e1 NOOP ", 8);
	while (sent < r->scale) {
		size_t n = r->scale - sent < CHUNK ? (size_t)(r->scale - sent) :
		    CHUNK;

		if (r->control)
			random_lines(buf, n, &rng, &left);
		pw_send(w, &k, PW_C2S, buf, n);
		if (sent == 0)
			buf[0] = buf[1] = 'x';	/* one command, then more */
		sent += n;
	}
	pw_close_conn(w, &k);
	pw_victim_last(w, NULL, NULL);
}

const struct attack atk_endless_line = {
	.name = "endless_line",
	.default_scale = 100000000,
	.imapwatch_args = "",
	.counters = "memory.flows_peak,tcp.bytes_delivered",
	.description = "one command line without an end (scale: bytes)",
	.generate = generate,
};
