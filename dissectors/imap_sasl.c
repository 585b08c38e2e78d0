/* SPDX-License-Identifier: ISC */
/*
 * imap_sasl.c - the identity in a SASL exchange, and nothing else.
 *
 * Each client response is base64-decoded into a stack buffer, the user
 * name (and authorization identity) is copied out, and the buffer is
 * wiped: passwords, digests and tokens never leave these functions.
 *
 *   PLAIN (RFC 4616)	  authzid NUL authcid NUL passwd: authcid
 *   LOGIN		  the response to "Username:" (or the first)
 *   CRAM-MD5 (RFC 2195)  "user digest": the part before the last space
 *   DIGEST-MD5 (2831)	  username="..."
 *   SCRAM-* (RFC 5802)	  n=user in the client-first message
 *   OAUTHBEARER (7628)	  a=user in the GS2 header
 *   XOAUTH2		  user=... up to ^A
 *   NTLM		  the user name of the type 3 message
 */
#include <string.h>

#include "imap_internal.h"
#include "reader.h"

struct mech_name {
	const char	*name;
	int		 mech;
	int		 severity;	/* 0: no finding (not a secret in clear) */
};

static const struct mech_name mechs[] = {
	{ "PLAIN", M_PLAIN, 1 },
	{ "LOGIN", M_LOGIN, 1 },
	{ "XOAUTH2", M_XOAUTH2, 1 },
	{ "OAUTHBEARER", M_OAUTHBEARER, 1 },
	{ "CRAM-MD5", M_CRAM_MD5, 3 },
	{ "DIGEST-MD5", M_DIGEST_MD5, 3 },
	{ "NTLM", M_NTLM, 2 },
	{ "ANONYMOUS", M_ANONYMOUS, 0 },
	{ "EXTERNAL", M_EXTERNAL, 0 },
	{ "GSSAPI", M_GSSAPI, 0 },
	{ "GS2-KRB5", M_GS2_KRB5, 0 },
	{ "GS2-KRB5-PLUS", M_GS2_KRB5, 0 },
	{ NULL, 0, 0 }
};

int
imap_sasl_mech(const uint8_t *p, size_t n)
{
	int i;

	if (n > 6 && imap_word_eq(p, 6, "SCRAM-"))
		return M_SCRAM;
	for (i = 0; mechs[i].name != NULL; i++)
		if (imap_word_eq(p, n, mechs[i].name))
			return mechs[i].mech;
	return M_UNKNOWN;
}

/* The cleartext_auth severity: 1 secrets, 3 challenge-response, 2
 * unknown and NTLM, 0 no finding. */
int
imap_sasl_severity(int mech)
{
	int i;

	if (mech == M_SCRAM)
		return 3;
	for (i = 0; mechs[i].name != NULL; i++)
		if (mechs[i].mech == mech)
			return mechs[i].severity;
	return 2;
}

static int
b64_value(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decodes base64 up to the first '=' or other character, at most outsz
 * bytes out. */
size_t
imap_b64_decode(const uint8_t *in, size_t n, uint8_t *out, size_t outsz)
{
	uint32_t acc = 0;
	size_t i, o = 0;
	int bits = 0, v;

	for (i = 0; i < n; i++) {
		v = b64_value(in[i]);
		if (v < 0)
			break;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == outsz)
				break;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return o;
}

/* LOGIN's server prompts: "Username:" and "Password:" (any case). */
int
imap_sasl_challenge(const uint8_t *p, size_t n)
{
	uint8_t dec[64];
	size_t k = imap_b64_decode(p, n, dec, sizeof(dec));

	if (k >= 4 && imap_word_eq(dec, 4, "USER"))
		return CH_USER;
	if (k >= 4 && imap_word_eq(dec, 4, "PASS"))
		return CH_PASS;
	return CH_OTHER;
}

static void
set_field(uint8_t *dst, uint16_t *dlen, const uint8_t *p, size_t n)
{
	if (n > IMAP_USER_MAX)
		n = IMAP_USER_MAX;
	memcpy(dst, p, n);
	*dlen = (uint16_t)n;
}

static void
set_user(struct imap_auth *a, const uint8_t *p, size_t n)
{
	set_field(a->user, &a->userlen, p, n);
	a->has_user = true;
}

/* A GS2/SCRAM saslname: "=2C" is ',' and "=3D" is '='. */
static void
set_saslname(uint8_t *dst, uint16_t *dlen, const uint8_t *p, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n && o < IMAP_USER_MAX; i++) {
		if (p[i] == '=' && i + 2 < n && p[i + 1] == '2' &&
		    (p[i + 2] | 0x20) == 'c') {
			dst[o++] = ',';
			i += 2;
		} else if (p[i] == '=' && i + 2 < n && p[i + 1] == '3' &&
		    (p[i + 2] | 0x20) == 'd') {
			dst[o++] = '=';
			i += 2;
		} else
			dst[o++] = p[i];
	}
	*dlen = (uint16_t)o;
}

static const uint8_t *
find_byte(const uint8_t *p, size_t n, uint8_t c)
{
	return memchr(p, c, n);
}

/* authzid NUL authcid NUL passwd */
static void
plain_user(struct imap_auth *a, const uint8_t *m, size_t n)
{
	const uint8_t *z1 = find_byte(m, n, 0), *z2;

	if (z1 == NULL)
		return;
	z2 = find_byte(z1 + 1, n - (size_t)(z1 + 1 - m), 0);
	if (z2 == NULL)
		return;
	set_user(a, z1 + 1, (size_t)(z2 - z1 - 1));
	if (z1 > m)
		set_field(a->authzid, &a->authzlen, m, (size_t)(z1 - m));
}

/* "user hexdigest" */
static void
cram_user(struct imap_auth *a, const uint8_t *m, size_t n)
{
	size_t i = n;

	while (i > 0 && m[i - 1] != ' ')
		i--;
	if (i > 1)
		set_user(a, m, i - 1);
}

/* username="..." among the comma-separated directives (RFC 2831 2.1.2) */
static void
digest_user(struct imap_auth *a, const uint8_t *m, size_t n)
{
	uint8_t out[IMAP_USER_MAX];
	size_t i = 0, o = 0;

	while (i + 10 <= n) {
		if ((i == 0 || m[i - 1] == ',' || m[i - 1] == ' ') &&
		    imap_word_eq(m + i, 10, "USERNAME=\""))
			break;
		i++;
	}
	if (i + 10 > n)
		return;
	for (i += 10; i < n && m[i] != '"' && o < sizeof(out); i++) {
		if (m[i] == '\\' && i + 1 < n)
			i++;
		out[o++] = m[i];
	}
	set_user(a, out, o);
}

/*
 * gs2-header = cbind-flag "," [ "a=" saslname ] ","; returns the offset
 * after it, or 0 when it is not one.
 */
static size_t
gs2_header(struct imap_auth *a, const uint8_t *m, size_t n, bool authz_is_user)
{
	const uint8_t *c1 = find_byte(m, n, ','), *c2;
	size_t off;

	if (c1 == NULL)
		return 0;
	off = (size_t)(c1 + 1 - m);
	c2 = find_byte(c1 + 1, n - off, ',');
	if (c2 == NULL)
		return 0;
	if (c2 - c1 > 3 && c1[1] == 'a' && c1[2] == '=') {
		if (authz_is_user) {
			set_saslname(a->user, &a->userlen, c1 + 3,
			    (size_t)(c2 - c1 - 3));
			a->has_user = true;
		} else
			set_saslname(a->authzid, &a->authzlen, c1 + 3,
			    (size_t)(c2 - c1 - 3));
	}
	return (size_t)(c2 + 1 - m);
}

/* gs2-header "n=" saslname "," "r=" nonce ... */
static void
scram_user(struct imap_auth *a, const uint8_t *m, size_t n)
{
	size_t off = gs2_header(a, m, n, false);
	const uint8_t *end;

	if (off == 0 || off + 2 > n || m[off] != 'n' || m[off + 1] != '=')
		return;
	off += 2;
	end = find_byte(m + off, n - off, ',');
	if (end == NULL)
		return;
	set_saslname(a->user, &a->userlen, m + off, (size_t)(end - m - off));
	a->has_user = true;
}

/* "user=" user ^A "auth=Bearer " token ^A ^A */
static void
xoauth2_user(struct imap_auth *a, const uint8_t *m, size_t n)
{
	const uint8_t *end;

	if (n < 5 || memcmp(m, "user=", 5) != 0)
		return;
	end = find_byte(m + 5, n - 5, 0x01);
	if (end != NULL)
		set_user(a, m + 5, (size_t)(end - m - 5));
}

/* UTF-16LE (BMP) to UTF-8, bounded. */
static size_t
utf16le_to_utf8(const uint8_t *p, size_t n, uint8_t *out, size_t outsz)
{
	size_t i, o = 0;
	unsigned int c;

	for (i = 0; i + 1 < n; i += 2) {
		c = (unsigned int)p[i] | (unsigned int)p[i + 1] << 8;
		if (c >= 0xd800 && c <= 0xdfff)
			c = 0xfffd;
		if (c < 0x80 && o + 1 <= outsz)
			out[o++] = (uint8_t)c;
		else if (c < 0x800 && o + 2 <= outsz) {
			out[o++] = (uint8_t)(0xc0 | c >> 6);
			out[o++] = (uint8_t)(0x80 | (c & 0x3f));
		} else if (c >= 0x800 && o + 3 <= outsz) {
			out[o++] = (uint8_t)(0xe0 | c >> 12);
			out[o++] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
			out[o++] = (uint8_t)(0x80 | (c & 0x3f));
		} else
			break;
	}
	return o;
}

/*
 * The user name of an NTLM AUTHENTICATE (type 3) message ([MS-NLMP]
 * 2.2.1.3): signature, type, then length/max/offset fields of the LM and
 * NT responses, domain, user and workstation; flags at offset 60.
 */
size_t
imap_sasl_ntlm_user(const uint8_t *m, size_t n, uint8_t *out, size_t outsz)
{
	struct iw_rd r = rd_init(m, n);
	const uint8_t *sig, *name;
	uint32_t type, off, flags;
	uint16_t len;

	if (!rd_bytes(&r, 8, &sig) || memcmp(sig, "NTLMSSP", 8) != 0)
		return 0;
	type = rd_u32le(&r);
	rd_skip(&r, 24);		/* LM, NT, domain fields */
	len = rd_u16le(&r);
	rd_skip(&r, 2);
	off = rd_u32le(&r);
	rd_skip(&r, 16);		/* workstation, session key */
	flags = rd_u32le(&r);
	if (r.bad || type != 3 || off > n || len > n - off)
		return 0;
	name = m + off;
	if (flags & 0x1)		/* NTLMSSP_NEGOTIATE_UNICODE */
		return utf16le_to_utf8(name, len, out, outsz);
	if (len > outsz)
		len = (uint16_t)outsz;
	memcpy(out, name, len);
	return len;
}

static void
ntlm_user(struct imap_auth *a, const uint8_t *m, size_t n)
{
	uint8_t out[IMAP_USER_MAX];
	size_t k = imap_sasl_ntlm_user(m, n, out, sizeof(out));

	if (k > 0)
		set_user(a, out, k);
}

/* LOGIN: the response to "Username:", or the first when not prompted for
 * a password. */
static bool
login_is_user(const struct imap_sasl *sx, bool ir)
{
	if (ir)
		return true;
	if (sx->last_chal == CH_USER)
		return true;
	return sx->responses == 0 && sx->last_chal != CH_PASS;
}

static void
take_identity(struct imap_auth *a, const struct imap_sasl *sx,
    const uint8_t *m, size_t n, bool ir)
{
	switch (a->mech) {
	case M_PLAIN:
		plain_user(a, m, n);
		break;
	case M_LOGIN:
		if (login_is_user(sx, ir))
			set_user(a, m, n);
		break;
	case M_CRAM_MD5:
		cram_user(a, m, n);
		break;
	case M_DIGEST_MD5:
		digest_user(a, m, n);
		break;
	case M_SCRAM:
		scram_user(a, m, n);
		break;
	case M_XOAUTH2:
		xoauth2_user(a, m, n);
		break;
	case M_OAUTHBEARER:
		gs2_header(a, m, n, true);
		break;
	case M_NTLM:
		ntlm_user(a, m, n);
		break;
	}
}

/*
 * One client response (the SASL-IR initial response when ir).  "=" is
 * an empty initial response.  Only the first identity found is kept.
 */
void
imap_sasl_response(struct imap_auth *a, struct imap_sasl *sx,
    const uint8_t *b64, size_t n, bool ir)
{
	uint8_t m[IMAP_SASL_DECODE_MAX];
	size_t k;

	if (a->has_user || n == 0 || (n == 1 && b64[0] == '='))
		return;
	if (a->mech == M_UNKNOWN || a->mech == M_ANONYMOUS ||
	    a->mech == M_EXTERNAL || a->mech == M_GSSAPI ||
	    a->mech == M_GS2_KRB5)
		return;
	k = imap_b64_decode(b64, n, m, sizeof(m));
	if (k > 0)
		take_identity(a, sx, m, k, ir);
	explicit_bzero(m, sizeof(m));
}
