/* SPDX-License-Identifier: ISC */
/*
 * flowmem.h - memory that lives as long as a connection.
 *
 * Everything a flow allocates for itself (the flow, its reassembly ring and
 * held segments, its session, held bytes and dissector states, inflate
 * windows) is taken through these functions, so the run knows how much all
 * connections hold together.  Past --flow-memory the engine evicts the
 * least recently active flows (flow.c), as it does past --max-flows: a
 * hostile peer opening connections that each hold a little cannot make the
 * sensor grow without bound.
 */
#ifndef IW_FLOWMEM_H
#define IW_FLOWMEM_H

#include <stddef.h>
#include <stdint.h>

/* Zeroed memory of n bytes, counted; NULL when out of memory. */
void	*iw_flowmem_calloc(size_t n);

/* As realloc(3), counted; p may be NULL. */
void	*iw_flowmem_realloc(void *p, size_t n);

/* Frees what the two above returned; p may be NULL. */
void	 iw_flowmem_free(void *p);

/*
 * Memory a library allocated on a connection's behalf (OpenSSL's parsed
 * certificates): the caller's estimate, charged when taken (delta > 0) and
 * given back, the same amount, when freed.
 */
void	 iw_flowmem_charge(int64_t delta);

/* Bytes held now (headers included) and at the peak. */
uint64_t iw_flowmem_in_use(void);
uint64_t iw_flowmem_peak(void);

/* For zlib's zalloc/zfree hooks (opaque is unused). */
void	*iw_flowmem_zalloc(void *opaque, unsigned int items, unsigned int size);
void	 iw_flowmem_zfree(void *opaque, void *p);

#endif /* IW_FLOWMEM_H */
