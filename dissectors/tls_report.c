/* SPDX-License-Identifier: ISC */
/*
 * tls_report.c - the TLS findings (with the evidence beside each alert)
 * and the session's top-level "tls" object, in EVE's names.
 *
 * A midstream session (its first record was not a hello) raises no
 * handshake findings: what came before is unknown.
 */
#include <json.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "ciphers.h"
#include "config.h"
#include "correlate.h"
#include "event.h"
#include "imap.h"
#include "session.h"
#include "tls_int.h"
#include "x509.h"

static void
add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, iw_json_str(v));
}

static void
copy_field(struct json_object *dst, struct json_object *src, const char *k)
{
	struct json_object *v;

	if (src != NULL && json_object_object_get_ex(src, k, &v))
		json_object_object_add(dst, k, json_object_get(v));
}

/* ---- the pieces of evidence ---- */

/*
 * Suricata's names of versions (rust/src/tls_version.rs): "SSLv3",
 * "TLSv1", then "TLS 1.1" ... with a space, drafts "TLS 1.3 draft-NN",
 * "UNDETERMINED" for none, and the number in decimal for any other.
 */
static const struct {
	uint16_t	 v;
	const char	*name;
} eve_versions[] = {
	{ 0x0002, "SSLv2" }, { 0x0200, "SSLv2" }, { 0x0300, "SSLv3" },
	{ 0x0301, "TLSv1" }, { 0x0302, "TLS 1.1" }, { 0x0303, "TLS 1.2" },
	{ 0x0304, "TLS 1.3" }, { 0x7f01, "TLS 1.3 draft-<16" },
	{ 0xfb14, "TLS 1.3 draft-20-fb" }, { 0xfb15, "TLS 1.3 draft-21-fb" },
	{ 0xfb16, "TLS 1.3 draft-22-fb" }, { 0xfb17, "TLS 1.3 draft-23-fb" },
	{ 0xfb1a, "TLS 1.3 draft-26-fb" },
};

const char *
tls_eve_version(uint16_t v, char buf[24])
{
	size_t i;

	if (v == 0)
		return "UNDETERMINED";
	for (i = 0; i < sizeof(eve_versions) / sizeof(eve_versions[0]); i++)
		if (eve_versions[i].v == v)
			return eve_versions[i].name;
	if (v >= 0x7f10 && v <= 0x7f1c)
		snprintf(buf, 24, "TLS 1.3 draft-%u", v & 0xff);
	else
		snprintf(buf, 24, "%u", v);
	return buf;
}

bool
tls_eve_version_known(uint16_t v)
{
	char buf[24];

	if (v == 0 || v == 0x0002 || v == 0x0200)
		return false;
	return tls_eve_version(v, buf) != buf || (v >= 0x7f10 && v <= 0x7f1c);
}

/* The server's version, else the client's, as Suricata logs it. */
static void
add_version(const struct iw_tls *t, struct json_object *o)
{
	uint16_t v = t->version_set ? t->version :
	    t->ch_sv_first != 0 ? t->ch_sv_first : t->ch_version;
	char buf[24];

	add_str(o, "version", tls_eve_version(v, buf));
}

static void
add_cipher(const struct iw_tls *t, struct json_object *o)
{
	const struct iw_cipher_suite *cs;
	const char *name = NULL;
	char id[12];

	if (t->sslv2 && t->v2_cipher != 0) {
		name = iw_sslv2_cipher_name(t->v2_cipher);
		snprintf(id, sizeof(id), "0x%06x", t->v2_cipher);
	} else if (t->cipher_set) {
		cs = iw_cipher_lookup(t->cipher);
		name = cs ? cs->name : NULL;
		snprintf(id, sizeof(id), "0x%04x", t->cipher);
	} else
		return;
	add_str(o, "cipher", name ? name : id);
	add_str(o, "cipher_id", id);
}

/* The whole name, a NUL byte as \u0000 (Suricata 8 writes the bytes). */
static void
add_sni(const struct iw_tls *t, struct json_object *o)
{
	if (t->has_sni)
		json_object_object_add(o, "sni",
		    iw_json_bytes(t->sni, t->sni_len));
}

static struct json_object *
name_check_json(const struct iw_tls *t)
{
	struct json_object *o = json_object_new_object();

	if (t->check_name == t->sni)
		json_object_object_add(o, "name", iw_json_bytes(t->sni,
		    t->sni_len));
	else if (t->check_name != NULL)
		json_object_object_add(o, "name", iw_json_str(t->check_name));
	add_str(o, "source", t->check_source ? t->check_source : "none");
	add_str(o, "result", t->check_result ? t->check_result : "unchecked");
	return o;
}

static void
add_cert(const struct iw_tls *t, struct json_object *o)
{
	static const char *const keys[] = { "subject", "issuerdn", "serial",
	    "notbefore", "notafter", "fingerprint_sha256" };
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		copy_field(o, t->leaf_json, keys[i]);
}

/* Evidence: version, cipher, sni, and what the caller adds. */
static struct json_object *
evidence(const struct iw_tls *t)
{
	struct json_object *o = json_object_new_object();

	add_version(t, o);
	add_cipher(t, o);
	add_sni(t, o);
	return o;
}

static bool
may_judge(const struct iw_tls *t)
{
	return !t->midstream && !t->dropped;
}

/* ---- ClientHello ---- */

/* Which name identifies the server: the SNI, else one configured. */
static void
choose_name(struct iw_tls *t)
{
	const struct iw_flowref *f = iw_session_flow(t->s);

	if (t->check_source != NULL)
		return;
	if (t->has_sni && t->sni[0] != '\0') {
		t->check_name = t->sni;
		t->check_source = "sni";
	} else if ((t->check_name = iw_config_server_name(&f->ep.server,
	    f->ep.sport)) != NULL)
		t->check_source = "configured";
	else
		t->check_source = "none";
}

void
tls_client_hello_findings(struct iw_tls *t)
{
	struct json_object *ev;

	choose_name(t);
	if (!may_judge(t))
		return;
	if (t->n_weak_offered > 0) {
		ev = evidence(t);
		json_object_object_add(ev, "weak_offered",
		    json_object_get(t->weak_offered));
		json_object_object_add(ev, "weak_offered_count",
		    json_object_new_int64((int64_t)t->n_weak_offered));
		iw_alert(t->s, IW_F_WEAK_CIPHER_OFFERED, 0, ev);
	}
	if (strcmp(t->check_source, "none") == 0) {
		t->check_result = "unchecked";
		ev = evidence(t);
		json_object_object_add(ev, "name_check", name_check_json(t));
		iw_alert(t->s, IW_F_NO_SNI, 0, ev);
	}
}

/* ---- ServerHello ---- */

static void
weak_cipher(struct iw_tls *t)
{
	struct json_object *ev, *why;
	uint32_t w, bit;
	const char *n;

	if (t->sslv2)
		w = t->v2_cipher ? iw_policy_sslv2_cipher_weak(t->v2_cipher) : 0;
	else
		w = t->cipher_set ? iw_policy_cipher_weak(t->cipher) : 0;
	if (w == 0)
		return;
	ev = evidence(t);
	why = json_object_new_array();
	for (bit = 1; bit != 0 && bit <= w; bit <<= 1)
		if ((w & bit) && (n = iw_cipher_class_name(bit)) != NULL)
			json_object_array_add(why, json_object_new_string(n));
	if (w & IW_CS_WEAK_SUITE)
		json_object_array_add(why, json_object_new_string("policy"));
	json_object_object_add(ev, "weakness", why);
	iw_alert(t->s, IW_F_WEAK_CIPHER, 0, ev);
}

/*
 * TLS 1.3 hides the certificate: ask the correlator, in packet-time
 * order, what an earlier session showed for this server and name (it
 * adds tls.name_check_earlier if the certificate stays unseen here).  A
 * name with a NUL byte is never a certificate's: no hint.
 */
static void
name_hint(struct iw_tls *t)
{
	if (t->check_name == NULL ||
	    (t->check_name == t->sni && memchr(t->sni, '\0', t->sni_len)))
		return;
	iw_corr_name_hint(t->s, t->check_name);
}

void
tls_server_hello_findings(struct iw_tls *t)
{
	const struct iw_cipher_suite *cs;
	uint16_t v;

	if (!may_judge(t))
		return;
	weak_cipher(t);
	if (t->version_set && iw_policy_version_weak(t->version)) {
		v = iw_tls_version_canon(t->version);
		iw_alert(t->s, IW_F_OBSOLETE_TLS_VERSION,
		    v == 0x0002 || v == 0x0300 ? 1 : 2, evidence(t));
	}
	cs = t->cipher_set && !t->sslv2 ? iw_cipher_lookup(t->cipher) : NULL;
	if (cs != NULL && (cs->flags & IW_CS_RSA_KX))
		iw_alert(t->s, IW_F_NO_FORWARD_SECRECY, 0, evidence(t));
	if (tls13(t))
		name_hint(t);
}

/* ---- failure ---- */

void
tls_failed(struct iw_tls *t, const char *why, bool by_alert)
{
	struct json_object *ev;

	/* after STARTTLS the IMAP side reports starttls_failed instead */
	if (t->n_ch == 0 || t->origin == IW_TLS_STARTTLS || t->established ||
	    !may_judge(t))
		return;
	if (!by_alert && t->gaps)
		return;		/* the capture lost part of it */
	ev = evidence(t);
	add_str(ev, "failure", why);
	if (t->alerts != NULL)
		json_object_object_add(ev, "alert", json_object_get(t->alerts));
	iw_alert(t->s, IW_F_TLS_HANDSHAKE_FAILED, 0, ev);
}

/* ---- certificates ---- */

void
tls_name_check(struct iw_tls *t)
{
	int r;

	choose_name(t);
	if (t->leaf == NULL) {
		if (t->check_result == NULL && tls13(t) && t->sh_seen)
			t->check_result = t->resumed && t->tlsd != NULL ?
			    "unchecked" : "encrypted";
		return;
	}
	if (t->check_name == NULL) {
		t->check_result = "unchecked";
		return;
	}
	/* no certificate name holds a NUL: "a.example\0.evil" is not
	 * "a.example", whatever a C string of it says */
	if (t->check_name == t->sni && memchr(t->sni, '\0', t->sni_len)) {
		t->check_result = "mismatch";
		return;
	}
	r = iw_x509_check_name(t->leaf, t->check_name);
	t->check_result = r == 1 ? "match" : r == 0 ? "mismatch" :
	    "unchecked";
}

static struct json_object *
cert_evidence(const struct iw_tls *t)
{
	struct json_object *ev = evidence(t);

	add_cert(t, ev);
	json_object_object_add(ev, "name_check", name_check_json(t));
	return ev;
}

/*
 * cert_changed (the same server and name showed another leaf key in an
 * earlier session) is the correlator's: it gets the key and decides.
 */
static void
cert_changed(struct iw_tls *t)
{
	uint8_t dig[32];

	if (!iw_x509_key_digest(t->leaf, dig))
		return;
	iw_corr_leaf(t->s, dig, t->check_name, t->check_result,
	    cert_evidence(t));
}

static void
cert_trust(struct iw_tls *t)
{
	struct json_object *ev;
	char why[128];

	if (iw_cfg.ca_file == NULL)
		return;
	why[0] = '\0';
	if (iw_x509_verify(t->leaf, t->chain, iw_session_now(t->s) / IW_USEC,
	    why, sizeof(why)) != 0)
		return;
	t->cert_bad = true;
	ev = cert_evidence(t);
	add_str(ev, "verify_error", why);
	iw_alert(t->s, IW_F_CERT_UNTRUSTED, 0, ev);
}

static void
cert_key_and_sig(struct iw_tls *t)
{
	struct json_object *ev;

	if (iw_x509_weak_key(t->leaf)) {
		ev = cert_evidence(t);
		copy_field(ev, t->leaf_json, "key");
		iw_alert(t->s, IW_F_WEAK_KEY, 0, ev);
	}
	if (iw_x509_weak_signature(t->leaf)) {
		ev = cert_evidence(t);
		copy_field(ev, t->leaf_json, "signature_algorithm");
		iw_alert(t->s, IW_F_WEAK_SIGNATURE, 0, ev);
	}
}

void
tls_cert_findings(struct iw_tls *t)
{
	int v;

	tls_name_check(t);
	if (!may_judge(t))
		return;
	if (strcmp(t->check_result, "mismatch") == 0) {
		t->cert_bad = true;
		iw_alert(t->s, IW_F_CERT_NAME_MISMATCH, 0, cert_evidence(t));
	}
	v = iw_x509_validity(t->leaf, iw_session_now(t->s) / IW_USEC);
	t->cert_bad |= v == 1 || v == -1;
	if (v == 1)
		iw_alert(t->s, IW_F_CERT_EXPIRED, 0, cert_evidence(t));
	else if (v == -1)
		iw_alert(t->s, IW_F_CERT_NOT_YET_VALID, 0, cert_evidence(t));
	if (iw_x509_self_signed(t->leaf)) {
		t->cert_bad = true;
		iw_alert(t->s, IW_F_CERT_SELF_SIGNED, 0, cert_evidence(t));
	}
	cert_trust(t);
	cert_key_and_sig(t);
	cert_changed(t);
}

/*
 * The client sent application data after the handshake: if the server's
 * certificate failed a definite check, the client went on with a server
 * anyone in the path could impersonate instead of a fatal alert.
 */
void
tls_client_went_on(struct iw_tls *t)
{
	if (!t->cert_bad || t->bad_cert_raised || !may_judge(t))
		return;
	t->bad_cert_raised = true;
	iw_alert(t->s, IW_F_CLIENT_ACCEPTED_BAD_CERTIFICATE, 0,
	    cert_evidence(t));
}

/* ---- the session's "tls" object ---- */

static void
add_fingerprints(const struct iw_tls *t, struct json_object *o)
{
	struct json_object *j;

	if (t->ja3 != NULL) {
		j = json_object_new_object();
		add_str(j, "hash", t->ja3_md5);
		add_str(j, "string", t->ja3);
		json_object_object_add(o, "ja3", j);
	}
	if (t->ja3s != NULL) {
		j = json_object_new_object();
		add_str(j, "hash", t->ja3s_md5);
		add_str(j, "string", t->ja3s);
		json_object_object_add(o, "ja3s", j);
	}
	if (t->ja4[0] != '\0')
		add_str(o, "ja4", t->ja4);
}

/* Our summary of the ClientHello (Suricata's is client_handshake). */
static void
add_client_hello(const struct iw_tls *t, struct json_object *o)
{
	struct json_object *c;

	if (t->n_ch == 0)
		return;
	c = json_object_new_object();
	if (t->versions_offered != NULL)
		json_object_object_add(c, "versions",
		    json_object_get(t->versions_offered));
	json_object_object_add(c, "cipher_suites",
	    json_object_new_int64((int64_t)t->n_suites));
	json_object_object_add(c, "weak_offered", t->weak_offered ?
	    json_object_get(t->weak_offered) : json_object_new_array());
	if (t->groups_offered != NULL)
		json_object_object_add(c, "key_share_groups",
		    json_object_get(t->groups_offered));
	if (t->ch_sslv2)
		json_object_object_add(c, "sslv2_hello",
		    json_object_new_boolean(true));
	json_object_object_add(o, "client_hello", c);
}

static void
add_list(struct json_object *o, const char *k, struct json_object *list)
{
	if (list != NULL && json_object_array_length(list) > 0)
		json_object_object_add(o, k, json_object_get(list));
}

/*
 * Suricata's client_handshake and server_handshake (rust/src/handshake.rs):
 * versions as tls.version names (left out when Suricata's table has no
 * name), suites, extension types and signature algorithms as integers in
 * the hello's order, GREASE left out, empty lists left out.
 */
static void
add_handshakes(const struct iw_tls *t, struct json_object *o)
{
	struct json_object *h;
	char buf[24];

	if (t->n_ch > 0 && !t->ch_sslv2) {
		h = json_object_new_object();
		if (tls_eve_version_known(t->ch_hs_version))
			add_str(h, "version", tls_eve_version(t->ch_hs_version,
			    buf));
		add_list(h, "ciphers", t->ch_ciphers);
		add_list(h, "exts", t->ch_exts);
		add_list(h, "sig_algs", t->ch_sigalgs);
		json_object_object_add(o, "client_handshake", h);
	}
	if (t->sh_seen && !t->sslv2) {
		h = json_object_new_object();
		if (tls_eve_version_known(t->sh_legacy))
			add_str(h, "version", tls_eve_version(t->sh_legacy,
			    buf));
		json_object_object_add(h, "cipher",
		    json_object_new_int(t->cipher));
		add_list(h, "exts", t->sh_exts);
		json_object_object_add(o, "server_handshake", h);
	}
}

/* client_alpns and server_alpns: empty names are not written. */
static void
add_alpn(const struct iw_tls *t, struct json_object *o)
{
	struct json_object *a, *v;
	size_t i, n;

	n = t->alpn_offered ? json_object_array_length(t->alpn_offered) : 0;
	a = json_object_new_array();
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(t->alpn_offered, i);
		if (json_object_get_string_len(v) > 0)
			json_object_array_add(a, json_object_get(v));
	}
	if (json_object_array_length(a) > 0)
		json_object_object_add(o, "client_alpns", a);
	else
		json_object_put(a);
	if (t->alpn_sel_set && t->alpn_sel[0] != '\0') {
		a = json_object_new_array();
		json_object_array_add(a, iw_json_str(t->alpn_sel));
		json_object_object_add(o, "server_alpns", a);
	}
}

static void
add_kx(const struct iw_tls *t, struct json_object *o)
{
	struct json_object *k;

	if (t->kx_group < 0 && t->kx_dh_bits == 0)
		return;
	k = json_object_new_object();
	if (t->kx_group >= 0)
		json_object_object_add(k, "group",
		    json_object_new_int(t->kx_group));
	if (t->kx_dh_bits > 0)
		json_object_object_add(k, "dh_bits",
		    json_object_new_int(t->kx_dh_bits));
	json_object_object_add(o, "key_exchange", k);
}

/* Whether the leaf certificate was seen, and if not why not. */
static const char *
certificate_status(const struct iw_tls *t)
{
	if (t->leaf != NULL)
		return t->cert_decrypted ? "decrypted" : "clear";
	if (t->resumed)
		return "resumed";
	if (tls13(t) && t->sh_seen)
		return "encrypted";
	return "absent";
}

/*
 * The leaf's fields at the top (Suricata's names and forms, and ours
 * beside them), the leaf and the chain as base64 DER as Suricata writes
 * tls.certificate and tls.chain, and our description of each
 * certificate in chain_details.
 */
static void
add_certificate(struct iw_tls *t, struct json_object *o)
{
	struct json_object_iterator it, end;

	if (t->leaf_json != NULL) {
		it = json_object_iter_begin(t->leaf_json);
		end = json_object_iter_end(t->leaf_json);
		for (; !json_object_iter_equal(&it, &end);
		    json_object_iter_next(&it))
			json_object_object_add(o, json_object_iter_peek_name(&it),
			    json_object_get(json_object_iter_peek_value(&it)));
		if (t->chain_b64 != NULL &&
		    json_object_array_length(t->chain_b64) > 0) {
			json_object_object_add(o, "certificate", json_object_get(
			    json_object_array_get_idx(t->chain_b64, 0)));
			json_object_object_add(o, "chain",
			    json_object_get(t->chain_b64));
		}
		json_object_object_add(o, "chain_details",
		    json_object_get(t->chain_json));
	}
	add_str(o, "certificate_status", certificate_status(t));
	tls_name_check(t);
	json_object_object_add(o, "name_check", name_check_json(t));
}

/* Suricata's tls.client: the client's certificate, when one was seen. */
static void
add_client_certificate(const struct iw_tls *t, struct json_object *o)
{
	static const char *const keys[] = { "subject", "issuerdn",
	    "fingerprint", "serial", "notbefore", "notafter" };
	struct json_object *c;
	size_t i;

	if (t->client_leaf == NULL)
		return;
	c = json_object_new_object();
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		copy_field(c, t->client_leaf, keys[i]);
	json_object_object_add(o, "client", c);
}

static struct json_object *
tls_object(struct iw_tls *t)
{
	struct json_object *o = json_object_new_object();

	add_version(t, o);
	add_cipher(t, o);
	add_sni(t, o);
	add_alpn(t, o);
	add_fingerprints(t, o);
	add_certificate(t, o);
	add_kx(t, o);
	add_client_hello(t, o);
	add_handshakes(t, o);
	add_client_certificate(t, o);
	/* Suricata marks TLS that began inside another protocol */
	if (t->origin == IW_TLS_STARTTLS)
		add_str(o, "from_proto", "imap");
	json_object_object_add(o, "established",
	    json_object_new_boolean(t->established));
	json_object_object_add(o, "session_resumed",
	    json_object_new_boolean(t->resumed));
	if (t->hrr)
		json_object_object_add(o, "hello_retry_request",
		    json_object_new_boolean(true));
	if (t->midstream)
		json_object_object_add(o, "midstream",
		    json_object_new_boolean(true));
	if (t->client_cert)
		json_object_object_add(o, "client_certificate",
		    json_object_new_boolean(true));
	if (t->alerts != NULL)
		json_object_object_add(o, "alert", json_object_get(t->alerts));
	return o;
}

/*
 * The inner IMAP of a NULL-cipher session: its "imap" object is the
 * session's for IMAPS; after STARTTLS the IMAP dissector owns "imap", so
 * the inner one goes under tls.null_cipher_imap.
 */
/* What the plaintext of a NULL cipher showed goes into the imap object
 * (as "inside_tls"; the IMAP side never overwrites its mode). */
static void
add_inner(struct iw_tls *t, struct json_object *ev)
{
	if (t->inner != NULL)
		iw_imap_report(t->inner, ev);
}

void
tls_report_object(struct iw_tls *t, struct json_object *ev)
{
	struct json_object *o = tls_object(t), *imap;

	json_object_object_add(ev, "tls", o);
	add_inner(t, ev);
	if (!t->is_imap || t->origin == IW_TLS_STARTTLS)
		return;
	if (!json_object_object_get_ex(ev, "imap", &imap)) {
		imap = json_object_new_object();
		json_object_object_add(ev, "imap", imap);
	}
	add_str(imap, "mode", "implicit_tls");
}
