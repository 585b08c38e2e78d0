/* SPDX-License-Identifier: ISC */
/*
 * sink.h - the outputs behind output.h: one struct for every kind, the
 * bounded event queue of the socket sinks, and the pieces each kind adds
 * (sink_file.c, sink_net.c, sink_syslog.c, sink_redis.c).  Internal.
 */
#ifndef IW_SINK_H
#define IW_SINK_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the queue (sink_queue.c) ---- */

/*
 * A FIFO of byte records in 64 KiB chunks, bounded by bytes and by count.
 * Records past the "mark" were handed to the connection but not yet
 * acknowledged (Redis replies); the others pop when written.
 */
struct iwq_chunk;

struct iw_queue {
	struct iwq_chunk *first, *last, *spare;
	size_t		 bytes, count;	/* records held */
	size_t		 max_bytes, max_count;
	size_t		 n_marked;	/* sent, not acknowledged */
	struct iwq_chunk *mark;		/* first unsent, if n_marked */
	size_t		 mark_off;
};

void	 iwq_init(struct iw_queue *, size_t max_bytes, size_t max_count);
char	*iwq_push(struct iw_queue *, size_t len);	/* NULL: full */
bool	 iwq_front(const struct iw_queue *, const char **, size_t *);
void	 iwq_pop(struct iw_queue *);
bool	 iwq_unsent(struct iw_queue *, const char **, size_t *);
void	 iwq_mark_sent(struct iw_queue *);
void	 iwq_rewind(struct iw_queue *);
void	 iwq_free(struct iw_queue *);

/* ---- sinks ---- */

enum iw_sink_kind {
	IW_SINK_STDOUT,
	IW_SINK_FILE,
	IW_SINK_SYSLOG,		/* local socket, UDP or TCP */
	IW_SINK_UNIX,		/* stream, one event a line */
	IW_SINK_UNIXGRAM,	/* one event a datagram */
	IW_SINK_REDIS
};

enum iw_sink_state { IW_SS_DOWN, IW_SS_CONNECTING, IW_SS_UP };

enum iw_redis_mode { IW_REDIS_RPUSH, IW_REDIS_LPUSH, IW_REDIS_PUBLISH };

#define IW_SINK_NAMELEN	256
#define IW_SYSLOG_HDRMAX 512

struct redisContext;

struct iw_sink {
	enum iw_sink_kind kind;
	char		 name[IW_SINK_NAMELEN];	/* the -o spec */

	/* counters: events = sent + dropped + queue.count */
	uint64_t	 events, sent, dropped, reconnects;

	/* file, standard output */
	char		*path;
	int		 fd;
	bool		 failed;	/* write error already reported */

	/* socket sinks */
	struct iw_queue	 q;
	enum iw_sink_state state;
	struct sockaddr_storage addr;
	socklen_t	 addrlen;
	int		 socktype;	/* SOCK_STREAM, SOCK_DGRAM */
	size_t		 woff;		/* sent of the front record */
	int64_t		 next_try, backoff, since;	/* ms */
	bool		 ever_up, said_down;

	/* syslog */
	int		 facility;
	char		 hdr_tail[300];	/* " HOST imapwatch PID " */

	/* redis */
	struct redisContext *rc;
	enum iw_redis_mode mode;
	char		 key[256];
	char		 ip[64];
	int		 port;
	char		 lasterr[128];	/* last error reply */
	bool		 said_refused;
};

int64_t	 iw_sink_now(void);

/* sink_file.c */
int	 iw_sink_file_open(struct iw_sink *, const char *, char *, size_t);
void	 iw_sink_file_write(struct iw_sink *, const char *, size_t);
void	 iw_sink_file_reopen(struct iw_sink *);
void	 iw_sink_file_close(struct iw_sink *);

/* sink_net.c: every socket sink, Redis included */
void	 iw_sink_net_init(struct iw_sink *, size_t, size_t);
void	 iw_sink_net_line(struct iw_sink *, const char *, size_t);
bool	 iw_sink_net_busy(const struct iw_sink *);
void	 iw_sink_net_service(struct iw_sink *, int64_t now);
int	 iw_sink_net_pollfd(struct iw_sink *, short *);
void	 iw_sink_net_retry_now(struct iw_sink *, int64_t now, int64_t cap);
void	 iw_sink_net_close(struct iw_sink *);
void	 iw_sink_net_lost(struct iw_sink *, const char *, int64_t);
void	 iw_sink_drop(struct iw_sink *, uint64_t);

/* sink_syslog.c */
int	 iw_syslog_facility(const char *);
void	 iw_syslog_init(struct iw_sink *);
size_t	 iw_syslog_header(const struct iw_sink *, const char *, size_t,
	    char *, size_t);

/* sink_redis.c */
size_t	 iw_redis_prefix(const struct iw_sink *, size_t, char *, size_t);
int	 iw_redis_connect(struct iw_sink *, char *, size_t);
void	 iw_redis_connected(struct iw_sink *);
void	 iw_redis_flush(struct iw_sink *, int64_t);
void	 iw_redis_close(struct iw_sink *);

#endif /* IW_SINK_H */
