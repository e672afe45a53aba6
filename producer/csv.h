/* csv.h: streaming CSV reader for ERP exports (RFC 4180 and its cousins). */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reads one record at a time from a stream: comma or semicolon delimiter
 * (or detected from the header line), fields in double quotes with "" for
 * a quote and embedded newlines, CRLF or LF line ends, an optional UTF-8
 * byte-order mark at the start. Every record is checked to be valid UTF-8;
 * a file starting with a UTF-16 byte-order mark is refused as a whole.
 * Blank lines are skipped.
 *
 * Limits: a record holds at most CSV_RECORD_MAX bytes and CSV_FIELDS_MAX
 * fields; a longer one is reported as bad and skipped, and reading goes on
 * with the next record.
 */
#ifndef DUNNING_PRODUCER_CSV_H
#define DUNNING_PRODUCER_CSV_H

#include <stddef.h>
#include <stdio.h>

#define CSV_RECORD_MAX (256 * 1024)
#define CSV_FIELDS_MAX 256

struct csv_reader;

/* One record; fields are NUL-terminated and borrowed until the next call
 * of csv_reader_next or csv_reader_free. */
struct csv_record {
	const char *const *fields;
	size_t count;
	long line;     /* line number where the record starts, from 1 */
	int bad_field; /* field (from 0) holding invalid UTF-8, else -1 */
};

/*
 * Reads from in (borrowed; the caller closes it). delimiter is ',' or ';',
 * or 0 to detect it from the first record (whichever of the two occurs
 * more often outside quotes). Returns NULL only when out of memory.
 */
struct csv_reader *csv_reader_new(FILE *in, char delimiter);

void csv_reader_free(struct csv_reader *r);

/*
 * Reads the next record into *record. Returns 0; DN_ERR_NOT_FOUND at the
 * end of input; DN_ERR_DECODE for a bad record (invalid UTF-8, a stray
 * character after a closing quote, a quote never closed) and
 * DN_ERR_TOO_LARGE for one over the limits, with the reason in err and
 * record->line (and, for invalid UTF-8, record->bad_field) set: the
 * caller reports it and calls again for the next;
 * DN_ERR_IO if the stream fails.
 */
int csv_reader_next(struct csv_reader *r, struct csv_record *record, char *err,
		    size_t errlen);

/* The delimiter in use (after detection, once a record was read). */
char csv_reader_delimiter(const struct csv_reader *r);

/* Bytes consumed so far, for progress. */
long long csv_reader_offset(const struct csv_reader *r);

/*
 * Checks that len bytes at text are well-formed UTF-8 (no overlong forms,
 * no surrogates, nothing past U+10FFFF). Returns the offset of the first
 * bad byte, or len when all is well.
 */
size_t csv_utf8_check(const char *text, size_t len);

#endif
