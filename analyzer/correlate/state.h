/* SPDX-License-Identifier: ISC */
/*
 * state.h - the correlator's memory: what it knows across sessions, behind
 * one small interface with two back ends (in the spirit of OpenSMTPD's
 * scheduler backends): in-process (state_mem.c, the default) and Redis
 * (state_redis.c, shared by a fleet of sensors and kept across restarts).
 *
 * Four kinds of fact, each keyed as below:
 *
 *	starttls	server address:port that offered STARTTLS
 *	leaf		server address:port + certificate name: its leaf key
 *			and name-check result (each sighting replaces both,
 *			so the last sighting is when that check was made:
 *			tls.name_check_earlier reports it)
 *	authfail	client address: its failed authentications in the
 *			brute-force window
 *	once		server address:port + finding + period: an alert
 *			written under --alert-once-per-server
 *
 * Every value keeps the packet times it was first and last seen: windows
 * and periods are judged on those, never on the wall clock.  The wall
 * clock only bounds memory (Redis TTLs).  Each kind has a count cap, split
 * in two tiers: facts seen in one session so far (a quarter of the cap)
 * and facts seen in two or more (the rest).  A flood of new keys churns
 * the first tier only, so what is known of long-established servers and
 * clients stays.
 *
 * Each operation is one decision and atomic in the back end (Redis: one
 * Lua script or command), so two sensors racing on the same fact decide
 * it once.  The front (state.c) mirrors every operation into memory, so
 * when Redis cannot be reached the correlator carries on with what this
 * sensor has seen, and writes back what it learnt meanwhile when Redis
 * returns.
 */
#ifndef IW_STATE_H
#define IW_STATE_H

#include "iw.h"

struct json_object;

/* The schema of keys and values; a change of meaning changes it (it is in
 * every Redis key, so sensors of another schema never read them). */
#define IW_STATE_SCHEMA		1

#define IW_STATE_NAME_MAX	256	/* leaf: server name, NUL included */

enum iw_state_kind {
	IW_STATE_STARTTLS = 0,
	IW_STATE_LEAF,
	IW_STATE_AUTHFAIL,
	IW_STATE_ONCE,
	IW_STATE_KINDS
};

/* Name checks as stored with a leaf key. */
enum iw_name_check {
	IW_CHECK_UNCHECKED = 0,
	IW_CHECK_MATCH,
	IW_CHECK_MISMATCH,
	IW_CHECK_ENCRYPTED,
};

/*
 * A key.  Callers zero it first (iw_state_key_init): the in-memory back
 * end compares its bytes, the name only for leaf keys.
 */
struct iw_state_key {
	uint8_t		kind;		/* enum iw_state_kind */
	uint8_t		family;		/* AF_INET, AF_INET6 */
	uint16_t	port;		/* 0 for authfail */
	uint16_t	finding;	/* once: enum iw_finding */
	uint16_t	name_len;	/* leaf */
	uint8_t		addr[16];
	int64_t		period;		/* once: UTC day, or -1 (the run) */
	char		name[IW_STATE_NAME_MAX];	/* leaf */
};

/* What is kept of a fact (starttls, leaf, once). */
struct iw_state_val {
	iw_time		first, last;	/* packet times */
	uint64_t	first_flow;	/* flow_id of the first session */
	uint64_t	last_flow;
	uint32_t	sessions;	/* distinct sessions that showed it */
	uint32_t	repeats;	/* sightings after the first */
	uint8_t		key_sha256[32];	/* leaf */
	uint8_t		name_check;	/* leaf: enum iw_name_check */
	uint8_t		has_key;
};

/* How an operation is applied. */
enum iw_state_mode {
	IW_STATE_DECIDE = 0,	/* a decision: results count */
	IW_STATE_REPLAY,	/* writing back: merge, never reset a window */
};

/*
 * A back end.  Every operation returns -1 when the back end failed (the
 * front then decides on memory), else as said.
 */
struct iw_state_backend {
	const char	*name;
	/* 1 with *out when the key is known, 0 when not. */
	int	(*get)(void *, const struct iw_state_key *,
		    struct iw_state_val *out);
	/*
	 * A sighting of the fact in session v->last_flow at v->last: stores
	 * v if the key is absent (returns 0); else updates the last sighting,
	 * the session count and the repeats, and returns 1 with the value as
	 * it was before in *old.  getset does the same and also replaces the
	 * leaf key and name check with v's (REPLAY: only if v is not older).
	 */
	int	(*put_nx)(void *, const struct iw_state_key *,
		    const struct iw_state_val *v, struct iw_state_val *old,
		    enum iw_state_mode);
	int	(*getset)(void *, const struct iw_state_key *,
		    const struct iw_state_val *v, struct iw_state_val *old,
		    enum iw_state_mode);
	/*
	 * One failure at ts (member: unique per failure, so the same one
	 * written twice counts once): drops those before ts - window, and
	 * returns 1 when threshold or more remain (and empties the window,
	 * DECIDE only), else 0.
	 */
	int	(*window_add)(void *, const struct iw_state_key *, iw_time ts,
		    uint64_t member, iw_time window, int threshold,
		    enum iw_state_mode);
};

/* Limits of one kind. */
struct iw_state_limits {
	uint64_t	cap;		/* facts at most, both tiers */
	uint64_t	ttl;		/* wall-clock seconds (Redis) */
};

/* ---- settings (parsed by main.c) ---- */

/* "KIND=N[,KIND=N...]" into the caps or TTLs; 0 or -1 with err. */
int iw_state_parse_limits(const char *spec, bool ttl,
    struct iw_state_limits lim[IW_STATE_KINDS], char *err, size_t errlen);
void iw_state_default_limits(struct iw_state_limits lim[IW_STATE_KINDS]);

/* The cap of a kind's tier: a quarter of its cap seen once, the rest
 * established (at least 1 each). */
uint64_t iw_state_tier_cap(const struct iw_state_limits *, bool established);
const char *iw_state_kind_name(enum iw_state_kind);

/* ---- the front, used by the correlator ---- */

/*
 * Opens the state: spec NULL for memory only, else "redis://HOST:PORT/
 * PREFIX" or "unix:/PATH[/PREFIX]" (see state_redis.c).  live: Redis
 * calls wait timeout_ms at most (else the files' longer wait) and never
 * stall capture for longer.  A Redis that cannot be reached now is not an
 * error: the state starts on memory and keeps trying.  -1 with err on a
 * malformed spec.
 */
int iw_state_open(const char *spec, const char *password,
    const struct iw_state_limits lim[IW_STATE_KINDS], bool live,
    int timeout_ms, char *err, size_t errlen);
void iw_state_close(void);

/* Is a shared back end configured (whether or not it is up now)? */
bool iw_state_shared(void);

void iw_state_key_init(struct iw_state_key *, enum iw_state_kind);

int iw_state_get(const struct iw_state_key *, struct iw_state_val *);
int iw_state_put_nx(const struct iw_state_key *, const struct iw_state_val *,
    struct iw_state_val *old);
int iw_state_getset(const struct iw_state_key *, const struct iw_state_val *,
    struct iw_state_val *old);
int iw_state_window_add(const struct iw_state_key *, iw_time ts,
    uint64_t member, iw_time window, int threshold);

/*
 * Once after the shared back end became unreachable: the reason, for the
 * one anomaly the correlator writes (NULL otherwise, and after).
 */
const char *iw_state_take_outage(void);

/* The "state" object of the stats event. */
struct json_object *iw_state_stats(void);

/* ---- back ends ---- */

/* In-process: caps from lim (two tiers each); NULL when out of memory. */
void *iw_state_mem_new(const struct iw_state_limits lim[IW_STATE_KINDS]);
void iw_state_mem_free(void *);
uint64_t iw_state_mem_count(void *, enum iw_state_kind);
uint64_t iw_state_mem_evictions(void *, enum iw_state_kind);
extern const struct iw_state_backend iw_state_mem;

/*
 * Redis: parses spec (0 or -1 with err); connects on iw_state_redis_up().
 * Error strings never hold the password.
 */
struct iw_state_redis;
struct iw_state_redis *iw_state_redis_new(const char *spec,
    const char *password, const struct iw_state_limits *lim,
    int timeout_ms, char *err, size_t errlen);
/* Connects (and loads the scripts) if not connected: 0, or -1 with why. */
int iw_state_redis_up(struct iw_state_redis *, char *why, size_t whylen);
bool iw_state_redis_connected(const struct iw_state_redis *);
/* The last failure, for the front's warning. */
const char *iw_state_redis_error(const struct iw_state_redis *);
/* "redis://127.0.0.1:6379/imapwatch": never a password. */
const char *iw_state_redis_target(const struct iw_state_redis *);
uint64_t iw_state_redis_evictions(const struct iw_state_redis *,
    enum iw_state_kind);
void iw_state_redis_free(struct iw_state_redis *);
extern const struct iw_state_backend iw_state_redis;

#endif /* IW_STATE_H */
