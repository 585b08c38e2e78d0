/* SPDX-License-Identifier: ISC */
/*
 * session.h - one analysed TCP connection, between the reassembler and the
 * dissectors.
 *
 * The engine side (reassembly.c) hands a session ordered bytes, gaps and the
 * end.  The session finds the protocol by content (the probes in the
 * dissector registry), attaches that dissector, holds the bytes it has not
 * consumed, applies skips and bypasses, and at the end writes the session
 * event.  Findings are raised through iw_alert(), which writes the alert
 * event at once and remembers the id for the session event.
 *
 * The same host is used by the unit tests, which feed byte strings to a
 * session exactly as the reassembler does.
 */
#ifndef IW_SESSION_H
#define IW_SESSION_H

#include "iw.h"
#include "findings.h"

struct json_object;

/*
 * What an event needs to know of its connection.  Owned by the flow (or by
 * the test that made the session); the session only points at it.
 */
struct iw_flowref {
	struct iw_endpoints	ep;
	uint64_t		flow_id;
};

/* Fills ep and flow_id from ep and the first packet's time. */
void iw_flowref_init(struct iw_flowref *, const struct iw_endpoints *,
    iw_time first_seen);

/* The connection's Community ID v1 ("1:" + base64, NUL-terminated). */
void iw_flowref_community_id(const struct iw_flowref *, char out[40]);

struct iw_session;

/* Byte and gap counts of a connection's two directions, in stream space. */
struct iw_stream_totals {
	uint64_t	bytes[2];	/* payload bytes, in order, no repeats */
	uint64_t	skipped[2];	/* of which skipped at a dissector's
					 * request */
	uint64_t	gaps[2];
	uint64_t	gap_bytes[2];
};

/* ---- engine side ---- */

struct iw_session *iw_session_new(const struct iw_flowref *);
void iw_session_data(struct iw_session *, enum iw_dir, const uint8_t *,
    size_t, iw_time);
void iw_session_gap(struct iw_session *, enum iw_dir, uint64_t, iw_time);
/*
 * The connection ended: end(), then the session event (unless dropped).
 * totals, from the reassembler, count bytes the session never saw (bypassed
 * directions); NULL uses the session's own counts.
 */
void iw_session_end(struct iw_session *, enum iw_end_reason, iw_time,
    const struct iw_stream_totals *);
void iw_session_free(struct iw_session *);

/*
 * For connections picked up mid-stream, whose roles were guessed from the
 * ports: `swap` is called when a probe finds them the other way round, and
 * says whether the swap was made (the session then turns directions around
 * itself, both those it is given and the totals at the end).
 */
void iw_session_set_swap_hook(struct iw_session *,
    bool (*swap)(void *arg), void *arg);

/*
 * False once nothing more of this direction will be looked at (bypassed, or
 * the connection is not one we analyse): the reassembler then only counts.
 */
bool iw_session_wants(const struct iw_session *, enum iw_dir);

/* Bytes of this direction (engine's view) the dissector asked to skip
 * and that have not come yet. */
uint64_t iw_session_skip_left(const struct iw_session *, enum iw_dir);

/* Bytes held for the dissector (both directions), for memory accounting. */
size_t iw_session_held(const struct iw_session *);

/* ---- dissector side ---- */

/* Time of the packet whose bytes are being delivered. */
iw_time iw_session_now(const struct iw_session *);
const struct iw_flowref *iw_session_flow(const struct iw_session *);

/* The n bytes that follow those consumed by this data() call are counted,
 * never delivered (IMAP literals, TLS records not worth reading). */
void iw_session_skip(struct iw_session *, enum iw_dir, uint64_t n);

/* Nothing more of this direction is wanted; it is still counted. */
void iw_session_bypass(struct iw_session *, enum iw_dir);

/*
 * The application the session event reports: "imap" (event_type imap, for
 * cleartext, STARTTLS and implicit-TLS IMAP) or "tls" (event_type tls, only
 * written with --all-tls).
 */
void iw_session_set_app(struct iw_session *, const char *app_proto);
const char *iw_session_app(const struct iw_session *);

/* Not a connection we analyse after all: no session event, both directions
 * bypassed (counted in stats). */
void iw_session_drop(struct iw_session *);

/*
 * Raise a finding: writes the alert event now, with `evidence` (taken over,
 * may be NULL) as the "imap" or "tls" object beside it, per the catalogue.
 * severity 0 means the catalogue's.  One alert per finding per session:
 * returns false (and frees evidence) if it was already raised.
 */
bool iw_alert(struct iw_session *, enum iw_finding, int severity,
    struct json_object *evidence);
bool iw_session_has_finding(const struct iw_session *, enum iw_finding);

/*
 * A protocol or stream anomaly: counted in stats, written as an `anomaly`
 * event (EVE: type "applayer"/"stream"/"decode", event name, layer).
 */
void iw_anomaly(struct iw_session *, const char *type, const char *event,
    const char *layer);

#endif /* IW_SESSION_H */
