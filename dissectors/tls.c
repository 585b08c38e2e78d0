/* SPDX-License-Identifier: ISC */
/*
 * tls.c - the TLS dissector: record layer (TLS and SSLv2), the passive
 * completion rule, NULL-cipher plaintext, and the include/tls.h API that
 * both the registry (implicit TLS, --all-tls) and the IMAP dissector
 * (STARTTLS) use.
 *
 * Records are read whole from the engine's held bytes (a record is at most
 * TLS_RECORD_MAX, well under IW_PENDING_MAX); records whose content we do
 * not need (encrypted ones) are stepped over with iw_session_skip() so they
 * are never copied.  Once both sides are past the handshake there is
 * nothing more to learn but size and end: both directions are bypassed.
 */
#include <json.h>
#include <stdlib.h>
#include <string.h>

#include "ciphers.h"
#include "config.h"
#include "dissector.h"
#include "event.h"
#include "flowmem.h"
#include "imap.h"
#include "session.h"
#include "stats.h"
#include "tls_decrypt.h"
#include "tls_int.h"
#include "tls_keys.h"

/* Record content types (RFC 8446 5.1). */
#define CT_CCS		20
#define CT_ALERT	21
#define CT_HANDSHAKE	22
#define CT_APPDATA	23
#define CT_HEARTBEAT	24

/* --keylog: records a session holds while its keys are not logged yet
 * (live: a client writes them after its handshake), and how long in
 * packet time; the bytes are charged to --flow-memory as well. */
#define KEYLOG_HOLD_MAX		(256u << 10)
#define KEYLOG_HOLD_USEC	(30 * IW_USEC)

static const char *const anomaly_names[TA_COUNT] = {
	[TA_RECORD] = "invalid_record",
	[TA_HANDSHAKE] = "invalid_handshake",
	[TA_TOO_LONG] = "handshake_message_too_long",
	[TA_CLIENT_HELLO] = "invalid_client_hello",
	[TA_SERVER_HELLO] = "invalid_server_hello",
	[TA_CERTIFICATE] = "invalid_certificate",
	[TA_KEY_EXCHANGE] = "invalid_server_key_exchange",
	[TA_ALERT] = "invalid_alert",
	[TA_SSLV2] = "invalid_sslv2_message",
	[TA_PLAINTEXT_FULL] = "null_cipher_plaintext_overflow",
	[TA_BUDGET] = "handshake_memory_budget",
	[TA_CHAIN_TOO_LONG] = "certificate_chain_too_long",
	[TA_DECRYPT_AUTH] = "decryption_failed",
	[TA_DECRYPT_GAP] = "decryption_gap",
	[TA_DECRYPT_HOLD] = "decryption_hold_dropped",
};

void
tls_anomaly(struct iw_tls *t, enum tls_anomaly a)
{
	if (t->anomalies & (1u << a))
		return;
	t->anomalies |= 1u << a;
	/* a TLS stream we are not reporting stays quiet */
	if (!t->is_imap && !iw_cfg.all_tls)
		return;
	iw_anomaly(t->s, "applayer", anomaly_names[a], "tls");
}

bool
tls13(const struct iw_tls *t)
{
	return t->version_set && iw_tls_version_canon(t->version) == 0x0304;
}

/*
 * IMAP or some other TLS?  Implicit TLS on an IMAPS port and STARTTLS
 * were decided before any byte; otherwise ALPN "imap" in the ClientHello
 * makes it IMAPS.  A TLS stream that is not IMAP is dropped at once unless
 * --all-tls asks for it.
 */
void
tls_decide_app(struct iw_tls *t)
{
	if (t->decided)
		return;
	t->decided = true;
	if (t->origin != IW_TLS_OTHER)
		return;
	if (t->alpn_imap) {
		t->is_imap = true;
		iw_session_set_app(t->s, "imap");
		return;
	}
	iw_session_set_app(t->s, "tls");
	if (!iw_cfg.all_tls) {
		t->dropped = true;
		iw_session_drop(t->s);
	}
}

static const struct iw_tlsd_ops decrypt_ops;

struct iw_tls *
iw_tls_new(struct iw_session *s, enum iw_tls_origin origin)
{
	struct iw_tls *t = iw_flowmem_calloc(sizeof(*t));

	if (t == NULL)
		return NULL;
	/* only with --keylog: without it nothing is allocated */
	if (iw_keylog_run() != NULL &&
	    (t->tlsd = iw_tlsd_new(&decrypt_ops, t, KEYLOG_HOLD_MAX)) == NULL) {
		iw_flowmem_free(t);
		return NULL;
	}
	t->s = s;
	t->origin = origin;
	t->kx_group = -1;
	t->is_imap = origin != IW_TLS_OTHER;
	if (origin == IW_TLS_IMPLICIT)
		iw_session_set_app(s, "imap");
	else if (origin == IW_TLS_OTHER)
		iw_session_set_app(s, "tls");
	return t;
}

static void
dir_free(struct tls_dir *d)
{
	tls_hs_free(d);
	iw_flowmem_free(d->plain);
	d->plain = NULL;
	d->plain_len = d->plain_cap = 0;
}

void
iw_tls_free(struct iw_tls *t)
{
	if (t == NULL)
		return;
	dir_free(&t->d[0]);
	dir_free(&t->d[1]);
	json_object_put(t->alpn_offered);
	json_object_put(t->versions_offered);
	json_object_put(t->weak_offered);
	json_object_put(t->groups_offered);
	json_object_put(t->leaf_json);
	json_object_put(t->chain_json);
	json_object_put(t->chain_b64);
	json_object_put(t->client_leaf);
	json_object_put(t->ch_ciphers);
	json_object_put(t->ch_exts);
	json_object_put(t->ch_sigalgs);
	json_object_put(t->sh_exts);
	json_object_put(t->alerts);
	free(t->ja3);
	free(t->ja3s);
	X509_free(t->leaf);
	sk_X509_pop_free(t->chain, X509_free);
	iw_flowmem_charge(-(int64_t)t->x509_charge);
	if (t->inner != NULL)
		iw_imap_free(t->inner);
	iw_tlsd_free(t->tlsd);
	iw_flowmem_free(t);
}

bool
iw_tls_established(const struct iw_tls *t)
{
	return t != NULL && t->established;
}

/* ---- probing ---- */

int
iw_tls_probe_bytes(const uint8_t *b, size_t len)
{
	size_t rlen;
	uint16_t v;

	if (len < 1)
		return IW_PROBE_MORE;
	if (b[0] & 0x80)
		goto sslv2;
	if (b[0] < CT_CCS || b[0] > CT_APPDATA)
		return IW_PROBE_NO;
	if (len < 3)
		return IW_PROBE_MORE;
	if (b[1] != 3 || b[2] > 4)
		return IW_PROBE_NO;
	if (len < 5)
		return IW_PROBE_MORE;
	rlen = (size_t)b[3] << 8 | b[4];
	return rlen > 0 && rlen <= TLS_RECORD_MAX ? IW_PROBE_MATCH : IW_PROBE_NO;
sslv2:
	/* a 2-byte SSLv2 header: CLIENT-HELLO or SERVER-HELLO */
	if (len < 3)
		return IW_PROBE_MORE;
	rlen = (size_t)(b[0] & 0x7f) << 8 | b[1];
	if (rlen < 9 || (b[2] != 1 && b[2] != 4))
		return IW_PROBE_NO;
	if (len < (b[2] == 1 ? 5u : 7u))
		return IW_PROBE_MORE;
	v = b[2] == 1 ? (uint16_t)(b[3] << 8 | b[4]) : (uint16_t)(b[5] << 8 |
	    b[6]);
	if (v == 0x0002 || (v >= 0x0300 && v <= 0x0304))
		return IW_PROBE_MATCH;
	return IW_PROBE_NO;
}

/* ---- completion ---- */

static bool
dir_encrypted(const struct iw_tls *t, enum iw_dir dir)
{
	if (t->sslv2)
		return t->v2_cmk;
	/* TLS 1.3's ChangeCipherSpec is middlebox camouflage (RFC 8446
	 * D.4): keys change at the ServerHello, not there */
	if (tls13(t))
		return t->sh_seen;
	return t->d[dir].ccs;
}

static void
bypass_all(struct iw_tls *t)
{
	if (t->bypassed)
		return;
	t->bypassed = true;
	iw_session_bypass(t->s, IW_TO_SERVER);
	iw_session_bypass(t->s, IW_TO_CLIENT);
}

/* Is this direction's content being decrypted (or about to be)? */
static bool
decrypting(const struct iw_tls *t, enum iw_dir dir)
{
	enum iw_tlsd_state st;

	if (t->tlsd == NULL || t->sslv2)
		return false;
	st = iw_tlsd_state(t->tlsd, dir);
	return st == IW_TLSD_IDLE || st == IW_TLSD_ACTIVE ||
	    st == IW_TLSD_WAITING;
}

/* Established: a direction still decrypted for the IMAP inside stays. */
static void
bypass_done(struct iw_tls *t)
{
	int dir;

	if (t->tlsd == NULL || !t->is_imap) {
		bypass_all(t);
		return;
	}
	for (dir = 0; dir < 2; dir++)
		if (!decrypting(t, dir) && !t->d[dir].bypassed) {
			t->d[dir].bypassed = true;
			iw_session_bypass(t->s, dir);
		}
	if (t->d[0].bypassed && t->d[1].bypassed)
		t->bypassed = true;
}

/* DESIGN.md's passive rule; a NULL cipher keeps us reading plaintext. */
static void
check_established(struct iw_tls *t)
{
	const struct tls_dir *c = &t->d[IW_TO_SERVER], *s = &t->d[IW_TO_CLIENT];

	if (!t->established && !t->fatal_alert) {
		if (t->sslv2)
			t->established = c->after_cmk && s->after_cmk;
		else if (tls13(t))
			t->established = t->sh_seen && c->app_after_sh &&
			    s->app_after_sh;
		else
			t->established = c->enc_after_ccs && s->enc_after_ccs;
	}
	/* NULL-cipher IMAP is still worth reading: it is plaintext */
	if (!t->established || (t->null_cipher && t->is_imap))
		return;
	/* a bad certificate: the client's next record tells whether it
	 * accepted it (its records are stepped over, never copied) */
	if (t->cert_bad && !t->client_next_seen && !tls13(t) &&
	    !t->sslv2) {
		if (!decrypting(t, IW_TO_CLIENT) &&
		    !t->d[IW_TO_CLIENT].bypassed) {
			t->d[IW_TO_CLIENT].bypassed = true;
			iw_session_bypass(t->s, IW_TO_CLIENT);
		}
		return;
	}
	bypass_done(t);
}

/* ---- NULL-cipher plaintext ---- */

static bool
plain_keep(struct tls_dir *d, const uint8_t *p, size_t n)
{
	size_t ncap;
	uint8_t *nb;

	if (n > TLS_PLAIN_MAX - d->plain_len)
		return false;
	if (d->plain_len + n > d->plain_cap) {
		ncap = d->plain_cap ? d->plain_cap : 1024;
		while (ncap < d->plain_len + n)
			ncap *= 2;
		if ((nb = iw_flowmem_realloc(d->plain, ncap)) == NULL)
			return false;
		d->plain = nb;
		d->plain_cap = ncap;
	}
	memcpy(d->plain + d->plain_len, p, n);
	d->plain_len += n;
	return true;
}

/* Gives bytes to the inner IMAP state until it stops consuming. */
static size_t
inner_feed(struct iw_tls *t, enum iw_dir dir, const uint8_t *p, size_t n)
{
	size_t done = 0, c;

	while (done < n) {
		c = iw_imap_data(t->inner, dir, p + done, n - done);
		if (c == 0 || c > n - done)
			break;
		done += c;
	}
	return done;
}

/* NULL-cipher plaintext keeps the inner state it always had; decrypted
 * application data is marked so. */
static unsigned
inner_flags(const struct iw_tls *t)
{
	if (t->tlsd == NULL || t->null_cipher)
		return 0;
	return IW_IMAP_DECRYPTED |
	    (t->origin == IW_TLS_STARTTLS ? IW_IMAP_AFTER_STARTTLS : 0);
}

static void
null_plaintext(struct iw_tls *t, enum iw_dir dir, const uint8_t *p, size_t n)
{
	struct tls_dir *d = &t->d[dir];
	size_t c;

	if (!t->is_imap || n == 0)
		return;
	if (t->inner == NULL && (t->inner = iw_imap_new_inner(t->s,
	    inner_flags(t))) == NULL)
		return;
	if (d->plain_len == 0) {
		c = inner_feed(t, dir, p, n);
		p += c;
		n -= c;
		if (n == 0)
			return;
	}
	if (!plain_keep(d, p, n)) {
		/* the IMAP state would not consume: lose these as a gap */
		tls_anomaly(t, TA_PLAINTEXT_FULL);
		iw_imap_gap(t->inner, dir, d->plain_len + n);
		d->plain_len = 0;
		return;
	}
	c = inner_feed(t, dir, d->plain, d->plain_len);
	memmove(d->plain, d->plain + c, d->plain_len - c);
	d->plain_len -= c;
}

/* ---- records ---- */

static void
alert_record(struct iw_tls *t, enum iw_dir dir, struct iw_rd r)
{
	struct json_object *a;
	uint8_t level, desc;

	if (rd_left(&r) != 2) {
		tls_anomaly(t, TA_ALERT);
		return;
	}
	level = rd_u8(&r);
	desc = rd_u8(&r);
	if (t->alerts == NULL)
		t->alerts = json_object_new_array();
	if (json_object_array_length(t->alerts) < TLS_ALERTS_MAX) {
		a = json_object_new_object();
		json_object_object_add(a, "level", json_object_new_int(level));
		json_object_object_add(a, "description",
		    json_object_new_int(desc));
		json_object_object_add(a, "direction", json_object_new_string(
		    dir == IW_TO_SERVER ? "toserver" : "toclient"));
		json_object_array_add(t->alerts, a);
	}
	if (level == 2 && !t->established) {
		t->fatal_alert = true;
		tls_failed(t, "fatal alert", true);
	}
}

/* A record whose content is readable: handshake, alert, CCS, plaintext. */
static void
plain_record(struct iw_tls *t, enum iw_dir dir, uint8_t type,
    const uint8_t *p, size_t n)
{
	struct tls_dir *d = &t->d[dir];

	switch (type) {
	case CT_CCS:
		if (!d->ccs && !tls13(t) && dir == IW_TO_CLIENT &&
		    !t->shd_seen && t->sh_seen)
			t->resumed = true;	/* server finished first */
		d->ccs = true;
		break;
	case CT_ALERT:
		alert_record(t, dir, rd_init(p, n));
		break;
	case CT_HANDSHAKE:
		tls_handshake(t, dir, p, n);
		break;
	default:
		break;
	}
}

/* A NULL-cipher record after ChangeCipherSpec: content then MAC. */
static void
null_record(struct iw_tls *t, enum iw_dir dir, uint8_t type,
    const uint8_t *p, size_t n)
{
	if (n < t->mac_len)
		return;
	n -= t->mac_len;
	if (type == CT_APPDATA)
		null_plaintext(t, dir, p, n);
	else if (type == CT_ALERT)
		alert_record(t, dir, rd_init(p, n));
}

/* Notes what an encrypted (or application-data) record tells. */
static void
opaque_record(struct iw_tls *t, enum iw_dir dir, uint8_t type)
{
	struct tls_dir *d = &t->d[dir];

	if (type == CT_APPDATA && t->sh_seen)
		d->app_after_sh = true;
	if (d->ccs && type != CT_CCS)
		d->enc_after_ccs = true;
	/* TLS <= 1.2: the client's first record after its Finished says
	 * whether it went on (application data) or not (an alert), keys
	 * or not */
	if (dir == IW_TO_SERVER && d->ccs && !tls13(t) &&
	    (type == CT_APPDATA || type == CT_ALERT)) {
		if (type == CT_APPDATA)
			tls_client_went_on(t);
		t->client_next_seen = true;
	}
}

/*
 * Is this record's content in the clear?  CCS always; under TLS 1.3 an
 * alert record is too (encrypted alerts travel as application data).
 */
static bool
record_plain(const struct iw_tls *t, enum iw_dir dir, uint8_t type)
{
	if (type == CT_CCS || (type == CT_ALERT && tls13(t)))
		return true;
	return !dir_encrypted(t, dir);
}

/* Is the content of this record worth reading? */
static bool
need_content(const struct iw_tls *t, bool plain, uint8_t type)
{
	if (plain)
		return type != CT_APPDATA;
	return t->null_cipher && !tls13(t);
}

/* The first record of the session decides midstream and the app. */
static void
first_record(struct iw_tls *t, uint8_t type, const uint8_t *p, size_t n,
    bool v2hello)
{
	bool hello = v2hello || (type == CT_HANDSHAKE && n >= 1 &&
	    (p[0] == 1 || p[0] == 2));

	t->first_seen = true;
	t->midstream = !hello;
	/* only a ClientHello can still change the decision (ALPN) */
	if (!(type == CT_HANDSHAKE && n >= 1 && p[0] == 1) && !v2hello)
		tls_decide_app(t);
}

/* ---- decryption (--keylog) ---- */

static bool
decrypt_keys(void *arg, const uint8_t random[IW_TLS_RANDOM_LEN],
    struct iw_tls_secrets *sec)
{
	return iw_keylog_lookup(iw_keylog_run(), random, sec);
}

static void
decrypt_plaintext(void *arg, enum iw_dir dir, uint8_t type,
    const uint8_t *p, size_t n)
{
	struct iw_tls *t = arg;

	if (!t->counted_decrypted) {
		t->counted_decrypted = true;
		iw_stats.tls_sessions_decrypted++;
	}
	switch (type) {
	case CT_HANDSHAKE:
		tls_handshake(t, dir, p, n);
		break;
	case CT_ALERT:
		alert_record(t, dir, rd_init(p, n));
		break;
	case CT_APPDATA:
		if (dir == IW_TO_SERVER)
			tls_client_went_on(t);
		null_plaintext(t, dir, p, n);
		break;
	}
}

static void
decrypt_stopped(void *arg, enum iw_dir dir, enum iw_tlsd_state why)
{
	struct iw_tls *t = arg;
	const struct iw_tlsd_counts *k = iw_tlsd_counts(t->tlsd);

	switch (why) {
	case IW_TLSD_AUTH_FAILED:
		iw_stats.tls_records_auth_failed++;
		tls_anomaly(t, TA_DECRYPT_AUTH);
		break;
	case IW_TLSD_GAP:
		if (k->records[dir] > 0)
			tls_anomaly(t, TA_DECRYPT_GAP);
		break;
	case IW_TLSD_HOLD_FULL:
		tls_anomaly(t, TA_DECRYPT_HOLD);
		break;
	case IW_TLSD_NO_KEYS:
		if (!t->counted_no_key && !t->counted_decrypted) {
			t->counted_no_key = true;
			iw_stats.tls_sessions_no_key++;
		}
		break;
	default:
		break;
	}

	/* the IMAP inside lost the rest of this direction (a TCP gap
	 * reaches it from iw_tls_gap) */
	if (t->inner != NULL && (why == IW_TLSD_AUTH_FAILED ||
	    why == IW_TLSD_HOLD_FULL))
		iw_imap_gap(t->inner, dir, 0);
}

static const struct iw_tlsd_ops decrypt_ops = {
	decrypt_plaintext, decrypt_keys, decrypt_stopped,
};

static bool
waiting(const struct iw_tls *t)
{
	return iw_tlsd_state(t->tlsd, IW_TO_SERVER) == IW_TLSD_WAITING ||
	    iw_tlsd_state(t->tlsd, IW_TO_CLIENT) == IW_TLSD_WAITING;
}

/*
 * Keys not in the log: reading a file, they will not come; live, look
 * again whenever the log grew, until the hold's packet time runs out.
 */
static void
keys_again(struct iw_tls *t)
{
	struct iw_keylog *kl = iw_keylog_run();
	iw_time now = iw_session_now(t->s);
	uint64_t gen;

	if (!waiting(t))
		return;
	if (!iw_keylog_run_live()) {
		iw_tlsd_give_up(t->tlsd);
		return;
	}
	if (t->wait_since == 0) {
		t->wait_since = now;
		t->keylog_gen = iw_keylog_generation(kl);
	}
	if ((gen = iw_keylog_generation(kl)) != t->keylog_gen) {
		t->keylog_gen = gen;
		if (iw_tlsd_retry(t->tlsd))
			return;
	}
	if (now - t->wait_since > KEYLOG_HOLD_USEC)
		iw_tlsd_give_up(t->tlsd);
	else
		iw_keylog_run_want();
}

static void
held_dropped(struct iw_tls *t, uint64_t before)
{
	uint64_t now = iw_tlsd_counts(t->tlsd)->held_dropped;

	if (now > before)
		iw_stats.tls_held_bytes_dropped += now - before;
}

/* A whole record through the decryption core; clear ones are read as
 * they always are. */
static size_t
decrypt_record(struct iw_tls *t, enum iw_dir dir, uint8_t type,
    uint16_t ver, struct iw_rd *r, uint16_t rlen)
{
	uint64_t dropped = iw_tlsd_counts(t->tlsd)->held_dropped;
	bool plain = record_plain(t, dir, type);
	enum iw_tlsd_rec res;
	const uint8_t *body;

	if (!rd_bytes(r, rlen, &body))
		return 0;	/* the rest of the record is still to come */
	t->d[dir].records++;
	res = iw_tlsd_record(t->tlsd, dir, type, ver, body, rlen);
	if (res == IW_TLSD_CLEAR && plain)
		plain_record(t, dir, type, body, rlen);
	else if (res == IW_TLSD_CLEAR && need_content(t, plain, type))
		null_record(t, dir, type, body, rlen);
	if (!plain)
		opaque_record(t, dir, type);
	keys_again(t);
	held_dropped(t, dropped);
	check_established(t);
	return 5 + (size_t)rlen;
}

static size_t
tls_record(struct iw_tls *t, enum iw_dir dir, const uint8_t *buf, size_t len,
    bool *stop)
{
	struct tls_dir *d = &t->d[dir];
	struct iw_rd r = rd_init(buf, len);
	uint8_t type;
	uint16_t ver, rlen;
	const uint8_t *body;
	size_t avail;
	bool plain;

	type = rd_u8(&r);
	ver = rd_u16(&r);
	rlen = rd_u16(&r);
	if (r.bad)
		return 0;
	if (type < CT_CCS || type > CT_HEARTBEAT || (ver >> 8) != 3 ||
	    (ver & 0xff) > 4 || rlen > TLS_RECORD_MAX) {
		tls_anomaly(t, TA_RECORD);
		d->dead = true;
		return len;
	}
	avail = rd_left(&r);
	if (!t->first_seen) {
		if (avail == 0 && rlen > 0)
			return 0;	/* need the message type */
		first_record(t, type, rd_ptr(&r), avail, false);
	}
	if (t->dropped)
		return len;
	d->started = true;
	if (decrypting(t, dir))
		return decrypt_record(t, dir, type, ver, &r, rlen);
	plain = record_plain(t, dir, type);
	if (!need_content(t, plain, type)) {
		opaque_record(t, dir, type);
		d->records++;
		check_established(t);
		if (avail >= rlen)
			return 5 + (size_t)rlen;
		iw_session_skip(t->s, dir, rlen - avail);
		*stop = true;
		return len;
	}
	if (!rd_bytes(&r, rlen, &body))
		return 0;	/* the rest of the record is still to come */
	d->records++;
	if (plain)
		plain_record(t, dir, type, body, rlen);
	else {
		null_record(t, dir, type, body, rlen);
		opaque_record(t, dir, type);
	}
	check_established(t);
	return 5 + (size_t)rlen;
}

/* ---- SSLv2 records ---- */

static size_t
sslv2_record(struct iw_tls *t, enum iw_dir dir, const uint8_t *buf,
    size_t len)
{
	struct tls_dir *d = &t->d[dir];
	struct iw_rd r = rd_init(buf, len), body;
	size_t hdr, rlen;
	uint8_t b0 = rd_u8(&r), b1 = rd_u8(&r);

	if (r.bad)
		return 0;
	hdr = (b0 & 0x80) ? 2 : 3;
	rlen = (size_t)(b0 & (hdr == 2 ? 0x7f : 0x3f)) << 8 | b1;
	if (hdr == 3 && !rd_skip(&r, 1))
		return 0;
	body = rd_sub(&r, rlen);
	if (body.bad)
		return 0;
	if (!t->first_seen) {
		first_record(t, 0, NULL, 0, true);
		if (t->dropped)
			return len;
	}
	d->started = true;
	d->records++;
	if (t->v2_cmk)
		d->after_cmk = true;	/* encrypted from here on */
	else if (hdr == 2)
		tls_sslv2_msg(t, dir, body);
	check_established(t);
	return hdr + rlen;
}

/* SSLv2 framing: the first record of a direction may be an SSLv2 hello;
 * a pure SSL 2.0 session keeps it (3-byte headers too). */
static bool
is_sslv2_record(const struct iw_tls *t, const struct tls_dir *d,
    uint8_t b0)
{
	if (t->sslv2)
		return true;
	return !d->started && (b0 & 0x80);
}

/* ---- API ---- */

size_t
iw_tls_data(struct iw_tls *t, enum iw_dir dir, const uint8_t *buf,
    size_t len)
{
	struct tls_dir *d = &t->d[dir];
	size_t off = 0, c;
	bool stop = false;

	while (off < len && !stop) {
		if (d->dead || t->dropped || t->bypassed)
			return len;
		if (is_sslv2_record(t, d, buf[off]))
			c = sslv2_record(t, dir, buf + off, len - off);
		else
			c = tls_record(t, dir, buf + off, len - off, &stop);
		if (c == 0)
			break;
		off += c;
	}
	if (d->dead && t->d[iw_dir_other(dir)].dead)
		bypass_all(t);
	else if (d->dead)
		iw_session_bypass(t->s, dir);
	return off;
}

void
iw_tls_gap(struct iw_tls *t, enum iw_dir dir, uint64_t len)
{
	struct tls_dir *d = &t->d[dir];

	/* records have no marker to resynchronise on: stop reading this
	 * direction; what it would have shown is unknown, not failed */
	t->gaps = true;
	d->dead = true;
	tls_hs_free(d);
	if (t->tlsd != NULL)
		iw_tlsd_gap(t->tlsd, dir);
	if (t->inner != NULL)
		iw_imap_gap(t->inner, dir, len);
	if (t->d[iw_dir_other(dir)].dead)
		bypass_all(t);
	else
		iw_session_bypass(t->s, dir);
}

void
iw_tls_end(struct iw_tls *t, enum iw_end_reason why)
{
	if (t->ended)
		return;
	t->ended = true;
	if (t->tlsd != NULL) {
		/* the keys may have been read since the last record */
		if (waiting(t))
			(void)iw_tlsd_retry(t->tlsd);
		iw_tlsd_give_up(t->tlsd);	/* held records are wiped */
	}
	/* a connection that closed before the handshake completed failed;
	 * one we stopped watching (end of input, timeout) did not */
	if (!t->established && (why == IW_END_FIN || why == IW_END_RST))
		tls_failed(t, "connection closed", false);
	if (t->inner != NULL)
		iw_imap_end(t->inner, why);
}

void
iw_tls_report(struct iw_tls *t, struct json_object *ev)
{
	tls_report_object(t, ev);
}

/* ---- the registry's dissector ---- */

/*
 * Which side sent a hello, when the first bytes show one: a ClientHello
 * comes from the client, a ServerHello from the server, whatever the
 * ports said of a connection picked up mid-stream.
 */
static enum iw_dir
hello_sender(const uint8_t *b, size_t len, bool *known)
{
	*known = true;
	if (b[0] & 0x80)			/* SSLv2 */
		return b[2] == 1 ? IW_TO_SERVER : IW_TO_CLIENT;
	if (b[0] == CT_HANDSHAKE && len >= 6 && (b[5] == 1 || b[5] == 2))
		return b[5] == 1 ? IW_TO_SERVER : IW_TO_CLIENT;
	*known = false;
	return IW_TO_SERVER;
}

static enum iw_probe
tls_probe(enum iw_dir dir, const uint8_t *buf, size_t len,
    const struct iw_endpoints *ep)
{
	enum iw_probe r = (enum iw_probe)iw_tls_probe_bytes(buf, len);
	bool known;

	if (r != IW_PROBE_MATCH)
		return r;
	if (buf[0] == CT_HANDSHAKE && len < 6)
		return IW_PROBE_MORE;		/* one byte more: which hello */
	if (hello_sender(buf, len, &known) != dir && known)
		return IW_PROBE_MATCH_REVERSED;
	return IW_PROBE_MATCH;
}

static void *
tls_create(struct iw_session *s)
{
	const struct iw_flowref *f = iw_session_flow(s);

	return iw_tls_new(s, iw_config_is_imaps_port(f->ep.sport) ?
	    IW_TLS_IMPLICIT : IW_TLS_OTHER);
}

static size_t
tls_data(void *st, enum iw_dir dir, const uint8_t *buf, size_t len)
{
	return iw_tls_data(st, dir, buf, len);
}

static void
tls_gap(void *st, enum iw_dir dir, uint64_t len)
{
	iw_tls_gap(st, dir, len);
}

static void
tls_end(void *st, enum iw_end_reason why)
{
	iw_tls_end(st, why);
}

static void
tls_report(void *st, struct json_object *ev)
{
	iw_tls_report(st, ev);
}

static void
tls_destroy(void *st)
{
	iw_tls_free(st);
}

const struct iw_dissector iw_tls_dissector = {
	.name = "tls",
	.probe = tls_probe,
	.create = tls_create,
	.data = tls_data,
	.gap = tls_gap,
	.end = tls_end,
	.report = tls_report,
	.destroy = tls_destroy,
};
