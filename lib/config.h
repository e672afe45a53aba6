/* config.h: configuration from the environment and a file, by table. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every setting has one name, such as DUNNING_REDIS_URL, used both as the
 * environment variable and as the key in a configuration file of
 * `NAME=value` lines (blank lines and lines starting with '#' ignored). The
 * file is named by DUNNING_CONFIG_FILE; the environment overrides it.
 *
 * Programs describe their settings in tables of struct config_key (type,
 * default, bounds, help). Loading checks every value against its table and
 * stops with a message naming the key, the value and what was expected.
 * A key marked secret may instead be given as NAME_FILE, the path of a file
 * holding the value; a secret is never printed, not even in errors.
 *
 * docs/configuration.md lists every key; keep it in step with the tables.
 */
#ifndef DUNNING_CONFIG_H
#define DUNNING_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum config_type {
	CONFIG_STRING,
	CONFIG_INT,	/* decimal integer within [min, max] */
	CONFIG_BOOL,	/* true/false, yes/no, on/off, 1/0 */
	CONFIG_INSTANT, /* UTC instant, "2026-01-31T09:00:00Z", or "now" */
	CONFIG_CHOICE,	/* one of the '|'-separated words in choices */
};

struct config_key {
	const char *name;
	enum config_type type;
	const char *default_value; /* NULL: no default, empty when unset */
	int64_t min, max;	   /* CONFIG_INT bounds */
	const char *choices;	   /* CONFIG_CHOICE: "real|simulated" */
	bool secret;
	bool required;
	const char *help;
};

/* Marks the end of a table. */
#define CONFIG_KEY_END                                                         \
	{                                                                      \
		NULL, CONFIG_STRING, NULL, 0, 0, NULL, false, false, NULL      \
	}

/* Settings every program shares (Kafka, Redis, clock, logging, topics). */
extern const struct config_key config_common_keys[];

struct config;

/*
 * Loads every key of the NULL-terminated list of tables from the file named
 * by DUNNING_CONFIG_FILE (if set) and the environment, and checks them.
 * Returns a new config (caller frees with config_free) or NULL with the
 * reason in err.
 */
/*
 * The command line of a program configured by settings alone. With no
 * argument returns -1: go on. With "--help" or "-h" writes to out a
 * usage: the program, about (one or more lines saying what it does) and
 * every setting of tables with its bounds, default and help, and returns
 * 0. With anything else writes to errout an error naming the argument
 * and returns 2, so that a mistyped flag never starts a program with the
 * default settings. A value other than -1 is the program's exit status.
 */
int config_args(int argc, char **argv, const struct config_key *const *tables,
		const char *about, FILE *out, FILE *errout);

struct config *config_load(const struct config_key *const *tables, char *err,
			   size_t errlen);

/* Frees cfg and every string it lent; accepts NULL. */
void config_free(struct config *cfg);

/*
 * Overrides one value after loading (command-line options); checked like a
 * loaded value. Returns 0 or DN_ERR_CONFIG with the reason in err.
 */
int config_set(struct config *cfg, const char *name, const char *value,
	       char *err, size_t errlen);

/* Typed getters. The key must be in one of the loaded tables; a missing
 * key is a programming error and aborts. Strings are borrowed from cfg. */
const char *config_str(const struct config *cfg, const char *name);
int64_t config_int(const struct config *cfg, const char *name);
bool config_bool(const struct config *cfg, const char *name);
/* CONFIG_INSTANT as UTC milliseconds since the Unix epoch. */
int64_t config_instant_ms(const struct config *cfg, const char *name);

/* Parses "2026-01-31T09:00:00Z" (seconds and 'Z' required, optional
 * fraction) into UTC ms. Returns 0 or DN_ERR_INVALID. */
int config_parse_instant(const char *text, int64_t *out_ms);

#endif
