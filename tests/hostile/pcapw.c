/* SPDX-License-Identifier: ISC */
/*
 * pcapw.c - see pcapw.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcapw.h"

#define LINKTYPE_ETHERNET	1
#define SNAPLEN			262144
#define MAX_PAYLOAD		65000

static const uint8_t mac_client[6] = { 0x02, 0, 0, 0, 0x0a, 0x01 };
static const uint8_t mac_server[6] = { 0x02, 0, 0, 0, 0x0b, 0x01 };

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

static void
put32le(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = v >> 24;
}

int
pw_open(struct pw_file *w, const char *path, uint64_t start_us)
{
	uint8_t h[24];

	memset(w, 0, sizeof(*w));
	w->f = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
	if (w->f == NULL)
		return -1;
	setvbuf(w->f, NULL, _IOFBF, 1 << 20);
	put32le(h, 0xa1b2c3d4);
	h[4] = 2; h[5] = 0; h[6] = 4; h[7] = 0;	/* version 2.4, LE */
	memset(h + 8, 0, 8);
	put32le(h + 16, SNAPLEN);
	put32le(h + 20, LINKTYPE_ETHERNET);
	w->ts_us = start_us;
	return fwrite(h, 1, sizeof(h), w->f) == sizeof(h) ? 0 : -1;
}

int
pw_close(struct pw_file *w)
{
	int rc = ferror(w->f) ? -1 : 0;

	if (w->f != stdout) {
		if (fclose(w->f) != 0)
			rc = -1;
	} else if (fflush(w->f) != 0)
		rc = -1;
	return rc;
}

void
pw_advance(struct pw_file *w, uint64_t us)
{
	w->ts_us += us;
}

void
pw_frame(struct pw_file *w, const uint8_t *frame, size_t len,
    size_t orig_len)
{
	uint8_t h[16];

	put32le(h, (uint32_t)(w->ts_us / 1000000));
	put32le(h + 4, (uint32_t)(w->ts_us % 1000000));
	put32le(h + 8, (uint32_t)len);
	put32le(h + 12, (uint32_t)(orig_len ? orig_len : len));
	fwrite(h, 1, sizeof(h), w->f);
	fwrite(frame, 1, len, w->f);
	w->frames++;
	w->bytes += sizeof(h) + len;
	w->ts_us += 10;		/* frames 10 us apart unless told otherwise */
}

/* ---- checksums ---- */

static uint32_t
sum16(uint32_t s, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t
fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint16_t
tcp_checksum(const struct pw_seg *g, const uint8_t *tcp, size_t tcplen)
{
	uint8_t pseudo[40];
	uint32_t s;
	size_t alen = g->from->v6 ? 16 : 4;

	s = sum16(0, g->from->addr, alen);
	s = sum16(s, g->to->addr, alen);
	memset(pseudo, 0, sizeof(pseudo));
	pseudo[1] = 6;
	s = sum16(s, pseudo, 2);
	s += (uint32_t)tcplen;
	return fold(sum16(s, tcp, tcplen));
}

/* ---- frames ---- */

void
pw_tcp(struct pw_file *w, const struct pw_seg *g)
{
	static uint8_t buf[14 + 40 + 20 + MAX_PAYLOAD];
	uint8_t *ip = buf + 14, *tcp;
	size_t iplen, len = g->len > MAX_PAYLOAD ? MAX_PAYLOAD : g->len;

	/* the analyzer ignores MAC addresses: one fixed pair will do */
	memcpy(buf, mac_server, 6);
	memcpy(buf + 6, mac_client, 6);
	if (g->from->v6) {
		put16(buf + 12, 0x86dd);
		iplen = 40;
		memset(ip, 0, 40);
		ip[0] = 0x60;
		put16(ip + 4, g->ip_len_zero ? 0 : (uint16_t)(20 + len));
		ip[6] = 6;
		ip[7] = 64;
		memcpy(ip + 8, g->from->addr, 16);
		memcpy(ip + 24, g->to->addr, 16);
	} else {
		put16(buf + 12, 0x0800);
		iplen = 20;
		memset(ip, 0, 20);
		ip[0] = 0x45;
		put16(ip + 2, g->ip_len_zero ? 0 : (uint16_t)(20 + 20 + len));
		put16(ip + 4, g->ip_id);
		ip[6] = 0x40;		/* DF */
		ip[8] = 64;
		ip[9] = 6;
		memcpy(ip + 12, g->from->addr, 4);
		memcpy(ip + 16, g->to->addr, 4);
		put16(ip + 10, fold(sum16(0, ip, 20)));
	}
	tcp = ip + iplen;
	pw_frame(w, buf, 14 + iplen + pw_tcp_bytes(tcp, g), g->orig_len);
}

/* ---- endpoints ---- */

void
pw_v4(struct pw_end *e, const char *addr, uint16_t port)
{
	memset(e, 0, sizeof(*e));
	if (inet_pton(AF_INET, addr, e->addr) != 1) {
		fprintf(stderr, "pcapw: bad IPv4 address %s\n", addr);
		exit(2);
	}
	e->port = port;
}

void
pw_v6(struct pw_end *e, const char *addr, uint16_t port)
{
	memset(e, 0, sizeof(*e));
	e->v6 = true;
	if (inet_pton(AF_INET6, addr, e->addr) != 1) {
		fprintf(stderr, "pcapw: bad IPv6 address %s\n", addr);
		exit(2);
	}
	e->port = port;
}

/* ---- connections ---- */

void
pw_conn_init(struct pw_conn *k, const struct pw_end *client,
    const struct pw_end *server, uint32_t cisn, uint32_t sisn)
{
	memset(k, 0, sizeof(*k));
	k->c = *client;
	k->s = *server;
	k->cseq = cisn;
	k->sseq = sisn;
	k->ip_id = 1;
}

/* A segment `off` bytes past the next sequence number of direction d. */
static void
seg_at(struct pw_file *w, struct pw_conn *k, enum pw_dir d, uint32_t off,
    uint8_t flags, const void *data, size_t len)
{
	struct pw_seg g;

	memset(&g, 0, sizeof(g));
	g.from = d == PW_C2S ? &k->c : &k->s;
	g.to = d == PW_C2S ? &k->s : &k->c;
	g.seq = (d == PW_C2S ? k->cseq : k->sseq) + off;
	g.ack = d == PW_C2S ? k->sseq : k->cseq;
	g.flags = flags;
	g.payload = data;
	g.len = len;
	g.ip_id = k->ip_id++;
	pw_tcp(w, &g);
}

static void
conn_seg(struct pw_file *w, struct pw_conn *k, enum pw_dir d, uint8_t flags,
    const void *data, size_t len)
{
	seg_at(w, k, d, 0, flags, data, len);
	if (d == PW_C2S)
		k->cseq += (uint32_t)len + ((flags & (TH_SYN | TH_FIN)) ? 1 : 0);
	else
		k->sseq += (uint32_t)len + ((flags & (TH_SYN | TH_FIN)) ? 1 : 0);
}

void
pw_handshake(struct pw_file *w, struct pw_conn *k)
{
	conn_seg(w, k, PW_C2S, TH_SYN, NULL, 0);
	conn_seg(w, k, PW_S2C, TH_SYN | TH_ACK, NULL, 0);
	conn_seg(w, k, PW_C2S, TH_ACK, NULL, 0);
}

void
pw_send(struct pw_file *w, struct pw_conn *k, enum pw_dir d,
    const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len > 0) {
		size_t n = len > 1448 ? 1448 : len;

		conn_seg(w, k, d, TH_ACK | TH_PSH, p, n);
		p += n;
		len -= n;
	}
}

void
pw_close_conn(struct pw_file *w, struct pw_conn *k)
{
	conn_seg(w, k, PW_C2S, TH_FIN | TH_ACK, NULL, 0);
	conn_seg(w, k, PW_S2C, TH_FIN | TH_ACK, NULL, 0);
	conn_seg(w, k, PW_C2S, TH_ACK, NULL, 0);
}

void
pw_victim_session(struct pw_file *w, const struct pw_end *client,
    const struct pw_end *server)
{
	pw_victim_session_hook(w, client, server, NULL, NULL);
}

void
pw_victim_session_hook(struct pw_file *w, const struct pw_end *client,
    const struct pw_end *server,
    void (*before_login)(struct pw_file *, struct pw_conn *, void *),
    void *arg)
{
	static const char greeting[] =
	    "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE "
	    "IDLE LITERAL+ AUTH=PLAIN] Dovecot ready.\r\n";
	static const char login[] =
	    "a1 LOGIN " VICTIM_USER " " VICTIM_PASS "\r\n";
	static const char ok[] = "a1 OK Logged in\r\n";
	static const char logout[] = "a2 LOGOUT\r\n";
	static const char bye[] = "* BYE Logging out\r\na2 OK Logout "
	    "completed.\r\n";
	struct pw_conn k;

	pw_conn_init(&k, client, server, 0x10000000, 0x20000000);
	pw_handshake(w, &k);
	pw_send(w, &k, PW_S2C, greeting, sizeof(greeting) - 1);
	if (before_login != NULL)
		before_login(w, &k, arg);
	pw_send(w, &k, PW_C2S, login, sizeof(login) - 1);
	pw_send(w, &k, PW_S2C, ok, sizeof(ok) - 1);
	pw_send(w, &k, PW_C2S, logout, sizeof(logout) - 1);
	pw_send(w, &k, PW_S2C, bye, sizeof(bye) - 1);
	pw_close_conn(w, &k);
}

void
pw_client_v4(struct pw_end *e, uint64_t v)
{
	pw_v4(e, "10.0.0.0", (uint16_t)(1024 + (v >> 40) % 64511));
	e->addr[1] = (uint8_t)v;
	e->addr[2] = (uint8_t)(v >> 8);
	e->addr[3] = (uint8_t)(v >> 16);
}

void
pw_victim_last(struct pw_file *w,
    void (*before_login)(struct pw_file *, struct pw_conn *, void *),
    void *arg)
{
	struct pw_end c, s;

	pw_advance(w, 1000000);
	pw_v4(&c, "192.0.2.10", 40000);
	pw_v4(&s, "192.0.2.200", 143);
	pw_victim_session_hook(w, &c, &s, before_login, arg);
}

uint64_t
pw_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* ---- out of order, idle, and the victim's LOGIN reordered ---- */

void
pw_seg_at(struct pw_file *w, struct pw_conn *k, enum pw_dir d, uint32_t off,
    const void *data, size_t len)
{
	seg_at(w, k, d, off, TH_ACK | TH_PSH, data, len);
}

void
pw_seq_skip(struct pw_conn *k, enum pw_dir d, uint32_t n)
{
	if (d == PW_C2S)
		k->cseq += n;
	else
		k->sseq += n;
}

void
pw_ack(struct pw_file *w, struct pw_conn *k, enum pw_dir d)
{
	conn_seg(w, k, d, TH_ACK, NULL, 0);
}

void
pw_send_reordered(struct pw_file *w, struct pw_conn *k, enum pw_dir d,
    const void *data, size_t len, size_t split)
{
	const uint8_t *p = data;

	if (split > len)
		split = len;
	pw_seg_at(w, k, d, (uint32_t)split, p + split, len - split);
	pw_seg_at(w, k, d, 0, p, split);
	pw_seq_skip(k, d, (uint32_t)len);
}

void
pw_victim_session_split(struct pw_file *w, const struct pw_end *client,
    const struct pw_end *server)
{
	static const char greeting[] = "* OK [CAPABILITY IMAP4rev1 "
	    "AUTH=PLAIN] Dovecot ready.\r\n";
	static const char login[] =
	    "a1 LOGIN " VICTIM_USER " " VICTIM_PASS "\r\n";
	static const char ok[] = "a1 OK Logged in\r\n";
	struct pw_conn k;

	pw_conn_init(&k, client, server, 0x30000000, 0x40000000);
	pw_handshake(w, &k);
	pw_send(w, &k, PW_S2C, greeting, sizeof(greeting) - 1);
	/* the user name in one segment, the password in the other */
	pw_send_reordered(w, &k, PW_C2S, login, sizeof(login) - 1,
	    sizeof("a1 LOGIN " VICTIM_USER) - 1);
	pw_send(w, &k, PW_S2C, ok, sizeof(ok) - 1);
	pw_close_conn(w, &k);
}

void
pw_client_n(struct pw_end *e, uint8_t net, uint64_t i)
{
	pw_v4(e, "10.0.0.0", (uint16_t)(1024 + i % 60000));
	e->addr[1] = (uint8_t)(net + (i >> 16));
	e->addr[2] = (uint8_t)(i >> 8);
	e->addr[3] = (uint8_t)i;
}

void
pw_open_imap(struct pw_file *w, struct pw_conn *k, const struct pw_end *client,
    const struct pw_end *server, uint32_t cisn, const char *greeting)
{
	pw_conn_init(k, client, server, cisn, cisn ^ 0x5a5a5a5a);
	pw_handshake(w, k);
	pw_send(w, k, PW_S2C, greeting, strlen(greeting));
}

void
pw_linger(struct pw_file *w, struct pw_conn *k, bool close)
{
	if (close) {
		pw_close_conn(w, k);
		return;
	}
	pw_ack(w, k, PW_C2S);
	pw_ack(w, k, PW_S2C);
	pw_ack(w, k, PW_C2S);
}

/* ---- IP fragments (the fragment-table attacks) ---- */

size_t
pw_tcp_bytes(uint8_t *out, const struct pw_seg *g)
{
	size_t len = g->len > MAX_PAYLOAD ? MAX_PAYLOAD : g->len;

	memset(out, 0, 20);
	put16(out, g->from->port);
	put16(out + 2, g->to->port);
	put32(out + 4, g->seq);
	put32(out + 8, g->ack);
	out[12] = 5 << 4;
	out[13] = g->flags;
	put16(out + 14, 65535);
	if (len)
		memcpy(out + 20, g->payload, len);
	put16(out + 16, tcp_checksum(g, out, 20 + len));
	return 20 + len;
}

void
pw_client_seg(struct pw_seg *g, const struct pw_conn *k, const void *data,
    size_t len)
{
	memset(g, 0, sizeof(*g));
	g->from = &k->c;
	g->to = &k->s;
	g->seq = k->cseq;
	g->ack = k->sseq;
	g->flags = TH_ACK | TH_PSH;
	g->payload = data;
	g->len = len;
}

void
pw_ip_fragment(struct pw_file *w, const struct pw_frag *fr)
{
	static uint8_t buf[14 + 40 + 8 + MAX_PAYLOAD];
	uint8_t *ip = buf + 14;
	size_t len = fr->len > MAX_PAYLOAD ? MAX_PAYLOAD : fr->len, hl;

	memcpy(buf, mac_server, 6);
	memcpy(buf + 6, mac_client, 6);
	if (fr->from->v6) {
		put16(buf + 12, 0x86dd);
		hl = 48;
		memset(ip, 0, hl);
		ip[0] = 0x60;
		put16(ip + 4, (uint16_t)(8 + len));
		ip[6] = 44;		/* a Fragment header follows */
		ip[7] = 64;
		memcpy(ip + 8, fr->from->addr, 16);
		memcpy(ip + 24, fr->to->addr, 16);
		ip[40] = fr->proto;
		put16(ip + 42, (uint16_t)((fr->offset & 0xfff8) |
		    (fr->more ? 1 : 0)));
		put32(ip + 44, fr->id);
	} else {
		put16(buf + 12, 0x0800);
		hl = 20;
		memset(ip, 0, hl);
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)(20 + len));
		put16(ip + 4, (uint16_t)fr->id);
		put16(ip + 6, (uint16_t)(((fr->offset / 8) & 0x1fff) |
		    (fr->more ? 0x2000 : 0)));
		ip[8] = 64;
		ip[9] = fr->proto;
		memcpy(ip + 12, fr->from->addr, 4);
		memcpy(ip + 16, fr->to->addr, 4);
		put16(ip + 10, fold(sum16(0, ip, 20)));
	}
	if (len)
		memcpy(ip + hl, fr->data, len);
	pw_frame(w, buf, 14 + hl + len, 0);
}
