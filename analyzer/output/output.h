/* SPDX-License-Identifier: ISC */
/*
 * output.h - where event lines go (-o, repeatable).
 *
 *   -                          standard output
 *   PATH, file:PATH            a file: appended, a write(2) a line,
 *                              reopened on SIGHUP, fsync'ed on exit
 *   syslog:[/PATH]             RFC 5424 to the local syslog socket
 *                              (/dev/log, datagrams)
 *   syslog://HOST:PORT         RFC 5424 over UDP (also syslog+udp://)
 *   syslog+tcp://HOST:PORT     RFC 5424 over TCP, RFC 6587 octet counting
 *   unix:/PATH                 Unix stream socket, one event a line
 *   unixgram:/PATH             Unix datagram socket, one event a datagram
 *   redis://HOST[:PORT]/KEY    RPUSH to a list (?mode=lpush, or
 *                              ?mode=publish to a channel)
 *
 * Socket sinks take options after '?', joined by '&': queue=SIZE (bytes,
 * suffix k, m or g; default 16m), queue_events=N (default 100000),
 * facility=NAME (syslog; default local5), mode=list|rpush|lpush|publish
 * (redis).
 *
 * A socket sink never blocks the caller: each has a bounded queue filled
 * by iw_output_line and drained with non-blocking writes; when it is full
 * the newest event is dropped and counted.  An event is written whole or
 * not at all (a stream that reconnects resends the event it was writing
 * from its start).  A dead connection is retried from iw_output_tick with
 * an exponential backoff of 1 s to 30 s.
 */
#ifndef IW_OUTPUT_H
#define IW_OUTPUT_H

#include <stddef.h>

struct json_object;

/* Add an output (see above).  Returns 0, or -1 with a one-line message
 * in errbuf; a socket sink whose peer is not there yet is no error. */
int iw_output_add(const char *spec, char *errbuf, size_t errlen);

/* Write one complete event (without its newline) to every output; hold
 * iw_output_lock() around it when workers may write too. */
void iw_output_line(const char *line, size_t len);

/*
 * The sinks are used by one thread at a time: with workers, lines are
 * written by whichever worker serialised them (event_batch.c), beside the
 * run loop's ticks, reopens and stats.  The tick, reopen and close take
 * the lock themselves.
 */
void iw_output_lock(void);
void iw_output_unlock(void);

/* Drain queues, retry dead connections; cheap, call it every loop turn. */
void iw_output_tick(void);

/* Reopen file outputs (after SIGHUP); flushes standard output. */
void iw_output_reopen(void);

/* Drain the queues for up to 2 s, count what is left as dropped (with a
 * line on stderr), then flush and close everything (fsync for files). */
void iw_output_close(void);

/* Per-output counters for the stats event (stats.outputs): an array. */
struct json_object *iw_output_stats(void);

#endif /* IW_OUTPUT_H */
