/* SPDX-License-Identifier: ISC */
/*
 * alerted.c - --write-alerted: the packets of the connections that raised
 * an alert, as a pcap file (see alerted.h for the two ways it works).
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "alerted.h"
#include "config.h"
#include "engine.h"
#include "flow.h"
#include "hchain.h"
#include "outfile.h"
#include "packet.h"
#include "session.h"
#include "siphash.h"
#include "stats.h"

#define IDLE_MARGIN	120	/* s past the longest flow timeout */
#define CHAIN_MAX	16

struct apkt {
	struct apkt	*next;
	iw_time		 ts;
	uint32_t	 caplen;
	uint32_t	 wirelen;
	int		 linktype;
	uint8_t		 data[];
};

struct aflow {
	struct iw_hlink	 hlink;		/* by flow_id: first member */
	struct aflow	*older, *newer;	/* buffered: by activity */
	uint64_t	 flow_id;
	struct iw_endpoints ep;
	iw_time		 last_ts;	/* latest packet or alert */
	bool		 alerted;
	bool		 started;	/* pass 2: its first packet seen */
	struct apkt	*head, *tail;
	uint32_t	 npkts;
	size_t		 nbytes;
};

static bool enabled, two_pass;
static FILE *out_fp;
static char *out_path;
static pcap_t *dead;
static pcap_dumper_t *dumper;
static int out_dlt = -1, first_dlt = -1;
static uint64_t n_written, n_other_dlt, n_marked;
static uint64_t n_evicted, n_alerted_evicted;

static struct iw_hlink **buckets;
static size_t nbuckets, nflows;
static struct aflow *lru_old, *lru_new;
static size_t buffered_bytes;
static struct iw_stats saved_stats;

/* ---- the file ---- */

int
iw_alerted_open(const char *path, bool passes, char *err, size_t errlen)
{
	char why[512];

	if ((out_fp = iw_outfile_fopen(path, IW_OUTFILE_TRUNCATE, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errlen, "--write-alerted: cannot create %s: %s",
		    path, why);
		return -1;
	}
	if ((out_path = strdup(path)) == NULL) {
		fclose(out_fp);
		out_fp = NULL;
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	enabled = true;
	two_pass = passes;
	return 0;
}

bool
iw_alerted_enabled(void)
{
	return enabled;
}

bool
iw_alerted_two_pass(void)
{
	return enabled && two_pass;
}

static bool
start_dumper(int dlt)
{
	if (dumper != NULL)
		return true;
	if (out_fp == NULL ||
	    (dead = pcap_open_dead_with_tstamp_precision(dlt, 262144,
	    PCAP_TSTAMP_PRECISION_MICRO)) == NULL)
		return false;
	if ((dumper = pcap_dump_fopen(dead, out_fp)) == NULL) {
		fprintf(stderr, "imapwatch: --write-alerted %s: %s\n", out_path,
		    pcap_geterr(dead));
		pcap_close(dead);
		dead = NULL;
		fclose(out_fp);
		out_fp = NULL;
		return false;
	}
	out_fp = NULL;		/* the dumper owns it now */
	out_dlt = dlt;
	return true;
}

static void
write_pkt(iw_time ts, uint32_t caplen, uint32_t wirelen, int dlt,
    const uint8_t *data)
{
	struct pcap_pkthdr h;

	if (!start_dumper(dlt))
		return;
	if (dlt != out_dlt) {
		n_other_dlt++;
		return;
	}
	memset(&h, 0, sizeof(h));
	h.ts.tv_sec = (time_t)(ts / IW_USEC);
	h.ts.tv_usec = (suseconds_t)(ts % IW_USEC);
	h.caplen = caplen;
	h.len = wirelen;
	pcap_dump((u_char *)dumper, &h, data);
	n_written++;
}

/*
 * ---- the table of connections, by flow_id ----
 *
 * At most IW_ALERTED_MAX_FLOWS entries (or --max-flows, when smaller: no
 * more than the flow table holds): past that the least recently
 * active goes (an alerted one then loses the packets still to come, or in
 * two passes all of them), counted.  Buckets come from the keyed hash of
 * flow_id (a public function of the endpoints, so chosen by whoever picks
 * the endpoints), and a chain longer than CHAIN_MAX gives up its least
 * recently active entry.
 */

static size_t
id_slot(uint64_t id, size_t n)
{
	return (size_t)iw_hash_u64(id) & (n - 1);
}

static bool
grow(void)
{
	size_t n = nbuckets ? nbuckets * 2 : 1024, i, nold = nbuckets;
	struct iw_hlink **nb, **old = buckets, *l, *next;

	if ((nb = calloc(n, sizeof(*nb))) == NULL)
		return false;
	buckets = nb;
	nbuckets = n;
	for (i = 0; i < nold; i++) {
		for (l = old[i]; l != NULL; l = next) {
			next = l->next;
			iw_hchain_add(&buckets[id_slot(((struct aflow *)l)->
			    flow_id, n)], l);
		}
	}
	free(old);
	return true;
}

/* The entry of flow `id`, or NULL; *walked says how long its chain is. */
static struct aflow *
lookup(uint64_t id, uint64_t *walked)
{
	struct iw_hlink *l;

	*walked = 0;
	if (nbuckets == 0)
		return NULL;
	for (l = buckets[id_slot(id, nbuckets)]; l != NULL; l = l->next) {
		(*walked)++;
		if (((struct aflow *)l)->flow_id == id) {
			iw_stats_chain(IW_TABLE_ALERTED, *walked);
			return (struct aflow *)l;
		}
	}
	iw_stats_chain(IW_TABLE_ALERTED, *walked);
	return NULL;
}

static struct aflow *
find(uint64_t id)
{
	uint64_t walked;

	return lookup(id, &walked);
}

static void
lru_unlink(struct aflow *a)
{
	if (a->older != NULL)
		a->older->newer = a->newer;
	else if (lru_old == a)
		lru_old = a->newer;
	if (a->newer != NULL)
		a->newer->older = a->older;
	else if (lru_new == a)
		lru_new = a->older;
	a->older = a->newer = NULL;
}

static void
lru_touch(struct aflow *a)
{
	if (lru_new == a)
		return;
	lru_unlink(a);
	a->older = lru_new;
	if (lru_new != NULL)
		lru_new->newer = a;
	else
		lru_old = a;
	lru_new = a;
}

static void
drop_packets(struct aflow *a)
{
	struct apkt *p, *next;

	for (p = a->head; p != NULL; p = next) {
		next = p->next;
		buffered_bytes -= sizeof(*p) + p->caplen;
		free(p);
	}
	a->head = a->tail = NULL;
	a->npkts = 0;
	a->nbytes = 0;
}

static void
destroy(struct aflow *a)
{
	iw_hchain_del(&a->hlink);
	lru_unlink(a);
	drop_packets(a);
	free(a);
	nflows--;
}

static void
evict(struct aflow *a)
{
	n_evicted++;
	if (a->alerted)
		n_alerted_evicted++;
	destroy(a);
}

/* IW_ALERTED_MAX_FLOWS, or --max-flows when smaller. */
static size_t
max_flows(void)
{
	return iw_cfg.max_flows < IW_ALERTED_MAX_FLOWS ?
	    (size_t)iw_cfg.max_flows : IW_ALERTED_MAX_FLOWS;
}

static bool
less_recent(const struct iw_hlink *a, const struct iw_hlink *b)
{
	return ((const struct aflow *)a)->last_ts <
	    ((const struct aflow *)b)->last_ts;
}

/* The least recently active entry of a full chain. */
static struct aflow *
chain_stalest(struct iw_hlink *chain)
{
	iw_stats.tables[IW_TABLE_ALERTED].chain_evictions++;
	return (struct aflow *)iw_hchain_first(chain, less_recent);
}

/* The entry of flow id, made if need be. */
static struct aflow *
get(uint64_t id, const struct iw_endpoints *ep)
{
	struct aflow *a;
	uint64_t walked;

	if ((a = lookup(id, &walked)) != NULL)
		return a;
	if (walked >= CHAIN_MAX)
		evict(chain_stalest(buckets[id_slot(id, nbuckets)]));
	else if (nflows >= max_flows() && lru_old != NULL)
		evict(lru_old);
	if (nflows >= nbuckets && !grow() && nbuckets == 0)
		return NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->flow_id = id;
	a->ep = *ep;
	iw_hchain_add(&buckets[id_slot(id, nbuckets)], &a->hlink);
	nflows++;
	lru_touch(a);
	return a;
}

/* ---- buffered mode ---- */

static void
drop_oldest_packet(struct aflow *a)
{
	struct apkt *p = a->head;

	a->head = p->next;
	if (a->head == NULL)
		a->tail = NULL;
	a->npkts--;
	a->nbytes -= sizeof(*p) + p->caplen;
	buffered_bytes -= sizeof(*p) + p->caplen;
	free(p);
}

static void
buffer_packet(struct aflow *a, const struct iw_packet *raw)
{
	size_t need = sizeof(struct apkt) + raw->caplen;
	struct apkt *p;

	if (need > IW_ALERTED_FLOW_BYTES || (p = malloc(need)) == NULL)
		return;
	p->next = NULL;
	p->ts = raw->ts;
	p->caplen = raw->caplen;
	p->wirelen = raw->wirelen;
	p->linktype = raw->linktype;
	memcpy(p->data, raw->data, raw->caplen);
	if (a->tail != NULL)
		a->tail->next = p;
	else
		a->head = p;
	a->tail = p;
	a->npkts++;
	a->nbytes += need;
	buffered_bytes += need;
	while (a->npkts > IW_ALERTED_FLOW_PKTS ||
	    a->nbytes > IW_ALERTED_FLOW_BYTES)
		drop_oldest_packet(a);
}

/* Over the global bound: the least recently active lose their packets. */
static void
trim_buffers(const struct aflow *keep)
{
	struct aflow *a = lru_old;

	while (buffered_bytes > IW_ALERTED_TOTAL_BYTES && a != NULL) {
		if (a != keep)
			drop_packets(a);
		a = a->newer;
	}
}

/* Forgets connections idle for longer than any flow timeout. */
static void
expire(iw_time now)
{
	int longest = iw_cfg.tcp_idle_timeout > iw_cfg.tcp_closed_timeout ?
	    iw_cfg.tcp_idle_timeout : iw_cfg.tcp_closed_timeout;
	iw_time limit = now - (iw_time)(longest + IDLE_MARGIN) * IW_USEC;

	while (lru_old != NULL && lru_old->last_ts < limit)
		destroy(lru_old);
}

/* Could this connection still raise an alert? */
static bool
worth_buffering(const struct iw_flow *f)
{
	const char *app;

	if (f->session == NULL)
		return true;
	if (iw_session_wants(f->session, IW_TO_SERVER) ||
	    iw_session_wants(f->session, IW_TO_CLIENT))
		return true;
	app = iw_session_app(f->session);
	return app != NULL && strcmp(app, "imap") == 0;
}

static void
buffered_packet(const struct iw_packet *raw, const struct iw_flow *f)
{
	struct aflow *a = find(f->ref.flow_id);

	/* the engine's clock: a lone wild timestamp does not move it */
	expire(iw_engine_now());
	if (a != NULL && a->alerted) {
		write_pkt(raw->ts, raw->caplen, raw->wirelen, raw->linktype,
		    raw->data);
		if (dumper != NULL)
			pcap_dump_flush(dumper);
	} else if (!worth_buffering(f)) {
		if (a != NULL)
			destroy(a);
		return;
	} else {
		if (a == NULL && (a = get(f->ref.flow_id, &f->ref.ep)) ==
		    NULL)
			return;
		buffer_packet(a, raw);
		trim_buffers(a);
	}
	if (raw->ts > a->last_ts)
		a->last_ts = raw->ts;
	lru_touch(a);
}

static void
dump_buffer(struct aflow *a)
{
	struct apkt *p;

	for (p = a->head; p != NULL; p = p->next)
		write_pkt(p->ts, p->caplen, p->wirelen, p->linktype, p->data);
	drop_packets(a);
	if (dumper != NULL)
		pcap_dump_flush(dumper);
}

/* ---- the hooks ---- */

void
iw_alerted_mark(const struct iw_flowref *ref, iw_time now)
{
	struct aflow *a;

	if (!enabled)
		return;
	if ((a = get(ref->flow_id, &ref->ep)) == NULL)
		return;
	a->ep = ref->ep;
	if (now > a->last_ts)
		a->last_ts = now;
	lru_touch(a);
	if (a->alerted)
		return;
	a->alerted = true;
	n_marked++;
	if (!two_pass)
		dump_buffer(a);
}

void
iw_alerted_packet(const struct iw_packet *raw, const struct iw_flow *f)
{
	struct aflow *a;

	if (!enabled)
		return;
	if (first_dlt < 0)
		first_dlt = raw->linktype;
	if (f == NULL)
		return;
	if (!two_pass) {
		buffered_packet(raw, f);
		return;
	}
	if ((a = find(f->ref.flow_id)) != NULL) {
		if (raw->ts > a->last_ts)
			a->last_ts = raw->ts;
		lru_touch(a);
	}
}

/*
 * ---- second pass ----
 *
 * The alerted connections, grouped by endpoints (one after another on
 * the same ports: a tuple's connections never overlap in time, the flow
 * table holds one at a time) and in each group in time order.  A packet
 * looks up its group by the keyed hash of its endpoints and only ever
 * compares itself with the group's first connection not yet over: the
 * work per packet stays constant however many connections reuse a tuple.
 */

struct tgroup {
	struct tgroup	*next;		/* hash chain */
	struct aflow	**conn;		/* the group's connections, in time */
	size_t		 n, at;		/* count; first one not over */
};

static struct tgroup **tbuckets, *tgroups;
static struct aflow **tsorted;
static size_t ntbuckets;

static int
by_tuple_then_time(const void *x, const void *y)
{
	const struct aflow *a = *(struct aflow *const *)x;
	const struct aflow *b = *(struct aflow *const *)y;
	uint8_t ka[IW_ENDPOINTS_KEY_LEN], kb[IW_ENDPOINTS_KEY_LEN];
	int c;

	iw_endpoints_key(ka, &a->ep.client, a->ep.cport, &a->ep.server,
	    a->ep.sport);
	iw_endpoints_key(kb, &b->ep.client, b->ep.cport, &b->ep.server,
	    b->ep.sport);
	if ((c = memcmp(ka, kb, sizeof(ka))) != 0)
		return c;
	return a->last_ts < b->last_ts ? -1 : a->last_ts > b->last_ts;
}

static bool
same_tuple(const struct aflow *a, const struct iw_addr *src, uint16_t sport,
    const struct iw_addr *dst, uint16_t dport)
{
	const struct iw_endpoints *ep = &a->ep;

	if (sport == ep->cport && dport == ep->sport)
		return iw_addr_eq(src, &ep->client) &&
		    iw_addr_eq(dst, &ep->server);
	if (sport == ep->sport && dport == ep->cport)
		return iw_addr_eq(src, &ep->server) &&
		    iw_addr_eq(dst, &ep->client);
	return false;
}

static size_t
tuple_slot(const struct iw_addr *a, uint16_t pa, const struct iw_addr *b,
    uint16_t pb)
{
	return (size_t)iw_hash_endpoints(a, pa, b, pb) & (ntbuckets - 1);
}

/* The alerted connections, sorted; their number in *n. */
static struct aflow **
alerted_sorted(size_t *n)
{
	struct aflow **v, *a;
	size_t i = 0;

	if ((v = calloc(nflows ? nflows : 1, sizeof(*v))) == NULL)
		return NULL;
	for (a = lru_old; a != NULL; a = a->newer)
		if (a->alerted && i < nflows)
			v[i++] = a;
	qsort(v, i, sizeof(*v), by_tuple_then_time);
	*n = i;
	return v;
}

void
iw_alerted_pass2_begin(void)
{
	size_t i, j, n, ng = 0, slot;
	struct tgroup *g;
	struct aflow *a;

	saved_stats = iw_stats;
	if ((tsorted = alerted_sorted(&n)) == NULL ||
	    (tgroups = calloc(n ? n : 1, sizeof(*tgroups))) == NULL)
		return;
	for (ntbuckets = 1024; ntbuckets < 2 * n; ntbuckets *= 2)
		;
	if ((tbuckets = calloc(ntbuckets, sizeof(*tbuckets))) == NULL)
		return;
	for (i = 0; i < n; i = j) {
		a = tsorted[i];
		for (j = i + 1; j < n && same_tuple(tsorted[j],
		    &a->ep.client, a->ep.cport, &a->ep.server, a->ep.sport);
		    j++)
			;
		g = &tgroups[ng++];
		g->conn = tsorted + i;
		g->n = j - i;
		slot = tuple_slot(&a->ep.client, a->ep.cport, &a->ep.server,
		    a->ep.sport);
		g->next = tbuckets[slot];
		tbuckets[slot] = g;
	}
}

/* Is this the connection's first packet?  Its time gives its flow_id. */
static bool
first_packet(const struct aflow *a, iw_time ts)
{
	struct iw_flowref r;

	iw_flowref_init(&r, &a->ep, ts);
	return r.flow_id == a->flow_id;
}

/* Does a packet at time ts of the group's endpoints belong to one of its
 * alerted connections? */
static bool
group_wants(struct tgroup *g, iw_time ts)
{
	struct aflow *a;

	while (g->at < g->n && ts > g->conn[g->at]->last_ts)
		g->at++;		/* that one is over */
	if (g->at == g->n)
		return false;
	a = g->conn[g->at];
	if (!a->started)
		a->started = first_packet(a, ts);
	/* not started: a packet of an earlier connection on these ports */
	return a->started;
}

void
iw_alerted_pass2_packet(const struct iw_rawpkt *raw)
{
	struct iw_packet p;
	struct tgroup *g;

	if (tbuckets == NULL)
		return;
	memset(&p, 0, sizeof(p));
	p.ts = raw->ts;
	p.data = raw->data;
	p.caplen = raw->caplen;
	p.wirelen = raw->wirelen;
	p.linktype = raw->linktype;
	if (iw_decode(&p) != IW_DECODE_TCP)
		return;
	g = tbuckets[tuple_slot(&p.src, p.sport, &p.dst, p.dport)];
	for (; g != NULL; g = g->next) {
		if (!same_tuple(g->conn[0], &p.src, p.sport, &p.dst, p.dport))
			continue;
		if (group_wants(g, p.ts))
			write_pkt(raw->ts, raw->caplen, raw->wirelen,
			    raw->linktype, raw->data);
		return;
	}
}

void
iw_alerted_pass2_end(void)
{
	iw_decode_shutdown();
	iw_stats = saved_stats;
	free(tbuckets);
	free(tgroups);
	free(tsorted);
	tbuckets = NULL;
	tgroups = NULL;
	tsorted = NULL;
	ntbuckets = 0;
}

/* ---- the end ---- */

uint64_t
iw_alerted_close(void)
{
	uint64_t n = n_written;
	size_t i;

	if (!enabled)
		return 0;
	start_dumper(out_dlt >= 0 ? out_dlt : first_dlt >= 0 ? first_dlt :
	    DLT_EN10MB);
	if (dumper != NULL) {
		if (pcap_dump_flush(dumper) != 0)
			fprintf(stderr, "imapwatch: --write-alerted %s: write "
			    "error\n", out_path);
		pcap_dump_close(dumper);
		pcap_close(dead);
	}
	if (n_other_dlt > 0)
		fprintf(stderr, "imapwatch: --write-alerted %s: %llu packets "
		    "of another link type left out\n", out_path,
		    (unsigned long long)n_other_dlt);
	if (n_alerted_evicted > 0)
		fprintf(stderr, "imapwatch: --write-alerted %s: %llu alerted "
		    "connections left out (more than %zu connections held at "
		    "once)\n", out_path, (unsigned long long)n_alerted_evicted,
		    max_flows());
	for (i = 0; i < nbuckets; i++)
		while (buckets[i] != NULL)
			destroy((struct aflow *)buckets[i]);
	free(buckets);
	buckets = NULL;
	nbuckets = 0;
	free(out_path);
	out_path = NULL;
	dumper = NULL;
	dead = NULL;
	enabled = false;
	return n;
}

uint64_t
iw_alerted_flows(void)
{
	return n_marked;
}

uint64_t
iw_alerted_evicted(bool alerted_only)
{
	return alerted_only ? n_alerted_evicted : n_evicted;
}
