/* ledger.c: invoice ledger CSV rows into invoice, payment, dispute events. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "ledger.h"

#include "civil.h"
#include "csv.h"
#include "event.h"
#include "import.h"
#include "sink.h"

#include "error.h"
#include "shutdown.h"
#include "money.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define LEDGER_VALUE_MAX 512

static const char *const field_names[LEDGER_FIELD_COUNT] = {
	"record_type", "invoice_id", "customer_id", "date",
	"due_date",    "amount",     "currency",    "settled_date",
	"disputed",    "payment_id", "reason",
};

struct preset {
	const char *name;
	int date_format;
	const char *columns[LEDGER_FIELD_COUNT];
};

static const struct preset presets[] = {
	{ "ledger",
	  CIVIL_ISO,
	  { "type", "invoice_id", "customer_id", "date", "due_date", "amount",
	    "currency", "", "", "payment_id", "reason" } },
	{ "ibm-ar",
	  CIVIL_US,
	  { "", "invoiceNumber", "customerID", "InvoiceDate", "DueDate",
	    "InvoiceAmount", "", "SettledDate", "Disputed", "", "" } },
};

static const struct preset *find_preset(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
		if (strcmp(presets[i].name, name) == 0)
			return &presets[i];
	return NULL;
}

static int find_field(const char *name, size_t len)
{
	int i;

	for (i = 0; i < LEDGER_FIELD_COUNT; i++)
		if (strlen(field_names[i]) == len &&
		    strncmp(field_names[i], name, len) == 0)
			return i;
	if (len == 10 && strncmp(name, "issue_date", len) == 0)
		return LEDGER_DATE;
	return -1;
}

/* The error for a mapping that names no field: it lists those there are. */
static int unknown_field(const char *name, size_t len, char *err, size_t errlen)
{
	char known[256];
	size_t used = 0;
	int i, n;

	known[0] = '\0';
	for (i = 0; i < LEDGER_FIELD_COUNT; i++) {
		n = snprintf(known + used, sizeof(known) - used, "%s%s",
			     i ? ", " : "", field_names[i]);
		if (n < 0 || (size_t)n >= sizeof(known) - used)
			break;
		used += (size_t)n;
	}
	return dn_fail(DN_ERR_INVALID, err, errlen,
		       "mapping names unknown field '%.*s' (fields: %s)",
		       (int)(len > 64 ? 64 : len), name, known);
}

/* Applies "field=Column,field=Column" over the preset's columns. */
static int apply_mapping(struct ledger_layout *layout, const char *mapping,
			 char *err, size_t errlen)
{
	const char *pair = mapping, *end, *eq;
	int field;

	while (*pair) {
		end = strchr(pair, ',');
		if (!end)
			end = pair + strlen(pair);
		eq = memchr(pair, '=', (size_t)(end - pair));
		if (!eq)
			return dn_fail(DN_ERR_INVALID, err, errlen,
				       "mapping '%.*s' is not field=Column",
				       (int)(end - pair), pair);
		field = find_field(pair, (size_t)(eq - pair));
		if (field < 0)
			return unknown_field(pair, (size_t)(eq - pair), err,
					     errlen);
		if ((size_t)(end - eq - 1) >= LEDGER_COLUMN_MAX)
			return dn_fail(DN_ERR_INVALID, err, errlen,
				       "mapping column for %s is too long",
				       field_names[field]);
		snprintf(layout->names[field], LEDGER_COLUMN_MAX, "%.*s",
			 (int)(end - eq - 1), eq + 1);
		pair = *end ? end + 1 : end;
	}
	return DN_OK;
}

int ledger_layout_init(struct ledger_layout *layout,
		       const struct import_options *opts, char *err,
		       size_t errlen)
{
	const char *name = opts->preset ? opts->preset : "ledger";
	const struct preset *preset = find_preset(name);
	int i;

	if (!preset)
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "unknown preset '%s' (ibm-ar or ledger)", name);
	memset(layout, 0, sizeof(*layout));
	for (i = 0; i < LEDGER_FIELD_COUNT; i++) {
		snprintf(layout->names[i], LEDGER_COLUMN_MAX, "%s",
			 preset->columns[i]);
		layout->columns[i] = -1;
	}
	layout->date_format = opts->date_format >= 0 ? opts->date_format
						     : preset->date_format;
	if (opts->mapping && *opts->mapping)
		return apply_mapping(layout, opts->mapping, err, errlen);
	return DN_OK;
}

/* Copies text without surrounding spaces into buf; returns buf. */
static const char *trim_copy(const char *text, char *buf, size_t len)
{
	size_t n;

	while (*text == ' ' || *text == '\t')
		text++;
	n = strlen(text);
	while (n && (text[n - 1] == ' ' || text[n - 1] == '\t'))
		n--;
	if (n >= len)
		n = len - 1;
	memcpy(buf, text, n);
	buf[n] = '\0';
	return buf;
}

/* Points field f at its column in header; returns how many columns have
 * its name (the first is bound). */
static int bind_field(struct ledger_layout *layout, size_t f,
		      const struct csv_record *header)
{
	char name[LEDGER_COLUMN_MAX + 1];
	int matches = 0;
	size_t i;

	layout->columns[f] = -1;
	for (i = 0; layout->names[f][0] && i < header->count; i++) {
		trim_copy(header->fields[i], name, sizeof(name));
		if (strcasecmp(name, layout->names[f]) != 0)
			continue;
		if (!matches++)
			layout->columns[f] = (int)i;
	}
	return matches;
}

/* A hint for a header that does not fit the layout asked for. */
static const char *layout_hint(const struct csv_record *header)
{
	char name[64];
	size_t i;

	for (i = 0; i < header->count; i++) {
		trim_copy(header->fields[i], name, sizeof(name));
		if (strcasecmp(name, "invoiceNumber") == 0)
			return "this looks like the IBM accounts-receivable "
			       "layout: try --preset ibm-ar";
	}
	return "choose a layout with --preset or --mapping; see --help";
}

int ledger_layout_bind(struct ledger_layout *layout,
		       const struct csv_record *header, char *err,
		       size_t errlen)
{
	static const enum ledger_field required[] = { LEDGER_INVOICE_ID,
						      LEDGER_CUSTOMER_ID,
						      LEDGER_DATE,
						      LEDGER_AMOUNT };
	size_t i, f;

	/* A column named twice leaves to chance which one is meant. */
	for (f = 0; f < LEDGER_FIELD_COUNT; f++)
		if (bind_field(layout, f, header) > 1)
			return dn_fail(DN_ERR_INVALID, err, errlen,
				       "column '%s' for %s is in the header "
				       "more than once",
				       layout->names[f], field_names[f]);

	/* Optional fields may be absent from an export; these may not. */
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (layout->columns[required[i]] < 0)
			return dn_fail(DN_ERR_INVALID, err, errlen,
				       "column '%s' for %s is not in the "
				       "header (%s)",
				       layout->names[required[i]],
				       field_names[required[i]],
				       layout_hint(header));
	return DN_OK;
}

const char *ledger_value(const struct ledger_layout *layout,
			 const struct csv_record *record,
			 enum ledger_field field, char *buf, size_t len)
{
	int column = layout->columns[field];

	if (column < 0 || (size_t)column >= record->count) {
		buf[0] = '\0';
		return buf;
	}
	return trim_copy(record->fields[column], buf, len);
}

/* One row being turned into events; rejected as a whole if any field is
 * bad, so a half-imported row never reaches Kafka. */
struct ledger_row {
	const struct import_options *opts;
	const struct ledger_layout *layout;
	char values[LEDGER_FIELD_COUNT][LEDGER_VALUE_MAX];
	char origin[256];
	const char *bad_field; /* column name of the failing field */
	char why[256];
};

static int row_fail(struct ledger_row *row, enum ledger_field field,
		    const char *reason)
{
	row->bad_field = row->layout->names[field];
	snprintf(row->why, sizeof(row->why), "%s", reason);
	return DN_ERR_INVALID;
}

static int row_date(struct ledger_row *row, enum ledger_field field,
		    struct civil_date *out)
{
	const char *text = row->values[field];
	char why[200];

	if (!*text)
		return row_fail(row, field, "empty");
	if (civil_parse(text, strlen(text),
			(enum civil_format)row->layout->date_format, out, why,
			sizeof(why)))
		return row_fail(row, field, why);
	return DN_OK;
}

static int row_text(struct ledger_row *row, enum ledger_field field, char *dst,
		    size_t cap)
{
	char why[128];

	if (!row->values[field][0])
		return row_fail(row, field, "empty");
	if (event_has_control(row->values[field]))
		return row_fail(row, field,
				"has a line break or control character "
				"(a stray quote?)");
	if (event_set(dst, cap, row->values[field], strlen(row->values[field]),
		      field_names[field], why, sizeof(why)))
		return row_fail(row, field, why);
	return DN_OK;
}

/*
 * "1.234,50" -> "1234.50" into buf. A point may only group thousands: 1 to
 * 3 digits, then groups of exactly 3 up to the comma. "12.30" or "1.5" is
 * a point-decimal amount in a comma-decimal file, and reading it as 1230
 * or 15 would bill a hundred times the amount: false then. Other bad text
 * is left for money_parse to refuse.
 */
static bool comma_to_point(const char *text, char *buf, size_t len)
{
	size_t n = 0, run = 0;
	bool grouped = false;

	if (*text == '-' || *text == '+')
		buf[n++] = *text++;
	for (; *text && *text != ','; text++) {
		if (*text != '.') {
			run++;
			if (n + 1 < len)
				buf[n++] = *text;
			continue;
		}
		if (run == 0 || run > 3 || (grouped && run != 3))
			return false;
		grouped = true;
		run = 0;
	}
	if (grouped && run != 3)
		return false;
	for (; *text && n + 1 < len; text++)
		buf[n++] = *text == ',' ? '.' : *text;
	buf[n] = '\0';
	return true;
}

/* Reads the row's amount, the European way if so configured. */
static int row_amount(struct ledger_row *row, const char *currency,
		      int64_t *out)
{
	const char *amount = row->values[LEDGER_AMOUNT];
	char why[200], european[LEDGER_VALUE_MAX], reason[256];

	if (!row->opts->decimal_comma) {
		if (money_parse(amount, strlen(amount), currency,
				row->opts->rounding, out, why, sizeof(why)))
			return row_fail(row, LEDGER_AMOUNT, why);
		return DN_OK;
	}
	if (!comma_to_point(amount, european, sizeof(european))) {
		snprintf(reason, sizeof(reason),
			 "'%.40s' is not an amount like 1.234,50 (a point "
			 "only groups thousands)",
			 amount);
		return row_fail(row, LEDGER_AMOUNT, reason);
	}
	if (money_parse(european, strlen(european), currency,
			row->opts->rounding, out, why, sizeof(why))) {
		snprintf(reason, sizeof(reason), "'%.40s' read as %s", amount,
			 why);
		return row_fail(row, LEDGER_AMOUNT, reason);
	}
	return DN_OK;
}

/* Common head of every event of the row: ids, instant, amount. */
static int row_event(struct ledger_row *row, struct event *ev,
		     enum event_kind kind, struct civil_date date)
{
	const char *currency = row->values[LEDGER_CURRENCY];
	char reason[256], shown[EVENT_SHOWN_MAX + 4];
	int rc;

	event_reset(ev, kind);
	snprintf(ev->tenant, sizeof(ev->tenant), "%s", row->opts->tenant);
	snprintf(ev->origin, sizeof(ev->origin), "%s", row->origin);
	ev->occurred_at_ms = civil_noon_ms(date);
	rc = row_text(row, LEDGER_CUSTOMER_ID, ev->customer_id,
		      sizeof(ev->customer_id));
	rc = rc ? rc
		: row_text(row, LEDGER_INVOICE_ID, ev->invoice_id,
			   sizeof(ev->invoice_id));
	if (rc || kind == EVENT_DISPUTE)
		return rc;

	/* Exports that state no currency use the import's. */
	if (!*currency)
		currency = row->opts->currency;
	if (money_exponent(currency) < 0) {
		snprintf(reason, sizeof(reason),
			 "'%s' is not an ISO 4217 currency",
			 event_shown(currency, shown, sizeof(shown)));
		return row_fail(row, LEDGER_CURRENCY, reason);
	}
	memcpy(ev->currency, currency, 4);
	return row_amount(row, currency, &ev->amount_minor);
}

static bool is_yes(const char *text)
{
	return strcasecmp(text, "yes") == 0 || strcasecmp(text, "y") == 0 ||
	       strcasecmp(text, "true") == 0 || strcmp(text, "1") == 0;
}

/* An invoice or credit note, with its dispute and settlement if stated. */
static int invoice_row(struct ledger_row *row, struct sink *sink,
		       bool credit_note)
{
	struct event inv, dispute, payment;
	struct civil_date issue, settled;
	const char *disputed = row->values[LEDGER_DISPUTED];
	bool is_settled = row->values[LEDGER_SETTLED_DATE][0] != '\0';
	int rc;

	rc = row_date(row, LEDGER_DATE, &issue);
	rc = rc ? rc : row_event(row, &inv, EVENT_INVOICE, issue);
	if (!rc && row->values[LEDGER_DUE_DATE][0]) {
		rc = row_date(row, LEDGER_DUE_DATE, &inv.due_date);
		inv.due_source = EVENT_DUE_EXPLICIT;
	} else {
		inv.due_source = EVENT_DUE_NONE;
	}
	if (!rc && *disputed && !is_yes(disputed) &&
	    strcasecmp(disputed, "no") && strcasecmp(disputed, "false") &&
	    strcmp(disputed, "0") && strcasecmp(disputed, "n")) {
		char why[EVENT_SHOWN_MAX + 40];
		char shown[EVENT_SHOWN_MAX + 4];

		snprintf(why, sizeof(why), "'%s' is not yes or no",
			 event_shown(disputed, shown, sizeof(shown)));
		rc = row_fail(row, LEDGER_DISPUTED, why);
	}
	if (!rc && inv.due_source == EVENT_DUE_EXPLICIT &&
	    civil_to_days(inv.due_date) < civil_to_days(issue))
		rc = row_fail(row, LEDGER_DUE_DATE,
			      "due before the invoice date");
	if (!rc && is_settled)
		rc = row_date(row, LEDGER_SETTLED_DATE, &settled);
	if (!rc && is_settled && civil_to_days(settled) < civil_to_days(issue))
		rc = row_fail(row, LEDGER_SETTLED_DATE,
			      "settled before the invoice date");
	if (rc)
		return rc;

	inv.issue_date = issue;
	inv.credit_note = credit_note;
	inv.version = inv.occurred_at_ms;
	if (credit_note || inv.amount_minor <= 0) {
		inv.not_dunnable = true;
		snprintf(inv.not_dunnable_reason,
			 sizeof(inv.not_dunnable_reason), "%s",
			 credit_note ? "credit note"
				     : "payable amount is zero or negative");
	}
	sink_event(sink, &inv);

	/* The export does not say when a dispute began: dated with the
	 * invoice, no reminder goes out for it (see docs/producer.md). */
	if (is_yes(disputed) &&
	    !row_event(row, &dispute, EVENT_DISPUTE, issue)) {
		snprintf(dispute.reason, sizeof(dispute.reason),
			 "marked disputed in the export");
		sink_event(sink, &dispute);
	}
	if (is_settled && !inv.not_dunnable &&
	    !row_event(row, &payment, EVENT_PAYMENT, settled)) {
		snprintf(payment.payment_id, sizeof(payment.payment_id),
			 "%s/settled", payment.invoice_id);
		sink_event(sink, &payment);
	}
	return DN_OK;
}

static int payment_row(struct ledger_row *row, struct sink *sink)
{
	struct civil_date paid;
	struct event ev;
	int rc;

	rc = row_date(row, LEDGER_DATE, &paid);
	rc = rc ? rc : row_event(row, &ev, EVENT_PAYMENT, paid);
	rc = rc ? rc
		: row_text(row, LEDGER_PAYMENT_ID, ev.payment_id,
			   sizeof(ev.payment_id));
	if (!rc && ev.amount_minor <= 0)
		rc = row_fail(row, LEDGER_AMOUNT, "payment is not positive");
	if (!rc)
		sink_event(sink, &ev);
	return rc;
}

/* Copies text into dst (size cap), shortened if need be on a UTF-8
 * character boundary so that the event stays valid UTF-8. */
static void copy_whole_characters(char *dst, size_t cap, const char *text)
{
	size_t n = strlen(text);

	if (n >= cap) {
		n = cap - 1;
		while (n && ((unsigned char)text[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, text, n);
	dst[n] = '\0';
}

static int dispute_row(struct ledger_row *row, struct sink *sink)
{
	struct civil_date since;
	struct event ev;
	int rc;

	rc = row_date(row, LEDGER_DATE, &since);
	rc = rc ? rc : row_event(row, &ev, EVENT_DISPUTE, since);
	if (rc)
		return rc;
	copy_whole_characters(ev.reason, sizeof(ev.reason),
			      row->values[LEDGER_REASON][0]
				      ? row->values[LEDGER_REASON]
				      : "disputed");
	sink_event(sink, &ev);
	return DN_OK;
}

/* Length of text without surrounding spaces. */
static size_t trimmed_length(const char *text)
{
	size_t n;

	while (*text == ' ' || *text == '\t')
		text++;
	n = strlen(text);
	while (n && (text[n - 1] == ' ' || text[n - 1] == '\t'))
		n--;
	return n;
}

/* Copies the row's values; one that does not fit is refused, not cut (a
 * cut "1.00…01" would read as 1.00). Only the free-text reason may be
 * shortened: a dispute must not be lost for a long explanation. */
static int row_values(struct ledger_row *row, const struct csv_record *rec)
{
	int f, column;
	char why[64];

	for (f = 0; f < LEDGER_FIELD_COUNT; f++) {
		column = row->layout->columns[f];
		if (f != LEDGER_REASON && column >= 0 &&
		    (size_t)column < rec->count &&
		    trimmed_length(rec->fields[column]) >= LEDGER_VALUE_MAX) {
			snprintf(why, sizeof(why), "longer than %d bytes",
				 LEDGER_VALUE_MAX - 1);
			return row_fail(row, (enum ledger_field)f, why);
		}
		ledger_value(row->layout, rec, (enum ledger_field)f,
			     row->values[f], LEDGER_VALUE_MAX);
	}
	return DN_OK;
}

/* Dispatches a row by its record type. */
static int import_row(struct ledger_row *row, const struct csv_record *rec,
		      struct sink *sink)
{
	const char *type;

	if (row_values(row, rec))
		return DN_ERR_INVALID;
	type = row->values[LEDGER_RECORD_TYPE];
	if (!*type || strcmp(type, "invoice") == 0)
		return invoice_row(row, sink, false);
	if (strcmp(type, "credit_note") == 0)
		return invoice_row(row, sink, true);
	if (strcmp(type, "payment") == 0)
		return payment_row(row, sink);
	if (strcmp(type, "dispute") == 0)
		return dispute_row(row, sink);
	return row_fail(row, LEDGER_RECORD_TYPE,
			"not invoice, credit_note, payment or dispute");
}

/* The name of the mapped field read from column (or "" if none is). */
static const char *column_name(const struct ledger_layout *layout, int column)
{
	int f;

	for (f = 0; column >= 0 && f < LEDGER_FIELD_COUNT; f++)
		if (layout->columns[f] == column)
			return layout->names[f];
	return "";
}

/* Reads the header and binds the layout to it. */
static int read_header(struct csv_reader *reader, struct ledger_layout *layout,
		       size_t *width, const char *path, char *err,
		       size_t errlen)
{
	struct csv_record header;
	char why[256];
	int rc;

	rc = csv_reader_next(reader, &header, why, sizeof(why));
	if (rc == DN_ERR_NOT_FOUND)
		return dn_fail(DN_ERR_INVALID, err, errlen, "%s is empty",
			       path);
	if (rc)
		return dn_fail(rc, err, errlen, "%s header: %s", path, why);
	rc = ledger_layout_bind(layout, &header, why, sizeof(why));
	if (rc)
		return dn_fail(rc, err, errlen, "%s: %s", path, why);
	*width = header.count;
	return DN_OK;
}

int ledger_import_file(const char *path, const struct import_options *opts,
		       struct sink *sink, char *err, size_t errlen)
{
	struct ledger_layout layout;
	struct ledger_row row;
	struct csv_reader *reader = NULL;
	struct csv_record rec;
	char where[32];
	struct stat st;
	size_t width = 0;
	FILE *in;
	int rc;

	rc = ledger_layout_init(&layout, opts, err, errlen);
	if (rc)
		return rc;
	in = fopen(path, "rb");
	if (!in)
		return dn_fail(DN_ERR_IO, err, errlen, "cannot open %s: %s",
			       path, strerror(errno));
	if (fstat(fileno(in), &st))
		st.st_size = 0;
	reader = csv_reader_new(in, opts->delimiter);
	rc = reader ? read_header(reader, &layout, &width, path, err, errlen)
		    : DN_ERR_NOMEM;

	/* Every row counts as read; a bad one is rejected, never fatal. */
	while (!rc && !shutdown_requested() &&
	       (rc = csv_reader_next(reader, &rec, row.why, sizeof(row.why))) !=
		       DN_ERR_NOT_FOUND) {
		snprintf(where, sizeof(where), "line %ld", rec.line);
		sink_count_read(sink);
		if (rc == DN_ERR_IO)
			break;
		row.opts = opts;
		row.layout = &layout;
		row.bad_field = "";
		snprintf(row.origin, sizeof(row.origin), "%s:%ld", path,
			 rec.line);
		if (rc)
			row.bad_field = column_name(&layout, rec.bad_field);
		/* A missing or extra field shifts the columns after it: every
		 * value would be read from the wrong one. */
		else if (rec.count != width)
			rc = dn_fail(DN_ERR_INVALID, row.why, sizeof(row.why),
				     "%zu fields, the header has %zu",
				     rec.count, width);
		if (rc || import_row(&row, &rec, sink))
			sink_reject(sink, path, where, row.bad_field, row.why);
		sink_progress(sink, csv_reader_offset(reader), st.st_size);
		rc = DN_OK;
	}
	if (rc == DN_ERR_IO)
		dn_fail(rc, err, errlen, "read error in %s", path);
	csv_reader_free(reader);
	fclose(in);
	return rc == DN_ERR_NOT_FOUND ? DN_OK : rc;
}
