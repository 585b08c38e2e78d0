/* SPDX-License-Identifier: ISC */
/*
 * outfile.h - every file imapwatch creates is opened here: -o files,
 * --write-alerted, --summary=FILE, --pidfile, the IW_EVENT_LOG copies,
 * and any report to come.
 *
 * One rule for all of them, because imapwatch often runs as root in
 * directories others can write to (/tmp, a shared log directory) and its
 * files hold user names:
 *
 *  - a file that does not exist is created with mode 0640, or less when
 *    the umask takes more away; one that exists keeps its owner and mode
 *    (logrotate's "create 0640 imapwatch adm" decides those);
 *  - the last component of the path is never followed when it is a
 *    symbolic link (O_NOFOLLOW): a link planted where the file goes is
 *    refused, with an error naming the file, rather than letting root
 *    write through it to wherever it points;
 *  - the descriptor is close-on-exec.
 */
#ifndef IW_OUTFILE_H
#define IW_OUTFILE_H

#include <stddef.h>
#include <stdio.h>

#define IW_OUTFILE_MODE	0640

enum iw_outfile_how {
	IW_OUTFILE_APPEND,	/* write-only, each write at the end */
	IW_OUTFILE_TRUNCATE,	/* write-only, emptied at open */
	IW_OUTFILE_UPDATE	/* read-write, kept as it is: for a file the
				 * caller locks before it changes it */
};

/*
 * Opens path for writing as above; extra_flags are more open(2) flags
 * (O_NONBLOCK).  Returns the descriptor, or -1 with why in err (the
 * caller names the file and the option).
 */
int iw_outfile_open(const char *path, enum iw_outfile_how how,
    int extra_flags, char *err, size_t errlen);

/* The same as a stdio stream ("wb" or "ab"); NULL with err. */
FILE *iw_outfile_fopen(const char *path, enum iw_outfile_how how,
    char *err, size_t errlen);

#endif /* IW_OUTFILE_H */
