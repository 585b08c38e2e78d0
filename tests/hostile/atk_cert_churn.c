/* SPDX-License-Identifier: ISC */
/*
 * atk_cert_churn.c - issue 9: certificate churn, which already holds.
 *
 * Decoding a certificate costs OpenSSL about 145 us; a server showing its
 * usual chain costs nothing after the first time (the cache by DER in
 * dissectors/x509.c).  An attacker can show distinct certificates in
 * every session: each session parses at most 16 (the rest of a longer
 * chain is neither parsed nor kept, an anomaly), and nothing global limits
 * how many sessions are checked, so one attacker's churn cannot starve
 * another session's check.  The price is that churn costs its parsing.
 *
 * Attack: IMAPS sessions whose server sends 17 certificates never seen
 * before (one real certificate with a new serial number each).  Control:
 * the same sessions sending the same 17 certificates every time.
 */
#include <string.h>

#include "hostile.h"
#include "tlsw.h"

#define CHAIN	17

static void
generate(struct pw_file *w, const struct hostile_run *r)
{
	static uint8_t certs[CHAIN][1024];
	const uint8_t *der[CHAIN];
	size_t len[CHAIN];
	uint64_t rng = r->seed, i, serial = 1;
	struct pw_end srv, c;
	struct pw_conn k;
	int j;

	pw_v4(&srv, "192.0.2.143", 993);
	for (j = 0; j < CHAIN; j++) {
		memcpy(certs[j], tw_cert, tw_cert_len);
		der[j] = certs[j];
		len[j] = tw_cert_len;
	}
	for (i = 0; i < r->scale; i++) {
		for (j = 0; j < CHAIN; j++) {
			uint64_t s = r->control ? (uint64_t)j : serial++;

			/* bytes 1-8 of the serial: it stays positive */
			memcpy(certs[j] + TW_CERT_SERIAL + 1, &s, 8);
		}
		pw_client_v4(&c, pw_rand(&rng));
		pw_conn_init(&k, &c, &srv, (uint32_t)pw_rand(&rng),
		    (uint32_t)pw_rand(&rng));
		pw_handshake(w, &k);
		tw_client_hello(w, &k, "imap.example.test");
		tw_server_hello(w, &k);
		tw_certificates(w, &k, der, len, CHAIN);
		tw_finish_handshake(w, &k);
		pw_close_conn(w, &k);
	}
	pw_victim_last(w, NULL, NULL);
}

const struct attack atk_cert_churn = {
	.name = "cert_churn",
	.default_scale = 2000,
	.imapwatch_args = "",
	.counters = "sessions.imap_implicit_tls,sessions.dropped",
	.description = "IMAPS sessions each showing 17 certificates never "
	    "seen before (scale: sessions)",
	.generate = generate,
};
