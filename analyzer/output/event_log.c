/* SPDX-License-Identifier: ISC */
/*
 * event_log.c - IW_EVENT_LOG=DIR: every event is also appended, as
 * written, to DIR/<program>-<pid>.ndjson.
 *
 * tests/run.sh sets it for every test, so that `make test` validates
 * every event any test makes (imapwatch itself, unit tests, test tools),
 * whatever sinks it went to, against schema/events.schema.json.  Unset,
 * this costs one getenv() a run.
 *
 * It stays in the release binary rather than in a test-only build, on
 * purpose: the suite then checks the very binary `make install` ships,
 * and an environment variable that copies a program's output is an
 * established, documented convention (SSLKEYLOGFILE in curl and
 * browsers writes far more sensitive data).  What makes that safe:
 *
 *  - the copy is the event as written, after --usernames hash or omit:
 *    it holds nothing the -o outputs do not;
 *  - its files follow the rule of every file imapwatch creates
 *    (include/outfile.h): 0640 or stricter, never through a symbolic
 *    link, refused with a message that names the file;
 *  - secure_getenv(): a process started with raised privileges (setuid,
 *    file capabilities) ignores the variable, so whoever sets the
 *    environment gains no write access through it;
 *  - it is documented in imapwatch(1) (ENVIRONMENT) and the README.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "event.h"
#include "outfile.h"

static int
open_log(void)
{
	char path[PATH_MAX], err[256];
	const char *dir = secure_getenv("IW_EVENT_LOG");
	int fd;

	if (dir == NULL || *dir == '\0')
		return -1;
	if (snprintf(path, sizeof(path), "%s/%s-%ld.ndjson", dir,
	    program_invocation_short_name, (long)getpid()) >=
	    (int)sizeof(path)) {
		fprintf(stderr, "%s: IW_EVENT_LOG: %s: name too long\n",
		    program_invocation_short_name, dir);
		return -1;
	}
	fd = iw_outfile_open(path, IW_OUTFILE_APPEND, 0, err, sizeof(err));
	if (fd < 0)
		fprintf(stderr, "%s: IW_EVENT_LOG: %s: %s\n",
		    program_invocation_short_name, path, err);
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
