/*
 * memo.c - bounded LRU maps for facts kept across sessions.
 *
 * Chained hash table over a fixed array of entries (allocated as the map
 * fills, never past its cap) plus a recency list; the least recently used
 * entry is reused when full.
 */
#include <stdlib.h>
#include <string.h>

#include "iw.h"
#include "memo.h"

struct entry {
	struct entry	*next_hash;
	struct entry	*prev_lru, *next_lru;
	uint8_t		 kv[];		/* key, then value */
};

struct iw_memo {
	size_t		 cap, key_size, val_size, count, nbuckets;
	size_t		 user_key_size;	/* key_size is it rounded up */
	uint64_t	 evictions;
	struct entry	**buckets;
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

static struct entry **
find_slot(struct iw_memo *m, const void *key)
{
	struct entry **pp;

	pp = &m->buckets[iw_fnv1a(key, m->user_key_size) &
	    (m->nbuckets - 1)];
	while (*pp != NULL && memcmp((*pp)->kv, key, m->user_key_size) != 0)
		pp = &(*pp)->next_hash;
	return pp;
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
	struct entry *e = *find_slot(m, key);

	if (e == NULL)
		return NULL;
	lru_unlink(m, e);
	lru_push(m, e);
	return e->kv + m->key_size;
}

/* Takes the oldest entry out of the table, for reuse. */
static struct entry *
evict_oldest(struct iw_memo *m)
{
	struct entry *e = m->lru_head, **pp;

	lru_unlink(m, e);
	pp = find_slot(m, e->kv);
	*pp = e->next_hash;
	m->count--;
	m->evictions++;
	return e;
}

void *
iw_memo_put(struct iw_memo *m, const void *key)
{
	struct entry **pp = find_slot(m, key), *e = *pp;

	if (e != NULL) {
		lru_unlink(m, e);
		lru_push(m, e);
		return e->kv + m->key_size;
	}
	if (m->count >= m->cap) {
		e = evict_oldest(m);
		pp = find_slot(m, key);
	} else {
		e = malloc(sizeof(*e) + m->key_size + m->val_size);
		if (e == NULL)
			return NULL;
	}
	memset(e->kv, 0, m->key_size + m->val_size);
	memcpy(e->kv, key, m->user_key_size);
	e->next_hash = NULL;
	*pp = e;
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
