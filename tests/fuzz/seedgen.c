/* SPDX-License-Identifier: ISC */
/*
 * seedgen - seeds for the fuzz harnesses, cut from real captures with the
 * engine itself (so every link type and the reassembly are as imapwatch
 * sees them).  Test-only, never part of imapwatch.
 *
 * usage: seedgen OUTDIR CAPTURE...
 *
 * Writes, named after the capture:
 *   OUTDIR/packet/   the capture's packets in fuzz_packet's framing,
 *                    cut into files of at most 32 KiB
 *   OUTDIR/imap/     each connection whose bytes look like IMAP (or that
 *                    is on 143/993), its deliveries in capture order in
 *                    fuzz_session's framing
 *   OUTDIR/tls/      each connection that carries TLS, from its first TLS
 *                    record (after a STARTTLS, the IMAP part is left out)
 *   OUTDIR/x509/     the DER of each certificate in a TLS <= 1.2
 *                    Certificate message
 * Sizes are capped so the fuzzers start from small inputs.
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capture.h"
#include "config.h"
#include "dissector.h"
#include "engine.h"
#include "output.h"
#include "reader.h"
#include "session.h"
#include "tls.h"

#define PKT_FILE_MAX	(32 * 1024)
#define SESS_FILE_MAX	(48 * 1024)
#define REC_MAX		(4 << 20)

struct chunk {
	uint8_t		 dir;
	bool		 gap;
	uint32_t	 len;
	size_t		 off;		/* into rec.bytes */
};

struct rec {
	struct rec	*next;
	struct iw_endpoints ep;
	uint8_t		*bytes;
	size_t		 len, cap;
	struct chunk	*chunks;
	size_t		 n, ncap;
	bool		 full;
};

static struct rec *recs;
static const char *outdir;
static char base[256];
static int nfiles[4];

extern const struct iw_dissector iw_imap_dissector, iw_tls_dissector;

static enum iw_probe
rec_probe(enum iw_dir dir, const uint8_t *b, size_t n,
    const struct iw_endpoints *ep)
{
	if (iw_imap_dissector.probe(dir, b, n, ep) == IW_PROBE_MATCH_REVERSED ||
	    iw_tls_dissector.probe(dir, b, n, ep) == IW_PROBE_MATCH_REVERSED)
		return IW_PROBE_MATCH_REVERSED;
	return IW_PROBE_MATCH;
}

static void *
rec_create(struct iw_session *s)
{
	struct rec *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->ep = iw_session_flow(s)->ep;
	r->next = recs;
	recs = r;
	return r;
}

static void
add_chunk(struct rec *r, enum iw_dir dir, bool gap, const uint8_t *b,
    size_t n)
{
	struct chunk *c;

	if (r->full)
		return;
	if (r->len + n > REC_MAX) {
		r->full = true;
		return;
	}
	if (r->n == r->ncap) {
		r->ncap = r->ncap ? r->ncap * 2 : 64;
		r->chunks = realloc(r->chunks, r->ncap * sizeof(*c));
	}
	if (!gap && r->len + n > r->cap) {
		while (r->cap < r->len + n)
			r->cap = r->cap ? r->cap * 2 : 4096;
		r->bytes = realloc(r->bytes, r->cap);
	}
	if (r->chunks == NULL || (!gap && r->bytes == NULL))
		abort();
	c = &r->chunks[r->n++];
	c->dir = (uint8_t)dir;
	c->gap = gap;
	c->len = (uint32_t)n;
	c->off = r->len;
	if (!gap) {
		memcpy(r->bytes + r->len, b, n);
		r->len += n;
	}
}

static size_t
rec_data(void *st, enum iw_dir dir, const uint8_t *b, size_t n)
{
	add_chunk(st, dir, false, b, n);
	return n;
}

static void
rec_gap(void *st, enum iw_dir dir, uint64_t n)
{
	add_chunk(st, dir, true, NULL, n > UINT32_MAX ? UINT32_MAX : n);
}

static void rec_end(void *st, enum iw_end_reason why) { }
static void rec_report(void *st, struct json_object *ev) { }
static void rec_destroy(void *st) { }

static const struct iw_dissector recorder = {
	"recorder", rec_probe, rec_create, rec_data, rec_gap, rec_end,
	rec_report, rec_destroy,
};

/* Replaces the library's registry: only the recorder is linked in. */
const struct iw_dissector *const iw_dissectors[] = { &recorder, NULL };

/* ---- output ---- */

static FILE *
open_out(const char *kind, int k)
{
	char path[4096];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", outdir, kind);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s-%d", outdir, kind, base, k);
	fp = fopen(path, "wb");
	if (fp == NULL) {
		perror(path);
		exit(1);
	}
	return fp;
}

/* ---- packets ---- */

static const int dlts[] = {
	DLT_EN10MB, DLT_LINUX_SLL, 276, DLT_NULL, DLT_LOOP, DLT_RAW, 228,
	229, 239, DLT_PPP, 12,
};

static int
dlt_index(int dlt)
{
	size_t i;

	for (i = 0; i < sizeof(dlts) / sizeof(dlts[0]); i++)
		if (dlts[i] == dlt)
			return (int)i;
	return -1;
}

static FILE *pkt_fp;
static size_t pkt_size;
static int pkt_dlt = -2;
static iw_time pkt_last;

static void
packet_seed(const struct iw_rawpkt *p)
{
	int idx = dlt_index(p->linktype);
	uint32_t n = p->caplen > 0x7fff ? 0x7fff : p->caplen;
	iw_time dt;
	uint8_t step;
	uint16_t hdr;

	if (idx < 0)
		return;
	if (pkt_fp != NULL && (pkt_size + 3 + n > PKT_FILE_MAX ||
	    idx != pkt_dlt)) {
		fclose(pkt_fp);
		pkt_fp = NULL;
	}
	if (pkt_fp == NULL) {
		pkt_fp = open_out("packet", nfiles[0]++);
		fputc(idx, pkt_fp);
		pkt_size = 1;
		pkt_dlt = idx;
		pkt_last = p->ts;
	}
	dt = p->ts - pkt_last;
	pkt_last = p->ts;
	if (dt < 0)
		step = 0;
	else if (dt < 200000)
		step = (uint8_t)(dt / 1000);
	else
		step = dt / (5 * IW_USEC) > 55 ? 255 :
		    (uint8_t)(200 + dt / (5 * IW_USEC));
	hdr = (uint16_t)n | (p->wirelen > p->caplen ? 0x8000 : 0);
	fputc(hdr >> 8, pkt_fp);
	fputc(hdr & 0xff, pkt_fp);
	fputc(step, pkt_fp);
	fwrite(p->data, 1, n, pkt_fp);
	pkt_size += 3 + n;
}

/* ---- sessions ---- */

static bool
looks_imap(const struct rec *r)
{
	size_t i;

	if (r->ep.sport == 143 || r->ep.sport == 993 || r->ep.sport == 1143)
		return true;
	for (i = 0; i < r->n && i < 4; i++) {
		const struct chunk *c = &r->chunks[i];

		if (!c->gap && iw_imap_dissector.probe(c->dir,
		    r->bytes + c->off, c->len, &r->ep) == IW_PROBE_MATCH)
			return true;
	}
	return false;
}

static bool
is_tls_chunk(const struct rec *r, const struct chunk *c)
{
	return !c->gap && c->len >= 5 &&
	    iw_tls_probe_bytes(r->bytes + c->off, c->len) == IW_PROBE_MATCH;
}

/* Writes chunks [from, n) (those of a direction before its first TLS
 * chunk left out when tls_only); returns false if nothing was written. */
static void
session_seed(const struct rec *r, const char *kind, uint8_t hdr,
    bool tls_only)
{
	bool started[2] = { !tls_only, !tls_only };
	size_t i, size = 1, len, off;
	FILE *fp = NULL;
	uint32_t glen;

	for (i = 0; i < r->n && size < SESS_FILE_MAX; i++) {
		const struct chunk *c = &r->chunks[i];

		if (!started[c->dir]) {
			if (!is_tls_chunk(r, c))
				continue;
			started[c->dir] = true;
		}
		if (fp == NULL) {
			fp = open_out(kind, nfiles[kind[0] == 'i' ? 1 : 2]++);
			fputc(hdr, fp);
		}
		if (c->gap) {
			glen = c->len;
			if (glen > 0xffff) {
				fputc(c->dir | 5 << 1 | 0x80, fp);
				glen = (glen + 4095) / 4096;
				if (glen > 0xffff)
					glen = 0xffff;
			} else
				fputc(c->dir | 5 << 1, fp);
			fputc(glen >> 8, fp);
			fputc(glen & 0xff, fp);
			size += 3;
			continue;
		}
		for (off = 0; off < c->len && size < SESS_FILE_MAX;
		    off += len) {
			len = c->len - off;
			if (len > 0xffff)
				len = 0xffff;
			if (len > SESS_FILE_MAX - size)
				len = SESS_FILE_MAX - size;
			fputc(c->dir, fp);
			fputc((int)(len >> 8), fp);
			fputc((int)(len & 0xff), fp);
			fwrite(r->bytes + c->off + off, 1, len, fp);
			size += 3 + len;
		}
	}
	if (fp != NULL)
		fclose(fp);
}

/* Certificates of a TLS <= 1.2 Certificate message, from the server's
 * handshake records. */
static void
cert_seeds(const struct rec *r)
{
	uint8_t *hs = NULL;
	size_t hlen = 0, i;
	struct iw_rd rr, m, list, cert;
	uint8_t type;
	uint32_t mlen;
	FILE *fp;
	int seen = 0;

	for (i = 0; i < r->n; i++) {
		const struct chunk *c = &r->chunks[i];
		struct iw_rd rec;
		uint16_t rlen;

		if (c->gap || c->dir != IW_TO_CLIENT)
			continue;
		rec = rd_init(r->bytes + c->off, c->len);
		while (rd_left(&rec) >= 5) {
			const uint8_t *b;

			type = rd_u8(&rec);
			rd_skip(&rec, 2);
			rlen = rd_u16(&rec);
			if (!rd_bytes(&rec, rlen, &b))
				break;
			if (type != 22)
				continue;
			hs = realloc(hs, hlen + rlen);
			memcpy(hs + hlen, b, rlen);
			hlen += rlen;
		}
	}
	rr = rd_init(hs, hlen);
	while (rd_left(&rr) >= 4 && seen < 8) {
		type = rd_u8(&rr);
		mlen = rd_u24(&rr);
		m = rd_sub(&rr, mlen);
		if (m.bad)
			break;
		if (type != 11)
			continue;
		list = rd_sub(&m, rd_u24(&m));
		while (rd_left(&list) >= 3 && !list.bad) {
			cert = rd_sub(&list, rd_u24(&list));
			if (cert.bad || cert.len == 0)
				break;
			fp = open_out("x509", nfiles[3]++);
			fwrite(cert.base, 1, cert.len, fp);
			fclose(fp);
			seen++;
		}
	}
	free(hs);
}

static void
flush_sessions(void)
{
	struct rec *r, *next;
	size_t i;
	uint8_t port;
	bool tls = false;

	for (r = recs; r != NULL; r = next) {
		next = r->next;
		for (i = 0, tls = false; i < r->n && !tls; i++)
			tls = is_tls_chunk(r, &r->chunks[i]);
		if (looks_imap(r)) {
			port = r->ep.sport == 993 ? 1 : r->ep.sport == 1143 ?
			    2 : 0;
			session_seed(r, "imap", port, false);
		}
		if (tls) {
			/* 993: implicit; a STARTTLS: mode 2; else 4433 */
			port = r->ep.sport == 993 ? 0 : looks_imap(r) ? 2 : 1;
			session_seed(r, "tls", port, true);
			cert_seeds(r);
		}
		free(r->bytes);
		free(r->chunks);
		free(r);
	}
	recs = NULL;
}

int
main(int argc, char **argv)
{
	struct iw_source *src;
	struct iw_rawpkt pkt;
	char err[1024];
	const char *slash;
	int i;

	if (argc < 3) {
		fprintf(stderr, "usage: seedgen OUTDIR CAPTURE...\n");
		return 2;
	}
	outdir = argv[1];
	mkdir(outdir, 0755);
	iw_config_defaults(&iw_cfg);
	iw_cfg.all_tls = true;
	if (iw_output_add("/dev/null", err, sizeof(err)) != 0)
		return 1;
	for (i = 2; i < argc; i++) {
		src = iw_source_open_file(argv[i], err, sizeof(err));
		if (src == NULL) {
			fprintf(stderr, "seedgen: %s\n", err);
			continue;
		}
		/* parent directory and file name, spaces and such made '_' */
		slash = strrchr(argv[i], '/');
		if (slash != NULL)
			while (slash > argv[i] && slash[-1] != '/')
				slash--;
		snprintf(base, sizeof(base), "%s", slash ? slash : argv[i]);
		for (char *c = base; *c; c++)
			if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' &&
			    *c <= 'Z') || (*c >= '0' && *c <= '9') ||
			    *c == '.' || *c == '-'))
				*c = '_';
		memset(nfiles, 0, sizeof(nfiles));
		iw_engine_init();
		while (iw_source_next(src, &pkt) == IW_NEXT_PACKET) {
			packet_seed(&pkt);
			iw_engine_packet(&pkt);
		}
		iw_engine_finish();
		iw_source_close(src);
		if (pkt_fp != NULL)
			fclose(pkt_fp);
		pkt_fp = NULL;
		flush_sessions();
	}
	iw_output_close();
	return 0;
}
