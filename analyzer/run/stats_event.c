/* SPDX-License-Identifier: ISC */
/*
 * stats_event.c - the `stats` event: the counters of every stage (kept in
 * analyzer/common/stats.c, added up from the workers), the correlator's
 * and the outputs', memory, and the per-worker figures.  It belongs to
 * the run loop, the one stage that may ask every other: from common/ it
 * made every stage depend on the ones after it.
 */
#include <json.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "alerted.h"
#include "correlate.h"
#include "event.h"
#include "findings.h"
#include "flowmem.h"
#include "output.h"
#include "stats.h"

static void
add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

/* Resident memory now and at its peak, in bytes. */
static void
memory_use(uint64_t *rss, uint64_t *peak)
{
	struct rusage ru;
	unsigned long size = 0, resident = 0;
	FILE *fp;

	*rss = *peak = 0;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		*peak = (uint64_t)ru.ru_maxrss * 1024;
	fp = fopen("/proc/self/statm", "r");
	if (fp != NULL) {
		if (fscanf(fp, "%lu %lu", &size, &resident) == 2)
			*rss = (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
		fclose(fp);
	}
}

static struct json_object *
capture_object(void)
{
	struct json_object *o = json_object_new_object(), *bad;
	char ts[IW_TSLEN];
	int i;

	add_u64(o, "packets", iw_stats.packets);
	add_u64(o, "bytes", iw_stats.bytes);
	add_u64(o, "captured_bytes", iw_stats.captured_bytes);
	add_u64(o, "kernel_received", iw_stats.kernel_received);
	add_u64(o, "kernel_dropped", iw_stats.kernel_dropped);
	add_u64(o, "iface_dropped", iw_stats.iface_dropped);
	add_u64(o, "not_ip", iw_stats.not_ip);
	add_u64(o, "not_tcp", iw_stats.not_tcp);
	add_u64(o, "unknown_linktype", iw_stats.unknown_linktype);
	bad = json_object_new_object();
	for (i = 0; i < IW_BAD_COUNT; i++)
		add_u64(bad, iw_bad_packet_name(i), iw_stats.bad[i]);
	json_object_object_add(o, "bad_packets", bad);
	add_u64(o, "checksums_not_checked", iw_stats.checksums_not_checked);
	add_u64(o, "time_jumps_ignored", iw_stats.time_jumps);
	add_u64(o, "ip_fragments_reassembled", iw_stats.frag_datagrams);
	add_u64(o, "ip_fragments_timeout", iw_stats.frag_timeouts);
	add_u64(o, "ip_fragments_evicted", iw_stats.frag_evicted);
	add_u64(o, "ip_fragments_duplicate", iw_stats.frag_duplicates);
	add_u64(o, "ip_datagrams_overlap_dropped",
	    iw_stats.frag_overlap_dropped);
	add_u64(o, "ip_length_from_frame", iw_stats.ip_length_from_frame);
	json_object_object_add(o, "input_cut_short",
	    json_object_new_boolean(iw_stats.input_cut_short));
	if (iw_stats.packets > 0) {
		json_object_object_add(o, "first_packet", json_object_new_string(
		    iw_format_ts(iw_stats.first_ts, ts)));
		json_object_object_add(o, "last_packet", json_object_new_string(
		    iw_format_ts(iw_stats.last_ts, ts)));
	}
	if (iw_stats.input_error[0] != '\0')
		json_object_object_add(o, "input_error",
		    iw_json_str(iw_stats.input_error));
	return o;
}

static struct json_object *
tcp_object(void)
{
	struct json_object *o = json_object_new_object();

	add_u64(o, "flows", iw_stats.flows_total);
	add_u64(o, "flows_active", iw_stats.flows_active);
	add_u64(o, "flows_peak", iw_stats.flows_peak);
	add_u64(o, "flows_timeout", iw_stats.flows_timeout);
	add_u64(o, "flows_evicted", iw_stats.flows_evicted);
	add_u64(o, "flows_evicted_memory", iw_stats.flows_evicted_memory);
	add_u64(o, "flows_midstream", iw_stats.flows_midstream);
	add_u64(o, "segments_without_flow", iw_stats.tcp_no_flow);
	add_u64(o, "flows_tombstones", iw_stats.flows_tombstones);
	add_u64(o, "flows_tombstones_peak", iw_stats.flows_tombstones_peak);
	add_u64(o, "segments", iw_stats.tcp_segments);
	add_u64(o, "retransmissions", iw_stats.tcp_retransmitted);
	add_u64(o, "overlaps", iw_stats.tcp_overlaps);
	add_u64(o, "overlaps_different_data", iw_stats.tcp_overlaps_diff);
	add_u64(o, "out_of_order", iw_stats.tcp_out_of_order);
	add_u64(o, "gaps", iw_stats.tcp_gaps);
	add_u64(o, "gap_bytes", iw_stats.tcp_gap_bytes);
	add_u64(o, "reassembly_cap_hits", iw_stats.tcp_ooo_cap_hits);
	add_u64(o, "reassembly_holders_evicted",
	    iw_stats.tcp_reasm_holders_evicted);
	add_u64(o, "reassembly_segments_dropped",
	    iw_stats.tcp_reasm_segs_dropped);
	add_u64(o, "reassembly_bytes_peak", iw_stats.reasm_bytes_peak);
	add_u64(o, "bytes_delivered", iw_stats.bytes_delivered);
	add_u64(o, "bytes_bypassed", iw_stats.bytes_bypassed);
	return o;
}

static const char *const table_names[IW_TABLE_COUNT] = {
	[IW_TABLE_FLOWS] = "flows",
	[IW_TABLE_FRAGMENTS] = "ip_fragments",
	[IW_TABLE_MEMO] = "memo",
	[IW_TABLE_NOTES] = "suppression_notes",
	[IW_TABLE_ALERTED] = "write_alerted",
};

static struct json_object *
tables_object(void)
{
	struct json_object *o = json_object_new_object(), *t;
	int i;

	for (i = 0; i < IW_TABLE_COUNT; i++) {
		t = json_object_new_object();
		add_u64(t, "longest_chain", iw_stats.tables[i].longest_chain);
		add_u64(t, "chain_evictions",
		    iw_stats.tables[i].chain_evictions);
		json_object_object_add(o, table_names[i], t);
	}
	return o;
}

static struct json_object *
alerted_object(void)
{
	struct json_object *o = json_object_new_object();

	add_u64(o, "alerted_flows", iw_alerted_flows());
	add_u64(o, "flows_evicted", iw_alerted_evicted(false));
	add_u64(o, "alerted_flows_evicted", iw_alerted_evicted(true));
	return o;
}

/* --keylog only: without it the stats event is as it always was. */
static struct json_object *
decryption_object(void)
{
	struct json_object *o = json_object_new_object();

	add_u64(o, "sessions_decrypted", iw_stats.tls_sessions_decrypted);
	add_u64(o, "sessions_no_key", iw_stats.tls_sessions_no_key);
	add_u64(o, "records_auth_failed", iw_stats.tls_records_auth_failed);
	add_u64(o, "held_bytes_dropped", iw_stats.tls_held_bytes_dropped);
	return o;
}

static struct json_object *
sessions_object(void)
{
	struct json_object *o = json_object_new_object(), *f, *a;
	int i;

	add_u64(o, "imap_cleartext", iw_stats.sessions_imap_cleartext);
	add_u64(o, "imap_starttls", iw_stats.sessions_imap_starttls);
	add_u64(o, "imap_implicit_tls", iw_stats.sessions_imap_implicit_tls);
	add_u64(o, "tls", iw_stats.sessions_tls);
	add_u64(o, "not_analysed", iw_stats.sessions_not_analysed);
	add_u64(o, "dropped", iw_stats.sessions_dropped);
	add_u64(o, "inflated_bytes", iw_stats.inflated_bytes);
	add_u64(o, "inflate_limited", iw_stats.inflate_limited);
	if (iw_stats_decryption)
		json_object_object_add(o, "decryption", decryption_object());
	f = json_object_new_object();
	for (i = 0; i < IW_F_COUNT; i++)
		add_u64(f, iw_finding_info(i)->id, iw_stats.findings[i]);
	json_object_object_add(o, "findings", f);
	a = json_object_new_object();
	for (i = 0; i < iw_stats.n_anomaly_kinds; i++)
		add_u64(a, iw_stats.anomaly_kind[i], iw_stats.anomaly_count[i]);
	if (iw_stats.anomalies_other > 0)
		add_u64(a, "other", iw_stats.anomalies_other);
	json_object_object_add(o, "anomalies", a);
	add_u64(o, "anomalies_repeated", iw_stats.anomalies_repeated);
	add_u64(o, "anomalies_rate_limited", iw_stats.anomalies_rate_limited);
	return o;
}

/* Live: each worker's capture handle (capture.h, fanout) and queue. */
static struct json_object *
per_worker_array(void)
{
	struct json_object *a = json_object_new_array(), *o;
	const struct iw_stats_handle *h;
	uint32_t i;

	for (i = 0; i < iw_stats.kernel_handles &&
	    i < IW_STATS_HANDLES_MAX; i++) {
		h = &iw_stats.kernel_handle[i];
		o = json_object_new_object();
		add_u64(o, "kernel_received", h->received);
		add_u64(o, "kernel_dropped", h->dropped);
		add_u64(o, "iface_dropped", h->ifdropped);
		add_u64(o, "queue_dropped", h->queue_drops);
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *
workers_object(void)
{
	struct json_object *o = json_object_new_object();

	add_u64(o, "threads", iw_stats.workers);
	add_u64(o, "queue_full_waits", iw_stats.worker_queue_waits);
	if (iw_stats.kernel_handles > 0) {
		add_u64(o, "queue_dropped", iw_stats.worker_queue_drops);
		json_object_object_add(o, "per_worker", per_worker_array());
	}
	return o;
}

void
iw_stats_emit(iw_time ts)
{
	struct json_object *ev, *st, *mem;
	uint64_t rss, peak;

	ev = iw_event_new("stats", ts, NULL);
	if (ev == NULL)
		return;
	st = json_object_new_object();
	json_object_object_add(st, "capture", capture_object());
	json_object_object_add(st, "tcp", tcp_object());
	json_object_object_add(st, "sessions", sessions_object());
	json_object_object_add(st, "hash_tables", tables_object());
	if (iw_alerted_enabled())
		json_object_object_add(st, "write_alerted", alerted_object());
	memory_use(&rss, &peak);
	mem = json_object_new_object();
	add_u64(mem, "rss", rss);
	add_u64(mem, "peak_rss", peak);
	add_u64(mem, "reassembly_held", iw_stats.reasm_bytes_held);
	add_u64(mem, "flows", iw_flowmem_in_use() + iw_stats.workers_flow_mem);
	add_u64(mem, "flows_peak", iw_flowmem_peak() +
	    iw_stats.workers_flow_mem_peak);
	json_object_object_add(st, "memory", mem);
	if (iw_stats.workers > 1)
		json_object_object_add(st, "workers", workers_object());
	add_u64(st, "events", iw_stats.events);
	add_u64(st, "events_dropped", iw_stats.events_dropped);
	json_object_object_add(st, "outputs", iw_output_stats());
	json_object_object_add(st, "correlator", iw_corr_stats());
	json_object_object_add(ev, "stats", st);
	iw_event_emit(ev);
}
