/* SPDX-License-Identifier: ISC */
/*
 * gen_hostile - writes the crafted captures of the hostile benchmark
 * (`make bench-hostile`, tests/hostile/run.sh) and of its regression
 * tests, each beside a control capture of the same size and shape whose
 * values are random rather than crafted.
 *
 *	gen_hostile --list
 *	gen_hostile ATTACK [--control] [--scale N] [--seed S] -o FILE
 *
 * --list prints one line per attack, tab-separated: name, default scale,
 * the imapwatch options the benchmark runs it with, the stats counters
 * (dotted paths in the stats event's `stats` object) that show what was
 * dropped or bounded ("-" for none of either: tabs are white space to a
 * shell's read), and a description.  tests/hostile/run.sh reads it,
 * so this table is the one place an attack is registered.
 *
 * Every capture, attack and control alike, also carries one cleartext
 * LOGIN (pw_victim_session) that imapwatch must still report.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostile.h"

/* ---- the registry: one line an attack ---- */

static const struct attack *const attacks[] = {
	&atk_syn_flood,
	&atk_idle_reassembly,
	&atk_holes_held,
	&atk_held_segments,
	&atk_deflate_bomb,
	&atk_anomaly_flood,
	&atk_anomaly_flows,
	&atk_stuck_literals,
	&atk_endless_line,
	&atk_pipelined_commands,
	&atk_one_byte_segments,
	&atk_flow_hash,
	&atk_frag_hash,
	&atk_ip_len_zero,
	&atk_frag_overlap,
	&atk_alerted_flood,
	&atk_frag_flood,
	&atk_tls_lengths,
	&atk_cert_churn,
	NULL
};

static const struct attack *
find_attack(const char *name)
{
	size_t i;

	for (i = 0; attacks[i] != NULL; i++)
		if (strcmp(attacks[i]->name, name) == 0)
			return attacks[i];
	return NULL;
}

static void
list_attacks(void)
{
	size_t i;

	for (i = 0; attacks[i] != NULL; i++)
		printf("%s\t%llu\t%s\t%s\t%s\n", attacks[i]->name,
		    (unsigned long long)attacks[i]->default_scale,
		    *attacks[i]->imapwatch_args ? attacks[i]->imapwatch_args : "-",
		    *attacks[i]->counters ? attacks[i]->counters : "-",
		    attacks[i]->description);
}

static void
usage(void)
{
	fprintf(stderr, "usage: gen_hostile --list\n"
	    "       gen_hostile ATTACK [--control] [--scale N] [--seed S] "
	    "-o FILE\n");
	exit(2);
}

static uint64_t
parse_u64(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || *s == '\0' || *end != '\0')
		usage();
	return v;
}

int
main(int argc, char *argv[])
{
	const struct attack *a;
	struct hostile_run run;
	struct pw_file w;
	const char *out = NULL;
	int i;

	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		list_attacks();
		return 0;
	}
	if (argc < 2 || (a = find_attack(argv[1])) == NULL)
		usage();
	memset(&run, 0, sizeof(run));
	run.scale = a->default_scale;
	run.seed = 1;
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--control") == 0)
			run.control = true;
		else if (strcmp(argv[i], "--scale") == 0 && i + 1 < argc)
			run.scale = parse_u64(argv[++i]);
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			run.seed = parse_u64(argv[++i]);
		else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			out = argv[++i];
		else
			usage();
	}
	if (out == NULL)
		usage();
	/* 2026-11-29 02:20:22 UTC, the time of the project's other captures */
	if (pw_open(&w, out, 1795918822ULL * 1000000) != 0) {
		fprintf(stderr, "gen_hostile: %s: %s\n", out, strerror(errno));
		return 1;
	}
	a->generate(&w, &run);
	if (pw_close(&w) != 0) {
		fprintf(stderr, "gen_hostile: writing %s failed\n", out);
		return 1;
	}
	return 0;
}
