/* SPDX-License-Identifier: ISC */
/*
 * memo.c - bounded LRU maps for facts kept across sessions.
 *
 * Chained hash table over entries allocated as the map fills, never past
 * its cap, plus a recency list; the least recently used entry is reused
 * when full.  Keys hold what the wire chose (client and server
 * addresses): buckets come from the keyed hash (siphash.h), and a chain
 * that reaches CHAIN_MAX gives up its least recently used entry, so no
 * lookup walks further whatever happens.
 */
#include <stdlib.h>
#include <string.h>

#include "hchain.h"
#include "iw.h"
#include "memo.h"
#include "siphash.h"
#include "stats.h"

#define CHAIN_MAX	16

struct entry {
	struct iw_hlink	 hlink;		/* first member */
	struct entry	*prev_lru, *next_lru;
	uint64_t	 used;		/* the map's clock at the last use */
	uint8_t		 kv[];		/* key, then value */
};

struct iw_memo {
	size_t		 cap, key_size, val_size, count, nbuckets;
	size_t		 user_key_size;	/* key_size is it rounded up */
	uint64_t	 evictions;
	uint64_t	 clock;
	struct iw_hlink	**buckets;
	struct entry	*lru_head;	/* oldest */
	struct entry	*lru_tail;	/* newest */
};

struct iw_memo *
iw_memo_new(size_t cap, size_t key_size, size_t val_size)
{
	struct iw_memo *m;

	if (cap == 0)
		cap = 1;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->cap = cap;
	/* values start after the key: keep them 8-byte aligned */
	m->key_size = (key_size + 7) & ~(size_t)7;
	m->user_key_size = key_size;
	m->val_size = val_size;
	m->nbuckets = 64;
	while (m->nbuckets < cap && m->nbuckets < (1u << 20))
		m->nbuckets *= 2;
	m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
	if (m->buckets == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

static struct iw_hlink **
bucket_of(struct iw_memo *m, const void *key)
{
	return &m->buckets[iw_hash_bytes(key, m->user_key_size) &
	    (m->nbuckets - 1)];
}

/* The entry of key in its chain, or NULL; *chain_len when not found. */
static struct entry *
find(struct iw_memo *m, struct iw_hlink **head, const void *key,
    size_t *chain_len)
{
	struct iw_hlink *l;
	struct entry *e;
	size_t n = 0;

	for (l = *head; l != NULL; l = l->next) {
		n++;
		e = (struct entry *)l;
		if (memcmp(e->kv, key, m->user_key_size) == 0) {
			iw_stats_chain(IW_TABLE_MEMO, n);
			return e;
		}
	}
	iw_stats_chain(IW_TABLE_MEMO, n);
	*chain_len = n;
	return NULL;
}

static void
lru_unlink(struct iw_memo *m, struct entry *e)
{
	if (e->prev_lru)
		e->prev_lru->next_lru = e->next_lru;
	else
		m->lru_head = e->next_lru;
	if (e->next_lru)
		e->next_lru->prev_lru = e->prev_lru;
	else
		m->lru_tail = e->prev_lru;
	e->prev_lru = e->next_lru = NULL;
}

static void
lru_push(struct iw_memo *m, struct entry *e)
{
	e->used = ++m->clock;
	e->prev_lru = m->lru_tail;
	e->next_lru = NULL;
	if (m->lru_tail)
		m->lru_tail->next_lru = e;
	else
		m->lru_head = e;
	m->lru_tail = e;
}

void *
iw_memo_get(struct iw_memo *m, const void *key)
{
	size_t n;
	struct entry *e = find(m, bucket_of(m, key), key, &n);

	if (e == NULL)
		return NULL;
	lru_unlink(m, e);
	lru_push(m, e);
	return e->kv + m->key_size;
}

/* Takes an entry out of the table, for reuse. */
static struct entry *
take(struct iw_memo *m, struct entry *e)
{
	lru_unlink(m, e);
	iw_hchain_del(&e->hlink);
	m->count--;
	m->evictions++;
	return e;
}

static bool
less_recent(const struct iw_hlink *a, const struct iw_hlink *b)
{
	return ((const struct entry *)a)->used <
	    ((const struct entry *)b)->used;
}

/* The least recently used entry of a full chain. */
static struct entry *
chain_oldest(struct iw_hlink *chain)
{
	iw_stats.tables[IW_TABLE_MEMO].chain_evictions++;
	return (struct entry *)iw_hchain_first(chain, less_recent);
}

void *
iw_memo_put(struct iw_memo *m, const void *key)
{
	struct iw_hlink **head = bucket_of(m, key);
	struct entry *e;
	size_t n;

	if ((e = find(m, head, key, &n)) != NULL) {
		lru_unlink(m, e);
		lru_push(m, e);
		return e->kv + m->key_size;
	}
	if (n >= CHAIN_MAX)
		e = take(m, chain_oldest(*head));
	else if (m->count >= m->cap)
		e = take(m, m->lru_head);
	else if ((e = malloc(sizeof(*e) + m->key_size + m->val_size)) ==
	    NULL)
		return NULL;
	memset(e->kv, 0, m->key_size + m->val_size);
	memcpy(e->kv, key, m->user_key_size);
	iw_hchain_add(head, &e->hlink);
	lru_push(m, e);
	m->count++;
	return e->kv + m->key_size;
}

size_t
iw_memo_count(const struct iw_memo *m)
{
	return m->count;
}

uint64_t
iw_memo_evictions(const struct iw_memo *m)
{
	return m->evictions;
}

void
iw_memo_free(struct iw_memo *m)
{
	struct entry *e, *next;

	if (m == NULL)
		return;
	for (e = m->lru_head; e != NULL; e = next) {
		next = e->next_lru;
		free(e);
	}
	free(m->buckets);
	free(m);
}
