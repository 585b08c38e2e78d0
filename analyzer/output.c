/*
 * output.c - event lines to standard output and files.
 *
 * A line goes out with its newline in one stdio write; on exit everything is
 * flushed (and files fsync'ed), so a reader never sees half an event.  Files
 * are opened for append and reopened on SIGHUP, which is what logrotate's
 * default (move, then signal) needs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "output.h"
#include "stats.h"

#define MAX_OUTPUTS 16

struct output {
	char	*path;		/* NULL: standard output */
	FILE	*fp;
	bool	 failed;	/* write error already reported */
};

static struct output outputs[MAX_OUTPUTS];
static int n_outputs;

int
iw_output_add(const char *spec, char *errbuf, size_t errlen)
{
	struct output *o;

	if (n_outputs == MAX_OUTPUTS) {
		snprintf(errbuf, errlen, "too many outputs (at most %d)",
		    MAX_OUTPUTS);
		return -1;
	}
	o = &outputs[n_outputs];
	memset(o, 0, sizeof(*o));
	if (strcmp(spec, "-") == 0) {
		o->fp = stdout;
	} else {
		o->path = strdup(spec);
		if (o->path == NULL) {
			snprintf(errbuf, errlen, "out of memory");
			return -1;
		}
		o->fp = fopen(spec, "a");
		if (o->fp == NULL) {
			snprintf(errbuf, errlen, "cannot open %s: %s", spec,
			    strerror(errno));
			free(o->path);
			return -1;
		}
	}
	n_outputs++;
	return 0;
}

static void
write_line(struct output *o, const char *line, size_t len)
{
	if (o->fp == NULL)
		return;
	if (fwrite(line, 1, len, o->fp) != len || putc('\n', o->fp) == EOF) {
		if (!o->failed)
			fprintf(stderr, "imapwatch: writing %s: %s\n",
			    o->path ? o->path : "standard output",
			    strerror(errno));
		o->failed = true;
		iw_stats.events_dropped++;
	}
}

void
iw_output_line(const char *line, size_t len)
{
	int i;

	if (n_outputs == 0) {
		outputs[0].fp = stdout;
		outputs[0].path = NULL;
		n_outputs = 1;
	}
	for (i = 0; i < n_outputs; i++)
		write_line(&outputs[i], line, len);
}

void
iw_output_reopen(void)
{
	FILE *fp;
	int i;

	for (i = 0; i < n_outputs; i++) {
		if (outputs[i].path == NULL)
			continue;
		fp = fopen(outputs[i].path, "a");
		if (fp == NULL) {
			/* keep writing to the old file rather than lose events */
			fprintf(stderr, "imapwatch: reopening %s: %s\n",
			    outputs[i].path, strerror(errno));
			continue;
		}
		fclose(outputs[i].fp);
		outputs[i].fp = fp;
		outputs[i].failed = false;
	}
}

void
iw_output_close(void)
{
	int i;

	for (i = 0; i < n_outputs; i++) {
		if (outputs[i].fp == NULL)
			continue;
		fflush(outputs[i].fp);
		if (outputs[i].path != NULL) {
			fsync(fileno(outputs[i].fp));
			fclose(outputs[i].fp);
			free(outputs[i].path);
		}
		outputs[i].fp = NULL;
	}
	n_outputs = 0;
}
