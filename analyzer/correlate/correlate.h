/* SPDX-License-Identifier: ISC */
/*
 * correlate.h - the one ordered correlator.
 *
 * Findings that span sessions are decided here, not in the dissectors:
 * starttls_stripping_suspected, cert_changed, auth_bruteforce, and the
 * --alert-once-per-server fold.  Its memory is the state (state.h), in
 * process or in Redis.
 *
 * Producers (today the engine, one; later one per worker) hand it records
 * as they occur, each stamped with the producer's clock, the connection's
 * flow_id and the producer's sequence number:
 *
 *   - facts: typed, fixed-size, versioned records of what a decision
 *     needs (a capability list seen, a leaf key, a failed login), never
 *     JSON; with, on the side, the evidence an alert would show;
 *   - the connection's events: alerts the dissectors raised, anomalies,
 *     flow events, and at the end the session event, which the correlator
 *     completes with its own findings before writing it.
 *
 * A producer's clock never goes back and is its watermark: it will hand
 * over nothing older.  The correlator takes the records in (clock,
 * flow_id, seq) order once every producer's watermark has passed their
 * clock, so the decisions, and the order events are written in, do not
 * depend on how the work was split between producers.  One producer
 * (today) gives the order it produced in, except that records of the
 * same clock go by flow_id.  Anything that spans sessions is judged on
 * the records' packet times.
 *
 * Bounded: IW_CORR_QUEUE_MAX records wait at most; past that the oldest
 * go early (counted: stats.correlator.released_early), which can only
 * reorder records of different producers.
 */
#ifndef IW_CORRELATE_H
#define IW_CORRELATE_H

#include "findings.h"
#include "iw.h"
#include "session.h"
#include "state.h"

struct json_object;

#define IW_FACT_VERSION		1
#define IW_CORR_MAX_PRODUCERS	64
#define IW_CORR_QUEUE_MAX	16384

enum iw_fact_kind {
	IW_FACT_CAPS = 1,	/* a not-authenticated cleartext capability
				 * list, with or without STARTTLS */
	IW_FACT_LEAF,		/* the leaf key a server showed for a name */
	IW_FACT_AUTH_FAILED,	/* a tagged NO to LOGIN or AUTHENTICATE */
	IW_FACT_ALERT,		/* an alert a dissector raised */
	IW_FACT_EVENT,		/* another event of the connection */
	IW_FACT_SESSION_END,	/* the session event, to complete */
	IW_FACT_ANOMALY,	/* an anomaly event: --anomaly-rate decides */
	IW_FACT_NAME_HINT,	/* a TLS 1.3 server and name: was its
				 * certificate checked in an earlier session? */
	IW_FACT_KINDS
};

struct iw_fact_caps {
	struct iw_addr	server;
	uint16_t	port;
	uint8_t		offers_starttls;
};

struct iw_fact_leaf {
	struct iw_addr	server;
	uint16_t	port;
	uint16_t	name_len;		/* without the NUL */
	char		name[IW_STATE_NAME_MAX];
	uint8_t		key_sha256[32];
	uint8_t		name_check;		/* enum iw_name_check */
};

struct iw_fact_hint {
	struct iw_addr	server;
	uint16_t	port;
	uint16_t	name_len;		/* without the NUL */
	char		name[IW_STATE_NAME_MAX];
};

struct iw_fact_auth {
	struct iw_addr	client;
	uint32_t	attempt;		/* in the session, 1-based */
};

struct iw_fact_alert {
	uint16_t	finding;		/* enum iw_finding */
	uint8_t		severity;		/* 0: the catalogue's */
	uint8_t		posture;		/* --alert-once-per-server's */
};

struct iw_fact_end {
	uint64_t	findings;		/* the dissectors', a bit each */
};

#define IW_ANOMALY_KIND_LEN	48	/* "layer.event", as stats.h */

struct iw_fact_anomaly {
	char		kind[IW_ANOMALY_KIND_LEN];	/* NUL-terminated */
};

/*
 * One record as a producer hands it over.  version and len (the body's
 * size for the kind) are checked before anything is read: a record that
 * does not match is counted (stats.correlator.invalid) and dropped.
 */
struct iw_fact {
	uint8_t		version;
	uint8_t		kind;		/* enum iw_fact_kind */
	uint16_t	len;
	uint32_t	producer;
	iw_time		clock;		/* the producer's: the order */
	iw_time		ts;		/* packet time: events, windows */
	uint64_t	flow_id;
	uint64_t	seq;		/* the producer's, from 1 */
	union {
		struct iw_fact_caps	caps;
		struct iw_fact_leaf	leaf;
		struct iw_fact_auth	auth;
		struct iw_fact_alert	alert;
		struct iw_fact_end	end;
		struct iw_fact_anomaly	anomaly;
		struct iw_fact_hint	hint;
	} u;
};

/* Sets version, kind and len for kind; the rest zeroed. */
void iw_fact_init(struct iw_fact *, enum iw_fact_kind);

/* ---- producers ---- */

struct iw_corr_producer;

/* A new producer (NULL past IW_CORR_MAX_PRODUCERS); its clock starts at
 * the earliest time. */
struct iw_corr_producer *iw_corr_producer_new(void);

/* The calling thread's producer: the engine's (made on first use), or
 * the one its worker set. */
struct iw_corr_producer *iw_corr_engine(void);
void iw_corr_set_engine(struct iw_corr_producer *);

/*
 * Workers run in threads: from now on every entry point takes one lock
 * (set before the first worker starts, cleared after the last ended).
 * iw_corr_lock() lets the run loop do what must not overlap a release
 * (the sinks' timers).
 */
void iw_corr_threads(bool on);
void iw_corr_lock(void);
void iw_corr_unlock(void);

/*
 * What the producer hands over from now carries t (never back), but its
 * watermark stays until iw_corr_advance publishes it: a worker stamps
 * every packet and publishes once a batch.
 */
void iw_corr_stamp(struct iw_corr_producer *, iw_time t);

/*
 * The producer's clock moves to t (never back): what it hands over from
 * now carries t, and nothing it hands over later is older, so records
 * older than every producer's clock are taken now.
 */
void iw_corr_advance(struct iw_corr_producer *, iw_time t);

/*
 * Live: the wall clock moved on by elapsed, and so does the producer's
 * clock, even while packets come in late (stamped before the clock) or
 * not at all: what waits is taken within a tick of the live loop.
 */
void iw_corr_advance_by(struct iw_corr_producer *, iw_time elapsed);

/* The producer is done (end of input): its watermark is past all. */
void iw_corr_producer_done(struct iw_corr_producer *);

/*
 * Hands over a record: f (made with iw_fact_init, body filled, ts and
 * flow_id set) gets the producer, its clock and the next seq.  ref is
 * copied; app is a static string ("imap", "tls") or NULL; obj (taken
 * over, may be NULL) is the evidence of a fact or the event of an alert,
 * event or session end.
 */
void iw_corr_submit(struct iw_corr_producer *, struct iw_fact *,
    const struct iw_flowref *ref, const char *app, struct json_object *obj);

/* ---- from the dissectors and the session host (engine's producer) ---- */

/* A not-authenticated cleartext capability list of this session. */
void iw_corr_caps(struct iw_session *, bool offers_starttls,
    struct json_object *evidence);

/* The server's leaf key for name (NULL: none) and its name check. */
void iw_corr_leaf(struct iw_session *, const uint8_t key_sha256[32],
    const char *name, const char *name_check, struct json_object *evidence);

/*
 * A TLS 1.3 session to this server for name (its ServerHello seen): if
 * the session event's certificate stays unseen (name_check "encrypted"),
 * the correlator adds tls.name_check_earlier, the name check of the last
 * earlier session that showed this server's certificate for name.
 */
void iw_corr_name_hint(struct iw_session *, const char *name);

/* A failed authentication (attempt: its number in the session). */
void iw_corr_auth_failed(struct iw_session *, uint32_t attempt,
    struct json_object *evidence);

/*
 * A finding a dissector raised (iw_alert has checked it is the session's
 * first of this id): counted, checked against --suppress, and its alert
 * event written in order (folded if --alert-once-per-server says so).
 */
void iw_corr_alert(const struct iw_flowref *, const char *app, iw_time ts,
    enum iw_finding, int severity, struct json_object *evidence);

/* Another event of the connection (anomaly, flow), written in order. */
void iw_corr_event(const struct iw_flowref *, iw_time ts,
    struct json_object *event);

/* An anomaly event of kind "layer.event": written in order unless the
 * process-wide --anomaly-rate holds it back (decided in key order). */
void iw_corr_anomaly(const struct iw_flowref *, iw_time ts,
    const char *kind, struct json_object *event);

/* The session event with the dissectors' findings (a bit each). */
void iw_corr_session_end(const struct iw_flowref *, const char *app,
    iw_time ts, uint64_t findings, struct json_object *event);

/* ---- the correlator ---- */

/* Takes what every watermark has passed (called by iw_corr_advance). */
void iw_corr_release(void);

/* End of input: every record, whatever the watermarks. */
void iw_corr_flush(void);

/* Frees everything, producers included (tests start again after it). */
void iw_corr_shutdown(void);

/* The "correlator" object of the stats event. */
struct json_object *iw_corr_stats(void);

#endif /* IW_CORRELATE_H */
