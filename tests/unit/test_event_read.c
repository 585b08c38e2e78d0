/* SPDX-License-Identifier: ISC */
/*
 * test_event_read.c - reading events back (event_read.h), as the summary
 * and the HTML report do: times in every form the events write them
 * (epoch values from Python's calendar.timegm), tls.version in
 * Suricata's strings and in ours, subjectAltName names, and the keyed
 * table's cap and order.
 */
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_read.h"
#include "findings.h"
#include "harness.h"

static void
times(void)
{
	static const struct {
		const char	*s;
		iw_time		 want;
	} good[] = {
		{ "2026-11-29T04:56:49.716558+0000",
		    1795928209LL * IW_USEC + 716558 },
		{ "2028-11-28T02:19:48", 1858990788LL * IW_USEC },
		{ "2028-11-28T02:19:48Z", 1858990788LL * IW_USEC },
		{ "2028-11-28T02:19:48+01:00", 1858987188LL * IW_USEC },
		{ "2028-11-28T02:19:48.5+0100", 1858987188LL * IW_USEC +
		    500000 },
		{ "9999-12-31T23:59:59", 253402300799LL * IW_USEC },
		{ "0001-01-01T00:00:00Z", -62135596800LL * IW_USEC },
	};
	static const char *const bad[] = { "", "garbage",
	    "2028-11-28 02:19:48", "2028-13-01T00:00:00", "2028-11-28T24:00:00",
	    "2028-11-28T02:19:48+1", "2028-11-28T02:19:48 ", "28-11-28T02:19:48" };
	iw_time t;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(iw_ev_time(good[i].s, &t) && t == good[i].want,
		    "time %s", good[i].s);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!iw_ev_time(bad[i], &t), "not a time: '%s'", bad[i]);
	CHECK(!iw_ev_time(NULL, &t), "not a time: NULL");
}

static void
versions(void)
{
	static const struct {
		const char	*s;
		int		 want;
	} v[] = {
		/* Suricata's (src/output-json-tls.c) */
		{ "SSLv2", 0x0200 }, { "SSLv3", 0x0300 }, { "TLSv1", 0x0301 },
		{ "TLS 1.1", 0x0302 }, { "TLS 1.2", 0x0303 },
		{ "TLS 1.3", 0x0304 }, { "TLS 1.3 draft-19", 0x0304 },
		{ "UNDETERMINED", 0 },
		/* ours before the EVE change, and other spellings */
		{ "SSL 3.0", 0x0300 }, { "TLS 1.0", 0x0301 },
		{ "TLS 1.3 (draft 19)", 0x0304 }, { "TLSv1.2", 0x0303 },
		{ "TLS 1.9", 0 }, { "DTLS 1.2", 0 }, { "", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		CHECK(iw_ev_tls_version(v[i].s) == v[i].want,
		    "tls.version '%s' is 0x%04x", v[i].s, v[i].want);
	CHECK(iw_ev_tls_version(NULL) == 0, "tls.version NULL is unknown");
}

static void
members(void)
{
	struct json_object *o = json_tokener_parse("{\"tls\":{"
	    "\"subjectaltname\":[\"DNS:a.example\",\"b.example\",7],"
	    "\"certificate_status\":\"encrypted\"},\"n\":5,\"s\":\"x\","
	    "\"b\":true,\"findings\":[\"cleartext_login\",\"nope\","
	    "\"no_sni\"]}");
	struct json_object *old = json_tokener_parse(
	    "{\"certificate\":\"encrypted\"}");
	char buf[64];

	iw_ev_san_names(buf, sizeof(buf), iw_ev_get(iw_ev_get(o, "tls"),
	    "subjectaltname"));
	CHECK(strcmp(buf, "a.example, b.example, 7") == 0,
	    "subjectAltName bare or with DNS: (%s)", buf);
	CHECK(iw_ev_int(o, "n", 0) == 5 && iw_ev_int(o, "s", -1) == -1 &&
	    iw_ev_str(o, "n") == NULL && iw_ev_true(o, "b") &&
	    !iw_ev_true(o, "n") && iw_ev_get(iw_ev_get(o, "s"), "x") == NULL,
	    "members of the wrong type read as missing");
	CHECK(iw_ev_cert_encrypted(iw_ev_get(o, "tls")) &&
	    iw_ev_cert_encrypted(old) && !iw_ev_cert_encrypted(o),
	    "certificate encrypted: certificate_status, or the older "
	    "certificate");
	CHECK(iw_ev_finding_bits(iw_ev_get(o, "findings")) ==
	    ((1ULL << IW_F_CLEARTEXT_LOGIN) | (1ULL << IW_F_NO_SNI)),
	    "finding ids to bits, unknown ids ignored");
	CHECK(iw_ev_password_alert(IW_F_CLEARTEXT_LOGIN, 1) &&
	    iw_ev_password_alert(IW_F_CLEARTEXT_AUTH, 1) &&
	    !iw_ev_password_alert(IW_F_CLEARTEXT_AUTH, 3) &&
	    !iw_ev_password_alert(IW_F_AUTH_BRUTEFORCE, 2),
	    "passwords in clear: LOGIN, AUTHENTICATE at severity 1");
	CHECK(strcmp(iw_ev_short_time("2026-11-29T04:56:49.716558+0000", buf,
	    sizeof(buf)), "2026-11-29 04:56:49") == 0, "short time");
	json_object_put(o);
	json_object_put(old);
}

struct item {
	struct iw_ev_item	item;
	int			n;
};

static void
table(void)
{
	struct iw_ev_table t = { .max = 3, .size = sizeof(struct item) };
	struct item *a, *b;
	char key[16];
	int i;

	a = iw_ev_table_get(&t, "10.0.0.1:143");
	b = iw_ev_table_get(&t, "10.0.0.1:143");
	CHECK(a != NULL && a == b && a->n == 0, "same key, same item, zeroed");
	for (i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		b = iw_ev_table_get(&t, key);
	}
	CHECK(t.n == 3 && b == NULL && strcmp(t.items[0]->key,
	    "10.0.0.1:143") == 0 && strcmp(t.items[2]->key, "k1") == 0,
	    "at most max items, in order of first sight");
	iw_ev_table_free(&t);
	CHECK(t.n == 0 && t.items == NULL && iw_ev_table_get(&t, "k9") != NULL,
	    "freed, usable again");
	iw_ev_table_free(&t);
}

int
main(void)
{
	times();
	versions();
	members();
	table();
	return th_done();
}
