/* SPDX-License-Identifier: ISC */
/*
 * config.h - the run's settings, filled once from the command line
 * (analyzer/main.c) and read everywhere else.
 */
#ifndef IW_CONFIG_H
#define IW_CONFIG_H

#include "iw.h"
#include "state.h"

#define IW_MAX_PORTS 64

enum iw_usernames {
	IW_USERNAMES_PLAIN = 0,
	IW_USERNAMES_HASH,
	IW_USERNAMES_OMIT,
};

/* An expected server name configured by the user (--server-name). */
struct iw_server_name {
	struct iw_addr	 addr;
	int		 port;		/* 0: any port */
	char		*name;
};

struct iw_config {
	/* what to analyse */
	uint16_t	imaps_ports[IW_MAX_PORTS];
	int		n_imaps_ports;
	bool		all_tls;	/* report every TLS stream */
	bool		flows;		/* a flow event per TCP connection */
	bool		verify_checksums; /* drop packets with bad checksums */

	/* usernames in events */
	enum iw_usernames usernames;
	uint8_t		username_salt[32];

	/* tables and timeouts (seconds of packet time) */
	uint64_t	max_flows;
	int		tcp_idle_timeout;
	int		tcp_closed_timeout;
	uint64_t	reasm_flow_cap;		/* out-of-order bytes a flow */
	uint64_t	reasm_global_cap;	/* out-of-order bytes in all */
	uint64_t	frag_mem_cap;		/* IP fragments held */
	uint64_t	flow_mem_cap;		/* all that flows hold (flowmem.h) */
	uint64_t	inflate_ratio;		/* COMPRESS: inflated bytes past
						 * the first MiB per compressed
						 * byte, a direction */
	uint64_t	inflate_max;		/* ... and in all, a direction */
	uint32_t	anomaly_rate;		/* anomaly events a kind a second
						 * of packet time (0: no limit) */

	/* findings */
	int		bruteforce_count;	/* failed auths ... */
	int		bruteforce_window;	/* ... within this many s */
	struct iw_server_name *server_names;
	int		n_server_names;
	const char	*policy_file;
	const char	*ca_file;
};

enum iw_format {
	IW_FORMAT_EVE = 0,	/* Suricata EVE field names (default) */
	IW_FORMAT_ECS,		/* Elastic Common Schema */
};

/* Settings of running as a sensor and of noise control (issue 5). */
struct iw_sensor_config {
	enum iw_format	 format;
	const char	*config_file;		/* --config */
	const char	*suppress_file;		/* --suppress */
	bool		 alert_once_per_server;
	const char	*pidfile;
	const char	*summary_file;		/* --summary[=FILE]: "-" stderr */
	bool		 summary;
	const char	*write_alerted;		/* --write-alerted FILE.pcap */
	const char	*report_file;		/* --report FILE.html */
	int		 stats_interval;	/* seconds, live */

	/* the correlator's state (issue 10); fixed at start */
	const char	*state;			/* --state: NULL, memory only */
	const char	*state_password;	/* the --config file only */
	const char	*state_password_file;	/* mode 0600 or stricter */
	int		 state_timeout_ms;	/* 0: 20 live, 2000 files */
	struct iw_state_limits state_limits[IW_STATE_KINDS];
};

extern struct iw_config iw_cfg;
extern struct iw_sensor_config iw_sensor;

/* Defaults for everything (called before parsing options). */
void iw_config_defaults(struct iw_config *);

bool iw_config_is_imaps_port(uint16_t port);

/* The expected name configured for this server, or NULL. */
const char *iw_config_server_name(const struct iw_addr *, uint16_t port);

/* Parse "ADDR=NAME" or "ADDR:PORT=NAME" ("[v6]:PORT=NAME"); 0 or -1. */
int iw_config_add_server_name(const char *spec);

#endif /* IW_CONFIG_H */
