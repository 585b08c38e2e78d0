/* SPDX-License-Identifier: ISC */
/*
 * pcapw.h - a small, fast writer of crafted captures for the hostile
 * benchmark and its regression tests (tests/hostile/).
 *
 * Frames are Ethernet II carrying IPv4 or IPv6 and TCP, with correct IP
 * and TCP checksums, microsecond pcap records.  Nothing here is clever:
 * the point is to write millions of frames a second so that an attack of
 * 5 M packets is generated in seconds.
 */
#ifndef HOSTILE_PCAPW_H
#define HOSTILE_PCAPW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* TCP flags */
#define TH_FIN	0x01
#define TH_SYN	0x02
#define TH_RST	0x04
#define TH_PSH	0x08
#define TH_ACK	0x10

struct pw_file {
	FILE		*f;
	uint64_t	 ts_us;		/* time of the next frame */
	uint64_t	 frames;
	uint64_t	 bytes;
};

/* One side of a connection: address (v4 or v6) and port. */
struct pw_end {
	bool		v6;
	uint8_t		addr[16];	/* v4 in the first 4 bytes */
	uint16_t	port;
};

/* A TCP connection being written, with both sides' next sequence numbers. */
struct pw_conn {
	struct pw_end	c, s;
	uint32_t	cseq, sseq;	/* next byte each side sends */
	uint16_t	ip_id;
};

enum pw_dir { PW_C2S = 0, PW_S2C = 1 };

int pw_open(struct pw_file *, const char *path, uint64_t start_us);
int pw_close(struct pw_file *);

/* Moves the clock on by us microseconds before the next frame. */
void pw_advance(struct pw_file *, uint64_t us);

/* Any frame, as given (already link-layer framed). */
void pw_frame(struct pw_file *, const uint8_t *frame, size_t len,
    size_t orig_len);

/*
 * One TCP segment from `from` to `to`, with an Ethernet and IP header.
 * ip_total_override: 0 writes the real IPv4 total length / IPv6 payload
 * length; otherwise that value is written as is (0 included when
 * ip_len_zero is set, the segmentation-offload case).
 */
struct pw_seg {
	const struct pw_end	*from, *to;
	uint32_t		 seq, ack;
	uint8_t			 flags;
	const uint8_t		*payload;
	size_t			 len;
	uint16_t		 ip_id;
	bool			 ip_len_zero;
	size_t			 orig_len;	/* 0: the frame's length */
};
void pw_tcp(struct pw_file *, const struct pw_seg *);

/* Endpoints: pw_v4(&e, "192.0.2.1", 143) or pw_v6(&e, "2001:db8::1", 143). */
void pw_v4(struct pw_end *, const char *addr, uint16_t port);
void pw_v6(struct pw_end *, const char *addr, uint16_t port);

/* Connection helpers: handshake, data in order, FIN both ways. */
void pw_conn_init(struct pw_conn *, const struct pw_end *client,
    const struct pw_end *server, uint32_t cisn, uint32_t sisn);
void pw_handshake(struct pw_file *, struct pw_conn *);
void pw_send(struct pw_file *, struct pw_conn *, enum pw_dir,
    const void *data, size_t len);
void pw_close_conn(struct pw_file *, struct pw_conn *);

/*
 * The victim every hostile capture also carries: one cleartext IMAP
 * session with LOGIN (user VICTIM_USER, password VICTIM_PASS) that
 * imapwatch must still report as cleartext_login whatever came before.
 */
#define VICTIM_USER	"victim"
#define VICTIM_PASS	"hostile-secret-7"
void pw_victim_session(struct pw_file *, const struct pw_end *client,
    const struct pw_end *server);
/* The same, calling before_login(w, conn, arg) after the greeting: an
 * attack on the victim's own connection. */
void pw_victim_session_hook(struct pw_file *, const struct pw_end *client,
    const struct pw_end *server,
    void (*before_login)(struct pw_file *, struct pw_conn *, void *),
    void *arg);

/*
 * IP fragments.  pw_tcp_bytes writes a TCP segment (header and payload,
 * checksum right for g->from and g->to) to out (20 + 65000 bytes at
 * most) and returns its length: the datagram to cut.  pw_ip_fragment
 * writes bytes [offset, offset + len) of a datagram as one fragment:
 * IPv4 (16-bit id), or IPv6 with a Fragment header (32-bit id) whose next
 * header is proto.
 */
struct pw_frag {
	const struct pw_end	*from, *to;
	uint32_t		 id;
	uint32_t		 offset;	/* bytes; a multiple of 8 */
	bool			 more;		/* MF: not the last */
	uint8_t			 proto;		/* 6: TCP */
	const uint8_t		*data;
	size_t			 len;
};
size_t pw_tcp_bytes(uint8_t *out, const struct pw_seg *);
/* The client's next segment of k carrying data (ACK, PSH), to be sent or
 * cut: nothing is written and k does not move. */
void pw_client_seg(struct pw_seg *, const struct pw_conn *k,
    const void *data, size_t len);
void pw_ip_fragment(struct pw_file *, const struct pw_frag *);

/*
 * A client in 10.0.0.0/8 at a port above 1023, both taken from the
 * random value v; and the victim session last, after a second's pause,
 * between the addresses every attack uses (192.0.2.10:40000 to
 * 192.0.2.200:143), before_login as for pw_victim_session_hook (or NULL).
 */
void pw_client_v4(struct pw_end *, uint64_t v);
void pw_victim_last(struct pw_file *,
    void (*before_login)(struct pw_file *, struct pw_conn *, void *),
    void *arg);

/*
 * Out of order: one segment `off` bytes past the next sequence number of
 * direction d (nothing is advanced); pw_seq_skip then moves the next
 * sequence number past bytes so sent.  pw_send_reordered sends
 * data[split..] first, then data[..split], and advances.
 */
void pw_seg_at(struct pw_file *, struct pw_conn *, enum pw_dir,
    uint32_t off, const void *data, size_t len);
void pw_seq_skip(struct pw_conn *, enum pw_dir, uint32_t n);
void pw_send_reordered(struct pw_file *, struct pw_conn *, enum pw_dir,
    const void *data, size_t len, size_t split);

/* A bare ACK from direction d (a keep-alive of an idle connection). */
void pw_ack(struct pw_file *, struct pw_conn *, enum pw_dir);

/*
 * The victim again, but its LOGIN line comes in two segments, the second
 * (the password) captured before the first: found only if the sensor
 * can still reorder a segment for this connection.
 */
void pw_victim_session_split(struct pw_file *, const struct pw_end *client,
    const struct pw_end *server);

/*
 * The i-th of many clients: 10.(net + i / 65536).(i / 256 % 256).(i % 256),
 * port 1024 + i % 60000.
 */
void pw_client_n(struct pw_end *, uint8_t net, uint64_t i);

/* Handshake, then the server's greeting (a C string). */
void pw_open_imap(struct pw_file *, struct pw_conn *,
    const struct pw_end *client, const struct pw_end *server, uint32_t cisn,
    const char *greeting);

/* The end of a connection: FINs (close) or three keep-alives (it stays). */
void pw_linger(struct pw_file *, struct pw_conn *, bool close);

/* Deterministic pseudo-random numbers (splitmix64), seeded per attack. */
uint64_t pw_rand(uint64_t *state);

#endif /* HOSTILE_PCAPW_H */
