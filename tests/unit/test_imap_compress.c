/* SPDX-License-Identifier: ISC */
/*
 * test_imap_compress.c - COMPRESS=DEFLATE (RFC 4978: "a COMPRESS
 * DEFLATE", "a OK DEFLATE active"), with both directions built here as
 * raw deflate streams, cut anywhere; a stream that does not inflate; and
 * the include/imap.h functions the TLS dissector uses for the plaintext
 * of NULL-cipher TLS.
 */
#include <zlib.h>

#include "config.h"
#include "imap.h"
#include "../../dissectors/imap_internal.h"
#include "stats.h"
#include "test_imap.h"

struct zside {
	z_stream	z;
	uint8_t		out[1 << 16];
	size_t		n;
};

static void
zopen(struct zside *zs)
{
	memset(&zs->z, 0, sizeof(zs->z));
	deflateInit2(&zs->z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
}

/* Compresses s with a sync flush, as RFC 4978 clients and servers do
 * at each command or response. */
static void
zput(struct zside *zs, const void *s, size_t n)
{
	zs->z.next_in = (Bytef *)(uintptr_t)s;
	zs->z.avail_in = (uInt)n;
	zs->z.next_out = zs->out;
	zs->z.avail_out = sizeof(zs->out);
	deflate(&zs->z, Z_SYNC_FLUSH);
	zs->n = sizeof(zs->out) - zs->z.avail_out;
}

static void
zsend(struct th *t, enum iw_dir d, struct zside *zs, const char *s,
    size_t split)
{
	size_t k;

	zput(zs, s, strlen(s));
	k = split < zs->n ? split : zs->n;
	if (split == (size_t)-1) {
		for (k = 0; k < zs->n; k++)
			th_send(t, d, zs->out + k, 1);
		return;
	}
	if (k > 0)
		th_send(t, d, zs->out, k);
	if (zs->n > k)
		th_send(t, d, zs->out + k, zs->n - k);
}

static int
compress_run(size_t split)
{
	struct zside zc, zsv;
	struct json_object *ev, *im;
	struct th t;
	int bad = 0;

	zopen(&zc);
	zopen(&zsv);
	th_clear();
	ti_open(&t, "192.0.2.170", "203.0.113.70", 143);
	S(&t, "* OK [CAPABILITY IMAP4rev1 COMPRESS=DEFLATE] ready\r\n");
	C(&t, "a COMPRESS DEFLATE\r\n");
	S(&t, "a OK DEFLATE active\r\n");
	zsend(&t, C2S, &zc, "b LOGIN bob deflated-pw\r\n", split);
	zsend(&t, S2C, &zsv, "b OK done\r\n", split);
	zsend(&t, C2S, &zc, "c FETCH 1 BODY[]\r\n", split);
	zsend(&t, S2C, &zsv, "* 1 FETCH (BODY[] {20}\r\nd LOGIN not real\r\n"
	    "xx)\r\nc OK done\r\n", split);
	zsend(&t, C2S, &zc, "d LOGOUT\r\n", split);
	zsend(&t, S2C, &zsv, "* BYE\r\nd OK bye\r\n", split);
	th_end(&t, IW_END_FIN);
	deflateEnd(&zc.z);
	deflateEnd(&zsv.z);
	ev = th_events();
	im = th_first(ev, "imap");
	bad += !json_object_get_boolean(th_get(im, "imap.compressed"));
	bad += !ti_streq(th_alert(ev, "cleartext_login"), "imap.username",
	    "bob");
	bad += !ti_streq(th_alert(ev, "cleartext_login"), "imap.status", "OK");
	bad += ti_int(im, "imap.literals.count") != 1;
	bad += ti_int(im, "imap.literals.bytes") != 20;
	bad += ti_int(im, "imap.commands.total") != 4;
	bad += ti_int(im, "imap.unmatched_responses") != 0;
	bad += !ti_streq(im, "imap.state", "logout");
	bad += th_count(ev, "anomaly") != 0;
	bad += !ti_secret_absent("deflated-pw", 11);
	json_object_put(ev);
	return bad;
}

static void
test_compress(void)
{
	size_t k;
	int failed = 0;

	CHECK(compress_run(0) == 0, "COMPRESS: both directions inflated, "
	    "LOGIN inside found, literal skipped by count");
	for (k = 1; k < 24; k++)
		failed += compress_run(k) != 0;
	CHECK(failed == 0, "COMPRESS: compressed data cut at every byte "
	    "(%d wrong)", failed);
	CHECK(compress_run((size_t)-1) == 0, "COMPRESS: one byte a segment");
}

/*
 * A 4 MB literal of zeros in 4 KB of deflate, then "* BYE": one server
 * direction of a session; returns the session's events.
 */
static struct json_object *
bomb_run(size_t *held)
{
	struct zside zsv;
	uint8_t *zeros = calloc(1, 4 << 20);
	struct th t;

	zopen(&zsv);
	th_clear();
	ti_open(&t, "192.0.2.171", "203.0.113.71", 143);
	S(&t, "* PREAUTH ready\r\n");
	C(&t, "a COMPRESS DEFLATE\r\n");
	S(&t, "a OK DEFLATE active\r\n");
	zput(&zsv, "* 1 FETCH (BODY[] {4194304}\r\n", 29);
	th_send(&t, S2C, zsv.out, zsv.n);
	zput(&zsv, zeros, 4 << 20);
	th_send(&t, S2C, zsv.out, zsv.n);
	zput(&zsv, ")\r\n* BYE bye\r\n", 14);
	th_send(&t, S2C, zsv.out, zsv.n);
	*held = iw_session_held(t.s);
	th_end(&t, IW_END_FIN);
	deflateEnd(&zsv.z);
	free(zeros);
	return th_events();
}

/* The same with caps: (ratio, max) as --inflate-ratio, --inflate-max. */
static struct json_object *
bomb_with(uint64_t ratio, uint64_t max, uint64_t *limited,
    uint64_t *inflated)
{
	struct json_object *ev;
	uint64_t l0 = iw_stats.inflate_limited, i0 = iw_stats.inflated_bytes;
	size_t held;

	iw_cfg.inflate_ratio = ratio;
	iw_cfg.inflate_max = max;
	ev = bomb_run(&held);
	*limited = iw_stats.inflate_limited - l0;
	*inflated = iw_stats.inflated_bytes - i0;
	iw_config_defaults(&iw_cfg);
	return ev;
}

static void
test_compress_bomb(void)
{
	struct json_object *ev, *im;
	uint64_t limited, inflated;
	size_t held;

	/* no caps: followed to the end, memory bounded all along */
	iw_cfg.inflate_ratio = iw_cfg.inflate_max = 0;
	ev = bomb_run(&held);
	iw_config_defaults(&iw_cfg);
	im = th_first(ev, "imap");
	CHECK(held <= IW_PENDING_MAX, "inflating 4 MB: nothing big held");
	CHECK(ti_int(im, "imap.literals.bytes") == 4 << 20 &&
	    ti_streq(im, "imap.state", "logout") &&
	    th_count(ev, "anomaly") == 0, "no caps: 4 MB inflated literal "
	    "skipped by count, the BYE after it read, no anomaly");
	json_object_put(ev);

	/* the defaults (100 a byte past 1 MiB): the bomb is cut there */
	ev = bomb_with(100, 64 << 20, &limited, &inflated);
	im = th_first(ev, "imap");
	CHECK(limited == 1 && th_count(ev, "anomaly") == 1 &&
	    ti_streq(th_first(ev, "anomaly"), "anomaly.event",
	    "imap_inflate_limit") && im != NULL &&
	    json_object_get_boolean(th_get(im, "imap.compressed")),
	    "default --inflate-ratio: a 1000:1 stream is cut, one "
	    "imap_inflate_limit anomaly, counted, the session still reported");
	CHECK(inflated > 1 << 20 && inflated < (1 << 20) + 2 * IMAP_ZBUF +
	    100 * 8192 && !ti_streq(im, "imap.state", "logout"),
	    "default --inflate-ratio: cut within a buffer of 1 MiB plus 100 "
	    "times the compressed bytes (%llu inflated), the BYE after not read",
	    (unsigned long long)inflated);
	json_object_put(ev);

	/* a ratio above the stream's: only --inflate-max cuts it */
	ev = bomb_with(2000, 0, &limited, &inflated);
	CHECK(limited == 0 && th_count(ev, "anomaly") == 0 &&
	    inflated >= 4 << 20, "--inflate-ratio 2000: a 1000:1 stream is "
	    "followed to the end");
	json_object_put(ev);
	ev = bomb_with(0, 2 << 20, &limited, &inflated);
	CHECK(limited == 1 && th_count(ev, "anomaly") == 1 &&
	    inflated > 2 << 20 && inflated <= (2 << 20) + IMAP_ZBUF,
	    "--inflate-max 2M: cut within a buffer of 2 MiB (%llu inflated)",
	    (unsigned long long)inflated);
	json_object_put(ev);
}

static void
test_inflate_fails(void)
{
	struct json_object *ev, *im;
	struct th t;

	th_clear();
	ti_open(&t, "192.0.2.172", "203.0.113.72", 143);
	S(&t, "* PREAUTH ready\r\n");
	C(&t, "a COMPRESS DEFLATE\r\n");
	S(&t, "a OK DEFLATE active\r\n");
	th_send(&t, S2C, "\xff\xff\xff\xff garbage", 12);
	C(&t, "b NOOP\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	im = th_first(ev, "imap");
	CHECK(json_object_get_boolean(th_get(im, "imap.compressed")) &&
	    ti_streq(th_first(ev, "anomaly"), "anomaly.event",
	    "imap_inflate_failed"),
	    "not deflate after OK: compressed, imap_inflate_failed");
	json_object_put(ev);

	th_clear();
	ti_open(&t, "192.0.2.172", "203.0.113.72", 143);
	S(&t, "* PREAUTH ready\r\n");
	C(&t, "a COMPRESS DEFLATE\r\n");
	S(&t, "a NO [COMPRESSIONACTIVE] already\r\n");
	C(&t, "b NOOP\r\n");
	S(&t, "b OK\r\n");
	th_end(&t, IW_END_FIN);
	ev = th_events();
	im = th_first(ev, "imap");
	CHECK(!json_object_get_boolean(th_get(im, "imap.compressed")) &&
	    ti_int(im, "imap.commands.total") == 2 &&
	    ti_int(im, "imap.unmatched_responses") == 0,
	    "NO to COMPRESS: stays uncompressed");
	json_object_put(ev);
}

/* include/imap.h: the inner state the TLS dissector feeds. */
static void
feed_inner(struct iw_imap *in, enum iw_dir d, const char *s, size_t split)
{
	size_t n = strlen(s), k = split < n ? split : n, c, done = 0;
	char buf[256];
	size_t have = 0;

	/* hold what is not consumed, as the TLS side does */
	while (done < n) {
		c = k > done ? k - done : n - done;
		memcpy(buf + have, s + done, c);
		have += c;
		done += c;
		c = iw_imap_data(in, d, (const uint8_t *)buf, have);
		memmove(buf, buf + c, have - c);
		have -= c;
	}
}

static void
test_inner(void)
{
	struct json_object *ev, *rep, *a;
	struct iw_imap *in;
	struct th t;
	size_t k;
	int failed = 0;

	for (k = 0; k < 40; k++) {
		th_clear();
		ti_open(&t, "192.0.2.173", "203.0.113.73", 993);
		in = iw_imap_new_inner(t.s);
		feed_inner(in, S2C, "* OK [CAPABILITY IMAP4rev1] ready\r\n", k);
		feed_inner(in, C2S, "a LOGIN {5}\r\nalice {11}\r\nnull-secret\r\n",
		    k);
		feed_inner(in, S2C, "a OK done\r\n", k);
		iw_imap_end(in, IW_END_FIN);
		rep = json_object_new_object();
		json_object_object_add(rep, "imap", json_object_new_object());
		json_object_object_add(th_get(rep, "imap"), "mode",
		    json_object_new_string("implicit_tls"));
		iw_imap_report(in, rep);
		failed += !ti_streq(ti_idx(rep, "imap.auth", 0), "username",
		    "alice") || !json_object_get_boolean(th_get(ti_idx(rep,
		    "imap.auth", 0), "inside_null_cipher_tls"));
		failed += !ti_streq(rep, "imap.mode", "implicit_tls") ||
		    !ti_streq(ti_idx(rep, "imap.inside_tls.auth", 0), "username",
		    "alice") || ti_int(rep, "imap.inside_tls.commands.total")
		    != 1;
		json_object_put(rep);
		iw_imap_free(in);
		th_end(&t, IW_END_FIN);
		ev = th_events();
		a = th_alert(ev, "cleartext_login");
		failed += a == NULL || !json_object_get_boolean(th_get(a,
		    "imap.inside_null_cipher_tls")) || !ti_streq(a,
		    "imap.username", "alice");
		failed += th_alert(ev, "cleartext_on_imaps_port") != NULL ||
		    th_alert(ev, "starttls_not_offered") != NULL;
		failed += !ti_secret_absent("null-secret", 11);
		json_object_put(ev);
	}
	CHECK(failed == 0, "NULL-cipher inner IMAP: cleartext_login with "
	    "inside_null_cipher_tls, in imap.auth and inside_tls, mode kept "
	    "(%d wrong)",
	    failed);

	/* the inner report creates "imap" when absent */
	th_clear();
	ti_open(&t, "192.0.2.174", "203.0.113.74", 993);
	in = iw_imap_new_inner(t.s);
	feed_inner(in, C2S, "a AUTHENTICATE PLAIN AGJvYgBzd29yZGZpc2g=\r\n", 0);
	iw_imap_gap(in, S2C, 10);
	iw_imap_end(in, IW_END_FIN);
	rep = json_object_new_object();
	iw_imap_report(in, rep);
	CHECK(ti_streq(ti_idx(rep, "imap.inside_tls.auth", 0), "mechanism",
	    "PLAIN") && th_get(rep, "imap.mode") == NULL,
	    "inner report: imap created, no mode invented");
	json_object_put(rep);
	iw_imap_free(in);
	th_end(&t, IW_END_FIN);
	ev = th_events();
	CHECK(ti_streq(th_alert(ev, "cleartext_auth"), "imap.username", "bob"),
	    "inner AUTHENTICATE PLAIN: cleartext_auth");
	SECRET_ABSENT("swordfish", "inner PLAIN password");
	json_object_put(ev);
}

int
main(void)
{
	th_init();
	test_compress();
	test_compress_bomb();
	test_inflate_fails();
	test_inner();
	return th_done();
}
