/* SPDX-License-Identifier: ISC */
/*
 * anomaly_rate.h - how many anomaly events of one kind the process may
 * write, in packet time.
 *
 * A session writes one anomaly event per kind (session.c) and counts the
 * rest; this caps what a million sessions write together: per kind, a
 * burst of `per_second` events, then `per_second` a second of packet
 * time (a token bucket, kept as the generic cell rate algorithm: one
 * "theoretical arrival time" per kind).  What it holds back is counted by
 * the caller.
 *
 * iw_anomaly_rate_admit() decides from the kind and the packet time
 * alone, on state passed in and touched nowhere else, so that a stage
 * that sees every worker's anomalies in packet-time order can own it.
 */
#ifndef IW_ANOMALY_RATE_H
#define IW_ANOMALY_RATE_H

#include <stdbool.h>

#include "iw.h"
#include "stats.h"

/* Kinds as the stats table numbers them, and one for those past it. */
#define IW_ANOMALY_KINDS	(IW_MAX_ANOMALY_KINDS + 1)

struct iw_anomaly_rate {
	uint32_t	per_second;		/* 0: no limit */
	iw_time		interval;		/* us of packet time an event */
	iw_time		burst;			/* us of credit at most */
	iw_time		latest[IW_ANOMALY_KINDS];	/* packet time seen */
	iw_time		tat[IW_ANOMALY_KINDS];		/* next credit due */
};

/* Empty buckets for per_second events a kind a second (0: no limit). */
void iw_anomaly_rate_init(struct iw_anomaly_rate *, uint32_t per_second);

/*
 * May an anomaly of this kind (0 .. IW_ANOMALY_KINDS - 1) seen at packet
 * time ts be written?  Time that goes backwards counts as no time.
 */
bool iw_anomaly_rate_admit(struct iw_anomaly_rate *, unsigned kind,
    iw_time ts);

#endif /* IW_ANOMALY_RATE_H */
