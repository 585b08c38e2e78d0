/* SPDX-License-Identifier: ISC */
/*
 * report.h - --report FILE.html: one self-contained HTML page for an
 * incident handler ("were mail passwords exposed, and which servers are
 * misconfigured?").
 *
 * The page is built only from the events the run writes: every event is
 * handed to iw_report_event() as it goes to the outputs, and the report
 * keeps bounded aggregates of them (what a SIEM holds, the page shows).
 * It never reads the engine's structures, so it does not care how the
 * events were produced or by how many threads, as long as they arrive in
 * the order they are written.
 *
 * The page loads nothing and runs nothing: no script, no external style,
 * font or image, and a Content-Security-Policy (default-src 'none'; the
 * one inline style element allowed by its SHA-256 hash) that would stop
 * them if they were there.  Every string that came from the network
 * (server names, greetings, user names, certificate names, evidence) is
 * HTML-escaped, NUL and bidirectional controls shown as visible marks.
 *
 * Bounded: at most IW_REPORT_ROWS rows a table (servers, passwords sent
 * in clear), IW_REPORT_CONNECTIONS connections a finding, the first
 * IW_REPORT_TIMELINE sessions and findings drawn on the timeline,
 * IW_REPORT_MAX_SERVERS servers aggregated; what is left out is counted
 * and said on the page.
 */
#ifndef IW_REPORT_H
#define IW_REPORT_H

#include <stddef.h>

struct json_object;

#define IW_REPORT_ROWS		50
#define IW_REPORT_CONNECTIONS	10
#define IW_REPORT_TIMELINE	1000
#define IW_REPORT_MAX_SERVERS	4096

/*
 * Creates FILE (mode 0640, never through a symbolic link) and starts
 * collecting events.  Called once, before privileges are dropped.
 * Returns 0, or -1 with a one-line reason in err.
 */
int iw_report_open(const char *path, char *err, size_t errlen);

/* Every event, in the order it is written (EVE form, before --format). */
void iw_report_event(struct json_object *event);

/* Writes the page, closes the file, frees everything.  Returns 0, or -1
 * with a reason in err (the file is then incomplete). */
int iw_report_write(char *err, size_t errlen);

#endif /* IW_REPORT_H */
