/* SPDX-License-Identifier: ISC */
/*
 * imap_internal.h - the IMAP dissector's private state, shared by
 * imap.c (dissector glue, STARTTLS and COMPRESS hand-offs), imap_parse.c
 * (line framing, tokens, commands and responses), imap_sasl.c (usernames
 * from SASL exchanges), imap_find.c (findings and cross-session memory),
 * imap_compress.c (inflate) and imap_report.c (the session event).
 *
 * Everything is sized at creation: the parser never allocates per packet
 * and never copies a literal body, a password or a whole SASL response.
 */
#ifndef IW_IMAP_INTERNAL_H
#define IW_IMAP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iw.h"
#include "findings.h"

struct iw_session;
struct iw_tls;
struct json_object;
struct z_stream_s;

#define IMAP_LINE_MAX		8192	/* longer lines: prefix parsed, rest
					 * discarded */
#define IMAP_PROBE_LINE		512	/* a probe decides within this */
#define IMAP_TAG_MAX		64	/* tag bytes kept (matched on these
					 * and the full length) */
#define IMAP_OUTSTANDING	64	/* commands awaiting their tagged
					 * response */
#define IMAP_AUTH_MAX		8	/* authentication attempts kept */
#define IMAP_USER_MAX		128
#define IMAP_MECH_MAX		32
#define IMAP_CODE_MAX		32
#define IMAP_TEXT_MAX		256
#define IMAP_CAPS_MAX		1024	/* bytes of one capability list */
#define IMAP_ID_MAX		8	/* ID fields kept a side */
#define IMAP_ID_KEY_MAX		32
#define IMAP_ID_VAL_MAX		128
#define IMAP_LITREAD_MAX	256	/* literals read for their value */
#define IMAP_TIMELINE_MAX	32
#define IMAP_INJ_NAMES		8
#define IMAP_INJ_TAG		32	/* injected tags kept (longer: none) */
#define IMAP_UNKNOWN_NAMES	8
#define IMAP_NAME_MAX		24	/* command names */
#define IMAP_TAIL		24	/* tail of a discarded long line */
#define IMAP_ZBUF		(IMAP_LINE_MAX + 16384)	/* inflated bytes held */
#define IMAP_SASL_DECODE_MAX	4096	/* decoded SASL bytes looked at */

/* Commands we know by name; the order is the by_name table's. */
enum imap_cmd {
	C_APPEND = 0, C_AUTHENTICATE, C_CAPABILITY, C_CHECK, C_CLOSE,
	C_COMPRESS, C_COPY, C_CREATE, C_DELETE, C_DELETEACL, C_ENABLE,
	C_EXAMINE, C_EXPUNGE, C_FETCH, C_GETACL, C_GETMETADATA, C_GETQUOTA,
	C_GETQUOTAROOT, C_ID, C_IDLE, C_LIST, C_LISTRIGHTS, C_LOGIN,
	C_LOGOUT, C_LSUB, C_MOVE, C_MYRIGHTS, C_NAMESPACE, C_NOOP, C_NOTIFY,
	C_RENAME, C_REPLACE, C_SEARCH, C_SELECT, C_SETACL, C_SETMETADATA,
	C_SETQUOTA, C_SORT, C_STARTTLS, C_STATUS, C_STORE, C_SUBSCRIBE,
	C_THREAD, C_UID, C_UNAUTHENTICATE, C_UNSELECT, C_UNSUBSCRIBE,
	C_XLIST,
	C_COUNT,
	C_UNKNOWN = C_COUNT
};

enum imap_state {
	S_UNKNOWN = 0,		/* picked up mid-stream, or after a gap */
	S_NOTAUTH,
	S_AUTH,
	S_SELECTED,
	S_LOGOUT,
};

enum imap_status { ST_NONE = 0, ST_OK, ST_NO, ST_BAD, ST_PREAUTH, ST_BYE };

/* What a direction's bytes are. */
enum imap_xmode {
	X_IMAP = 0,		/* IMAP lines, cleartext */
	X_HOLD,			/* client, after STARTTLS: held until the
				 * server answers */
	X_INJECTED,		/* client, after OK: bytes sent before it */
	X_TLS_FIRST,		/* after OK: the next bytes say TLS or not */
	X_PLAIN_AFTER,		/* after OK but not TLS: IMAP lines, TLS
				 * looked for at each line start */
	X_TLS,			/* handed to the TLS dissector */
	X_DEFLATE,		/* IMAP lines under COMPRESS=DEFLATE */
	X_OFF,			/* nothing more is looked at */
};

/* Where the line parser is in a direction. */
enum imap_pmode {
	P_LINE = 0,		/* at a line (or segment) start */
	P_LITREAD,		/* reading a small literal for its value */
	P_DISCARD,		/* discarding the rest of an over-long line */
};

/* What the logical line being parsed is. */
enum imap_lkind {
	LK_NONE = 0,
	LK_CMD,			/* a client command */
	LK_GENERIC,		/* a server response we only frame */
	LK_CAPS,		/* * CAPABILITY */
	LK_ID,			/* * ID */
};

enum imap_tok {
	T_END = 0,
	T_ATOM,
	T_QUOTED,		/* p/n: between the quotes, escapes kept */
	T_LPAREN,
	T_RPAREN,
	T_LITERAL,		/* {n} {n+} ~{n} ~{n+} ending the segment */
	T_BADQUOTE,		/* a quoted string the segment cut */
	T_LITVAL,		/* a small literal's value (litbuf) */
	T_LITSKIP,		/* a literal that was skipped */
};

struct imap_token {
	enum imap_tok	 t;
	const uint8_t	*p;
	size_t		 n;
	uint64_t	 lit;
	bool		 partial;	/* cut by a truncated segment */
	bool		 badlit;	/* "{...}" ending the segment, not a
					 * valid literal */
};

/* SASL mechanisms that matter to us. */
enum sasl_mech {
	M_UNKNOWN = 0, M_PLAIN, M_LOGIN, M_XOAUTH2, M_OAUTHBEARER,
	M_CRAM_MD5, M_DIGEST_MD5, M_SCRAM, M_NTLM, M_ANONYMOUS, M_EXTERNAL,
	M_GSSAPI, M_GS2_KRB5,
};

enum sasl_chal { CH_NONE = 0, CH_USER, CH_PASS, CH_OTHER };

struct imap_caps {
	bool		 seen;
	bool		 truncated;	/* the line was cut: absences unknown */
	bool		 overflow;	/* more than buf holds (report only) */
	bool		 starttls;
	bool		 logindisabled;
	uint16_t	 count;
	uint16_t	 len;
	char		 buf[IMAP_CAPS_MAX];	/* NUL-separated, raw */
};

struct imap_auth {
	uint32_t	 serial;	/* 1-based; 0 = unused slot */
	int16_t		 cmd;		/* C_LOGIN or C_AUTHENTICATE */
	uint8_t		 mech;		/* enum sasl_mech */
	uint8_t		 status;	/* enum imap_status */
	bool		 has_user;
	bool		 sasl_ir;
	bool		 raised;	/* its cleartext finding was handled */
	bool		 injected;	/* sent before the OK to STARTTLS */
	bool		 after_starttls; /* plaintext after the OK */
	uint16_t	 taglen;
	uint16_t	 userlen;
	uint16_t	 authzlen;
	uint8_t		 mechlen;
	uint8_t		 codelen;
	uint8_t		 tag[IMAP_TAG_MAX];
	char		 mechname[IMAP_MECH_MAX];
	char		 code[IMAP_CODE_MAX];
	uint8_t		 user[IMAP_USER_MAX];
	uint8_t		 authzid[IMAP_USER_MAX];
};

struct imap_pending {
	uint64_t	 seq;		/* 0: free */
	int16_t		 cmd;
	uint8_t		 inj;		/* 1 + its index among the injected
					 * commands (inner), 0: the client's */
	uint16_t	 taglen;	/* full length, capped */
	uint32_t	 auth;		/* auth serial, 0 none */
	uint8_t		 tag[IMAP_TAG_MAX];
};

struct imap_idfield {
	uint8_t		 klen;
	uint8_t		 vlen;
	bool		 nil;
	char		 key[IMAP_ID_KEY_MAX];
	uint8_t		 val[IMAP_ID_VAL_MAX];
};

struct imap_id {
	bool			seen;
	bool			nil;
	uint8_t			n;
	struct imap_idfield	f[IMAP_ID_MAX];
};

struct imap_sasl {
	bool		 active;
	uint8_t		 mech;
	uint8_t		 last_chal;	/* enum sasl_chal */
	uint32_t	 auth;		/* auth serial */
	uint32_t	 challenges;	/* unanswered server challenges */
	uint32_t	 responses;
};

/* The logical line (a command or response, across its literals). */
struct imap_line {
	uint8_t		 kind;		/* enum imap_lkind */
	int16_t		 cmd;
	uint16_t	 argi;
	uint16_t	 depth;
	uint32_t	 auth;		/* auth serial of a LOGIN/AUTHENTICATE */
	bool		 truncated;	/* some segment was over-long */
	bool		 deflate;	/* COMPRESS DEFLATE */
	bool		 id_have_key;
	uint8_t		 id_klen;
	uint16_t	 taglen;
	char		 id_key[IMAP_ID_KEY_MAX];
	uint8_t		 tag[IMAP_TAG_MAX];
};

struct imap_dir {
	uint8_t		 x;		/* enum imap_xmode */
	uint8_t		 p;		/* enum imap_pmode */
	bool		 cont;		/* the next segment continues the line */
	bool		 resync;	/* after a gap: find a line start */
	bool		 lit_value;	/* the literal being read is wanted */
	uint8_t		 taillen;
	uint32_t	 litwant;
	uint32_t	 litlen;
	uint64_t	 want_skip;	/* literal following this unit */
	uint64_t	 skip;		/* internal skip (inner, inflated) */
	uint64_t	 lines;
	uint64_t	 discarded;	/* of the over-long line */
	struct imap_line line;
	uint8_t		 tail[IMAP_TAIL];
	uint8_t		 litbuf[IMAP_LITREAD_MAX];

	/* STARTTLS, client side */
	size_t		 held;		/* bytes held at the last delivery */
	size_t		 held_inj;	/* of which injected (before TLS) */
	uint64_t	 held_scan;	/* held bytes scanned for commands */
	bool		 held_tls;	/* ... and TLS found at held_inj */
	uint64_t	 inj_left;	/* after OK: injected bytes to pass */
	uint64_t	 plain;		/* bytes parsed in X_PLAIN_AFTER */

	/* COMPRESS */
	struct z_stream_s *z;
	uint8_t		*zbuf;
	size_t		 zlen;
};

struct imap_timeline {
	iw_time		 ts;
	const char	*ev;
};

struct imap_unknown_name {
	char		 name[IMAP_NAME_MAX];
	uint64_t	 count;
};

struct iw_imap {
	struct iw_session *s;
	struct iw_tls	*tls;
	bool		 inner;		/* plaintext inside NULL-cipher TLS */
	bool		 decrypted;	/* ... or decrypted with a key log */
	uint64_t	 serial;	/* this session, for the memo */
	uint8_t		 state;		/* enum imap_state */
	bool		 imaps_checked;
	uint32_t	 anomalies;	/* bit per kind, once a session */

	/* server posture */
	bool		 greeting_seen;
	uint8_t		 greeting_status;
	uint16_t	 greeting_textlen;
	uint8_t		 greeting_text[IMAP_TEXT_MAX];
	struct imap_caps greeting_caps;
	struct imap_caps caps;		/* pre-TLS, not authenticated */
	struct imap_caps caps_after;	/* after login */
	struct imap_caps scratch;	/* the list being parsed */
	struct imap_caps deferred;	/* seen while LOGIN/AUTHENTICATE was
					 * unanswered: its OK or NO decides */
	bool		 starttls_offered;
	bool		 logindisabled;	/* seen in the cleartext phase */
	bool		 phase_logindisabled; /* ... and still current */

	/* STARTTLS */
	bool		 starttls_requested;
	bool		 starttls_ok;	/* the server said OK */
	bool		 starttls_pending;
	uint8_t		 starttls_status;
	uint8_t		 starttls_codelen;
	uint16_t	 starttls_taglen;
	uint16_t	 starttls_textlen;
	uint8_t		 starttls_tag[IMAP_TAG_MAX];
	char		 starttls_code[IMAP_CODE_MAX];
	uint8_t		 starttls_text[IMAP_TEXT_MAX];
	uint64_t	 injected_bytes;
	uint64_t	 injected_consumed;	/* consumed while holding */
	bool		 client_after_ok;	/* the client spoke after OK */
	bool		 response_injected;	/* the server spoke first,
						 * not TLS */
	uint8_t		 n_inj;
	uint32_t	 inj_total;
	int8_t		 inj_cmd[IMAP_INJ_NAMES];
	uint8_t		 inj_taglen[IMAP_INJ_NAMES];	/* 0: too long */
	uint8_t		 inj_tag[IMAP_INJ_NAMES][IMAP_INJ_TAG];
	/* inner: the server's answer to each, inside TLS (0: none) */
	uint8_t		 inj_status[IMAP_INJ_NAMES];
	bool		 inj_seeded;	/* the outer's were given */
	bool		 inj_alert_held;	/* outer: until the inner knows */
	struct iw_imap	*outer;		/* inner after STARTTLS: the outer */

	/* COMPRESS */
	bool		 compressed;
	bool		 compress_failed;

	/* commands and responses */
	struct imap_pending pend[IMAP_OUTSTANDING];
	uint64_t	 pend_seq;
	uint64_t	 pend_evicted;
	uint64_t	 unmatched;
	struct imap_auth auth[IMAP_AUTH_MAX];
	uint32_t	 auth_total;
	struct imap_sasl sasl;
	bool		 idle;
	struct imap_id	 id_client;
	struct imap_id	 id_server;
	uint64_t	 commands;
	uint64_t	 by_cmd[C_COUNT];
	struct imap_unknown_name unknown[IMAP_UNKNOWN_NAMES];
	uint64_t	 other_names;
	uint64_t	 literals;
	uint64_t	 literal_bytes;
	uint64_t	 long_lines;
	uint64_t	 unparsed;

	struct imap_timeline timeline[IMAP_TIMELINE_MAX];
	uint8_t		 n_timeline;
	uint32_t	 timeline_dropped;

	struct imap_dir	 dir[2];
};

/* Anomaly kinds, reported once a session each. */
enum imap_anomaly {
	A_NUL_IN_LINE = 0,
	A_BAD_LITERAL,
	A_UNTERMINATED_QUOTED,
	A_LINE_TOO_LONG,
	A_INFLATE_FAILED,
	A_STARTTLS_GAP,
	A_TOO_MANY_COMMANDS,
	A_INFLATE_LIMIT,
};

/* ---- imap.c ---- */
void	imap_anomaly(struct iw_imap *, enum imap_anomaly);
void	imap_timeline(struct iw_imap *, const char *);
void	imap_starttls_answer(struct iw_imap *, uint8_t status);
void	imap_compress_start(struct iw_imap *);
size_t	imap_feed_internal(struct iw_imap *, enum iw_dir, const uint8_t *,
	    size_t);

/* ---- imap_parse.c: framing ---- */
size_t	imap_parse_unit(struct iw_imap *, enum iw_dir, const uint8_t *,
	    size_t);
void	imap_parse_reset(struct iw_imap *, enum iw_dir);

/* ---- imap_proto.c: commands and responses ---- */
bool	imap_client_segment(struct iw_imap *, const uint8_t *, size_t,
	    bool truncated, struct imap_token *lit);
bool	imap_server_segment(struct iw_imap *, const uint8_t *, size_t,
	    bool truncated, struct imap_token *lit);
void	imap_line_token(struct iw_imap *, enum iw_dir,
	    const struct imap_token *);
bool	imap_line_wants_value(const struct iw_imap *, enum iw_dir);
void	imap_line_finish(struct iw_imap *, enum iw_dir);

/* ---- imap_lex.c ---- */
bool	imap_word_eq(const uint8_t *, size_t, const char *);
void	imap_next_token(const uint8_t *, size_t, size_t *,
	    struct imap_token *, bool truncated);
size_t	imap_unquote(const uint8_t *, size_t, uint8_t *, size_t);
int	imap_cmd_lookup(const uint8_t *, size_t);
const char *imap_cmd_name(int);
bool	imap_tag_char(uint8_t);
/* IW_PROBE_* for one line (without its LF) of each direction. */
int	imap_probe_server_line(const uint8_t *, size_t, bool complete);
int	imap_probe_client_line(const uint8_t *, size_t, bool complete);
const char *imap_status_name(uint8_t);
const char *imap_state_name(uint8_t);

/* ---- imap_sasl.c ---- */
int	imap_sasl_mech(const uint8_t *, size_t);
int	imap_sasl_severity(int mech);
size_t	imap_b64_decode(const uint8_t *, size_t, uint8_t *, size_t);
int	imap_sasl_challenge(const uint8_t *, size_t);
void	imap_sasl_response(struct imap_auth *, struct imap_sasl *,
	    const uint8_t *, size_t, bool ir);
size_t	imap_sasl_ntlm_user(const uint8_t *, size_t, uint8_t *, size_t);

/* ---- imap_find.c ---- */
enum imap_caps_ctx { CAPS_BY_STATE, CAPS_AFTER_LOGIN };
struct imap_auth *imap_auth_new(struct iw_imap *, int cmd, const uint8_t *tag,
	    size_t taglen);
struct imap_auth *imap_auth_get(struct iw_imap *, uint32_t serial);
void	imap_auth_raise(struct iw_imap *, struct imap_auth *);
void	imap_auth_flush(struct iw_imap *);
void	imap_auth_failed(struct iw_imap *, struct imap_auth *);
void	imap_login_checks(struct iw_imap *, int cmd, const uint8_t *tag,
	    size_t taglen, const struct imap_auth *);
void	imap_caps_seen(struct iw_imap *, const struct imap_caps *,
	    enum imap_caps_ctx);
void	imap_raise_simple(struct iw_imap *, enum iw_finding,
	    struct json_object *);
struct json_object *imap_evidence(struct iw_imap *, const uint8_t *tag,
	    size_t taglen, const char *command);
void	imap_json_caps(struct json_object *, const char *,
	    const struct imap_caps *);
void	imap_add_str(struct json_object *, const char *, const void *,
	    size_t);

/* ---- imap_compress.c ---- */
size_t	imap_inflate(struct iw_imap *, enum iw_dir, const uint8_t *, size_t);
void	imap_inflate_free(struct imap_dir *);

/* ---- imap_report.c ---- */
void	imap_report_full(struct iw_imap *, struct json_object *ev);
void	imap_report_inner(struct iw_imap *, struct json_object *ev);
struct json_object *imap_injected_answers(const struct iw_imap *inner);
void	imap_injection_check(struct iw_imap *inner, bool client_spoke);
void	imap_inner_injected(struct iw_imap *inner, struct iw_imap *outer);
void	imap_injection_settle(struct iw_imap *outer,
	    const struct iw_imap *inner);

#endif /* IW_IMAP_INTERNAL_H */
