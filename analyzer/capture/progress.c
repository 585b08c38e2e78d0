/* SPDX-License-Identifier: ISC */
/*
 * progress.c - the progress line of -r runs on a terminal.
 *
 * The bytes done are counted from the packets' records (pcap: a 16-byte
 * header and the captured bytes; pcapng: 32 bytes and the captured bytes
 * padded to 4), so no file position is needed and a pipe works too; the
 * percentage stays below 100 until the end.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

#define CHECK_EVERY	256	/* packets between looks at the clock */
#define FIRST_DRAW	0.5	/* s */
#define REDRAW		0.25	/* s */

static bool on, drawn;
static uint64_t total, done, packets, since_check;
static double t_start, t_drawn;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void
iw_progress_start(uint64_t bytes)
{
	on = isatty(STDERR_FILENO) == 1;
	total = bytes;
	done = packets = since_check = 0;
	t_start = t_drawn = now_s();
	drawn = false;
}

/* "12.3 MiB" */
static void
human(char *buf, size_t len, double v)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u == 0 ? "%.0f %s" : "%.1f %s", v, unit[u]);
}

static void
draw(double t)
{
	char line[256], a[32], b[32], r[32];
	double pct, el = t - t_start;
	int n;

	human(a, sizeof(a), (double)done);
	human(r, sizeof(r), el > 0 ? done / el : 0);
	if (total > 0) {
		human(b, sizeof(b), (double)total);
		pct = 100.0 * (double)done / (double)total;
		if (pct > 99.9)
			pct = 99.9;
		n = snprintf(line, sizeof(line), "\rimapwatch: %s of %s "
		    "(%.1f%%), %s/s, %llu packets\033[K", a, b, pct, r,
		    (unsigned long long)packets);
	} else
		n = snprintf(line, sizeof(line), "\rimapwatch: %s, %s/s, "
		    "%llu packets\033[K", a, r, (unsigned long long)packets);
	if (n > 0 && write(STDERR_FILENO, line,
	    (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1) > 0)
		drawn = true;
	t_drawn = t;
}

void
iw_progress_packet(uint64_t bytes)
{
	double t;

	done += bytes;
	packets++;
	if (!on || ++since_check < CHECK_EVERY)
		return;
	since_check = 0;
	t = now_s();
	if (t - t_start >= FIRST_DRAW && t - t_drawn >= REDRAW)
		draw(t);
}

void
iw_progress_clear(void)
{
	static const char erase[] = "\r\033[K";

	if (!on || !drawn)
		return;
	if (write(STDERR_FILENO, erase, sizeof(erase) - 1) < 0)
		on = false;
	drawn = false;
}

void
iw_progress_stop(void)
{
	iw_progress_clear();
	on = false;
}
