/* SPDX-License-Identifier: ISC */
/*
 * addr.c - addresses as every stage reads and writes them (include/iw.h):
 * IPv4 kept as ::ffff:a.b.c.d, text as inet_ntop(3) gives it (EVE's form).
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "iw.h"

const char *
iw_addr_str(const struct iw_addr *a, char buf[IW_ADDRSTRLEN])
{
	if (a->family == AF_INET)
		inet_ntop(AF_INET, a->a + 12, buf, IW_ADDRSTRLEN);
	else
		inet_ntop(AF_INET6, a->a, buf, IW_ADDRSTRLEN);
	return buf;
}

int
iw_addr_parse(const char *s, struct iw_addr *a)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->a + 12) == 1) {
		a->family = AF_INET;
		memcpy(a->a, v4mapped, sizeof(v4mapped));
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->a) == 1) {
		a->family = AF_INET6;
		return 0;
	}
	return -1;
}

bool
iw_addr_eq(const struct iw_addr *x, const struct iw_addr *y)
{
	return x->family == y->family && memcmp(x->a, y->a, 16) == 0;
}
