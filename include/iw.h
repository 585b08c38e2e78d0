/* SPDX-License-Identifier: ISC */
/*
 * iw.h - small types every part of imapwatch shares.
 */
#ifndef IW_IW_H
#define IW_IW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IW_VERSION "0.2.0"

/* Packet time in microseconds since the epoch (EVE's resolution). */
typedef int64_t iw_time;

#define IW_USEC	1000000LL

/* Direction of bytes in a TCP connection, from the client's point of view. */
enum iw_dir {
	IW_TO_SERVER = 0,
	IW_TO_CLIENT = 1,
};

static inline enum iw_dir
iw_dir_other(enum iw_dir d)
{
	return d == IW_TO_SERVER ? IW_TO_CLIENT : IW_TO_SERVER;
}

/* An IPv4 address is stored as ::ffff:a.b.c.d in the 16 bytes. */
struct iw_addr {
	uint8_t	family;		/* AF_INET or AF_INET6 */
	uint8_t	a[16];
};

/* The endpoints of one TCP connection, client first. */
struct iw_endpoints {
	struct iw_addr	client;
	struct iw_addr	server;
	uint16_t	cport;
	uint16_t	sport;
};

/* Text form of an address, as EVE writes it (inet_ntop): common/addr.c. */
#define IW_ADDRSTRLEN 46
const char *iw_addr_str(const struct iw_addr *, char buf[IW_ADDRSTRLEN]);
int iw_addr_parse(const char *, struct iw_addr *);
bool iw_addr_eq(const struct iw_addr *, const struct iw_addr *);

/* Why a session or flow ended (the `reason` in events). */
enum iw_end_reason {
	IW_END_FIN = 0,		/* both sides closed */
	IW_END_RST,		/* reset */
	IW_END_TIMEOUT,		/* idle timeout */
	IW_END_EVICTED,		/* flow table full, oldest idle evicted */
	IW_END_SHUTDOWN,	/* end of input, or a signal on a live run */
	IW_END_REUSED,		/* a new connection took the same ports */
};

const char *iw_end_reason_name(enum iw_end_reason);

#endif /* IW_IW_H */
