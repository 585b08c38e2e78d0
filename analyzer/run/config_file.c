/* SPDX-License-Identifier: ISC */
/*
 * config_file.c - reading the --config file into key/value entries.
 */
#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_file.h"

static char *
trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return s;
}

static char *
unquote(char *v)
{
	size_t n = strlen(v);

	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		v[n - 1] = '\0';
		return v + 1;
	}
	return v;
}

static bool
valid_key(const char *k)
{
	if (*k == '\0')
		return false;
	for (; *k != '\0'; k++)
		if (!islower((unsigned char)*k) &&
		    !isdigit((unsigned char)*k) && *k != '-')
			return false;
	return true;
}

static int
add_entry(struct iw_conf *c, const char *key, const char *value, int line)
{
	struct iw_conf_entry *grown, *e;

	if (c->n == IW_CONF_MAX_ENTRIES)
		return -1;
	grown = realloc(c->e, (size_t)(c->n + 1) * sizeof(*grown));
	if (grown == NULL)
		return -1;
	c->e = grown;
	e = &c->e[c->n];
	e->key = strdup(key);
	e->value = value != NULL ? strdup(value) : NULL;
	e->line = line;
	if (e->key == NULL || (value != NULL && e->value == NULL)) {
		free(e->key);
		free(e->value);
		return -1;
	}
	c->n++;
	return 0;
}

/* One line; 0 (entry added or nothing to add) or -1 with *why. */
static int
parse_line(struct iw_conf *c, char *line, int n, const char **why)
{
	char *p = trim(line), *eq, *key, *value = NULL;

	if (*p == '\0' || *p == '#')
		return 0;
	if ((eq = strchr(p, '=')) != NULL) {
		*eq = '\0';
		value = unquote(trim(eq + 1));
	}
	key = trim(p);
	*why = "expected \"key = value\" with a long option's name as key";
	if (!valid_key(key))
		return -1;
	*why = "too many entries, or out of memory";
	return add_entry(c, key, value, n);
}

static struct iw_conf *
failed(struct iw_conf *c, FILE *fp)
{
	if (fp != NULL)
		fclose(fp);
	iw_conf_free(c);
	return NULL;
}

struct iw_conf *
iw_conf_read(const char *path, char *err, size_t errlen)
{
	char line[IW_CONF_MAX_LINE + 2];
	const char *why = "";
	struct iw_conf *c;
	FILE *fp;
	int n = 0;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->path = strdup(path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return failed(c, NULL);
	}
	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return failed(c, NULL);
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		n++;
		why = "line too long";
		if (strlen(line) > IW_CONF_MAX_LINE ||
		    parse_line(c, line, n, &why) != 0) {
			snprintf(err, errlen, "%s:%d: %s", path, n, why);
			return failed(c, fp);
		}
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return failed(c, fp);
	}
	fclose(fp);
	return c;
}

void
iw_conf_free(struct iw_conf *c)
{
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++) {
		free(c->e[i].key);
		free(c->e[i].value);
	}
	free(c->e);
	free(c->path);
	free(c);
}
