/* SPDX-License-Identifier: ISC */
/*
 * tls_keylog_run.c - the run's key log (--keylog FILE, repeatable): one
 * loader (tls_keylog.c) owned by the main thread, which creates it when
 * the settings first name a key log, adds the files a reload names, and
 * polls it (at start, once a second live, on SIGHUP).  The TLS dissector
 * only reads: iw_keylog_run() to know whether to decrypt at all, and the
 * loader's read-only snapshots at handshake time.
 *
 * Without --keylog nothing here is ever allocated and iw_keylog_run()
 * stays NULL: the TLS dissector behaves exactly as before.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "tls_keys.h"

#define RUN_FILES_MAX	64

static struct iw_keylog *run_keylog;
static bool run_live;
static char *run_paths[RUN_FILES_MAX];
static int run_n;
/* a session waits for keys: the main thread reads the files now rather
 * than at the next second (a short session may end before that) */
static atomic_bool run_wanted;

struct iw_keylog *
iw_keylog_run(void)
{
	return run_keylog;
}

bool
iw_keylog_run_live(void)
{
	return run_live;
}

static bool
followed(const char *path)
{
	int i;

	for (i = 0; i < run_n; i++)
		if (strcmp(run_paths[i], path) == 0)
			return true;
	return false;
}

/* The loader's messages name a file and a line, never a byte of it. */
static void
note(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "imapwatch: --keylog: %s\n", msg);
}

static int
start(char *err, size_t errlen)
{
	if (iw_keys_protect_process(err, errlen) != 0)
		return -1;
	if ((run_keylog = iw_keylog_new(0)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	iw_stats_decryption = true;		/* stats say what it did */
	return 0;
}

int
iw_keylog_run_files(const char *const *paths, int n, bool live, char *err,
    size_t errlen)
{
	int i;

	run_live = live;
	for (i = 0; i < n; i++) {
		if (followed(paths[i]))
			continue;
		if (run_n == RUN_FILES_MAX) {
			snprintf(err, errlen, "at most %d key log files",
			    RUN_FILES_MAX);
			return -1;
		}
		if (run_keylog == NULL && start(err, errlen) != 0)
			return -1;
		if (iw_keylog_add_file(run_keylog, paths[i], err,
		    errlen) != 0)
			return -1;
		if ((run_paths[run_n] = strdup(paths[i])) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		run_n++;
	}
	return 0;
}

void
iw_keylog_run_want(void)
{
	atomic_store_explicit(&run_wanted, true, memory_order_relaxed);
}

bool
iw_keylog_run_wanted(void)
{
	return atomic_exchange_explicit(&run_wanted, false,
	    memory_order_relaxed);
}

void
iw_keylog_run_poll(void)
{
	if (run_keylog != NULL && iw_keylog_poll(run_keylog, note, NULL) < 0)
		note(NULL, "out of memory reading the key logs");
}

void
iw_keylog_run_free(void)
{
	int i;

	iw_keylog_free(run_keylog);
	run_keylog = NULL;
	for (i = 0; i < run_n; i++)
		free(run_paths[i]);
	run_n = 0;
}
