/* SPDX-License-Identifier: ISC */
/*
 * fuzz_keylog.c - the NSS key log loader (dissectors/tls_keylog.c) on key
 * log text: lines of every label, bad lines, partial lines, the cap (16
 * randoms, so eviction is reached), growth, truncation, and lookups of
 * every random the text names against the snapshots published.
 *
 * Input: the file's text in up to three pieces.  The first byte says
 * where the text is cut: the first piece is written and polled, the
 * second appended and polled (growth; a line cut in two), then the file
 * is truncated to the third piece (if the byte's top bit is set) and
 * polled again.  The file is a memfd, reached by its /proc/self/fd path.
 */
#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "tls_keys.h"

static void
note(void *arg, const char *msg)
{
	size_t *n = arg;

	*n += strlen(msg);
}

/* Looks up whatever 64-hex-digit runs the text has. */
static void
lookups(struct iw_keylog *kl, const uint8_t *p, size_t n)
{
	struct iw_tls_secrets s;
	struct iw_keys_snap *sn;
	uint8_t r[IW_TLS_RANDOM_LEN];
	size_t i, run = 0, k;
	unsigned v;
	char h[3] = { 0 };

	sn = iw_keylog_acquire(kl);
	for (i = 0; i < n; i++) {
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' &&
		    p[i] <= 'f') || (p[i] >= 'A' && p[i] <= 'F'))) {
			run = 0;
			continue;
		}
		if (++run < 64)
			continue;
		for (k = 0; k < IW_TLS_RANDOM_LEN; k++) {
			h[0] = (char)p[i - 63 + 2 * k];
			h[1] = (char)p[i - 62 + 2 * k];
			sscanf(h, "%2x", &v);
			r[k] = (uint8_t)v;
		}
		if (iw_keys_find(sn, r, &s))
			iw_tls_secrets_wipe(&s);
		run = 0;
	}
	(void)iw_keys_count(sn);
	iw_keys_release(sn);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iw_keylog *kl;
	struct iw_keylog_stats st;
	char path[64], err[128];
	size_t cut, notes = 0;
	int fd;

	fz_setup();
	if (size < 1)
		return 0;
	cut = size > 1 ? (size_t)(data[0] & 0x7f) * (size - 1) / 127 : 0;
	if ((fd = memfd_create("fuzz-keylog", 0)) < 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	kl = iw_keylog_new(16);
	if (kl == NULL || iw_keylog_add_file(kl, path, err, sizeof(err)) != 0)
		goto out;
	if (write(fd, data + 1, cut) != (ssize_t)cut)
		goto out;
	(void)iw_keylog_poll(kl, note, &notes);
	if (write(fd, data + 1 + cut, size - 1 - cut) !=
	    (ssize_t)(size - 1 - cut))
		goto out;
	(void)iw_keylog_poll(kl, note, &notes);
	lookups(kl, data + 1, size - 1);
	if (data[0] & 0x80) {
		/* truncated to the second piece, written again from 0 */
		if (ftruncate(fd, 0) != 0 || pwrite(fd, data + 1 + cut,
		    size - 1 - cut, 0) < 0)
			goto out;
		(void)iw_keylog_poll(kl, note, &notes);
		lookups(kl, data + 1, size - 1);
	}
	iw_keylog_get_stats(kl, &st);
	if (st.keys > 16)
		abort();		/* the cap */
out:
	iw_keylog_free(kl);
	close(fd);
	return 0;
}
