/* SPDX-License-Identifier: ISC */
/*
 * registry.c - the stream dissectors, in the order their probes are asked.
 * IMAP first: a cleartext greeting is decisive; TLS second.
 */
#include "dissector.h"

extern const struct iw_dissector iw_imap_dissector;
extern const struct iw_dissector iw_tls_dissector;

const struct iw_dissector *const iw_dissectors[] = {
	&iw_imap_dissector,
	&iw_tls_dissector,
	NULL
};
