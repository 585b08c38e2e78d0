/* SPDX-License-Identifier: ISC */
/*
 * hchain.h - the chain of one hash bucket, doubly linked so that an entry
 * leaves it in constant time (a walk from the bucket to find the entry
 * made every removal, and so shutdown, quadratic in a long chain).
 *
 * An entry embeds a struct iw_hlink as its FIRST member, so that a link
 * pointer is also a pointer to the entry (C11 6.7.2.1).  Buckets are
 * arrays of struct iw_hlink * (NULL: empty).
 */
#ifndef IW_HCHAIN_H
#define IW_HCHAIN_H

#include <stdbool.h>
#include <stddef.h>

struct iw_hlink {
	struct iw_hlink	 *next;
	struct iw_hlink	**pprev;	/* what points to this link */
};

static inline void
iw_hchain_add(struct iw_hlink **head, struct iw_hlink *l)
{
	l->next = *head;
	if (*head != NULL)
		(*head)->pprev = &l->next;
	l->pprev = head;
	*head = l;
}

static inline void
iw_hchain_del(struct iw_hlink *l)
{
	*l->pprev = l->next;
	if (l->next != NULL)
		l->next->pprev = l->pprev;
	l->next = NULL;
	l->pprev = NULL;
}

/*
 * The link of a (non-empty) chain that `before` puts first: the oldest or
 * least recently used entry, the one a full chain gives up.
 */
static inline struct iw_hlink *
iw_hchain_first(struct iw_hlink *chain,
    bool (*before)(const struct iw_hlink *, const struct iw_hlink *))
{
	struct iw_hlink *l, *first = chain;

	for (l = chain->next; l != NULL; l = l->next)
		if (before(l, first))
			first = l;
	return first;
}

#endif /* IW_HCHAIN_H */
