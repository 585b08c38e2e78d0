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
	int		 timeout_ms;	/* 0: 100 */
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

/*
 * Live, one of several handles on an interface (fanout.c): the handle
 * stops blocking and its socket joins the PACKET_FANOUT group *group
 * (0: a new group, which is then stored there for the next handles;
 * NULL: none, the only handle).  0, or -1 with err.
 */
int iw_source_join_fanout(struct iw_source *, unsigned *group, char *err,
    size_t errlen);
/* The descriptor to poll for a live handle's next packets. */
int iw_source_fd(struct iw_source *);

void iw_source_close(struct iw_source *);

/* ---- several live handles read as one (fanout.c) ---- */

struct iw_fanout;

/*
 * The read timeout of a handle in a fanout group: Linux hands a handle's
 * packets over a block at a time, when it is full or this old (rounded
 * up to a timer tick, and up to two ticks late), and fanout.c waits that
 * long for a quiet handle before it gives a busy one's packets.
 */
#define IW_FANOUT_BLOCK_MS	2

/*
 * Joins the n live sources (opened on one interface, filters set) in one
 * PACKET_FANOUT group, so the kernel spreads the interface's packets over
 * their buffers (n = 1: none, the handle is only read without blocking);
 * takes the sources, not their ownership.  NULL with err.
 */
struct iw_fanout *iw_fanout_new(struct iw_source **, int n, char *err,
    size_t errlen);

/*
 * The oldest of the handles' next packets, valid until the next call;
 * *which is its handle's index.  Waits at most timeout_ms for one (and
 * less when a signal comes): IW_NEXT_TIMEOUT.  IW_NEXT_ERROR: handle
 * *which failed.
 */
enum iw_next iw_fanout_next(struct iw_fanout *, struct iw_rawpkt *,
    int *which, int timeout_ms);

void iw_fanout_free(struct iw_fanout *);

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
