/* SPDX-License-Identifier: ISC */
/*
 * harness.c - see harness.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "correlate.h"
#include "harness.h"
#include "output.h"

int th_failures;
static char events_path[64];
static iw_time n_opened;

bool
th_check(bool cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", cond ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (!cond) {
		printf(" (%s:%d)", file, line);
		th_failures++;
	}
	printf("\n");
	fflush(stdout);
	return cond;
}

int
th_done(void)
{
	iw_output_close();
	if (events_path[0] != '\0')
		unlink(events_path);
	return th_failures == 0 ? 0 : 1;
}

void
th_init(void)
{
	char err[256];
	int fd;

	if (iw_cfg.n_imaps_ports == 0)
		iw_config_defaults(&iw_cfg);
	snprintf(events_path, sizeof(events_path), "/tmp/iw-unit-XXXXXX");
	fd = mkstemp(events_path);
	if (fd < 0) {
		perror("mkstemp");
		exit(2);
	}
	close(fd);
	if (iw_output_add(events_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		exit(2);
	}
}

void
th_open(struct th *t, const char *client, uint16_t cport, const char *server,
    uint16_t sport)
{
	struct iw_endpoints ep;

	memset(t, 0, sizeof(*t));
	memset(&ep, 0, sizeof(ep));
	if (iw_addr_parse(client, &ep.client) != 0 ||
	    iw_addr_parse(server, &ep.server) != 0) {
		fprintf(stderr, "bad address in test\n");
		exit(2);
	}
	ep.cport = cport;
	ep.sport = sport;
	t->ts = 1764382822LL * IW_USEC;	/* 2025-11-29T02:20:22Z */
	/*
	 * Each session is its own connection: a flow_id of its own (the
	 * correlator tells sessions apart by it), as a first packet a
	 * microsecond later would give; the events' times stay.
	 */
	iw_flowref_init(&t->flow, &ep, t->ts + n_opened++);
	t->s = iw_session_new(&t->flow);
	if (t->s == NULL)
		exit(2);
}

void
th_send(struct th *t, enum iw_dir dir, const void *buf, size_t len)
{
	t->ts += 1000;
	iw_session_data(t->s, dir, buf, len, t->ts);
}

void
th_sends(struct th *t, enum iw_dir dir, const char *s)
{
	th_send(t, dir, s, strlen(s));
}

void
th_gap(struct th *t, enum iw_dir dir, uint64_t len)
{
	t->ts += 1000;
	iw_session_gap(t->s, dir, len, t->ts);
}

void
th_end(struct th *t, enum iw_end_reason why)
{
	t->ts += 1000;
	iw_session_end(t->s, why, t->ts, NULL);
	iw_session_free(t->s);
	t->s = NULL;
}

static char *
read_events_file(void)
{
	FILE *fp;
	char *buf;
	long n;

	iw_corr_flush();	/* no engine here: no watermark moves */
	iw_output_reopen();	/* flushes what was written */
	fp = fopen(events_path, "r");
	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf == NULL) {
		fclose(fp);
		return NULL;
	}
	n = (long)fread(buf, 1, (size_t)n, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

struct json_object *
th_events(void)
{
	struct json_object *arr = json_object_new_array(), *ev;
	char *text = read_events_file(), *line, *save = NULL;

	if (text == NULL)
		return arr;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		ev = json_tokener_parse(line);
		if (ev == NULL) {
			/* only a failure prints: one check per event would
			 * swamp the counts */
			CHECK(false, "event line is valid JSON: %.60s", line);
			continue;
		}
		json_object_array_add(arr, ev);
	}
	free(text);
	return arr;
}

void
th_clear(void)
{
	FILE *fp;

	iw_corr_flush();
	iw_output_reopen();
	fp = fopen(events_path, "w");
	if (fp != NULL)
		fclose(fp);
	iw_output_reopen();
}

bool
th_output_contains(const char *needle)
{
	char *text = read_events_file();
	bool found;

	if (text == NULL)
		return false;
	found = strstr(text, needle) != NULL;
	free(text);
	return found;
}

int
th_count(struct json_object *events, const char *type)
{
	size_t i, n = json_object_array_length(events);
	int count = 0;
	const char *t;

	for (i = 0; i < n; i++) {
		t = th_str(json_object_array_get_idx(events, i), "event_type");
		if (t != NULL && strcmp(t, type) == 0)
			count++;
	}
	return count;
}

struct json_object *
th_alert(struct json_object *events, const char *sig)
{
	size_t i, n = json_object_array_length(events);
	struct json_object *ev;
	const char *s;

	for (i = 0; i < n; i++) {
		ev = json_object_array_get_idx(events, i);
		s = th_str(ev, "alert.signature");
		if (s != NULL && strcmp(s, sig) == 0)
			return ev;
	}
	return NULL;
}

struct json_object *
th_first(struct json_object *events, const char *type)
{
	size_t i, n = json_object_array_length(events);
	struct json_object *ev;
	const char *t;

	for (i = 0; i < n; i++) {
		ev = json_object_array_get_idx(events, i);
		t = th_str(ev, "event_type");
		if (t != NULL && strcmp(t, type) == 0)
			return ev;
	}
	return NULL;
}

struct json_object *
th_get(struct json_object *obj, const char *path)
{
	char key[128];
	const char *dot;
	size_t n;

	while (obj != NULL && *path != '\0') {
		dot = strchr(path, '.');
		n = dot ? (size_t)(dot - path) : strlen(path);
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		if (!json_object_object_get_ex(obj, key, &obj))
			return NULL;
		path += n + (dot ? 1 : 0);
	}
	return obj;
}

const char *
th_str(struct json_object *obj, const char *path)
{
	struct json_object *v = th_get(obj, path);

	return v ? json_object_get_string(v) : NULL;
}
