/* SPDX-License-Identifier: ISC */
/*
 * findings.h - the findings catalogue (DESIGN.md): stable ids, stable
 * signature numbers, default severities.  The table is in
 * analyzer/findings.c; this enum and that table are the only place a finding
 * is defined.
 */
#ifndef IW_FINDINGS_H
#define IW_FINDINGS_H

enum iw_finding {
	/* IMAP and STARTTLS */
	IW_F_CLEARTEXT_LOGIN = 0,
	IW_F_CLEARTEXT_AUTH,
	IW_F_LOGIN_DESPITE_LOGINDISABLED,
	IW_F_LOGINDISABLED_MISSING,
	IW_F_STARTTLS_NOT_OFFERED,
	IW_F_STARTTLS_NOT_USED,
	IW_F_PREAUTH_ON_CLEARTEXT,
	IW_F_STARTTLS_REFUSED,
	IW_F_STARTTLS_FAILED,
	IW_F_STARTTLS_COMMAND_INJECTION,
	IW_F_STARTTLS_RESPONSE_INJECTION,
	IW_F_PLAINTEXT_AFTER_STARTTLS,
	IW_F_STARTTLS_STRIPPING_SUSPECTED,
	IW_F_CLEARTEXT_ON_IMAPS_PORT,
	IW_F_AUTH_BRUTEFORCE,
	/* TLS and certificates */
	IW_F_WEAK_CIPHER,
	IW_F_WEAK_CIPHER_OFFERED,
	IW_F_OBSOLETE_TLS_VERSION,
	IW_F_NO_FORWARD_SECRECY,
	IW_F_TLS_HANDSHAKE_FAILED,
	IW_F_CERT_NAME_MISMATCH,
	IW_F_CERT_EXPIRED,
	IW_F_CERT_NOT_YET_VALID,
	IW_F_CERT_SELF_SIGNED,
	IW_F_CERT_UNTRUSTED,
	IW_F_WEAK_KEY,
	IW_F_WEAK_SIGNATURE,
	IW_F_CERT_CHANGED,
	IW_F_NO_SNI,
	IW_F_COUNT
};

/*
 * Suricata's alert.gid and alert.rev: every finding is generator 1 (as
 * Suricata's own rules), revision 1 until a finding's meaning changes.
 */
#define IW_ALERT_GID	1
#define IW_ALERT_REV	1

/* Where a finding's evidence sits in the alert event. */
enum iw_layer {
	IW_LAYER_IMAP,
	IW_LAYER_TLS,
};

struct iw_finding_info {
	const char	*id;		/* stable: "cleartext_login" */
	int		 signature_id;	/* stable integer */
	int		 severity;	/* 1 high, 2 medium, 3 low */
	const char	*category;
	enum iw_layer	 layer;
	const char	*message;	/* one human sentence */
};

const struct iw_finding_info *iw_finding_info(enum iw_finding);

/* The finding with this id, or -1. */
int iw_finding_by_id(const char *id);

#endif /* IW_FINDINGS_H */
