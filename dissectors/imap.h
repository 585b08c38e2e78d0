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

/*
 * An IMAP state for the plaintext inside TLS: carried by NULL-cipher
 * records (flags 0), or decrypted with a key log (--keylog,
 * IW_IMAP_DECRYPTED): then what it sees is reported, credentials in it
 * are not findings (they travelled encrypted), failed logins still count
 * toward auth_bruteforce.  IW_IMAP_AFTER_STARTTLS: TLS began after
 * STARTTLS, not authenticated and without a greeting.
 */
#define IW_IMAP_DECRYPTED	0x1
#define IW_IMAP_AFTER_STARTTLS	0x2
struct iw_imap *iw_imap_new_inner(struct iw_session *, unsigned flags);


/* Same contract as struct iw_dissector's data/gap/end/report. */
size_t iw_imap_data(struct iw_imap *, enum iw_dir, const uint8_t *, size_t);
void iw_imap_gap(struct iw_imap *, enum iw_dir, uint64_t);
void iw_imap_end(struct iw_imap *, enum iw_end_reason);
/* Adds what the inner session saw ("imap" object) to the event. */
void iw_imap_report(struct iw_imap *, struct json_object *event);
void iw_imap_free(struct iw_imap *);

#endif /* IW_IMAP_H */
