/* SPDX-License-Identifier: ISC */
/*
 * atk_pipelined_commands.c - one cleartext IMAP connection whose client
 * pipelines `scale` NOOPs before the server answers any: the parser keeps
 * 64 outstanding commands, forgets the oldest (counted) and says so once
 * (imap_too_many_outstanding_commands).  Then the server answers them all.
 *
 * Control: the same commands and answers, the same bytes, but in turns of
 * 32 commands and their 32 answers.
 */
#include <stdio.h>
#include <string.h>

#include "hostile.h"

#define TURN	32
#define SEG	1448

static const char greeting[] =
    "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready.\r\n";

struct batcher {
	struct pw_file	*w;
	struct pw_conn	*k;
	enum pw_dir	 d;
	uint8_t		 buf[SEG];
	size_t		 len;
};

static void
flush(struct batcher *b)
{
	if (b->len > 0)
		pw_send(b->w, b->k, b->d, b->buf, b->len);
	b->len = 0;
}

static void
add(struct batcher *b, const char *s, int n)
{
	if (b->len + (size_t)n > sizeof(b->buf))
		flush(b);
	memcpy(b->buf + b->len, s, (size_t)n);
	b->len += (size_t)n;
}

static void
commands(struct batcher *b, uint64_t from, uint64_t to)
{
	char line[48];
	uint64_t i;

	for (i = from; i < to; i++)
		add(b, line, snprintf(line, sizeof(line), "p%llu NOOP\r\n",
		    (unsigned long long)i));
	flush(b);
}

static void
answers(struct batcher *b, uint64_t from, uint64_t to)
{
	char line[64];
	uint64_t i;

	for (i = from; i < to; i++)
		add(b, line, snprintf(line, sizeof(line),
		    "p%llu OK NOOP completed\r\n", (unsigned long long)i));
	flush(b);
}

static void
generate(struct pw_file *w, const struct hostile_run *r)
{
	static struct batcher cb, sb;
	struct pw_end c, s;
	struct pw_conn k;
	uint64_t i, n;

	pw_v4(&c, "10.7.0.1", 40001);
	pw_v4(&s, "192.0.2.143", 143);
	pw_open_imap(w, &k, &c, &s, 0x13000000, greeting);
	cb = (struct batcher){ .w = w, .k = &k, .d = PW_C2S };
	sb = (struct batcher){ .w = w, .k = &k, .d = PW_S2C };
	if (r->control) {
		for (i = 0; i < r->scale; i += n) {
			n = r->scale - i < TURN ? r->scale - i : TURN;
			commands(&cb, i, i + n);
			answers(&sb, i, i + n);
		}
	} else {
		commands(&cb, 0, r->scale);
		answers(&sb, 0, r->scale);
	}
	pw_close_conn(w, &k);
	pw_victim_last(w, NULL, NULL);
}

const struct attack atk_pipelined_commands = {
	.name = "pipelined_commands",
	.default_scale = 1000000,
	.imapwatch_args = "",
	.counters = "memory.flows_peak,tcp.bytes_delivered",
	.description = "commands pipelined without waiting for answers "
	    "(scale: commands)",
	.generate = generate,
};
