/* SPDX-License-Identifier: ISC */
/*
 * event.h - building and writing NDJSON events (EVE's shape) with json-c.
 *
 * Every string that carries bytes from the wire goes through iw_json_bytes(),
 * which makes it valid UTF-8 (invalid sequences become U+FFFD).  Times are
 * packet times.
 */
#ifndef IW_EVENT_H
#define IW_EVENT_H

#include "iw.h"

struct json_object;
struct iw_flowref;

/*
 * A new event with the common fields: timestamp, flow_id, event_type,
 * src_ip/src_port (the client), dest_ip/dest_port, proto, community_id.
 * flow may be NULL (stats).
 */
struct json_object *iw_event_new(const char *event_type, iw_time ts,
    const struct iw_flowref *flow);

/* Serialise as one line, write it to every output, free it. */
void iw_event_emit(struct json_object *event);

/* iw_event_emit() in its two halves, for event_batch.c: the line (the
 * object returned holds it), then the line written to every output. */
struct json_object *iw_event_serialise(struct json_object *event,
    const char **line, size_t *len);
void iw_event_write_line(const char *line, size_t len);

/*
 * --format ecs: the same event in the Elastic Common Schema (mapping in
 * schema/ECS.md).  Takes the EVE-shaped event, returns the new one (NULL
 * when out of memory).
 */
struct json_object *iw_ecs_event(struct json_object *eve);

/*
 * The anomaly object of an anomaly event in Suricata's terms (type,
 * event, layer, app_proto) with our kind beside them, from our type
 * (stream, applayer), kind and layer (tcp, imap, tls): analyzer/anomaly_eve.c.
 */
struct json_object *iw_anomaly_eve(const char *type, const char *event,
    const char *layer);

/* With IW_EVENT_LOG=DIR in the environment (make test), the line is also
 * appended to DIR/<program>-<pid>.ndjson; otherwise nothing. */
void iw_event_log(const char *line, size_t len);

/* A JSON string from untrusted bytes, made valid UTF-8. */
struct json_object *iw_json_bytes(const void *buf, size_t len);

/* The same for a NUL-terminated string. */
struct json_object *iw_json_str(const char *s);

/*
 * A username as --usernames says: the name itself, "sha256:<hex>" keyed
 * with the run's salt, or NULL (omit: the caller leaves the field out).
 */
struct json_object *iw_json_username(const void *buf, size_t len);

/* "2026-11-29T02:20:22.102203+0000", as EVE writes timestamps. */
#define IW_TSLEN 96
const char *iw_format_ts(iw_time, char out[IW_TSLEN]);

/* "2028-11-28T02:19:48Z" for certificate dates and the like. */
const char *iw_format_date(int64_t epoch_sec, char out[IW_TSLEN]);

/* Bytes made valid UTF-8 into out (at most outsz-1 bytes, NUL-terminated);
 * returns the length written.  Exposed for tests. */
size_t iw_utf8_sanitize(const uint8_t *in, size_t len, char *out,
    size_t outsz);

#endif /* IW_EVENT_H */
