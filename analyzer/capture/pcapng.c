/* SPDX-License-Identifier: ISC */
/*
 * pcapng.c - a small pcapng reader for the files libpcap 1.10 refuses:
 * those whose interfaces have different link types (an Ethernet interface
 * and a loopback one in the same capture).  It reads section headers,
 * interface descriptions (link type, snaplen, timestamp resolution and
 * offset) and enhanced, simple and obsolete packet blocks; every other block
 * is skipped.  Every length is checked against the block before use; a
 * block longer than 16 MiB, or whose trailing length differs from its
 * leading one, is taken as damage.
 *
 * Interfaces give their link type as a LINKTYPE_ value, which is not
 * always the DLT_ value the decoder knows (pcap-linktype(7)): raw IP is
 * LINKTYPE_RAW 101 in files and DLT_RAW 12 (14 on OpenBSD) in the API.
 * libpcap maps them when it reads a file; this reader maps them the same
 * way (linktype_to_dlt), or a tun or WireGuard interface of a mixed file
 * would be skipped as an unknown link type.
 */
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "reader.h"

#define BT_SHB		0x0a0d0d0aU
#define BT_IDB		0x00000001U
#define BT_OPB		0x00000002U
#define BT_SPB		0x00000003U
#define BT_EPB		0x00000006U
#define BOM		0x1a2b3c4dU
#define MAX_BLOCK	(16U << 20)
#define MAX_IFACES	256
#define TS_LIMIT	((iw_time)1 << 60)	/* microseconds */

struct iface {
	int		 linktype;
	uint32_t	 snaplen;
	uint64_t	 units;		/* timestamp units a second, 10^n */
	int		 shift;		/* ... or 2^shift when units is 0 */
	int64_t		 offset;	/* seconds to add */
};

struct iw_pcapng {
	FILE		*fp;
	bool		 swap;		/* section in the other byte order */
	struct iface	 ifaces[MAX_IFACES];
	int		 n_ifaces;
	uint8_t		*buf;
	uint32_t	 bufsize;
	char		 err[128];
};

static uint32_t
u32(const struct iw_pcapng *g, const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return g->swap ? __builtin_bswap32(v) : v;
}

/* A reader over the block body in the section's byte order. */
static uint32_t
body_u32(const struct iw_pcapng *g, struct iw_rd *r)
{
	const uint8_t *p;

	if (!rd_bytes(r, 4, &p))
		return 0;
	return u32(g, p);
}

static uint16_t
body_u16(const struct iw_pcapng *g, struct iw_rd *r)
{
	const uint8_t *p;
	uint16_t v;

	if (!rd_bytes(r, 2, &p))
		return 0;
	memcpy(&v, p, 2);
	return g->swap ? __builtin_bswap16(v) : v;
}

/* Reads one whole block: type, and the body (without the trailer). */
static enum iw_next
read_block(struct iw_pcapng *g, uint32_t *type, struct iw_rd *body)
{
	uint8_t hdr[8];
	uint32_t len, bom;
	uint8_t *nb;

	if (fread(hdr, 1, 8, g->fp) != 8)
		return feof(g->fp) ? IW_NEXT_EOF : IW_NEXT_ERROR;
	memcpy(type, hdr, 4);
	if (*type == BT_SHB) {
		/* the byte order is known only from this block's body */
		if (fread(&bom, 1, 4, g->fp) != 4)
			return IW_NEXT_ERROR;
		g->swap = bom != BOM;
		if (g->swap && __builtin_bswap32(bom) != BOM) {
			snprintf(g->err, sizeof(g->err),
			    "bad pcapng byte-order magic");
			return IW_NEXT_ERROR;
		}
		if (fseek(g->fp, -4, SEEK_CUR) != 0)
			return IW_NEXT_ERROR;
	} else
		*type = u32(g, hdr);
	len = u32(g, hdr + 4);
	if (len < 12 || len % 4 != 0 || len > MAX_BLOCK) {
		snprintf(g->err, sizeof(g->err),
		    "pcapng block of bad length %u", len);
		return IW_NEXT_ERROR;
	}
	if (len - 8 > g->bufsize) {
		nb = realloc(g->buf, len - 8);
		if (nb == NULL)
			return IW_NEXT_ERROR;
		g->buf = nb;
		g->bufsize = len - 8;
	}
	if (fread(g->buf, 1, len - 8, g->fp) != len - 8) {
		snprintf(g->err, sizeof(g->err), "pcapng file cut short");
		return IW_NEXT_ERROR;
	}
	if (u32(g, g->buf + len - 12) != len) {
		snprintf(g->err, sizeof(g->err), "pcapng block of length %u "
		    "ends with length %u", len, u32(g, g->buf + len - 12));
		return IW_NEXT_ERROR;
	}
	*body = rd_init(g->buf, len - 12);	/* trailer length excluded */
	return IW_NEXT_PACKET;
}

/*
 * LINKTYPE_ (in files) to DLT_ (libpcap's API), as libpcap's own table
 * (pcap-common.c) maps those that differ; the others are the same value.
 */
static int
linktype_to_dlt(int linktype)
{
	static const struct {
		int	linktype, dlt;
	} differ[] = {
		{ 100, DLT_ATM_RFC1483 },
		{ 101, DLT_RAW },
		{ 102, DLT_SLIP_BSDOS },
		{ 103, DLT_PPP_BSDOS },
		{ 106, DLT_ATM_CLIP },
		{ 246, DLT_PFSYNC },
	};
	size_t i;

	for (i = 0; i < sizeof(differ) / sizeof(differ[0]); i++)
		if (differ[i].linktype == linktype)
			return differ[i].dlt;
	return linktype;
}

static void
parse_idb_options(struct iw_pcapng *g, struct iw_rd *r, struct iface *ifc)
{
	uint16_t code, olen;
	const uint8_t *v;
	int i;

	for (i = 0; i < 256 && rd_left(r) >= 4; i++) {
		code = body_u16(g, r);
		olen = body_u16(g, r);
		if (code == 0 || !rd_bytes(r, olen, &v))
			return;
		rd_skip(r, (4 - olen % 4) % 4);
		if (code == 9 && olen >= 1) {		/* if_tsresol */
			if (v[0] & 0x80) {
				ifc->units = 0;
				ifc->shift = v[0] & 0x7f;
			} else {
				ifc->units = 1;
				for (int k = 0; k < (v[0] & 0x7f) && k < 19; k++)
					ifc->units *= 10;
			}
		} else if (code == 14 && olen >= 8) {	/* if_tsoffset */
			uint64_t off;

			memcpy(&off, v, 8);
			if (g->swap)
				off = __builtin_bswap64(off);
			ifc->offset = (int64_t)off;
		}
	}
}

static void
parse_idb(struct iw_pcapng *g, struct iw_rd *r)
{
	struct iface *ifc;

	if (g->n_ifaces == MAX_IFACES)
		return;
	ifc = &g->ifaces[g->n_ifaces++];
	memset(ifc, 0, sizeof(*ifc));
	ifc->linktype = linktype_to_dlt(body_u16(g, r));
	rd_skip(r, 2);
	ifc->snaplen = body_u32(g, r);
	ifc->units = 1000000;
	parse_idb_options(g, r, ifc);
}

static iw_time
to_usec(const struct iface *ifc, uint64_t ts)
{
	unsigned __int128 t = ts;
	__int128 us;

	if (ifc->units == 0)
		t = (t * 1000000) >> (ifc->shift > 63 ? 63 : ifc->shift);
	else if (ifc->units >= 1000000)
		t /= ifc->units / 1000000;
	else
		t *= 1000000 / ifc->units;
	/* a hostile timestamp or if_tsoffset is held to +-36,000 years
	 * rather than overflowing here or in the time arithmetic after */
	us = (__int128)t + (__int128)ifc->offset * IW_USEC;
	if (us > TS_LIMIT)
		return TS_LIMIT;
	if (us < -TS_LIMIT)
		return -TS_LIMIT;
	return (iw_time)us;
}

/* Enhanced (EPB) and obsolete (OPB) packet blocks. */
static bool
parse_packet(struct iw_pcapng *g, struct iw_rd *r, uint32_t type,
    struct iw_rawpkt *pkt)
{
	uint32_t ifid, hi, lo, caplen, len;
	const struct iface *ifc;

	if (type == BT_OPB) {
		ifid = body_u16(g, r);
		rd_skip(r, 2);
	} else
		ifid = body_u32(g, r);
	hi = body_u32(g, r);
	lo = body_u32(g, r);
	caplen = body_u32(g, r);
	len = body_u32(g, r);
	if (r->bad || ifid >= (uint32_t)g->n_ifaces || caplen > rd_left(r))
		return false;
	ifc = &g->ifaces[ifid];
	pkt->ts = to_usec(ifc, (uint64_t)hi << 32 | lo);
	pkt->data = rd_ptr(r);
	pkt->caplen = caplen;
	pkt->wirelen = len < caplen ? caplen : len;
	pkt->linktype = ifc->linktype;
	return true;
}

static bool
parse_spb(struct iw_pcapng *g, struct iw_rd *r, struct iw_rawpkt *pkt)
{
	uint32_t len, caplen;

	if (g->n_ifaces == 0)
		return false;
	len = body_u32(g, r);
	caplen = (uint32_t)rd_left(r);
	if (caplen > len)
		caplen = len;
	if (g->ifaces[0].snaplen != 0 && caplen > g->ifaces[0].snaplen)
		caplen = g->ifaces[0].snaplen;
	pkt->ts = 0;		/* simple packet blocks carry no time */
	pkt->data = rd_ptr(r);
	pkt->caplen = caplen;
	pkt->wirelen = len;
	pkt->linktype = g->ifaces[0].linktype;
	return !r->bad;
}

enum iw_next
iw_pcapng_next(struct iw_pcapng *g, struct iw_rawpkt *pkt)
{
	struct iw_rd body;
	uint32_t type;
	enum iw_next rc;

	for (;;) {
		rc = read_block(g, &type, &body);
		if (rc != IW_NEXT_PACKET)
			return rc;
		switch (type) {
		case BT_SHB:
			g->n_ifaces = 0;
			break;
		case BT_IDB:
			parse_idb(g, &body);
			break;
		case BT_EPB:
		case BT_OPB:
			if (parse_packet(g, &body, type, pkt))
				return IW_NEXT_PACKET;
			snprintf(g->err, sizeof(g->err),
			    "malformed pcapng packet block");
			return IW_NEXT_ERROR;
		case BT_SPB:
			if (parse_spb(g, &body, pkt))
				return IW_NEXT_PACKET;
			break;
		}
	}
}

bool
iw_pcapng_mixed_linktypes(FILE *fp)
{
	struct iw_pcapng *g;
	struct iw_rd body;
	uint32_t type;
	int first = -1, lt;
	bool mixed = false;
	long start = ftell(fp);

	g = iw_pcapng_open(fp);
	if (g == NULL)
		return false;
	while (!mixed && read_block(g, &type, &body) == IW_NEXT_PACKET) {
		if (type != BT_IDB)
			continue;
		lt = body_u16(g, &body);
		if (first < 0)
			first = lt;
		else if (lt != first)
			mixed = true;
	}
	g->fp = NULL;
	iw_pcapng_close(g);
	fseek(fp, start, SEEK_SET);
	return mixed;
}

struct iw_pcapng *
iw_pcapng_open(FILE *fp)
{
	struct iw_pcapng *g = calloc(1, sizeof(*g));

	if (g == NULL)
		return NULL;
	g->fp = fp;
	return g;
}

const char *
iw_pcapng_error(const struct iw_pcapng *g)
{
	return g->err[0] ? g->err : "read error";
}

void
iw_pcapng_close(struct iw_pcapng *g)
{
	if (g == NULL)
		return;
	if (g->fp != NULL)
		fclose(g->fp);
	free(g->buf);
	free(g);
}
