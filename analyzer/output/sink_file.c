/* SPDX-License-Identifier: ISC */
/*
 * sink_file.c - standard output and files.
 *
 * A file gets each event with its newline in one write(2) on an O_APPEND
 * descriptor (line-buffered, as tail -f and a log shipper want it).  A
 * write that fails (disk full) counts the event as dropped, and a partial
 * one is cut off again so the file never holds half an event.  The file
 * is opened non-blocking: on a FIFO without room the event is dropped
 * rather than capture stalled.  Standard output is stdio, line-buffered,
 * and blocks like tcpdump's: a pipe to jq must lose nothing.
 */
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outfile.h"
#include "sink.h"

/* Created 0640, never through a symbolic link (include/outfile.h). */
static int
open_append(const char *path, char *err, size_t errlen)
{
	return iw_outfile_open(path, IW_OUTFILE_APPEND, O_NONBLOCK, err,
	    errlen);
}

int
iw_sink_file_open(struct iw_sink *s, const char *path, char *err,
    size_t errlen)
{
	char why[512];

	if (*path == '\0') {
		snprintf(err, errlen, "an empty file name");
		return -1;
	}
	if ((s->path = strdup(path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((s->fd = open_append(path, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, why);
		free(s->path);
		s->path = NULL;
		return -1;
	}
	return 0;
}

static void
write_failed(struct iw_sink *s, int e)
{
	if (!s->failed)
		fprintf(stderr, "imapwatch: writing %s: %s (events are "
		    "dropped and counted until it works again)\n",
		    s->path != NULL ? s->path : "standard output",
		    strerror(e));
	s->failed = true;
	iw_sink_drop(s, 1);
}

/* Take back the n bytes a failed write left at the end of the file. */
static void
cut_partial(struct iw_sink *s, size_t n)
{
	off_t end = lseek(s->fd, 0, SEEK_END);

	if (end >= (off_t)n && ftruncate(s->fd, end - (off_t)n) == 0)
		return;
	/* could not: end the fragment so the next event starts a line */
	if (write(s->fd, "\n", 1) != 1)
		return;
}

static void
file_write(struct iw_sink *s, const char *line, size_t len)
{
	struct iovec iov[2];
	ssize_t n;

	iov[0].iov_base = (void *)line;
	iov[0].iov_len = len;
	iov[1].iov_base = (void *)"\n";
	iov[1].iov_len = 1;
	do
		n = writev(s->fd, iov, 2);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)len + 1) {
		s->sent++;
		s->failed = false;
		return;
	}
	if (n > 0) {
		cut_partial(s, (size_t)n);
		errno = ENOSPC;
	}
	write_failed(s, n == 0 ? ENOSPC : errno);
}

static void
stdout_write(struct iw_sink *s, const char *line, size_t len)
{
	if (fwrite(line, 1, len, stdout) != len || putc('\n', stdout) == EOF) {
		write_failed(s, errno);
		clearerr(stdout);
		return;
	}
	s->sent++;
}

void
iw_sink_file_write(struct iw_sink *s, const char *line, size_t len)
{
	s->events++;
	if (s->kind == IW_SINK_STDOUT)
		stdout_write(s, line, len);
	else if (s->fd >= 0)
		file_write(s, line, len);
	else
		iw_sink_drop(s, 1);
}

void
iw_sink_file_reopen(struct iw_sink *s)
{
	char why[512];
	int fd;

	if (s->kind == IW_SINK_STDOUT) {
		fflush(stdout);
		return;
	}
	if ((fd = open_append(s->path, why, sizeof(why))) < 0) {
		/* keep writing to the old file rather than lose events */
		fprintf(stderr, "imapwatch: reopening %s: %s\n", s->path,
		    why);
		return;
	}
	if (s->fd >= 0)
		close(s->fd);
	s->fd = fd;
	s->failed = false;
}

void
iw_sink_file_close(struct iw_sink *s)
{
	if (s->kind == IW_SINK_STDOUT) {
		fflush(stdout);
		return;
	}
	if (s->fd >= 0) {
		struct stat st;

		if (fstat(s->fd, &st) == 0 && S_ISREG(st.st_mode))
			fsync(s->fd);
		close(s->fd);
	}
	s->fd = -1;
	free(s->path);
	s->path = NULL;
}
