/*
 * output.h - where event lines go.  Each line is written whole or not at
 * all; files are reopened on SIGHUP (logrotate).
 */
#ifndef IW_OUTPUT_H
#define IW_OUTPUT_H

#include <stddef.h>

/* Add an output: "-" is standard output, anything else a file path
 * (appended).  Returns 0, or -1 with a message in errbuf. */
int iw_output_add(const char *spec, char *errbuf, size_t errlen);

/* Write one complete line (without its newline) to every output. */
void iw_output_line(const char *line, size_t len);

/* Reopen file outputs (after SIGHUP). */
void iw_output_reopen(void);

/* Flush and close everything (fsync for files). */
void iw_output_close(void);

#endif /* IW_OUTPUT_H */
