/* SPDX-License-Identifier: ISC */
/*
 * event_read.h - reading events back: the helpers of the consumers that
 * build reports for people from the events as they are emitted (summary.c,
 * report.c).  They read only what the events say, never the engine's
 * structures, and take every field as possibly missing or of another type.
 */
#ifndef IW_EVENT_READ_H
#define IW_EVENT_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iw.h"

struct json_object;

/* The member k of o, or NULL (o may be NULL or not an object). */
struct json_object *iw_ev_get(struct json_object *o, const char *k);

/* The string member k, or NULL when missing or not a string. */
const char *iw_ev_str(struct json_object *o, const char *k);

/* The integer member k, or def when missing or not a number. */
int64_t iw_ev_int(struct json_object *o, const char *k, int64_t def);

/* true only for a boolean member k that is true. */
bool iw_ev_true(struct json_object *o, const char *k);

/* "ip:port" or "[v6]:port" from the members ip and port of ev. */
void iw_ev_endpoint(char *dst, size_t len, struct json_object *ev,
    const char *ip, const char *port);

/*
 * A time as events write it, to microseconds since the epoch:
 * "2026-11-29T04:56:49.716558+0000" (timestamps), "2028-11-28T02:19:48"
 * and "2028-11-28T02:19:48Z" (certificate dates); a fraction and a UTC
 * offset (+hhmm, +hh:mm, Z) are optional.  false if it is none of these.
 */
bool iw_ev_time(const char *s, iw_time *out);

/*
 * The protocol version a tls.version string names, as its wire value
 * (0x0300 SSL 3.0 ... 0x0304 TLS 1.3), whether written "TLS 1.0", "TLSv1",
 * "TLSv1.2", "SSLv3", "SSL 3.0" or "TLS 1.3 draft-19"; 0 if unknown
 * ("UNDETERMINED").  For ordering and colouring only: the text shown is
 * the event's own.
 */
int iw_ev_tls_version(const char *s);

/* Whether the session's certificate was hidden by TLS 1.3 encryption:
 * tls.certificate_status "encrypted" (or the older tls.certificate). */
bool iw_ev_cert_encrypted(struct json_object *tls);

/* The names of a tls.subjectaltname array joined by ", ", bare ("DNS:"
 * dropped where an older event still writes it); not cleaned. */
void iw_ev_san_names(char *dst, size_t len, struct json_object *san);

/* What kind of session an imap or tls event reports. */
enum iw_ev_mode {
	IW_EV_CLEARTEXT = 0,
	IW_EV_STARTTLS,
	IW_EV_IMAPS,		/* implicit TLS */
	IW_EV_OTHER_TLS,	/* a tls event (--all-tls) */
	IW_EV_MODES
};

/* "cleartext", "STARTTLS", "IMAPS", "other TLS": for people. */
extern const char *const iw_ev_mode_label[IW_EV_MODES];

enum iw_ev_mode iw_ev_session_mode(const char *event_type,
    struct json_object *app);

/* counts[1]++ for a boolean member that is true, counts[0]++ for false,
 * nothing when it is missing. */
void iw_ev_count_bool(uint64_t counts[2], struct json_object *v);

/* A bit (1 << enum iw_finding) for each known id in a findings array. */
uint64_t iw_ev_finding_bits(struct json_object *ids);

/* The alert says a password (or a token that works as one) crossed the
 * network in clear: LOGIN, or AUTHENTICATE with a mechanism that carries
 * it (severity 1; challenge-response mechanisms are lower). */
bool iw_ev_password_alert(int finding, int severity);

/* "2026-11-29T04:56:49.716558+0000" as "2026-11-29 04:56:49". */
const char *iw_ev_short_time(const char *ts, char *buf, size_t len);

/*
 * A table of items keyed by a short string (a server's "ip:port"), in the
 * order of first sight, at most max of them.  An item is t->size bytes
 * and starts with a struct iw_ev_item.
 */
#define IW_EV_BUCKETS	1024

struct iw_ev_item {
	struct iw_ev_item	*next;
	char			 key[64];
};

struct iw_ev_table {
	struct iw_ev_item	*buckets[IW_EV_BUCKETS];
	struct iw_ev_item	**items;	/* in order of first sight */
	int			 n, max;
	size_t			 size;
};

/* The item for key, created zeroed if new; NULL when the table is full
 * (or memory is out). */
void *iw_ev_table_get(struct iw_ev_table *t, const char *key);

/* Frees the items; the table is empty again. */
void iw_ev_table_free(struct iw_ev_table *t);

#endif /* IW_EVENT_READ_H */
