/* SPDX-License-Identifier: ISC */
/*
 * atk_anomaly_flood.c - an anomaly raised over and over: one cleartext
 * IMAP connection whose client retransmits its first command `scale`
 * times, each copy with other bytes: an overlap with different data each
 * time.  Every one was an anomaly event (200,000
 * copies wrote 68 MB of events; issue 9, attack 6).
 *
 * Control: the same frames, but each copy carries the same bytes as the
 * original (a plain retransmission, no anomaly).
 */
#include <string.h>

#include "hostile.h"

static const char greeting[] =
    "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready.\r\n";
static const char noop[] = "a1 NOOP\r\n";

static void
flood(struct pw_file *w, const struct hostile_run *r)
{
	struct pw_end c, s;
	struct pw_conn k;
	uint8_t copy[sizeof(noop) - 1];
	uint64_t i, rng = r->seed;

	pw_v4(&c, "10.3.0.1", 40001);
	pw_v4(&s, "192.0.2.143", 143);
	pw_open_imap(w, &k, &c, &s, 0x70000000, greeting);
	pw_send(w, &k, PW_C2S, noop, sizeof(noop) - 1);
	memcpy(copy, noop, sizeof(copy));
	for (i = 0; i < r->scale; i++) {
		if (!r->control)	/* another command name (never NOOP) */
			copy[3] = (uint8_t)('A' + pw_rand(&rng) % 13);
		pw_seg_at(w, &k, PW_C2S, (uint32_t)-(int32_t)sizeof(copy),
		    copy, sizeof(copy));
	}
	pw_close_conn(w, &k);
}

static void
generate(struct pw_file *w, const struct hostile_run *r)
{
	flood(w, r);
	pw_victim_last(w, NULL, NULL);
}

const struct attack atk_anomaly_flood = {
	.name = "anomaly_flood",
	.default_scale = 200000,
	.imapwatch_args = "",
	.counters = "tcp.overlaps_different_data,sessions.anomalies_repeated,"
	    "sessions.anomalies_rate_limited,events",
	.description = "one connection retransmitting a command with other "
	    "bytes each time (scale: copies)",
	.generate = generate,
};
