/* csv.c: streaming CSV reader: quoting, embedded newlines, BOM, UTF-8. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "csv.h"

#include "error.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CSV_READ_CHUNK 65536

enum csv_state {
	FIELD_START,
	UNQUOTED,
	QUOTED,
	QUOTE_IN_QUOTED, /* a '"' inside quotes: "" or the closing quote */
};

struct csv_reader {
	FILE *in;
	char delimiter;

	/* Input buffer. */
	char chunk[CSV_READ_CHUNK];
	size_t chunk_len, chunk_pos;
	bool eof, started, skip_lf, utf16;
	long long offset;
	long line;

	/* The record being assembled: field texts back to back, each NUL
	 * terminated, and where each starts. */
	char *record;
	size_t record_len, record_cap;
	size_t starts[CSV_FIELDS_MAX];
	const char *fields[CSV_FIELDS_MAX];
	size_t count;
	const char *problem; /* first problem of this record, or NULL */
	int problem_err;
};

struct csv_reader *csv_reader_new(FILE *in, char delimiter)
{
	struct csv_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->record_cap = 4096;
	r->record = malloc(r->record_cap);
	if (!r->record) {
		free(r);
		return NULL;
	}
	r->in = in;
	r->delimiter = delimiter;
	r->line = 1;
	return r;
}

void csv_reader_free(struct csv_reader *r)
{
	if (!r)
		return;
	free(r->record);
	free(r);
}

char csv_reader_delimiter(const struct csv_reader *r)
{
	return r->delimiter;
}

long long csv_reader_offset(const struct csv_reader *r)
{
	return r->offset;
}

/* Next byte of input, or -1 at the end (or on a read error). */
static int next_byte(struct csv_reader *r)
{
	if (r->chunk_pos == r->chunk_len) {
		if (r->eof)
			return -1;
		r->chunk_len = fread(r->chunk, 1, sizeof(r->chunk), r->in);
		r->chunk_pos = 0;
		if (r->chunk_len < sizeof(r->chunk))
			r->eof = true;
		if (r->chunk_len == 0)
			return -1;
	}
	r->offset++;
	return (unsigned char)r->chunk[r->chunk_pos++];
}

static int peek_byte(struct csv_reader *r)
{
	int c = next_byte(r);

	if (c >= 0) {
		r->chunk_pos--;
		r->offset--;
	}
	return c;
}

/* Notes the record's first problem; the record is still read to its end
 * so that the next one starts in the right place. */
static void record_problem(struct csv_reader *r, int err, const char *what)
{
	if (!r->problem) {
		r->problem = what;
		r->problem_err = err;
	}
}

static void append_byte(struct csv_reader *r, char c)
{
	if (r->record_len + 1 >= r->record_cap) {
		size_t cap = r->record_cap * 2;
		char *grown;

		if (cap > CSV_RECORD_MAX + 1) {
			record_problem(r, DN_ERR_TOO_LARGE,
				       "record longer than the maximum");
			return;
		}
		grown = realloc(r->record, cap);
		if (!grown) {
			record_problem(r, DN_ERR_TOO_LARGE,
				       "record too large for memory");
			return;
		}
		r->record = grown;
		r->record_cap = cap;
	}
	r->record[r->record_len++] = c;
}

static void end_field(struct csv_reader *r)
{
	append_byte(r, '\0');
	if (r->count == CSV_FIELDS_MAX) {
		record_problem(r, DN_ERR_TOO_LARGE, "too many fields");
		return;
	}
	r->count++;
	if (r->count < CSV_FIELDS_MAX)
		r->starts[r->count] = r->record_len;
}

/* Skips the UTF-8 byte-order mark at the very start, if any, and notes a
 * UTF-16 one. */
static void skip_bom(struct csv_reader *r)
{
	r->started = true;
	peek_byte(r);
	if (r->chunk_len - r->chunk_pos >= 3 &&
	    memcmp(r->chunk + r->chunk_pos, "\xEF\xBB\xBF", 3) == 0) {
		r->chunk_pos += 3;
		r->offset += 3;
	}
	if (r->chunk_len - r->chunk_pos >= 2 &&
	    (memcmp(r->chunk + r->chunk_pos, "\xFF\xFE", 2) == 0 ||
	     memcmp(r->chunk + r->chunk_pos, "\xFE\xFF", 2) == 0))
		r->utf16 = true;
}

/* Whether c ends the record; a CR swallows the LF after it. */
static bool is_record_end(struct csv_reader *r, int c)
{
	if (c == '\r') {
		if (peek_byte(r) == '\n')
			next_byte(r);
		return true;
	}
	return c == '\n';
}

/* One byte outside quotes. Returns true when the record is complete. */
static bool step_unquoted(struct csv_reader *r, enum csv_state *state, int c)
{
	if (c == r->delimiter) {
		end_field(r);
		*state = FIELD_START;
	} else if (is_record_end(r, c)) {
		end_field(r);
		return true;
	} else if (c == '"' && *state == FIELD_START) {
		*state = QUOTED;
	} else {
		append_byte(r, (char)c);
		*state = UNQUOTED;
	}
	return false;
}

/* One byte inside quotes. Returns true when the record is complete. */
static bool step_quoted(struct csv_reader *r, enum csv_state *state, int c)
{
	if (*state == QUOTED) {
		if (c == '"')
			*state = QUOTE_IN_QUOTED;
		else
			append_byte(r, (char)c);
		/* A line end inside quotes: LF, CRLF (counted at its LF)
		 * or a CR alone, as old Mac exports write. */
		if (c == '\n' || (c == '\r' && peek_byte(r) != '\n'))
			r->line++;
		return false;
	}
	if (c == '"') {
		append_byte(r, '"');
		*state = QUOTED;
		return false;
	}
	if (c == r->delimiter || c == '\r' || c == '\n')
		return step_unquoted(r, state, c);
	record_problem(r, DN_ERR_DECODE, "character after a closing quote");
	append_byte(r, (char)c);
	*state = UNQUOTED;
	return false;
}

/* Picks the delimiter from the first record: ';' if it occurs outside
 * quotes more often than ','. Looks ahead in the buffer only. */
static void detect_delimiter(struct csv_reader *r)
{
	size_t i, commas = 0, semicolons = 0;
	bool quoted = false;

	peek_byte(r);
	for (i = r->chunk_pos; i < r->chunk_len; i++) {
		char c = r->chunk[i];

		if (c == '"')
			quoted = !quoted;
		else if (!quoted && (c == '\n' || c == '\r'))
			break;
		else if (!quoted && c == ',')
			commas++;
		else if (!quoted && c == ';')
			semicolons++;
	}
	r->delimiter = semicolons > commas ? ';' : ',';
}

/* Reads raw bytes up to the end of one record. Returns false at the end
 * of input with nothing read. */
static bool read_record(struct csv_reader *r)
{
	enum csv_state state = FIELD_START;
	int c;

	for (;;) {
		c = next_byte(r);
		if (c < 0)
			break;
		if (c == '\0')
			record_problem(r, DN_ERR_DECODE, "NUL byte in record");
		if (state == QUOTED || state == QUOTE_IN_QUOTED) {
			if (step_quoted(r, &state, c))
				return true;
		} else if (step_unquoted(r, &state, c)) {
			return true;
		}
	}
	if (r->record_len == 0 && r->count == 0 && state == FIELD_START)
		return false;
	if (state == QUOTED)
		record_problem(r, DN_ERR_DECODE,
			       "quoted field not closed before end of file");
	end_field(r);
	return true;
}

static void reset_record(struct csv_reader *r)
{
	r->record_len = 0;
	r->count = 0;
	r->starts[0] = 0;
	r->problem = NULL;
	r->problem_err = 0;
}

static bool record_is_blank(const struct csv_reader *r)
{
	return r->count == 1 && r->record[0] == '\0' && !r->problem;
}

/* Reports invalid UTF-8 at offset bad of the record, naming its field. */
static int bad_utf8(const struct csv_reader *r, struct csv_record *record,
		    size_t bad, char *err, size_t errlen)
{
	size_t i, field = 0, start = 0;

	for (i = 0; i < bad; i++)
		if (r->record[i] == '\0') {
			field++;
			start = i + 1;
		}
	record->bad_field = (int)field;
	return dn_fail(DN_ERR_DECODE, err, errlen,
		       "invalid UTF-8 at byte %zu of field %zu",
		       bad - start + 1, field + 1);
}

int csv_reader_next(struct csv_reader *r, struct csv_record *record, char *err,
		    size_t errlen)
{
	size_t i, bad;

	if (!r->started)
		skip_bom(r);
	if (r->utf16) {
		/* Nothing of it reads as rows: say so once, then stop. */
		r->utf16 = false;
		r->eof = true;
		r->chunk_pos = r->chunk_len;
		record->line = r->line;
		record->count = 0;
		return dn_fail(DN_ERR_DECODE, err, errlen,
			       "the file is UTF-16 text: export it as UTF-8");
	}
	if (!r->delimiter)
		detect_delimiter(r);

	record->bad_field = -1;

	/* Read records until one that is not a blank line. */
	do {
		reset_record(r);
		record->line = r->line;
		if (!read_record(r))
			return ferror(r->in) ? dn_fail(DN_ERR_IO, err, errlen,
						       "read error")
					     : DN_ERR_NOT_FOUND;
		r->line++;
	} while (record_is_blank(r));

	/* Point the fields into the record buffer, now that it is final. */
	for (i = 0; i < r->count && i < CSV_FIELDS_MAX; i++)
		r->fields[i] = r->record + r->starts[i];
	record->fields = r->fields;
	record->count = r->count;
	if (r->problem)
		return dn_fail(r->problem_err, err, errlen, "%s", r->problem);
	bad = csv_utf8_check(r->record, r->record_len);
	if (bad < r->record_len)
		return bad_utf8(r, record, bad, err, errlen);
	return DN_OK;
}

/* Length of the UTF-8 sequence at s (n bytes left), 0 if malformed. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2, cp = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3, cp = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

size_t csv_utf8_check(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t pos = 0, step;

	while (pos < len) {
		if (s[pos] == '\0') { /* field separators inside the record */
			pos++;
			continue;
		}
		step = utf8_sequence(s + pos, len - pos);
		if (!step)
			return pos;
		pos += step;
	}
	return len;
}
