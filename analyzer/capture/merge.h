/* SPDX-License-Identifier: ISC */
/*
 * merge.h - several capture files read as one: packets in time order
 * across the files (a k-way merge, as mergecap does), so captures taken
 * side by side become one capture, and captures one after another are read
 * one after another.
 */
#ifndef IW_MERGE_H
#define IW_MERGE_H

#include "capture.h"

struct iw_merge;

/* Takes the sources (not their ownership); NULL when out of memory. */
struct iw_merge *iw_merge_new(struct iw_source **, int n);

/*
 * The earliest packet of all the sources' next ones (ties: the source
 * given first), valid until the next call; *which is its source's index.
 * IW_NEXT_ERROR: source *which failed (it is finished; the others go on:
 * call again); IW_NEXT_EOF: every source is finished.
 */
enum iw_next iw_merge_next(struct iw_merge *, struct iw_rawpkt *,
    int *which);

void iw_merge_free(struct iw_merge *);

#endif /* IW_MERGE_H */
