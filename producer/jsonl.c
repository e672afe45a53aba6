/* jsonl.c: ledger events as JSON lines (dry-run output and input). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "jsonl.h"

#include "civil.h"
#include "event.h"
#include "import.h"
#include "sink.h"

#include "config.h"
#include "error.h"
#include "shutdown.h"
#include "money.h"
#include "phone.h"

#include "dunning/v1/ledger.pb-c.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const due_sources[] = { "unspecified", "explicit",
					   "payment_terms", "none" };
static const char *const opt_ins[] = { "unknown", "opted_in", "opted_out" };

/* ---------------------------------------------------------------------- */
/* Rendering                                                               */

static json_t *render_money(const Dunning__V1__Money *m)
{
	if (!m)
		return json_null();
	return json_pack("{s:I,s:s}", "minor_units", (json_int_t)m->minor_units,
			 "currency", m->currency);
}

static json_t *render_date(const Dunning__V1__Date *d)
{
	char text[16];
	struct civil_date date;

	if (!d)
		return json_null();
	date.year = d->year;
	date.month = d->month;
	date.day = d->day;
	return json_string(civil_format_iso(date, text, sizeof(text)));
}

static json_t *render_invoice(const Dunning__V1__InvoiceUpserted *inv)
{
	json_t *o = json_pack(
		"{s:s,s:s,s:o,s:s,s:o,s:I,s:b}", "invoice_id", inv->invoice_id,
		"kind",
		inv->kind == DUNNING__V1__DOCUMENT_KIND__DOCUMENT_KIND_CREDIT_NOTE
			? "credit_note"
			: "invoice",
		"issue_date", render_date(inv->issue_date), "due_date_source",
		due_sources[inv->due_date_source & 3], "amount",
		render_money(inv->amount), "version", (json_int_t)inv->version,
		"not_dunnable", inv->not_dunnable);

	if (!o)
		return NULL;
	if (inv->due_date)
		json_object_set_new(o, "due_date", render_date(inv->due_date));
	if (inv->payment_means)
		json_object_set_new(
			o, "payment_means",
			json_pack("{s:s,s:s,s:s,s:s}", "iban",
				  inv->payment_means->iban, "bic",
				  inv->payment_means->bic, "payment_id",
				  inv->payment_means->payment_id,
				  "account_name",
				  inv->payment_means->account_name));
	if (inv->payment_link && *inv->payment_link)
		json_object_set_new(o, "payment_link",
				    json_string(inv->payment_link));
	if (inv->not_dunnable)
		json_object_set_new(o, "not_dunnable_reason",
				    json_string(inv->not_dunnable_reason));
	return o;
}

static json_t *render_customer(const Dunning__V1__CustomerUpserted *c)
{
	char when[40] = "";

	if (c->opt_in_at_ms)
		event_format_instant(c->opt_in_at_ms, when, sizeof(when));
	return json_pack(
		"{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I}", "name", c->name,
		"phone_e164", c->phone_e164, "locale", c->locale, "time_zone",
		c->time_zone, "opt_in", opt_ins[c->opt_in % 3], "opt_in_at",
		when, "opt_in_source", c->opt_in_source, "segment", c->segment,
		"email", c->email, "version", (json_int_t)c->version);
}

static json_t *render_body(const Dunning__V1__LedgerEvent *ev,
			   const char **name)
{
	switch (ev->body_case) {
	case DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_UPSERTED:
		*name = "invoice_upserted";
		return render_invoice(ev->invoice_upserted);
	case DUNNING__V1__LEDGER_EVENT__BODY_PAYMENT_RECEIVED:
		*name = "payment_received";
		return json_pack("{s:s,s:o,s:s}", "invoice_id",
				 ev->payment_received->invoice_id, "amount",
				 render_money(ev->payment_received->amount),
				 "payment_id",
				 ev->payment_received->payment_id);
	case DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_DISPUTED:
		*name = "invoice_disputed";
		return json_pack("{s:s,s:s}", "invoice_id",
				 ev->invoice_disputed->invoice_id, "reason",
				 ev->invoice_disputed->reason);
	case DUNNING__V1__LEDGER_EVENT__BODY_CUSTOMER_UPSERTED:
		*name = "customer_upserted";
		return render_customer(ev->customer_upserted);
	default:
		*name = "unknown";
		return json_object();
	}
}

char *jsonl_render(const Dunning__V1__LedgerEvent *ev)
{
	char occurred[40], published[40];
	const char *body_name;
	json_t *o, *body;
	char *line;

	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s}}", "event_id",
		      ev->event_id, "tenant", ev->tenant, "customer_id",
		      ev->customer_id, "occurred_at",
		      event_format_instant(ev->occurred_at_ms, occurred,
					   sizeof(occurred)),
		      "published_at",
		      event_format_instant(ev->published_at_ms, published,
					   sizeof(published)),
		      "source", "component",
		      ev->source ? ev->source->component : "", "origin",
		      ev->source ? ev->source->origin : "");
	if (!o)
		return NULL;
	body = render_body(ev, &body_name);
	json_object_set_new(o, body_name, body);
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return line;
}

/* ---------------------------------------------------------------------- */
/* Reading                                                                 */

/* Where a parse failed: the field and the reason. */
struct parse_error {
	const char **field;
	char *err;
	size_t errlen;
};

static int fail_field(struct parse_error *pe, const char *field, int rc,
		      const char *reason)
{
	*pe->field = field;
	return dn_fail(rc, pe->err, pe->errlen, "%s", reason);
}

/* Copies an optional string member into dst (size cap). */
static int take_string(json_t *obj, const char *key, char *dst, size_t cap,
		       bool required, struct parse_error *pe)
{
	json_t *value = json_object_get(obj, key);
	char why[128];

	if (!value || json_is_null(value)) {
		if (required)
			return fail_field(pe, key, DN_ERR_INVALID, "missing");
		dst[0] = '\0';
		return DN_OK;
	}
	if (!json_is_string(value))
		return fail_field(pe, key, DN_ERR_INVALID, "not a string");
	if (event_set(dst, cap, json_string_value(value),
		      json_string_length(value), key, why, sizeof(why)))
		return fail_field(pe, key, DN_ERR_TOO_LARGE, why);
	if (required && !dst[0])
		return fail_field(pe, key, DN_ERR_INVALID, "empty");
	return DN_OK;
}

static int take_date(json_t *obj, const char *key, struct civil_date *out,
		     bool *present, struct parse_error *pe)
{
	json_t *value = json_object_get(obj, key);
	char why[160];

	*present = value && !json_is_null(value);
	if (!*present)
		return DN_OK;
	if (!json_is_string(value))
		return fail_field(pe, key, DN_ERR_INVALID, "not a string");
	if (civil_parse(json_string_value(value), json_string_length(value),
			CIVIL_ISO, out, why, sizeof(why)))
		return fail_field(pe, key, DN_ERR_INVALID, why);
	return DN_OK;
}

static int take_instant(json_t *obj, const char *key, int64_t *out,
			bool required, struct parse_error *pe)
{
	json_t *value = json_object_get(obj, key);

	*out = 0;
	if (!value || json_is_null(value) ||
	    (json_is_string(value) && !json_string_length(value)))
		return required ? fail_field(pe, key, DN_ERR_INVALID, "missing")
				: DN_OK;
	if (!json_is_string(value) ||
	    config_parse_instant(json_string_value(value), out))
		return fail_field(pe, key, DN_ERR_INVALID,
				  "not a UTC instant like "
				  "2026-01-05T09:30:00Z");
	return DN_OK;
}

/* An optional integer version: absent or null is 0 (then the instant). */
static int take_version(json_t *obj, struct event *ev, struct parse_error *pe)
{
	json_t *value = json_object_get(obj, "version");

	ev->version = 0;
	if (!value || json_is_null(value))
		return DN_OK;
	if (!json_is_integer(value))
		return fail_field(pe, "version", DN_ERR_INVALID,
				  "not an integer");
	ev->version = json_integer_value(value);
	return DN_OK;
}

/* An optional boolean: absent or null is false. */
static int take_flag(json_t *obj, const char *key, bool *out,
		     struct parse_error *pe)
{
	json_t *value = json_object_get(obj, key);

	*out = false;
	if (!value || json_is_null(value))
		return DN_OK;
	if (!json_is_boolean(value))
		return fail_field(pe, key, DN_ERR_INVALID, "not true or false");
	*out = json_is_true(value);
	return DN_OK;
}

/* {"minor_units": 5594, "currency": "USD"} or {"value": "55.94", …}. */
static int take_money(json_t *obj, const struct import_options *opts,
		      struct event *ev, struct parse_error *pe)
{
	json_t *amount = json_object_get(obj, "amount"), *minor, *value;
	char why[160], shown[EVENT_SHOWN_MAX + 4];
	int rc;

	if (!json_is_object(amount))
		return fail_field(pe, "amount", DN_ERR_INVALID, "missing");
	rc = take_string(amount, "currency", ev->currency, sizeof(ev->currency),
			 true, pe);
	if (rc)
		return rc;
	if (money_exponent(ev->currency) < 0) {
		snprintf(why, sizeof(why), "'%s' is not an ISO 4217 currency",
			 event_shown(ev->currency, shown, sizeof(shown)));
		return fail_field(pe, "amount.currency", DN_ERR_INVALID, why);
	}
	minor = json_object_get(amount, "minor_units");
	value = json_object_get(amount, "value");
	if (minor && !json_is_integer(minor))
		return fail_field(pe, "amount.minor_units", DN_ERR_INVALID,
				  "not an integer");
	if (value && !json_is_string(value))
		return fail_field(pe, "amount.value", DN_ERR_INVALID,
				  "not a decimal string");
	if (!minor && !value)
		return fail_field(pe, "amount", DN_ERR_INVALID,
				  "needs integer minor_units or a decimal "
				  "value string");
	if (value &&
	    money_parse(json_string_value(value), json_string_length(value),
			ev->currency, opts->rounding, &ev->amount_minor, why,
			sizeof(why)))
		return fail_field(pe, "amount.value", DN_ERR_INVALID, why);

	/* Both may be given, but they must say the same. */
	if (minor && value && ev->amount_minor != json_integer_value(minor))
		return fail_field(pe, "amount", DN_ERR_INVALID,
				  "minor_units and value disagree");
	if (minor)
		ev->amount_minor = json_integer_value(minor);
	return DN_OK;
}

static int choose(const char *text, const char *const *names, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (strcmp(text, names[i]) == 0)
			return (int)i;
	return -1;
}

/* Credit notes and amounts <= 0 are never dunned, whatever the line says
 * (the CSV and UBL readers flag them the same way). */
static void flag_not_dunnable(struct event *ev)
{
	const char *why = ev->credit_note
				  ? "credit note"
				  : "payable amount is zero or negative";

	if (!ev->credit_note && ev->amount_minor > 0)
		return;
	ev->not_dunnable = true;
	if (!ev->not_dunnable_reason[0])
		snprintf(ev->not_dunnable_reason,
			 sizeof(ev->not_dunnable_reason), "%s", why);
}

static int parse_invoice(json_t *b, const struct import_options *opts,
			 struct event *ev, struct parse_error *pe)
{
	char kind[16], source[16];
	bool has_issue, has_due;
	json_t *means = json_object_get(b, "payment_means");
	int rc, due;

	event_reset(ev, EVENT_INVOICE);
	rc = take_string(b, "invoice_id", ev->invoice_id,
			 sizeof(ev->invoice_id), true, pe);
	rc = rc ? rc : take_string(b, "kind", kind, sizeof(kind), false, pe);
	rc = rc ? rc
		: take_date(b, "issue_date", &ev->issue_date, &has_issue, pe);
	rc = rc ? rc : take_date(b, "due_date", &ev->due_date, &has_due, pe);
	rc = rc ? rc
		: take_string(b, "due_date_source", source, sizeof(source),
			      false, pe);
	rc = rc ? rc : take_money(b, opts, ev, pe);
	rc = rc ? rc
		: take_string(b, "payment_link", ev->payment_link,
			      sizeof(ev->payment_link), false, pe);
	rc = rc ? rc
		: take_string(b, "not_dunnable_reason", ev->not_dunnable_reason,
			      sizeof(ev->not_dunnable_reason), false, pe);
	if (rc)
		return rc;
	if (!has_issue)
		return fail_field(pe, "issue_date", DN_ERR_INVALID, "missing");
	if (kind[0] && strcmp(kind, "invoice") && strcmp(kind, "credit_note"))
		return fail_field(pe, "kind", DN_ERR_INVALID,
				  "not invoice or credit_note");
	ev->credit_note = strcmp(kind, "credit_note") == 0;

	/* The due date's source: as stated, else explicit if dated. */
	due = source[0] ? choose(source, due_sources, 4) : -1;
	if (source[0] && due <= 0)
		return fail_field(pe, "due_date_source", DN_ERR_INVALID,
				  "not explicit, payment_terms or none");
	if (due < 0)
		due = has_due ? EVENT_DUE_EXPLICIT : EVENT_DUE_NONE;
	if ((due == EVENT_DUE_NONE) == has_due)
		return fail_field(pe, "due_date", DN_ERR_INVALID,
				  "does not agree with due_date_source");
	if (has_due &&
	    civil_to_days(ev->due_date) < civil_to_days(ev->issue_date))
		return fail_field(pe, "due_date", DN_ERR_INVALID,
				  "due before the issue date");
	ev->due_source = (enum event_due_source)due;
	rc = take_version(b, ev, pe);
	rc = rc ? rc : take_flag(b, "not_dunnable", &ev->not_dunnable, pe);
	if (!rc && means && !json_is_null(means) && !json_is_object(means))
		rc = fail_field(pe, "payment_means", DN_ERR_INVALID,
				"not an object");
	if (rc)
		return rc;
	flag_not_dunnable(ev);
	if (json_is_object(means)) {
		rc = take_string(means, "iban", ev->iban, sizeof(ev->iban),
				 false, pe);
		rc = rc ? rc
			: take_string(means, "bic", ev->bic, sizeof(ev->bic),
				      false, pe);
		rc = rc ? rc
			: take_string(means, "payment_id", ev->remittance_id,
				      sizeof(ev->remittance_id), false, pe);
		rc = rc ? rc
			: take_string(means, "account_name", ev->account_name,
				      sizeof(ev->account_name), false, pe);
	}
	return rc;
}

static int parse_payment(json_t *b, const struct import_options *opts,
			 struct event *ev, struct parse_error *pe)
{
	int rc;

	event_reset(ev, EVENT_PAYMENT);
	rc = take_string(b, "invoice_id", ev->invoice_id,
			 sizeof(ev->invoice_id), true, pe);
	rc = rc ? rc
		: take_string(b, "payment_id", ev->payment_id,
			      sizeof(ev->payment_id), true, pe);
	rc = rc ? rc : take_money(b, opts, ev, pe);
	if (!rc && ev->amount_minor <= 0)
		return fail_field(pe, "amount", DN_ERR_INVALID,
				  "payment is not positive");
	return rc;
}

static int parse_dispute(json_t *b, struct event *ev, struct parse_error *pe)
{
	int rc;

	event_reset(ev, EVENT_DISPUTE);
	rc = take_string(b, "invoice_id", ev->invoice_id,
			 sizeof(ev->invoice_id), true, pe);
	return rc ? rc
		  : take_string(b, "reason", ev->reason, sizeof(ev->reason),
				false, pe);
}

static int parse_customer(json_t *b, const struct import_options *opts,
			  struct event *ev, struct parse_error *pe)
{
	char phone[128], opt_in[16], why[160];
	int rc, status;

	event_reset(ev, EVENT_CUSTOMER);
	rc = take_string(b, "name", ev->name, sizeof(ev->name), false, pe);
	rc = rc ? rc
		: take_string(b, "phone_e164", phone, sizeof(phone), false, pe);
	rc = rc ? rc
		: take_string(b, "locale", ev->locale, sizeof(ev->locale),
			      false, pe);
	rc = rc ? rc
		: take_string(b, "time_zone", ev->time_zone,
			      sizeof(ev->time_zone), false, pe);
	rc = rc ? rc
		: take_string(b, "opt_in", opt_in, sizeof(opt_in), false, pe);
	rc = rc ? rc
		: take_instant(b, "opt_in_at", &ev->opt_in_at_ms, false, pe);
	rc = rc ? rc
		: take_string(b, "opt_in_source", ev->opt_in_source,
			      sizeof(ev->opt_in_source), false, pe);
	rc = rc ? rc
		: take_string(b, "segment", ev->segment, sizeof(ev->segment),
			      false, pe);
	rc = rc ? rc
		: take_string(b, "email", ev->email, sizeof(ev->email), false,
			      pe);
	if (rc)
		return rc;
	status = opt_in[0] ? choose(opt_in, opt_ins, 3) : 0;
	if (status < 0) {
		char shown[EVENT_SHOWN_MAX + 4];

		*pe->field = "opt_in";
		return dn_fail(DN_ERR_INVALID, pe->err, pe->errlen,
			       "'%s' is not opted_in, opted_out or unknown",
			       event_shown(opt_in, shown, sizeof(shown)));
	}
	ev->opt_in = (enum event_opt_in)status;
	if (phone[0] && phone_normalize(phone, opts->phone_region, ev->phone,
					sizeof(ev->phone), why, sizeof(why)))
		return fail_field(pe, "phone_e164", DN_ERR_INVALID, why);
	return take_version(b, ev, pe);
}

static int body_count(json_t *o)
{
	static const char *const bodies[] = { "invoice_upserted",
					      "payment_received",
					      "invoice_disputed",
					      "customer_upserted" };
	int i, n = 0;

	for (i = 0; i < 4; i++)
		if (json_object_get(o, bodies[i]))
			n++;
	return n;
}

/* Reads the one body member of the event object; a line with two would
 * lose one of them, so it is rejected. */
static int parse_body(json_t *o, const struct import_options *opts,
		      struct event *ev, struct parse_error *pe)
{
	json_t *b;

	if (body_count(o) > 1)
		return fail_field(pe, "", DN_ERR_INVALID,
				  "more than one of invoice_upserted, "
				  "payment_received, invoice_disputed and "
				  "customer_upserted");

	if ((b = json_object_get(o, "invoice_upserted")))
		return json_is_object(b)
			       ? parse_invoice(b, opts, ev, pe)
			       : fail_field(pe, "invoice_upserted",
					    DN_ERR_INVALID, "not an object");
	if ((b = json_object_get(o, "payment_received")))
		return json_is_object(b)
			       ? parse_payment(b, opts, ev, pe)
			       : fail_field(pe, "payment_received",
					    DN_ERR_INVALID, "not an object");
	if ((b = json_object_get(o, "invoice_disputed")))
		return json_is_object(b)
			       ? parse_dispute(b, ev, pe)
			       : fail_field(pe, "invoice_disputed",
					    DN_ERR_INVALID, "not an object");
	if ((b = json_object_get(o, "customer_upserted")))
		return json_is_object(b)
			       ? parse_customer(b, opts, ev, pe)
			       : fail_field(pe, "customer_upserted",
					    DN_ERR_INVALID, "not an object");
	return fail_field(pe, "", DN_ERR_INVALID,
			  "no invoice_upserted, payment_received, "
			  "invoice_disputed or customer_upserted");
}

int jsonl_parse(const char *text, size_t len, const struct import_options *opts,
		struct event *ev, const char **field, char *err, size_t errlen)
{
	struct parse_error pe = { field, err, errlen };
	char event_id[sizeof(ev->event_id)], tenant[sizeof(ev->tenant)];
	json_error_t jerr;
	json_t *o;
	int rc;

	*field = "";
	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o || !json_is_object(o)) {
		json_decref(o);
		return dn_fail(DN_ERR_DECODE, err, errlen,
			       "not a JSON object%s%s", o ? "" : ": ",
			       o ? "" : jerr.text);
	}
	rc = parse_body(o, opts, ev, &pe);
	rc = rc ? rc
		: take_string(o, "event_id", event_id, sizeof(event_id), false,
			      &pe);
	rc = rc ? rc
		: take_string(o, "tenant", tenant, sizeof(tenant), false, &pe);
	rc = rc ? rc
		: take_string(o, "customer_id", ev->customer_id,
			      sizeof(ev->customer_id), true, &pe);
	rc = rc ? rc
		: take_instant(o, "occurred_at", &ev->occurred_at_ms, true,
			       &pe);
	json_decref(o);
	if (rc)
		return rc;
	memcpy(ev->event_id, event_id, sizeof(event_id));
	snprintf(ev->tenant, sizeof(ev->tenant), "%s",
		 tenant[0] ? tenant : opts->tenant);
	if (!ev->version)
		ev->version = ev->occurred_at_ms;
	return DN_OK;
}

/* Handles one line: an event, or a rejection naming line and field. */
static void import_line(const char *path, long line_no, const char *line,
			size_t len, const struct import_options *opts,
			struct sink *sink)
{
	struct event ev;
	char where[32], why[256];
	const char *field;

	snprintf(where, sizeof(where), "line %ld", line_no);
	sink_count_read(sink);
	if (len > JSONL_LINE_MAX) {
		sink_reject(sink, path, where, "", "line longer than 64 KiB");
		return;
	}
	if (jsonl_parse(line, len, opts, &ev, &field, why, sizeof(why))) {
		sink_reject(sink, path, where, field, why);
		return;
	}
	snprintf(ev.origin, sizeof(ev.origin), "%s:%ld", path, line_no);
	sink_event(sink, &ev);
}

static bool is_blank(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r' &&
		    line[i] != '\n')
			return false;
	return true;
}

/*
 * Reads one line into buf (size JSONL_LINE_MAX + 1) without its newline,
 * keeping at most JSONL_LINE_MAX bytes: the rest of a longer line is read
 * and dropped, never held. *len is the line's full length. Returns false
 * at the end of input.
 */
static bool read_line(FILE *in, char *buf, size_t *len)
{
	size_t n = 0;
	bool any = false;
	int c;

	while ((c = getc_unlocked(in)) != EOF) {
		any = true;
		if (c == '\n')
			break;
		if (n < JSONL_LINE_MAX)
			buf[n] = (char)c;
		n++;
	}
	buf[n < JSONL_LINE_MAX ? n : JSONL_LINE_MAX] = '\0';
	*len = n;
	return any;
}

int jsonl_import_file(const char *path, const struct import_options *opts,
		      struct sink *sink, char *err, size_t errlen)
{
	FILE *in = fopen(path, "rb");
	char *line = malloc(JSONL_LINE_MAX + 1);
	size_t len;
	long line_no = 0;
	struct stat st;

	if (!in || !line) {
		if (in)
			fclose(in);
		free(line);
		return dn_fail(in ? DN_ERR_NOMEM : DN_ERR_IO, err, errlen,
			       "cannot open %s", path);
	}
	if (fstat(fileno(in), &st))
		st.st_size = 0;
	while (!shutdown_requested() && read_line(in, line, &len)) {
		line_no++;
		if (line_no == 1 && len >= 3 && len <= JSONL_LINE_MAX &&
		    memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
			/* A UTF-8 byte-order mark, as Windows tools write. */
			memmove(line, line + 3, len - 2);
			len -= 3;
		}
		if (len > JSONL_LINE_MAX || !is_blank(line, len))
			import_line(path, line_no, line, len, opts, sink);
		sink_progress(sink, ftell(in), st.st_size);
	}
	free(line);
	fclose(in);
	return DN_OK;
}
