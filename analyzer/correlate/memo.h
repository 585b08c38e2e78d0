/* SPDX-License-Identifier: ISC */
/*
 * memo.h - a bounded memory of small facts across sessions: which servers
 * offered STARTTLS, failed logins per client, the leaf key a server showed.
 *
 * Keys and values have a fixed size chosen at creation (callers zero the
 * padding of key structs).  When the table is full the least recently used
 * entry is evicted, so a flood of new keys costs a fixed amount of memory.
 */
#ifndef IW_MEMO_H
#define IW_MEMO_H

#include <stddef.h>
#include <stdint.h>

struct iw_memo;

struct iw_memo *iw_memo_new(size_t cap, size_t key_size, size_t val_size);

/* The value for key (and marks it recently used), or NULL. */
void *iw_memo_get(struct iw_memo *, const void *key);

/* The value for key, created zeroed if absent (evicting the oldest entry
 * when full); NULL only when out of memory. */
void *iw_memo_put(struct iw_memo *, const void *key);

size_t iw_memo_count(const struct iw_memo *);
uint64_t iw_memo_evictions(const struct iw_memo *);

void iw_memo_free(struct iw_memo *);

#endif /* IW_MEMO_H */
