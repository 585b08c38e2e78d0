/* SPDX-License-Identifier: ISC */
/*
 * test_event.c - the common event fields and string rules.
 *
 * Expected values come from outside: Community ID vectors from the spec's
 * baseline (corelight/community-id-spec, baseline/baseline_deflt.json) and
 * Zeek's test of it; UTF-8 replacements from Python's decoder
 * (bytes.decode("utf-8", "replace"), maximal subparts); the username HMAC
 * from Python's hmac module.
 */
#include <string.h>

#include "config.h"
#include "event.h"
#include "harness.h"
#include "session.h"

static void
community(const char *c, uint16_t cp, const char *s, uint16_t sp,
    const char *want)
{
	struct iw_endpoints ep;
	struct iw_flowref f, g;
	char fid[40], gid[40];

	memset(&ep, 0, sizeof(ep));
	iw_addr_parse(c, &ep.client);
	iw_addr_parse(s, &ep.server);
	ep.cport = cp;
	ep.sport = sp;
	iw_flowref_init(&f, &ep, 1000);
	iw_flowref_community_id(&f, fid);
	CHECK(strcmp(fid, want) == 0, "community id %s:%u %s:%u "
	    "= %s (got %s)", c, cp, s, sp, want, fid);
	/* the same connection seen from the other side: the same id */
	ep.client = f.ep.server;
	ep.server = f.ep.client;
	ep.cport = sp;
	ep.sport = cp;
	iw_flowref_init(&g, &ep, 1000);
	iw_flowref_community_id(&g, gid);
	CHECK(strcmp(gid, want) == 0, "community id reversed %s",
	    want);
	CHECK(f.flow_id < (1ULL << 51), "flow_id fits 51 bits");
}

static void
utf8(const char *in, size_t len, const char *want, size_t wantlen)
{
	char out[64];
	size_t n = iw_utf8_sanitize((const uint8_t *)in, len, out,
	    sizeof(out));

	CHECK(n == wantlen && memcmp(out, want, n) == 0,
	    "utf8 sanitize of %zu bytes gives %zu bytes as Python does", len,
	    wantlen);
}

#define U(in, want) utf8(in, sizeof(in) - 1, want, sizeof(want) - 1)
#define FFFD "\xef\xbf\xbd"

static void
test_utf8(void)
{
	struct json_object *j;

	U("plain ascii", "plain ascii");
	U("\xc3\xa9", "\xc3\xa9");
	U("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80");
	U("\xc0\xaf", FFFD FFFD);			/* overlong */
	U("\xed\xa0\x80", FFFD FFFD FFFD);		/* surrogate */
	U("\xf0\x9f\x98", FFFD);			/* truncated */
	U("\xf0\x9f\x98" "A", FFFD "A");
	U("\xe2\x82", FFFD);
	U("\xff\xfe", FFFD FFFD);
	U("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD);	/* past U+10FFFF */
	U("\xe0\x80\x80", FFFD FFFD FFFD);
	U("\x80\x80", FFFD FFFD);
	U("\xc3", FFFD);
	U("a\x00" "b", "a\x00" "b");

	/* json-c escapes control characters and keeps '/' as is */
	j = iw_json_bytes("a/b\x01\xff", 5);
	CHECK(strcmp(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN
	    | JSON_C_TO_STRING_NOSLASHESCAPE), "\"a/b\\u0001\xef\xbf\xbd\"")
	    == 0, "wire string as JSON: slash kept, control escaped, FFFD");
	json_object_put(j);
}

static void
test_times(void)
{
	char buf[IW_TSLEN];

	/* GNU date -u -d @N: 1764382822 is 2025-11-29T02:20:22, 1858645188
	 * is 2028-11-24T02:19:48 */
	CHECK(strcmp(iw_format_ts(1764382822LL * IW_USEC + 102203, buf),
	    "2025-11-29T02:20:22.102203+0000") == 0, "EVE timestamp");
	CHECK(strcmp(iw_format_ts(-1, buf),
	    "1969-12-31T23:59:59.999999+0000") == 0, "timestamp before 1970");
	CHECK(strcmp(iw_format_ts(1152921504606846976LL, buf),
	    "9999-12-31T23:59:59.999999+0000") == 0,
	    "a timestamp past year 9999 is held at its end");
	CHECK(strcmp(iw_format_date(-70000000000LL, buf),
	    "0001-01-01T00:00:00Z") == 0, "a date before year 1 is held there");
	CHECK(strcmp(iw_format_date(1858645188LL, buf),
	    "2028-11-24T02:19:48Z") == 0, "certificate date");
}

static void
test_usernames(void)
{
	struct json_object *j;

	iw_cfg.usernames = IW_USERNAMES_PLAIN;
	j = iw_json_username("alice", 5);
	CHECK(j && strcmp(json_object_get_string(j), "alice") == 0,
	    "--usernames plain");
	json_object_put(j);
	iw_cfg.usernames = IW_USERNAMES_HASH;
	memset(iw_cfg.username_salt, 0, sizeof(iw_cfg.username_salt));
	memcpy(iw_cfg.username_salt, "salt", 4);
	j = iw_json_username("alice", 5);
	CHECK(j && strcmp(json_object_get_string(j), "sha256:dc663a1de92b83cd"
	    "9b6522902cf9420e70757f1eb293f2be7d881953cb2dc149") == 0,
	    "--usernames hash is HMAC-SHA-256 keyed with the salt");
	json_object_put(j);
	iw_cfg.usernames = IW_USERNAMES_OMIT;
	CHECK(iw_json_username("alice", 5) == NULL, "--usernames omit");
	iw_cfg.usernames = IW_USERNAMES_PLAIN;
}

int
main(void)
{
	th_init();
	community("128.232.110.120", 34855, "66.35.250.204", 80,
	    "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
	community("2001:470:e5bf:dead:4957:2174:e82c:4887", 63943,
	    "2607:f8b0:400c:c03::1a", 25, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=");
	community("1.2.3.4", 1122, "5.6.7.8", 3344,
	    "1:wCb3OG7yAFWelaUydu0D+125CLM=");
	test_utf8();
	test_times();
	test_usernames();
	return th_done();
}
