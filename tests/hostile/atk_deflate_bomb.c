/* SPDX-License-Identifier: ISC */
/*
 * atk_deflate_bomb.c - an IMAP session that turns on COMPRESS=DEFLATE
 * (RFC 4978), after which the server sends a deflate stream of `scale`
 * bytes that inflates about a thousandfold, into short untagged
 * responses the parser has to read one by one.
 *
 * Inflating it cost 2-5 s of CPU per GiB with no cap and no counter
 * (issue 9, attack 5).
 *
 * Control: the same number of compressed bytes of ordinary mail (FETCH
 * responses with message bodies of words), which inflate a few times.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "hostile.h"

#define BOMB_USER	"bomb"
#define BOMB_PASS	"bomb-secret-5"
#define CHUNK		(64 * 1024)

static const char greeting[] = "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN "
    "COMPRESS=DEFLATE] ready.\r\n";
static const char login[] = "b1 LOGIN " BOMB_USER " " BOMB_PASS "\r\n";
static const char logged[] = "b1 OK Logged in\r\n";
static const char compress_cmd[] = "b2 COMPRESS DEFLATE\r\n";
static const char deflating[] = "b2 OK DEFLATE active\r\n";

static const char *const words[] = {
	"the", "meeting", "is", "moved", "to", "Thursday", "and", "we",
	"will", "review", "budget", "for", "next", "quarter", "please",
	"send", "your", "notes", "before", "noon", "thanks", "regards",
	"project", "report", "attached", "see", "below", "a", "of", "in",
	"customer", "invoice", "order", "shipping", "delayed", "update",
	"schedule", "team", "lunch", "Friday", "office", "closed", "holiday",
	"password", "policy", "reminder", "security", "training", "deadline",
	"draft", "final", "version", "comments", "agenda", "minutes", "call",
	"conference", "room", "booked", "confirm", "availability", "travel",
	"expenses", "approved",
};

/* The next CHUNK bytes of what the server says, uncompressed. */
static size_t
bomb_text(uint8_t *buf)
{
	static const char line[] = "* 1 EXISTS\r\n";
	size_t n = 0;

	while (n + sizeof(line) - 1 <= CHUNK) {
		memcpy(buf + n, line, sizeof(line) - 1);
		n += sizeof(line) - 1;
	}
	return n;
}

/* A FETCH response with a message of 1 to 9 KB of words. */
static size_t
mail_text(uint8_t *buf, uint64_t *rng, unsigned *msg)
{
	char body[CHUNK / 2];
	size_t n, b, want = 1000 + pw_rand(rng) % 8000;

	b = (size_t)snprintf(body, sizeof(body), "From: a%u@example.test\r\n"
	    "To: team@example.test\r\nSubject: note %u\r\n\r\n", *msg, *msg);
	while (b < want) {
		uint64_t v = pw_rand(rng);

		b += (size_t)snprintf(body + b, sizeof(body) - b, "%s%s",
		    words[v % (sizeof(words) / sizeof(words[0]))],
		    (v >> 32) % 12 == 0 ? ".\r\n" : " ");
	}
	n = (size_t)snprintf((char *)buf, CHUNK, "* %u FETCH (BODY[] {%zu}\r\n",
	    ++*msg, b);
	memcpy(buf + n, body, b);
	n += b;
	memcpy(buf + n, ")\r\n", 3);
	return n + 3;
}

static void
send_compressed(struct pw_file *w, struct pw_conn *k, z_stream *z,
    const uint8_t *in, size_t len, int flush, uint64_t *wire)
{
	static uint8_t out[CHUNK];

	z->next_in = (Bytef *)(uintptr_t)in;
	z->avail_in = (uInt)len;
	do {
		z->next_out = out;
		z->avail_out = sizeof(out);
		deflate(z, flush);
		pw_send(w, k, PW_S2C, out, sizeof(out) - z->avail_out);
		*wire += sizeof(out) - z->avail_out;
	} while (z->avail_out == 0);
}

static void
generate(struct pw_file *w, const struct hostile_run *r)
{
	static uint8_t in[CHUNK];
	struct pw_end c, s;
	struct pw_conn k;
	uint64_t wire = 0, rng = r->seed;
	unsigned msg = 0;
	z_stream z;

	pw_v4(&c, "10.2.0.1", 40001);
	pw_v4(&s, "192.0.2.143", 143);
	pw_open_imap(w, &k, &c, &s, 0x50000000, greeting);
	pw_send(w, &k, PW_C2S, login, sizeof(login) - 1);
	pw_send(w, &k, PW_S2C, logged, sizeof(logged) - 1);
	pw_send(w, &k, PW_C2S, compress_cmd, sizeof(compress_cmd) - 1);
	pw_send(w, &k, PW_S2C, deflating, sizeof(deflating) - 1);
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, r->control ? 6 : 9, Z_DEFLATED, -15, 9,
	    Z_DEFAULT_STRATEGY) != Z_OK) {
		fprintf(stderr, "deflate_bomb: deflateInit2 failed\n");
		exit(1);
	}
	while (wire < r->scale) {
		size_t n = r->control ? mail_text(in, &rng, &msg) :
		    bomb_text(in);

		send_compressed(w, &k, &z, in, n, Z_NO_FLUSH, &wire);
	}
	send_compressed(w, &k, &z, in, 0, Z_SYNC_FLUSH, &wire);
	deflateEnd(&z);
	pw_close_conn(w, &k);
	pw_victim_last(w, NULL, NULL);
}

const struct attack atk_deflate_bomb = {
	.name = "deflate_bomb",
	.default_scale = 1 << 20,
	.imapwatch_args = "",
	.counters = "sessions.inflate_limited,sessions.inflated_bytes,"
	    "tcp.bytes_bypassed",
	.description = "COMPRESS=DEFLATE stream inflating a thousandfold "
	    "(scale: compressed bytes)",
	.generate = generate,
};
