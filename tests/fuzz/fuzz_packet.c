/* SPDX-License-Identifier: ISC */
/*
 * fuzz_packet.c - packets through the whole engine: decode (every link
 * type, IP options, IPv6 extension headers, fragments, tunnels), the flow
 * table (max 8 flows: eviction), TCP reassembly (small caps) and every
 * dissector, with --all-tls and --flows.
 *
 * Input:
 *   u8   bits 0-3 link type (index into dlts[], modulo); bit 4
 *        --verify-checksums; bit 5 --all-tls off
 *   then packets, each
 *     u16  BE: low 15 bits caplen; top bit: the snaplen cut the packet
 *          (wirelen = caplen + 200)
 *     u8   time step: < 200 that many ms; 200-249 (v - 200) * 5 s (idle
 *          and closed timeouts, fragment expiry); 250-254 the clock jumps
 *          +2 h, +1 day, +30 years, -1 h, -10 years (bad timestamps)
 *     caplen bytes (fewer at the end of the input)
 * At the end iw_engine_finish() ends every flow.
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "config.h"
#include "engine.h"
#include "stats.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2	276
#endif

static const int dlts[] = {
	DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP,
	DLT_RAW, 228 /* IPV4 */, 229 /* IPV6 */, 239 /* NFLOG */, DLT_PPP,
	12 /* RAW on OpenBSD numbering */, 1000 /* unsupported */,
};
#define NDLTS (sizeof(dlts) / sizeof(dlts[0]))

static iw_time
time_step(uint8_t v)
{
	static const iw_time jumps[] = { 2 * 3600 * IW_USEC, 86400 * IW_USEC,
	    30 * 365 * 86400LL * IW_USEC, -3600 * IW_USEC,
	    -10 * 365 * 86400LL * IW_USEC, 0 };

	if (v < 200)
		return (iw_time)v * 1000;
	if (v < 250)
		return (iw_time)(v - 200) * 5 * IW_USEC;
	return jumps[v - 250];
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct iw_rawpkt pkt;
	iw_time ts = FZ_T0;
	uint8_t lt, step;
	uint16_t hdr;
	size_t n;
	uint8_t *copy;

	fz_setup();
	if (!fz_u8(&f, &lt))
		return 0;
	iw_cfg.verify_checksums = (lt & 0x10) != 0;
	iw_cfg.all_tls = (lt & 0x20) == 0;
	iw_engine_init();
	while (fz_u16(&f, &hdr) && fz_u8(&f, &step)) {
		ts += time_step(step);
		n = hdr & 0x7fff;
		data = fz_take(&f, &n);
		/* a buffer of exactly caplen bytes: a read past it is caught */
		copy = malloc(n ? n : 1);
		if (copy == NULL)
			break;
		memcpy(copy, data, n);
		memset(&pkt, 0, sizeof(pkt));
		pkt.ts = ts;
		pkt.data = copy;
		pkt.caplen = (uint32_t)n;
		pkt.wirelen = (uint32_t)n + ((hdr & 0x8000) ? 200 : 0);
		pkt.linktype = dlts[(lt & 0x0f) % NDLTS];
		iw_engine_packet(&pkt);
		free(copy);
	}
	iw_engine_finish();
	/* every flow ended, every held byte given back */
	if (iw_stats.flows_active != 0 || iw_stats.reasm_bytes_held != 0) {
		fprintf(stderr, "fuzz_packet: after finish: %llu flows, "
		    "%llu reassembly bytes still held\n",
		    (unsigned long long)iw_stats.flows_active,
		    (unsigned long long)iw_stats.reasm_bytes_held);
		abort();
	}
	return 0;
}
