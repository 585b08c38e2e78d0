/* SPDX-License-Identifier: ISC */
/*
 * fingerprint.c - JA3, JA3S and JA4 (see include/fingerprint.h).
 *
 * JA3: https://github.com/salesforce/ja3 - decimal values joined by '-',
 * fields by ','; JA4: FoxIO's technical_details/JA4.md.  Digests through
 * OpenSSL's EVP.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "ciphers.h"
#include "fingerprint.h"

static const char hexdig[] = "0123456789abcdef";

/* A growing string, bounded by what the hello can hold. */
struct sbuf {
	char	*p;
	size_t	 len, cap;
	bool	 oom;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	char *np;
	size_t ncap;

	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap : 256;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_num(struct sbuf *b, unsigned v, bool *first)
{
	char tmp[8];
	int n = snprintf(tmp, sizeof(tmp), "%s%u", *first ? "" : "-", v);

	sb_add(b, tmp, (size_t)n);
	*first = false;
}

static char *
sb_take(struct sbuf *b)
{
	if (b->oom) {
		free(b->p);
		return NULL;
	}
	if (b->p == NULL)
		sb_add(b, "", 0);
	return b->p;
}

/* Appends a list of 16-bit values without GREASE ("-" joined). */
static void
sb_list16(struct sbuf *b, struct iw_rd r)
{
	bool first = true;
	uint16_t v;

	while (rd_left(&r) >= 2) {
		v = rd_u16(&r);
		if (!iw_grease(v))
			sb_num(b, v, &first);
	}
}

/* Appends the extension types of an extensions block, without GREASE. */
static void
sb_ext_types(struct sbuf *b, struct iw_rd r)
{
	bool first = true;
	uint16_t type, len;

	while (rd_left(&r) >= 4) {
		type = rd_u16(&r);
		len = rd_u16(&r);
		if (!rd_skip(&r, len))
			break;
		if (!iw_grease(type))
			sb_num(b, type, &first);
	}
}

char *
iw_ja3_string(const struct iw_client_hello_fp *h)
{
	struct sbuf b = { NULL, 0, 0, false };
	struct iw_rd r = h->formats;
	bool first = true;
	char tmp[8];
	int n;

	n = snprintf(tmp, sizeof(tmp), "%u,", h->version);
	sb_add(&b, tmp, (size_t)n);
	sb_list16(&b, h->suites);
	sb_add(&b, ",", 1);
	sb_ext_types(&b, h->exts);
	sb_add(&b, ",", 1);
	sb_list16(&b, h->groups);
	sb_add(&b, ",", 1);
	while (rd_left(&r) >= 1)
		sb_num(&b, rd_u8(&r), &first);
	return sb_take(&b);
}

char *
iw_ja3s_string(uint16_t version, uint16_t cipher, struct iw_rd exts)
{
	struct sbuf b = { NULL, 0, 0, false };
	char tmp[16];
	int n;

	n = snprintf(tmp, sizeof(tmp), "%u,%u,", version, cipher);
	sb_add(&b, tmp, (size_t)n);
	sb_ext_types(&b, exts);
	return sb_take(&b);
}

static void
digest_hex(const EVP_MD *md, const void *s, size_t len, char *out,
    size_t nhex)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	if (EVP_Digest(s, len, d, &n, md, NULL) != 1)
		n = 0;
	for (i = 0; i < n && 2 * i + 1 < nhex; i++) {
		out[2 * i] = hexdig[d[i] >> 4];
		out[2 * i + 1] = hexdig[d[i] & 15];
	}
	out[2 * i < nhex ? 2 * i : nhex] = '\0';
}

void
iw_md5_hex(const char *s, size_t len, char out[33])
{
	digest_hex(iw_md_md5(), s, len, out, 32);
}

/* ---- JA4 ---- */

static const char *
ja4_version(uint16_t v)
{
	switch (v) {
	case 0x0304:	return "13";
	case 0x0303:	return "12";
	case 0x0302:	return "11";
	case 0x0301:	return "10";
	case 0x0300:	return "s3";
	case 0x0002:	return "s2";
	case 0xfeff:	return "d1";
	case 0xfefd:	return "d2";
	case 0xfefc:	return "d3";
	}
	return "00";
}

static uint16_t
ja4_highest_version(const struct iw_client_hello_fp *h)
{
	struct iw_rd r = h->versions;
	uint16_t v, best = 0;
	bool any = false;

	while (rd_left(&r) >= 2) {
		v = rd_u16(&r);
		if (iw_grease(v))
			continue;
		if (!any || v > best)
			best = v;
		any = true;
	}
	return any ? best : h->version;
}

static bool
alnum(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z');
}

/* First and last characters of the first ALPN value (JA4.md). */
static void
ja4_alpn(const struct iw_client_hello_fp *h, char out[3])
{
	uint8_t f, l;

	if (h->alpn == NULL || h->alpn_len == 0) {
		memcpy(out, "00", 3);
		return;
	}
	f = h->alpn[0];
	l = h->alpn[h->alpn_len - 1];
	if (alnum(f) && alnum(l)) {
		out[0] = (char)f;
		out[1] = (char)l;
	} else {
		/* first and last characters of the hex form */
		out[0] = hexdig[f >> 4];
		out[1] = hexdig[l & 15];
	}
	out[2] = '\0';
}

static int
cmp_u16(const void *a, const void *b)
{
	uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;

	return (x > y) - (x < y);
}

/* Sorted non-GREASE values of a 2-byte list (or extension types). */
static size_t
collect(struct iw_rd r, bool ext_block, bool skip_sni_alpn, uint16_t *out,
    size_t *total)
{
	size_t n = 0;
	uint16_t v, len;

	*total = 0;
	while (rd_left(&r) >= (ext_block ? 4u : 2u)) {
		v = rd_u16(&r);
		if (ext_block) {
			len = rd_u16(&r);
			if (!rd_skip(&r, len))
				break;
		}
		if (iw_grease(v))
			continue;
		(*total)++;
		if (skip_sni_alpn && (v == 0x0000 || v == 0x0010))
			continue;
		out[n++] = v;
	}
	qsort(out, n, sizeof(*out), cmp_u16);
	return n;
}

static void
sb_hex4(struct sbuf *b, const uint16_t *v, size_t n)
{
	char tmp[6];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(tmp, sizeof(tmp), "%s%04x", i ? "," : "", v[i]);
		sb_add(b, tmp, strlen(tmp));
	}
}

/* Truncated SHA-256 of a list, or twelve zeros for an empty one. */
static void
hash12(struct sbuf *b, bool empty, char out[13])
{
	if (empty || b->p == NULL) {
		memcpy(out, "000000000000", 13);
		return;
	}
	digest_hex(iw_md_sha256(), b->p, b->len, out, 12);
}

bool
iw_ja4(const struct iw_client_hello_fp *h, char out[IW_JA4_LEN])
{
	struct sbuf cs = { NULL, 0, 0, false }, ex = { NULL, 0, 0, false };
	size_t max = rd_left(&h->suites) / 2 + rd_left(&h->exts) / 4 +
	    rd_left(&h->sigalgs) / 2 + 1;
	uint16_t *v = malloc(max * sizeof(*v));
	size_t n, nsuites, nexts;
	char alpn[3], hc[13], he[13];
	struct iw_rd r = h->sigalgs;
	bool first = true;

	if (v == NULL)
		return false;
	n = collect(h->suites, false, false, v, &nsuites);
	sb_hex4(&cs, v, n);
	hash12(&cs, n == 0, hc);
	n = collect(h->exts, true, true, v, &nexts);
	sb_hex4(&ex, v, n);
	while (rd_left(&r) >= 2) {
		uint16_t s = rd_u16(&r);

		if (iw_grease(s))
			continue;
		sb_add(&ex, first ? "_" : ",", 1);
		sb_hex4(&ex, &s, 1);
		first = false;
	}
	hash12(&ex, n == 0, he);
	ja4_alpn(h, alpn);
	snprintf(out, IW_JA4_LEN, "t%s%c%02zu%02zu%s_%s_%s",
	    ja4_version(ja4_highest_version(h)), h->has_sni ? 'd' : 'i',
	    nsuites > 99 ? 99 : nsuites, nexts > 99 ? 99 : nexts, alpn, hc,
	    he);
	free(v);
	free(cs.p);
	free(ex.p);
	return !cs.oom && !ex.oom;
}
