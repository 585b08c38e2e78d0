/* SPDX-License-Identifier: ISC */
/*
 * gen_capture - write a large synthetic capture of a realistic IMAP mix,
 * for the benchmark (tests/bench/run.sh).
 *
 *	gen_capture -s SIZE -o FILE [-S seed] [-c min] [-C max] [-m clear] [-q]
 *	gen_capture -V
 *
 * SIZE is a byte count with an optional K, M or G suffix (powers of 1000):
 * the file ends within about one session of it.  The output is a classic
 * pcap (Ethernet, microsecond timestamps) of many interleaved TCP
 * connections, each with a three-way handshake, MSS-sized (1448 bytes with
 * the timestamp option) segments with consistent sequence and
 * acknowledgement numbers, delayed ACKs and a FIN close:
 *
 *  - cleartext IMAP on 143: greeting with STARTTLS and AUTH=PLAIN,
 *    CAPABILITY, LOGIN in clear, SELECT, UID FETCH of whole messages sent
 *    as {n} literals of mail text (10 KB to 2 MB), LOGOUT;
 *  - STARTTLS on 143: greeting, STARTTLS, OK, a TLS 1.2 handshake
 *    (ClientHello with SNI, ServerHello, a real certificate chain made at
 *    start with OpenSSL, ServerKeyExchange, ServerHelloDone,
 *    ClientKeyExchange, ChangeCipherSpec, encrypted Finished), then the same
 *    IMAP conversation as application-data records of random bytes;
 *  - IMAPS on 993: the same without the cleartext prefix, half of them
 *    TLS 1.3 (ServerHello with supported_versions 0x0304).
 *
 * With -m clear, every session is cleartext IMAP that only checks for new
 * mail (UID FETCH of flags, 10 to 120 lines an answer): the mix where the
 * analysis of lines, not the reading of bytes, is the work (the
 * benchmark's measure of what workers gain).
 *
 * The mix is about 40 % cleartext, 30 % STARTTLS and 30 % IMAPS by bytes;
 * about 0.1 % of data segments are retransmitted or sent out of order.  The
 * same seed gives the same bytes.  A summary line (key=value words) goes to
 * standard output at the end: run.sh compares its session counts with what
 * imapwatch reports.
 */

#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "keys.h"

#define GEN_VERSION	"gen_capture-3"

#define MSS		1448		/* 1460 less the timestamp option */
#define FRAME_MAX	(14 + 20 + 40 + MSS)
#define SNAPLEN		262144
#define START_TIME	1795856400LL	/* 2026-11-28 09:00:00 UTC */
#define TLS_MAXPLAIN	16384

#define P_RETX		0.0005		/* per data segment */
#define P_OOO		0.001		/* half of them find a next segment */

#define TH_FIN	0x01
#define TH_SYN	0x02
#define TH_RST	0x04
#define TH_PUSH	0x08
#define TH_ACK	0x10

#define C2S	0
#define S2C	1

#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

enum sess_kind { SESS_CLEAR = 0, SESS_STARTTLS, SESS_IMAPS, SESS_NKINDS };

static const double share[SESS_NKINDS] = { 0.40, 0.30, 0.30 };
static int clear_only;		/* -m clear */
static const char *const kind_name[SESS_NKINDS] = {
	"imap_cleartext", "imap_starttls", "imap_implicit_tls"
};

/* ---- random numbers: xoshiro256**, seeded by splitmix64 ---- */

static uint64_t rs[4];

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z;

	z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
rnd_seed(uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++)
		rs[i] = splitmix64(&seed);
}

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t
rnd(void)
{
	uint64_t r, t;

	r = rotl(rs[1] * 5, 7) * 9;
	t = rs[1] << 17;
	rs[2] ^= rs[0];
	rs[3] ^= rs[1];
	rs[1] ^= rs[2];
	rs[0] ^= rs[3];
	rs[2] ^= t;
	rs[3] = rotl(rs[3], 45);
	return r;
}

/* Uniform in [0, n), n > 0. */
static uint32_t
rnd_below(uint32_t n)
{
	return (uint32_t)(((rnd() >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [lo, hi]. */
static uint32_t
rnd_range(uint32_t lo, uint32_t hi)
{
	return lo + rnd_below(hi - lo + 1);
}

static double
rnd_unit(void)
{
	return (double)(rnd() >> 11) * 0x1.0p-53;
}

static void
rnd_fill(uint8_t *p, size_t n)
{
	uint64_t r;

	while (n >= 8) {
		r = rnd();
		memcpy(p, &r, 8);
		p += 8;
		n -= 8;
	}
	if (n > 0) {
		r = rnd();
		memcpy(p, &r, n);
	}
}

/* ---- growable byte buffers ---- */

struct buf {
	uint8_t	*p;
	size_t	 len;
	size_t	 cap;
};

static void
buf_need(struct buf *b, size_t n)
{
	size_t ncap;
	uint8_t *np;

	if (n > SIZE_MAX / 2 - b->len)
		errx(1, "buffer too large");
	if (b->len + n <= b->cap)
		return;
	ncap = b->cap ? b->cap : 256;
	while (ncap < b->len + n)
		ncap *= 2;
	if ((np = realloc(b->p, ncap)) == NULL)
		err(1, "realloc");
	b->p = np;
	b->cap = ncap;
}

static void
put8(struct buf *b, unsigned v)
{
	buf_need(b, 1);
	b->p[b->len++] = (uint8_t)v;
}

static void
put16(struct buf *b, unsigned v)
{
	put8(b, (v >> 8) & 0xff);
	put8(b, v & 0xff);
}

static void
putmem(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	buf_need(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void
putrnd(struct buf *b, size_t n)
{
	buf_need(b, n);
	rnd_fill(b->p + b->len, n);
	b->len += n;
}

static void
putstr(struct buf *b, const char *s)
{
	putmem(b, s, strlen(s));
}

static void
putf(struct buf *b, const char *fmt, ...)
{
	char tmp[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		errx(1, "putf: line too long");
	putmem(b, tmp, (size_t)n);
}

/* Open a big-endian length field of width bytes; close it later. */
static size_t
len_open(struct buf *b, int width)
{
	size_t at = b->len;
	int i;

	for (i = 0; i < width; i++)
		put8(b, 0);
	return at;
}

static void
len_close(struct buf *b, size_t at, int width)
{
	size_t n;
	int i;

	if (at + (size_t)width > b->len)
		errx(1, "len_close: bad offset");
	n = b->len - at - (size_t)width;
	if (width < 8 && n >= ((size_t)1 << (8 * width)))
		errx(1, "len_close: %zu does not fit in %d bytes", n, width);
	for (i = width - 1; i >= 0; i--) {
		b->p[at + (size_t)i] = n & 0xff;
		n >>= 8;
	}
}

static void
buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* ---- word lists for mail text and names ---- */

static const char *const words[] = {
	"the", "of", "and", "to", "a", "in", "for", "is", "on", "that", "by",
	"this", "with", "you", "it", "not", "or", "be", "are", "from", "at",
	"as", "your", "all", "have", "new", "more", "an", "was", "we", "will",
	"can", "us", "about", "if", "my", "has", "but", "our", "one", "other",
	"do", "no", "information", "time", "they", "site", "he", "up", "may",
	"what", "which", "their", "news", "out", "use", "any", "there", "see",
	"only", "so", "his", "when", "contact", "here", "business", "who",
	"also", "now", "help", "get", "view", "online", "first", "been",
	"would", "how", "were", "me", "services", "some", "these", "click",
	"its", "like", "service", "than", "find", "price", "date", "back",
	"top", "people", "had", "list", "name", "just", "over", "state",
	"year", "day", "into", "email", "two", "health", "world", "next",
	"used", "go", "work", "last", "most", "products", "music", "buy",
	"data", "make", "them", "should", "product", "system", "post", "her",
	"city", "add", "policy", "number", "such", "please", "available",
	"copyright", "support", "message", "after", "best", "software", "then",
	"jan", "good", "video", "well", "where", "info", "rights", "public",
	"books", "high", "school", "through", "each", "links", "she", "review",
	"years", "order", "very", "privacy", "book", "items", "company",
	"read", "group", "need", "many", "user", "said", "does", "set",
	"under", "general", "research", "university", "january", "mail",
	"full", "map", "reviews", "program", "life", "know", "games", "way",
	"days", "management", "part", "could", "great", "united", "hotel",
	"real", "item", "international", "center", "must", "store", "travel",
	"comments", "made", "development", "report", "off", "member",
	"details", "line", "terms", "before", "did", "send", "right", "type",
	"because", "local", "those", "using", "results", "office",
	"education", "national", "car", "design", "take", "posted", "internet",
	"address", "community", "within", "states", "area", "want", "phone",
	"shipping", "reserved", "subject", "between", "forum", "family",
	"long", "based", "code", "show", "even", "black", "check", "special",
	"quarterly", "budget", "meeting", "draft", "attached", "regards",
	"thanks", "invoice", "schedule", "Grüße", "café", "naïve", "déjà",
	"Zürich", "Málaga", "señor", "straße",
};

static const char *const first_names[] = {
	"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
	"ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert",
	"sybil", "trent", "victor", "walter", "yolanda", "zoe", "martin",
	"sofia", "lukas", "emma", "noah", "mia", "jonas", "lea", "paul",
};

static const char *const last_names[] = {
	"smith", "jones", "miller", "garcia", "mueller", "schmidt", "dubois",
	"rossi", "novak", "kowalski", "tanaka", "nguyen", "silva", "ivanova",
	"hansen", "berg", "lopez", "martin", "wagner", "becker", "khan",
	"oconnor", "fischer", "weber", "moreau", "fontaine", "larsen", "costa",
};

static const char *const domains[] = {
	"example.org", "example.net", "example.com", "mail.example.org",
	"corp.example", "lists.example.net", "shop.example", "bank.example",
};

static const char *const subjects[] = {
	"quarterly report draft", "meeting notes", "invoice 2026-1142",
	"your order has shipped", "weekly newsletter", "holiday schedule",
	"project kickoff", "photos from the weekend", "contract for review",
	"budget planning", "security update", "new policy document",
	"slides for tomorrow", "travel itinerary", "scan from printer",
	"account statement", "minutes of the board meeting", "lunch?",
};

static const char *const attach_names[] = {
	"report.pdf", "scan0042.pdf", "photos.zip", "slides.pptx",
	"budget.xlsx", "IMG_2041.jpg", "contract.docx", "statement.pdf",
};

static const char *const attach_types[] = {
	"application/pdf", "application/pdf", "application/zip",
	"application/vnd.openxmlformats-officedocument.presentationml"
	".presentation",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	"image/jpeg",
	"application/vnd.openxmlformats-officedocument.wordprocessingml"
	".document",
	"application/pdf",
};

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- mail text, produced as a stream of exactly n bytes ---- */

enum { MP_STR, MP_TEXT, MP_B64 };

struct mpart {
	int		kind;
	size_t		off;		/* MP_STR: offset into str */
	uint64_t	len;
};

struct mail {
	struct buf	str;		/* every MP_STR part's bytes */
	struct mpart	part[8];
	int		npart;
	int		cur;
	uint64_t	pdone;		/* bytes of part[cur] handed out */
	char		line[160];
	size_t		llen;
	size_t		loff;
};

static void
mail_add(struct mail *m, int kind, uint64_t len, const struct buf *s)
{
	struct mpart *p;

	if (m->npart >= (int)nitems(m->part))
		errx(1, "mail: too many parts");
	p = &m->part[m->npart++];
	p->kind = kind;
	p->len = len;
	p->off = m->str.len;
	if (kind == MP_STR)
		putmem(&m->str, s->p, s->len);
}

static void
rfc5322_date(char *out, size_t outsz, int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, outsz, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		errx(1, "date");
}

static void
put_b64_run(struct buf *b, size_t n)
{
	size_t i;

	buf_need(b, n);
	for (i = 0; i < n; i++)
		b->p[b->len++] = b64chars[rnd_below(64)];
}

/* A mail of exactly n bytes (n >= 4096), sent around time now. */
static struct mail *
mail_new(uint64_t n, int64_t now, const char *rcpt)
{
	struct mail *m;
	struct buf h = { 0 }, s = { 0 };
	char date[64], from[128], boundary[64];
	const char *fn, *ln, *dom, *subj;
	uint64_t text, rest;
	int multipart, ai;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		err(1, "calloc");
	fn = first_names[rnd_below(nitems(first_names))];
	ln = last_names[rnd_below(nitems(last_names))];
	dom = domains[rnd_below(nitems(domains))];
	subj = subjects[rnd_below(nitems(subjects))];
	snprintf(from, sizeof(from), "%s.%s@%s", fn, ln, dom);
	rfc5322_date(date, sizeof(date),
	    now - (int64_t)rnd_below(30 * 86400));
	multipart = n >= 40000 && rnd_below(10) < 8;
	snprintf(boundary, sizeof(boundary), "----=_Part_%u_%u.%u",
	    rnd_below(1000000), rnd_below(1000000000), rnd_below(100000));

	putf(&h, "Return-Path: <%s>\r\n", from);
	putf(&h, "Delivered-To: %s\r\n", rcpt);
	putf(&h, "Received: from mx%u.%s (mx%u.%s [198.51.100.%u])\r\n"
	    "\tby imap.example.test (Postfix) with ESMTPS id 4X%08X\r\n"
	    "\tfor <%s>; %s\r\n", rnd_below(4), dom, rnd_below(4), dom,
	    rnd_range(1, 254), (unsigned)rnd(), rcpt, date);
	putf(&h, "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; "
	    "d=%s; s=mail;\r\n\th=from:to:subject:date:message-id; bh=", dom);
	put_b64_run(&h, 43);
	putstr(&h, "=;\r\n\tb=");
	put_b64_run(&h, 70);
	putstr(&h, "\r\n\t ");
	put_b64_run(&h, 70);
	putstr(&h, "\r\n\t ");
	put_b64_run(&h, 70);
	putstr(&h, "\r\n\t ");
	put_b64_run(&h, 52);
	putstr(&h, "==\r\n");
	putf(&h, "From: %c%s %c%s <%s>\r\n", fn[0] - 32, fn + 1, ln[0] - 32,
	    ln + 1, from);
	putf(&h, "To: <%s>\r\n", rcpt);
	putf(&h, "Subject: %s%s\r\n", rnd_below(3) == 0 ? "Re: " : "", subj);
	putf(&h, "Date: %s\r\n", date);
	putf(&h, "Message-ID: <%08x.%04x.%u@%s>\r\n", (unsigned)rnd(),
	    rnd_below(65536), rnd_below(100000), dom);
	putstr(&h, "MIME-Version: 1.0\r\n");
	if (!multipart) {
		putstr(&h, "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: 8bit\r\n\r\n");
		if (h.len + 2 > n)
			errx(1, "mail: %" PRIu64 " bytes is too small", n);
		mail_add(m, MP_STR, h.len, &h);
		mail_add(m, MP_TEXT, n - h.len, NULL);
		buf_free(&h);
		return m;
	}
	putf(&h, "Content-Type: multipart/mixed;\r\n\tboundary=\"%s\"\r\n\r\n"
	    "This is a multi-part message in MIME format.\r\n\r\n--%s\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n", boundary, boundary);
	ai = (int)rnd_below(nitems(attach_names));
	putf(&s, "\r\n--%s\r\nContent-Type: %s;\r\n\tname=\"%s\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "Content-Disposition: attachment;\r\n\tfilename=\"%s\"\r\n\r\n",
	    boundary, attach_types[ai], attach_names[ai], attach_names[ai]);
	text = rnd_range(1500, 8000);
	rest = n - h.len - s.len - text;	/* n >= 40000: no wrap */
	mail_add(m, MP_STR, h.len, &h);
	mail_add(m, MP_TEXT, text, NULL);
	mail_add(m, MP_STR, s.len, &s);
	h.len = 0;
	putf(&h, "--%s--\r\n", boundary);
	if (rest < h.len + 100)
		errx(1, "mail: layout");
	mail_add(m, MP_B64, rest - h.len, NULL);
	mail_add(m, MP_STR, h.len, &h);
	buf_free(&h);
	buf_free(&s);
	return m;
}

/* Next line of text: up to rem bytes, exactly rem when rem is small. */
static void
text_line(struct mail *m, uint64_t rem)
{
	const char *w;
	size_t len = 0, T, wl, k;
	int final, cap = 1;

	if (rem < 2) {
		m->line[0] = '\n';
		m->llen = (size_t)rem;
		return;
	}
	if (rem > 100 && rnd_below(7) == 0) {
		memcpy(m->line, "\r\n", 2);
		m->llen = 2;
		return;
	}
	final = rem <= 100;
	T = final ? (size_t)rem - 2 : 48 + rnd_below(28);
	for (;;) {
		w = words[rnd_below(nitems(words))];
		wl = strlen(w);
		if (len + (len > 0) + wl > T) {
			if (!final)
				break;
			/* Fill the last line to its exact length in ASCII. */
			if (len > 0 && len < T)
				m->line[len++] = ' ';
			for (k = 0; len < T; k++)
				m->line[len++] = "regards"[k % 7];
			break;
		}
		if (len > 0)
			m->line[len++] = ' ';
		memcpy(m->line + len, w, wl);
		if (cap && w[0] >= 'a' && w[0] <= 'z')
			m->line[len] = (char)(w[0] - 32);
		cap = 0;
		len += wl;
		if (len + 1 < T && rnd_below(9) == 0) {
			m->line[len++] = rnd_below(4) ? '.' : ',';
			cap = m->line[len - 1] == '.';
		}
	}
	m->line[len++] = '\r';
	m->line[len++] = '\n';
	m->llen = len;
}

/* Next line of base64: 76 characters and CRLF, the last one shorter. */
static void
b64_line(struct mail *m, uint64_t rem)
{
	size_t L, i;
	uint64_t r = 0;
	int bits = 0;

	L = rem >= 78 ? 78 : (size_t)rem;
	if (L < 2) {
		m->line[0] = '\n';
		m->llen = L;
		return;
	}
	for (i = 0; i < L - 2; i++) {
		if (bits < 6) {
			r = rnd();
			bits = 64;
		}
		m->line[i] = b64chars[r & 63];
		r >>= 6;
		bits -= 6;
	}
	if (L < 78 && L >= 4)
		m->line[L - 3] = '=';
	m->line[L - 2] = '\r';
	m->line[L - 1] = '\n';
	m->llen = L;
}

static size_t
mail_pull(struct mail *m, uint8_t *out, size_t max)
{
	struct mpart *p;
	size_t n = 0, k;

	while (n < max && m->cur < m->npart) {
		p = &m->part[m->cur];
		if (p->kind == MP_STR) {
			k = (size_t)MIN(p->len - m->pdone, (uint64_t)(max - n));
			memcpy(out + n, m->str.p + p->off + m->pdone, k);
		} else {
			if (m->loff == m->llen) {
				m->loff = 0;
				if (p->kind == MP_TEXT)
					text_line(m, p->len - m->pdone);
				else
					b64_line(m, p->len - m->pdone);
				if (m->llen == 0 || m->llen > p->len - m->pdone)
					errx(1, "mail: line length");
			}
			k = MIN(m->llen - m->loff, max - n);
			memcpy(out + n, m->line + m->loff, k);
			m->loff += k;
		}
		n += k;
		m->pdone += k;
		if (m->pdone == p->len) {
			m->cur++;
			m->pdone = 0;
			m->llen = m->loff = 0;
		}
	}
	return n;
}

static void
mail_free(struct mail *m)
{
	if (m == NULL)
		return;
	buf_free(&m->str);
	free(m);
}

/* ---- a connection's script: steps of bytes in one direction ---- */

enum { SK_BYTES, SK_MAIL, SK_TLSAPP };

struct step {
	int		 dir;
	int		 kind;
	uint64_t	 len;
	uint64_t	 done;
	uint8_t		*bytes;		/* SK_BYTES */
	struct mail	*mail;		/* SK_MAIL */
	uint64_t	 plain_left;	/* SK_TLSAPP */
	uint32_t	 rec_left;
	uint8_t		 hdr[5];
	uint8_t		 hdr_left;
	uint8_t		 overhead;
	uint8_t		 rtype;
};

enum { P_SYN, P_SYNACK, P_ACK, P_DATA, P_FIN1, P_FIN2, P_FIN3, P_DONE };

struct frame {
	size_t	len;
	int	data;
	int	dir;
	uint8_t	b[FRAME_MAX];
};

struct conn {
	int		 kind;
	int		 tlsver;	/* 12 or 13 (TLS sessions) */
	struct step	*steps;
	size_t		 nsteps;
	size_t		 capsteps;
	size_t		 idx;
	int		 enc;		/* in the encrypted phase */
	uint8_t		 overhead;	/* per TLS record, encrypted phase */
	uint64_t	 pend[2];	/* plaintext waiting for a record */
	int		 pend_dir;
	uint64_t	 planned;	/* payload bytes of all steps */

	uint32_t	 addr[2];	/* client, server */
	uint16_t	 port[2];
	uint8_t		 mac[2][6];
	uint32_t	 seq[2];
	uint16_t	 ipid[2];
	uint32_t	 tsoff[2];
	uint32_t	 tslast[2];
	int		 phase;
	int		 unacked[2];
	int		 has_pend;
	struct frame	 pendf;

	/* IMAP conversation */
	int		 tagstyle;
	unsigned	 tagn;
	char		 tag[16];
	char		 user[64];
	char		 pass[32];
	uint8_t		 sid[32];	/* ClientHello session id */
	int		 profile;	/* ClientHello profile */
};

static struct {
	uint64_t	sessions[SESS_NKINDS];
	uint64_t	planned[SESS_NKINDS];
	uint64_t	tls12;
	uint64_t	tls13;
	uint64_t	cleartext_login;
	uint64_t	messages;
	uint64_t	packets;
	uint64_t	data_packets;
	uint64_t	bytes;		/* file bytes written */
	uint64_t	payload;	/* TCP payload bytes emitted */
	uint64_t	retx;
	uint64_t	ooo;
	uint64_t	max_active;
} st;

static struct buf cert_chain;	/* Certificate message body (TLS 1.2) */
static struct buf cert_leaf;
static struct buf cert_ca;
static int64_t now_us;		/* capture clock */
static FILE *out;
static const char *out_path;

static struct step *
step_add(struct conn *c, int dir, int kind, uint64_t len)
{
	struct step *s, *ns;
	size_t ncap;

	if (len == 0)
		errx(1, "empty step");
	if (c->nsteps == c->capsteps) {
		ncap = c->capsteps ? c->capsteps * 2 : 32;
		if ((ns = reallocarray(c->steps, ncap, sizeof(*ns))) == NULL)
			err(1, "reallocarray");
		c->steps = ns;
		c->capsteps = ncap;
	}
	s = &c->steps[c->nsteps++];
	memset(s, 0, sizeof(*s));
	s->dir = dir;
	s->kind = kind;
	s->len = len;
	c->planned += len;
	return s;
}

static void
step_bytes(struct conn *c, int dir, const void *p, size_t n)
{
	struct step *s;

	s = step_add(c, dir, SK_BYTES, n);
	if ((s->bytes = malloc(n)) == NULL)
		err(1, "malloc");
	memcpy(s->bytes, p, n);
}

/* TLS application data carrying plain bytes, in records of 16 KiB. */
static void
step_tlsapp(struct conn *c, int dir, uint64_t plain)
{
	struct step *s;
	uint64_t nrec;

	nrec = (plain + TLS_MAXPLAIN - 1) / TLS_MAXPLAIN;
	s = step_add(c, dir, SK_TLSAPP, plain + nrec * (5 + c->overhead));
	s->plain_left = plain;
	s->overhead = c->overhead;
	s->rtype = 23;
}

static size_t
step_pull(struct step *s, uint8_t *o, size_t max)
{
	size_t n = 0, k;
	uint64_t chunk;
	uint32_t rl;

	switch (s->kind) {
	case SK_BYTES:
		n = (size_t)MIN(s->len - s->done, (uint64_t)max);
		memcpy(o, s->bytes + s->done, n);
		break;
	case SK_MAIL:
		n = (size_t)MIN(s->len - s->done, (uint64_t)max);
		if (mail_pull(s->mail, o, n) != n)
			errx(1, "mail ended early");
		break;
	case SK_TLSAPP:
		while (n < max && s->done + n < s->len) {
			if (s->hdr_left == 0 && s->rec_left == 0) {
				if (s->plain_left == 0)
					errx(1, "tlsapp: length");
				chunk = MIN(s->plain_left, TLS_MAXPLAIN);
				s->plain_left -= chunk;
				rl = (uint32_t)chunk + s->overhead;
				s->hdr[0] = s->rtype;
				s->hdr[1] = 3;
				s->hdr[2] = 3;
				s->hdr[3] = (uint8_t)(rl >> 8);
				s->hdr[4] = (uint8_t)rl;
				s->hdr_left = 5;
				s->rec_left = rl;
			}
			if (s->hdr_left > 0) {
				k = MIN((size_t)s->hdr_left, max - n);
				memcpy(o + n, s->hdr + 5 - s->hdr_left, k);
				s->hdr_left -= (uint8_t)k;
			} else {
				k = MIN((size_t)s->rec_left, max - n);
				rnd_fill(o + n, k);
				s->rec_left -= (uint32_t)k;
			}
			n += k;
		}
		break;
	default:
		errx(1, "step kind");
	}
	s->done += n;
	if (n == 0 && max > 0)
		errx(1, "step made no progress");
	return n;
}

static void
step_free(struct step *s)
{
	free(s->bytes);
	s->bytes = NULL;
	mail_free(s->mail);
	s->mail = NULL;
}

/* ---- the IMAP conversation, in clear or as TLS records ---- */

static void
flush_enc(struct conn *c)
{
	int d;

	for (d = 0; d < 2; d++)
		if (c->pend[d] > 0) {
			step_tlsapp(c, d, c->pend[d]);
			c->pend[d] = 0;
		}
}

/* One write by one side: a cleartext step or plaintext for a record. */
static void
say(struct conn *c, int dir, const char *fmt, ...)
{
	char tmp[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n <= 0 || (size_t)n >= sizeof(tmp))
		errx(1, "say: bad line");
	if (c->enc) {
		if (c->pend[!dir] > 0)
			flush_enc(c);
		c->pend[dir] += (uint64_t)n;
	} else
		step_bytes(c, dir, tmp, (size_t)n);
}

static void
say_mail(struct conn *c, int dir, uint64_t n)
{
	struct step *s;

	if (c->enc) {
		if (c->pend[!dir] > 0)
			flush_enc(c);
		c->pend[dir] += n;
		return;
	}
	s = step_add(c, dir, SK_MAIL, n);
	s->mail = mail_new(n, now_us / 1000000, c->user);
}

static const char *
next_tag(struct conn *c)
{
	c->tagn++;
	switch (c->tagstyle) {
	case 0:
		snprintf(c->tag, sizeof(c->tag), "a%u", c->tagn);
		break;
	case 1:
		snprintf(c->tag, sizeof(c->tag), "A%04u", c->tagn);
		break;
	default:
		snprintf(c->tag, sizeof(c->tag), "%u", c->tagn);
		break;
	}
	return c->tag;
}

#define CAPS_BASE "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+"
#define CAPS_POST "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT " \
	"SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT " \
	"MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE " \
	"UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT " \
	"SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE " \
	"SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ " \
	"NOTIFY SPECIAL-USE"

static uint64_t
mail_size(void)
{
	double lo = log(10240.0), hi = log(2097152.0);

	return (uint64_t)exp(lo + (hi - lo) * rnd_unit());
}

static void
base64_plain(char *o, size_t osz, const char *user, const char *pass)
{
	uint8_t in[128];
	size_t n, i, j = 0;
	uint32_t v;

	n = strlen(user) + strlen(pass) + 2;
	if (n > sizeof(in) || osz < (n + 2) / 3 * 4 + 1)
		errx(1, "base64_plain: too long");
	in[0] = 0;
	memcpy(in + 1, user, strlen(user));
	in[1 + strlen(user)] = 0;
	memcpy(in + 2 + strlen(user), pass, strlen(pass));
	for (i = 0; i < n; i += 3) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		o[j++] = b64chars[(v >> 18) & 63];
		o[j++] = b64chars[(v >> 12) & 63];
		o[j++] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
		o[j++] = i + 2 < n ? b64chars[v & 63] : '=';
	}
	o[j] = '\0';
}

/*
 * The conversation after the greeting (or after TLS): capabilities,
 * authentication, SELECT, then either whole messages fetched or a flags
 * check, LOGOUT.  budget limits the bytes of fetched mail.
 */
static void
imap_conversation(struct conn *c, const char *caps, uint64_t budget)
{
	char b64[200];
	const char *t;
	uint64_t n, used = 0;
	unsigned exists, uid, uidnext, i, k, nfetch, nmsg, seqno;

	t = next_tag(c);
	say(c, C2S, "%s CAPABILITY\r\n", t);
	say(c, S2C, "* CAPABILITY %s\r\n%s OK Pre-login capabilities listed, "
	    "post-login capabilities have more.\r\n", caps, t);

	t = next_tag(c);
	if (!c->enc || rnd_below(2) == 0) {
		say(c, C2S, "%s LOGIN %s \"%s\"\r\n", t, c->user, c->pass);
		if (!c->enc)
			st.cleartext_login++;
	} else {
		base64_plain(b64, sizeof(b64), c->user, c->pass);
		say(c, C2S, "%s AUTHENTICATE PLAIN %s\r\n", t, b64);
	}
	say(c, S2C, "%s OK [CAPABILITY " CAPS_POST "] Logged in\r\n", t);

	exists = rnd_range(20, 4000);
	uidnext = exists + rnd_range(100, 20000);
	t = next_tag(c);
	say(c, C2S, "%s SELECT INBOX\r\n", t);
	say(c, S2C, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft "
	    "$Forwarded $Junk $NotJunk)\r\n"
	    "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen "
	    "\\Draft $Forwarded $Junk $NotJunk \\*)] Flags permitted.\r\n"
	    "* %u EXISTS\r\n* 0 RECENT\r\n"
	    "* OK [UNSEEN %u] First unseen.\r\n"
	    "* OK [UIDVALIDITY %u] UIDs valid\r\n"
	    "* OK [UIDNEXT %u] Predicted next UID\r\n"
	    "* OK [HIGHESTMODSEQ %u] Highest\r\n"
	    "%s OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n",
	    exists, exists > 5 ? exists - 5 : 1,
	    1700000000u + rnd_below(50000000), uidnext,
	    rnd_range(1000, 900000), t);

	if (clear_only || rnd_below(10) < 3 || budget < 20000) {
		/* A client checking for new mail: flags only. */
		k = rnd_range(10, 120);
		t = next_tag(c);
		say(c, C2S, "%s UID FETCH %u:* (UID FLAGS)\r\n", t,
		    uidnext - k);
		for (i = 0; i < k; i++)
			say(c, S2C, "* %u FETCH (UID %u FLAGS (%s))\r\n",
			    exists - k + i + 1, uidnext - k + i,
			    rnd_below(3) ? "\\Seen" : "");
		say(c, S2C, "%s OK Fetch completed (0.002 + 0.000 secs)."
		    "\r\n", t);
	} else {
		nfetch = rnd_range(1, 4);
		uid = uidnext - rnd_range(12, 60);
		seqno = exists - (uidnext - uid) + 1;
		if (seqno > exists)
			seqno = 1;
		for (i = 0; i < nfetch && used < budget; i++) {
			nmsg = rnd_range(1, 3);
			t = next_tag(c);
			if (nmsg == 1)
				say(c, C2S, "%s UID FETCH %u (UID RFC822.SIZE "
				    "FLAGS BODY.PEEK[])\r\n", t, uid);
			else
				say(c, C2S, "%s UID FETCH %u:%u (UID "
				    "RFC822.SIZE FLAGS BODY.PEEK[])\r\n", t,
				    uid, uid + nmsg - 1);
			for (k = 0; k < nmsg && used < budget; k++) {
				n = mail_size();
				say(c, S2C, "* %u FETCH (UID %u RFC822.SIZE %"
				    PRIu64 " FLAGS (\\Seen) BODY[] {%" PRIu64
				    "}\r\n", seqno, uid, n, n);
				say_mail(c, S2C, n);
				say(c, S2C, ")\r\n");
				st.messages++;
				used += n;
				uid++;
				seqno++;
			}
			say(c, S2C, "%s OK Fetch completed (0.%03u + 0.000 "
			    "secs).\r\n", t, rnd_below(1000));
		}
	}
	t = next_tag(c);
	say(c, C2S, "%s LOGOUT\r\n", t);
	say(c, S2C, "* BYE Logging out\r\n%s OK Logout completed "
	    "(0.001 + 0.000 secs).\r\n", t);
	flush_enc(c);
}

/* ---- TLS handshake messages ---- */

static size_t
rec_open(struct buf *b, int type, unsigned ver)
{
	put8(b, (unsigned)type);
	put16(b, ver);
	return len_open(b, 2);
}

static size_t
hs_open(struct buf *b, int type)
{
	put8(b, (unsigned)type);
	return len_open(b, 3);
}

static void
put_ext(struct buf *b, unsigned type, const uint8_t *data, size_t n)
{
	put16(b, type);
	put16(b, (unsigned)n);
	putmem(b, data, n);
}

static const uint16_t suites_openssl[] = {
	0x1302, 0x1303, 0x1301, 0xc02c, 0xc030, 0x009f, 0xcca9, 0xcca8,
	0xccaa, 0xc02b, 0xc02f, 0x009e, 0xc024, 0xc028, 0x006b, 0xc023,
	0xc027, 0x0067, 0xc00a, 0xc014, 0x0039, 0xc009, 0xc013, 0x0033,
	0x009d, 0x009c, 0x003d, 0x003c, 0x0035, 0x002f, 0x00ff,
};

static const uint16_t suites_nss[] = {
	0x1301, 0x1303, 0x1302, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c,
	0xc030, 0xc00a, 0xc009, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f,
	0x0035,
};

static const uint16_t sigalgs_openssl[] = {
	0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0809, 0x080a, 0x080b,
	0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0303, 0x0203,
	0x0301, 0x0201, 0x0302, 0x0202, 0x0402, 0x0502, 0x0602,
};

static const uint16_t sigalgs_nss[] = {
	0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501,
	0x0601, 0x0203, 0x0201,
};

static void
put_u16_list(struct buf *b, const uint16_t *v, size_t n, int lenw)
{
	size_t at, i;

	at = len_open(b, lenw);
	for (i = 0; i < n; i++)
		put16(b, v[i]);
	len_close(b, at, lenw);
}

static void
client_hello(struct conn *c, struct buf *b, const char *sni)
{
	size_t r, h, e, x, y, z;
	static const uint8_t ecpf[] = { 3, 0, 1, 2 };
	static const uint16_t groups_o[] = { 0x001d, 0x0017, 0x001e, 0x0019,
	    0x0018 };
	static const uint16_t groups_n[] = { 0x001d, 0x0017, 0x0018, 0x0019,
	    0x0100, 0x0101 };
	static const uint8_t psk[] = { 1, 1 };
	static const uint8_t ecpf_n[] = { 1, 0 };
	static const uint8_t sr[] = { 1, 0, 0, 0, 0 };	/* OCSP */
	static const uint8_t reneg[] = { 0 };
	static const uint8_t rsl[] = { 0x40, 0x01 };
	int nss = c->profile == 1;

	r = rec_open(b, 22, 0x0301);
	h = hs_open(b, 1);
	put16(b, 0x0303);
	putrnd(b, 32);
	put8(b, 32);
	rnd_fill(c->sid, sizeof(c->sid));
	putmem(b, c->sid, sizeof(c->sid));
	if (nss)
		put_u16_list(b, suites_nss, nitems(suites_nss), 2);
	else
		put_u16_list(b, suites_openssl, nitems(suites_openssl), 2);
	put8(b, 1);
	put8(b, 0);
	e = len_open(b, 2);

	/* server_name */
	put16(b, 0x0000);
	x = len_open(b, 2);
	y = len_open(b, 2);
	put8(b, 0);
	z = len_open(b, 2);
	putstr(b, sni);
	len_close(b, z, 2);
	len_close(b, y, 2);
	len_close(b, x, 2);
	if (nss) {
		put_ext(b, 0x0017, NULL, 0);
		put_ext(b, 0xff01, reneg, sizeof(reneg));
		put16(b, 0x000a);
		x = len_open(b, 2);
		put_u16_list(b, groups_n, nitems(groups_n), 2);
		len_close(b, x, 2);
		put_ext(b, 0x000b, ecpf_n, sizeof(ecpf_n));
		put_ext(b, 0x0023, NULL, 0);
		put_ext(b, 0x0005, sr, sizeof(sr));
	} else {
		put_ext(b, 0x000b, ecpf, sizeof(ecpf));
		put16(b, 0x000a);
		x = len_open(b, 2);
		put_u16_list(b, groups_o, nitems(groups_o), 2);
		len_close(b, x, 2);
		put_ext(b, 0x0023, NULL, 0);
		put_ext(b, 0x0016, NULL, 0);
		put_ext(b, 0x0017, NULL, 0);
		put16(b, 0x000d);
		x = len_open(b, 2);
		put_u16_list(b, sigalgs_openssl, nitems(sigalgs_openssl), 2);
		len_close(b, x, 2);
	}
	/* supported_versions: TLS 1.3, 1.2 */
	put16(b, 0x002b);
	x = len_open(b, 2);
	put8(b, 4);
	put16(b, 0x0304);
	put16(b, 0x0303);
	len_close(b, x, 2);
	if (!nss)
		put_ext(b, 0x002d, psk, sizeof(psk));
	/* key_share: x25519 */
	put16(b, 0x0033);
	x = len_open(b, 2);
	y = len_open(b, 2);
	put16(b, 0x001d);
	put16(b, 32);
	putrnd(b, 32);
	len_close(b, y, 2);
	len_close(b, x, 2);
	if (nss) {
		put16(b, 0x000d);
		x = len_open(b, 2);
		put_u16_list(b, sigalgs_nss, nitems(sigalgs_nss), 2);
		len_close(b, x, 2);
		put_ext(b, 0x002d, psk, sizeof(psk));
		put_ext(b, 0x001c, rsl, sizeof(rsl));
	}
	len_close(b, e, 2);
	len_close(b, h, 3);
	len_close(b, r, 2);
}

static void
ccs(struct buf *b)
{
	static const uint8_t m[] = { 20, 3, 3, 0, 1, 1 };

	putmem(b, m, sizeof(m));
}

/* An encrypted record of n bytes (content type type). */
static void
enc_record(struct buf *b, int type, size_t n)
{
	size_t r;

	r = rec_open(b, type, 0x0303);
	putrnd(b, n);
	len_close(b, r, 2);
}

static void
tls12_handshake(struct conn *c, const char *sni)
{
	struct buf b = { 0 };
	size_t r = 0, h, e;
	int onerec = rnd_below(2), ticket = rnd_below(2);
	static const uint8_t reneg[] = { 0 };
	static const uint8_t ecpf[] = { 3, 0, 1, 2 };

	client_hello(c, &b, sni);
	step_bytes(c, C2S, b.p, b.len);
	b.len = 0;

	/* ServerHello, Certificate, ServerKeyExchange, ServerHelloDone */
	r = rec_open(&b, 22, 0x0303);
	h = hs_open(&b, 2);
	put16(&b, 0x0303);
	putrnd(&b, 32);
	put8(&b, 32);
	putrnd(&b, 32);
	put16(&b, rnd_below(3) ? 0xc030 : 0xc02f);
	put8(&b, 0);
	e = len_open(&b, 2);
	put_ext(&b, 0xff01, reneg, sizeof(reneg));
	put_ext(&b, 0x000b, ecpf, sizeof(ecpf));
	if (ticket)
		put_ext(&b, 0x0023, NULL, 0);
	put_ext(&b, 0x0017, NULL, 0);
	len_close(&b, e, 2);
	len_close(&b, h, 3);
	if (!onerec) {
		len_close(&b, r, 2);
		r = rec_open(&b, 22, 0x0303);
	}
	h = hs_open(&b, 11);
	putmem(&b, cert_chain.p, cert_chain.len);
	len_close(&b, h, 3);
	if (!onerec) {
		len_close(&b, r, 2);
		r = rec_open(&b, 22, 0x0303);
	}
	h = hs_open(&b, 12);
	put8(&b, 3);			/* named_curve */
	put16(&b, 0x001d);		/* x25519 */
	put8(&b, 32);
	putrnd(&b, 32);
	put16(&b, 0x0401);		/* rsa_pkcs1_sha256 */
	put16(&b, 256);
	putrnd(&b, 256);
	len_close(&b, h, 3);
	if (!onerec) {
		len_close(&b, r, 2);
		r = rec_open(&b, 22, 0x0303);
	}
	h = hs_open(&b, 14);
	len_close(&b, h, 3);
	len_close(&b, r, 2);
	step_bytes(c, S2C, b.p, b.len);
	b.len = 0;

	/* ClientKeyExchange, ChangeCipherSpec, Finished */
	r = rec_open(&b, 22, 0x0303);
	h = hs_open(&b, 16);
	put8(&b, 32);
	putrnd(&b, 32);
	len_close(&b, h, 3);
	len_close(&b, r, 2);
	ccs(&b);
	enc_record(&b, 22, 40);
	step_bytes(c, C2S, b.p, b.len);
	b.len = 0;

	/* [NewSessionTicket], ChangeCipherSpec, Finished */
	if (ticket) {
		r = rec_open(&b, 22, 0x0303);
		h = hs_open(&b, 4);
		put16(&b, 0);
		put16(&b, 7200);
		put16(&b, 192);
		putrnd(&b, 192);
		len_close(&b, h, 3);
		len_close(&b, r, 2);
	}
	ccs(&b);
	enc_record(&b, 22, 40);
	step_bytes(c, S2C, b.p, b.len);
	buf_free(&b);
	c->overhead = 24;	/* AES-GCM: explicit nonce and tag */
	c->enc = 1;
	st.tls12++;
}

static void
tls13_handshake(struct conn *c, const char *sni)
{
	struct buf b = { 0 };
	size_t r, h, e, x, encsz;

	client_hello(c, &b, sni);
	step_bytes(c, C2S, b.p, b.len);
	b.len = 0;

	r = rec_open(&b, 22, 0x0303);
	h = hs_open(&b, 2);
	put16(&b, 0x0303);
	putrnd(&b, 32);
	put8(&b, 32);
	putmem(&b, c->sid, sizeof(c->sid));
	put16(&b, rnd_below(3) ? 0x1302 : 0x1301);
	put8(&b, 0);
	e = len_open(&b, 2);
	put16(&b, 0x002b);
	put16(&b, 2);
	put16(&b, 0x0304);
	put16(&b, 0x0033);
	x = len_open(&b, 2);
	put16(&b, 0x001d);
	put16(&b, 32);
	putrnd(&b, 32);
	len_close(&b, x, 2);
	len_close(&b, e, 2);
	len_close(&b, h, 3);
	len_close(&b, r, 2);
	ccs(&b);
	/*
	 * EncryptedExtensions, Certificate, CertificateVerify, Finished in
	 * one encrypted record: their sizes plus content type and tag.
	 */
	encsz = (4 + 2) + (4 + 1 + 3 + 3 + cert_leaf.len + 2 + 3 +
	    cert_ca.len + 2) + (4 + 2 + 2 + 256) + (4 + 48) + 1 + 16;
	enc_record(&b, 23, encsz);
	step_bytes(c, S2C, b.p, b.len);
	b.len = 0;

	ccs(&b);
	enc_record(&b, 23, 4 + 48 + 1 + 16);	/* Finished */
	step_bytes(c, C2S, b.p, b.len);
	b.len = 0;

	enc_record(&b, 23, 4 + 4 + 4 + 1 + 8 + 2 + 192 + 2 + 1 + 16);
	enc_record(&b, 23, 4 + 4 + 4 + 1 + 8 + 2 + 192 + 2 + 1 + 16);
	step_bytes(c, S2C, b.p, b.len);
	buf_free(&b);
	c->overhead = 17;	/* content type and tag */
	c->enc = 1;
	st.tls13++;
}

static void
close_notify(struct conn *c)
{
	struct buf b = { 0 };

	flush_enc(c);
	if (c->tlsver == 13)
		enc_record(&b, 23, 2 + 1 + 16);
	else
		enc_record(&b, 21, 2 + 8 + 16);
	step_bytes(c, C2S, b.p, b.len);
	buf_free(&b);
}

/* ---- sessions ---- */

static uint32_t
ip4(unsigned a, unsigned b, unsigned c, unsigned d)
{
	return (uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 | d;
}

#define NCLIENTS 4096
static uint16_t client_port[NCLIENTS];

static void
conn_endpoints(struct conn *c, int kind)
{
	unsigned ci, si;
	uint16_t p;

	ci = rnd_below(NCLIENTS);
	c->addr[C2S] = ip4(10, 20, ci / 254, ci % 254 + 1);
	p = client_port[ci];
	if (p < 32768 || p > 60990)
		p = (uint16_t)rnd_range(32768, 60990);
	client_port[ci] = (uint16_t)(p + rnd_range(1, 3));
	c->port[C2S] = p;
	si = rnd_below(4);
	switch (kind) {
	case SESS_CLEAR:
		c->addr[S2C] = ip4(192, 0, 2, 10 + si);
		c->port[S2C] = 143;
		break;
	case SESS_STARTTLS:
		c->addr[S2C] = ip4(192, 0, 2, 20 + si);
		c->port[S2C] = 143;
		break;
	default:
		c->addr[S2C] = ip4(192, 0, 2, 30 + si);
		c->port[S2C] = 993;
		break;
	}
	c->mac[C2S][0] = 0x02;
	c->mac[C2S][1] = 0x42;
	c->mac[C2S][2] = 0x0a;
	c->mac[C2S][3] = 20;
	c->mac[C2S][4] = (uint8_t)(ci >> 8);
	c->mac[C2S][5] = (uint8_t)ci;
	memcpy(c->mac[S2C], "\x00\x1a\x2b\x3c\x4d\x5e", 6);	/* router */

	/* The same client always logs in as the same user. */
	snprintf(c->user, sizeof(c->user), "%s.%s%u",
	    first_names[ci % nitems(first_names)],
	    last_names[(ci / nitems(first_names)) % nitems(last_names)],
	    ci / (unsigned)(nitems(first_names) * nitems(last_names)));
}

static struct conn *
conn_new(int kind, uint64_t budget)
{
	struct conn *c;
	uint64_t before;
	const char *sni = "imap.example.test";
	size_t i;
	int d;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		err(1, "calloc");
	c->kind = kind;
	conn_endpoints(c, kind);
	for (i = 0; i < 14; i++)
		c->pass[i] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
		    "23456789!#$%&*+-=?@^_"[rnd_below(70)];
	c->pass[14] = '\0';
	c->tagstyle = (int)rnd_below(3);
	c->profile = (int)rnd_below(2);
	for (d = 0; d < 2; d++) {
		c->seq[d] = (uint32_t)rnd();
		c->ipid[d] = (uint16_t)rnd();
		c->tsoff[d] = (uint32_t)rnd();
	}
	c->phase = P_SYN;
	before = c->planned;

	switch (kind) {
	case SESS_CLEAR:
		say(c, S2C, "* OK [CAPABILITY " CAPS_BASE " STARTTLS "
		    "AUTH=PLAIN] Dovecot (Debian) ready.\r\n");
		imap_conversation(c, CAPS_BASE " STARTTLS AUTH=PLAIN", budget);
		break;
	case SESS_STARTTLS:
		c->tlsver = 12;
		say(c, S2C, "* OK [CAPABILITY " CAPS_BASE " STARTTLS "
		    "LOGINDISABLED] Dovecot (Debian) ready.\r\n");
		if (rnd_below(2)) {
			say(c, C2S, "%s CAPABILITY\r\n", next_tag(c));
			say(c, S2C, "* CAPABILITY " CAPS_BASE " STARTTLS "
			    "LOGINDISABLED\r\n%s OK Pre-login capabilities "
			    "listed, post-login capabilities have more.\r\n",
			    c->tag);
		}
		say(c, C2S, "%s STARTTLS\r\n", next_tag(c));
		say(c, S2C, "%s OK Begin TLS negotiation now.\r\n", c->tag);
		tls12_handshake(c, sni);
		imap_conversation(c, CAPS_BASE " AUTH=PLAIN", budget);
		close_notify(c);
		break;
	default:
		c->tlsver = rnd_below(2) ? 13 : 12;
		if (c->tlsver == 13)
			tls13_handshake(c, sni);
		else
			tls12_handshake(c, sni);
		say(c, S2C, "* OK [CAPABILITY " CAPS_BASE " AUTH=PLAIN] "
		    "Dovecot (Debian) ready.\r\n");
		imap_conversation(c, CAPS_BASE " AUTH=PLAIN", budget);
		close_notify(c);
		break;
	}
	st.sessions[kind]++;
	st.planned[kind] += c->planned - before;
	return c;
}

static void
conn_free(struct conn *c)
{
	size_t i;

	for (i = 0; i < c->nsteps; i++)
		step_free(&c->steps[i]);
	free(c->steps);
	free(c);
}

/* ---- packets ---- */

static uint16_t
csum_fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint64_t
csum_add(uint64_t s, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static void
be16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Build one segment from dir with flags and payload; advance seq. */
static void
build(struct conn *c, int dir, unsigned flags, const uint8_t *pl,
    size_t plen, struct frame *f)
{
	uint8_t *ip, *tcp, *o;
	size_t optlen, thl, iplen;
	uint64_t s;
	uint32_t tsval;

	optlen = (flags & TH_SYN) ? 20 : 12;
	thl = 20 + optlen;
	iplen = 20 + thl + plen;
	if (plen > MSS || 14 + iplen > sizeof(f->b))
		errx(1, "build: segment too large");
	f->len = 14 + iplen;
	f->data = plen > 0;
	f->dir = dir;

	memcpy(f->b, c->mac[!dir], 6);
	memcpy(f->b + 6, c->mac[dir], 6);
	be16(f->b + 12, 0x0800);

	ip = f->b + 14;
	ip[0] = 0x45;
	ip[1] = 0;
	be16(ip + 2, (uint32_t)iplen);
	be16(ip + 4, c->ipid[dir]++);
	be16(ip + 6, 0x4000);			/* DF */
	ip[8] = dir == C2S ? 64 : 57;
	ip[9] = 6;
	be16(ip + 10, 0);
	be32(ip + 12, c->addr[dir]);
	be32(ip + 16, c->addr[!dir]);
	be16(ip + 10, csum_fold(csum_add(0, ip, 20)));

	tcp = ip + 20;
	be16(tcp, c->port[dir]);
	be16(tcp + 2, c->port[!dir]);
	be32(tcp + 4, c->seq[dir]);
	be32(tcp + 8, (flags & TH_ACK) ? c->seq[!dir] : 0);
	tcp[12] = (uint8_t)((thl / 4) << 4);
	tcp[13] = (uint8_t)flags;
	be16(tcp + 14, (flags & TH_SYN) ? 64240 : 502);	/* wscale 7 */
	be16(tcp + 16, 0);
	be16(tcp + 18, 0);
	o = tcp + 20;
	tsval = c->tsoff[dir] + (uint32_t)(now_us / 1000);
	if (flags & TH_SYN) {
		o[0] = 2;			/* MSS 1460 */
		o[1] = 4;
		be16(o + 2, 1460);
		o[4] = 4;			/* SACK permitted */
		o[5] = 2;
		o += 6;
	} else {
		o[0] = 1;
		o[1] = 1;
		o += 2;
	}
	o[0] = 8;				/* timestamps */
	o[1] = 10;
	be32(o + 2, tsval);
	be32(o + 6, (flags & TH_SYN) && !(flags & TH_ACK) ? 0 :
	    c->tslast[!dir]);
	o += 10;
	if (flags & TH_SYN) {
		o[0] = 1;			/* NOP, window scale 7 */
		o[1] = 3;
		o[2] = 3;
		o[3] = 7;
		o += 4;
	}
	c->tslast[dir] = tsval;
	if (plen > 0)
		memcpy(tcp + thl, pl, plen);

	s = csum_add(0, ip + 12, 8);
	s += 6 + (uint32_t)(thl + plen);
	s = csum_add(s, tcp, thl + plen);
	be16(tcp + 16, csum_fold(s));

	c->seq[dir] += (uint32_t)plen;
	if (flags & (TH_SYN | TH_FIN))
		c->seq[dir]++;
}

/* The connection's next packet; 0 when it has none left. */
static int
conn_next(struct conn *c, struct frame *f)
{
	uint8_t pl[MSS];
	size_t n, k;
	int d;

	switch (c->phase) {
	case P_SYN:
		build(c, C2S, TH_SYN, NULL, 0, f);
		c->phase = P_SYNACK;
		return 1;
	case P_SYNACK:
		build(c, S2C, TH_SYN | TH_ACK, NULL, 0, f);
		c->phase = P_ACK;
		return 1;
	case P_ACK:
		build(c, C2S, TH_ACK, NULL, 0, f);
		c->phase = P_DATA;
		return 1;
	case P_DATA:
		if (c->idx < c->nsteps)
			break;
		c->phase = P_FIN1;
		/* FALLTHROUGH */
	case P_FIN1:
		build(c, C2S, TH_FIN | TH_ACK, NULL, 0, f);
		c->phase = P_FIN2;
		return 1;
	case P_FIN2:
		build(c, S2C, TH_FIN | TH_ACK, NULL, 0, f);
		c->phase = P_FIN3;
		return 1;
	case P_FIN3:
		build(c, C2S, TH_ACK, NULL, 0, f);
		c->phase = P_DONE;
		return 1;
	default:
		return 0;
	}

	d = c->steps[c->idx].dir;
	if (c->unacked[d] >= 2) {
		build(c, !d, TH_ACK, NULL, 0, f);
		c->unacked[d] = 0;
		return 1;
	}
	n = 0;
	while (n < MSS && c->idx < c->nsteps && c->steps[c->idx].dir == d) {
		k = step_pull(&c->steps[c->idx], pl + n, MSS - n);
		n += k;
		if (c->steps[c->idx].done == c->steps[c->idx].len) {
			step_free(&c->steps[c->idx]);
			c->idx++;
		}
	}
	build(c, d, TH_ACK | (c->idx == c->nsteps ||
	    c->steps[c->idx].dir != d ? TH_PUSH : 0), pl, n, f);
	c->unacked[d]++;
	c->unacked[!d] = 0;
	st.payload += n;
	return 1;
}

static void
write_frame(const struct frame *f)
{
	uint8_t h[16];

	now_us += 1 + rnd_below(20);
	le32(h, (uint32_t)(now_us / 1000000));
	le32(h + 4, (uint32_t)(now_us % 1000000));
	le32(h + 8, (uint32_t)f->len);
	le32(h + 12, (uint32_t)f->len);
	if (fwrite(h, sizeof(h), 1, out) != 1 ||
	    fwrite(f->b, f->len, 1, out) != 1)
		err(1, "write %s", out_path);
	st.packets++;
	st.data_packets += f->data;
	st.bytes += sizeof(h) + f->len;
}

static void
write_header(void)
{
	uint8_t h[24];

	le32(h, 0xa1b2c3d4);
	h[4] = 2;
	h[5] = 0;
	h[6] = 4;
	h[7] = 0;
	le32(h + 8, 0);
	le32(h + 12, 0);
	le32(h + 16, SNAPLEN);
	le32(h + 20, 1);		/* LINKTYPE_ETHERNET */
	if (fwrite(h, sizeof(h), 1, out) != 1)
		err(1, "write %s", out_path);
	st.bytes += sizeof(h);
}

/* ---- certificates, made once with OpenSSL ---- */

static X509_NAME *
make_name(const char *o, const char *cn)
{
	X509_NAME *n;

	if ((n = X509_NAME_new()) == NULL ||
	    !X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC,
	    (const unsigned char *)"DE", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
	    (const unsigned char *)o, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0))
		errx(1, "X509_NAME");
	return n;
}

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((ex = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value)) == NULL ||
	    !X509_add_ext(x, ex, -1))
		errx(1, "X509 extension %s", value);
	X509_EXTENSION_free(ex);
}

static EVP_PKEY *
read_key(const char *pem, int private)
{
	BIO *b;
	EVP_PKEY *k;

	if ((b = BIO_new_mem_buf(pem, -1)) == NULL)
		errx(1, "BIO_new_mem_buf");
	k = private ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) :
	    PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	BIO_free(b);
	if (k == NULL)
		errx(1, "bad built-in key");
	return k;
}

static void
der(X509 *x, struct buf *b)
{
	unsigned char *p = NULL;
	int n;

	if ((n = i2d_X509(x, &p)) <= 0)
		errx(1, "i2d_X509");
	putmem(b, p, (size_t)n);
	OPENSSL_free(p);
}

static void
make_certs(void)
{
	EVP_PKEY *cakey, *leafkey;
	X509 *ca, *leaf;
	X509_NAME *n;
	size_t at, c;

	cakey = read_key(bench_ca_key_pem, 1);
	leafkey = read_key(bench_leaf_pub_pem, 0);

	if ((ca = X509_new()) == NULL)
		errx(1, "X509_new");
	X509_set_version(ca, 2);
	ASN1_INTEGER_set_uint64(X509_get_serialNumber(ca),
	    0x1b2e5f0c7a93d4e1ULL);
	n = make_name("IMAP Lab", "IMAP Lab Benchmark Root CA");
	X509_set_subject_name(ca, n);
	X509_set_issuer_name(ca, n);
	X509_NAME_free(n);
	ASN1_TIME_set(X509_getm_notBefore(ca), (time_t)(START_TIME -
	    400LL * 86400));
	ASN1_TIME_set(X509_getm_notAfter(ca), (time_t)(START_TIME +
	    3650LL * 86400));
	X509_set_pubkey(ca, cakey);
	add_ext(ca, ca, NID_basic_constraints, "critical,CA:TRUE");
	add_ext(ca, ca, NID_key_usage, "critical,keyCertSign,cRLSign");
	add_ext(ca, ca, NID_subject_key_identifier, "hash");
	if (X509_sign(ca, cakey, EVP_sha256()) <= 0)
		errx(1, "X509_sign CA");

	if ((leaf = X509_new()) == NULL)
		errx(1, "X509_new");
	X509_set_version(leaf, 2);
	ASN1_INTEGER_set_uint64(X509_get_serialNumber(leaf),
	    0x04a1c3e5f7092b4dULL);
	n = make_name("IMAP Lab", "imap.example.test");
	X509_set_subject_name(leaf, n);
	X509_NAME_free(n);
	X509_set_issuer_name(leaf, X509_get_subject_name(ca));
	ASN1_TIME_set(X509_getm_notBefore(leaf), (time_t)(START_TIME -
	    60LL * 86400));
	ASN1_TIME_set(X509_getm_notAfter(leaf), (time_t)(START_TIME +
	    335LL * 86400));
	X509_set_pubkey(leaf, leafkey);
	add_ext(leaf, ca, NID_basic_constraints, "critical,CA:FALSE");
	add_ext(leaf, ca, NID_key_usage,
	    "critical,digitalSignature,keyEncipherment");
	add_ext(leaf, ca, NID_ext_key_usage, "serverAuth");
	add_ext(leaf, ca, NID_subject_alt_name,
	    "DNS:imap.example.test,DNS:mail.example.test");
	add_ext(leaf, ca, NID_subject_key_identifier, "hash");
	add_ext(leaf, ca, NID_authority_key_identifier, "keyid:always");
	if (X509_sign(leaf, cakey, EVP_sha256()) <= 0)
		errx(1, "X509_sign leaf");

	der(leaf, &cert_leaf);
	der(ca, &cert_ca);
	at = len_open(&cert_chain, 3);
	c = len_open(&cert_chain, 3);
	putmem(&cert_chain, cert_leaf.p, cert_leaf.len);
	len_close(&cert_chain, c, 3);
	c = len_open(&cert_chain, 3);
	putmem(&cert_chain, cert_ca.p, cert_ca.len);
	len_close(&cert_chain, c, 3);
	len_close(&cert_chain, at, 3);

	X509_free(leaf);
	X509_free(ca);
	EVP_PKEY_free(leafkey);
	EVP_PKEY_free(cakey);
}

/* ---- main ---- */

static uint64_t
parse_size(const char *s)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		errx(1, "bad size: %s", s);
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		mul = 1000ULL;
		end++;
		break;
	case 'm': case 'M':
		mul = 1000000ULL;
		end++;
		break;
	case 'g': case 'G':
		mul = 1000000000ULL;
		end++;
		break;
	default:
		errx(1, "bad size: %s", s);
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end != '\0' || v > UINT64_MAX / mul)
		errx(1, "bad size: %s", s);
	return v * mul;
}

static unsigned
parse_uint(const char *s, unsigned lo, unsigned hi)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		errx(1, "bad number: %s (%u-%u)", s, lo, hi);
	return (unsigned)v;
}

static void
usage(void)
{
	fprintf(stderr, "usage: gen_capture -s size[K|M|G] -o file "
	    "[-S seed] [-c min_conc] [-C max_conc] [-m clear] [-q]\n"
	    "       gen_capture -V\n");
	exit(2);
}

static int
pick_kind(void)
{
	int k, best = 0;
	double r, rb = 0;

	if (clear_only)
		return SESS_CLEAR;
	if (rnd_below(5) == 0)
		return (int)rnd_below(SESS_NKINDS);
	for (k = 0; k < SESS_NKINDS; k++) {
		r = (double)st.planned[k] / share[k];
		if (k == 0 || r < rb) {
			rb = r;
			best = k;
		}
	}
	return best;
}

int
main(int argc, char *argv[])
{
	struct conn **act = NULL, *c;
	struct frame f1, f2;
	uint64_t target = 0, seed = 1, planned_total, est, left;
	unsigned cmin = 50, cmax = 200, conc;
	size_t nact = 0, i;
	double ratio;
	int ch, quiet = 0, stop_new = 0, k, has2;

	while ((ch = getopt(argc, argv, "c:C:m:o:qs:S:V")) != -1) {
		switch (ch) {
		case 'c':
			cmin = parse_uint(optarg, 1, 100000);
			break;
		case 'C':
			cmax = parse_uint(optarg, 1, 100000);
			break;
		case 'm':
			if (strcmp(optarg, "clear") != 0)
				usage();
			clear_only = 1;
			break;
		case 'o':
			out_path = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 's':
			target = parse_size(optarg);
			break;
		case 'S':
			seed = parse_uint(optarg, 0, UINT_MAX);
			break;
		case 'V':
			printf("%s\n", GEN_VERSION);
			return 0;
		default:
			usage();
		}
	}
	if (argc != optind || out_path == NULL || target == 0 || cmin > cmax)
		usage();
	if (target < 100000)
		errx(1, "size must be at least 100K");

	rnd_seed(seed);
	make_certs();
	if ((out = fopen(out_path, "wb")) == NULL)
		err(1, "%s", out_path);
	if (setvbuf(out, NULL, _IOFBF, 1 << 22) != 0)
		errx(1, "setvbuf");
	if ((act = calloc(cmax, sizeof(*act))) == NULL)
		err(1, "calloc");
	now_us = START_TIME * 1000000LL + rnd_below(1000000);
	write_header();

	conc = (cmin + cmax) / 2;
	for (;;) {
		/* Start sessions while the size estimate allows. */
		while (!stop_new && nact < conc) {
			planned_total = st.planned[0] + st.planned[1] +
			    st.planned[2];
			ratio = st.payload > 1000000 ?
			    (double)st.bytes / (double)st.payload : 1.09;
			est = st.bytes + (uint64_t)((double)(planned_total -
			    st.payload) * ratio);
			if (est >= target) {
				stop_new = 1;
				break;
			}
			left = (uint64_t)((double)(target - est) / ratio);
			k = pick_kind();
			act[nact++] = conn_new(k, left > 20000 ? left : 20000);
			if (nact > st.max_active)
				st.max_active = nact;
		}
		if (nact == 0)
			break;
		if (st.packets % 5000 == 0) {
			conc += rnd_range(0, 30);
			conc = conc > 15 ? conc - 15 : 1;
			if (conc < cmin)
				conc = cmin;
			if (conc > cmax)
				conc = cmax;
		}

		i = rnd_below((uint32_t)nact);
		c = act[i];
		if (c->has_pend) {
			c->has_pend = 0;
			write_frame(&c->pendf);
			continue;
		}
		if (!conn_next(c, &f1)) {
			conn_free(c);
			act[i] = act[--nact];
			continue;
		}
		if (f1.data && rnd_unit() < P_OOO) {
			has2 = conn_next(c, &f2);
			if (has2 && f2.data && f2.dir == f1.dir) {
				/* Send the later segment first. */
				write_frame(&f2);
				c->pendf = f1;
				c->has_pend = 1;
				st.ooo++;
			} else {
				write_frame(&f1);
				if (has2)
					write_frame(&f2);
			}
		} else if (f1.data && rnd_unit() < P_RETX) {
			write_frame(&f1);
			c->pendf = f1;		/* sent again, later */
			c->has_pend = 1;
			st.retx++;
		} else
			write_frame(&f1);
	}
	if (fflush(out) != 0 || ferror(out) || fclose(out) != 0)
		err(1, "write %s", out_path);
	free(act);
	buf_free(&cert_chain);
	buf_free(&cert_leaf);
	buf_free(&cert_ca);

	planned_total = st.planned[0] + st.planned[1] + st.planned[2];
	if (planned_total == 0)
		planned_total = 1;
	printf("%s seed=%" PRIu64 " target=%" PRIu64 " bytes=%" PRIu64
	    " packets=%" PRIu64 " data_packets=%" PRIu64
	    " sessions=%" PRIu64, GEN_VERSION, seed, target, st.bytes,
	    st.packets, st.data_packets,
	    st.sessions[0] + st.sessions[1] + st.sessions[2]);
	for (k = 0; k < SESS_NKINDS; k++)
		printf(" %s=%" PRIu64, kind_name[k], st.sessions[k]);
	printf(" tls12=%" PRIu64 " tls13=%" PRIu64 " cleartext_login=%"
	    PRIu64 " messages=%" PRIu64 " retransmissions=%" PRIu64
	    " out_of_order=%" PRIu64 " max_concurrent=%" PRIu64,
	    st.tls12, st.tls13, st.cleartext_login, st.messages, st.retx,
	    st.ooo, st.max_active);
	for (k = 0; k < SESS_NKINDS; k++)
		printf(" share_%s=%.1f%%", kind_name[k],
		    100.0 * (double)st.planned[k] / (double)planned_total);
	printf("\n");
	if (!quiet)
		fprintf(stderr, "gen_capture: wrote %s (%.1f MB, %" PRIu64
		    " packets)\n", out_path, (double)st.bytes / 1e6,
		    st.packets);
	return 0;
}
