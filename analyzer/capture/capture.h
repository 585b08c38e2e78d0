/* SPDX-License-Identifier: ISC */
/*
 * capture.h - where packets come from: saved captures (pcap, pcapng, also
 * on standard input) and live interfaces, through libpcap; pcapng files
 * whose interfaces have different link types, which libpcap 1.10 refuses,
 * through a small pcapng reader of our own (pcapng.c).
 */
#ifndef IW_CAPTURE_H
#define IW_CAPTURE_H

#include <stdio.h>

#include "iw.h"

struct iw_source;

struct iw_rawpkt {
	iw_time		 ts;
	const uint8_t	*data;
	uint32_t	 caplen;
	uint32_t	 wirelen;
	int		 linktype;
};

struct iw_live_opts {
	int		 snaplen;	/* 0: libpcap's default */
	int		 buffer_kib;	/* 0: libpcap's default */
	bool		 promisc;
};

enum iw_next {
	IW_NEXT_PACKET = 1,
	IW_NEXT_TIMEOUT = 0,	/* live: nothing within the read timeout */
	IW_NEXT_ERROR = -1,	/* message in iw_source_error() */
	IW_NEXT_EOF = -2,
};

/* Open a capture file ("-" for standard input); NULL with err set. */
struct iw_source *iw_source_open_file(const char *path, char *err,
    size_t errlen);
struct iw_source *iw_source_open_live(const char *iface,
    const struct iw_live_opts *, char *err, size_t errlen);

/* Compile and set a BPF filter; 0, or -1 with err set. */
int iw_source_set_filter(struct iw_source *, const char *expr, char *err,
    size_t errlen);

enum iw_next iw_source_next(struct iw_source *, struct iw_rawpkt *);
const char *iw_source_error(struct iw_source *);
const char *iw_source_name(const struct iw_source *);
bool iw_source_is_live(const struct iw_source *);

/* Kernel counters of a live capture; false when not available. */
bool iw_source_stats(struct iw_source *, uint64_t *received,
    uint64_t *dropped, uint64_t *ifdropped);

/* Make a blocked read return (from a signal handler). */
void iw_source_breakloop(struct iw_source *);

void iw_source_close(struct iw_source *);

/* ---- our own pcapng reader (pcapng.c) ---- */

struct iw_pcapng;

/* True if the file is pcapng and its interfaces use more than one link
 * type (libpcap cannot read it). */
bool iw_pcapng_mixed_linktypes(FILE *);

struct iw_pcapng *iw_pcapng_open(FILE *);
enum iw_next iw_pcapng_next(struct iw_pcapng *, struct iw_rawpkt *);
const char *iw_pcapng_error(const struct iw_pcapng *);
void iw_pcapng_close(struct iw_pcapng *);

#endif /* IW_CAPTURE_H */
