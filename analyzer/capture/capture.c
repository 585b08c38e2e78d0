/* SPDX-License-Identifier: ISC */
/*
 * capture.c - packet sources: libpcap for files, standard input and live
 * interfaces; our pcapng reader for pcapng files mixing link types.
 */
#include <sys/socket.h>

#include <linux/if_packet.h>

#include <errno.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "packet.h"

#define MAX_WARNED	32	/* link types said to be unknown */

struct iw_source {
	char		*name;
	pcap_t		*pcap;		/* NULL when pcapng is used */
	struct iw_pcapng *ng;
	int		 linktype;	/* pcapng: the last packet's */
	bool		 live;
	char		*iobuf;		/* the file's stdio buffer */
	char		 err[PCAP_ERRBUF_SIZE + 128];
};

static struct iw_source *
source_new(const char *name)
{
	struct iw_source *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->name = strdup(name);
	if (s->name == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

/*
 * A link type the decoder does not know is said on stderr, once per type
 * and run (its packets are counted as unknown_linktype): a capture we
 * cannot read must not end quietly with nothing found.
 */
static void
check_linktype(const struct iw_source *s, int dlt)
{
	static int warned[MAX_WARNED], n_warned;
	const char *name = pcap_datalink_val_to_name(dlt);
	int i;

	if (iw_decode_linktype_supported(dlt) || n_warned == MAX_WARNED)
		return;
	for (i = 0; i < n_warned; i++)
		if (warned[i] == dlt)
			return;
	warned[n_warned++] = dlt;
	fprintf(stderr, "imapwatch: %s: link type %d (%s) is not decoded: "
	    "its packets are skipped (stats: capture.unknown_linktype)\n",
	    s->name, dlt, name != NULL ? name : "unknown");
}

static void
source_free(struct iw_source *s)
{
	free(s->name);
	free(s->iobuf);
	free(s);
}

/* pcapng files with several link types go to our reader. */
static struct iw_source *
open_mixed_pcapng(struct iw_source *s, const char *path, char *err,
    size_t errlen)
{
	FILE *fp = fopen(path, "rb");

	if (fp == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		source_free(s);
		return NULL;
	}
	if (!iw_pcapng_mixed_linktypes(fp)) {
		fclose(fp);
		return NULL;
	}
	s->ng = iw_pcapng_open(fp);
	s->linktype = -1;
	if (s->ng == NULL) {
		fclose(fp);
		snprintf(err, errlen, "out of memory");
		source_free(s);
		return NULL;
	}
	return s;
}

static bool
is_pcapng(const char *path)
{
	static const uint8_t magic[4] = { 0x0a, 0x0d, 0x0d, 0x0a };
	uint8_t buf[4];
	FILE *fp = fopen(path, "rb");
	bool yes;

	if (fp == NULL)
		return false;
	yes = fread(buf, 1, 4, fp) == 4 && memcmp(buf, magic, 4) == 0;
	fclose(fp);
	return yes;
}

/*
 * libpcap reads a saved capture through stdio a packet at a time; with
 * stdio's default 4 KiB buffer that is a read(2) every few packets.  A
 * large buffer makes it one every MiB.
 */
#define READ_BUFFER	(1 << 20)

static pcap_t *
open_offline(struct iw_source *s, const char *path, char *perr)
{
	FILE *fp;
	pcap_t *p;

	if (strcmp(path, "-") == 0)
		fp = stdin;
	else if ((fp = fopen(path, "rb")) == NULL) {
		snprintf(perr, PCAP_ERRBUF_SIZE, "%s", strerror(errno));
		return NULL;
	}
	/* glibc takes the size only with a buffer of ours; it lives until
	 * pcap_close() has closed the file (not for stdin, which outlives
	 * us: a pipe gives 64 KiB a read anyway) */
	if (fp != stdin && (s->iobuf = malloc(READ_BUFFER)) != NULL)
		setvbuf(fp, s->iobuf, _IOFBF, READ_BUFFER);
	p = pcap_fopen_offline_with_tstamp_precision(fp,
	    PCAP_TSTAMP_PRECISION_MICRO, perr);
	if (p == NULL && fp != stdin)
		fclose(fp);
	return p;
}

struct iw_source *
iw_source_open_file(const char *path, char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE];
	struct iw_source *s = source_new(strcmp(path, "-") == 0 ?
	    "standard input" : path), *ng;

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (strcmp(path, "-") != 0 && is_pcapng(path)) {
		err[0] = '\0';
		ng = open_mixed_pcapng(s, path, err, errlen);
		if (ng != NULL)
			return ng;
		if (err[0] != '\0')
			return NULL;
	}
	s->pcap = open_offline(s, path, perr);
	if (s->pcap == NULL) {
		snprintf(err, errlen, "%s: %s", s->name, perr);
		source_free(s);
		return NULL;
	}
	s->linktype = pcap_datalink(s->pcap);
	check_linktype(s, s->linktype);
	return s;
}

struct iw_source *
iw_source_open_live(const char *iface, const struct iw_live_opts *o,
    char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE];
	struct iw_source *s = source_new(iface);
	int rc;

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->live = true;
	s->pcap = pcap_create(iface, perr);
	if (s->pcap == NULL) {
		snprintf(err, errlen, "%s: %s", iface, perr);
		source_free(s);
		return NULL;
	}
	if (o->snaplen > 0)
		pcap_set_snaplen(s->pcap, o->snaplen);
	if (o->buffer_kib > 0)
		pcap_set_buffer_size(s->pcap, o->buffer_kib * 1024);
	pcap_set_promisc(s->pcap, o->promisc);
	pcap_set_timeout(s->pcap, o->timeout_ms > 0 ? o->timeout_ms : 100);
	rc = pcap_activate(s->pcap);
	if (rc < 0) {
		if (rc == PCAP_ERROR_NO_SUCH_DEVICE)
			snprintf(err, errlen, "%s: no such interface", iface);
		else if (rc == PCAP_ERROR_PERM_DENIED)
			snprintf(err, errlen, "%s: permission denied "
			    "(capturing needs root or CAP_NET_RAW)", iface);
		else
			snprintf(err, errlen, "%s: %s", iface,
			    pcap_geterr(s->pcap));
		pcap_close(s->pcap);
		source_free(s);
		return NULL;
	}
	s->linktype = pcap_datalink(s->pcap);
	check_linktype(s, s->linktype);
	return s;
}

int
iw_source_set_filter(struct iw_source *s, const char *expr, char *err,
    size_t errlen)
{
	struct bpf_program prog;

	if (s->pcap == NULL) {
		/* our pcapng reader: compile per link type would be needed */
		snprintf(err, errlen, "%s: filters are not supported on pcapng "
		    "files that mix link types", s->name);
		return -1;
	}
	if (pcap_compile(s->pcap, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		snprintf(err, errlen, "bad filter '%s': %s", expr,
		    pcap_geterr(s->pcap));
		return -1;
	}
	if (pcap_setfilter(s->pcap, &prog) < 0) {
		snprintf(err, errlen, "cannot set filter: %s",
		    pcap_geterr(s->pcap));
		pcap_freecode(&prog);
		return -1;
	}
	pcap_freecode(&prog);
	return 0;
}

enum iw_next
iw_source_next(struct iw_source *s, struct iw_rawpkt *pkt)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc;

	if (s->ng != NULL) {
		rc = iw_pcapng_next(s->ng, pkt);
		if (rc == IW_NEXT_PACKET && pkt->linktype != s->linktype) {
			s->linktype = pkt->linktype;
			check_linktype(s, s->linktype);
		}
		return rc;
	}
	rc = pcap_next_ex(s->pcap, &h, &data);
	switch (rc) {
	case 1:
		pkt->ts = (iw_time)h->ts.tv_sec * IW_USEC + h->ts.tv_usec;
		pkt->data = data;
		pkt->caplen = h->caplen;
		pkt->wirelen = h->len < h->caplen ? h->caplen : h->len;
		pkt->linktype = s->linktype;
		return IW_NEXT_PACKET;
	case 0:
		return IW_NEXT_TIMEOUT;
	case PCAP_ERROR_BREAK:		/* end of file, or breakloop */
		return IW_NEXT_EOF;
	}
	return IW_NEXT_ERROR;
}

const char *
iw_source_error(struct iw_source *s)
{
	const char *e;

	if (s->ng != NULL)
		return iw_pcapng_error(s->ng);
	e = pcap_geterr(s->pcap);
	if (strstr(e, "different from the type of the first interface")) {
		snprintf(s->err, sizeof(s->err), "%s (this pcapng file mixes "
		    "link-layer types, which libpcap 1.10 cannot read from a "
		    "pipe; give it as a file, or split it with editcap)", e);
		return s->err;
	}
	return e;
}

const char *
iw_source_name(const struct iw_source *s)
{
	return s->name;
}

bool
iw_source_is_live(const struct iw_source *s)
{
	return s->live;
}

bool
iw_source_stats(struct iw_source *s, uint64_t *recv, uint64_t *drop,
    uint64_t *ifdrop)
{
	struct pcap_stat st;

	if (!s->live || s->pcap == NULL || pcap_stats(s->pcap, &st) != 0)
		return false;
	*recv = st.ps_recv;
	*drop = st.ps_drop;
	*ifdrop = st.ps_ifdrop;
	return true;
}

/*
 * PACKET_FANOUT_HASH: the kernel sends every packet of a flow (its IP
 * addresses and ports) to one socket, so a connection's packets stay in
 * order in one buffer; _CPU or _LB would spread them over the buffers,
 * to be put back in order by the reader at best.  The hash does not keep
 * fragments (IPv6 is hashed without ports) or tunnels together, which is
 * why the sockets are not the workers: one reader takes from them all
 * (fanout.c) and dispatches as it does for files.  No _FLAG_DEFRAG: it
 * reassembles IPv4 only and drops overlapping fragments, which our own
 * fragment handling reports.  No _FLAG_ROLLOVER: a full buffer spilling
 * into another would break that order; its drops are counted instead.
 *
 * The group's id: the kernel picks an unused one for the first socket
 * (_FLAG_UNIQUEID, Linux 4.4), so two sensors on one interface never
 * share a group by accident; an older kernel gets one made of our pid.
 */
int
iw_source_join_fanout(struct iw_source *s, unsigned *group, char *err,
    size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE];
	int fd, arg;
	socklen_t len = sizeof(arg);

	if (!s->live || s->pcap == NULL) {
		snprintf(err, errlen, "%s: not a live capture", s->name);
		return -1;
	}
	if (pcap_setnonblock(s->pcap, 1, perr) != 0) {
		snprintf(err, errlen, "%s: %s", s->name, perr);
		return -1;
	}
	fd = pcap_fileno(s->pcap);
	if (group == NULL)
		return 0;
	if (*group == 0) {
		arg = PACKET_FANOUT_HASH << 16 |
		    PACKET_FANOUT_FLAG_UNIQUEID << 16;
		/* bit 16 says the id is chosen: the kernel's may be 0 */
		if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg,
		    sizeof(arg)) == 0) {
			if (getsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg,
			    &len) != 0)
				goto fail;
			*group = ((unsigned)arg & 0xffff) | 0x10000;
			return 0;
		}
		*group = ((unsigned)getpid() & 0xffff) | 0x10000;
	}
	arg = (int)(*group & 0xffff) | PACKET_FANOUT_HASH << 16;
	if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) == 0)
		return 0;
fail:
	snprintf(err, errlen, "%s: cannot join a PACKET_FANOUT group "
	    "(--workers): %s", s->name, strerror(errno));
	return -1;
}

int
iw_source_fd(struct iw_source *s)
{
	return s->pcap != NULL ? pcap_get_selectable_fd(s->pcap) : -1;
}

void
iw_source_close(struct iw_source *s)
{
	if (s == NULL)
		return;
	if (s->pcap != NULL)
		pcap_close(s->pcap);
	iw_pcapng_close(s->ng);
	source_free(s);
}
