/* import.h: one input file of any supported format into the sink. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The options every reader shares, and the dispatcher that picks the
 * reader for a file: by --format, else by the file's extension (.xml is
 * UBL, .jsonl/.ndjson JSON lines, .csv a ledger unless the header is the
 * customer directory's).
 */
#ifndef DUNNING_PRODUCER_IMPORT_H
#define DUNNING_PRODUCER_IMPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "money.h"

struct sink;

enum import_format {
	IMPORT_DETECT = 0,
	IMPORT_CSV,
	IMPORT_UBL,
	IMPORT_JSONL,
	IMPORT_CUSTOMERS,
};

struct import_options {
	const char *tenant;	  /* DUNNING_TENANT unless --tenant */
	const char *currency;	  /* for exports that state none */
	const char *phone_region; /* default region of national phones */
	enum money_rounding rounding;
	int date_format;     /* enum civil_format, -1: layout's own */
	char delimiter;	     /* ',', ';' or 0 to detect */
	bool decimal_comma;  /* amounts written 1.234,50 */
	const char *preset;  /* "ibm-ar", "ledger" or NULL */
	const char *mapping; /* "field=Column,..." or NULL */
	enum import_format format;
};

/* Parses "csv", "ubl", "jsonl" or "customers"; -1 if unknown. */
int import_format_parse(const char *name);

/*
 * Reads path and hands its events and rejections to sink. Returns 0 when
 * the file could be read (rows may still have been rejected: see the
 * sink's counts), or an error when the file as a whole could not (missing,
 * unreadable, unknown format, bad mapping), with the reason in err.
 */
int import_file(const char *path, const struct import_options *opts,
		struct sink *sink, char *err, size_t errlen);

#endif
