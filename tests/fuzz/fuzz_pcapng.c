/* SPDX-License-Identifier: ISC */
/*
 * fuzz_pcapng.c - our pcapng reader (analyzer/pcapng.c) on a FILE over the
 * input: iw_pcapng_mixed_linktypes (which must leave the file where it
 * was), then every packet iw_pcapng_next returns, each decoded and its
 * bytes read to the last (so a caplen past the block is caught).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "common.h"
#include "packet.h"

#define MAX_PACKETS 10000

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iw_pcapng *g;
	struct iw_rawpkt raw;
	struct iw_packet p;
	FILE *fp;
	volatile uint8_t sum = 0;
	uint32_t i;
	int n;

	fz_setup();
	if (size == 0)
		return 0;
	fp = fmemopen((void *)data, size, "rb");
	if (fp == NULL)
		return 0;
	(void)iw_pcapng_mixed_linktypes(fp);
	if (ftell(fp) != 0) {
		fprintf(stderr, "fuzz_pcapng: mixed_linktypes moved the "
		    "file to %ld\n", ftell(fp));
		abort();
	}
	g = iw_pcapng_open(fp);
	if (g == NULL) {
		fclose(fp);
		return 0;
	}
	for (n = 0; n < MAX_PACKETS; n++) {
		memset(&raw, 0, sizeof(raw));
		if (iw_pcapng_next(g, &raw) != IW_NEXT_PACKET)
			break;
		for (i = 0; i < raw.caplen; i++)
			sum ^= raw.data[i];
		memset(&p, 0, sizeof(p));
		p.ts = raw.ts;
		p.data = raw.data;
		p.caplen = raw.caplen;
		p.wirelen = raw.wirelen;
		p.linktype = raw.linktype;
		(void)iw_decode(&p);
	}
	(void)iw_pcapng_error(g);
	iw_pcapng_close(g);	/* closes fp */
	iw_decode_shutdown();
	(void)sum;
	return 0;
}
