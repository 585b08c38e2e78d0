/* SPDX-License-Identifier: ISC */
/*
 * suppress.h - noise control: the --suppress rules, --alert-once-per-server,
 * and what the session and stats events say about alerts not written.
 *
 * The correlator asks iw_noise_alert() whether to write each alert, and
 * decides the --alert-once-per-server fold itself.  A finding whose alert is held back is still a finding of the session (its
 * id stays in the session event's `findings`); the session event gets
 * `findings_suppressed` (ids) and `findings_repeated` (id: how many times
 * this server showed it without an alert, so far in the period), and the
 * stats event counts both by id.  The annotations are added by
 * iw_noise_annotate(), which iw_event_emit() calls through
 * iw_event_observe() (summary.c).
 */
#ifndef IW_SUPPRESS_H
#define IW_SUPPRESS_H

#include "findings.h"
#include "iw.h"

struct json_object;
struct iw_flowref;
struct iw_ruleset;

/*
 * Reads a suppression file: one rule a line, "#" starts a comment,
 *
 *	ID|* [server=ADDR[:PORT]] [client=ADDR[/PREFIX]] [user=NAME]
 *
 * (IPv6 with a port as [ADDR]:PORT).  Every condition given must hold.
 * Returns NULL with "file:line: why" in err on any mistake.
 */
struct iw_ruleset *iw_suppress_load(const char *path, char *err,
    size_t errlen);
void iw_suppress_free(struct iw_ruleset *);
int iw_suppress_count(const struct iw_ruleset *);

/* Makes rs the active rule set (NULL: none); returns the previous one,
 * for the caller to free. */
struct iw_ruleset *iw_suppress_set(struct iw_ruleset *rs);

/*
 * Does a rule of rs hold back this finding?  user is the username as the
 * alert carries it (after --usernames), or NULL.
 */
bool iw_suppress_match(const struct iw_ruleset *rs, enum iw_finding,
    const struct iw_endpoints *, const char *user);

/* --alert-once-per-server on or off; live runs fold per UTC day of packet
 * time, captures per run (with shared state, per UTC day too). */
void iw_noise_set_once_per_server(bool on, bool live);
bool iw_noise_once_per_server(bool *live);

/* Is this one of the findings --alert-once-per-server folds? */
bool iw_noise_is_server_posture(enum iw_finding);

/*
 * The --suppress hook for every alert: true when it is to be written;
 * false when a rule holds it back, in which case evidence (may be NULL)
 * has been freed and the session's note says so.
 */
bool iw_noise_alert(const struct iw_flowref *, enum iw_finding,
    struct json_object *evidence);

/* The correlator folded this alert: the count-th repeat of the server's
 * finding in the period (counted, and noted for the session event). */
void iw_noise_note_repeat(const struct iw_flowref *, enum iw_finding,
    uint32_t count);

/* Adds the noise-control fields to a session or stats event. */
void iw_noise_annotate(struct json_object *event);

/* Alerts held back so far, by finding. */
uint64_t iw_noise_suppressed(enum iw_finding);
uint64_t iw_noise_repeated(enum iw_finding);

/* Frees every table (end of run). */
void iw_noise_shutdown(void);

#endif /* IW_SUPPRESS_H */
