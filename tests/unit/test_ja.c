/* SPDX-License-Identifier: ISC */
/*
 * test_ja.c - JA3, JA3S and JA4 against published vectors: the JA3
 * README's example, the JA4 specification's example (FoxIO JA4.md) and
 * its ALPN rules.  Expected values come from those documents.
 */
#include <stdlib.h>
#include <string.h>

#include "ciphers.h"
#include "fingerprint.h"
#include "harness.h"

/* Big-endian 16-bit list from values. */
static size_t
u16s(uint8_t *out, const uint16_t *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = (uint8_t)(v[i] >> 8);
		out[2 * i + 1] = (uint8_t)v[i];
	}
	return 2 * n;
}

/* An extensions block of empty extensions of these types. */
static size_t
ext_block(uint8_t *out, const uint16_t *types, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		out[o++] = (uint8_t)(types[i] >> 8);
		out[o++] = (uint8_t)types[i];
		out[o++] = 0;
		out[o++] = 0;
	}
	return o;
}

static const uint8_t none[1];

static void
fp_empty(struct iw_client_hello_fp *fp)
{
	memset(fp, 0, sizeof(*fp));
	fp->suites = fp->exts = fp->groups = fp->formats = rd_init(none, 0);
	fp->sigalgs = fp->versions = rd_init(none, 0);
}

/* JA3 README: 769,47-53-5-10-49161-...,0-10-11,23-24-25,0. */
static void
test_ja3_readme(void)
{
	static const uint16_t suites[] = { 47, 53, 5, 10, 49161, 49162, 49171,
	    49172, 50, 56, 19, 4, 0x0a0a };
	static const uint16_t exts[] = { 0, 10, 0x1a1a, 11 };
	static const uint16_t groups[] = { 0x2a2a, 23, 24, 25 };
	static const uint8_t formats[] = { 0 };
	uint8_t s[64], e[64], g[16];
	struct iw_client_hello_fp fp;
	char *str, md5[33];

	fp_empty(&fp);
	fp.version = 769;
	fp.suites = rd_init(s, u16s(s, suites, 13));
	fp.exts = rd_init(e, ext_block(e, exts, 4));
	fp.groups = rd_init(g, u16s(g, groups, 4));
	fp.formats = rd_init(formats, 1);
	str = iw_ja3_string(&fp);
	if (!CHECK(str != NULL, "JA3 string built"))
		return;
	CHECK(strcmp(str, "769,47-53-5-10-49161-49162-49171-"
	    "49172-50-56-19-4,0-10-11,23-24-25,0") == 0,
	    "JA3 string of the README example, GREASE left out (%s)", str);
	iw_md5_hex(str, strlen(str), md5);
	CHECK(strcmp(md5, "ada70206e40642a3e4461f35503241d5") == 0,
	    "JA3 hash of the README example");
	free(str);
}

static void
test_ja3s(void)
{
	static const uint16_t exts[] = { 65281, 0x0a0a, 11 };
	uint8_t e[32];
	char *s = iw_ja3s_string(771, 0xc030, rd_init(e, ext_block(e, exts,
	    3)));

	CHECK(s != NULL && strcmp(s, "771,49200,65281-11") == 0,
	    "JA3S string: version, cipher, extensions without GREASE");
	free(s);
	s = iw_ja3s_string(771, 4, rd_init(e, 0));
	CHECK(s != NULL && strcmp(s, "771,4,") == 0,
	    "JA3S string without extensions");
	free(s);
}

/* The JA4 specification's worked example. */
static void
spec_hello(struct iw_client_hello_fp *fp, uint8_t *s, uint8_t *e,
    uint8_t *sa, uint8_t *v)
{
	static const uint16_t suites[] = { 0x1301, 0x1302, 0x1303, 0xc02b,
	    0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c,
	    0x009d, 0x002f, 0x0035, 0x3a3a };
	static const uint16_t exts[] = { 0x001b, 0x0000, 0x0033, 0x0010,
	    0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b,
	    0xff01, 0x000b, 0x000a, 0x0015, 0xfafa };
	static const uint16_t sigalgs[] = { 0x0403, 0x0804, 0x0401, 0x0503,
	    0x0805, 0x0501, 0x0806, 0x0601 };
	static const uint16_t versions[] = { 0x4a4a, 0x0304, 0x0303 };

	fp_empty(fp);
	fp->version = 0x0303;
	fp->suites = rd_init(s, u16s(s, suites, 16));
	fp->exts = rd_init(e, ext_block(e, exts, 17));
	fp->sigalgs = rd_init(sa, u16s(sa, sigalgs, 8));
	fp->versions = rd_init(v, u16s(v, versions, 3));
	fp->has_sni = true;
	fp->alpn = (const uint8_t *)"h2";
	fp->alpn_len = 2;
}

static void
test_ja4_spec(void)
{
	uint8_t s[64], e[128], sa[32], v[8];
	struct iw_client_hello_fp fp;
	char out[IW_JA4_LEN];

	spec_hello(&fp, s, e, sa, v);
	CHECK(iw_ja4(&fp, out) && strcmp(out,
	    "t13d1516h2_8daaf6152771_e5627efa2ab1") == 0,
	    "JA4 of the specification's example (%s)", out);
	fp.sigalgs = rd_init(sa, 0);
	iw_ja4(&fp, out);
	CHECK(strcmp(out + 24, "6d807ffa2a79") == 0,
	    "JA4_c without signature algorithms ends without '_' (%s)", out);
	fp.has_sni = false;
	iw_ja4(&fp, out);
	CHECK(out[3] == 'i', "JA4: no SNI is 'i'");
	fp.versions = rd_init(v, 0);
	iw_ja4(&fp, out);
	CHECK(strncmp(out, "t12", 3) == 0,
	    "JA4: no supported_versions: the legacy version");
}

static void
alpn_case(const char *alpn, size_t len, const char *want)
{
	uint8_t s[64], e[128], sa[32], v[8];
	struct iw_client_hello_fp fp;
	char out[IW_JA4_LEN];

	spec_hello(&fp, s, e, sa, v);
	fp.alpn = (const uint8_t *)alpn;
	fp.alpn_len = len;
	iw_ja4(&fp, out);
	CHECK(strncmp(out + 8, want, 2) == 0, "JA4 ALPN %zu bytes -> %s (%.2s)",
	    len, want, out + 8);
}

/* JA4.md's ALPN rules, its own examples. */
static void
test_ja4_alpn(void)
{
	alpn_case("http/1.1", 8, "h1");
	alpn_case("\xab", 1, "ab");
	alpn_case("\xab\xcd", 2, "ad");
	alpn_case("0\xab", 2, "3b");
	alpn_case("01\xab\xcd", 4, "3d");
	alpn_case("0\xab\xcd" "1", 4, "01");
	alpn_case("h", 1, "hh");
	alpn_case(NULL, 0, "00");
}

static void
test_ja4_limits(void)
{
	uint16_t many[120];
	uint8_t s[240];
	struct iw_client_hello_fp fp;
	char out[IW_JA4_LEN];
	size_t i;

	for (i = 0; i < 120; i++)
		many[i] = (uint16_t)(0x0100 + i);
	fp_empty(&fp);
	fp.version = 0x0301;
	fp.suites = rd_init(s, u16s(s, many, 120));
	iw_ja4(&fp, out);
	CHECK(strncmp(out, "t10i9900", 8) == 0,
	    "JA4: more than 99 ciphers count as 99 (%s)", out);
	CHECK(strcmp(out + 24, "000000000000") == 0,
	    "JA4_c of no extensions is twelve zeros");
	fp.suites = rd_init(s, 0);
	iw_ja4(&fp, out);
	CHECK(strncmp(out + 11, "000000000000", 12) == 0,
	    "JA4_b of no ciphers is twelve zeros (%s)", out);
}

int
main(void)
{
	th_init();
	test_ja3_readme();
	test_ja3s();
	test_ja4_spec();
	test_ja4_alpn();
	test_ja4_limits();
	CHECK(iw_grease(0x0a0a) && iw_grease(0xfafa) && !iw_grease(0x0a0b) &&
	    !iw_grease(0xeaeb) && !iw_grease(0xefef),
	    "GREASE values are exactly 0x?a?a with equal bytes");
	return th_done();
}
