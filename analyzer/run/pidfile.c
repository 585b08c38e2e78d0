/* SPDX-License-Identifier: ISC */
/*
 * pidfile.c - the pid file of a sensor run.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outfile.h"
#include "pidfile.h"

static int fd = -1;
static char *path_;
static pid_t owner;

/* The pid written in a file another instance holds, or 0. */
static long
holder(int f)
{
	char buf[32];
	ssize_t n = pread(f, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

int
iw_pidfile_create(const char *path, char *err, size_t errlen)
{
	char buf[32], why[512];
	int n;

	/* kept as it is until locked: it may be another instance's */
	fd = iw_outfile_open(path, IW_OUTFILE_UPDATE, 0, why, sizeof(why));
	if (fd < 0) {
		snprintf(err, errlen, "--pidfile %s: %s", path, why);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, errlen, "--pidfile %s: locked by another "
		    "imapwatch (pid %ld)", path, holder(fd));
		close(fd);
		fd = -1;
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n ||
	    (path_ = strdup(path)) == NULL) {
		snprintf(err, errlen, "--pidfile %s: %s", path,
		    strerror(errno));
		close(fd);
		fd = -1;
		return -1;
	}
	owner = getpid();
	return 0;
}

void
iw_pidfile_remove(void)
{
	if (fd < 0 || getpid() != owner)
		return;
	if (unlink(path_) != 0 && ftruncate(fd, 0) != 0)
		fprintf(stderr, "imapwatch: --pidfile %s: cannot remove or "
		    "empty it: %s\n", path_, strerror(errno));
	close(fd);
	fd = -1;
	free(path_);
	path_ = NULL;
}
