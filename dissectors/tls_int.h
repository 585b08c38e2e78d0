/* SPDX-License-Identifier: ISC */
/*
 * tls_int.h - the TLS dissector's state, shared by its files (internal to
 * dissectors/tls*.c; here so the build tracks it like every header):
 * tls.c (records, SSLv2, completion, NULL-cipher plaintext, the include/tls.h
 * API), tls_hello.c (handshake messages), tls_report.c (findings and the
 * session's "tls" object).
 */
#ifndef IW_TLS_INT_H
#define IW_TLS_INT_H

#include <openssl/x509.h>

#include "fingerprint.h"
#include "iw.h"
#include "reader.h"
#include "tls.h"

struct iw_imap;
struct json_object;

#define TLS_RECORD_MAX	(16384 + 2048)	/* TLSCiphertext bound, RFC 5246 */
#define TLS_HS_MAX	(1024 * 1024)	/* one handshake message */
#define TLS_HS_CLIENT_MAX (64 * 1024)	/* ... from the client: a ClientHello
					 * is a few KiB, even with ECH and
					 * post-quantum key shares */
#define TLS_HS_BUDGET	(64u << 20)	/* held by all sessions at once */
#define TLS_PLAIN_MAX	(64 * 1024)	/* NULL-cipher plaintext held */
#define TLS_SNI_MAX	256
#define TLS_LIST_MAX	64		/* entries of a list in an event */
#define TLS_CHAIN_MAX	16		/* certificates parsed and kept: real
					 * chains have 2 to 5; thousands of
					 * tiny ones fit in one message */
#define TLS_ALERTS_MAX	16
#define TLS_HS_LIST_MAX	512		/* client_handshake's lists: a
					 * ClientHello could hold 32,000
					 * suites; real ones hold < 200 */

/* Anomaly kinds, reported once each per session. */
enum tls_anomaly {
	TA_RECORD,		/* a record header that is not TLS */
	TA_HANDSHAKE,		/* handshake framing broken */
	TA_TOO_LONG,		/* handshake message over TLS_HS_MAX */
	TA_CLIENT_HELLO,
	TA_SERVER_HELLO,
	TA_CERTIFICATE,		/* Certificate framing or DER */
	TA_KEY_EXCHANGE,
	TA_ALERT,
	TA_SSLV2,
	TA_PLAINTEXT_FULL,	/* NULL-cipher plaintext the IMAP state kept */
	TA_BUDGET,		/* all sessions' handshake buffers full */
	TA_CHAIN_TOO_LONG,	/* more than TLS_CHAIN_MAX certificates */
	TA_DECRYPT_AUTH,	/* --keylog: a record failed authentication */
	TA_DECRYPT_GAP,		/* --keylog: a gap in a decrypted direction */
	TA_DECRYPT_HOLD,	/* --keylog: records held for keys dropped */
	TA_COUNT
};

struct tls_dir {
	uint8_t		*hs;		/* a handshake message in pieces */
	size_t		 hs_len, hs_cap;
	bool		 hs_dead;	/* handshake parsing stopped */
	bool		 dead;		/* records lost (gap, garbage) */
	bool		 started;	/* a record was seen */
	bool		 ccs;		/* ChangeCipherSpec sent */
	bool		 enc_after_ccs;	/* an encrypted record after it */
	bool		 app_after_sh;	/* application data after ServerHello */
	bool		 after_cmk;	/* SSLv2: a record after CLIENT-MASTER-KEY */
	bool		 bypassed;	/* this direction handed to bypass */
	uint64_t	 records;
	uint8_t		*plain;		/* NULL cipher: unconsumed plaintext */
	size_t		 plain_len, plain_cap;
};

struct iw_tls {
	struct iw_session	*s;
	enum iw_tls_origin	 origin;
	struct tls_dir		 d[2];
	bool			 first_seen;
	bool			 midstream;	/* first record not a hello */
	bool			 decided;	/* app (imap/tls) decided */
	bool			 dropped;
	bool			 is_imap;
	bool			 gaps;
	bool			 ended;
	bool			 established;
	bool			 bypassed;
	uint32_t		 anomalies;	/* bit per enum tls_anomaly */

	/* ClientHello (the first one; n_ch counts them) */
	int			 n_ch;
	bool			 ch_sslv2;
	uint16_t		 ch_version;
	uint8_t			 ch_sid[32];
	uint8_t			 ch_sid_len;
	bool			 has_sni;
	char			 sni[TLS_SNI_MAX];	/* may hold NUL bytes */
	size_t			 sni_len;
	uint16_t		 ch_sv_first;	/* first known supported_version */
	uint16_t		 ch_hs_version;	/* Suricata's client_handshake
						 * version: the highest of the
						 * two above */
	struct json_object	*ch_ciphers;	/* suites, extension types, */
	struct json_object	*ch_exts;	/* signature algorithms as */
	struct json_object	*ch_sigalgs;	/* integers, GREASE left out */
	bool			 alpn_imap;
	struct json_object	*alpn_offered;
	struct json_object	*versions_offered;
	struct json_object	*weak_offered;
	struct json_object	*groups_offered;
	size_t			 n_suites;
	size_t			 n_weak_offered;
	char			*ja3;
	char			 ja3_md5[33];
	char			 ja4[IW_JA4_LEN];

	/* ServerHello (the last one) */
	bool			 sh_seen;	/* a real one, not HRR */
	uint16_t		 sh_legacy;	/* its legacy_version */
	struct json_object	*sh_exts;	/* its extension types */
	bool			 hrr;
	uint16_t		 version;	/* negotiated */
	bool			 version_set;
	uint16_t		 cipher;
	bool			 cipher_set;
	bool			 sslv2;		/* pure SSL 2.0 session */
	uint32_t		 v2_cipher;	/* SSLv2 cipher kind, 0 if none */
	bool			 v2_cmk;	/* CLIENT-MASTER-KEY seen */
	char			 alpn_sel[TLS_SNI_MAX];
	bool			 alpn_sel_set;
	bool			 resumed;
	bool			 shd_seen;	/* ServerHelloDone */
	char			*ja3s;
	char			 ja3s_md5[33];
	bool			 null_cipher;
	uint8_t			 mac_len;
	int			 kx_group;	/* -1 unknown */
	int			 kx_dh_bits;
	bool			 client_cert;

	/* certificates (TLS <= 1.2 and SSLv2) */
	bool			 cert_seen;
	X509			*leaf;
	STACK_OF(X509)		*chain;		/* the rest, untrusted */
	struct json_object	*leaf_json;
	struct json_object	*chain_json;	/* ours, per certificate */
	struct json_object	*chain_b64;	/* the DER, base64, leaf first */
	struct json_object	*client_leaf;	/* the client's certificate */
	size_t			 x509_charge;	/* charged to flowmem for them */
	const char		*check_name;	/* points into sni or config */
	const char		*check_source;	/* sni, configured, none */
	const char		*check_result;

	/* alerts in the clear */
	struct json_object	*alerts;
	bool			 fatal_alert;

	/* NULL cipher, or decrypted (--keylog): the IMAP inside */
	struct iw_imap		*inner;

	/* decryption with the run's key log (--keylog; NULL without) */
	struct iw_tlsd		*tlsd;
	uint64_t		 keylog_gen;	/* key log generation looked at */
	iw_time			 wait_since;	/* packet time keys were missed */
	bool			 cert_decrypted; /* the leaf came decrypted */
	bool			 counted_decrypted; /* in stats once */
	bool			 counted_no_key;
	/* the server's certificate failed a definite check (name, dates,
	 * self-signed, --ca-file): a client that goes on accepted it */
	bool			 cert_bad;
	bool			 bad_cert_raised;
	bool			 client_next_seen; /* TLS <= 1.2: the client's
						 * record after its Finished */
};

/* tls.c */
void tls_anomaly(struct iw_tls *, enum tls_anomaly);
bool tls13(const struct iw_tls *);
void tls_decide_app(struct iw_tls *);

/* tls_hello.c */
void tls_handshake(struct iw_tls *, enum iw_dir, const uint8_t *, size_t);
void tls_hs_free(struct tls_dir *);
void tls_sslv2_msg(struct iw_tls *, enum iw_dir, struct iw_rd);
/* How a Certificate message lists certificates. */
enum tls_cert_form {
	TLS_CERTS_TLS12,	/* u24 length, DER */
	TLS_CERTS_SSLV2,	/* one DER, the whole list */
	TLS_CERTS_TLS13,	/* u24 length, DER, u16 length, extensions */
};
void tls_certificates(struct iw_tls *, struct iw_rd list,
    enum tls_cert_form);

/* tls_report.c */
void tls_client_hello_findings(struct iw_tls *);
void tls_server_hello_findings(struct iw_tls *);
void tls_cert_findings(struct iw_tls *);
void tls_failed(struct iw_tls *, const char *why, bool by_alert);
void tls_report_object(struct iw_tls *, struct json_object *ev);
void tls_name_check(struct iw_tls *);
/* The client sent application data: did it accept a bad certificate? */
void tls_client_went_on(struct iw_tls *);
/* Suricata's tls.version string of a version (SSLVersionToString). */
const char *tls_eve_version(uint16_t, char buf[24]);
/* Whether Suricata's table names it (TLSVersionValid: not 0, SSLv2). */
bool tls_eve_version_known(uint16_t);

#endif /* IW_TLS_INT_H */
