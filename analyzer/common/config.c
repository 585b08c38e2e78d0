/* SPDX-License-Identifier: ISC */
/*
 * config.c - defaults and lookups for the run's settings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"

struct iw_config iw_cfg;
struct iw_sensor_config iw_sensor;

void
iw_config_defaults(struct iw_config *c)
{
	memset(c, 0, sizeof(*c));
	c->imaps_ports[0] = 993;
	c->n_imaps_ports = 1;
	c->usernames = IW_USERNAMES_PLAIN;
	c->max_flows = 1000000;
	c->tcp_idle_timeout = 1800;	/* IDLE clients re-issue every 29 min */
	c->tcp_closed_timeout = 60;	/* as TIME_WAIT: late retransmissions */
	c->reasm_flow_cap = 1 << 20;
	c->reasm_global_cap = 256ULL << 20;
	c->frag_mem_cap = 32ULL << 20;
	c->flow_mem_cap = 2ULL << 30;
	c->inflate_ratio = 100;
	c->inflate_max = 64ULL << 20;
	c->anomaly_rate = 100;
	c->bruteforce_count = 10;
	c->bruteforce_window = 60;
}

bool
iw_config_is_imaps_port(uint16_t port)
{
	int i;

	for (i = 0; i < iw_cfg.n_imaps_ports; i++)
		if (iw_cfg.imaps_ports[i] == port)
			return true;
	return false;
}

const char *
iw_config_server_name(const struct iw_addr *a, uint16_t port)
{
	const struct iw_server_name *sn;
	const char *any_port = NULL;
	int i;

	for (i = 0; i < iw_cfg.n_server_names; i++) {
		sn = &iw_cfg.server_names[i];
		if (!iw_addr_eq(&sn->addr, a))
			continue;
		if (sn->port == port)
			return sn->name;
		if (sn->port == 0 && any_port == NULL)
			any_port = sn->name;
	}
	return any_port;
}

/* Splits "ADDR", "ADDR:PORT" (IPv4) or "[ADDR]:PORT" into addr and port. */
static int
parse_addr_port(char *s, struct iw_addr *a, int *port)
{
	char *colon, *end;
	long p;

	*port = 0;
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (end == NULL)
			return -1;
		*end = '\0';
		if (end[1] == ':') {
			p = strtol(end + 2, &colon, 10);
			if (*colon != '\0' || p < 1 || p > 65535)
				return -1;
			*port = (int)p;
		} else if (end[1] != '\0')
			return -1;
		return iw_addr_parse(s + 1, a);
	}
	colon = strchr(s, ':');
	if (colon != NULL && strchr(colon + 1, ':') == NULL) {
		*colon = '\0';
		p = strtol(colon + 1, &end, 10);
		if (*end != '\0' || p < 1 || p > 65535)
			return -1;
		*port = (int)p;
	}
	return iw_addr_parse(s, a);
}

int
iw_config_add_server_name(const char *spec)
{
	struct iw_server_name *sn, *grown;
	char *copy, *eq;

	copy = strdup(spec);
	if (copy == NULL)
		return -1;
	eq = strchr(copy, '=');
	if (eq == NULL || eq[1] == '\0' || strlen(eq + 1) > 253)
		goto bad;
	*eq = '\0';
	grown = realloc(iw_cfg.server_names,
	    (iw_cfg.n_server_names + 1) * sizeof(*grown));
	if (grown == NULL)
		goto bad;
	iw_cfg.server_names = grown;
	sn = &grown[iw_cfg.n_server_names];
	if (parse_addr_port(copy, &sn->addr, &sn->port) != 0)
		goto bad;
	sn->name = strdup(eq + 1);
	if (sn->name == NULL)
		goto bad;
	iw_cfg.n_server_names++;
	free(copy);
	return 0;
bad:
	free(copy);
	return -1;
}
