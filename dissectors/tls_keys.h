/* SPDX-License-Identifier: ISC */
/*
 * tls_keys.h - TLS session secrets from NSS key log files (SSLKEYLOGFILE,
 * openssl s_client -keylogfile, Python's SSLContext.keylog_filename).
 *
 * One loader (struct iw_keylog) reads one or more key log files and keeps
 * an index from client random to the secrets logged for it.  Only the
 * loader's thread writes; it publishes read-only, reference-counted
 * snapshots that any number of worker threads read at handshake time
 * without locks and without sharing anything mutable:
 *
 *	loader thread				worker threads
 *	iw_keylog_add_file(kl, path)		iw_keylog_lookup(kl, random, &s)
 *	every second or on SIGHUP:		  (or iw_keylog_acquire(),
 *	    iw_keylog_poll(kl, note, arg)	   iw_keys_find() ...,
 *	iw_keylog_free(kl) (workers gone)	   iw_keys_release())
 *
 * Snapshots.  The index is 256 shards (by the random's first byte), each an
 * immutable sorted array.  A poll that adds keys rebuilds only the shards
 * it touches and publishes a new snapshot sharing the others, by an atomic
 * pointer swap.  A reader that loaded the old pointer may still be about to
 * take its reference, so the old snapshot goes on a retire list and its
 * published reference is dropped only once no reader is inside
 * iw_keylog_acquire() (a counter of readers there; RCU's grace period in
 * two instructions).  The last reference frees a snapshot; the last
 * snapshot holding a shard frees it, wiping its secrets (OPENSSL_cleanse).
 *
 * Cap and eviction.  At most max_keys client randoms are indexed; past it
 * the oldest (first logged) are evicted, counted in stats.evicted.  A line
 * for a random already indexed adds to (or replaces) its secrets without
 * moving it.
 *
 * Files.  A poll reads only what was appended since the last one; a file
 * that shrank (truncated) or was replaced (another inode: rotation) is read
 * again from its first byte, the keys already indexed staying.  A last line
 * without its newline waits for it.  Other labels (EXPORTER_SECRET, RSA,
 * ...), comments and blank lines are ignored; a line that is not
 * "LABEL <64 hex> <hex>" with the lengths its label needs is counted as bad
 * and reported by file and line number, never echoed: it may hold a
 * secret.  A file other users can read is reported once.
 *
 * No function here prints, logs or returns secret bytes except
 * iw_keys_find()/iw_keylog_lookup() into the caller's struct, which the
 * caller wipes (iw_tls_secrets_wipe) when done.
 */
#ifndef IW_TLS_KEYS_H
#define IW_TLS_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IW_TLS_RANDOM_LEN	32
#define IW_TLS_SECRET_MAX	48	/* master secret; SHA-384 secrets */
#define IW_KEYLOG_DEFAULT_MAX	100000	/* client randoms indexed */
#define IW_KEYLOG_LINE_MAX	512	/* longer lines are bad lines */

/* The secrets of a session, by key log label. */
enum iw_tls_secret_kind {
	IW_TLS_MASTER = 0,	/* CLIENT_RANDOM: TLS 1.0-1.2 master secret */
	IW_TLS_C_EARLY,		/* CLIENT_EARLY_TRAFFIC_SECRET */
	IW_TLS_C_HS,		/* CLIENT_HANDSHAKE_TRAFFIC_SECRET */
	IW_TLS_S_HS,		/* SERVER_HANDSHAKE_TRAFFIC_SECRET */
	IW_TLS_C_AP,		/* CLIENT_TRAFFIC_SECRET_0 */
	IW_TLS_S_AP,		/* SERVER_TRAFFIC_SECRET_0 */
	IW_TLS_SECRET_KINDS
};

struct iw_tls_secrets {
	uint8_t	len[IW_TLS_SECRET_KINDS];	/* 0: not logged */
	uint8_t	v[IW_TLS_SECRET_KINDS][IW_TLS_SECRET_MAX];
};

/* Clears a copy of secrets (OPENSSL_cleanse). */
void	iw_tls_secrets_wipe(struct iw_tls_secrets *);

/* The label of a kind, as key logs write it. */
const char *iw_tls_secret_label(enum iw_tls_secret_kind);

/* ---- the loader (one thread) ---- */

struct iw_keylog;

struct iw_keylog_stats {
	uint64_t	lines;		/* lines read, all files */
	uint64_t	secrets;	/* secret lines taken */
	uint64_t	bad_lines;
	uint64_t	ignored_lines;	/* other labels */
	uint64_t	evicted;	/* randoms dropped past the cap */
	uint64_t	truncated;	/* files read again: shrank */
	uint64_t	rotated;	/* files read again: another inode */
	uint64_t	unreadable;	/* polls that could not open a file */
	uint64_t	publishes;	/* snapshots published */
	uint64_t	keys;		/* client randoms indexed now */
	uint64_t	bytes;		/* memory of the published index */
};

/*
 * Messages for people, one sentence each, about a file: bad lines (by
 * number), a world-readable file, a file that cannot be read.  Never a
 * byte of the file.  NULL sends them to stderr.
 */
typedef void iw_keylog_note_fn(void *arg, const char *msg);

/* max_keys 0 means IW_KEYLOG_DEFAULT_MAX.  NULL when out of memory. */
struct iw_keylog *iw_keylog_new(size_t max_keys);

/* Another file to follow (read at the next poll).  0, or -1 with err. */
int	iw_keylog_add_file(struct iw_keylog *, const char *path, char *err,
	    size_t errlen);

/*
 * Reads what every file gained since the last poll and publishes a new
 * snapshot if the index changed.  Returns the number of client randoms
 * added or given new secrets (0: nothing new), -1 when out of memory.
 */
int	iw_keylog_poll(struct iw_keylog *, iw_keylog_note_fn *, void *arg);

/* Bumped at every publish: a worker holding records for a session whose
 * keys were missing looks again when this changed. */
uint64_t iw_keylog_generation(const struct iw_keylog *);

void	iw_keylog_get_stats(const struct iw_keylog *,
	    struct iw_keylog_stats *);

/* Frees the loader; no worker may still use it (snapshots they still
 * hold stay valid until released). */
void	iw_keylog_free(struct iw_keylog *);

/* ---- readers (any thread) ---- */

struct iw_keys_snap;

/* The current snapshot, referenced (never NULL once iw_keylog_new
 * returned). */
struct iw_keys_snap *iw_keylog_acquire(struct iw_keylog *);
void	iw_keys_release(struct iw_keys_snap *);

/* Copies the secrets logged for this client random; false if none. */
bool	iw_keys_find(const struct iw_keys_snap *,
	    const uint8_t random[IW_TLS_RANDOM_LEN], struct iw_tls_secrets *);
size_t	iw_keys_count(const struct iw_keys_snap *);
uint64_t iw_keys_generation(const struct iw_keys_snap *);

/* acquire + find + release. */
bool	iw_keylog_lookup(struct iw_keylog *,
	    const uint8_t random[IW_TLS_RANDOM_LEN], struct iw_tls_secrets *);

/* ---- the process ---- */

/*
 * No core dumps while keys are held: prctl(PR_SET_DUMPABLE, 0) and
 * RLIMIT_CORE 0.  0, or -1 with err.
 */
int	iw_keys_protect_process(char *err, size_t errlen);

#endif /* IW_TLS_KEYS_H */
