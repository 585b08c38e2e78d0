/* SPDX-License-Identifier: ISC */
/*
 * siphash.c - SipHash-c-d as the paper describes it (section 2), and the
 * process key of the tables (see siphash.h).
 */
#include <endian.h>
#include <errno.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "siphash.h"

struct sipstate {
	uint64_t	v0, v1, v2, v3;
};

static inline uint64_t
rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline void
sipround(struct sipstate *s)
{
	s->v0 += s->v1;
	s->v1 = rotl(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotl(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = rotl(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = rotl(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = rotl(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotl(s->v2, 32);
}

static inline void
compress(struct sipstate *s, uint64_t m, int c)
{
	int i;

	s->v3 ^= m;
	for (i = 0; i < c; i++)
		sipround(s);
	s->v0 ^= m;
}

/*
 * The message as little-endian 64-bit words; the last word holds the
 * 0 to 7 bytes left over and, in its top byte, the length mod 256.
 */
static inline uint64_t
siphash(const struct iw_sipkey *k, const uint8_t *p, size_t n, int c, int d)
{
	struct sipstate s;
	uint64_t m, last = (uint64_t)(n & 0xff) << 56;
	size_t i, left = n & 7;

	s.v0 = k->k0 ^ 0x736f6d6570736575ULL;		/* "somepseu" */
	s.v1 = k->k1 ^ 0x646f72616e646f6dULL;		/* "dorandom" */
	s.v2 = k->k0 ^ 0x6c7967656e657261ULL;		/* "lygenera" */
	s.v3 = k->k1 ^ 0x7465646279746573ULL;		/* "tedbytes" */
	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&m, p + i, 8);
		compress(&s, le64toh(m), c);
	}
	for (i = 0; i < left; i++)
		last |= (uint64_t)p[n - left + i] << (8 * i);
	compress(&s, last, c);
	s.v2 ^= 0xff;
	for (i = 0; i < (size_t)d; i++)
		sipround(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

uint64_t
iw_siphash24(const struct iw_sipkey *k, const void *p, size_t n)
{
	return siphash(k, p, n, 2, 4);
}

uint64_t
iw_siphash13(const struct iw_sipkey *k, const void *p, size_t n)
{
	return siphash(k, p, n, 1, 3);
}

/* ---- the process key ---- */

static struct iw_sipkey process_key;
static bool key_ready;

static bool
random_key(uint8_t buf[16])
{
	ssize_t got;

	do
		got = getrandom(buf, 16, 0);
	while (got < 0 && errno == EINTR);
	if (got == 16)
		return true;
	/* a kernel before 3.17, or a seccomp filter: OpenSSL's generator */
	return RAND_bytes(buf, 16) == 1;
}

void
iw_hash_init(void)
{
	uint8_t buf[16];
	struct timespec ts;

	if (key_ready)
		return;
	if (!random_key(buf)) {
		/* never seen in practice; the tables still work, and their
		 * chain caps still bound the cost of a guessed key */
		fprintf(stderr, "imapwatch: no random source for the hash "
		    "key; using the clock\n");
		clock_gettime(CLOCK_REALTIME, &ts);
		memcpy(buf, &ts, sizeof(ts) < 16 ? sizeof(ts) : 16);
		buf[0] ^= (uint8_t)getpid();
	}
	memcpy(&process_key.k0, buf, 8);
	memcpy(&process_key.k1, buf + 8, 8);
	process_key.k0 = le64toh(process_key.k0);
	process_key.k1 = le64toh(process_key.k1);
	explicit_bzero(buf, sizeof(buf));
	key_ready = true;
}

uint64_t
iw_hash_bytes(const void *p, size_t n)
{
	if (!key_ready)
		iw_hash_init();
	return siphash(&process_key, p, n, 1, 3);
}

uint64_t
iw_hash_u64(uint64_t v)
{
	uint8_t b[8];

	v = htole64(v);
	memcpy(b, &v, 8);
	return iw_hash_bytes(b, 8);
}

void
iw_endpoints_key(uint8_t out[IW_ENDPOINTS_KEY_LEN], const struct iw_addr *a,
    uint16_t pa, const struct iw_addr *b, uint16_t pb)
{
	int c = memcmp(a->a, b->a, 16);

	if (c > 0 || (c == 0 && pa > pb)) {
		const struct iw_addr *t = a;
		uint16_t tp = pa;

		a = b;
		pa = pb;
		b = t;
		pb = tp;
	}
	memcpy(out, a->a, 16);
	memcpy(out + 16, b->a, 16);
	out[32] = (uint8_t)(pa >> 8);
	out[33] = (uint8_t)pa;
	out[34] = (uint8_t)(pb >> 8);
	out[35] = (uint8_t)pb;
}

uint64_t
iw_hash_endpoints(const struct iw_addr *a, uint16_t pa,
    const struct iw_addr *b, uint16_t pb)
{
	uint8_t key[IW_ENDPOINTS_KEY_LEN];

	iw_endpoints_key(key, a, pa, b, pb);
	return iw_hash_bytes(key, sizeof(key));
}
