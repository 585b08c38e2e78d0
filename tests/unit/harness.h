/* SPDX-License-Identifier: ISC */
/*
 * harness.h - unit tests of dissectors on byte strings.
 *
 * A test opens a session exactly as the reassembler would, feeds it bytes
 * (each call one "segment", in capture order), ends it, and looks at the
 * events it wrote.  Results are printed as TAP-like lines ("ok - ...",
 * "not ok - ...") that tests/run.sh counts.
 */
#ifndef IW_TEST_HARNESS_H
#define IW_TEST_HARNESS_H

#include <json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iw.h"
#include "session.h"

/* ---- assertions ---- */

extern int th_failures;

/* Prints "ok - name" or "not ok - name (file:line)"; returns cond. */
bool th_check(bool cond, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define CHECK(cond, ...) th_check((cond), __FILE__, __LINE__, __VA_ARGS__)

/* Exit status for main(): 0 when every check passed. */
int th_done(void);

/* ---- sessions on byte strings ---- */

struct th {
	struct iw_flowref	 flow;
	struct iw_session	*s;
	iw_time			 ts;
	char			 path[64];	/* events file */
};

/* Starts capturing events to a temporary file (call once, first). */
void th_init(void);

/* A session between client:cport and server:sport, time starting at ts. */
void th_open(struct th *, const char *client, uint16_t cport,
    const char *server, uint16_t sport);

/* Delivers bytes in a direction (the clock steps 1 ms each call). */
void th_send(struct th *, enum iw_dir, const void *buf, size_t len);
void th_sends(struct th *, enum iw_dir, const char *s);	/* NUL-terminated */
void th_gap(struct th *, enum iw_dir, uint64_t len);
void th_end(struct th *, enum iw_end_reason);	/* ends and frees */

/* Every event written since th_init (or since th_clear), as an array;
 * the caller puts it. */
struct json_object *th_events(void);
void th_clear(void);

/* Events of a type ("alert", "imap", "tls", "anomaly"); counts. */
int th_count(struct json_object *events, const char *event_type);
/* The alert with this signature, or NULL. */
struct json_object *th_alert(struct json_object *events, const char *sig);
/* The first event of this type, or NULL. */
struct json_object *th_first(struct json_object *events, const char *type);
/* A value by dotted path ("imap.starttls.status"), or NULL. */
struct json_object *th_get(struct json_object *obj, const char *path);
const char *th_str(struct json_object *obj, const char *path);

/* True if the raw text of every event written contains needle. */
bool th_output_contains(const char *needle);

#endif /* IW_TEST_HARNESS_H */
