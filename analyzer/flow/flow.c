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
 * segments only when they come out of order, and a closed flow's whole
 * state again for each straggler that finds its tombstone (below).
 */
#include <json.h>
#include <stddef.h>
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
	struct iw_flow_node	*head;	/* least recently active */
	struct iw_flow_node	*tail;
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
bucket_insert(struct iw_flow_node *n)
{
	iw_hchain_add(&buckets[n->hash & (nbuckets - 1)], &n->hlink);
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
			bucket_insert((struct iw_flow_node *)l);
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
list_remove(struct iw_flow_node *n)
{
	struct flow_list *l = &lists[n->list];

	if (n->lprev)
		n->lprev->lnext = n->lnext;
	else
		l->head = n->lnext;
	if (n->lnext)
		n->lnext->lprev = n->lprev;
	else
		l->tail = n->lprev;
	n->lprev = n->lnext = NULL;
}

static void
list_append(struct iw_flow_node *n, int which)
{
	struct flow_list *l = &lists[which];

	n->list = (uint8_t)which;
	n->lprev = l->tail;
	n->lnext = NULL;
	if (l->tail)
		l->tail->lnext = n;
	else
		l->head = n;
	l->tail = n;
}

/* to takes from's place in its hash chain and its list. */
static void
node_replace(struct iw_flow_node *from, struct iw_flow_node *to)
{
	struct flow_list *l = &lists[from->list];

	to->hash = from->hash;
	to->list = from->list;
	to->hlink.next = from->hlink.next;
	to->hlink.pprev = from->hlink.pprev;
	*to->hlink.pprev = &to->hlink;
	if (to->hlink.next != NULL)
		to->hlink.next->pprev = &to->hlink.next;
	to->lprev = from->lprev;
	to->lnext = from->lnext;
	if (to->lprev != NULL)
		to->lprev->lnext = to;
	else
		l->head = to;
	if (to->lnext != NULL)
		to->lnext->lprev = to;
	else
		l->tail = to;
}

static void
touch(struct iw_flow *f)
{
	int which = f->state == IW_FLOW_CLOSED ? LIST_CLOSED :
	    f->state == IW_FLOW_ESTABLISHED ? LIST_EST : LIST_NEW;

	if (f->node.list == which && lists[which].tail == &f->node)
		return;
	list_remove(&f->node);
	list_append(&f->node, which);
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

/* ---- tombstones ---- */

/*
 * A closed connection waits --closed-timeout for stragglers (late
 * retransmissions, the last ACK) so that they land on it instead of
 * starting a new flow.  Its session ended and was freed at the close;
 * what a straggler still reads or updates is the TCP state of each
 * direction and the counters of the flow event.  Whole, that is some 400
 * bytes, and a busy link closes thousands of connections a second, each
 * kept a minute.  So a closed flow becomes a tombstone that holds exactly
 * that state, counters in 32 bits and IPv4 addresses in 4 bytes (one
 * whose counters do not fit, that still holds segments or that saw two
 * SYN-ACKs, stays whole): 150 bytes for IPv4, 174 for IPv6.  A packet
 * that finds a tombstone brings the whole flow back from it, is handled
 * as it always was, and the flow is made a tombstone again before the
 * next packet: nothing a straggler does can tell the two apart.
 */
enum {
	TD_BASE_SET	= 1 << 0,
	TD_SYN_SEEN	= 1 << 1,
	TD_FIN_SEEN	= 1 << 2,
	TD_FIN_DONE	= 1 << 3,
};

struct tomb_dir {
	uint32_t	isn, next_seq, fin_seq, max_end;
	uint32_t	delivered, gaps, gap_bytes;
};

struct flow_tomb {
	struct iw_flow_node	 node;		/* first member */
	iw_time			 first_ts, last_ts;
	uint32_t		 pkts[2], bytes[2];
	struct tomb_dir		 dir[2];
	uint8_t			 dir_bits[2];	/* TD_* */
	uint8_t			 flags_seen[2];
	bool			 midstream, swapped;
	uint8_t			 decode_anomalies;
	uint8_t			 reason;
	/* the endpoints (flow_id follows from them and first_ts) */
	uint16_t		 cport, sport;
	uint8_t			 family;
	uint8_t			 alen;		/* 4 or 16 */
	uint8_t			 addr[];	/* client's, then server's */
};

/* a closed flow made whole for its packet: a tombstone at the next call
 * (the engine still reads the flow after iw_flow_packet) */
static _Thread_local struct iw_flow *closing;

static bool
fits32(uint64_t v)
{
	return v <= UINT32_MAX;
}

static bool
tomb_dir_fits(const struct iw_tcpdir *d)
{
	return d->ooo == NULL && d->held == NULL && d->recent == NULL &&
	    d->recent_len == 0 && d->ooo_bytes == 0 && d->ooo_count == 0 &&
	    d->ooo_data == 0 && fits32(d->delivered) && fits32(d->gaps) &&
	    fits32(d->gap_bytes) && d->offset == d->delivered + d->gap_bytes &&
	    !d->alt_isn_set && d->alt_isn == 0;
}

/* how the decoder holds an IPv4 address: IPv4-mapped (decode.c) */
static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0xff, 0xff };

static bool
is_v4mapped(const struct iw_addr *a)
{
	return a->family == AF_INET &&
	    memcmp(a->a, v4mapped, sizeof(v4mapped)) == 0;
}

/* Bytes of each address a tombstone keeps: the last 4 of an IPv4
 * address, else all 16. */
static uint8_t
tomb_alen(const struct iw_endpoints *ep)
{
	if (is_v4mapped(&ep->client) && is_v4mapped(&ep->server))
		return 4;
	return sizeof(ep->client.a);
}

static size_t
tomb_size(uint8_t alen)
{
	return offsetof(struct flow_tomb, addr) + 2u * alen;
}

static void
tomb_ep(const struct flow_tomb *t, struct iw_endpoints *ep)
{
	size_t at = sizeof(ep->client.a) - t->alen;

	memset(ep, 0, sizeof(*ep));
	ep->client.family = ep->server.family = t->family;
	if (at > 0) {
		memcpy(ep->client.a, v4mapped, at);
		memcpy(ep->server.a, v4mapped, at);
	}
	memcpy(ep->client.a + at, t->addr, t->alen);
	memcpy(ep->server.a + at, t->addr + t->alen, t->alen);
	ep->cport = t->cport;
	ep->sport = t->sport;
}

/* Can f be a tombstone without losing anything? */
static bool
tomb_fits(const struct iw_flow *f)
{
	struct iw_flowref ref;
	int i;

	if (f->state != IW_FLOW_CLOSED || !f->session_ended ||
	    f->session != NULL)
		return false;
	for (i = 0; i < 2; i++)
		if (!tomb_dir_fits(&f->dir[i]) || !fits32(f->pkts[i]) ||
		    !fits32(f->bytes[i]))
			return false;
	if (f->ref.ep.client.family != f->ref.ep.server.family)
		return false;
	iw_flowref_init(&ref, &f->ref.ep, f->first_ts);
	return ref.flow_id == f->ref.flow_id;
}

static void
tomb_dir_make(struct flow_tomb *t, int i, const struct iw_tcpdir *d)
{
	struct tomb_dir *td = &t->dir[i];

	td->isn = d->isn;
	td->next_seq = d->next_seq;
	td->fin_seq = d->fin_seq;
	td->max_end = d->max_end;
	td->delivered = (uint32_t)d->delivered;
	td->gaps = (uint32_t)d->gaps;
	td->gap_bytes = (uint32_t)d->gap_bytes;
	t->dir_bits[i] = (uint8_t)((d->base_set ? TD_BASE_SET : 0) |
	    (d->syn_seen ? TD_SYN_SEEN : 0) | (d->fin_seen ? TD_FIN_SEEN : 0) |
	    (d->fin_done ? TD_FIN_DONE : 0));
	t->flags_seen[i] = d->flags_seen;
}

static void
tomb_dir_expand(const struct flow_tomb *t, int i, struct iw_tcpdir *d)
{
	const struct tomb_dir *td = &t->dir[i];
	uint8_t bits = t->dir_bits[i];

	d->base_set = bits & TD_BASE_SET;
	d->syn_seen = bits & TD_SYN_SEEN;
	d->fin_seen = bits & TD_FIN_SEEN;
	d->fin_done = bits & TD_FIN_DONE;
	d->isn = td->isn;
	d->next_seq = td->next_seq;
	d->fin_seq = td->fin_seq;
	d->max_end = td->max_end;
	d->delivered = td->delivered;
	d->gaps = td->gaps;
	d->gap_bytes = td->gap_bytes;
	d->offset = d->delivered + d->gap_bytes;
	d->flags_seen = t->flags_seen[i];
}

/* The whole flow t stands for (f zeroed; not linked anywhere). */
static void
tomb_expand(const struct flow_tomb *t, struct iw_flow *f)
{
	struct iw_endpoints ep;
	int i;

	f->node.hash = t->node.hash;
	f->node.list = t->node.list;
	f->state = IW_FLOW_CLOSED;
	f->midstream = t->midstream;
	f->swapped = t->swapped;
	f->session_ended = true;
	f->decode_anomalies = t->decode_anomalies;
	f->reason = t->reason;
	tomb_ep(t, &ep);
	iw_flowref_init(&f->ref, &ep, t->first_ts);
	f->first_ts = t->first_ts;
	f->last_ts = t->last_ts;
	for (i = 0; i < 2; i++) {
		f->pkts[i] = t->pkts[i];
		f->bytes[i] = t->bytes[i];
		tomb_dir_expand(t, i, &f->dir[i]);
	}
}

/* Tombstones are counted as what they are: no header, their size is
 * all (n: +1 made, -1 gone). */
static void
tomb_charge(const struct flow_tomb *t, int n)
{
	iw_flowmem_charge(n * (int64_t)tomb_size(t->alen));
	iw_stats.flows_tombstones += (uint64_t)(int64_t)n;
	if (n > 0 && iw_stats.flows_tombstones > iw_stats.flows_tombstones_peak)
		iw_stats.flows_tombstones_peak = iw_stats.flows_tombstones;
}

/* f, closed, becomes a tombstone in its place when nothing is lost. */
static void
tomb_bury(struct iw_flow *f)
{
	const struct iw_endpoints *ep = &f->ref.ep;
	struct flow_tomb *t;
	uint8_t alen = tomb_alen(ep);
	int i;

	if (!tomb_fits(f) || (t = calloc(1, tomb_size(alen))) == NULL)
		return;
	t->node.tomb = true;
	t->first_ts = f->first_ts;
	t->last_ts = f->last_ts;
	for (i = 0; i < 2; i++) {
		t->pkts[i] = (uint32_t)f->pkts[i];
		t->bytes[i] = (uint32_t)f->bytes[i];
		tomb_dir_make(t, i, &f->dir[i]);
	}
	t->midstream = f->midstream;
	t->swapped = f->swapped;
	t->decode_anomalies = f->decode_anomalies;
	t->reason = f->reason;
	t->cport = ep->cport;
	t->sport = ep->sport;
	t->family = ep->client.family;
	t->alen = alen;
	memcpy(t->addr, ep->client.a + sizeof(ep->client.a) - alen, alen);
	memcpy(t->addr + alen, ep->server.a + sizeof(ep->server.a) - alen,
	    alen);
	node_replace(&f->node, &t->node);
	iw_flowmem_free(f);
	tomb_charge(t, 1);	/* after the free: the peak never has both */
}

/* The closed flow made whole again, in t's place (NULL: no memory). */
static struct iw_flow *
tomb_revive(struct flow_tomb *t)
{
	struct iw_flow *f;

	tomb_charge(t, -1);	/* first: the peak never has both */
	if ((f = iw_flowmem_calloc(sizeof(*f))) == NULL) {
		tomb_charge(t, 1);
		return NULL;
	}
	tomb_expand(t, f);
	node_replace(&t->node, &f->node);
	free(t);
	closing = f;
	return f;
}

/* The flow of the last packet, if closed, is made a tombstone. */
static void
bury_closing(void)
{
	struct iw_flow *f = closing;

	closing = NULL;
	if (f != NULL)
		tomb_bury(f);
}

static iw_time
node_last_ts(const struct iw_flow_node *n)
{
	return n->tomb ? ((const struct flow_tomb *)n)->last_ts :
	    ((const struct iw_flow *)n)->last_ts;
}

static bool matches(const struct iw_endpoints *, const struct iw_packet *,
    enum iw_dir *);

static bool
node_matches(const struct iw_flow_node *n, const struct iw_packet *p,
    enum iw_dir *dir)
{
	struct iw_endpoints ep;

	if (!n->tomb)
		return matches(&((const struct iw_flow *)n)->ref.ep, p, dir);
	tomb_ep((const struct flow_tomb *)n, &ep);
	return matches(&ep, p, dir);
}

/* ---- lifecycle ---- */

static void
node_forget(struct iw_flow_node *n)
{
	iw_hchain_del(&n->hlink);
	list_remove(n);
	nflows--;
	iw_stats.flows_active = nflows;
}

/* Ends the flow: session event, flow event, then forget it. */
static void
flow_remove(struct iw_flow *f, enum iw_end_reason why, iw_time now)
{
	if (f == closing)
		closing = NULL;
	if (!f->session_ended)
		f->reason = (uint8_t)why;
	iw_tcp_finish(f, (enum iw_end_reason)f->reason,
	    now > f->last_ts ? f->last_ts : now);
	if (iw_cfg.flows)
		emit_flow_event(f, why);
	node_forget(&f->node);
	iw_tcpdir_free(&f->dir[0]);
	iw_tcpdir_free(&f->dir[1]);
	iw_flowmem_free(f);
}

/* A tombstone ends as its whole flow would: the flow event, if asked. */
static void
tomb_remove(struct flow_tomb *t, enum iw_end_reason why)
{
	struct iw_flow f;

	if (iw_cfg.flows) {
		memset(&f, 0, sizeof(f));
		tomb_expand(t, &f);
		emit_flow_event(&f, why);
	}
	node_forget(&t->node);
	tomb_charge(t, -1);
	free(t);
}

static void
node_remove(struct iw_flow_node *n, enum iw_end_reason why, iw_time now)
{
	if (n->tomb)
		tomb_remove((struct flow_tomb *)n, why);
	else
		flow_remove((struct iw_flow *)n, why, now);
}

static void
evict_one(iw_time now)
{
	static const int order[NLISTS] = { LIST_CLOSED, LIST_NEW, LIST_EST };
	int i;

	for (i = 0; i < NLISTS; i++) {
		if (lists[order[i]].head != NULL) {
			iw_stats.flows_evicted++;
			node_remove(lists[order[i]].head, IW_END_EVICTED, now);
			return;
		}
	}
}

void
iw_flows_enforce_memory(iw_time now)
{
	bury_closing();
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
	f->node.hash = hash;
	f->first_ts = f->last_ts = p->ts;
	f->midstream = !((p->flags & IW_TH_SYN) && !(p->flags & IW_TH_ACK));
	bucket_insert(&f->node);
	list_append(&f->node, LIST_NEW);
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
matches(const struct iw_endpoints *ep, const struct iw_packet *p,
    enum iw_dir *dir)
{

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
	return node_last_ts((const struct iw_flow_node *)a) <
	    node_last_ts((const struct iw_flow_node *)b);
}

static void
chain_evict(struct iw_hlink *chain, iw_time now)
{
	iw_stats.flows_evicted++;
	iw_stats.tables[IW_TABLE_FLOWS].chain_evictions++;
	node_remove((struct iw_flow_node *)iw_hchain_first(chain,
	    less_recent), IW_END_EVICTED, now);
}

/*
 * The flow of p's endpoints, if held, made whole if it was a tombstone
 * (*gone: it was, and there was no memory for it); *walked counts the
 * chain walked.
 */
static struct iw_flow *
lookup(const struct iw_packet *p, uint32_t h, enum iw_dir *dir,
    uint64_t *walked, bool *gone)
{
	struct iw_hlink *l;
	struct iw_flow_node *n;
	struct iw_flow *f;

	*walked = 0;
	*gone = false;
	for (l = buckets[h & (nbuckets - 1)]; l != NULL; l = l->next) {
		(*walked)++;
		n = (struct iw_flow_node *)l;
		if (n->hash == h && node_matches(n, p, dir)) {
			iw_stats_chain(IW_TABLE_FLOWS, *walked);
			if (!n->tomb)
				return (struct iw_flow *)n;
			f = tomb_revive((struct flow_tomb *)n);
			*gone = f == NULL;
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
	bool gone;

	bury_closing();
	f = lookup(p, h, dir, &walked, &gone);
	if (gone)
		return NULL;
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
	matches(&f->ref.ep, p, dir);
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
	bool gone;

	if (hand_over != NULL) {
		hand_over(p, what);
		return;
	}
	bury_closing();
	if (nbuckets == 0 || (f = lookup(p, flow_hash(&p->src, p->sport,
	    &p->dst, p->dport), &dir, &walked, &gone)) == NULL ||
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
	if (f->state == IW_FLOW_CLOSED)
		closing = f;
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
	struct iw_flow_node *n;
	iw_time limit;
	int i;

	bury_closing();
	for (i = 0; i < NLISTS; i++) {
		limit = now - (iw_time)list_timeout(i) * IW_USEC;
		while ((n = lists[i].head) != NULL &&
		    node_last_ts(n) < limit) {
			if (!n->tomb &&
			    ((struct iw_flow *)n)->state != IW_FLOW_CLOSED)
				iw_stats.flows_timeout++;
			node_remove(n, IW_END_TIMEOUT, now);
		}
	}
}

void
iw_flows_shutdown(iw_time now)
{
	struct iw_flow_node *n;
	int i;

	closing = NULL;		/* all go now */
	/* oldest activity first, so events come out in a sensible order */
	for (i = 0; i < NLISTS; i++)
		while ((n = lists[i].head) != NULL)
			node_remove(n, IW_END_SHUTDOWN, now);
	free(buckets);
	buckets = NULL;
	nbuckets = 0;
}
