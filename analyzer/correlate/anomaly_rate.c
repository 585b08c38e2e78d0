/* SPDX-License-Identifier: ISC */
/*
 * anomaly_rate.c - see anomaly_rate.h.
 */
#include <string.h>

#include "anomaly_rate.h"

void
iw_anomaly_rate_init(struct iw_anomaly_rate *r, uint32_t per_second)
{
	memset(r, 0, sizeof(*r));
	r->per_second = per_second;
	if (per_second == 0)
		return;
	r->interval = IW_USEC / per_second;
	if (r->interval == 0)
		r->interval = 1;
	r->burst = r->interval * (iw_time)(per_second - 1);
}

bool
iw_anomaly_rate_admit(struct iw_anomaly_rate *r, unsigned kind, iw_time ts)
{
	if (r->per_second == 0)
		return true;
	if (kind >= IW_ANOMALY_KINDS)
		kind = IW_ANOMALY_KINDS - 1;
	if (ts < r->latest[kind])
		ts = r->latest[kind];
	r->latest[kind] = ts;
	/* the first event of a kind finds tat 0: always admitted */
	if (r->tat[kind] != 0 && ts < r->tat[kind] - r->burst)
		return false;
	r->tat[kind] = (r->tat[kind] > ts ? r->tat[kind] : ts) + r->interval;
	return true;
}
