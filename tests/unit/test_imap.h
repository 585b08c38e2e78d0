/* SPDX-License-Identifier: ISC */
/*
 * test_imap.h - helpers shared by the IMAP dissector's unit tests
 * (test_imap*.c): sessions on byte strings, base64, minimal TLS records,
 * conversation scripts replayed with segments split anywhere, and the
 * check that a secret never reaches the events.
 */
#ifndef IW_TEST_IMAP_H
#define IW_TEST_IMAP_H

#include <json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dissector.h"
#include "harness.h"

#define C2S	IW_TO_SERVER
#define S2C	IW_TO_CLIENT

extern const struct iw_dissector iw_imap_dissector;

/* A session from client to server:port (client port fixed). */
static inline void
ti_open(struct th *t, const char *client, const char *server, uint16_t port)
{
	th_open(t, client, 40000, server, port);
}

static inline void
C(struct th *t, const char *s)
{
	th_sends(t, C2S, s);
}

static inline void
S(struct th *t, const char *s)
{
	th_sends(t, S2C, s);
}

/* Base64 of n bytes into out (at least 4 * (n + 2) / 3 + 1 bytes). */
static inline const char *
ti_b64(const void *in, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	return out;
}

/* Sends "<b64(bytes)>\r\n" from the client. */
static inline void
ti_send_b64(struct th *t, const void *in, size_t n)
{
	char *buf = malloc(4 * (n + 2) / 3 + 4);

	ti_b64(in, n, buf);
	strcat(buf, "\r\n");
	th_sends(t, C2S, buf);
	free(buf);
}

/*
 * The secret must not appear in any event written so far: in clear, nor
 * base64-encoded at any of the three alignments it can take inside a
 * longer base64 string.
 */
static inline bool
ti_secret_absent(const void *secret, size_t n)
{
	char plain[512], enc[1024];
	uint8_t buf[512];
	size_t k, pad, skip;

	if (n >= sizeof(plain) - 3)
		return false;
	memcpy(plain, secret, n);
	plain[n] = '\0';
	if (th_output_contains(plain))
		return false;
	for (pad = 0; pad < 3; pad++) {
		memset(buf, 'x', pad);
		memcpy(buf + pad, secret, n);
		ti_b64(buf, pad + n, enc);
		/* the characters that depend only on the secret */
		skip = pad == 0 ? 0 : 4;
		k = strlen(enc);
		if (k > skip + 4) {
			enc[k - 4] = '\0';
			if (strlen(enc + skip) >= 4 &&
			    th_output_contains(enc + skip))
				return false;
		}
	}
	return true;
}

#define SECRET_ABSENT(s, what) \
	CHECK(ti_secret_absent((s), strlen(s)), "%s never in output", (what))

/* ---- minimal TLS records ---- */

static inline size_t
ti_client_hello(uint8_t *b, const char *sni)
{
	size_t n = 0, hn = strlen(sni), hs, ext, i;

	ext = 4 + 2 + 1 + 2 + hn;
	hs = 2 + 32 + 1 + 4 + 2 + 2 + ext;
	b[n++] = 0x16; b[n++] = 3; b[n++] = 1;
	b[n++] = (uint8_t)((hs + 4) >> 8); b[n++] = (uint8_t)(hs + 4);
	b[n++] = 1;
	b[n++] = 0; b[n++] = (uint8_t)(hs >> 8); b[n++] = (uint8_t)hs;
	b[n++] = 3; b[n++] = 3;
	for (i = 0; i < 32; i++)
		b[n++] = (uint8_t)i;
	b[n++] = 0;				/* session id */
	b[n++] = 0; b[n++] = 2; b[n++] = 0xc0; b[n++] = 0x2f;
	b[n++] = 1; b[n++] = 0;			/* compression */
	b[n++] = (uint8_t)(ext >> 8); b[n++] = (uint8_t)ext;
	b[n++] = 0; b[n++] = 0;			/* server_name */
	b[n++] = (uint8_t)((ext - 4) >> 8); b[n++] = (uint8_t)(ext - 4);
	b[n++] = (uint8_t)((hn + 3) >> 8); b[n++] = (uint8_t)(hn + 3);
	b[n++] = 0;
	b[n++] = (uint8_t)(hn >> 8); b[n++] = (uint8_t)hn;
	memcpy(b + n, sni, hn);
	return n + hn;
}

static inline size_t
ti_server_hello(uint8_t *b)
{
	size_t n = 0, hs = 2 + 32 + 1 + 2 + 1, i;

	b[n++] = 0x16; b[n++] = 3; b[n++] = 3;
	b[n++] = 0; b[n++] = (uint8_t)(hs + 4);
	b[n++] = 2;
	b[n++] = 0; b[n++] = 0; b[n++] = (uint8_t)hs;
	b[n++] = 3; b[n++] = 3;
	for (i = 0; i < 32; i++)
		b[n++] = (uint8_t)(0x40 + i);
	b[n++] = 0;
	b[n++] = 0xc0; b[n++] = 0x2f;
	b[n++] = 0;
	return n;
}

/* ChangeCipherSpec and an encrypted Finished. */
static inline size_t
ti_ccs_finished(uint8_t *b)
{
	static const uint8_t ccs[] = { 0x14, 3, 3, 0, 1, 1 };
	size_t n = sizeof(ccs), i;

	memcpy(b, ccs, n);
	b[n++] = 0x16; b[n++] = 3; b[n++] = 3; b[n++] = 0; b[n++] = 40;
	for (i = 0; i < 40; i++)
		b[n++] = (uint8_t)(0xa5 ^ i);
	return n;
}

/* ---- scripts ---- */

struct ti_step {
	enum iw_dir	 dir;
	const char	*s;
	size_t		 n;		/* 0: strlen(s) */
};

/* Replays steps, each cut into two segments at split (0: whole), or into
 * one-byte segments when split is (size_t)-1. */
static inline void
ti_replay(struct th *t, const struct ti_step *steps, size_t split)
{
	size_t i, n, k;

	for (i = 0; steps[i].s != NULL; i++) {
		n = steps[i].n ? steps[i].n : strlen(steps[i].s);
		if (split == (size_t)-1) {
			for (k = 0; k < n; k++)
				th_send(t, steps[i].dir, steps[i].s + k, 1);
			continue;
		}
		k = split < n ? split : n;
		if (k > 0)
			th_send(t, steps[i].dir, steps[i].s, k);
		if (n > k)
			th_send(t, steps[i].dir, steps[i].s + k, n - k);
	}
}

static inline int64_t
ti_int(struct json_object *o, const char *path)
{
	struct json_object *v = th_get(o, path);

	return v != NULL ? json_object_get_int64(v) : -1;
}

static inline bool
ti_streq(struct json_object *o, const char *path, const char *want)
{
	const char *s = th_str(o, path);

	return s != NULL && strcmp(s, want) == 0;
}

/* The first element of an array at path, or NULL. */
static inline struct json_object *
ti_idx(struct json_object *o, const char *path, size_t i)
{
	struct json_object *a = th_get(o, path);

	if (a == NULL || !json_object_is_type(a, json_type_array) ||
	    i >= json_object_array_length(a))
		return NULL;
	return json_object_array_get_idx(a, i);
}

/* Does the array at path hold the string s? */
static inline bool
ti_has(struct json_object *o, const char *path, const char *s)
{
	struct json_object *a = th_get(o, path);
	size_t i;

	if (a == NULL || !json_object_is_type(a, json_type_array))
		return false;
	for (i = 0; i < json_object_array_length(a); i++)
		if (strcmp(json_object_get_string(
		    json_object_array_get_idx(a, i)), s) == 0)
			return true;
	return false;
}

/* Number of alerts with this signature. */
static inline int
ti_nalerts(struct json_object *ev, const char *sig)
{
	size_t i, n = json_object_array_length(ev);
	const char *s;
	int c = 0;

	for (i = 0; i < n; i++) {
		s = th_str(json_object_array_get_idx(ev, i),
		    "alert.signature");
		if (s != NULL && strcmp(s, sig) == 0)
			c++;
	}
	return c;
}

#endif /* IW_TEST_IMAP_H */
