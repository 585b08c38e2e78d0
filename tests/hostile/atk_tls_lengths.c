/* SPDX-License-Identifier: ISC */
/*
 * atk_tls_lengths.c - issue 9: TLS lengths at their limits, which
 * already hold.
 *
 * Every IMAPS connection sends records of the largest length a record may
 * have (2^14 + 2048), the client a ClientHello that says it is 64 KiB long
 * (the most the client's messages may be) and the server a Certificate
 * message of 1 MiB (the most any may be), both one byte short of their
 * end, so the dissector holds each until the connection ends.  What all
 * sessions hold together is capped (64 MiB), counted as
 * handshake_memory_budget anomalies past it.
 *
 * Control: the same connections with a complete, small handshake, then
 * the same number of bytes as application data records of the same
 * length, which are skipped unread.
 */
#include <string.h>

#include "hostile.h"
#include "tlsw.h"

#define CLIENT_MSG	(64 * 1024)
#define SERVER_MSG	(1024 * 1024)

/* A handshake message of `len` bytes announced, all but the last sent. */
static void
endless_message(struct pw_file *w, struct pw_conn *k, enum pw_dir d,
    uint8_t type, size_t len)
{
	static uint8_t body[TW_RECORD_MAX];
	size_t left = 4 + len - 1, n;

	memset(body, 0, sizeof(body));
	body[0] = type;
	body[1] = (uint8_t)(len >> 16);
	body[2] = (uint8_t)(len >> 8);
	body[3] = (uint8_t)len;
	while (left > 0) {
		n = left < TW_RECORD_MAX ? left : TW_RECORD_MAX;
		tw_record(w, k, d, 22, body, n);
		memset(body, 0, 4);
		left -= n;
	}
}

/* As many bytes of application data, in records of the same sizes. */
static void
appdata(struct pw_file *w, struct pw_conn *k, enum pw_dir d, size_t len)
{
	static uint8_t body[TW_RECORD_MAX];
	size_t left = 4 + len - 1, n;

	memset(body, 0x5a, sizeof(body));
	while (left > 0) {
		n = left < TW_RECORD_MAX ? left : TW_RECORD_MAX;
		tw_record(w, k, d, 23, body, n);
		left -= n;
	}
}

static void
generate(struct pw_file *w, const struct hostile_run *r)
{
	uint64_t rng = r->seed, i;
	struct pw_end srv, c;
	struct pw_conn k;

	pw_v4(&srv, "192.0.2.143", 993);
	for (i = 0; i < r->scale; i++) {
		pw_client_v4(&c, pw_rand(&rng));
		pw_conn_init(&k, &c, &srv, (uint32_t)pw_rand(&rng),
		    (uint32_t)pw_rand(&rng));
		pw_handshake(w, &k);
		if (r->control) {
			tw_client_hello(w, &k, "imap.example.test");
			tw_server_hello(w, &k);
			tw_finish_handshake(w, &k);
			appdata(w, &k, PW_C2S, CLIENT_MSG);
			appdata(w, &k, PW_S2C, SERVER_MSG);
		} else {
			endless_message(w, &k, PW_C2S, 1, CLIENT_MSG);
			tw_server_hello(w, &k);
			endless_message(w, &k, PW_S2C, 11, SERVER_MSG);
		}
	}
	pw_victim_last(w, NULL, NULL);
}

const struct attack atk_tls_lengths = {
	.name = "tls_lengths",
	.default_scale = 200,
	.imapwatch_args = "",
	.counters = "memory.flows_peak,sessions.imap_implicit_tls",
	.description = "IMAPS connections with every TLS length at its "
	    "limit, never completed (scale: connections)",
	.generate = generate,
};
