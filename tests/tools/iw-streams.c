/* SPDX-License-Identifier: ISC */
/*
 * iw-streams - a test tool: the engine with a dissector that records every
 * byte it is given.  For each TCP connection it prints one JSON line with
 * both directions' reassembled bytes (base64), the gaps it was told of and
 * the flow's packet counts, then the run's stats.  The reassembly tests
 * compare these with what a generator wrote and with tshark's "follow".
 *
 * usage: iw-streams [--closed-timeout S] -r FILE
 *
 * Test-only: it prints raw payload, so it is never part of imapwatch.
 */
#include <json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "config.h"
#include "dissector.h"
#include "engine.h"
#include "event.h"
#include "output.h"
#include "session.h"
#include "stats.h"

#define REC_MAX (64u << 20)

struct rec {
	struct rec		*next;
	uint64_t		 flow_id;
	struct iw_endpoints	 ep;
	uint8_t			*buf[2];
	size_t			 len[2], cap[2];
	uint64_t		 offset[2];	/* stream offset incl. gaps */
	bool			 truncated;
	struct json_object	*gaps;
	enum iw_end_reason	 why;
	bool			 ended;
};

static struct rec *recs, **recs_tail = &recs;

extern const struct iw_dissector iw_imap_dissector, iw_tls_dissector;

/*
 * Records everything; the real probes are asked only whether the content
 * shows the roles the other way round (a connection picked up mid-stream),
 * so the connections listed are those imapwatch reports.
 */
static enum iw_probe
rec_probe(enum iw_dir dir, const uint8_t *b, size_t n,
    const struct iw_endpoints *ep)
{
	if (iw_imap_dissector.probe(dir, b, n, ep) == IW_PROBE_MATCH_REVERSED ||
	    iw_tls_dissector.probe(dir, b, n, ep) == IW_PROBE_MATCH_REVERSED)
		return IW_PROBE_MATCH_REVERSED;
	return IW_PROBE_MATCH;
}

static void *
rec_create(struct iw_session *s)
{
	struct rec *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->flow_id = iw_session_flow(s)->flow_id;
	r->ep = iw_session_flow(s)->ep;
	r->gaps = json_object_new_array();
	*recs_tail = r;
	recs_tail = &r->next;
	return r;
}

static size_t
rec_data(void *st, enum iw_dir dir, const uint8_t *b, size_t n)
{
	struct rec *r = st;
	size_t ncap;
	uint8_t *nb;

	r->offset[dir] += n;
	if (r->len[dir] + n > REC_MAX) {
		r->truncated = true;
		return n;
	}
	if (r->len[dir] + n > r->cap[dir]) {
		ncap = r->cap[dir] ? r->cap[dir] : 4096;
		while (ncap < r->len[dir] + n)
			ncap *= 2;
		nb = realloc(r->buf[dir], ncap);
		if (nb == NULL) {
			r->truncated = true;
			return n;
		}
		r->buf[dir] = nb;
		r->cap[dir] = ncap;
	}
	memcpy(r->buf[dir] + r->len[dir], b, n);
	r->len[dir] += n;
	return n;
}

static void
rec_gap(void *st, enum iw_dir dir, uint64_t n)
{
	struct rec *r = st;
	struct json_object *g = json_object_new_object();

	json_object_object_add(g, "dir", json_object_new_string(
	    dir == IW_TO_SERVER ? "toserver" : "toclient"));
	json_object_object_add(g, "at", json_object_new_uint64(r->len[dir]));
	json_object_object_add(g, "len", json_object_new_uint64(n));
	json_object_array_add(r->gaps, g);
	r->offset[dir] += n;
}

static void
rec_end(void *st, enum iw_end_reason why)
{
	struct rec *r = st;

	r->why = why;
	r->ended = true;
}

static void
rec_report(void *st, struct json_object *ev)
{
}

static void
rec_destroy(void *st)
{
	/* kept until the end of the run: printed with the flow's counts */
}

static const struct iw_dissector recorder = {
	"recorder", rec_probe, rec_create, rec_data, rec_gap, rec_end,
	rec_report, rec_destroy,
};

/* Replaces the library's registry: only the recorder is linked in. */
const struct iw_dissector *const iw_dissectors[] = { &recorder, NULL };

static struct json_object *
b64(const uint8_t *p, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	struct json_object *j;

	if (out == NULL)
		return json_object_new_string("");
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	j = json_object_new_string(out);
	free(out);
	return j;
}

/* The flow events the engine wrote, by flow id. */
static struct json_object *
read_flows(const char *path, struct json_object **stats)
{
	struct json_object *byid = json_object_new_object(), *ev, *v;
	char line[1 << 16], key[32];
	FILE *fp = fopen(path, "r");

	*stats = NULL;
	if (fp == NULL)
		return byid;
	while (fgets(line, sizeof(line), fp) != NULL) {
		ev = json_tokener_parse(line);
		if (ev == NULL)
			continue;
		if (json_object_object_get_ex(ev, "stats", &v)) {
			*stats = json_object_get(v);
			json_object_put(ev);
			continue;
		}
		if (!json_object_object_get_ex(ev, "flow_id", &v)) {
			json_object_put(ev);
			continue;
		}
		snprintf(key, sizeof(key), "%llu",
		    (unsigned long long)json_object_get_uint64(v));
		json_object_object_add(byid, key, ev);
	}
	fclose(fp);
	return byid;
}

static struct json_object *
endpoint_fields(struct json_object *o, const struct iw_endpoints *ep)
{
	char a[IW_ADDRSTRLEN];

	json_object_object_add(o, "client",
	    json_object_new_string(iw_addr_str(&ep->client, a)));
	json_object_object_add(o, "cport", json_object_new_int(ep->cport));
	json_object_object_add(o, "server",
	    json_object_new_string(iw_addr_str(&ep->server, a)));
	json_object_object_add(o, "sport", json_object_new_int(ep->sport));
	return o;
}

static uint64_t
flow_packets(struct json_object *fl)
{
	struct json_object *f, *v;
	uint64_t pk = 0;

	if (!json_object_object_get_ex(fl, "flow", &f))
		return 0;
	if (json_object_object_get_ex(f, "pkts_toserver", &v))
		pk += json_object_get_uint64(v);
	if (json_object_object_get_ex(f, "pkts_toclient", &v))
		pk += json_object_get_uint64(v);
	return pk;
}

static void
print_line(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

/* A flow the recorder saw bytes of. */
static void
print_rec(struct rec *r, struct json_object *fl)
{
	struct json_object *o = endpoint_fields(json_object_new_object(),
	    &r->ep);

	json_object_object_add(o, "packets",
	    json_object_new_uint64(fl ? flow_packets(fl) : 0));
	json_object_object_add(o, "toserver_b64",
	    b64(r->buf[0], r->len[0]));
	json_object_object_add(o, "toclient_b64",
	    b64(r->buf[1], r->len[1]));
	json_object_object_add(o, "gaps", json_object_get(r->gaps));
	json_object_object_add(o, "end", json_object_new_string(
	    r->ended ? iw_end_reason_name(r->why) : "none"));
	json_object_object_add(o, "truncated",
	    json_object_new_boolean(r->truncated));
	print_line(o);
}

/* Gaps of a flow no dissector saw: all at offset 0, as no byte came. */
static struct json_object *
bare_gaps(struct json_object *fl)
{
	struct json_object *gaps = json_object_new_array(), *f, *v, *g;
	static const char *const keys[2][2] = {
		{ "gap_bytes_toserver", "toserver" },
		{ "gap_bytes_toclient", "toclient" },
	};
	int i;

	if (!json_object_object_get_ex(fl, "flow", &f))
		return gaps;
	for (i = 0; i < 2; i++) {
		if (!json_object_object_get_ex(f, keys[i][0], &v) ||
		    json_object_get_uint64(v) == 0)
			continue;
		g = json_object_new_object();
		json_object_object_add(g, "dir",
		    json_object_new_string(keys[i][1]));
		json_object_object_add(g, "at", json_object_new_int(0));
		json_object_object_add(g, "len", json_object_get(v));
		json_object_array_add(gaps, g);
	}
	return gaps;
}

/* A flow without payload: only its flow event tells of it. */
static void
print_bare_flow(struct json_object *fl)
{
	struct json_object *o = json_object_new_object(), *v;
	static const char *const keys[][2] = {
		{ "src_ip", "client" }, { "src_port", "cport" },
		{ "dest_ip", "server" }, { "dest_port", "sport" },
	};
	size_t i;

	for (i = 0; i < 4; i++)
		if (json_object_object_get_ex(fl, keys[i][0], &v))
			json_object_object_add(o, keys[i][1],
			    json_object_get(v));
	json_object_object_add(o, "packets",
	    json_object_new_uint64(flow_packets(fl)));
	json_object_object_add(o, "toserver_b64", json_object_new_string(""));
	json_object_object_add(o, "toclient_b64", json_object_new_string(""));
	json_object_object_add(o, "gaps", bare_gaps(fl));
	json_object_object_add(o, "end", json_object_new_string("none"));
	json_object_object_add(o, "truncated", json_object_new_boolean(0));
	print_line(o);
}

/* One line a flow, in the order the flows ended. */
static void
print_all(struct json_object *flows)
{
	struct rec *r;
	char key[32];

	json_object_object_foreach(flows, id, fl) {
		for (r = recs; r != NULL; r = r->next) {
			snprintf(key, sizeof(key), "%llu",
			    (unsigned long long)r->flow_id);
			if (strcmp(key, id) == 0)
				break;
		}
		if (r != NULL) {
			print_rec(r, fl);
			r->flow_id = 0;		/* printed */
		} else
			print_bare_flow(fl);
	}
	for (r = recs; r != NULL; r = r->next)
		if (r->flow_id != 0)
			print_rec(r, NULL);
}

int
main(int argc, char **argv)
{
	struct iw_source *src;
	struct iw_rawpkt pkt;
	struct json_object *flows, *stats, *line;
	struct rec *r, *next;
	char err[1024], tmp[] = "/tmp/iw-streams-XXXXXX";
	const char *file = NULL;
	enum iw_next rc;
	int c, fd;

	iw_config_defaults(&iw_cfg);
	while ((c = getopt(argc, argv, "r:c:")) != -1) {
		if (c == 'r')
			file = optarg;
		else if (c == 'c')
			iw_cfg.tcp_closed_timeout = atoi(optarg);
		else
			return 2;
	}
	if (file == NULL) {
		fprintf(stderr, "usage: iw-streams [-c closed-timeout] -r FILE\n");
		return 2;
	}
	src = iw_source_open_file(file, err, sizeof(err));
	if (src == NULL) {
		fprintf(stderr, "iw-streams: %s\n", err);
		return 1;
	}
	fd = mkstemp(tmp);
	if (fd < 0 || iw_output_add(tmp, err, sizeof(err)) != 0)
		return 1;
	close(fd);
	iw_cfg.flows = true;
	iw_engine_init();
	while ((rc = iw_source_next(src, &pkt)) == IW_NEXT_PACKET)
		iw_engine_packet(&pkt);
	if (rc == IW_NEXT_ERROR) {
		iw_stats.input_cut_short = true;
		snprintf(iw_stats.input_error, sizeof(iw_stats.input_error),
		    "%s", iw_source_error(src));
	}
	iw_engine_finish();
	iw_stats_emit(iw_engine_now());
	iw_output_close();
	iw_source_close(src);
	flows = read_flows(tmp, &stats);
	unlink(tmp);
	print_all(flows);
	for (r = recs; r != NULL; r = next) {
		next = r->next;
		json_object_put(r->gaps);
		free(r->buf[0]);
		free(r->buf[1]);
		free(r);
	}
	line = json_object_new_object();
	json_object_object_add(line, "stats", stats);
	json_object_put(flows);
	printf("%s\n", json_object_to_json_string_ext(line,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(line);
	return 0;
}
