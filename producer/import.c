/* import.c: pick the reader for a file and run it. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "import.h"

#include "csv.h"
#include "customers.h"
#include "jsonl.h"
#include "ledger.h"
#include "ubl.h"

#include "error.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

int import_format_parse(const char *name)
{
	static const char *const names[] = { "detect", "csv", "ubl", "jsonl",
					     "customers" };
	size_t i;

	for (i = 0; name && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return (int)i;
	return -1;
}

static bool has_extension(const char *path, const char *ext)
{
	size_t n = strlen(path), e = strlen(ext);

	return n > e && strcasecmp(path + n - e, ext) == 0;
}

/* A CSV whose header is the customer directory's is one. A pipe (a
 * shell's /dev/stdin or <(...)) can be read only once: it is not sniffed,
 * which would swallow it, and is read as a ledger unless --format says. */
static enum import_format sniff_csv(const char *path, char delimiter)
{
	enum import_format format = IMPORT_CSV;
	struct csv_reader *reader;
	struct csv_record header;
	struct stat st;
	FILE *in;

	if (stat(path, &st) || !S_ISREG(st.st_mode))
		return IMPORT_CSV; /* the reader reports any error */
	in = fopen(path, "rb");
	if (!in)
		return IMPORT_CSV;
	reader = csv_reader_new(in, delimiter);
	if (reader && csv_reader_next(reader, &header, NULL, 0) == DN_OK &&
	    customers_header_matches(&header))
		format = IMPORT_CUSTOMERS;
	csv_reader_free(reader);
	fclose(in);
	return format;
}

static enum import_format detect(const char *path, char delimiter)
{
	if (has_extension(path, ".xml"))
		return IMPORT_UBL;
	if (has_extension(path, ".jsonl") || has_extension(path, ".ndjson"))
		return IMPORT_JSONL;
	return sniff_csv(path, delimiter);
}

int import_file(const char *path, const struct import_options *opts,
		struct sink *sink, char *err, size_t errlen)
{
	enum import_format format = opts->format;
	struct stat st;

	if (format == IMPORT_DETECT)
		format = detect(path, opts->delimiter);
	/* The UBL reader rejects a directory as a document of its own. */
	if (format != IMPORT_UBL && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return dn_fail(DN_ERR_IO, err, errlen,
			       "%s is a directory, not a file (name its files, "
			       "e.g. %s/*.csv)",
			       path, path);
	switch (format) {
	case IMPORT_UBL:
		return ubl_import_file(path, opts, sink, err, errlen);
	case IMPORT_JSONL:
		return jsonl_import_file(path, opts, sink, err, errlen);
	case IMPORT_CUSTOMERS:
		return customers_import_file(path, opts, sink, err, errlen);
	default:
		return ledger_import_file(path, opts, sink, err, errlen);
	}
}
