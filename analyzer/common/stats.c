/* SPDX-License-Identifier: ISC */
/*
 * stats.c - the run's counters: each thread's own, added up when its
 * work is done.  The `stats` event that reports them is written by
 * analyzer/output/stats_event.c.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "stats.h"

_Thread_local struct iw_stats iw_stats;
bool iw_stats_decryption;

static const char *const bad_names[IW_BAD_COUNT] = {
	[IW_BAD_TRUNCATED_LINK] = "truncated_link",
	[IW_BAD_TRUNCATED_IP] = "truncated_ip",
	[IW_BAD_TRUNCATED_TCP] = "truncated_tcp",
	[IW_BAD_TRUNCATED_PAYLOAD] = "truncated_payload",
	[IW_BAD_IP_VERSION] = "bad_ip_version",
	[IW_BAD_IP_HEADER] = "bad_ip_header",
	[IW_BAD_IP6_EXTHDR] = "bad_ipv6_extension_header",
	[IW_BAD_TCP_HEADER] = "bad_tcp_header",
	[IW_BAD_CHECKSUM_IP] = "bad_ip_checksum",
	[IW_BAD_CHECKSUM_TCP] = "bad_tcp_checksum",
	[IW_BAD_FRAG_OVERLAP] = "fragment_overlap",
	[IW_BAD_FRAG_TOO_BIG] = "fragment_too_big",
	[IW_BAD_TUNNEL_DEPTH] = "tunnel_too_deep",
	[IW_BAD_FRAG_INCONSISTENT] = "fragment_inconsistent",
	[IW_BAD_FRAG_SCATTERED] = "fragment_too_scattered",
	[IW_BAD_IP_LENGTH_IMPLAUSIBLE] = "ip_length_implausible",
};

const char *
iw_bad_packet_name(enum iw_bad_packet b)
{
	return bad_names[b];
}

int
iw_stats_anomaly(const char *layer, const char *event)
{
	char kind[48];
	int i;

	snprintf(kind, sizeof(kind), "%s.%s", layer, event);
	for (i = 0; i < iw_stats.n_anomaly_kinds; i++) {
		if (strcmp(iw_stats.anomaly_kind[i], kind) == 0) {
			iw_stats.anomaly_count[i]++;
			return i;
		}
	}
	if (i == IW_MAX_ANOMALY_KINDS) {
		iw_stats.anomalies_other++;
		return -1;
	}
	memcpy(iw_stats.anomaly_kind[i], kind, sizeof(kind));
	iw_stats.anomaly_count[i] = 1;
	iw_stats.n_anomaly_kinds++;
	return i;
}

/* Adds the uint64_t counters of [from, to) in b to a. */
static void
add_run(struct iw_stats *a, const struct iw_stats *b, size_t from, size_t to)
{
	uint64_t x, y;
	size_t off;

	for (off = from; off + sizeof(uint64_t) <= to;
	    off += sizeof(uint64_t)) {
		memcpy(&x, (const char *)a + off, sizeof(x));
		memcpy(&y, (const char *)b + off, sizeof(y));
		x += y;
		memcpy((char *)a + off, &x, sizeof(x));
	}
}

static uint64_t
larger(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static void
add_anomaly_kinds(struct iw_stats *a, const struct iw_stats *b)
{
	int i, j;

	a->anomalies_other += b->anomalies_other;
	for (j = 0; j < b->n_anomaly_kinds; j++) {
		for (i = 0; i < a->n_anomaly_kinds; i++)
			if (strcmp(a->anomaly_kind[i], b->anomaly_kind[j]) == 0)
				break;
		if (i == IW_MAX_ANOMALY_KINDS) {
			a->anomalies_other += b->anomaly_count[j];
			continue;
		}
		if (i == a->n_anomaly_kinds) {
			memcpy(a->anomaly_kind[i], b->anomaly_kind[j],
			    sizeof(a->anomaly_kind[i]));
			a->n_anomaly_kinds++;
		}
		a->anomaly_count[i] += b->anomaly_count[j];
	}
}

void
iw_stats_add(struct iw_stats *a, const struct iw_stats *b)
{
	uint64_t flows_peak = larger(a->flows_peak, b->flows_peak);
	uint64_t tombs_peak = larger(a->flows_tombstones_peak,
	    b->flows_tombstones_peak);
	uint64_t reasm_peak = larger(a->reasm_bytes_peak, b->reasm_bytes_peak);
	int t;

	/* the counters in runs of uint64_t, in the struct's order */
	add_run(a, b, offsetof(struct iw_stats, packets),
	    offsetof(struct iw_stats, input_cut_short));
	add_run(a, b, offsetof(struct iw_stats, frag_datagrams),
	    offsetof(struct iw_stats, n_anomaly_kinds));
	add_run(a, b, offsetof(struct iw_stats, anomalies_repeated),
	    offsetof(struct iw_stats, tables));
	add_run(a, b, offsetof(struct iw_stats, events),
	    offsetof(struct iw_stats, first_ts));
	a->flows_peak = flows_peak;
	a->flows_tombstones_peak = tombs_peak;
	a->reasm_bytes_peak = reasm_peak;
	a->input_cut_short |= b->input_cut_short;
	if (a->input_error[0] == '\0')
		memcpy(a->input_error, b->input_error, sizeof(a->input_error));
	add_anomaly_kinds(a, b);
	for (t = 0; t < IW_TABLE_COUNT; t++) {
		a->tables[t].longest_chain = larger(a->tables[t].longest_chain,
		    b->tables[t].longest_chain);
		a->tables[t].chain_evictions += b->tables[t].chain_evictions;
	}
	if (b->first_ts != 0 && (a->first_ts == 0 || b->first_ts < a->first_ts))
		a->first_ts = b->first_ts;
	if (b->last_ts > a->last_ts)
		a->last_ts = b->last_ts;
}
