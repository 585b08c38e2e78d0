/* SPDX-License-Identifier: ISC */
/*
 * hostile.h - what an attack of the hostile benchmark is (gen_hostile.c's
 * registry), and the attacks there are, one file each (atk_*.c).
 */
#ifndef HOSTILE_HOSTILE_H
#define HOSTILE_HOSTILE_H

#include "pcapw.h"

struct hostile_run {
	bool		control;	/* the same size and shape, random
					 * values instead of crafted ones */
	uint64_t	scale;		/* units of the attack (packets,
					 * connections, ... as described) */
	uint64_t	seed;
};

struct attack {
	const char	*name;
	uint64_t	 default_scale;	/* the benchmark's size */
	/* imapwatch options for the benchmark run (caps it is judged
	 * against), space-separated, "" for none */
	const char	*imapwatch_args;
	/* stats counters that show what was dropped or bounded, comma-
	 * separated dotted paths in the stats event's "stats" object */
	const char	*counters;
	const char	*description;
	/* writes the attack (or its control) and the victim session */
	void		(*generate)(struct pw_file *, const struct hostile_run *);
};

extern const struct attack atk_syn_flood;
extern const struct attack atk_idle_reassembly;
extern const struct attack atk_holes_held;
extern const struct attack atk_held_segments;
extern const struct attack atk_deflate_bomb;
extern const struct attack atk_anomaly_flood;
extern const struct attack atk_anomaly_flows;
extern const struct attack atk_stuck_literals;
extern const struct attack atk_endless_line;
extern const struct attack atk_pipelined_commands;
extern const struct attack atk_one_byte_segments;
extern const struct attack atk_flow_hash;
extern const struct attack atk_frag_hash;
extern const struct attack atk_ip_len_zero;
extern const struct attack atk_frag_overlap;
extern const struct attack atk_alerted_flood;
extern const struct attack atk_frag_flood;
extern const struct attack atk_tls_lengths;
extern const struct attack atk_cert_churn;

#endif /* HOSTILE_HOSTILE_H */
