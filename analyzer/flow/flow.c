/* SPDX-License-Identifier: ISC */
/*
 * flow.c - the table of TCP connections.
 *
 * Keyed by the two endpoints whatever the direction; the client is the
 * sender of the SYN (or the receiver of the SYN-ACK); a connection picked up
 * mid-stream takes the side on a known server port, else the higher port,
 * as the client.  The table grows as flows arrive (never preallocating the
 * cap) and keeps three lists by last activity, one per timeout: flows that
 * have not started, established ones, and closed ones that wait for
 * stragglers.  Past --max-flows the oldest idle flow is evicted and counted.
 * Nothing is allocated per packet: a flow (and its session) once, held
 * segments only when they come out of order.
 */
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "config.h"
#include "correlate.h"
#include "event.h"
#include "flow.h"
#include "flowmem.h"
#include "siphash.h"
#include "stats.h"

enum { LIST_NEW, LIST_EST, LIST_CLOSED, NLISTS };

#define NEW_TIMEOUT	60	/* seconds without a handshake or data */

struct flow_list {
	struct iw_flow	*head;	/* least recently active */
	struct iw_flow	*tail;
};

/* a worker's own table: one worker, one thread (workers.h) */
static _Thread_local struct iw_hlink **buckets;
static _Thread_local size_t nbuckets;
static _Thread_local uint64_t nflows;
static _Thread_local struct flow_list lists[NLISTS];

/* Ports where a server is assumed when no handshake was captured. */
static const uint16_t server_ports[] = {
	20, 21, 22, 23, 25, 53, 80, 110, 119, 143, 389, 443, 465, 563, 587,
	636, 853, 989, 990, 992, 993, 994, 995, 1080, 1194, 1443, 2525, 3306,
	4190, 4433, 5222, 5223, 5228, 5269, 5432, 5671, 8080, 8443, 9001,
};

static bool
known_server_port(uint16_t port)
{
	size_t i;

	if (iw_config_is_imaps_port(port))
		return true;
	for (i = 0; i < sizeof(server_ports) / sizeof(server_ports[0]); i++)
		if (server_ports[i] == port)
			return true;
	return false;
}

/* ---- hashing ---- */

/*
 * Buckets are chosen by the keyed hash of the two endpoints (siphash.h):
 * nobody can pick tuples that share one.  A chain is still capped, so
 * that even bad luck (or a table that could not grow) costs a bounded
 * walk: a flow that would make a chain longer evicts the least recently
 * active flow of that chain, counted.
 */
#define FLOW_CHAIN_MAX	32
#define HUGE_PAGE	(2u << 20)

static uint32_t
flow_hash(const struct iw_addr *a, uint16_t pa, const struct iw_addr *b,
    uint16_t pb)
{
	return (uint32_t)iw_hash_endpoints(a, pa, b, pb);
}

static void
bucket_insert(struct iw_flow *f)
{
	iw_hchain_add(&buckets[f->hash & (nbuckets - 1)], &f->hlink);
}

/*
 * The bucket array, zeroed.  Past a few MiB every packet's lookup lands
 * at random in it: in 2 MiB pages (transparent huge pages, where the
 * system allows them on request) that costs no TLB miss.
 */
static struct iw_hlink **
buckets_alloc(size_t n)
{
	size_t bytes = n * sizeof(struct iw_hlink *);
	void *p;

	if (bytes < HUGE_PAGE)
		return calloc(n, sizeof(struct iw_hlink *));
	if (posix_memalign(&p, HUGE_PAGE, bytes) != 0)
		return NULL;
	(void)madvise(p, bytes, MADV_HUGEPAGE);
	memset(p, 0, bytes);
	return p;
}

static bool
table_grow(void)
{
	size_t n = nbuckets ? nbuckets * 2 : 4096, i, nold;
	struct iw_hlink **nb, **old, *l, *next;

	nb = buckets_alloc(n);
	if (nb == NULL)
		return false;
	old = buckets;
	nold = nbuckets;
	buckets = nb;
	nbuckets = n;
	for (i = 0; i < nold; i++) {
		for (l = old[i]; l != NULL; l = next) {
			next = l->next;
			bucket_insert((struct iw_flow *)l);
		}
	}
	free(old);
	return true;
}

void
iw_flows_init(void)
{
	if (buckets == NULL)
		table_grow();
}

/* ---- activity lists ---- */

static void
list_remove(struct iw_flow *f)
{
	struct flow_list *l = &lists[f->list];

	if (f->lprev)
		f->lprev->lnext = f->lnext;
	else
		l->head = f->lnext;
	if (f->lnext)
		f->lnext->lprev = f->lprev;
	else
		l->tail = f->lprev;
	f->lprev = f->lnext = NULL;
}

static void
list_append(struct iw_flow *f, int which)
{
	struct flow_list *l = &lists[which];

	f->list = (uint8_t)which;
	f->lprev = l->tail;
	f->lnext = NULL;
	if (l->tail)
		l->tail->lnext = f;
	else
		l->head = f;
	l->tail = f;
}

static void
touch(struct iw_flow *f)
{
	int which = f->state == IW_FLOW_CLOSED ? LIST_CLOSED :
	    f->state == IW_FLOW_ESTABLISHED ? LIST_EST : LIST_NEW;

	if (f->list == which && lists[which].tail == f)
		return;
	list_remove(f);
	list_append(f, which);
}

/* ---- flow events ---- */

static const char *
state_name(const struct iw_flow *f)
{
	switch (f->state) {
	case IW_FLOW_NEW:
		return "new";
	case IW_FLOW_ESTABLISHED:
		return "established";
	}
	return "closed";
}

/*
 * Suricata's flow.reason: why the flow record ended, not how the
 * connection did (that is tcp.state and the flags).  A connection that
 * closed is reaped when its closed timeout passes, as Suricata's.
 */
static const char *
eve_flow_reason(enum iw_end_reason why)
{
	switch (why) {
	case IW_END_FIN:
	case IW_END_RST:
	case IW_END_TIMEOUT:
		return "timeout";
	case IW_END_EVICTED:
		return "forced";
	case IW_END_SHUTDOWN:
		return "shutdown";
	case IW_END_REUSED:
		return "tcp_reuse";
	}
	return "unknown";
}

/*
 * Suricata's tcp.state names (StreamTcpStateAsString) for what the
 * capture showed of the connection at its end.
 */
static const char *
eve_tcp_state(const struct iw_flow *f)
{
	uint8_t all = f->dir[0].flags_seen | f->dir[1].flags_seen;
	bool fin0 = f->dir[0].fin_seen, fin1 = f->dir[1].fin_seen;

	if (all & IW_TH_RST)
		return "closed";
	if (fin0 && fin1)
		return "closed";
	if (fin0 || fin1)
		return "fin_wait1";
	if (f->state != IW_FLOW_NEW || f->midstream)
		return "established";
	if (f->dir[0].syn_seen && f->dir[1].syn_seen)
		return "syn_recv";
	return f->dir[0].syn_seen || f->dir[1].syn_seen ? "syn_sent" : "none";
}

static void
add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

static struct json_object *
tcp_object(const struct iw_flow *f)
{
	struct json_object *o = json_object_new_object();
	uint8_t all = f->dir[0].flags_seen | f->dir[1].flags_seen;
	char hex[4];

	snprintf(hex, sizeof(hex), "%02x", all);
	json_object_object_add(o, "tcp_flags", json_object_new_string(hex));
	snprintf(hex, sizeof(hex), "%02x", f->dir[f->swapped].flags_seen);
	json_object_object_add(o, "tcp_flags_ts", json_object_new_string(hex));
	snprintf(hex, sizeof(hex), "%02x", f->dir[!f->swapped].flags_seen);
	json_object_object_add(o, "tcp_flags_tc", json_object_new_string(hex));
	json_object_object_add(o, "syn",
	    json_object_new_boolean(all & IW_TH_SYN));
	json_object_object_add(o, "fin",
	    json_object_new_boolean(all & IW_TH_FIN));
	json_object_object_add(o, "rst",
	    json_object_new_boolean(all & IW_TH_RST));
	json_object_object_add(o, "midstream",
	    json_object_new_boolean(f->midstream));
	json_object_object_add(o, "state",
	    json_object_new_string(eve_tcp_state(f)));
	if (f->dir[f->swapped].gaps > 0)
		json_object_object_add(o, "ts_gap",
		    json_object_new_boolean(true));
	if (f->dir[!f->swapped].gaps > 0)
		json_object_object_add(o, "tc_gap",
		    json_object_new_boolean(true));
	return o;
}

bool
iw_flow_swap_roles(void *arg)
{
	struct iw_flow *f = arg;
	struct iw_endpoints ep;

	if (!f->midstream)
		return false;
	ep.client = f->ref.ep.server;
	ep.server = f->ref.ep.client;
	ep.cport = f->ref.ep.sport;
	ep.sport = f->ref.ep.cport;
	iw_flowref_init(&f->ref, &ep, f->first_ts);
	f->swapped = !f->swapped;
	return true;
}

static void
emit_flow_event(const struct iw_flow *f, enum iw_end_reason why)
{
	struct json_object *ev, *fo;
	char ts[IW_TSLEN];
	/* dir[] and pkts[] keep the first guess; events say who is who */
	enum iw_dir ts_dir = f->swapped ? IW_TO_CLIENT : IW_TO_SERVER;
	enum iw_dir tc_dir = iw_dir_other(ts_dir);

	ev = iw_event_new("flow", f->last_ts, &f->ref);
	if (ev == NULL)
		return;
	fo = json_object_new_object();
	add_u64(fo, "pkts_toserver", f->pkts[ts_dir]);
	add_u64(fo, "pkts_toclient", f->pkts[tc_dir]);
	add_u64(fo, "bytes_toserver", f->bytes[ts_dir]);
	add_u64(fo, "bytes_toclient", f->bytes[tc_dir]);
	json_object_object_add(fo, "start",
	    json_object_new_string(iw_format_ts(f->first_ts, ts)));
	json_object_object_add(fo, "end",
	    json_object_new_string(iw_format_ts(f->last_ts, ts)));
	add_u64(fo, "age", (uint64_t)((f->last_ts - f->first_ts) / IW_USEC));
	json_object_object_add(fo, "state",
	    json_object_new_string(state_name(f)));
	json_object_object_add(fo, "reason",
	    json_object_new_string(eve_flow_reason(why)));
	add_u64(fo, "payload_toserver", f->dir[ts_dir].delivered);
	add_u64(fo, "payload_toclient", f->dir[tc_dir].delivered);
	add_u64(fo, "gaps_toserver", f->dir[ts_dir].gaps);
	add_u64(fo, "gaps_toclient", f->dir[tc_dir].gaps);
	add_u64(fo, "gap_bytes_toserver", f->dir[ts_dir].gap_bytes);
	add_u64(fo, "gap_bytes_toclient", f->dir[tc_dir].gap_bytes);
	json_object_object_add(ev, "flow", fo);
	json_object_object_add(ev, "tcp", tcp_object(f));
	iw_corr_event(&f->ref, f->last_ts, ev);
}

/* ---- lifecycle ---- */

/* Ends the flow: session event, flow event, then forget it. */
static void
flow_remove(struct iw_flow *f, enum iw_end_reason why, iw_time now)
{
	if (!f->session_ended)
		f->reason = why;
	iw_tcp_finish(f, f->reason, now > f->last_ts ? f->last_ts : now);
	if (iw_cfg.flows)
		emit_flow_event(f, why);
	iw_hchain_del(&f->hlink);
	list_remove(f);
	iw_tcpdir_free(&f->dir[0]);
	iw_tcpdir_free(&f->dir[1]);
	iw_flowmem_free(f);
	nflows--;
	iw_stats.flows_active = nflows;
}

static void
evict_one(iw_time now)
{
	static const int order[NLISTS] = { LIST_CLOSED, LIST_NEW, LIST_EST };
	int i;

	for (i = 0; i < NLISTS; i++) {
		if (lists[order[i]].head != NULL) {
			iw_stats.flows_evicted++;
			flow_remove(lists[order[i]].head, IW_END_EVICTED, now);
			return;
		}
	}
}

void
iw_flows_enforce_memory(iw_time now)
{
	while (iw_flowmem_in_use() > iw_cfg.flow_mem_cap && nflows > 0) {
		iw_stats.flows_evicted_memory++;
		evict_one(now);
	}
}

/* Who is the client of a connection first seen with this packet. */
static bool
src_is_client(const struct iw_packet *p)
{
	bool sk, dk;

	if (p->flags & IW_TH_SYN)
		return !(p->flags & IW_TH_ACK);
	sk = known_server_port(p->sport);
	dk = known_server_port(p->dport);
	if (dk != sk)
		return dk;
	if (p->sport != p->dport)
		return p->sport > p->dport;
	return true;
}

static struct iw_flow *
flow_create(const struct iw_packet *p, uint32_t hash)
{
	struct iw_endpoints ep;
	struct iw_flow *f;

	if (nflows >= iw_cfg.max_flows)
		evict_one(p->ts);
	if (nflows >= nbuckets / 2 && !table_grow() && nbuckets == 0)
		return NULL;
	f = iw_flowmem_calloc(sizeof(*f));
	if (f == NULL)
		return NULL;
	memset(&ep, 0, sizeof(ep));
	if (src_is_client(p)) {
		ep.client = p->src;
		ep.server = p->dst;
		ep.cport = p->sport;
		ep.sport = p->dport;
	} else {
		ep.client = p->dst;
		ep.server = p->src;
		ep.cport = p->dport;
		ep.sport = p->sport;
	}
	iw_flowref_init(&f->ref, &ep, p->ts);
	f->hash = hash;
	f->first_ts = f->last_ts = p->ts;
	f->midstream = !((p->flags & IW_TH_SYN) && !(p->flags & IW_TH_ACK));
	bucket_insert(f);
	list_append(f, LIST_NEW);
	nflows++;
	iw_stats.flows_total++;
	iw_stats.flows_active = nflows;
	if (nflows > iw_stats.flows_peak)
		iw_stats.flows_peak = nflows;
	if (f->midstream)
		iw_stats.flows_midstream++;
	return f;
}

static bool
matches(const struct iw_flow *f, const struct iw_packet *p, enum iw_dir *dir)
{
	const struct iw_endpoints *ep = &f->ref.ep;

	if (p->sport == ep->cport && p->dport == ep->sport &&
	    iw_addr_eq(&p->src, &ep->client) &&
	    iw_addr_eq(&p->dst, &ep->server)) {
		*dir = IW_TO_SERVER;
		return true;
	}
	if (p->sport == ep->sport && p->dport == ep->cport &&
	    iw_addr_eq(&p->src, &ep->server) &&
	    iw_addr_eq(&p->dst, &ep->client)) {
		*dir = IW_TO_CLIENT;
		return true;
	}
	return false;
}

/*
 * A SYN (without ACK) with a new initial sequence number on a known flow
 * starts a new connection on the same ports (tshark does the same).
 */
static bool
reused(const struct iw_flow *f, const struct iw_packet *p, enum iw_dir dir)
{
	const struct iw_tcpdir *d = &f->dir[dir];

	if ((p->flags & (IW_TH_SYN | IW_TH_ACK)) != IW_TH_SYN)
		return false;
	if (d->syn_seen)
		return p->seq != d->isn;
	if (f->state == IW_FLOW_CLOSED)
		return true;
	/* a late copy of the SYN whose SYN-ACK we saw is the same one */
	if (d->base_set)
		return !(d->delivered == 0 && p->seq + 1 == d->next_seq);
	return false;
}

/*
 * Makes room in a chain that has reached FLOW_CHAIN_MAX: its least
 * recently active flow goes.
 */
static bool
less_recent(const struct iw_hlink *a, const struct iw_hlink *b)
{
	return ((const struct iw_flow *)a)->last_ts <
	    ((const struct iw_flow *)b)->last_ts;
}

static void
chain_evict(struct iw_hlink *chain, iw_time now)
{
	iw_stats.flows_evicted++;
	iw_stats.tables[IW_TABLE_FLOWS].chain_evictions++;
	flow_remove((struct iw_flow *)iw_hchain_first(chain, less_recent),
	    IW_END_EVICTED, now);
}

/* The flow of p's endpoints, if held; *walked counts the chain walked. */
static struct iw_flow *
lookup(const struct iw_packet *p, uint32_t h, enum iw_dir *dir,
    uint64_t *walked)
{
	struct iw_hlink *l;
	struct iw_flow *f;

	*walked = 0;
	for (l = buckets[h & (nbuckets - 1)]; l != NULL; l = l->next) {
		(*walked)++;
		f = (struct iw_flow *)l;
		if (f->hash == h && matches(f, p, dir)) {
			iw_stats_chain(IW_TABLE_FLOWS, *walked);
			return f;
		}
	}
	iw_stats_chain(IW_TABLE_FLOWS, *walked);
	return NULL;
}

struct iw_flow *
iw_flow_get(const struct iw_packet *p, enum iw_dir *dir)
{
	uint32_t h = flow_hash(&p->src, p->sport, &p->dst, p->dport);
	struct iw_flow *f;
	uint64_t walked;

	f = lookup(p, h, dir, &walked);
	if (f != NULL) {
		if (!reused(f, p, *dir))
			return f;
		flow_remove(f, IW_END_REUSED, p->ts);
		walked = 0;		/* that made room */
	}
	/* a reset or a FIN does not start a connection worth following: it
	 * is the end of one we no longer hold (a late retransmission) */
	if ((p->flags & (IW_TH_RST | IW_TH_FIN)) && !(p->flags & IW_TH_SYN)) {
		iw_stats.tcp_no_flow++;
		return NULL;
	}
	if (walked >= FLOW_CHAIN_MAX)
		chain_evict(buckets[h & (nbuckets - 1)], p->ts);
	f = flow_create(p, h);
	if (f == NULL)
		return NULL;
	matches(f, p, dir);
	return f;
}

static const char *const decode_anomaly_names[] = {
	[IW_FLOW_FRAG_OVERLAP] = "ip_fragment_overlap",
};

static _Thread_local iw_flow_decode_anomaly_fn *hand_over;

void
iw_flow_hand_over_decode_anomalies(iw_flow_decode_anomaly_fn *fn)
{
	hand_over = fn;
}

void
iw_flow_decode_anomaly(const struct iw_packet *p,
    enum iw_flow_decode_anomaly what)
{
	struct json_object *ev, *an;
	struct iw_flow *f;
	enum iw_dir dir;
	uint64_t walked;
	const char *app;

	if (hand_over != NULL) {
		hand_over(p, what);
		return;
	}
	if (nbuckets == 0 || (f = lookup(p, flow_hash(&p->src, p->sport,
	    &p->dst, p->dport), &dir, &walked)) == NULL ||
	    (f->decode_anomalies & (1u << what)))
		return;
	f->decode_anomalies |= (uint8_t)(1u << what);
	iw_stats_anomaly("ip", decode_anomaly_names[what]);
	if ((ev = iw_event_new("anomaly", p->ts, &f->ref)) == NULL)
		return;
	if (f->session != NULL && (app = iw_session_app(f->session)) != NULL)
		json_object_object_add(ev, "app_proto",
		    json_object_new_string(app));
	an = iw_anomaly_eve("decode", decode_anomaly_names[what],
	    p->src.family == AF_INET ? "ipv4" : "ipv6");
	json_object_object_add(ev, "anomaly", an);
	iw_corr_event(&f->ref, p->ts, ev);
}

/* A reset whose sequence number is far from the stream is ignored. */
static bool
plausible_rst(const struct iw_flow *f, enum iw_dir dir,
    const struct iw_packet *p)
{
	const struct iw_tcpdir *d = &f->dir[dir];
	int32_t off;

	if (!d->base_set)
		return true;
	off = (int32_t)(p->seq - d->next_seq);
	return off > -(1 << 20) && off < (1 << 24);
}

void
iw_flow_packet(struct iw_flow *f, enum iw_dir dir, const struct iw_packet *p)
{
	f->pkts[dir]++;
	f->bytes[dir] += p->wirelen;
	if (p->ts > f->last_ts)
		f->last_ts = p->ts;
	if (f->state == IW_FLOW_NEW && (p->payload_wire > 0 ||
	    (p->flags & (IW_TH_SYN | IW_TH_ACK)) == (IW_TH_SYN | IW_TH_ACK)))
		f->state = IW_FLOW_ESTABLISHED;
	iw_tcp_segment(f, dir, p);
	if (f->state != IW_FLOW_CLOSED) {
		if ((p->flags & IW_TH_RST) && plausible_rst(f, dir, p)) {
			f->state = IW_FLOW_CLOSED;
			f->reason = IW_END_RST;
			iw_tcp_finish(f, IW_END_RST, p->ts);
		} else if (f->dir[0].fin_done && f->dir[1].fin_done) {
			f->state = IW_FLOW_CLOSED;
			f->reason = IW_END_FIN;
			iw_tcp_finish(f, IW_END_FIN, p->ts);
		}
	}
	touch(f);
}

static int
list_timeout(int which)
{
	switch (which) {
	case LIST_NEW:
		return NEW_TIMEOUT < iw_cfg.tcp_idle_timeout ? NEW_TIMEOUT :
		    iw_cfg.tcp_idle_timeout;
	case LIST_EST:
		return iw_cfg.tcp_idle_timeout;
	}
	return iw_cfg.tcp_closed_timeout;
}

void
iw_flows_expire(iw_time now)
{
	struct iw_flow *f;
	iw_time limit;
	int i;

	for (i = 0; i < NLISTS; i++) {
		limit = now - (iw_time)list_timeout(i) * IW_USEC;
		while ((f = lists[i].head) != NULL && f->last_ts < limit) {
			if (f->state != IW_FLOW_CLOSED)
				iw_stats.flows_timeout++;
			flow_remove(f, IW_END_TIMEOUT, now);
		}
	}
}

void
iw_flows_shutdown(iw_time now)
{
	struct iw_flow *f;
	int i;

	/* oldest activity first, so events come out in a sensible order */
	for (i = 0; i < NLISTS; i++)
		while ((f = lists[i].head) != NULL)
			flow_remove(f, IW_END_SHUTDOWN, now);
	free(buckets);
	buckets = NULL;
	nbuckets = 0;
}
