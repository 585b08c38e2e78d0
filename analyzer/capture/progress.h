/* SPDX-License-Identifier: ISC */
/*
 * progress.h - a progress line on standard error while reading capture
 * files, only when standard error is a terminal: bytes read, percentage
 * (when the sizes are known), rate and packets; redrawn at most four
 * times a second, the first time after half a second, erased at the end.
 */
#ifndef IW_PROGRESS_H
#define IW_PROGRESS_H

#include <stdint.h>

/* total: bytes of all inputs, 0 when unknown (a pipe). */
void iw_progress_start(uint64_t total);

/* One packet read, taking this many bytes of its file. */
void iw_progress_packet(uint64_t bytes);

/* Erase the line (before writing anything else to standard error). */
void iw_progress_clear(void);

/* The end: erase the line and stop. */
void iw_progress_stop(void);

#endif /* IW_PROGRESS_H */
