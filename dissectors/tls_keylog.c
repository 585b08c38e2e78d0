/* SPDX-License-Identifier: ISC */
/*
 * tls_keylog.c - the NSS key log loader and its read-only snapshots (see
 * include/tls_keys.h for the design: shards, atomic publish, retire list,
 * cap and eviction, appended-only reading).
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tls_keys.h"

#define NSHARDS		256
#define PEND_MAX	8192		/* secret lines applied at once */
#define READ_CHUNK	65536
#define READ_PER_POLL	(64u << 20)	/* a file's bytes a poll reads; the
					 * rest waits for the next one */
#define NOTES_PER_POLL	10		/* bad lines reported one by one */
#define RETIRED_MAX	64		/* then wait for the readers */

/* ---- secrets ---- */

static const char *const labels[IW_TLS_SECRET_KINDS] = {
	[IW_TLS_MASTER] = "CLIENT_RANDOM",
	[IW_TLS_C_EARLY] = "CLIENT_EARLY_TRAFFIC_SECRET",
	[IW_TLS_C_HS] = "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
	[IW_TLS_S_HS] = "SERVER_HANDSHAKE_TRAFFIC_SECRET",
	[IW_TLS_C_AP] = "CLIENT_TRAFFIC_SECRET_0",
	[IW_TLS_S_AP] = "SERVER_TRAFFIC_SECRET_0",
};

const char *
iw_tls_secret_label(enum iw_tls_secret_kind k)
{
	return k < IW_TLS_SECRET_KINDS ? labels[k] : "?";
}

void
iw_tls_secrets_wipe(struct iw_tls_secrets *s)
{
	OPENSSL_cleanse(s, sizeof(*s));
}

/* ---- the index ---- */

struct kentry {
	uint8_t			random[IW_TLS_RANDOM_LEN];
	struct iw_tls_secrets	s;
};

struct kshard {
	atomic_uint	refs;
	size_t		n;
	struct kentry	e[];		/* sorted by random */
};

struct iw_keys_snap {
	atomic_uint		 refs;
	uint64_t		 gen;
	size_t			 count;
	size_t			 bytes;
	struct kshard		*shard[NSHARDS];	/* NULL: empty */
	struct iw_keys_snap	*next_retired;
};

/* One secret line waiting to be applied. */
struct pent {
	uint8_t		random[IW_TLS_RANDOM_LEN];
	uint32_t	order;		/* line order within the batch */
	uint8_t		kind;
	uint8_t		len;
	uint8_t		v[IW_TLS_SECRET_MAX];
};

struct klfile {
	char		*path;
	dev_t		 dev;
	ino_t		 ino;
	bool		 known;
	off_t		 offset;
	uint64_t	 line_no;
	char		 line[IW_KEYLOG_LINE_MAX];
	size_t		 line_len;
	bool		 overlong;
	bool		 warned_world;
	bool		 warned_open;
	unsigned	 notes;		/* bad lines reported this poll */
	uint64_t	 unreported;
	struct klfile	*next;
};

struct iw_keylog {
	_Atomic(struct iw_keys_snap *) cur;
	atomic_uint		 readers;	/* inside iw_keylog_acquire */
	atomic_uint_least64_t	 gen;

	/* the loader's own state */
	size_t			 max_keys;
	struct klfile		*files;
	struct iw_keys_snap	*work;		/* latest built (ours) */
	struct iw_keys_snap	*retired;
	size_t			 n_retired;
	uint8_t			(*fifo)[IW_TLS_RANDOM_LEN];	/* first
						 * logged first: eviction */
	size_t			 fifo_head, fifo_len;
	struct pent		*pend;
	size_t			 n_pend, pend_cap;
	char			*rbuf;		/* READ_CHUNK */
	int			 changed;	/* randoms this poll */
	iw_keylog_note_fn	*note;
	void			*note_arg;
	struct iw_keylog_stats	 st;
};

static void
shard_release(struct kshard *sh)
{
	if (sh == NULL || atomic_fetch_sub(&sh->refs, 1) != 1)
		return;
	OPENSSL_cleanse(sh->e, sh->n * sizeof(sh->e[0]));
	free(sh);
}

void
iw_keys_release(struct iw_keys_snap *sn)
{
	int i;

	if (sn == NULL || atomic_fetch_sub(&sn->refs, 1) != 1)
		return;
	for (i = 0; i < NSHARDS; i++)
		shard_release(sn->shard[i]);
	free(sn);
}

static struct iw_keys_snap *
snap_new(void)
{
	struct iw_keys_snap *sn = calloc(1, sizeof(*sn));

	if (sn != NULL) {
		atomic_init(&sn->refs, 1);
		sn->bytes = sizeof(*sn);
	}
	return sn;
}

static size_t
shard_bytes(const struct kshard *sh)
{
	return sh == NULL ? 0 : sizeof(*sh) + sh->n * sizeof(sh->e[0]);
}

static const struct kentry *
shard_find(const struct kshard *sh, const uint8_t *random)
{
	size_t lo = 0, hi, mid;
	int c;

	if (sh == NULL)
		return NULL;
	hi = sh->n;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = memcmp(sh->e[mid].random, random, IW_TLS_RANDOM_LEN);
		if (c == 0)
			return &sh->e[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

bool
iw_keys_find(const struct iw_keys_snap *sn, const uint8_t random[IW_TLS_RANDOM_LEN],
    struct iw_tls_secrets *out)
{
	const struct kentry *e;

	if (sn == NULL || (e = shard_find(sn->shard[random[0]], random)) ==
	    NULL)
		return false;
	memcpy(out, &e->s, sizeof(*out));
	return true;
}

size_t
iw_keys_count(const struct iw_keys_snap *sn)
{
	return sn == NULL ? 0 : sn->count;
}

uint64_t
iw_keys_generation(const struct iw_keys_snap *sn)
{
	return sn == NULL ? 0 : sn->gen;
}

/*
 * A reader counts itself in `readers` while it loads the pointer and takes
 * its reference: the loader drops a replaced snapshot's published
 * reference only when it sees no reader there (retire_drain).
 */
struct iw_keys_snap *
iw_keylog_acquire(struct iw_keylog *kl)
{
	struct iw_keys_snap *sn;

	atomic_fetch_add(&kl->readers, 1);
	sn = atomic_load(&kl->cur);
	atomic_fetch_add(&sn->refs, 1);
	atomic_fetch_sub(&kl->readers, 1);
	return sn;
}

bool
iw_keylog_lookup(struct iw_keylog *kl, const uint8_t random[IW_TLS_RANDOM_LEN],
    struct iw_tls_secrets *out)
{
	struct iw_keys_snap *sn = iw_keylog_acquire(kl);
	bool found = iw_keys_find(sn, random, out);

	iw_keys_release(sn);
	return found;
}

uint64_t
iw_keylog_generation(const struct iw_keylog *kl)
{
	return atomic_load(&((struct iw_keylog *)kl)->gen);
}

/* Drops the published references of replaced snapshots once no reader
 * can be between loading their pointer and referencing them. */
static void
retire_drain(struct iw_keylog *kl, bool wait)
{
	struct iw_keys_snap *sn, *next;

	while (atomic_load(&kl->readers) != 0) {
		if (!wait)
			return;
		sched_yield();
	}
	for (sn = kl->retired; sn != NULL; sn = next) {
		next = sn->next_retired;
		iw_keys_release(sn);
	}
	kl->retired = NULL;
	kl->n_retired = 0;
}

static void
publish(struct iw_keylog *kl)
{
	struct iw_keys_snap *old;

	kl->work->gen = atomic_load(&kl->gen) + 1;
	atomic_fetch_add(&kl->work->refs, 1);	/* the published one */
	old = atomic_exchange(&kl->cur, kl->work);
	atomic_store(&kl->gen, kl->work->gen);
	old->next_retired = kl->retired;
	kl->retired = old;
	kl->n_retired++;
	kl->st.publishes++;
	kl->st.keys = kl->work->count;
	kl->st.bytes = kl->work->bytes;
	retire_drain(kl, kl->n_retired >= RETIRED_MAX);
}

/* ---- applying a batch of secret lines ---- */

static int
pent_cmp(const void *a, const void *b)
{
	const struct pent *x = a, *y = b;
	int c = memcmp(x->random, y->random, IW_TLS_RANDOM_LEN);

	if (c != 0)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int
random_cmp(const void *a, const void *b)
{
	return memcmp(a, b, IW_TLS_RANDOM_LEN);
}

/* Lines for one random, in file order, onto its entry. */
static void
apply_group(struct kentry *e, const struct pent *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		e->s.len[p[i].kind] = p[i].len;
		memcpy(e->s.v[p[i].kind], p[i].v, p[i].len);
	}
}

static bool
evicted(const uint8_t (*gone)[IW_TLS_RANDOM_LEN], size_t ngone,
    const uint8_t *random)
{
	return ngone > 0 && bsearch(random, gone, ngone, IW_TLS_RANDOM_LEN,
	    random_cmp) != NULL;
}

/*
 * A shard rebuilt: the old entries minus the evicted ones, merged with the
 * pending groups whose random falls in it (p[0..n), sorted).
 */
static struct kshard *
shard_rebuild(const struct kshard *old, const struct pent *p, size_t n,
    const uint8_t (*gone)[IW_TLS_RANDOM_LEN], size_t ngone)
{
	size_t nold = old ? old->n : 0, i = 0, j = 0, g, out = 0;
	struct kshard *sh;
	int c;

	sh = malloc(sizeof(*sh) + (nold + n) * sizeof(sh->e[0]));
	if (sh == NULL)
		return NULL;
	atomic_init(&sh->refs, 1);
	while (i < nold || j < n) {
		if (i < nold && evicted(gone, ngone, old->e[i].random)) {
			i++;
			continue;
		}
		if (j >= n)
			c = -1;
		else if (i >= nold)
			c = 1;
		else
			c = memcmp(old->e[i].random, p[j].random,
			    IW_TLS_RANDOM_LEN);
		if (c < 0) {
			sh->e[out++] = old->e[i++];
			continue;
		}
		for (g = j; g < n && memcmp(p[g].random, p[j].random,
		    IW_TLS_RANDOM_LEN) == 0; g++)
			;
		if (c > 0 && evicted(gone, ngone, p[j].random)) {
			j = g;		/* logged again, but the oldest: gone */
			continue;
		}
		if (c == 0)
			sh->e[out] = old->e[i++];
		else {
			memset(&sh->e[out], 0, sizeof(sh->e[out]));
			memcpy(sh->e[out].random, p[j].random,
			    IW_TLS_RANDOM_LEN);
		}
		apply_group(&sh->e[out++], p + j, g - j);
		j = g;
	}
	sh->n = out;
	return sh;
}

static void
fifo_push(struct iw_keylog *kl, const uint8_t *random)
{
	size_t at = (kl->fifo_head + kl->fifo_len) % kl->max_keys;

	memcpy(kl->fifo[at], random, IW_TLS_RANDOM_LEN);
	kl->fifo_len++;
}

/* The k oldest randoms, sorted for bsearch; NULL if k is 0 or no memory. */
static uint8_t (*
fifo_pop(struct iw_keylog *kl, size_t k))[IW_TLS_RANDOM_LEN]
{
	uint8_t (*gone)[IW_TLS_RANDOM_LEN];
	size_t i;

	if (k == 0 || (gone = malloc(k * IW_TLS_RANDOM_LEN)) == NULL)
		return NULL;
	for (i = 0; i < k; i++) {
		memcpy(gone[i], kl->fifo[kl->fifo_head], IW_TLS_RANDOM_LEN);
		kl->fifo_head = (kl->fifo_head + 1) % kl->max_keys;
	}
	kl->fifo_len -= k;
	qsort(gone, k, IW_TLS_RANDOM_LEN, random_cmp);
	return gone;
}

/* How many distinct randoms of the sorted batch the index lacks; each
 * first line of a group is marked (order's top bit) when new. */
#define PENT_NEW	0x80000000u

static size_t
mark_new(const struct iw_keys_snap *sn, struct pent *p, size_t n)
{
	size_t i, fresh = 0;

	for (i = 0; i < n; i++) {
		if (i > 0 && memcmp(p[i].random, p[i - 1].random,
		    IW_TLS_RANDOM_LEN) == 0)
			continue;
		if (shard_find(sn->shard[p[i].random[0]], p[i].random) ==
		    NULL) {
			p[i].order |= PENT_NEW;
			fresh++;
		}
	}
	return fresh;
}

/* The batch's new randoms into the FIFO, in the order they were logged. */
static int
fifo_add_new(struct iw_keylog *kl, const struct pent *p, size_t n,
    size_t fresh)
{
	struct pent *order;
	size_t i, k = 0;

	if (fresh == 0)
		return 0;
	if ((order = malloc(fresh * sizeof(*order))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (p[i].order & PENT_NEW) {
			memcpy(order[k].random, p[i].random,
			    IW_TLS_RANDOM_LEN);
			order[k++].order = p[i].order & ~PENT_NEW;
		}
	for (i = 1; i < k; i++) {	/* insertion sort by line order:
					 * batches are mostly in order */
		struct pent t = order[i];
		size_t j = i;

		while (j > 0 && order[j - 1].order > t.order) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = t;
	}
	for (i = 0; i < k; i++)
		fifo_push(kl, order[i].random);
	free(order);
	return 0;
}

static int
commit(struct iw_keylog *kl)
{
	struct iw_keys_snap *old = kl->work, *sn;
	uint8_t (*gone)[IW_TLS_RANDOM_LEN] = NULL;
	size_t fresh, over = 0, ngone = 0, i, j, s;
	bool touched[NSHARDS] = { false };

	if (kl->n_pend == 0)
		return 0;
	qsort(kl->pend, kl->n_pend, sizeof(kl->pend[0]), pent_cmp);
	fresh = mark_new(old, kl->pend, kl->n_pend);
	if (old->count + fresh > kl->max_keys) {
		over = old->count + fresh - kl->max_keys;
		if ((gone = fifo_pop(kl, over)) == NULL)
			return -1;
		ngone = over;
	}
	if ((sn = snap_new()) == NULL) {
		free(gone);
		return -1;
	}
	for (i = 0; i < kl->n_pend; i++)
		touched[kl->pend[i].random[0]] = true;
	for (i = 0; i < ngone; i++)
		touched[gone[i][0]] = true;
	for (i = 0, s = 0; s < NSHARDS; s++) {
		for (j = i; j < kl->n_pend && kl->pend[j].random[0] == s; j++)
			;
		if (!touched[s]) {
			if ((sn->shard[s] = old->shard[s]) != NULL)
				atomic_fetch_add(&sn->shard[s]->refs, 1);
		} else if ((sn->shard[s] = shard_rebuild(old->shard[s],
		    kl->pend + i, j - i, (const uint8_t (*)[32])gone,
		    ngone)) == NULL)
			goto fail;
		sn->count += sn->shard[s] ? sn->shard[s]->n : 0;
		sn->bytes += shard_bytes(sn->shard[s]);
		i = j;
	}
	if (fifo_add_new(kl, kl->pend, kl->n_pend, fresh) != 0)
		goto fail;
	kl->st.evicted += ngone;
	kl->changed += (int)fresh;
	for (i = 0; i < kl->n_pend; i++)
		if ((i == 0 || memcmp(kl->pend[i].random,
		    kl->pend[i - 1].random, IW_TLS_RANDOM_LEN) != 0) &&
		    !(kl->pend[i].order & PENT_NEW) &&
		    !evicted((const uint8_t (*)[32])gone, ngone,
		    kl->pend[i].random))
			kl->changed++;
	kl->work = sn;
	iw_keys_release(old);
	free(gone);
	OPENSSL_cleanse(kl->pend, kl->n_pend * sizeof(kl->pend[0]));
	kl->n_pend = 0;
	return 0;
fail:
	iw_keys_release(sn);
	free(gone);
	return -1;
}

/* ---- lines ---- */

enum line_kind { L_SKIP, L_SECRET, L_IGNORED, L_BAD };

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* n hex digits into n/2 bytes; false if any is not hex. */
static bool
unhex(const char *p, size_t n, uint8_t *out)
{
	size_t i;
	int hi, lo;

	for (i = 0; i + 1 < n; i += 2) {
		if ((hi = hexval(p[i])) < 0 || (lo = hexval(p[i + 1])) < 0)
			return false;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Splits into at most 4 fields (a 4th means too many). */
static int
split(const char *p, size_t n, const char *f[4], size_t fl[4])
{
	size_t i = 0;
	int k = 0;

	while (i < n && k < 4) {
		while (i < n && is_blank(p[i]))
			i++;
		if (i >= n)
			break;
		f[k] = p + i;
		while (i < n && !is_blank(p[i]))
			i++;
		fl[k] = (size_t)(p + i - f[k]);
		k++;
	}
	return k;
}

static bool
label_syntax(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= '0' &&
		    p[i] <= '9') || p[i] == '_'))
			return false;
	return n > 0;
}

static int
label_kind(const char *p, size_t n)
{
	int k;

	for (k = 0; k < IW_TLS_SECRET_KINDS; k++)
		if (strlen(labels[k]) == n && memcmp(labels[k], p, n) == 0)
			return k;
	return -1;
}

/*
 * One line (no newline).  L_SECRET fills *out; L_BAD sets *why (a fixed
 * sentence, never the line).
 */
static enum line_kind
parse_line(const char *p, size_t n, struct pent *out, const char **why)
{
	const char *f[4];
	size_t fl[4], slen;
	int k, nf;

	if (n > 0 && p[n - 1] == '\r')
		n--;
	while (n > 0 && is_blank(*p)) {
		p++;
		n--;
	}
	if (n == 0 || p[0] == '#')
		return L_SKIP;
	nf = split(p, n, f, fl);
	if (nf != 3) {
		*why = "not three fields";
		return L_BAD;
	}
	if (!label_syntax(f[0], fl[0])) {
		*why = "not a key log label";
		return L_BAD;
	}
	/* other labels have other fields (RSA: encrypted premaster) */
	if ((k = label_kind(f[0], fl[0])) < 0)
		return L_IGNORED;
	if (fl[1] != 2 * IW_TLS_RANDOM_LEN || !unhex(f[1], fl[1],
	    out->random)) {
		*why = "client random is not 64 hex digits";
		return L_BAD;
	}
	slen = fl[2] / 2;
	if (fl[2] % 2 != 0 || (k == IW_TLS_MASTER ? slen != 48 :
	    (slen != 32 && slen != 48))) {
		*why = "secret has the wrong length for its label";
		return L_BAD;
	}
	if (!unhex(f[2], fl[2], out->v)) {
		*why = "secret is not hex";
		return L_BAD;
	}
	out->kind = (uint8_t)k;
	out->len = (uint8_t)slen;
	return L_SECRET;
}

/* ---- files ---- */

static void
note(struct iw_keylog *kl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
note(struct iw_keylog *kl, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (kl->note != NULL)
		kl->note(kl->note_arg, msg);
	else
		fprintf(stderr, "imapwatch: %s\n", msg);
}

static void
bad_line(struct iw_keylog *kl, struct klfile *f, const char *why)
{
	kl->st.bad_lines++;
	if (f->notes++ < NOTES_PER_POLL)
		note(kl, "%s:%llu: bad key log line (%s); line ignored",
		    f->path, (unsigned long long)f->line_no, why);
	else
		f->unreported++;
}

static int
take_line(struct iw_keylog *kl, struct klfile *f, const char *p, size_t n)
{
	struct pent *e;
	const char *why = NULL;
	enum line_kind k;

	f->line_no++;
	kl->st.lines++;
	if (f->overlong) {
		f->overlong = false;
		bad_line(kl, f, "longer than any key log line");
		return 0;
	}
	if (kl->n_pend == kl->pend_cap && commit(kl) != 0)
		return -1;
	e = &kl->pend[kl->n_pend];
	k = parse_line(p, n, e, &why);
	switch (k) {
	case L_SECRET:
		e->order = (uint32_t)kl->n_pend;
		kl->n_pend++;
		kl->st.secrets++;
		break;
	case L_IGNORED:
		kl->st.ignored_lines++;
		break;
	case L_BAD:
		bad_line(kl, f, why);
		break;
	case L_SKIP:
		break;
	}
	if (k != L_SECRET)
		OPENSSL_cleanse(e, sizeof(*e));
	return 0;
}

/* Bytes of a file, split into lines; a partial last line waits. */
static int
take_bytes(struct iw_keylog *kl, struct klfile *f, const char *b, size_t n)
{
	const char *nl;
	size_t part;

	while (n > 0) {
		nl = memchr(b, '\n', n);
		part = nl ? (size_t)(nl - b) : n;
		if (f->line_len + part > sizeof(f->line))
			f->overlong = true;
		else {
			memcpy(f->line + f->line_len, b, part);
			f->line_len += part;
		}
		if (nl == NULL)
			return 0;
		if (take_line(kl, f, f->line, f->line_len) != 0)
			return -1;
		OPENSSL_cleanse(f->line, f->line_len);
		f->line_len = 0;
		b += part + 1;
		n -= part + 1;
	}
	return 0;
}

static void
file_restart(struct klfile *f)
{
	f->offset = 0;
	f->line_no = 0;
	OPENSSL_cleanse(f->line, sizeof(f->line));
	f->line_len = 0;
	f->overlong = false;
}

/* Is it the file we read before, and where do we start? */
static void
file_position(struct iw_keylog *kl, struct klfile *f, const struct stat *st)
{
	if (f->known && (st->st_dev != f->dev || st->st_ino != f->ino)) {
		kl->st.rotated++;
		file_restart(f);
	} else if (f->known && st->st_size < f->offset) {
		kl->st.truncated++;
		file_restart(f);
	}
	f->known = true;
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	if ((st->st_mode & S_IROTH) && !f->warned_world) {
		f->warned_world = true;
		note(kl, "%s: readable by every user, and a key log holds "
		    "session secrets (chmod o-r)", f->path);
	}
}

static int
poll_file(struct iw_keylog *kl, struct klfile *f)
{
	char *buf = kl->rbuf;
	struct stat st;
	size_t total = 0;
	ssize_t r;
	int fd, rc = 0;

	if ((fd = open(f->path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(fd, &st) != 0) {
		kl->st.unreadable++;
		if (!f->warned_open)
			note(kl, "%s: cannot read the key log: %s", f->path,
			    strerror(errno));
		f->warned_open = true;
		if (fd >= 0)
			close(fd);
		return 0;
	}
	f->warned_open = false;
	f->notes = 0;
	f->unreported = 0;
	file_position(kl, f, &st);
	while (total < READ_PER_POLL && rc == 0 &&
	    (r = pread(fd, buf, READ_CHUNK, f->offset)) > 0) {
		f->offset += r;
		total += (size_t)r;
		rc = take_bytes(kl, f, buf, (size_t)r);
	}
	OPENSSL_cleanse(buf, READ_CHUNK);
	close(fd);
	if (f->unreported > 0)
		note(kl, "%s: %llu more bad key log lines", f->path,
		    (unsigned long long)f->unreported);
	return rc;
}

int
iw_keylog_poll(struct iw_keylog *kl, iw_keylog_note_fn *fn, void *arg)
{
	struct klfile *f;

	kl->note = fn;
	kl->note_arg = arg;
	kl->changed = 0;
	for (f = kl->files; f != NULL; f = f->next)
		if (poll_file(kl, f) != 0)
			return -1;
	if (commit(kl) != 0)
		return -1;
	if (kl->changed > 0)
		publish(kl);
	else if (kl->retired != NULL)
		retire_drain(kl, false);
	return kl->changed;
}

int
iw_keylog_add_file(struct iw_keylog *kl, const char *path, char *err,
    size_t errlen)
{
	struct klfile *f = calloc(1, sizeof(*f)), **tail;

	if (f == NULL || (f->path = strdup(path)) == NULL) {
		free(f);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	for (tail = &kl->files; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = f;
	return 0;
}

struct iw_keylog *
iw_keylog_new(size_t max_keys)
{
	struct iw_keylog *kl = calloc(1, sizeof(*kl));
	struct iw_keys_snap *empty;

	if (kl == NULL)
		return NULL;
	kl->max_keys = max_keys ? max_keys : IW_KEYLOG_DEFAULT_MAX;
	kl->pend_cap = kl->max_keys < PEND_MAX ? kl->max_keys : PEND_MAX;
	kl->fifo = malloc(kl->max_keys * IW_TLS_RANDOM_LEN);
	kl->pend = malloc(kl->pend_cap * sizeof(kl->pend[0]));
	kl->rbuf = malloc(READ_CHUNK);
	kl->work = snap_new();
	empty = kl->work;
	if (kl->fifo == NULL || kl->pend == NULL || kl->rbuf == NULL ||
	    empty == NULL) {
		free(kl->rbuf);
		free(kl->fifo);
		free(kl->pend);
		free(empty);
		free(kl);
		return NULL;
	}
	atomic_fetch_add(&empty->refs, 1);	/* published */
	atomic_init(&kl->cur, empty);
	atomic_init(&kl->readers, 0);
	atomic_init(&kl->gen, 0);
	return kl;
}

void
iw_keylog_get_stats(const struct iw_keylog *kl, struct iw_keylog_stats *st)
{
	*st = kl->st;
}

void
iw_keylog_free(struct iw_keylog *kl)
{
	struct klfile *f, *next;

	if (kl == NULL)
		return;
	retire_drain(kl, true);
	iw_keys_release(atomic_load(&kl->cur));
	iw_keys_release(kl->work);
	for (f = kl->files; f != NULL; f = next) {
		next = f->next;
		OPENSSL_cleanse(f->line, sizeof(f->line));
		free(f->path);
		free(f);
	}
	OPENSSL_cleanse(kl->pend, kl->pend_cap * sizeof(kl->pend[0]));
	free(kl->pend);
	free(kl->rbuf);
	free(kl->fifo);
	free(kl);
}

/* ---- the process ---- */

int
iw_keys_protect_process(char *err, size_t errlen)
{
	struct rlimit rl = { 0, 0 };

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		snprintf(err, errlen, "prctl(PR_SET_DUMPABLE): %s",
		    strerror(errno));
		return -1;
	}
	if (setrlimit(RLIMIT_CORE, &rl) != 0) {
		snprintf(err, errlen, "setrlimit(RLIMIT_CORE): %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}
