/* customers.c: customer directory rows into CustomerUpserted events. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "customers.h"

#include "csv.h"
#include "event.h"
#include "import.h"
#include "sink.h"

#include "config.h"
#include "error.h"
#include "shutdown.h"
#include "phone.h"

#include <errno.h>
#include <unicode/ucal.h>
#include <unicode/uloc.h>
#include <unicode/ustring.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

enum column {
	COL_ID,
	COL_NAME,
	COL_PHONE,
	COL_LOCALE,
	COL_TIME_ZONE,
	COL_OPT_IN,
	COL_OPT_IN_AT,
	COL_OPT_IN_SOURCE,
	COL_SEGMENT,
	COL_EMAIL,
	COL_COUNT,
};

static const char *const column_names[COL_COUNT] = {
	"customer_id", "name",	    "phone",	     "locale",	"time_zone",
	"opt_in",      "opt_in_at", "opt_in_source", "segment", "email",
};

const char customers_header[] = "customer_id,name,phone,locale,time_zone,"
				"opt_in,opt_in_at,opt_in_source,segment,"
				"email";

/* Copies text without surrounding spaces and tabs into buf (size len);
 * false if it does not fit. */
static bool trim_copy(const char *text, char *buf, size_t len)
{
	size_t n;

	while (*text == ' ' || *text == '\t')
		text++;
	n = strlen(text);
	while (n && (text[n - 1] == ' ' || text[n - 1] == '\t'))
		n--;
	if (n >= len)
		return false;
	memcpy(buf, text, n);
	buf[n] = '\0';
	return true;
}

/* The column named name in header, or -1; *count gets how many are. */
static int find_column(const struct csv_record *header, const char *name,
		       int *count)
{
	char trimmed[64];
	int found = -1;
	size_t i;

	*count = 0;
	for (i = 0; i < header->count; i++)
		if (trim_copy(header->fields[i], trimmed, sizeof(trimmed)) &&
		    strcasecmp(trimmed, name) == 0 && !(*count)++)
			found = (int)i;
	return found;
}

static int column_index(const struct csv_record *header, const char *name)
{
	int count;

	return find_column(header, name, &count);
}

bool customers_header_matches(const struct csv_record *header)
{
	return column_index(header, "customer_id") >= 0 &&
	       column_index(header, "phone") >= 0 &&
	       column_index(header, "opt_in") >= 0;
}

bool customers_valid_time_zone(const char *zone)
{
	UChar id[80], canonical[80];
	UErrorCode status = U_ZERO_ERROR;
	UBool system = 0;

	if (!zone || !*zone || strlen(zone) >= sizeof(id) / sizeof(id[0]))
		return false;
	u_uastrcpy(id, zone);
	ucal_getCanonicalTimeZoneID(id, -1, canonical,
				    sizeof(canonical) / sizeof(canonical[0]),
				    &system, &status);
	return U_SUCCESS(status) && system;
}

bool customers_valid_locale(const char *tag)
{
	char locale[ULOC_FULLNAME_CAPACITY];
	UErrorCode status = U_ZERO_ERROR;
	int32_t parsed = 0;

	if (!tag || !*tag || strlen(tag) > 35)
		return false;
	uloc_forLanguageTag(tag, locale, sizeof(locale), &parsed, &status);
	return U_SUCCESS(status) && parsed == (int32_t)strlen(tag) &&
	       locale[0] != '\0';
}

/* A row's values by column, and what went wrong. */
struct customer_row {
	const char *values[COL_COUNT];
	char texts[COL_COUNT][512];
	const char *bad_field;
	char why[256];
};

static int row_fail(struct customer_row *row, enum column col,
		    const char *reason)
{
	row->bad_field = column_names[col];
	snprintf(row->why, sizeof(row->why), "%s", reason);
	return DN_ERR_INVALID;
}

/* row_fail with "'<value>' <what>", the value made safe to show. */
static int row_fail_quoting(struct customer_row *row, enum column col,
			    const char *value, const char *what)
{
	char shown[EVENT_SHOWN_MAX + 4];

	row->bad_field = column_names[col];
	snprintf(row->why, sizeof(row->why), "'%s' %s",
		 event_shown(value, shown, sizeof(shown)), what);
	return DN_ERR_INVALID;
}

static int copy_column(struct customer_row *row, enum column col, char *dst,
		       size_t cap)
{
	const char *text = row->values[col];
	char why[128];

	if (event_set(dst, cap, text, strlen(text), column_names[col], why,
		      sizeof(why)))
		return row_fail(row, col, why);
	return DN_OK;
}

static int parse_opt_in(struct customer_row *row, struct event *ev)
{
	static const char *const states[] = { "unknown", "opted_in",
					      "opted_out" };
	const char *text = row->values[COL_OPT_IN];
	size_t i;

	for (i = 0; i < 3; i++)
		if (strcmp(text, states[i]) == 0 || (i == 0 && !*text)) {
			ev->opt_in = (enum event_opt_in)i;
			break;
		}
	if (i == 3)
		return row_fail_quoting(row, COL_OPT_IN, text,
					"is not opted_in, opted_out or "
					"unknown");
	text = row->values[COL_OPT_IN_AT];
	if (*text && config_parse_instant(text, &ev->opt_in_at_ms))
		return row_fail(row, COL_OPT_IN_AT,
				"not a UTC instant like 2026-01-05T09:30:00Z");
	return DN_OK;
}

/* Checks one row and fills ev from it. */
static int parse_row(struct customer_row *row,
		     const struct import_options *opts, struct event *ev)
{
	const char *phone = row->values[COL_PHONE];
	char why[200];
	int rc;

	event_reset(ev, EVENT_CUSTOMER);
	if (!row->values[COL_ID][0])
		return row_fail(row, COL_ID, "empty");
	if (event_has_control(row->values[COL_ID]))
		return row_fail(row, COL_ID,
				"has a line break or control character "
				"(a stray quote?)");
	rc = copy_column(row, COL_ID, ev->customer_id, sizeof(ev->customer_id));
	rc = rc ? rc : copy_column(row, COL_NAME, ev->name, sizeof(ev->name));
	rc = rc ? rc
		: copy_column(row, COL_LOCALE, ev->locale, sizeof(ev->locale));
	rc = rc ? rc
		: copy_column(row, COL_TIME_ZONE, ev->time_zone,
			      sizeof(ev->time_zone));
	rc = rc ? rc
		: copy_column(row, COL_OPT_IN_SOURCE, ev->opt_in_source,
			      sizeof(ev->opt_in_source));
	rc = rc ? rc
		: copy_column(row, COL_SEGMENT, ev->segment,
			      sizeof(ev->segment));
	rc = rc ? rc
		: copy_column(row, COL_EMAIL, ev->email, sizeof(ev->email));
	rc = rc ? rc : parse_opt_in(row, ev);
	if (rc)
		return rc;
	if (*phone && phone_normalize(phone, opts->phone_region, ev->phone,
				      sizeof(ev->phone), why, sizeof(why)))
		return row_fail(row, COL_PHONE, why);
	if (ev->locale[0] && !customers_valid_locale(ev->locale))
		return row_fail_quoting(row, COL_LOCALE, ev->locale,
					"is not a BCP 47 language tag");
	if (ev->time_zone[0] && !customers_valid_time_zone(ev->time_zone))
		return row_fail_quoting(row, COL_TIME_ZONE, ev->time_zone,
					"is not an IANA time zone ICU knows");
	snprintf(ev->tenant, sizeof(ev->tenant), "%s", opts->tenant);
	ev->occurred_at_ms = ev->opt_in_at_ms;
	ev->version = ev->opt_in_at_ms;
	return DN_OK;
}

/* Fills the row's values, trimmed as the ledger's are, so that " C1 " is
 * the customer the ledger calls "C1". */
static int row_values(struct customer_row *row, const int *columns,
		      const struct csv_record *rec)
{
	int c;

	for (c = 0; c < COL_COUNT; c++) {
		row->values[c] = row->texts[c];
		row->texts[c][0] = '\0';
		if (columns[c] < 0 || (size_t)columns[c] >= rec->count)
			continue;
		if (!trim_copy(rec->fields[columns[c]], row->texts[c],
			       sizeof(row->texts[c])))
			return row_fail(row, (enum column)c,
					"longer than 511 bytes");
	}
	return DN_OK;
}

static void import_record(const char *path, const int *columns,
			  const struct csv_record *rec,
			  const struct import_options *opts, struct sink *sink)
{
	struct customer_row row;
	struct event ev;
	char where[32];

	snprintf(where, sizeof(where), "line %ld", rec->line);
	row.bad_field = "";
	if (row_values(&row, columns, rec) || parse_row(&row, opts, &ev)) {
		sink_reject(sink, path, where, row.bad_field, row.why);
		return;
	}
	snprintf(ev.origin, sizeof(ev.origin), "%s:%ld", path, rec->line);
	sink_event(sink, &ev);
}

/* The directory column read from field index (or "" if none is). */
static const char *column_of(const int *columns, int index)
{
	int c;

	for (c = 0; index >= 0 && c < COL_COUNT; c++)
		if (columns[c] == index)
			return column_names[c];
	return "";
}

/* Binds the header; customer_id and phone are required columns. */
static int bind_header(struct csv_reader *reader, int *columns,
		       const char *path, char *err, size_t errlen)
{
	struct csv_record header;
	char why[256];
	int rc, c, count;

	rc = csv_reader_next(reader, &header, why, sizeof(why));
	if (rc)
		return dn_fail(rc == DN_ERR_NOT_FOUND ? DN_ERR_INVALID : rc,
			       err, errlen, "%s: %s", path,
			       rc == DN_ERR_NOT_FOUND ? "empty" : why);
	for (c = 0; c < COL_COUNT; c++) {
		columns[c] = find_column(&header, column_names[c], &count);
		if (count > 1) /* which one is meant is left to chance */
			return dn_fail(DN_ERR_INVALID, err, errlen,
				       "%s: column '%s' is in the header more "
				       "than once",
				       path, column_names[c]);
	}
	if (columns[COL_ID] < 0 || columns[COL_PHONE] < 0)
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "%s: header lacks customer_id or phone", path);
	return DN_OK;
}

int customers_import_file(const char *path, const struct import_options *opts,
			  struct sink *sink, char *err, size_t errlen)
{
	struct csv_reader *reader;
	struct csv_record rec;
	int columns[COL_COUNT];
	char where[32], why[256];
	struct stat st;
	FILE *in = fopen(path, "rb");
	int rc;

	if (!in)
		return dn_fail(DN_ERR_IO, err, errlen, "cannot open %s: %s",
			       path, strerror(errno));
	if (fstat(fileno(in), &st))
		st.st_size = 0;
	reader = csv_reader_new(in, opts->delimiter);
	rc = reader ? bind_header(reader, columns, path, err, errlen)
		    : DN_ERR_NOMEM;
	while (!rc && !shutdown_requested() &&
	       (rc = csv_reader_next(reader, &rec, why, sizeof(why))) !=
		       DN_ERR_NOT_FOUND) {
		sink_count_read(sink);
		if (rc == DN_ERR_IO)
			break;
		if (rc) {
			snprintf(where, sizeof(where), "line %ld", rec.line);
			sink_reject(sink, path, where,
				    column_of(columns, rec.bad_field), why);
		} else {
			import_record(path, columns, &rec, opts, sink);
		}
		sink_progress(sink, csv_reader_offset(reader), st.st_size);
		rc = DN_OK;
	}
	if (rc == DN_ERR_IO)
		dn_fail(rc, err, errlen, "read error in %s", path);
	csv_reader_free(reader);
	fclose(in);
	return rc == DN_ERR_NOT_FOUND ? DN_OK : rc;
}
