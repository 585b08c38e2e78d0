/* SPDX-License-Identifier: ISC */
/*
 * runstat - run a command and report its wall time, CPU time and peak
 * resident set size (getrusage of the child, through wait4).
 *
 *	runstat OUTFILE command [arg ...]
 *
 * Writes one line to OUTFILE:
 *	wall=SECONDS user=SECONDS sys=SECONDS maxrss_kib=N status=N
 * status is the command's exit status, or 128 + the signal that ended it.
 * runstat's own exit status is the command's.
 */

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
tv(struct timeval t)
{
	return (double)t.tv_sec + (double)t.tv_usec / 1e6;
}

int
main(int argc, char *argv[])
{
	struct timespec t0, t1;
	struct rusage ru;
	FILE *f;
	pid_t pid;
	int status, rc;

	if (argc < 3) {
		fprintf(stderr, "usage: runstat OUTFILE command [arg ...]\n");
		return 2;
	}
	if ((f = fopen(argv[1], "w")) == NULL) {
		fprintf(stderr, "runstat: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((pid = fork()) == -1) {
		fprintf(stderr, "runstat: fork: %s\n", strerror(errno));
		return 2;
	}
	if (pid == 0) {
		fclose(f);
		execvp(argv[2], argv + 2);
		fprintf(stderr, "runstat: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) == -1) {
		if (errno != EINTR) {
			fprintf(stderr, "runstat: wait4: %s\n",
			    strerror(errno));
			return 2;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (WIFEXITED(status))
		rc = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		rc = 128 + WTERMSIG(status);
	else
		rc = 255;
	fprintf(f, "wall=%.4f user=%.3f sys=%.3f maxrss_kib=%ld status=%d\n",
	    (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	    tv(ru.ru_utime), tv(ru.ru_stime), ru.ru_maxrss, rc);
	if (fclose(f) != 0) {
		fprintf(stderr, "runstat: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	return rc;
}
