/* SPDX-License-Identifier: ISC */
/*
 * test_tls_budget.c - memory held for split handshake messages is bounded:
 * a ClientHello past 64 KiB is refused, and all sessions together never
 * hold more than 64 MiB, whatever hostile peers announce and then leave
 * unfinished.
 */
#include <string.h>

#include "harness.h"
#include "tls_int.h"

/* One TLS record of type 22 carrying len bytes from p. */
static void
record(struct th *t, enum iw_dir dir, const uint8_t *p, size_t len)
{
	uint8_t rec[5 + 16384];

	rec[0] = 22;
	rec[1] = 3;
	rec[2] = 3;
	rec[3] = (uint8_t)(len >> 8);
	rec[4] = (uint8_t)len;
	memcpy(rec + 5, p, len);
	th_send(t, dir, rec, 5 + len);
}

/* A handshake message of type `type` announcing mlen bytes, of which
 * `sent` are sent, in records of 16 KiB. */
static void
partial_message(struct th *t, enum iw_dir dir, uint8_t type, uint32_t mlen,
    size_t sent)
{
	static uint8_t body[16384];
	size_t n;

	body[0] = type;
	body[1] = (uint8_t)(mlen >> 16);
	body[2] = (uint8_t)(mlen >> 8);
	body[3] = (uint8_t)mlen;
	memset(body + 4, 0x41, sizeof(body) - 4);
	for (; sent > 0; sent -= n) {
		n = sent < sizeof(body) ? sent : sizeof(body);
		record(t, dir, body, n);
		memset(body, 0x41, 4);
	}
}

static int
anomalies(struct json_object *events, const char *name)
{
	size_t i, n = json_object_array_length(events);
	int count = 0;
	const char *e;

	for (i = 0; i < n; i++) {
		e = th_str(json_object_array_get_idx(events, i),
		    "anomaly.kind");
		if (e != NULL && strcmp(e, name) == 0)
			count++;
	}
	return count;
}

static void
test_client_cap(void)
{
	struct json_object *ev;
	struct th t;

	th_clear();
	th_open(&t, "192.0.2.1", 50000, "192.0.2.2", 993);
	/* a ClientHello announcing 100 KB, sent 80 KB of it */
	partial_message(&t, IW_TO_SERVER, 1, 100000, 80000);
	th_end(&t, IW_END_FIN);
	ev = th_events();
	CHECK(anomalies(ev, "handshake_message_too_long") == 1,
	    "a ClientHello over 64 KiB is refused, as an anomaly");
	json_object_put(ev);

	th_clear();
	th_open(&t, "192.0.2.1", 50001, "192.0.2.2", 993);
	/* the server's Certificate may be much larger (10,000 SANs) */
	partial_message(&t, IW_TO_CLIENT, 11, 500000, 400000);
	th_end(&t, IW_END_FIN);
	ev = th_events();
	CHECK(anomalies(ev, "handshake_message_too_long") == 0,
	    "a 500 KB Certificate from the server is held");
	json_object_put(ev);
}

static void
test_global_budget(void)
{
	enum { N = 80 };
	static struct th t[N];
	struct json_object *ev;
	int i;

	th_clear();
	/* 80 servers each leave a 1 MiB Certificate unfinished: 80 MiB
	 * announced, the budget is 64 MiB */
	for (i = 0; i < N; i++) {
		th_open(&t[i], "192.0.2.1", (uint16_t)(40000 + i), "192.0.2.2",
		    993);
		partial_message(&t[i], IW_TO_CLIENT, 11, 1000000, 960000);
	}
	ev = th_events();
	CHECK(anomalies(ev, "handshake_memory_budget") >= N - 64,
	    "past 64 MiB in all, further messages are refused (%d)",
	    anomalies(ev, "handshake_memory_budget"));
	json_object_put(ev);
	for (i = 0; i < N; i++)
		th_end(&t[i], IW_END_FIN);

	/* once those sessions are gone, the memory is free again */
	th_clear();
	th_open(&t[0], "192.0.2.1", 39999, "192.0.2.2", 993);
	partial_message(&t[0], IW_TO_CLIENT, 11, 1000000, 960000);
	th_end(&t[0], IW_END_FIN);
	ev = th_events();
	CHECK(anomalies(ev, "handshake_memory_budget") == 0,
	    "ended sessions give their handshake memory back");
	json_object_put(ev);
}

int
main(void)
{
	th_init();
	test_client_cap();
	test_global_budget();
	return th_done();
}
