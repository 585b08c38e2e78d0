/* SPDX-License-Identifier: ISC */
/*
 * test_anomaly_rate.c - the process-wide limit on anomaly events per kind
 * (analyzer/anomaly_rate.c): a burst of N, then N a second of packet
 * time, kinds apart, time that goes backwards giving no credit, 0 no
 * limit.  The expectations are the token bucket's arithmetic.
 */
#include <stdio.h>

#include "anomaly_rate.h"
#include "harness.h"

#define T0	(1795918822LL * IW_USEC)	/* 2026-11-29 02:20:22 */

/* How many of n events of kind k at time t are admitted. */
static int
admitted(struct iw_anomaly_rate *r, unsigned k, iw_time t, int n)
{
	int i, yes = 0;

	for (i = 0; i < n; i++)
		yes += iw_anomaly_rate_admit(r, k, t);
	return yes;
}

int
main(void)
{
	struct iw_anomaly_rate r;

	iw_anomaly_rate_init(&r, 10);
	CHECK(admitted(&r, 0, T0, 50) == 10,
	    "rate 10: a burst of 10 at one instant, the rest held back");
	CHECK(admitted(&r, 0, T0 + IW_USEC / 10 - 1, 5) == 0 &&
	    admitted(&r, 0, T0 + IW_USEC / 10, 5) == 1,
	    "rate 10: the next one 100 ms of packet time later, not before");
	CHECK(admitted(&r, 1, T0, 50) == 10,
	    "rate 10: another kind has a burst of its own");
	CHECK(admitted(&r, 0, T0 - 3600 * IW_USEC, 5) == 0,
	    "rate 10: packet time an hour back gives no credit");
	CHECK(admitted(&r, 0, T0 + 10 * IW_USEC, 50) == 10,
	    "rate 10: after 10 quiet seconds a burst of 10 again, not 100");
	CHECK(admitted(&r, IW_ANOMALY_KINDS + 5, T0, 50) == 10 &&
	    admitted(&r, IW_ANOMALY_KINDS - 1, T0, 5) == 0,
	    "kinds past the table share the last bucket");

	iw_anomaly_rate_init(&r, 0);
	CHECK(admitted(&r, 0, T0, 100000) == 100000, "rate 0: no limit");
	iw_anomaly_rate_init(&r, 1);
	CHECK(admitted(&r, 3, T0, 3) == 1 &&
	    admitted(&r, 3, T0 + IW_USEC, 3) == 1,
	    "rate 1: one a second");
	iw_anomaly_rate_init(&r, 1000000);
	CHECK(admitted(&r, 3, T0, 2000000) == 1000000,
	    "rate 1,000,000: a burst of a million, one a microsecond after");
	return th_done();
}
