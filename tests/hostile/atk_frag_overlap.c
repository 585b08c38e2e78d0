/* SPDX-License-Identifier: ISC */
/*
 * atk_frag_overlap.c - issue 9, attack 8: overlapping IP fragments.
 *
 * Overlaps were resolved first-wins: a first fragment carrying false
 * bytes and a second one overlapping it with the true ones gave the
 * sensor the false bytes (a user name no host reassembled), while Linux
 * drops the whole datagram (RFC 5722) and the sender retransmits the true
 * segment, which the sensor then took for a retransmission with other
 * data.  Now the datagram is dropped as Linux drops it, counted, and an
 * anomaly of the connection once.
 *
 * Every client segment of the attack goes as three IPv4 fragments, the
 * second overlapping the first by 8 bytes with the true bytes where the
 * first had false ones, then again whole (the retransmission).  Control:
 * the same frames, the fragments tiling the segment exactly.  The
 * victim's LOGIN goes the same way: first-wins read the user "maltim".
 */
#include <string.h>

#include "hostile.h"

#define SEGS_PER_CONN	64

static const char line[] = "a0 NOOP\r\na0 NOOP\r\na0 NOOP\r\na0 NOOP\r\n";

/*
 * One client segment as three fragments, [0, 32), [24 or 32, 48) and
 * [48, end): with overlap, the first carries `lie` at bytes 24-31 (the
 * payload's 4th to 11th) and the second the truth there.
 */
static void
fragmented(struct pw_file *w, struct pw_conn *k, const char *data,
    size_t len, const char *lie, bool overlap)
{
	static uint8_t seg[20 + 65000], first[32];
	struct pw_frag fr;
	struct pw_seg g;
	size_t n;

	pw_client_seg(&g, k, data, len);
	n = pw_tcp_bytes(seg, &g);
	memset(&fr, 0, sizeof(fr));
	fr.from = &k->c;
	fr.to = &k->s;
	fr.id = k->ip_id++;
	fr.proto = 6;
	memcpy(first, seg, sizeof(first));
	if (overlap)
		memcpy(first + 24, lie, 8);
	fr.more = true;
	fr.data = first;
	fr.len = 32;
	pw_ip_fragment(w, &fr);
	fr.offset = overlap ? 24 : 32;
	fr.data = seg + fr.offset;
	fr.len = 48 - fr.offset;
	pw_ip_fragment(w, &fr);
	fr.offset = 48;
	fr.more = false;
	fr.data = seg + 48;
	fr.len = n - 48;
	pw_ip_fragment(w, &fr);
}

/* The segment fragmented, then whole again at the same sequence number. */
static void
send_twice(struct pw_file *w, struct pw_conn *k, const char *data,
    size_t len, const char *lie, bool overlap)
{
	fragmented(w, k, data, len, lie, overlap);
	pw_send(w, k, PW_C2S, data, len);
}

static void
before_login(struct pw_file *w, struct pw_conn *k, void *arg)
{
	static const char login[] =
	    "a1 LOGIN " VICTIM_USER " " VICTIM_PASS "\r\n";
	const struct hostile_run *r = arg;

	/* bytes 24-31 of the segment are "OGIN vic": first-wins reads
	 * "OGIN mal", so "a1 LOGIN maltim ..." */
	fragmented(w, k, login, sizeof(login) - 1, "OGIN mal", !r->control);
}

static void
generate(struct pw_file *w, const struct hostile_run *r)
{
	uint64_t rng = r->seed, i, j, v, conns;
	struct pw_end srv, c;
	struct pw_conn k;

	pw_v4(&srv, "192.0.2.143", 143);
	conns = (r->scale + SEGS_PER_CONN - 1) / SEGS_PER_CONN;
	for (i = 0; i < conns; i++) {
		v = pw_rand(&rng);
		pw_client_v4(&c, v);
		pw_conn_init(&k, &c, &srv, (uint32_t)v, (uint32_t)(v >> 32));
		pw_handshake(w, &k);
		for (j = 0; j < SEGS_PER_CONN && i * SEGS_PER_CONN + j <
		    r->scale; j++)
			send_twice(w, &k, line, sizeof(line) - 1, "xxxxxxxx",
			    !r->control);
	}
	pw_victim_last(w, before_login, (void *)r);
}

const struct attack atk_frag_overlap = {
	.name = "frag_overlap",
	.default_scale = 1000000,
	.imapwatch_args = "",
	.counters = "capture.ip_datagrams_overlap_dropped,"
	    "capture.bad_packets.fragment_overlap,"
	    "tcp.overlaps_different_data",
	.description = "client segments as IPv4 fragments overlapping with "
	    "other bytes, then retransmitted (scale: segments)",
	.generate = generate,
};
