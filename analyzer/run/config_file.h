/* SPDX-License-Identifier: ISC */
/*
 * config_file.h - the --config file: "key = value" lines whose keys are
 * the long options' names ("interface = eth1", "flows", "flows = yes",
 * "server-name = 10.0.0.5=imap.example.com").  A line whose first
 * non-blank character is "#" is a comment (values may hold "#"); blank
 * lines are ignored; a value may be quoted with "..." or '...'.  What the
 * keys mean is main.c's business: this only reads the lines.
 */
#ifndef IW_CONFIG_FILE_H
#define IW_CONFIG_FILE_H

#include <stddef.h>

#define IW_CONF_MAX_ENTRIES	4096
#define IW_CONF_MAX_LINE	4096

struct iw_conf_entry {
	char	*key;
	char	*value;		/* NULL: no "=" */
	int	 line;
};

struct iw_conf {
	char			*path;
	struct iw_conf_entry	*e;
	int			 n;
};

/* NULL with "file:line: why" in err. */
struct iw_conf *iw_conf_read(const char *path, char *err, size_t errlen);
void iw_conf_free(struct iw_conf *);

#endif /* IW_CONFIG_FILE_H */
