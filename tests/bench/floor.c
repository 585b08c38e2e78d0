/* SPDX-License-Identifier: ISC */
/*
 * floor - the benchmark's floor: a bare libpcap read loop that touches
 * every captured byte and does nothing else.
 *
 *	floor FILE
 *
 * Prints the packet count, the captured bytes and a checksum of every
 * byte, so that the compiler cannot drop the reading.  No analyzer can
 * read a capture faster than this loop does.
 */

#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int
main(int argc, char *argv[])
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *p;
	pcap_t *pc;
	uint64_t pkts = 0, bytes = 0, sum = 0, x;
	uint32_t i, n;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: floor FILE\n");
		return 2;
	}
	errbuf[0] = '\0';
	if ((pc = pcap_open_offline(argv[1], errbuf)) == NULL) {
		fprintf(stderr, "floor: %s\n", errbuf);
		return 1;
	}
	while ((rc = pcap_next_ex(pc, &h, &p)) == 1) {
		n = h->caplen;
		/* Eight bytes at a time, then the tail: every byte counts. */
		for (i = 0; i + 8 <= n; i += 8) {
			memcpy(&x, p + i, 8);
			sum += x;
		}
		for (; i < n; i++)
			sum += p[i];
		pkts++;
		bytes += n;
	}
	if (rc == PCAP_ERROR) {
		fprintf(stderr, "floor: %s\n", pcap_geterr(pc));
		pcap_close(pc);
		return 1;
	}
	pcap_close(pc);
	printf("packets=%" PRIu64 " bytes=%" PRIu64 " sum=%016" PRIx64 "\n",
	    pkts, bytes, sum);
	return 0;
}
