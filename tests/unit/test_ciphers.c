/* SPDX-License-Identifier: ISC */
/*
 * test_ciphers.c - the generated IANA table, suite classes, version names
 * (as tshark writes them) and the --policy parser.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ciphers.h"
#include "harness.h"

static void
test_table(void)
{
	const struct iw_cipher_suite *cs;

	/* the 2024 registry assigns 352 suites; GREASE rows come on top */
	CHECK(iw_cipher_count() >= 352 + 16, "complete registry (%zu rows)",
	    iw_cipher_count());
	cs = iw_cipher_lookup(0xc030);
	CHECK(cs && strcmp(cs->name, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")
	    == 0 && (cs->flags & IW_CS_AEAD) && !(cs->flags & IW_CS_RSA_KX),
	    "0xc030 is ECDHE-RSA AES-GCM");
	cs = iw_cipher_lookup(0x1302);
	CHECK(cs && strcmp(cs->name, "TLS_AES_256_GCM_SHA384") == 0 &&
	    (cs->flags & IW_CS_TLS13), "0x1302 is a TLS 1.3 suite");
	cs = iw_cipher_lookup(0x0000);
	CHECK(cs && (cs->flags & IW_CS_NULL) && (cs->flags & IW_CS_ANON),
	    "TLS_NULL_WITH_NULL_NULL is NULL and anonymous");
	CHECK(iw_cipher_lookup(0x0001)->mac_len == 16 &&
	    iw_cipher_lookup(0x0002)->mac_len == 20 &&
	    iw_cipher_lookup(0x003b)->mac_len == 32 &&
	    iw_cipher_lookup(0x00b1)->mac_len == 48,
	    "NULL suites' MAC lengths: MD5 16, SHA 20, SHA256 32, SHA384 48");
	CHECK(iw_cipher_lookup(0x0017)->flags == (IW_CS_ANON | IW_CS_EXPORT |
	    IW_CS_RC4 | IW_CS_MD5), "DH_anon_EXPORT_WITH_RC4_40_MD5 classes");
	CHECK((iw_cipher_lookup(0x000a)->flags & (IW_CS_3DES | IW_CS_RSA_KX |
	    IW_CS_CBC)) == (IW_CS_3DES | IW_CS_RSA_KX | IW_CS_CBC) &&
	    !(iw_cipher_lookup(0x000a)->flags & IW_CS_DES),
	    "RSA_WITH_3DES_EDE_CBC_SHA is 3DES, not DES; static RSA; CBC");
	CHECK(iw_cipher_lookup(0x0009)->flags & IW_CS_DES, "DES_CBC is DES");
	CHECK(iw_cipher_lookup(0x0014)->flags & IW_CS_DES, "DES40 is DES");
	CHECK(iw_cipher_lookup(0x0007)->flags & IW_CS_IDEA, "IDEA");
	CHECK(iw_cipher_lookup(0x0006)->flags & IW_CS_RC2, "RC2");
	CHECK(iw_cipher_lookup(0x00ff)->flags == IW_CS_SCSV &&
	    iw_cipher_lookup(0x5600)->flags == IW_CS_SCSV, "SCSVs are signals");
	CHECK(iw_cipher_lookup(0xdada) &&
	    iw_cipher_lookup(0xdada)->flags == IW_CS_GREASE, "GREASE rows");
	CHECK(iw_cipher_lookup(0x1300) == NULL &&
	    iw_cipher_lookup(0xff00) == NULL, "unassigned values are absent");
	CHECK(strcmp(iw_sslv2_cipher_name(0x0700c0),
	    "SSL2_DES_192_EDE3_CBC_WITH_MD5") == 0 &&
	    iw_sslv2_cipher_name(0x123456) == NULL,
	    "SSLv2 kinds named as tshark names them");
}

static void
test_versions(void)
{
	char b[32];

	CHECK(strcmp(iw_tls_version_name(0x0002, b, sizeof(b)), "SSL 2.0") ==
	    0 && strcmp(iw_tls_version_name(0x0300, b, sizeof(b)), "SSL 3.0")
	    == 0 && strcmp(iw_tls_version_name(0x0303, b, sizeof(b)),
	    "TLS 1.2") == 0, "version names");
	CHECK(strcmp(iw_tls_version_name(0x7f13, b, sizeof(b)),
	    "TLS 1.3 (draft 19)") == 0, "draft names as tshark's");
	CHECK(iw_tls_version_name(0x1234, b, sizeof(b)) == NULL,
	    "unknown version");
	CHECK(iw_tls_version_canon(0xfb1a) == 0x0304, "FB draft is TLS 1.3");
}

static void
test_default_policy(void)
{
	iw_policy_defaults();
	CHECK(iw_policy_cipher_weak(0x0004) == (IW_CS_RC4 | IW_CS_MD5),
	    "default: RC4-MD5 weak for RC4 and MD5");
	CHECK(iw_policy_cipher_weak(0x000a) == IW_CS_3DES, "default: 3DES");
	CHECK(iw_policy_cipher_weak(0x0002) == IW_CS_NULL, "default: NULL");
	CHECK(iw_policy_cipher_weak(0xc030) == 0, "default: ECDHE-GCM fine");
	CHECK(iw_policy_cipher_weak(0x002f) == 0,
	    "default: static RSA is not weak (no_forward_secrecy instead)");
	CHECK(iw_policy_cipher_weak(0x1301) == 0, "default: TLS 1.3 fine");
	CHECK(iw_policy_version_weak(0x0002) && iw_policy_version_weak(0x0300)
	    && iw_policy_version_weak(0x0301) && iw_policy_version_weak(0x0302),
	    "default: SSLv2, SSLv3, TLS 1.0, TLS 1.1 weak");
	CHECK(!iw_policy_version_weak(0x0303) && !iw_policy_version_weak(0x0304)
	    && !iw_policy_version_weak(0x7f13), "default: TLS 1.2, 1.3 fine");
	CHECK(iw_policy_sslv2_cipher_weak(0x0700c0) != 0,
	    "every SSLv2 kind is weak (MD5 MAC)");
}

static void
test_policy_rules(void)
{
	char err[256];

	iw_policy_defaults();
	CHECK(iw_policy_parse("# stricter\nweak-cipher CBC\n"
	    "ok-cipher 0x000a   # 3DES tolerated here\n"
	    "weak-version TLS1.2\nok-version SSL 3.0\n", "t", err,
	    sizeof(err)) == 0, "a policy parses");
	CHECK(iw_policy_cipher_weak(0x002f) == IW_CS_CBC, "weak-cipher CBC");
	CHECK(iw_policy_cipher_weak(0x000a) == 0,
	    "ok-cipher on a suite beats its class");
	CHECK(iw_policy_cipher_weak(0x0016) != 0, "other 3DES still weak");
	CHECK(iw_policy_version_weak(0x0303) && !iw_policy_version_weak(0x0300),
	    "weak-version TLS1.2, ok-version 'SSL 3.0'");
	CHECK(iw_policy_parse("reset\nweak-cipher TLS_RSA_WITH_AES_128_CBC_SHA"
	    "\n", "t", err, sizeof(err)) == 0, "reset and a suite by name");
	CHECK(iw_policy_cipher_weak(0x002f) == IW_CS_WEAK_SUITE &&
	    iw_policy_cipher_weak(0x0004) == 0 &&
	    !iw_policy_version_weak(0x0300), "after reset only that suite");
	CHECK(iw_policy_parse("WEAK-CIPHER rc4\nweak-version sslv3\n", "t",
	    err, sizeof(err)) == 0 && iw_policy_cipher_weak(0x0005) ==
	    IW_CS_RC4 && iw_policy_version_weak(0x0300),
	    "keywords and values are case-insensitive");
}

static void
test_policy_errors(void)
{
	char err[256];

	iw_policy_defaults();
	CHECK(iw_policy_parse("weak-cipher NULL\nweak-cipher BLOWFISH\n", "p",
	    err, sizeof(err)) == -1 && strcmp(err, "p:2: unknown cipher "
	    "class, suite number or suite name") == 0,
	    "unknown class: file:line message (%s)", err);
	CHECK(iw_policy_cipher_weak(0x0002) == IW_CS_NULL &&
	    iw_policy_cipher_weak(0x002f) == 0,
	    "a bad file changes nothing (all or nothing)");
	CHECK(iw_policy_parse("weak-cipher\n", "p", err, sizeof(err)) == -1,
	    "missing argument");
	CHECK(iw_policy_parse("frobnicate x\n", "p", err, sizeof(err)) == -1 &&
	    strstr(err, "unknown keyword") != NULL, "unknown keyword");
	CHECK(iw_policy_parse("weak-version TLS1.4\n", "p", err, sizeof(err))
	    == -1, "unknown version");
	CHECK(iw_policy_parse("weak-cipher 0x10000\n", "p", err, sizeof(err))
	    == -1 && iw_policy_parse("weak-cipher 0x\n", "p", err,
	    sizeof(err)) == -1, "suite numbers past 16 bits or empty");
	CHECK(iw_policy_parse("reset extra\n", "p", err, sizeof(err)) == -1,
	    "reset takes no argument");
}

static void
test_policy_file(void)
{
	char path[] = "/tmp/iw-policy-XXXXXX", err[256];
	FILE *fp;
	int fd = mkstemp(path);

	iw_policy_defaults();
	if (!CHECK(fd >= 0, "temporary policy file"))
		return;
	fp = fdopen(fd, "w");
	fputs("ok-cipher RC4\nweak-cipher RSA-KX\n", fp);
	fclose(fp);
	CHECK(iw_policy_load(path, err, sizeof(err)) == 0 &&
	    iw_policy_cipher_weak(0x0005) == IW_CS_RSA_KX,
	    "policy loaded from a file");
	unlink(path);
	CHECK(iw_policy_load(path, err, sizeof(err)) == -1 &&
	    strstr(err, path) != NULL, "a missing file is an error naming it");
	iw_policy_defaults();
}

int
main(void)
{
	th_init();
	test_table();
	test_versions();
	test_default_policy();
	test_policy_rules();
	test_policy_errors();
	test_policy_file();
	return th_done();
}
