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
#include "outfile.h"
#include "packet.h"
#include "session.h"
#include "stats.h"

#define IDLE_MARGIN	120	/* s past the longest flow timeout */

struct apkt {
	struct apkt	*next;
	iw_time		 ts;
	uint32_t	 caplen;
	uint32_t	 wirelen;
	int		 linktype;
	uint8_t		 data[];
};

struct aflow {
	struct aflow	*hnext;		/* by flow_id */
	struct aflow	*tnext;		/* pass 2: by endpoints */
	struct aflow	*older, *newer;	/* buffered: by activity */
	uint64_t	 flow_id;
	struct iw_endpoints ep;
	iw_time		 last_ts;	/* latest packet or alert */
	bool		 alerted;
	bool		 started, done;	/* pass 2 */
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

static struct aflow **buckets, **tbuckets;
static size_t nbuckets, ntbuckets, nflows;
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

/* ---- the table of connections, by flow_id ---- */

static size_t
id_slot(uint64_t id, size_t n)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ULL) >> 17) & (n - 1);
}

static bool
grow(void)
{
	size_t n = nbuckets ? nbuckets * 2 : 1024, i;
	struct aflow **nb, *a, *next;

	if ((nb = calloc(n, sizeof(*nb))) == NULL)
		return false;
	for (i = 0; i < nbuckets; i++) {
		for (a = buckets[i]; a != NULL; a = next) {
			next = a->hnext;
			a->hnext = nb[id_slot(a->flow_id, n)];
			nb[id_slot(a->flow_id, n)] = a;
		}
	}
	free(buckets);
	buckets = nb;
	nbuckets = n;
	return true;
}

static struct aflow *
find(uint64_t id)
{
	struct aflow *a;

	if (nbuckets == 0)
		return NULL;
	for (a = buckets[id_slot(id, nbuckets)]; a != NULL; a = a->hnext)
		if (a->flow_id == id)
			return a;
	return NULL;
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

static struct aflow *
create(uint64_t id, const struct iw_endpoints *ep)
{
	struct aflow *a;
	size_t b;

	if (nflows >= nbuckets && !grow() && nbuckets == 0)
		return NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->flow_id = id;
	a->ep = *ep;
	b = id_slot(id, nbuckets);
	a->hnext = buckets[b];
	buckets[b] = a;
	nflows++;
	return a;
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
	struct aflow **pp = &buckets[id_slot(a->flow_id, nbuckets)];

	while (*pp != NULL && *pp != a)
		pp = &(*pp)->hnext;
	if (*pp == a)
		*pp = a->hnext;
	lru_unlink(a);
	drop_packets(a);
	free(a);
	nflows--;
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
		if (a == NULL && (a = create(f->ref.flow_id, &f->ref.ep)) ==
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
	if ((a = find(ref->flow_id)) == NULL &&
	    (a = create(ref->flow_id, &ref->ep)) == NULL)
		return;
	a->ep = ref->ep;
	if (now > a->last_ts)
		a->last_ts = now;
	if (a->alerted)
		return;
	a->alerted = true;
	n_marked++;
	if (!two_pass) {
		dump_buffer(a);
		lru_touch(a);
	}
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
	if ((a = find(f->ref.flow_id)) != NULL && raw->ts > a->last_ts)
		a->last_ts = raw->ts;
}

/* ---- second pass ---- */

static size_t
tuple_slot(const struct iw_addr *a, uint16_t pa, const struct iw_addr *b,
    uint16_t pb, size_t n)
{
	uint64_t h = 0, x;
	int i;

	/* the same both ways: add the two endpoints' hashes */
	for (i = 0, x = 1469598103934665603ULL; i < 16; i++)
		x = (x ^ a->a[i]) * 1099511628211ULL;
	h += (x ^ pa) * 0x9e3779b97f4a7c15ULL;
	for (i = 0, x = 1469598103934665603ULL; i < 16; i++)
		x = (x ^ b->a[i]) * 1099511628211ULL;
	h += (x ^ pb) * 0x9e3779b97f4a7c15ULL;
	return (size_t)(h >> 20) & (n - 1);
}

void
iw_alerted_pass2_begin(void)
{
	struct aflow *a;
	size_t i, n = 1024, s;

	saved_stats = iw_stats;
	while (n < 2 * nflows)
		n *= 2;
	if ((tbuckets = calloc(n, sizeof(*tbuckets))) == NULL)
		return;
	ntbuckets = n;
	for (i = 0; i < nbuckets; i++) {
		for (a = buckets[i]; a != NULL; a = a->hnext) {
			if (!a->alerted)
				continue;
			s = tuple_slot(&a->ep.client, a->ep.cport,
			    &a->ep.server, a->ep.sport, n);
			a->tnext = tbuckets[s];
			tbuckets[s] = a;
		}
	}
}

static bool
same_tuple(const struct aflow *a, const struct iw_packet *p)
{
	const struct iw_endpoints *ep = &a->ep;

	if (p->sport == ep->cport && p->dport == ep->sport)
		return iw_addr_eq(&p->src, &ep->client) &&
		    iw_addr_eq(&p->dst, &ep->server);
	if (p->sport == ep->sport && p->dport == ep->cport)
		return iw_addr_eq(&p->src, &ep->server) &&
		    iw_addr_eq(&p->dst, &ep->client);
	return false;
}

/* Is this the connection's first packet?  Its time gives its flow_id. */
static bool
first_packet(const struct aflow *a, iw_time ts)
{
	struct iw_flowref r;

	iw_flowref_init(&r, &a->ep, ts);
	return r.flow_id == a->flow_id;
}

void
iw_alerted_pass2_packet(const struct iw_rawpkt *raw)
{
	struct iw_packet p;
	struct aflow *a;

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
	a = tbuckets[tuple_slot(&p.src, p.sport, &p.dst, p.dport, ntbuckets)];
	for (; a != NULL; a = a->tnext) {
		if (a->done || !same_tuple(a, &p))
			continue;
		if (p.ts > a->last_ts) {
			a->done = true;
			continue;
		}
		if (!a->started && !(a->started = first_packet(a, p.ts)))
			continue;
		write_pkt(raw->ts, raw->caplen, raw->wirelen, raw->linktype,
		    raw->data);
		return;
	}
}

void
iw_alerted_pass2_end(void)
{
	iw_decode_shutdown();
	iw_stats = saved_stats;
	free(tbuckets);
	tbuckets = NULL;
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
	for (i = 0; i < nbuckets; i++)
		while (buckets[i] != NULL)
			destroy(buckets[i]);
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
