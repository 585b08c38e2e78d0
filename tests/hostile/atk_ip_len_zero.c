/* SPDX-License-Identifier: ISC */
/*
 * atk_ip_len_zero.c - issue 9, attack 7: a crafted record hides a
 * connection.
 *
 * An IPv4 total length of 0 (IPv6 payload length 0) is what segmentation
 * offload writes: the frame's length is then the packet's.  The decoder
 * took it from the record's orig_len whatever it said: 0x7FFFFFFF made a
 * 2 GiB gap after 9 captured bytes, and the real bytes sent at the same
 * sequence number afterwards passed for a retransmission.  No
 * super-packet is longer than 512 KiB (Linux BIG TCP): such a record is
 * dropped and counted now.
 *
 * Attack: connections (IPv4 and IPv6 in turn) whose first client segment
 * has length 0 and orig_len 0x7FFFFFFF, then the same bytes honestly;
 * the victim has one such record just before its LOGIN.  Control: the
 * same frames with length 0 and an honest orig_len (a real offload
 * capture).
 */
#include <string.h>

#include "hostile.h"

#define PHANTOM_LEN	0x7fffffffU

static const char noop[] = "a0 NOOP\r\n";

/* A length-0 segment at the client's next byte: a lie, or the truth. */
static void
offload_segment(struct pw_file *w, struct pw_conn *k, bool lie)
{
	struct pw_seg g;

	pw_client_seg(&g, k, noop, sizeof(noop) - 1);
	g.ip_id = k->ip_id++;
	g.ip_len_zero = true;
	g.orig_len = lie ? PHANTOM_LEN : 0;
	pw_tcp(w, &g);
}

static void
before_login(struct pw_file *w, struct pw_conn *k, void *arg)
{
	const struct hostile_run *r = arg;

	offload_segment(w, k, !r->control);
	if (r->control)
		k->cseq += sizeof(noop) - 1;	/* those bytes were real */
}

static void
generate(struct pw_file *w, const struct hostile_run *r)
{
	struct pw_end srv4, srv6, c;
	uint64_t rng = r->seed, i, v;
	struct pw_conn k;

	pw_v4(&srv4, "192.0.2.143", 143);
	pw_v6(&srv6, "2001:db8::143", 143);
	for (i = 0; i < r->scale; i++) {
		v = pw_rand(&rng);
		if (i % 2 == 0)
			pw_client_v4(&c, v);
		else {
			pw_v6(&c, "2001:db8:1::", (uint16_t)(1024 + (v >> 40) %
			    64511));
			memcpy(c.addr + 8, &v, 8);
		}
		pw_conn_init(&k, &c, i % 2 == 0 ? &srv4 : &srv6,
		    (uint32_t)v, (uint32_t)(v >> 32));
		pw_handshake(w, &k);
		offload_segment(w, &k, !r->control);
		pw_send(w, &k, PW_C2S, noop, sizeof(noop) - 1);
	}
	pw_victim_last(w, before_login, (void *)r);
}

const struct attack atk_ip_len_zero = {
	.name = "ip_len_zero",
	.default_scale = 200000,
	.imapwatch_args = "",
	.counters = "capture.bad_packets.ip_length_implausible,"
	    "capture.ip_length_from_frame,tcp.gap_bytes",
	.description = "IP length 0 with a 2 GiB orig_len: a phantom gap "
	    "before real bytes (scale: connections)",
	.generate = generate,
};
