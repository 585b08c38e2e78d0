/* SPDX-License-Identifier: ISC */
/*
 * summary.h - --summary[=FILE]: a report for a person, written after the
 * run, built only from the events as they are emitted (what the SIEM saw
 * is what the analyst reads): sessions by mode, the servers seen (STARTTLS
 * offered, LOGINDISABLED advertised, TLS versions and ciphers negotiated,
 * certificates and their expiry, findings), and the findings by id with
 * their counts and first examples.
 *
 * Bounded: IW_SUMMARY_MAX_SERVERS servers (the rest are counted), a few
 * versions, ciphers and certificates a server, IW_SUMMARY_EXAMPLES
 * examples a finding.  Text from the wire is printed with control
 * characters replaced by "?".
 */
#ifndef IW_SUMMARY_H
#define IW_SUMMARY_H

#include <stdio.h>

struct json_object;

#define IW_SUMMARY_MAX_SERVERS	4096
#define IW_SUMMARY_EXAMPLES	3

/*
 * The hook in iw_event_emit(), before the event is serialised: adds the
 * noise-control fields (suppress.h), then feeds the report (report.h) and
 * the summary if they are on, and gives the summary the stats.
 */
void iw_event_observe(struct json_object *event);

/*
 * Every event of a connection, from the correlator (correlate.c) as it
 * writes them, in order and complete (the session events with the
 * findings decided across sessions): the sessions, servers and findings
 * of the report.
 */
void iw_summary_observe(struct json_object *event);

/* Start collecting (called once, before the first event). */
void iw_summary_enable(void);

/* Writes the report to fp and frees what was collected. */
void iw_summary_write(FILE *fp);

#endif /* IW_SUMMARY_H */
