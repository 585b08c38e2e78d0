/* SPDX-License-Identifier: ISC */
/*
 * ciphers.c - the cipher suite registry, version names and the weak-suite
 * policy (see include/ciphers.h for the policy file format).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ciphers.h"
#include "cipher_suites.h"	/* generated: iw_cipher_table[] */

/* ---- registry ---- */

const struct iw_cipher_suite *
iw_cipher_lookup(uint16_t id)
{
	size_t lo = 0, hi = IW_CIPHER_TABLE_LEN, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (iw_cipher_table[mid].id == id)
			return &iw_cipher_table[mid];
		if (iw_cipher_table[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

size_t
iw_cipher_count(void)
{
	return IW_CIPHER_TABLE_LEN;
}

bool
iw_grease(uint16_t v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

static const struct {
	uint32_t	 flag;
	const char	*name;
} class_names[] = {
	{ IW_CS_NULL, "NULL" }, { IW_CS_ANON, "anon" },
	{ IW_CS_EXPORT, "EXPORT" }, { IW_CS_RC4, "RC4" },
	{ IW_CS_DES, "DES" }, { IW_CS_3DES, "3DES" }, { IW_CS_RC2, "RC2" },
	{ IW_CS_IDEA, "IDEA" }, { IW_CS_MD5, "MD5" },
	{ IW_CS_RSA_KX, "RSA-KX" }, { IW_CS_CBC, "CBC" },
	{ IW_CS_AEAD, "AEAD" },
};

const char *
iw_cipher_class_name(uint32_t flag)
{
	size_t i;

	for (i = 0; i < sizeof(class_names) / sizeof(class_names[0]); i++)
		if (class_names[i].flag == flag)
			return class_names[i].name;
	return NULL;
}

/* SSLv2 cipher kinds (draft-hickman-netscape-ssl-00), tshark's names. */
static const struct {
	uint32_t	 kind;
	const char	*name;
	uint32_t	 flags;
} sslv2_kinds[] = {
	{ 0x010080, "SSL2_RC4_128_WITH_MD5", IW_CS_RC4 | IW_CS_MD5 },
	{ 0x020080, "SSL2_RC4_128_EXPORT40_WITH_MD5",
	    IW_CS_RC4 | IW_CS_EXPORT | IW_CS_MD5 },
	{ 0x030080, "SSL2_RC2_128_CBC_WITH_MD5",
	    IW_CS_RC2 | IW_CS_CBC | IW_CS_MD5 },
	{ 0x040080, "SSL2_RC2_128_CBC_EXPORT40_WITH_MD5",
	    IW_CS_RC2 | IW_CS_CBC | IW_CS_EXPORT | IW_CS_MD5 },
	{ 0x050080, "SSL2_IDEA_128_CBC_WITH_MD5",
	    IW_CS_IDEA | IW_CS_CBC | IW_CS_MD5 },
	{ 0x060040, "SSL2_DES_64_CBC_WITH_MD5",
	    IW_CS_DES | IW_CS_CBC | IW_CS_MD5 },
	{ 0x0700c0, "SSL2_DES_192_EDE3_CBC_WITH_MD5",
	    IW_CS_3DES | IW_CS_CBC | IW_CS_MD5 },
	{ 0x080080, "SSL2_RC4_64_WITH_MD5", IW_CS_RC4 | IW_CS_MD5 },
};

const char *
iw_sslv2_cipher_name(uint32_t kind)
{
	size_t i;

	for (i = 0; i < sizeof(sslv2_kinds) / sizeof(sslv2_kinds[0]); i++)
		if (sslv2_kinds[i].kind == kind)
			return sslv2_kinds[i].name;
	return NULL;
}

uint32_t
iw_sslv2_cipher_flags(uint32_t kind)
{
	size_t i;

	for (i = 0; i < sizeof(sslv2_kinds) / sizeof(sslv2_kinds[0]); i++)
		if (sslv2_kinds[i].kind == kind)
			return sslv2_kinds[i].flags;
	return IW_CS_MD5;	/* every SSLv2 kind uses an MD5 MAC */
}

/* ---- versions ---- */

const char *
iw_tls_version_name(uint16_t v, char *buf, size_t len)
{
	switch (v) {
	case 0x0002:	return "SSL 2.0";
	case 0x0300:	return "SSL 3.0";
	case 0x0301:	return "TLS 1.0";
	case 0x0302:	return "TLS 1.1";
	case 0x0303:	return "TLS 1.2";
	case 0x0304:	return "TLS 1.3";
	case 0xfb17:	return "TLS 1.3 (Facebook draft 23)";
	case 0xfb1a:	return "TLS 1.3 (Facebook draft 26)";
	}
	if ((v >> 8) == 0x7f) {
		snprintf(buf, len, "TLS 1.3 (draft %u)", v & 0xff);
		return buf;
	}
	return NULL;
}

uint16_t
iw_tls_version_canon(uint16_t v)
{
	if ((v >> 8) == 0x7f || v == 0xfb17 || v == 0xfb1a)
		return 0x0304;
	return v;
}

/* ---- policy ---- */

struct policy {
	uint32_t	weak_classes;
	uint8_t		suite_weak[65536 / 8];	/* one suite flagged */
	uint8_t		suite_ok[65536 / 8];	/* one suite let through */
	uint8_t		version_weak[5];	/* SSL2, SSL3, TLS1.0-1.2 */
	uint8_t		tls13_weak;
};

static struct policy pol;
static bool pol_ready;

static void
bit_set(uint8_t *map, uint16_t i, bool on)
{
	if (on)
		map[i >> 3] |= (uint8_t)(1u << (i & 7));
	else
		map[i >> 3] &= (uint8_t)~(1u << (i & 7));
}

static bool
bit_get(const uint8_t *map, uint16_t i)
{
	return (map[i >> 3] >> (i & 7)) & 1;
}

/* Index of a version in version_weak, or -1 (then TLS 1.3: tls13_weak). */
static int
version_slot(uint16_t v)
{
	switch (iw_tls_version_canon(v)) {
	case 0x0002:	return 0;
	case 0x0300:	return 1;
	case 0x0301:	return 2;
	case 0x0302:	return 3;
	case 0x0303:	return 4;
	}
	return -1;
}

void
iw_policy_defaults(void)
{
	memset(&pol, 0, sizeof(pol));
	pol.weak_classes = IW_CS_WEAK_DEFAULT;
	pol.version_weak[0] = pol.version_weak[1] = 1;
	pol.version_weak[2] = pol.version_weak[3] = 1;
	pol_ready = true;
}

static void
policy_ready(void)
{
	if (!pol_ready)
		iw_policy_defaults();
}

uint32_t
iw_policy_cipher_weak(uint16_t id)
{
	const struct iw_cipher_suite *cs;

	policy_ready();
	if (bit_get(pol.suite_ok, id))
		return 0;
	if (bit_get(pol.suite_weak, id))
		return IW_CS_WEAK_SUITE;
	cs = iw_cipher_lookup(id);
	if (cs == NULL)
		return 0;
	return cs->flags & pol.weak_classes;
}

uint32_t
iw_policy_sslv2_cipher_weak(uint32_t kind)
{
	policy_ready();
	return iw_sslv2_cipher_flags(kind) & pol.weak_classes;
}

bool
iw_policy_version_weak(uint16_t v)
{
	int slot = version_slot(v);

	policy_ready();
	if (iw_tls_version_canon(v) == 0x0304)
		return pol.tls13_weak;
	return slot >= 0 && pol.version_weak[slot];
}

/* "SSLv3", "SSL 3.0", "TLSv1.2", "tls1", "0x0303" -> version, or 0. */
static uint16_t
parse_version(const char *s)
{
	static const struct {
		const char	*name;
		uint16_t	 v;
	} names[] = {
		{ "ssl2", 0x0002 }, { "ssl20", 0x0002 },
		{ "ssl3", 0x0300 }, { "ssl30", 0x0300 },
		{ "tls1", 0x0301 }, { "tls10", 0x0301 },
		{ "tls11", 0x0302 }, { "tls12", 0x0303 }, { "tls13", 0x0304 },
	};
	char norm[16];
	size_t i, n = 0;
	char *end;
	unsigned long v;

	if (strncasecmp(s, "0x", 2) == 0) {
		errno = 0;
		v = strtoul(s, &end, 16);
		return (*end == '\0' && errno == 0 && v > 0 && v <= 0xffff) ?
		    (uint16_t)v : 0;
	}
	for (; *s != '\0' && n < sizeof(norm) - 1; s++) {
		if (*s == 'v' || *s == 'V' || *s == '.' || *s == ' ')
			continue;
		norm[n++] = (char)tolower((unsigned char)*s);
	}
	norm[n] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(norm, names[i].name) == 0)
			return names[i].v;
	return 0;
}

static uint32_t
parse_class(const char *s)
{
	size_t i;

	if (strcasecmp(s, "MD5-MAC") == 0)
		return IW_CS_MD5;
	if (strcasecmp(s, "static-RSA") == 0)
		return IW_CS_RSA_KX;
	for (i = 0; i < sizeof(class_names) / sizeof(class_names[0]); i++)
		if (strcasecmp(s, class_names[i].name) == 0)
			return class_names[i].flag;
	return 0;
}

/* A suite by number or IANA name; -1 if neither. */
static int
parse_suite(const char *s)
{
	unsigned long v;
	char *end;
	size_t i;

	if (strncasecmp(s, "0x", 2) == 0) {
		errno = 0;
		v = strtoul(s + 2, &end, 16);
		if (*end != '\0' || errno != 0 || end == s + 2 || v > 0xffff)
			return -1;
		return (int)v;
	}
	for (i = 0; i < IW_CIPHER_TABLE_LEN; i++)
		if (strcasecmp(iw_cipher_table[i].name, s) == 0)
			return iw_cipher_table[i].id;
	return -1;
}

static int
apply_cipher_rule(bool weak, const char *arg)
{
	uint32_t cls = parse_class(arg);
	int id;

	if (cls != 0 && (cls & (IW_CS_AEAD)) == 0) {
		if (weak)
			pol.weak_classes |= cls;
		else
			pol.weak_classes &= ~cls;
		return 0;
	}
	if ((id = parse_suite(arg)) < 0)
		return -1;
	bit_set(pol.suite_weak, (uint16_t)id, weak);
	bit_set(pol.suite_ok, (uint16_t)id, !weak);
	return 0;
}

static int
apply_version_rule(bool weak, const char *arg)
{
	uint16_t v = parse_version(arg);
	int slot;

	if (v == 0)
		return -1;
	if (iw_tls_version_canon(v) == 0x0304) {
		pol.tls13_weak = weak;
		return 0;
	}
	if ((slot = version_slot(v)) < 0)
		return -1;
	pol.version_weak[slot] = weak;
	return 0;
}

/* Trims blanks at both ends in place. */
static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* One line, already stripped of its comment; 0 or -1 with a reason. */
static int
apply_line(char *line, const char **why)
{
	char *kw, *arg;
	size_t n;

	kw = trim(line);
	if (*kw == '\0')
		return 0;
	n = strcspn(kw, " \t");
	arg = trim(kw + n);
	kw[n] = '\0';
	if (strcasecmp(kw, "reset") == 0 && *arg == '\0') {
		memset(&pol, 0, sizeof(pol));
		return 0;
	}
	*why = "expected KEYWORD ARGUMENT";
	if (*arg == '\0')
		return -1;
	/* a version may have a blank in it ("SSL 3.0"); nothing else may */
	*why = "unknown protocol version";
	if (strcasecmp(kw, "weak-version") == 0)
		return apply_version_rule(true, arg);
	if (strcasecmp(kw, "ok-version") == 0)
		return apply_version_rule(false, arg);
	*why = "unknown cipher class, suite number or suite name";
	if (strcasecmp(kw, "weak-cipher") == 0)
		return apply_cipher_rule(true, arg);
	if (strcasecmp(kw, "ok-cipher") == 0)
		return apply_cipher_rule(false, arg);
	*why = "unknown keyword (weak-cipher, ok-cipher, weak-version, "
	    "ok-version, reset)";
	return -1;
}

int
iw_policy_parse(const char *text, const char *origin, char *err,
    size_t errlen)
{
	struct policy saved;
	char line[512], *hash;
	const char *p = text, *nl, *why = "";
	size_t n;
	int lineno = 0;

	policy_ready();
	saved = pol;
	while (*p != '\0') {
		lineno++;
		nl = strchr(p, '\n');
		n = nl ? (size_t)(nl - p) : strlen(p);
		if (n >= sizeof(line)) {
			why = "line too long";
			goto bad;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		if (apply_line(line, &why) != 0)
			goto bad;
		p += n + (nl ? 1 : 0);
	}
	return 0;
bad:
	pol = saved;	/* all or nothing */
	snprintf(err, errlen, "%s:%d: %s", origin, lineno, why);
	return -1;
}

int
iw_policy_load(const char *path, char *err, size_t errlen)
{
	FILE *fp;
	char *text;
	long n;
	int rc;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
	    n > 1024 * 1024 || fseek(fp, 0, SEEK_SET) != 0) {
		snprintf(err, errlen, "%s: unreadable or larger than 1 MiB",
		    path);
		fclose(fp);
		return -1;
	}
	if ((text = malloc((size_t)n + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		fclose(fp);
		return -1;
	}
	n = (long)fread(text, 1, (size_t)n, fp);
	text[n] = '\0';
	fclose(fp);
	if (strlen(text) != (size_t)n) {
		snprintf(err, errlen, "%s: not a text file", path);
		free(text);
		return -1;
	}
	rc = iw_policy_parse(text, path, err, errlen);
	free(text);
	return rc;
}
