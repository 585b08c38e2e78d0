/* SPDX-License-Identifier: ISC */
/*
 * outfile.c - the one way imapwatch creates a file (include/outfile.h).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "outfile.h"

static int
open_flags(enum iw_outfile_how how)
{
	switch (how) {
	case IW_OUTFILE_APPEND:
		return O_WRONLY | O_APPEND;
	case IW_OUTFILE_TRUNCATE:
		return O_WRONLY | O_TRUNC;
	case IW_OUTFILE_UPDATE:
		break;
	}
	return O_RDWR;
}

/* Why open(2) failed, in words that say a link was refused. */
static void
explain(const char *path, int e, char *err, size_t errlen)
{
	struct stat st;

	if (e == ELOOP && lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
		snprintf(err, errlen, "is a symbolic link, and imapwatch "
		    "never writes through one (remove it or give the real "
		    "path)");
	else
		snprintf(err, errlen, "%s", strerror(e));
}

int
iw_outfile_open(const char *path, enum iw_outfile_how how, int extra_flags,
    char *err, size_t errlen)
{
	int fd;

	if (path == NULL || *path == '\0') {
		snprintf(err, errlen, "an empty file name");
		return -1;
	}
	do
		fd = open(path, open_flags(how) | O_CREAT | O_NOFOLLOW |
		    O_CLOEXEC | extra_flags, IW_OUTFILE_MODE);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		explain(path, errno, err, errlen);
	return fd;
}

FILE *
iw_outfile_fopen(const char *path, enum iw_outfile_how how, char *err,
    size_t errlen)
{
	FILE *fp;
	int fd, e;

	if ((fd = iw_outfile_open(path, how, 0, err, errlen)) < 0)
		return NULL;
	if ((fp = fdopen(fd, how == IW_OUTFILE_APPEND ? "ab" :
	    how == IW_OUTFILE_UPDATE ? "r+b" : "wb")) == NULL) {
		e = errno;
		close(fd);
		snprintf(err, errlen, "%s", strerror(e));
	}
	return fp;
}
