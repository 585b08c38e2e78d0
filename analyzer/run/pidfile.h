/* SPDX-License-Identifier: ISC */
/*
 * pidfile.h - --pidfile FILE.
 *
 * Created as every file imapwatch makes (include/outfile.h: 0640, never
 * through a symbolic link) and locked before privileges are dropped, so
 * it may live in a root-owned directory such as /run; the lock makes a second
 * instance with the same file refuse to start.  The file stays owned by
 * the user who started imapwatch (an unprivileged process must not be able
 * to point it at another pid).  At exit it is removed; when the directory
 * does not let the (dropped) user remove it, it is emptied instead, through
 * the descriptor kept open.
 */
#ifndef IW_PIDFILE_H
#define IW_PIDFILE_H

#include <stddef.h>

/* 0, or -1 with a message in err. */
int iw_pidfile_create(const char *path, char *err, size_t errlen);

/* Remove (or empty) it; safe to call more than once, and from atexit. */
void iw_pidfile_remove(void);

#endif /* IW_PIDFILE_H */
