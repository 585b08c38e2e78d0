/* SPDX-License-Identifier: ISC */
/*
 * tls.h - the TLS dissector as other dissectors use it.
 *
 * The IMAP dissector creates one of these when the server accepts STARTTLS
 * and forwards the bytes after the hand-off to it; the registry's TLS
 * dissector (implicit TLS, --all-tls) wraps the same state.  The TLS state
 * fills the session event's top-level "tls" object and raises the TLS
 * findings itself.
 */
#ifndef IW_TLS_H
#define IW_TLS_H

#include "iw.h"

struct iw_session;
struct iw_tls;
struct json_object;

enum iw_tls_origin {
	IW_TLS_STARTTLS,	/* after an IMAP STARTTLS: starttls_failed is
				 * the IMAP side's, never tls_handshake_failed */
	IW_TLS_IMPLICIT,	/* IMAPS: TLS from the first byte */
	IW_TLS_OTHER,		/* any other TLS stream (--all-tls) */
};

struct iw_tls *iw_tls_new(struct iw_session *, enum iw_tls_origin);

/* Same contract as struct iw_dissector's data/gap/end/report. */
size_t iw_tls_data(struct iw_tls *, enum iw_dir, const uint8_t *, size_t);
void iw_tls_gap(struct iw_tls *, enum iw_dir, uint64_t);
void iw_tls_end(struct iw_tls *, enum iw_end_reason);
void iw_tls_report(struct iw_tls *, struct json_object *event);
void iw_tls_free(struct iw_tls *);

/* Both sides completed the handshake (DESIGN.md's passive rule). */
bool iw_tls_established(const struct iw_tls *);

/* Could these first bytes of a direction start a TLS (or SSLv2) stream?
 * IW_PROBE_* values (dissector.h). */
int iw_tls_probe_bytes(const uint8_t *, size_t);

#endif /* IW_TLS_H */
