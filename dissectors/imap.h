/* SPDX-License-Identifier: ISC */
/*
 * imap.h - the IMAP dissector as other dissectors use it.
 *
 * The TLS dissector feeds the plaintext of a NULL-cipher session to an
 * inner IMAP state, so credentials sent inside it are flagged like
 * cleartext ones (with evidence saying they were inside NULL-cipher TLS).
 */
#ifndef IW_IMAP_H
#define IW_IMAP_H

#include "iw.h"

struct iw_session;
struct iw_imap;
struct json_object;

/* An IMAP state for the plaintext carried by NULL-cipher TLS records. */
struct iw_imap *iw_imap_new_inner(struct iw_session *);

/* Same contract as struct iw_dissector's data/gap/end/report. */
size_t iw_imap_data(struct iw_imap *, enum iw_dir, const uint8_t *, size_t);
void iw_imap_gap(struct iw_imap *, enum iw_dir, uint64_t);
void iw_imap_end(struct iw_imap *, enum iw_end_reason);
/* Adds what the inner session saw ("imap" object) to the event. */
void iw_imap_report(struct iw_imap *, struct json_object *event);
void iw_imap_free(struct iw_imap *);

#endif /* IW_IMAP_H */
