/* SPDX-License-Identifier: ISC */
/*
 * fuzz_session.c - a dissector through the session host (analyzer/
 * session.c), as the reassembler drives it: both directions' bytes
 * interleaved, gaps, the end, and several sessions between the same
 * endpoints (the cross-session findings: stripping, cert_changed,
 * brute force).  Built twice:
 *
 *   fuzz_imap	(default)  ports 143, 993, 1143, 4190: content decides
 *		IMAP (STARTTLS, COMPRESS, literals, SASL) or TLS
 *   fuzz_tls	(-DFZ_TLS) TLS from the first byte on 993 (implicit), on
 *		4433 (other TLS, --all-tls), or after a canned STARTTLS
 *		exchange on 143 (the server's OK canned, or left to the input)
 *
 * Input:
 *   u8   header: bits 0-1 port / mode; bits 2-4 end reason (mod 6);
 *        bit 5 picked up mid-stream (the roles may be swapped by a probe);
 *        bit 6 IPv6 endpoints; bit 7 usernames hashed
 *   then chunks, each
 *     u8   ctl: bit 0 direction (0 to server, 1 to client);
 *          bits 1-3 op: 0-4 data, 5 gap, 6 data a byte at a time,
 *          7 end this session and start the next one (new client port);
 *          bit 6: the clock jumps 61 s (brute-force window);
 *          bit 7: a gap's length is len * 4096; data (ops 0-4) is
 *          delivered 32 times over in one piece (full buffers, 64 KiB
 *          held while STARTTLS is unanswered)
 *     u16  BE len, then len bytes for data ops
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "config.h"
#include "correlate.h"
#include "session.h"

#define MAX_SESSIONS 16

struct fz_sess {
	struct iw_flowref	 flow;
	struct iw_session	*s;
	iw_time			 ts;
};

/* A mid-stream connection whose roles a probe turns round. */
static bool
swap_hook(void *arg)
{
	struct fz_sess *z = arg;
	struct iw_endpoints ep;

	ep.client = z->flow.ep.server;
	ep.server = z->flow.ep.client;
	ep.cport = z->flow.ep.sport;
	ep.sport = z->flow.ep.cport;
	iw_flowref_init(&z->flow, &ep, z->ts);
	return true;
}

static void
sess_open(struct fz_sess *z, uint8_t h, uint16_t cport, uint16_t sport)
{
	struct iw_endpoints ep;

	memset(&ep, 0, sizeof(ep));
	if (h & 0x40) {
		iw_addr_parse("2001:db8::100", &ep.client);
		iw_addr_parse("2001:db8::1", &ep.server);
	} else {
		iw_addr_parse("192.0.2.100", &ep.client);
		iw_addr_parse("192.0.2.1", &ep.server);
	}
	ep.cport = cport;
	ep.sport = sport;
	iw_flowref_init(&z->flow, &ep, z->ts);
	z->s = iw_session_new(&z->flow);
	if (z->s == NULL)
		abort();
	if (h & 0x20)
		iw_session_set_swap_hook(z->s, swap_hook, z);
}

static void
sess_close(struct fz_sess *z, uint8_t h)
{
	z->ts += 1000;
	iw_session_end(z->s, (enum iw_end_reason)(((h >> 2) & 7) % 6), z->ts,
	    NULL);
	iw_corr_flush();	/* no engine: the correlator decides now */
	iw_session_free(z->s);
	z->s = NULL;
}

/*
 * Each delivery from a buffer of exactly its size, freed after the call:
 * a read past it, or a pointer kept into it, is caught.
 */
static void
deliver(struct fz_sess *z, enum iw_dir d, const uint8_t *p, size_t n)
{
	uint8_t *copy = malloc(n ? n : 1);

	if (copy == NULL)
		abort();
	memcpy(copy, p, n);
	iw_session_data(z->s, d, copy, n, z->ts);
	free(copy);
}

static void
deliver_repeated(struct fz_sess *z, enum iw_dir d, const uint8_t *p,
    size_t n, int times)
{
	uint8_t *big = malloc(n * times + 1);
	int i;

	if (big == NULL)
		abort();
	for (i = 0; i < times; i++)
		memcpy(big + n * i, p, n);
	iw_session_data(z->s, d, big, n * times, z->ts);
	free(big);
}

#ifdef FZ_TLS
static void
send_str(struct fz_sess *z, enum iw_dir d, const char *s)
{
	z->ts += 1000;
	deliver(z, d, (const uint8_t *)s, strlen(s));
}
#endif

/* Where the session starts, per harness and header. */
static uint16_t
server_port(uint8_t h)
{
#ifdef FZ_TLS
	static const uint16_t ports[4] = { 993, 4433, 143, 143 };
#else
	static const uint16_t ports[4] = { 143, 993, 1143, 4190 };
#endif
	return ports[h & 3];
}

static void
prelude(struct fz_sess *z, uint8_t h)
{
#ifdef FZ_TLS
	if ((h & 3) < 2)
		return;
	send_str(z, IW_TO_CLIENT, "* OK [CAPABILITY IMAP4rev1 STARTTLS "
	    "LOGINDISABLED] ready\r\n");
	send_str(z, IW_TO_SERVER, "a1 STARTTLS\r\n");
	if ((h & 3) == 2)
		send_str(z, IW_TO_CLIENT, "a1 OK Begin TLS negotiation now\r\n");
#else
	(void)z;
	(void)h;
#endif
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct fz_sess z;
	const uint8_t *p;
	uint8_t h, ctl;
	uint16_t len;
	uint16_t cport = 40000;
	enum iw_dir d;
	size_t n, i;
	int sessions = 1;

	fz_setup();
	if (!fz_u8(&f, &h))
		return 0;
	iw_cfg.usernames = (h & 0x80) ? IW_USERNAMES_HASH : IW_USERNAMES_PLAIN;
	memset(&z, 0, sizeof(z));
	z.ts = FZ_T0;
	sess_open(&z, h, cport, server_port(h));
	prelude(&z, h);
	while (fz_u8(&f, &ctl) && fz_u16(&f, &len)) {
		d = (ctl & 1) ? IW_TO_CLIENT : IW_TO_SERVER;
		z.ts += (ctl & 0x40) ? 61 * IW_USEC : 1000;
		switch ((ctl >> 1) & 7) {
		case 5:
			iw_session_gap(z.s, d, (ctl & 0x80) ?
			    (uint64_t)len * 4096 : len, z.ts);
			break;
		case 6:
			n = len;
			p = fz_take(&f, &n);
			for (i = 0; i < n; i++)
				deliver(&z, d, p + i, 1);
			break;
		case 7:
			if (sessions == MAX_SESSIONS)
				break;
			sessions++;
			sess_close(&z, h);
			sess_open(&z, h, ++cport, server_port(h));
			prelude(&z, h);
			break;
		default:
			n = len;
			p = fz_take(&f, &n);
			if (ctl & 0x80)
				deliver_repeated(&z, d, p, n, 32);
			else
				deliver(&z, d, p, n);
			break;
		}
	}
	sess_close(&z, h);
	return 0;
}
