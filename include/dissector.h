/* SPDX-License-Identifier: ISC */
/*
 * dissector.h - what a stream dissector is: the interface between the
 * engine (analyzer/) and the protocols (dissectors/).
 *
 * A dissector sees the ordered bytes of one TCP connection, both directions
 * interleaved in the order they were captured, plus notices of gaps and of
 * the end.  It never sees packets, never touches libpcap and never allocates
 * per packet.  It talks back to the engine only through the functions in
 * session.h (skip, bypass, alert, anomaly, ...).
 *
 * Delivery contract (picohttpparser style):
 *   data() is given every byte not yet consumed in that direction, in order.
 *   It returns how many of them it consumed.  Bytes it did not consume are
 *   kept by the engine and given again, followed by new ones, at the next
 *   delivery.  A dissector that returns 0 says "need more".  The engine keeps
 *   at most IW_PENDING_MAX unconsumed bytes a direction: when len reaches it,
 *   data() must consume something (e.g. process a line prefix and discard the
 *   rest of an over-long line); if it does not, the engine counts an anomaly
 *   and turns the held bytes into a gap.
 *
 *   After a gap() in a direction, the next data() in that direction starts
 *   at an unknown position in the protocol: the dissector resynchronises or
 *   gives up (iw_session_bypass).
 *
 *   end() is called once, when the connection ends (FIN/RST, timeout,
 *   eviction, end of input); then report() adds the dissector's objects to
 *   the session event; then destroy().
 */
#ifndef IW_DISSECTOR_H
#define IW_DISSECTOR_H

#include "iw.h"

struct iw_session;
struct json_object;

/* Unconsumed bytes the engine holds per direction for a dissector. */
#define IW_PENDING_MAX (64 * 1024)

enum iw_probe {
	IW_PROBE_NO = 0,	/* these bytes are not this protocol */
	IW_PROBE_MORE,		/* cannot tell yet: need more bytes */
	IW_PROBE_MATCH,		/* this protocol: attach the dissector */
	IW_PROBE_MATCH_REVERSED,/* this protocol, and these bytes show the
				 * roles the other way round (a greeting from
				 * the "client", a ClientHello from the
				 * "server" of a connection picked up
				 * mid-stream): swap them, then attach */
};

struct iw_dissector {
	const char *name;

	/*
	 * Decide from the first bytes of one direction (all bytes so far, never
	 * consumed) whether the connection is this protocol.  Content first;
	 * the endpoints only break ties.
	 */
	enum iw_probe (*probe)(enum iw_dir, const uint8_t *buf, size_t len,
	    const struct iw_endpoints *);

	/* A new state for one connection; NULL when out of memory. */
	void *(*create)(struct iw_session *);

	size_t (*data)(void *st, enum iw_dir, const uint8_t *buf, size_t len);
	void (*gap)(void *st, enum iw_dir, uint64_t len);
	void (*end)(void *st, enum iw_end_reason);

	/* Add this dissector's objects ("imap", "tls") to the session event. */
	void (*report)(void *st, struct json_object *event);

	void (*destroy)(void *st);
};

/* The registry (dissectors/registry.c), in probe order, NULL-terminated. */
extern const struct iw_dissector *const iw_dissectors[];

#endif /* IW_DISSECTOR_H */
