/* SPDX-License-Identifier: ISC */
/*
 * test_noise_once.c - --alert-once-per-server folds server-posture alerts
 * per server: per run on a capture, per UTC day of packet time live
 * (issue 5: "one alert per server per run or per day live, the count kept
 * in the session events").  Live folding cannot be reached from a capture
 * (a live run's packets carry today's time), so it is pinned here with
 * sessions placed either side of midnight.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "suppress.h"

/* No STARTTLS in the greeting: starttls_not_offered, a posture finding. */
static const char GREETING[] =
    "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] imap.example.test ready.\r\n";

#define T_DAY1_2358	(1795996680LL * IW_USEC)	/* 2026-11-29 23:58 */
#define T_DAY1_2359	(1795996740LL * IW_USEC)
#define T_DAY2_0001	(1795996860LL * IW_USEC)	/* 2026-11-30 00:01 */
#define T_DAY2_2359	(1796083140LL * IW_USEC)

struct outcome {
	int	 alerts;	/* starttls_not_offered alerts written */
	int64_t	 repeated;	/* the imap event's count, -1 when absent */
};

/* One greeting-only session to server at time t; what it wrote. */
static struct outcome
session(const char *server, uint16_t cport, iw_time t)
{
	struct outcome o = { 0, -1 };
	struct json_object *ev, *e, *rep;
	struct th th;
	size_t i;

	th_clear();
	th_open(&th, "192.0.2.10", cport, server, 143);
	th.ts = t;
	th_sends(&th, IW_TO_CLIENT, GREETING);
	th_end(&th, IW_END_FIN);
	ev = th_events();
	for (i = 0; i < json_object_array_length(ev); i++) {
		e = json_object_array_get_idx(ev, i);
		if (strcmp(th_str(e, "event_type"), "alert") == 0 &&
		    strcmp(th_str(e, "alert.signature"),
		    "starttls_not_offered") == 0)
			o.alerts++;
	}
	e = th_first(ev, "imap");
	rep = e != NULL ? th_get(e,
	    "imap.findings_repeated.starttls_not_offered") : NULL;
	if (rep != NULL)
		o.repeated = json_object_get_int64(rep);
	json_object_put(ev);
	return o;
}

static void
test_live_per_day(void)
{
	struct outcome o;

	iw_noise_set_once_per_server(true, true);
	o = session("192.0.2.143", 40001, T_DAY1_2358);
	CHECK(o.alerts == 1 && o.repeated == -1,
	    "live, day 1, first session: the alert is written (%d, %lld)",
	    o.alerts, (long long)o.repeated);
	o = session("192.0.2.143", 40002, T_DAY1_2359);
	CHECK(o.alerts == 0 && o.repeated == 1,
	    "live, day 1, second session: folded, imap event counts 1 "
	    "(%d, %lld)", o.alerts, (long long)o.repeated);
	o = session("192.0.2.144", 40003, T_DAY1_2359);
	CHECK(o.alerts == 1,
	    "live, day 1, another server: its own alert (%d)", o.alerts);
	o = session("192.0.2.143", 40004, T_DAY2_0001);
	CHECK(o.alerts == 1 && o.repeated == -1,
	    "live, past midnight UTC: the alert is written again (%d, %lld)",
	    o.alerts, (long long)o.repeated);
	o = session("192.0.2.143", 40005, T_DAY2_2359);
	CHECK(o.alerts == 0 && o.repeated == 1,
	    "live, day 2, later: folded, the count started again (%d, %lld)",
	    o.alerts, (long long)o.repeated);
}

static void
test_capture_per_run(void)
{
	struct outcome o;

	iw_noise_set_once_per_server(true, false);
	o = session("192.0.2.150", 41001, T_DAY1_2358);
	CHECK(o.alerts == 1, "capture, first session: the alert is written");
	o = session("192.0.2.150", 41002, T_DAY2_0001);
	CHECK(o.alerts == 0 && o.repeated == 1,
	    "capture, next day: still folded, one alert per run (%d, %lld)",
	    o.alerts, (long long)o.repeated);
	o = session("192.0.2.150", 41003, T_DAY2_2359);
	CHECK(o.alerts == 0 && o.repeated == 2,
	    "capture, third session: folded, counted 2 (%d, %lld)",
	    o.alerts, (long long)o.repeated);
}

static void
test_off(void)
{
	struct outcome o;

	iw_noise_set_once_per_server(false, true);
	o = session("192.0.2.160", 42001, T_DAY1_2358);
	CHECK(o.alerts == 1, "folding off: first alert written");
	o = session("192.0.2.160", 42002, T_DAY1_2359);
	CHECK(o.alerts == 1 && o.repeated == -1,
	    "folding off: every session's alert written (%d, %lld)",
	    o.alerts, (long long)o.repeated);
}

int
main(void)
{
	th_init();
	test_live_per_day();
	test_capture_per_run();
	test_off();
	iw_noise_shutdown();
	return th_done();
}
