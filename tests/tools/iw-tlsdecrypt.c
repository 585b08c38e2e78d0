/* SPDX-License-Identifier: ISC */
/*
 * iw-tlsdecrypt - a test tool: imapwatch's engine (capture reading, flow
 * table, TCP reassembly) with a dissector that cuts each direction into
 * TLS records (after the cleartext IMAP lines of a STARTTLS session) and
 * gives them to the decryption core (dissectors/tls_decrypt.c) with keys
 * from key log files (dissectors/tls_keylog.c).  For each TCP connection
 * it prints one JSON line: endpoints, the negotiated version and suite,
 * each direction's decryption state, counts, and the decrypted
 * application data of each direction (base64), which
 * tests/t_keylog_oracle.py compares with tshark's "follow,tls,raw", and
 * the decrypted handshake bytes (TLS 1.3: the certificate among them).
 *
 * usage: iw-tlsdecrypt [-H HOLD_BYTES] -k KEYLOG [-k KEYLOG ...] -r FILE
 *
 * Test-only: it prints decrypted payload (the test accounts' passwords
 * among it), so it is never part of imapwatch.  It never prints a key.
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
#include "output.h"
#include "session.h"
#include "tls_decrypt.h"
#include "tls_keys.h"

#define PLAIN_MAX	(64u << 20)
#define HS_KEEP		(256u << 10)	/* decrypted handshake bytes kept */
#define LINE_MAX_	8192	/* a cleartext IMAP line before TLS */

struct conn {
	struct conn		*next;
	struct iw_endpoints	 ep;
	struct iw_tlsd		*tlsd;
	bool			 tls[2];	/* records from here on */
	bool			 broken[2];	/* not TLS after all */
	uint8_t			*plain[2];
	size_t			 len[2], cap[2];
	uint64_t		 records[2];	/* TLS records seen */
	uint64_t		 alerts[2];	/* decrypted alerts */
	uint8_t			*hs[2];		/* decrypted handshake bytes */
	size_t			 hs_len[2];
	bool			 truncated;
};

static struct conn *conns, **conns_tail = &conns;
static struct iw_keylog *keylog;
static size_t hold_max = 1 << 20;

extern const struct iw_dissector iw_imap_dissector, iw_tls_dissector;

static bool
keep(struct conn *c, enum iw_dir dir, const uint8_t *p, size_t n)
{
	size_t ncap;
	uint8_t *nb;

	if (n == 0)		/* TLS 1.0's empty records before data */
		return true;
	if (c->len[dir] + n > PLAIN_MAX) {
		c->truncated = true;
		return false;
	}
	if (c->len[dir] + n > c->cap[dir]) {
		ncap = c->cap[dir] ? c->cap[dir] : 4096;
		while (ncap < c->len[dir] + n)
			ncap *= 2;
		if ((nb = realloc(c->plain[dir], ncap)) == NULL) {
			c->truncated = true;
			return false;
		}
		c->plain[dir] = nb;
		c->cap[dir] = ncap;
	}
	memcpy(c->plain[dir] + c->len[dir], p, n);
	c->len[dir] += n;
	return true;
}

static void
on_plain(void *arg, enum iw_dir dir, uint8_t type, const uint8_t *p,
    size_t n)
{
	struct conn *c = arg;

	if (type == 23)
		(void)keep(c, dir, p, n);
	else if (type == 21)
		c->alerts[dir]++;
	else if (type == 22 && c->hs_len[dir] + n <= HS_KEEP) {
		if (c->hs[dir] == NULL && (c->hs[dir] = malloc(HS_KEEP)) == NULL)
			return;
		memcpy(c->hs[dir] + c->hs_len[dir], p, n);
		c->hs_len[dir] += n;
	}
}

static bool
on_keys(void *arg, const uint8_t *random, struct iw_tls_secrets *s)
{
	return iw_keylog_lookup(keylog, random, s);
}

static const struct iw_tlsd_ops ops = { on_plain, on_keys, NULL };

/* As iw-streams: every connection, roles turned round if content says. */
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
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->ep = iw_session_flow(s)->ep;
	if ((c->tlsd = iw_tlsd_new(&ops, c, hold_max)) == NULL) {
		free(c);
		return NULL;
	}
	*conns_tail = c;
	conns_tail = &c->next;
	return c;
}

/* Cleartext IMAP lines before the TLS hand-off: a TLS record starts with
 * a handshake byte no IMAP line begins with. */
static size_t
skip_lines(struct conn *c, enum iw_dir dir, const uint8_t *b, size_t n)
{
	const uint8_t *nl;
	size_t off = 0;

	while (off < n) {
		if (b[off] == 22) {
			c->tls[dir] = true;
			break;
		}
		if ((nl = memchr(b + off, '\n', n - off)) == NULL)
			return n - off > LINE_MAX_ ? n : off;
		off = (size_t)(nl - b) + 1;
	}
	return off;
}

static size_t
rec_data(void *st, enum iw_dir dir, const uint8_t *b, size_t n)
{
	struct conn *c = st;
	size_t off = 0, rl;

	if (c->broken[dir])
		return n;
	if (!c->tls[dir]) {
		off = skip_lines(c, dir, b, n);
		if (!c->tls[dir])
			return off;
	}
	while (n - off >= 5) {
		if (b[off] < 20 || b[off] > 24 || b[off + 1] != 3) {
			c->broken[dir] = true;
			iw_tlsd_gap(c->tlsd, dir);
			return n;
		}
		rl = (size_t)b[off + 3] << 8 | b[off + 4];
		if (n - off < 5 + rl)
			break;
		c->records[dir]++;
		(void)iw_tlsd_record(c->tlsd, dir, b[off],
		    (uint16_t)(b[off + 1] << 8 | b[off + 2]), b + off + 5, rl);
		off += 5 + rl;
	}
	return off;
}

static void
rec_gap(void *st, enum iw_dir dir, uint64_t n)
{
	struct conn *c = st;

	c->broken[dir] = true;
	iw_tlsd_gap(c->tlsd, dir);
}

/* The connection is over: keys that did not come will not (a live
 * sensor gives up when its hold times out). */
static void
rec_end(void *st, enum iw_end_reason why)
{
	struct conn *c = st;

	iw_tlsd_give_up(c->tlsd);
}

static void
rec_report(void *st, struct json_object *ev)
{
}

static void
rec_destroy(void *st)
{
	/* kept until the end of the run, then printed */
}

static const struct iw_dissector decryptor = {
	"tls-decrypt", rec_probe, rec_create, rec_data, rec_gap, rec_end,
	rec_report, rec_destroy,
};

/* Replaces the library's registry. */
const struct iw_dissector *const iw_dissectors[] = { &decryptor, NULL };

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

static struct json_object *
dir_json(const struct conn *c, enum iw_dir d)
{
	const struct iw_tlsd_counts *k = iw_tlsd_counts(c->tlsd);
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "state", json_object_new_string(
	    iw_tlsd_state_name(iw_tlsd_state(c->tlsd, d))));
	json_object_object_add(o, "records",
	    json_object_new_uint64(c->records[d]));
	json_object_object_add(o, "decrypted",
	    json_object_new_uint64(k->records[d]));
	json_object_object_add(o, "alerts", json_object_new_uint64(
	    c->alerts[d]));
	json_object_object_add(o, "handshake_b64", b64(c->hs[d],
	    c->hs_len[d]));
	json_object_object_add(o, "key_updates",
	    json_object_new_uint64(k->key_updates[d]));
	json_object_object_add(o, "data_b64", b64(c->plain[d], c->len[d]));
	return o;
}

static void
print_conn(const struct conn *c)
{
	const struct iw_tlsd_counts *k = iw_tlsd_counts(c->tlsd);
	struct json_object *o = json_object_new_object();
	char a[IW_ADDRSTRLEN];

	json_object_object_add(o, "client",
	    json_object_new_string(iw_addr_str(&c->ep.client, a)));
	json_object_object_add(o, "cport", json_object_new_int(c->ep.cport));
	json_object_object_add(o, "server",
	    json_object_new_string(iw_addr_str(&c->ep.server, a)));
	json_object_object_add(o, "sport", json_object_new_int(c->ep.sport));
	json_object_object_add(o, "version",
	    json_object_new_int(iw_tlsd_version(c->tlsd)));
	json_object_object_add(o, "suite",
	    json_object_new_int(iw_tlsd_suite(c->tlsd)));
	json_object_object_add(o, "early_records",
	    json_object_new_uint64(k->early_records));
	json_object_object_add(o, "early_skipped",
	    json_object_new_uint64(k->early_skipped));
	json_object_object_add(o, "auth_failures",
	    json_object_new_uint64(k->auth_failures));
	json_object_object_add(o, "truncated",
	    json_object_new_boolean(c->truncated));
	json_object_object_add(o, "toserver", dir_json(c, IW_TO_SERVER));
	json_object_object_add(o, "toclient", dir_json(c, IW_TO_CLIENT));
	printf("%s\n", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static void
note(void *arg, const char *msg)
{
	fprintf(stderr, "iw-tlsdecrypt: %s\n", msg);
}

int
main(int argc, char **argv)
{
	struct iw_source *src;
	struct iw_rawpkt pkt;
	struct conn *c, *next;
	char err[1024], tmp[] = "/tmp/iw-tlsdecrypt-XXXXXX";
	const char *file = NULL;
	int opt, fd, nk = 0;

	iw_config_defaults(&iw_cfg);
	if ((keylog = iw_keylog_new(0)) == NULL)
		return 1;
	while ((opt = getopt(argc, argv, "r:k:H:")) != -1) {
		if (opt == 'r')
			file = optarg;
		else if (opt == 'k') {
			if (iw_keylog_add_file(keylog, optarg, err,
			    sizeof(err)) != 0) {
				fprintf(stderr, "iw-tlsdecrypt: %s\n", err);
				return 1;
			}
			nk++;
		} else if (opt == 'H')
			hold_max = strtoul(optarg, NULL, 10);
		else
			return 2;
	}
	if (file == NULL || nk == 0) {
		fprintf(stderr, "usage: iw-tlsdecrypt [-H hold] -k KEYLOG "
		    "-r FILE\n");
		return 2;
	}
	if (iw_keylog_poll(keylog, note, NULL) < 0)
		return 1;
	if ((src = iw_source_open_file(file, err, sizeof(err))) == NULL) {
		fprintf(stderr, "iw-tlsdecrypt: %s\n", err);
		return 1;
	}
	/* the engine's own events are not this tool's output */
	fd = mkstemp(tmp);
	if (fd < 0 || iw_output_add(tmp, err, sizeof(err)) != 0)
		return 1;
	close(fd);
	iw_engine_init();
	while (iw_source_next(src, &pkt) == IW_NEXT_PACKET)
		iw_engine_packet(&pkt);
	iw_engine_finish();
	iw_output_close();
	iw_source_close(src);
	unlink(tmp);
	for (c = conns; c != NULL; c = next) {
		next = c->next;
		print_conn(c);
		iw_tlsd_free(c->tlsd);
		free(c->plain[0]);
		free(c->plain[1]);
		free(c->hs[0]);
		free(c->hs[1]);
		free(c);
	}
	iw_keylog_free(keylog);
	return 0;
}
