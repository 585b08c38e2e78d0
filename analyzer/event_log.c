/*
 * event_log.c - IW_EVENT_LOG=DIR: every event is also appended, as
 * written, to DIR/<program>-<pid>.ndjson.
 *
 * tests/run.sh sets it for every test, so that `make test` validates
 * every event any test makes (imapwatch itself, unit tests, test tools),
 * whatever sinks it went to, against schema/events.schema.json.  Unset,
 * this costs one getenv() a run.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "event.h"

static int
open_log(void)
{
	char path[PATH_MAX];
	const char *dir = getenv("IW_EVENT_LOG");
	int fd;

	if (dir == NULL || *dir == '\0')
		return -1;
	snprintf(path, sizeof(path), "%s/%s-%ld.ndjson", dir,
	    program_invocation_short_name, (long)getpid());
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		fprintf(stderr, "%s: IW_EVENT_LOG: %s: %s\n",
		    program_invocation_short_name, path, strerror(errno));
	return fd;
}

void
iw_event_log(const char *line, size_t len)
{
	static int fd = -2;
	struct iovec iov[2];

	if (fd == -2)
		fd = open_log();
	if (fd < 0)
		return;
	/* one write a line: a killed process leaves no half line */
	iov[0].iov_base = (void *)line;
	iov[0].iov_len = len;
	iov[1].iov_base = (void *)"\n";
	iov[1].iov_len = 1;
	if (writev(fd, iov, 2) < 0)
		return;
}
