/* test_producer_import.c: every parsing rule of the importers, by example. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Each test writes a small input file, imports it through import_file into
 * a dry-run sink, and reads back the JSON lines and the reject file: what
 * an operator would see. No services are needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../producer/civil.h"
#include "../../producer/event.h"
#include "../../producer/import.h"
#include "../../producer/sink.h"
#include "config.h"
#include "error.h"
#include "testenv.h"

static struct config *cfg;

/* What one import produced. */
struct capture {
	json_t *events; /* array of event objects */
	char rejects[16384];
	struct sink_summary sum;
	int rc;
	char err[512]; /* import_file's reason when it fails */
};

static struct import_options defaults(void)
{
	struct import_options o;

	memset(&o, 0, sizeof(o));
	o.tenant = "t1";
	o.currency = "USD";
	o.phone_region = "ES";
	o.rounding = MONEY_ROUND_REJECT;
	o.date_format = -1;
	return o;
}

static void read_events(FILE *out, struct capture *c)
{
	char line[65536];
	json_t *ev;

	rewind(out);
	c->events = json_array();
	while (fgets(line, sizeof(line), out)) {
		ev = json_loads(line, 0, NULL);
		assert_non_null(ev);
		json_array_append_new(c->events, ev);
	}
}

/* Imports the file at path (and removes it). */
static void import_path(const char *path, const struct import_options *o,
			struct capture *c)
{
	char rejects[256], err[512];
	struct sink_options so;
	struct sink *sink;
	char *saved;

	snprintf(rejects, sizeof(rejects), "/tmp/dn-producer-test-%ld.rej",
		 (long)getpid());
	memset(&so, 0, sizeof(so));
	so.dry_run = true;
	so.out = tmpfile();
	so.reject_path = rejects;
	assert_non_null(so.out);
	sink = sink_new(cfg, &so, err, sizeof(err));
	assert_non_null(sink);
	c->err[0] = '\0';
	c->rc = import_file(path, o, sink, c->err, sizeof(c->err));
	assert_int_equal(sink_finish(sink, 1000), 0);
	sink_summary(sink, &c->sum);
	sink_free(sink);

	read_events(so.out, c);
	fclose(so.out);
	saved = testenv_read_file(rejects, NULL);
	snprintf(c->rejects, sizeof(c->rejects), "%s", saved ? saved : "");
	free(saved);
	unlink(rejects);
	unlink(path);
}

/* Imports text written to a file named with extension ext. */
static void import_text(const char *ext, const char *text,
			const struct import_options *o, struct capture *c)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/dn-producer-test-%ld%s",
		 (long)getpid(), ext);
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	import_path(path, o, c);
}

static void release(struct capture *c)
{
	json_decref(c->events);
}

/* The n-th event whose body is body (0-based), or NULL. */
static json_t *body_of(struct capture *c, const char *body, int n)
{
	size_t i;
	json_t *ev, *b;

	json_array_foreach(c->events, i, ev)
	{
		b = json_object_get(ev, body);
		if (b && n-- == 0)
			return b;
	}
	return NULL;
}

static json_t *event_of(struct capture *c, const char *body, int n)
{
	size_t i;
	json_t *ev;

	json_array_foreach(c->events, i, ev)
	{
		if (json_object_get(ev, body) && n-- == 0)
			return ev;
	}
	return NULL;
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	assert_non_null(s);
	return s;
}

static json_int_t minor(json_t *body)
{
	return json_integer_value(json_object_get(
		json_object_get(body, "amount"), "minor_units"));
}

static const char ibm_header[] =
	"countryCode,customerID,PaperlessDate,invoiceNumber,InvoiceDate,"
	"DueDate,InvoiceAmount,Disputed,SettledDate,PaperlessBill,"
	"DaysToSettle,DaysLate\r\n";

/* ---------------------------------------------------------------------- */
/* CSV ledgers                                                             */

static void test_ibm_settled_row_becomes_invoice_and_payment(void **state)
{
	struct import_options o = defaults();
	struct capture c;
	char text[1024];
	json_t *inv, *pay;

	(void)state;
	o.preset = "ibm-ar";
	snprintf(text, sizeof(text),
		 "%s391,0379-NEVHP,4/6/2013,0000611365,1/2/2013,2/1/2013,"
		 "55.94,No,1/15/2013,Paper,13,0\r\n",
		 ibm_header);
	import_text(".csv", text, &o, &c);
	assert_int_equal(c.sum.rejected, 0);
	assert_int_equal(json_array_size(c.events), 2);
	inv = body_of(&c, "invoice_upserted", 0);
	assert_string_equal(str(inv, "invoice_id"), "0000611365");
	assert_int_equal(minor(inv), 5594);
	assert_string_equal(str(json_object_get(inv, "amount"), "currency"),
			    "USD");
	assert_string_equal(str(inv, "due_date"), "2013-02-01");
	assert_string_equal(str(inv, "due_date_source"), "explicit");
	assert_string_equal(
		str(event_of(&c, "invoice_upserted", 0), "customer_id"),
		"0379-NEVHP");
	pay = body_of(&c, "payment_received", 0);
	assert_string_equal(str(pay, "payment_id"), "0000611365/settled");
	assert_int_equal(minor(pay), 5594);
	assert_string_equal(
		str(event_of(&c, "payment_received", 0), "occurred_at"),
		"2013-01-15T12:00:00Z");
	release(&c);
}

static void test_ibm_disputed_row_yields_dispute_at_invoice_date(void **state)
{
	struct import_options o = defaults();
	struct capture c;
	char text[1024];

	(void)state;
	o.preset = "ibm-ar";
	o.currency = "EUR";
	snprintf(text, sizeof(text),
		 "%s406,8976-AMJEO,3/3/2012,0007900770,1/26/2013,2/25/2013,"
		 "61.74,Yes,3/3/2013,Electronic,36,6\r\n",
		 ibm_header);
	import_text(".csv", text, &o, &c);
	assert_int_equal(json_array_size(c.events), 3);
	assert_string_equal(
		str(body_of(&c, "invoice_disputed", 0), "invoice_id"),
		"0007900770");
	assert_string_equal(
		str(event_of(&c, "invoice_disputed", 0), "occurred_at"),
		"2013-01-26T12:00:00Z");
	assert_string_equal(
		str(json_object_get(body_of(&c, "invoice_upserted", 0),
				    "amount"),
		    "currency"),
		"EUR");
	release(&c);
}

static void test_impossible_date_is_rejected_with_file_line_field(void **state)
{
	struct import_options o = defaults();
	struct capture c;
	char text[1024];

	(void)state;
	o.preset = "ibm-ar";
	snprintf(text, sizeof(text),
		 "%s391,A,1/1/2013,1,2/30/2013,3/1/2013,10.00,No,,Paper,0,0\r\n"
		 "391,B,1/1/2013,2,2/3/2013,3/5/2013,10.00,No,,Paper,0,0\r\n"
		 "391,C,1/1/2013,3,2/3/2013,3/5/2013,10.00,No,2/1/"
		 "2013,P,0,0\r\n",
		 ibm_header);
	import_text(".csv", text, &o, &c);
	assert_int_equal(c.sum.read, 3);
	assert_int_equal(c.sum.rejected, 2);
	assert_non_null(strstr(c.rejects, "line 4,SettledDate,settled before"));
	assert_int_equal(json_array_size(c.events), 1); /* row B, still open */
	assert_non_null(strstr(c.rejects, ".csv,line 2,InvoiceDate,"));
	assert_non_null(strstr(c.rejects, "day 30 does not exist in February"));
	release(&c);
}

static void test_ibm_disputed_value_is_quoted_in_the_reject(void **state)
{
	struct import_options o = defaults();
	struct capture c;
	char text[1024];

	(void)state;
	o.preset = "ibm-ar";
	snprintf(text, sizeof(text),
		 "%s391,A,1/1/2013,1,2/3/2013,3/1/"
		 "2013,10.00,Maybe,,Paper,0,0\r\n"
		 "391,B,1/1/2013,2,2/3/2013,3/5/2013,10.00,No,,Paper,0,0\r\n",
		 ibm_header);
	import_text(".csv", text, &o, &c);
	assert_int_equal(c.sum.rejected, 1);
	assert_non_null(strstr(c.rejects, "line 2,Disputed,'Maybe' is not yes "
					  "or no"));
	assert_int_equal(json_array_size(c.events), 1);
	release(&c);
}

static void test_too_many_decimals_is_rejected_unless_rounding(void **state)
{
	static const char text[] =
		"type,invoice_id,customer_id,date,due_date,amount,currency\n"
		"invoice,F1,C1,2026-01-10,2026-02-09,10.125,EUR\n";
	struct import_options o = defaults();
	struct capture c;

	(void)state;
	import_text(".csv", text, &o, &c);
	assert_int_equal(c.sum.rejected, 1);
	assert_non_null(strstr(c.rejects, "line 2,amount,"));
	assert_non_null(strstr(c.rejects, "3 decimals but EUR has 2"));
	release(&c);

	o.rounding = MONEY_ROUND_HALF_EVEN;
	import_text(".csv", text, &o, &c);
	assert_int_equal(c.sum.rejected, 0);
	assert_int_equal(minor(body_of(&c, "invoice_upserted", 0)), 1012);
	release(&c);
}

/* The operator sees which currency was refused, cut and made printable. */
static void test_unknown_currency_is_quoted_in_the_reject(void **state)
{
	struct import_options o = defaults();
	struct capture c;

	(void)state;
	import_text(
		".csv",
		"type,invoice_id,customer_id,date,due_date,amount,currency\n"
		"invoice,F1,C1,2026-01-10,2026-02-09,10.00,XBT\n"
		"invoice,F2,C1,2026-01-10,2026-02-09,10.00,\"E\tR\"\n"
		"invoice,F3,C1,2026-01-10,2026-02-09,10.00,"
		"QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ\n",
		&o, &c);
	assert_int_equal(c.sum.rejected, 3);
	assert_non_null(strstr(c.rejects, "line 2,currency,'XBT' is not an "
					  "ISO 4217 currency"));
	assert_non_null(strstr(c.rejects, "line 3,currency,'E?R' is not"));
	assert_non_null(strstr(c.rejects,
			       "line 4,currency,'"
			       "QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"
			       "...' is not"));
	release(&c);

	import_text(".jsonl",
		    "{\"customer_id\":\"C1\",\"occurred_at\":"
		    "\"2026-01-10T12:00:00Z\",\"invoice_upserted\":{"
		    "\"invoice_id\":\"F1\",\"issue_date\":\"2026-01-10\","
		    "\"amount\":{\"value\":\"12.30\",\"currency\":"
		    "\"X\\u0001B\"}}}\n",
		    &o, &c);
	assert_int_equal(c.sum.rejected, 1);
	assert_non_null(strstr(c.rejects, "line 1,amount.currency,'X?B' is "
					  "not an ISO 4217 currency"));
	release(&c);
}

static void test_shown_value_is_bounded_and_printable(void **state)
{
	char buf[EVENT_SHOWN_MAX + 4], text[80];

	(void)state;
	assert_string_equal(event_shown("EUR", buf, sizeof(buf)), "EUR");
	assert_string_equal(event_shown("a\nb\x7f", buf, sizeof(buf)), "a?b?");
	assert_string_equal(event_shown("", buf, sizeof(buf)), "");

	/* 39 bytes, then a two-byte character across the limit: it goes
	 * whole, never half. */
	memset(text, 'z', 39);
	snprintf(text + 39, sizeof(text) - 39, "\xc3\xa9tail");
	event_shown(text, buf, sizeof(buf));
	assert_int_equal(strlen(buf), 39 + 3);
	assert_string_equal(buf + 39, "...");

	/* Exactly the limit is kept whole. */
	memset(text, 'y', EVENT_SHOWN_MAX);
	text[EVENT_SHOWN_MAX] = '\0';
	assert_string_equal(event_shown(text, buf, sizeof(buf)), text);

	/* A small buffer still ends in "..." and a NUL. */
	assert_string_equal(event_shown("Europe/Madrid", buf, 8), "Euro...");
}

static void test_three_decimal_currency_amount_is_exact(void **state)
{
	struct import_options o = defaults();
	struct capture c;

	(void)state;
	import_text(
		".csv",
		"type,invoice_id,customer_id,date,due_date,amount,currency\n"
		"invoice,K1,C9,2026-01-10,2026-02-09,1.500,KWD\n"
		"invoice,J1,C9,2026-01-10,2026-02-09,1500,JPY\n",
		&o, &c);
	assert_int_equal(c.sum.rejected, 0);
	assert_int_equal(minor(body_of(&c, "invoice_upserted", 0)), 1500);
	assert_int_equal(minor(body_of(&c, "invoice_upserted", 1)), 1500);
	release(&c);
}

static void test_semicolon_file_with_bom_mapping_and_dotted_dates(void **state)
{
	struct import_options o = defaults();
	struct capture c;
	json_t *inv;

	(void)state;
	o.mapping = "invoice_id=Factura,customer_id=Cliente,date=Fecha,"
		    "due_date=Vence,amount=Importe,currency=Moneda";
	o.date_format = CIVIL_DOTS;
	import_text(".csv",
		    "\xEF\xBB\xBF"
		    "Factura;Cliente;Fecha;Vence;Importe;Moneda;Nota\r\n"
		    "F-7;Ñandú SL;15.01.2026;14.02.2026;1234.50;EUR;"
		    "\"línea 1\r\nlínea 2; fin\"\r\n",
		    &o, &c);
	assert_int_equal(c.sum.rejected, 0);
	inv = body_of(&c, "invoice_upserted", 0);
	assert_non_null(inv);
	assert_string_equal(str(inv, "invoice_id"), "F-7");
	assert_int_equal(minor(inv), 123450);
	assert_string_equal(str(inv, "issue_date"), "2026-01-15");
	assert_string_equal(
		str(event_of(&c, "invoice_upserted", 0), "customer_id"),
		"Ñandú SL");
	release(&c);
}

static void test_decimal_comma_amounts_are_read_exactly(void **state)
{
	struct import_options o = defaults();
	struct capture c;

	(void)state;
	o.decimal_comma = true;
	import_text(".csv",
		    "type;invoice_id;customer_id;date;amount;currency\n"
		    "invoice;F1;C1;2026-01-10;1.234,50;EUR\n"
		    "invoice;F2;C1;2026-01-10;0,125;EUR\n",
		    &o, &c);
	assert_int_equal(minor(body_of(&c, "invoice_upserted", 0)), 123450);
	assert_int_equal(c.sum.rejected, 1);
	assert_non_null(strstr(c.rejects, "line 3,amount,"));
	release(&c);
}

/* With comma decimals a point only groups thousands: "12.30" is a
 * point-decimal amount in the wrong file, not 1230, and is refused. */
static void
test_decimal_comma_refuses_points_not_grouping_thousands(void **state)
{
	struct import_options o = defaults();
	struct capture c;

	(void)state;
	o.decimal_comma = true;
	import_text(".csv",
		    "type;invoice_id;customer_id;date;amount;currency\n"
		    "invoice;F1;C1;2026-01-10;12.30;EUR\n"
		    "invoice;F2;C1;2026-01-10;1.5;EUR\n"
		    "invoice;F3;C1;2026-01-10;1.23,4;EUR\n"
		    "invoice;F4;C1;2026-01-10;12,345.67;EUR\n"
		    "invoice;F5;C1;2026-01-10;.5;EUR\n"
		    "invoice;F6;C1;2026-01-10;1.234.567,89;EUR\n"
		    "invoice;F7;C1;2026-01-10;-12.345;EUR\n",
		    &o, &c);
	assert_int_equal(c.sum.rejected, 5);
	assert_int_equal(json_array_size(c.events), 2);
	assert_int_equal(minor(body_of(&c, "invoice_upserted", 0)), 123456789);
	assert_int_equal(minor(body_of(&c, "invoice_upserted", 1)), -1234500);
	assert_non_null(strstr(c.rejects, "line 2,amount,\"'12.30' "));
	assert_non_null(strstr(c.rejects, "line 5,amount,\"'12,345.67' "));
	release(&c);
}

static void test_invalid_utf8_row_is_rejected_and_rest_imported(void **state)
{
	struct import_options o = defaults();
	struct capture c;

	(void)state;
	import_text(
		".csv",
		"type,invoice_id,customer_id,date,due_date,amount,currency\n"
		"invoice,F1,C\xFF,2026-01-10,2026-02-09,1.00,EUR\n"
		"invoice,F2,C2,2026-01-10,2026-02-09,2.00,EUR\n",
		&o, &c);
	assert_int_equal(c.sum.rejected, 1);
	assert_non_null(strstr(c.rejects, "line 2,customer_id,invalid UTF-8"));
	assert_int_equal(json_array_size(c.events), 1);
	assert_string_equal(
		str(body_of(&c, "invoice_upserted", 0), "invoice_id"), "F2");
	release(&c);

	/* The directory names the column too. */
	import_text(".csv",
		    "customer_id,name,phone,opt_in\n"
		    "C1,Jos\xE9,612345678,opted_in\n"
		    "C2,Ana,612345679,opted_in\n",
		    &o, &c);
	assert_int_equal(c.sum.rejected, 1);
	assert_non_null(strstr(c.rejects, "line 2,name,invalid UTF-8"));
	assert_int_equal(json_array_size(c.events), 1);
	release(&c);
}

static void
test_credit_note_and_non_positive_amounts_are_not_dunnable(void **state)
{
	struct import_options o = defaults();
	struct capture c;
	json_t *cn, *zero;

	(void)state;
	import_text(
		".csv",
		"type,invoice_id,customer_id,date,due_date,amount,currency\n"
		"credit_note,CN1,C1,2026-01-10,,5.00,EUR\n"
		"invoice,Z1,C1,2026-01-10,2026-02-09,0.00,EUR\n"
		"invoice,P1,C1,2026-01-10,,9.00,EUR\n",
		&o, &c);
	cn = body_of(&c, "invoice_upserted", 0);
	zero = body_of(&c, "invoice_upserted", 1);
	assert_string_equal(str(cn, "kind"), "credit_note");
	assert_true(json_is_true(json_object_get(cn, "not_dunnable")));
	assert_string_equal(str(cn, "not_dunnable_reason"), "credit note");
	assert_true(json_is_true(json_object_get(zero, "not_dunnable")));
	assert_false(json_is_true(json_object_get(
		body_of(&c, "invoice_upserted", 2), "not_dunnable")));
	assert_string_equal(
		str(body_of(&c, "invoice_upserted", 2), "due_date_source"),
		"none");
	release(&c);
}

/* A value too long for the row buffer is rejected, never cut: cut, an
 * amount with a stray last decimal would pass as a round one. A long
 * dispute reason is shortened on a character boundary. */
static void
test_overlong_values_are_rejected_and_reasons_cut_whole(void **state)
{
	struct import_options o = defaults();
	struct capture c;
	char text[4096], amount[700], reason[700];
	const char *kept;
	size_t i;

	(void)state;
	memset(amount, '0', sizeof(amount));
	memcpy(amount, "1.", 2);
	amount[sizeof(amount) - 2] = '1';
	amount[sizeof(amount) - 1] = '\0';
	for (i = 0; i + 2 < sizeof(reason); i += 2)
		memcpy(reason + i, "\xC3\xA9", 2); /* e acute */
	reason[i] = '\0';
	snprintf(text, sizeof(text),
		 "type,invoice_id,customer_id,date,amount,currency,reason\n"
		 "invoice,F1,C1,2026-01-10,%s,EUR,\n"
		 "dispute,F2,C1,2026-01-10,1.00,EUR,x%s\n",
		 amount, reason);
	import_text(".csv", text, &o, &c);
	assert_int_equal(c.sum.rejected, 1);
	assert_non_null(strstr(c.rejects, "line 2,amount,longer than"));
	assert_null(body_of(&c, "invoice_upserted", 0));
	kept = str(body_of(&c, "invoice_disputed", 0), "reason");
	assert_true(strlen(kept) > 200);
	assert_int_equal(kept[0], 'x');
	assert_int_equal(strlen(kept) % 2, 1); /* "x" and whole characters */
	release(&c);
}

/* A file name that is not UTF-8 (a Latin-1 "caf\xE9.csv") must not make
 * the events' origin invalid UTF-8: every good row is still an event. */
static void test_file_name_not_utf8_still_yields_valid_events(void **state)
{
	struct import_options o = defaults();
	struct capture c;
	char path[256];
	const char *origin;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/dn-producer-test-%ld-caf\xE9.csv",
		 (long)getpid());
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs("type,invoice_id,customer_id,date,amount,currency\n"
	      "invoice,F1,C1,2026-01-10,1.00,EUR\n",
	      f);
	fclose(f);
	import_path(path, &o, &c);
	assert_int_equal(c.sum.rejected, 0);
	assert_int_equal(json_array_size(c.events), 1);
	origin = str(
		json_object_get(event_of(&c, "invoice_upserted", 0), "source"),
		"origin");
	assert_non_null(strstr(origin, "caf?.csv:2"));
	release(&c);
}

/* A ledger piped in (/dev/stdin, a shell's <(...)) can be read once only:
 * guessing its format must not swallow it. */
static void test_piped_ledger_is_read_not_swallowed_by_detection(void **state)
{
	static const char text[] =
		"type,invoice_id,customer_id,date,amount,currency\n"
		"invoice,F1,C1,2026-01-10,1.00,EUR\n"
		"invoice,F2,C1,2026-01-10,2.00,EUR\n";
	struct import_options o = defaults();
	struct capture c;
	char path[64];
	int fds[2];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], text, sizeof(text) - 1),
			 (ssize_t)(sizeof(text) - 1));
	close(fds[1]);
	snprintf(path, sizeof(path), "/dev/fd/%d", fds[0]);
	import_path(path, &o, &c);
	close(fds[0]);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.sum.read, 2);
	assert_int_equal(json_array_size(c.events), 2);
	release(&c);
}

/* A stray quote that closes a line later merges two rows into one whose
 * invoice id holds a line break; that row must be rejected, not imported
 * as a strange invoice with both real ones lost. Ids never hold control
 * characters. */
static void test_ids_with_line_breaks_are_rejected(void **state)
{
	struct import_options o = defaults();
	struct capture c;

	(void)state;
	import_text(".csv",
		    "type,invoice_id,customer_id,date,amount,currency\n"
		    "invoice,\"H4,C1,2026-01-10,1.00,EUR\n"
		    "invoice,H5\",C1,2026-01-10,1.00,EUR\n"
		    "invoice,H6,C1,2026-01-10,1.00,EUR\n",
		    &o, &c);
	assert_int_equal(c.sum.rejected, 1);
	assert_non_null(strstr(c.rejects, "line 2,invoice_id,"));
	assert_int_equal(json_array_size(c.events), 1);
	release(&c);

	import_text(".csv",
		    "customer_id,name,phone,opt_in\n"
		    "\"C1\tx\",Ana,612345678,opted_in\n",
		    &o, &c);
	assert_int_equal(c.sum.rejected, 1);
	assert_non_null(strstr(c.rejects, "line 2,customer_id,"));
	release(&c);
}

static void test_ledger_payment_and_dispute_rows(void **state)
{
	struct import_options o = defaults();
	struct capture c;

	(void)state;
	import_text(".csv",
		    "type,invoice_id,customer_id,date,due_date,amount,currency,"
		    "payment_id,reason\n"
		    "invoice,F1,C1,2026-01-10,2026-02-09,100.00,EUR,,\n"
		    "payment,F1,C1,2026-01-20,,40.00,EUR,F1/partial/1,\n"
		    "dispute,F1,C1,2026-01-25,,,,,wrong quantity\n"
		    "payment,F1,C1,2026-01-26,,-1.00,EUR,F1/partial/2,\n",
		    &o, &c);
	assert_int_equal(c.sum.rejected, 1); /* the negative payment */
	assert_non_null(strstr(c.rejects, "line 5,amount,"));
	assert_string_equal(
		str(body_of(&c, "payment_received", 0), "payment_id"),
		"F1/partial/1");
	assert_int_equal(minor(body_of(&c, "payment_received", 0)), 4000);
	assert_string_equal(str(body_of(&c, "invoice_disputed", 0), "reason"),
			    "wrong quantity");
	release(&c);
}

static void test_row_with_missing_or_extra_fields_is_rejected(void **state)
{
	struct import_options o = defaults();
	struct capture c;

	(void)state;
	import_text(".csv",
		    "type,invoice_id,customer_id,date,due_date,amount,currency,"
		    "payment_id,reason\n"
		    "invoice,F1,C1,2026-01-10,2026-02-09,100.00,EUR,,\n"
		    "invoice,F2,C1,2026-01-10,2026-02-09,12,50,EUR,,\n"
		    "invoice,F3,C1,2026-01-10,2026-02-09\n"
		    "invoice,F4,C1,2026-01-10,2026-02-09,7.00,EUR,,\n",
		    &o, &c);
	assert_int_equal(c.sum.read, 4);
	assert_int_equal(c.sum.rejected, 2);
	assert_non_null(strstr(c.rejects, "line 3,,\"10 fields, the header "
					  "has 9\""));
	assert_non_null(strstr(c.rejects, "line 4,,\"5 fields, the header "
					  "has 9\""));
	assert_string_equal(
		str(body_of(&c, "invoice_upserted", 1), "invoice_id"), "F4");
	release(&c);
}

static void test_same_file_twice_gives_same_event_ids(void **state)
{
	static const char text[] =
		"type,invoice_id,customer_id,date,due_date,amount,currency\n"
		"invoice,F1,C1,2026-01-10,2026-02-09,10.00,EUR\n";
	struct import_options o = defaults();
	struct capture a, b;
	const char *id;

	(void)state;
	import_text(".csv", text, &o, &a);
	import_text(".csv", text, &o, &b);
	id = str(event_of(&a, "invoice_upserted", 0), "event_id");
	assert_string_equal(
		id, str(event_of(&b, "invoice_upserted", 0), "event_id"));
	assert_int_equal(strncmp(id, "inv-", 4), 0);
	release(&b);

	/* A changed amount is a new fact with a new id. */
	import_text(
		".csv",
		"type,invoice_id,customer_id,date,due_date,amount,currency\n"
		"invoice,F1,C1,2026-01-10,2026-02-09,11.00,EUR\n",
		&o, &b);
	assert_string_not_equal(
		id, str(event_of(&b, "invoice_upserted", 0), "event_id"));
	release(&a);
	release(&b);
}

static void test_missing_mapped_column_fails_the_file(void **state)
{
	struct import_options o = defaults();
	struct capture c;

	(void)state;
	o.preset = "ibm-ar";
	import_text(".csv", "a,b\n1,2\n", &o, &c);
	assert_int_equal(c.rc, DN_ERR_INVALID);
	assert_int_equal(json_array_size(c.events), 0);
	release(&c);

	/* A mapping naming no field says which there are. */
	o.mapping = "bogus=X";
	import_text(".csv", "a,b\n1,2\n", &o, &c);
	assert_int_equal(c.rc, DN_ERR_INVALID);
	assert_non_null(strstr(c.err, "unknown field 'bogus' (fields: "
				      "record_type, invoice_id,"));
	release(&c);
}

/* Two columns of one name (two "amount"s, say net and gross) leave which
 * one is meant to chance: the file is refused instead of read by the
 * first. A repeated column that is not mapped does not matter. */
static void test_mapped_column_twice_in_header_fails_the_file(void **state)
{
	struct import_options o = defaults();
	struct capture c;

	(void)state;
	import_text(".csv",
		    "type,invoice_id,customer_id,date,amount,currency,amount\n"
		    "invoice,F1,C1,2026-01-10,10.00,EUR,12.10\n",
		    &o, &c);
	assert_int_equal(c.rc, DN_ERR_INVALID);
	assert_int_equal(json_array_size(c.events), 0);
	release(&c);

	import_text(
		".csv",
		"type,invoice_id,customer_id,date,amount,currency,note,note\n"
		"invoice,F1,C1,2026-01-10,10.00,EUR,a,b\n",
		&o, &c);
	assert_int_equal(c.rc, 0);
	assert_int_equal(json_array_size(c.events), 1);
	release(&c);
}

/* ---------------------------------------------------------------------- */
/* Customer directory                                                      */

static const char directory_header[] =
	"customer_id,name,phone,locale,time_zone,opt_in,opt_in_at,"
	"opt_in_source,segment,email\n";

static void test_directory_phone_in_national_format_becomes_e164(void **state)
{
	struct import_options o = defaults();
	struct capture c;
	char text[1024];
	json_t *cust;

	(void)state;
	snprintf(text, sizeof(text),
		 "%sC1,Joan Puig,612 34 56 78,ca-ES,Europe/Madrid,opted_in,"
		 "2026-01-05T09:30:00Z,web-form,prompt,joan@example.es\n",
		 directory_header);
	import_text(".csv", text, &o, &c);
	assert_int_equal(c.sum.rejected, 0);
	cust = body_of(&c, "customer_upserted", 0);
	assert_non_null(cust);
	assert_string_equal(str(cust, "phone_e164"), "+34612345678");
	assert_string_equal(str(cust, "opt_in"), "opted_in");
	assert_string_equal(str(cust, "opt_in_at"), "2026-01-05T09:30:00Z");
	assert_string_equal(str(cust, "time_zone"), "Europe/Madrid");
	release(&c);
}

/* Padded cells (fixed-width exports saved as CSV) are trimmed as in a
 * ledger: " C1 " in the directory is the customer of the ledger's "C1",
 * not another one whose invoices would never find their phone. */
static void test_directory_values_are_trimmed_like_the_ledger(void **state)
{
	struct import_options o = defaults();
	struct capture c;
	char text[1024];
	json_t *cust;

	(void)state;
	snprintf(text, sizeof(text),
		 "%s C1 , Joan Puig ,612345678, ca-ES , Europe/Madrid ,"
		 " opted_in , 2026-01-05T09:30:00Z ,web-form,prompt,\n",
		 directory_header);
	import_text(".csv", text, &o, &c);
	assert_int_equal(c.sum.rejected, 0);
	assert_string_equal(
		str(event_of(&c, "customer_upserted", 0), "customer_id"), "C1");
	cust = body_of(&c, "customer_upserted", 0);
	assert_string_equal(str(cust, "name"), "Joan Puig");
	assert_string_equal(str(cust, "opt_in"), "opted_in");
	assert_string_equal(str(cust, "time_zone"), "Europe/Madrid");
	release(&c);
}

/* A directory with two phone columns (mobile and landline, both called
 * "phone") is refused rather than messaged on whichever comes first. */
static void test_directory_column_twice_in_header_fails_the_file(void **state)
{
	struct import_options o = defaults();
	struct capture c;

	(void)state;
	import_text(".csv",
		    "customer_id,name,phone,opt_in,phone\n"
		    "C1,Ana,912345678,opted_in,612345678\n",
		    &o, &c);
	assert_int_equal(c.rc, DN_ERR_INVALID);
	assert_int_equal(json_array_size(c.events), 0);
	release(&c);
}

static void test_directory_bad_values_are_rejected_with_reason(void **state)
{
	struct import_options o = defaults();
	struct capture c;
	char text[2048];

	(void)state;
	snprintf(text, sizeof(text),
		 "%sC1,A,12,es-ES,Europe/Madrid,opted_in,,,,\n"
		 "C2,B,+34612345678,es-ES,Europe/Madird,opted_in,,,,\n"
		 "C3,C,+34612345678,es-ES,Europe/Madrid,maybe,,,,\n"
		 "C4,D,+34612345678,es-ES,Europe/Madrid,unknown,yesterday,,,\n"
		 "C5,E,+5511961234567,pt-BR,America/Sao_Paulo,opted_out,,,,\n",
		 directory_header);
	import_text(".csv", text, &o, &c);
	assert_int_equal(c.sum.rejected, 4);
	assert_non_null(strstr(c.rejects, "line 2,phone,phone"));
	assert_non_null(strstr(c.rejects, "line 3,time_zone,'Europe/Madird' "
					  "is not an IANA time zone"));
	assert_non_null(strstr(c.rejects, "line 4,opt_in,\"'maybe' is not "
					  "opted_in, opted_out or unknown"));
	assert_non_null(strstr(c.rejects, "line 5,opt_in_at,"));
	assert_string_equal(str(body_of(&c, "customer_upserted", 0), "opt_in"),
			    "opted_out");
	release(&c);
}

static void test_directory_bad_zone_and_locale_are_quoted(void **state)
{
	struct import_options o = defaults();
	struct capture c;
	char text[2048];

	(void)state;
	snprintf(text, sizeof(text),
		 "%sC1,A,+34612345678,es-ES,\"Europe/\tMadrid\",opted_in,,,,\n"
		 "C2,B,+34612345678,es_ES!,Europe/Madrid,opted_in,,,,\n",
		 directory_header);
	import_text(".csv", text, &o, &c);
	assert_int_equal(c.sum.rejected, 2);
	assert_non_null(strstr(c.rejects, "line 2,time_zone,'Europe/?Madrid' "
					  "is not an IANA time zone"));
	assert_non_null(strstr(c.rejects, "line 3,locale,'es_ES!' is not a "
					  "BCP 47 language tag"));
	release(&c);
}

/* ---------------------------------------------------------------------- */
/* UBL                                                                     */

#define UBL_HEAD(root)                                                         \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<" root                   \
	" xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:" root          \
	"-2\" xmlns:cac=\"urn:oasis:names:specification:ubl:schema:xsd:"       \
	"CommonAggregateComponents-2\" xmlns:cbc=\"urn:oasis:names:"           \
	"specification:ubl:schema:xsd:CommonBasicComponents-2\">\n"

#define UBL_BUYER(phone)                                                       \
	"<cac:AccountingCustomerParty><cac:Party>"                             \
	"<cbc:EndpointID schemeID=\"0088\">B-1</cbc:EndpointID>"               \
	"<cac:PostalAddress><cac:Country><cbc:IdentificationCode>PT"           \
	"</cbc:IdentificationCode></cac:Country></cac:PostalAddress>"          \
	"<cac:PartyLegalEntity><cbc:RegistrationName>Buyer Lda"                \
	"</cbc:RegistrationName></cac:PartyLegalEntity>"                       \
	"<cac:Contact><cbc:Telephone>" phone "</cbc:Telephone>"                \
	"<cbc:ElectronicMail>ap@buyer.example</cbc:ElectronicMail>"            \
	"</cac:Contact></cac:Party></cac:AccountingCustomerParty>\n"

#define UBL_TOTAL(amount)                                                      \
	"<cac:LegalMonetaryTotal><cbc:PayableAmount "                          \
	"currencyID=\"EUR\">" amount                                           \
	"</cbc:PayableAmount></cac:LegalMonetaryTotal>\n"

static void test_ubl_invoice_with_due_date_buyer_and_iban(void **state)
{
	struct import_options o = defaults();
	struct capture c;
	json_t *inv, *means, *cust;

	(void)state;
	import_text(
		".xml",
		UBL_HEAD(
			"Invoice") "<cbc:ID>INV-9</cbc:ID>"
				   "<cbc:IssueDate>2026-03-02</cbc:IssueDate>"
				   "<cbc:DueDate>2026-04-01</cbc:DueDate>"
				   "<cbc:DocumentCurrencyCode>EUR</"
				   "cbc:DocumentCurrencyCode>\n" UBL_BUYER(
					   "912 345 678") "<cac:PaymentMeans><"
							  "cbc:"
							  "PaymentMeansCode>30"
							  "</"
							  "cbc:"
							  "PaymentMeansCode><"
							  "cbc:PaymentID>REF "
							  "9</cbc:PaymentID>"
							  "<cac:"
							  "PayeeFinancialAccoun"
							  "t><cbc:ID>"
							  "PT500002012312345678"
							  "90154"
							  "</cbc:ID></"
							  "cac:"
							  "PayeeFinancialAccoun"
							  "t></"
							  "cac:PaymentMeans>"
							  "\n" UBL_TOTAL(
								  "1000.5") "</"
									    "In"
									    "vo"
									    "ic"
									    "e>"
									    "\n",
		&o, &c);
	assert_int_equal(c.sum.rejected, 0);
	inv = body_of(&c, "invoice_upserted", 0);
	assert_non_null(inv);
	assert_string_equal(str(inv, "invoice_id"), "INV-9");
	assert_string_equal(str(inv, "due_date"), "2026-04-01");
	assert_string_equal(str(inv, "due_date_source"), "explicit");
	assert_int_equal(minor(inv), 100050);
	means = json_object_get(inv, "payment_means");
	assert_string_equal(str(means, "iban"), "PT50000201231234567890154");
	assert_string_equal(str(means, "payment_id"), "REF 9");
	assert_string_equal(
		str(event_of(&c, "invoice_upserted", 0), "customer_id"), "B-1");

	/* The buyer's national number is read in its country, Portugal. */
	cust = body_of(&c, "customer_upserted", 0);
	assert_non_null(cust);
	assert_string_equal(str(cust, "phone_e164"), "+351912345678");
	assert_string_equal(str(cust, "name"), "Buyer Lda");
	assert_string_equal(str(cust, "email"), "ap@buyer.example");
	release(&c);
}

static void test_ubl_due_date_from_payment_terms_else_none(void **state)
{
	struct import_options o = defaults();
	struct capture c;

	(void)state;
	import_text(
		".xml",
		UBL_HEAD("Invoice") "<cbc:ID>T1</cbc:ID>"
				    "<cbc:IssueDate>2026-03-02</"
				    "cbc:IssueDate>\n" UBL_BUYER(
					    "") "<cac:PaymentTerms><cbc:"
						"PaymentDueDate>2026-05-01"
						"</cbc:PaymentDueDate></"
						"cac:PaymentTerms>\n" UBL_TOTAL(
							"10") "</Invoice>\n",
		&o, &c);
	assert_string_equal(
		str(body_of(&c, "invoice_upserted", 0), "due_date_source"),
		"payment_terms");
	assert_string_equal(str(body_of(&c, "invoice_upserted", 0), "due_date"),
			    "2026-05-01");
	assert_null(body_of(&c, "customer_upserted", 0)); /* no phone */
	release(&c);

	import_text(".xml",
		    UBL_HEAD("Invoice") "<cbc:ID>T2</cbc:ID>"
					"<cbc:IssueDate>2026-03-02</"
					"cbc:IssueDate>\n" UBL_BUYER("")
						UBL_TOTAL("10") "</Invoice>\n",
		    &o, &c);
	assert_string_equal(
		str(body_of(&c, "invoice_upserted", 0), "due_date_source"),
		"none");
	assert_null(json_object_get(body_of(&c, "invoice_upserted", 0),
				    "due_date"));
	release(&c);
}

static void test_ubl_credit_note_and_negative_invoice_not_dunnable(void **state)
{
	struct import_options o = defaults();
	struct capture c;
	json_t *inv;

	(void)state;
	import_text(
		".xml",
		UBL_HEAD("CreditNote") "<cbc:ID>CN-1</cbc:ID>"
				       "<cbc:IssueDate>2026-03-02</"
				       "cbc:IssueDate>\n" UBL_BUYER("")
					       UBL_TOTAL(
						       "25.00") "</"
								"CreditNote>\n",
		&o, &c);
	inv = body_of(&c, "invoice_upserted", 0);
	assert_string_equal(str(inv, "kind"), "credit_note");
	assert_true(json_is_true(json_object_get(inv, "not_dunnable")));
	release(&c);

	import_text(
		".xml",
		UBL_HEAD("Invoice") "<cbc:ID>N-1</cbc:ID>"
				    "<cbc:IssueDate>2026-03-02</"
				    "cbc:IssueDate>\n" UBL_BUYER("")
					    UBL_TOTAL("-225.14") "</Invoice>\n",
		&o, &c);
	inv = body_of(&c, "invoice_upserted", 0);
	assert_int_equal(minor(inv), -22514);
	assert_string_equal(str(inv, "not_dunnable_reason"),
			    "payable amount is zero or negative");
	release(&c);
}

static void test_ubl_missing_or_bad_parts_are_rejected_with_path(void **state)
{
	struct import_options o = defaults();
	struct capture c;

	(void)state;
	import_text(".xml",
		    UBL_HEAD("Invoice") "<cbc:IssueDate>2026-03-02"
					"</cbc:IssueDate>\n" UBL_BUYER("")
						UBL_TOTAL("10") "</Invoice>\n",
		    &o, &c);
	assert_int_equal(c.sum.rejected, 1);
	assert_non_null(strstr(c.rejects, ",/Invoice/cbc:ID,cbc:ID,missing"));
	release(&c);

	import_text(
		".xml",
		UBL_HEAD("Invoice") "<cbc:ID>X</cbc:ID><cbc:IssueDate>"
				    "2026-02-30</cbc:IssueDate>\n" UBL_BUYER("")
					    UBL_TOTAL("10") "</Invoice>\n",
		&o, &c);
	assert_non_null(strstr(c.rejects, "/Invoice/cbc:IssueDate"));
	assert_non_null(strstr(c.rejects, "February"));
	release(&c);

	import_text(
		".xml",
		UBL_HEAD("Invoice") "<cbc:ID>X</cbc:ID><cbc:IssueDate>"
				    "2026-02-03</cbc:IssueDate>\n" UBL_BUYER("")
					    UBL_TOTAL("10.001") "</Invoice>\n",
		&o, &c);
	assert_non_null(strstr(c.rejects, "3 decimals but EUR has 2"));
	release(&c);

	/* An unknown currency is quoted, a tab in it made visible. */
	import_text(
		".xml",
		UBL_HEAD("Invoice") "<cbc:ID>X</cbc:ID><cbc:IssueDate>"
				    "2026-02-03</cbc:IssueDate>\n" UBL_BUYER(
					    "") "<cac:LegalMonetaryTotal>"
						"<cbc:PayableAmount "
						"currencyID=\"X&#9;B\">10"
						"</cbc:PayableAmount>"
						"</cac:LegalMonetaryTotal>"
						"</Invoice>\n",
		&o, &c);
	assert_non_null(strstr(c.rejects, "'X?B' is not an ISO 4217 currency"));
	release(&c);

	import_text(".xml", "<Invoice><unclosed></Invoice>", &o, &c);
	assert_non_null(strstr(c.rejects, "not well-formed XML"));
	release(&c);

	import_text(".xml", "<?xml version=\"1.0\"?><Order xmlns=\"urn:x\"/>",
		    &o, &c);
	assert_non_null(strstr(c.rejects, "not a UBL 2.1 Invoice"));
	release(&c);
}

/* UBL allows one payable amount, id, issue and due date; a document with
 * two is ambiguous and rejected rather than read by its first. */
static void test_ubl_repeated_single_elements_are_rejected(void **state)
{
	struct import_options o = defaults();
	struct capture c;

	(void)state;
	import_text(
		".xml",
		UBL_HEAD("Invoice") "<cbc:ID>T-1</cbc:ID><cbc:IssueDate>"
				    "2026-02-03</cbc:IssueDate>\n" UBL_BUYER(
					    "") "<cac:LegalMonetaryTotal>"
						"<cbc:PayableAmount currencyID="
						"\"EUR\">100.00</"
						"cbc:PayableAmount>"
						"<cbc:PayableAmount currencyID="
						"\"EUR\">1.00</"
						"cbc:PayableAmount>"
						"</cac:LegalMonetaryTotal>"
						"</Invoice>\n",
		&o, &c);
	assert_int_equal(c.sum.rejected, 1);
	assert_null(body_of(&c, "invoice_upserted", 0));
	assert_non_null(strstr(c.rejects, "cbc:PayableAmount,appears 2 times"));
	release(&c);

	import_text(".xml",
		    UBL_HEAD("Invoice") "<cbc:ID>T-2</cbc:ID><cbc:IssueDate>"
					"2026-02-03</cbc:IssueDate>"
					"<cbc:DueDate>2026-03-03</cbc:DueDate>"
					"<cbc:DueDate>2026-04-03</cbc:DueDate>"
					"\n" UBL_BUYER("")
						UBL_TOTAL("10") "</Invoice>\n",
		    &o, &c);
	assert_int_equal(c.sum.rejected, 1);
	assert_non_null(strstr(c.rejects, "/Invoice/cbc:DueDate,cbc:DueDate,"));
	release(&c);
}

/* libxml2's messages end in a newline (some hold two lines); the reject
 * file keeps one line per rejection. */
static void test_ubl_parser_errors_are_one_line_in_reject_file(void **state)
{
	struct import_options o = defaults();
	struct capture c;

	(void)state;
	import_text(".xml",
		    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		    "<Invoice>caf\xE9</Invoice>\n",
		    &o, &c);
	assert_int_equal(c.sum.rejected, 1);
	assert_non_null(strstr(c.rejects, "not well-formed XML: line 2: "));
	assert_null(strchr(strchr(c.rejects, '\n') + 1, '\r'));
	assert_string_equal(strchr(strchr(c.rejects, '\n') + 1, '\n'), "\n");
	release(&c);
}

/* An invoice due before it was issued would be overdue, and dunned, from
 * its first day: the row (or document, or line) is rejected instead. */
static void test_due_date_before_issue_date_is_rejected(void **state)
{
	struct import_options o = defaults();
	struct capture c;

	(void)state;
	import_text(
		".csv",
		"type,invoice_id,customer_id,date,due_date,amount,currency\n"
		"invoice,F1,C1,2026-01-10,2026-01-09,1.00,EUR\n"
		"invoice,F2,C1,2026-01-10,2026-01-10,1.00,EUR\n",
		&o, &c);
	assert_int_equal(c.sum.rejected, 1);
	assert_non_null(strstr(c.rejects, "line 2,due_date,due before"));
	assert_string_equal(
		str(body_of(&c, "invoice_upserted", 0), "invoice_id"), "F2");
	release(&c);

	import_text(".xml",
		    UBL_HEAD("Invoice") "<cbc:ID>D-1</cbc:ID><cbc:IssueDate>"
					"2026-02-03</cbc:IssueDate>"
					"<cbc:DueDate>2026-02-02</cbc:DueDate>"
					"\n" UBL_BUYER("")
						UBL_TOTAL("10") "</Invoice>\n",
		    &o, &c);
	assert_int_equal(c.sum.rejected, 1);
	assert_non_null(strstr(c.rejects,
			       "/Invoice/cbc:DueDate,cbc:DueDate,due "
			       "before"));
	release(&c);

	import_text(".jsonl",
		    "{\"customer_id\":\"C1\",\"occurred_at\":"
		    "\"2026-01-10T12:00:00Z\",\"invoice_upserted\":{"
		    "\"invoice_id\":\"F1\",\"issue_date\":\"2026-01-10\","
		    "\"due_date\":\"2026-01-01\",\"amount\":{\"value\":"
		    "\"12.30\",\"currency\":\"EUR\"}}}\n",
		    &o, &c);
	assert_int_equal(c.sum.rejected, 1);
	assert_non_null(strstr(c.rejects, "line 1,due_date,due before"));
	release(&c);
}

/* A directory named like a document is rejected as what it is, and the
 * parser is not asked to read it. */
static void test_ubl_path_that_is_a_directory_is_rejected(void **state)
{
	struct import_options o = defaults();
	struct capture c;
	char path[256];

	(void)state;
	snprintf(path, sizeof(path), "/tmp/dn-producer-test-%ld-dir.xml",
		 (long)getpid());
	assert_int_equal(mkdir(path, 0700), 0);
	import_path(path, &o, &c); /* removes nothing: unlink fails on it */
	rmdir(path);
	assert_int_equal(c.sum.rejected, 1);
	assert_non_null(strstr(c.rejects, "-dir.xml,/,,is a directory"));
	release(&c);
}

/* The reject file gives libxml2's first error, the cause, not the last
 * one: an embedded attachment over libxml2's 10 MB text limit is "huge
 * text node", not "Extra content at the end of the document". */
static void test_ledger_path_that_is_a_directory_says_so(void **state)
{
	struct import_options o = defaults();
	struct capture c;
	char path[256];

	(void)state;
	snprintf(path, sizeof(path), "/tmp/dn-producer-test-%ld-dir",
		 (long)getpid());
	assert_int_equal(mkdir(path, 0700), 0);
	import_path(path, &o, &c);
	rmdir(path);
	assert_int_equal(c.rc, DN_ERR_IO);
	assert_non_null(strstr(c.err, "-dir is a directory, not a file"));
	release(&c);
}

static void test_ubl_parser_reports_its_first_error(void **state)
{
	struct import_options o = defaults();
	struct capture c;
	char path[256], chunk[65536];
	FILE *f;
	int i;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/dn-producer-test-%ld-big.xml",
		 (long)getpid());
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs(UBL_HEAD("Invoice") "<cbc:ID>B-1</cbc:ID><cbc:Note>", f);
	memset(chunk, 'A', sizeof(chunk));
	for (i = 0; i < 176; i++) /* 11 MiB */
		fwrite(chunk, 1, sizeof(chunk), f);
	fputs("</cbc:Note></Invoice>\n", f);
	fclose(f);
	import_path(path, &o, &c);
	assert_int_equal(c.sum.rejected, 1);
	assert_non_null(strstr(c.rejects, "huge text node"));
	release(&c);
}

static void test_ubl_invalid_buyer_phone_rejects_only_the_customer(void **state)
{
	struct import_options o = defaults();
	struct capture c;

	(void)state;
	import_text(".xml",
		    UBL_HEAD("Invoice") "<cbc:ID>P-1</cbc:ID>"
					"<cbc:IssueDate>2026-03-02</"
					"cbc:IssueDate>\n" UBL_BUYER("12")
						UBL_TOTAL("10") "</Invoice>\n",
		    &o, &c);
	assert_int_equal(c.sum.rejected, 1);
	assert_non_null(body_of(&c, "invoice_upserted", 0));
	assert_null(body_of(&c, "customer_upserted", 0));
	assert_non_null(strstr(c.rejects, "cbc:Telephone,cbc:Telephone,phone"));
	release(&c);
}

static void test_ubl_external_entities_are_never_read(void **state)
{
	struct import_options o = defaults();
	struct capture c;
	char secret[128], text[2048];
	FILE *f;

	(void)state;
	snprintf(secret, sizeof(secret), "/tmp/dn-producer-secret-%ld",
		 (long)getpid());
	f = fopen(secret, "w");
	assert_non_null(f);
	fputs("SECRET", f);
	fclose(f);
	snprintf(text, sizeof(text),
		 "<?xml version=\"1.0\"?>\n<!DOCTYPE Invoice [<!ENTITY xxe "
		 "SYSTEM \"file://%s\">]>\n%s<cbc:ID>X&xxe;</cbc:ID>"
		 "<cbc:IssueDate>2026-03-02</cbc:IssueDate>\n%s%s</Invoice>\n",
		 secret, strstr(UBL_HEAD("Invoice"), "<Invoice"), UBL_BUYER(""),
		 UBL_TOTAL("1"));
	import_text(".xml", text, &o, &c);
	unlink(secret);
	assert_string_equal(
		str(body_of(&c, "invoice_upserted", 0), "invoice_id"), "X");
	release(&c);
}

/* ---------------------------------------------------------------------- */
/* JSON lines                                                              */

static void test_jsonl_events_are_read_back_as_written(void **state)
{
	struct import_options o = defaults();
	struct capture c;
	json_t *inv, *pay;

	(void)state;
	import_text(".jsonl",
		    "{\"customer_id\":\"C1\",\"occurred_at\":"
		    "\"2026-01-10T12:00:00Z\",\"invoice_upserted\":{"
		    "\"invoice_id\":\"F1\",\"issue_date\":\"2026-01-10\","
		    "\"due_date\":\"2026-02-09\",\"amount\":{\"value\":"
		    "\"12.30\",\"currency\":\"EUR\"}}}\n"
		    "\n"
		    "{\"event_id\":\"erp-77\",\"tenant\":\"acme\","
		    "\"customer_id\":\"C1\",\"occurred_at\":"
		    "\"2026-01-20T08:00:00Z\",\"payment_received\":{"
		    "\"invoice_id\":\"F1\",\"payment_id\":\"F1/settled\","
		    "\"amount\":{\"minor_units\":1230,\"currency\":\"EUR\"}}}\n"
		    "{\"customer_id\":\"C1\",\"occurred_at\":\"2026-01-20\","
		    "\"invoice_disputed\":{\"invoice_id\":\"F1\"}}\n"
		    "not json\n",
		    &o, &c);
	assert_int_equal(c.sum.read, 4);
	assert_int_equal(c.sum.rejected, 2);
	assert_non_null(strstr(c.rejects, "line 4,occurred_at,"));
	assert_non_null(strstr(c.rejects, "line 5,,not a JSON object"));
	inv = body_of(&c, "invoice_upserted", 0);
	assert_int_equal(minor(inv), 1230);
	assert_string_equal(str(inv, "due_date_source"), "explicit");
	assert_string_equal(str(event_of(&c, "invoice_upserted", 0), "tenant"),
			    "t1");
	pay = event_of(&c, "payment_received", 0);
	assert_string_equal(str(pay, "event_id"), "erp-77");
	assert_string_equal(str(pay, "tenant"), "acme");
	release(&c);
}

/* A pushed line with two bodies, a payment that is not positive, or two
 * disagreeing amounts is rejected; the rest of the file still imports. */
static void test_jsonl_ambiguous_or_negative_events_are_rejected(void **state)
{
	struct import_options o = defaults();
	struct capture c;

	(void)state;
	import_text(".jsonl",
		    "{\"customer_id\":\"C1\",\"occurred_at\":"
		    "\"2026-01-20T08:00:00Z\",\"invoice_disputed\":{"
		    "\"invoice_id\":\"F1\"},\"payment_received\":{"
		    "\"invoice_id\":\"F1\",\"payment_id\":\"P1\","
		    "\"amount\":{\"minor_units\":500,\"currency\":\"EUR\"}}}\n"
		    "{\"customer_id\":\"C1\",\"occurred_at\":"
		    "\"2026-01-20T08:00:00Z\",\"payment_received\":{"
		    "\"invoice_id\":\"F1\",\"payment_id\":\"P2\","
		    "\"amount\":{\"minor_units\":-500,\"currency\":\"EUR\"}}}\n"
		    "{\"customer_id\":\"C1\",\"occurred_at\":"
		    "\"2026-01-20T08:00:00Z\",\"payment_received\":{"
		    "\"invoice_id\":\"F1\",\"payment_id\":\"P3\","
		    "\"amount\":{\"minor_units\":5,\"value\":\"999.00\","
		    "\"currency\":\"EUR\"}}}\n"
		    "{\"customer_id\":\"C1\",\"occurred_at\":"
		    "\"2026-01-20T08:00:00Z\",\"payment_received\":{"
		    "\"invoice_id\":\"F1\",\"payment_id\":\"P4\","
		    "\"amount\":{\"value\":\"5.00\",\"currency\":\"EUR\"}}}\n",
		    &o, &c);
	assert_int_equal(c.sum.read, 4);
	assert_int_equal(c.sum.rejected, 3);
	assert_non_null(strstr(c.rejects, "line 1,,"));
	assert_non_null(strstr(c.rejects, "line 2,amount,"));
	assert_non_null(strstr(c.rejects, "line 3,amount,"));
	assert_int_equal(json_array_size(c.events), 1);
	assert_string_equal(
		str(body_of(&c, "payment_received", 0), "payment_id"), "P4");
	release(&c);
}

/* A member of the wrong type is an error, not a default: a
 * "not_dunnable": "yes" read as false would dun the invoice. */
static void test_jsonl_members_of_wrong_type_are_rejected(void **state)
{
	struct import_options o = defaults();
	struct capture c;

	(void)state;
	import_text(".jsonl",
		    "{\"customer_id\":\"C1\",\"occurred_at\":"
		    "\"2026-01-10T12:00:00Z\",\"invoice_upserted\":{"
		    "\"invoice_id\":\"F1\",\"issue_date\":\"2026-01-10\","
		    "\"not_dunnable\":\"yes\",\"amount\":{\"value\":"
		    "\"5.00\",\"currency\":\"EUR\"}}}\n"
		    "{\"customer_id\":\"C1\",\"occurred_at\":"
		    "\"2026-01-10T12:00:00Z\",\"invoice_upserted\":{"
		    "\"invoice_id\":\"F2\",\"issue_date\":\"2026-01-10\","
		    "\"version\":\"7\",\"amount\":{\"value\":"
		    "\"5.00\",\"currency\":\"EUR\"}}}\n"
		    "{\"customer_id\":\"C1\",\"occurred_at\":"
		    "\"2026-01-10T12:00:00Z\",\"invoice_upserted\":{"
		    "\"invoice_id\":\"F3\",\"issue_date\":\"2026-01-10\","
		    "\"payment_means\":\"ES91 2100\",\"amount\":{\"value\":"
		    "\"5.00\",\"currency\":\"EUR\"}}}\n"
		    "{\"customer_id\":\"C1\",\"occurred_at\":"
		    "\"2026-01-10T12:00:00Z\",\"invoice_upserted\":{"
		    "\"invoice_id\":\"F4\",\"issue_date\":\"2026-01-10\","
		    "\"not_dunnable\":true,\"version\":7,\"amount\":{"
		    "\"value\":\"5.00\",\"currency\":\"EUR\"}}}\n",
		    &o, &c);
	assert_int_equal(c.sum.rejected, 3);
	assert_non_null(strstr(c.rejects, "line 1,not_dunnable,"));
	assert_non_null(strstr(c.rejects, "line 2,version,"));
	assert_non_null(strstr(c.rejects, "line 3,payment_means,"));
	assert_int_equal(json_array_size(c.events), 1);
	assert_true(json_is_true(json_object_get(
		body_of(&c, "invoice_upserted", 0), "not_dunnable")));
	release(&c);
}

/* Windows tools start a UTF-8 file with a byte-order mark; the first
 * event must not be lost to it (the CSV reader skips it too). */
static void test_jsonl_byte_order_mark_is_skipped(void **state)
{
	struct import_options o = defaults();
	struct capture c;

	(void)state;
	import_text(".jsonl",
		    "\xEF\xBB\xBF{\"customer_id\":\"C1\",\"occurred_at\":"
		    "\"2026-01-20T08:00:00Z\",\"invoice_disputed\":{"
		    "\"invoice_id\":\"F1\"}}\n",
		    &o, &c);
	assert_int_equal(c.sum.rejected, 0);
	assert_int_equal(json_array_size(c.events), 1);
	release(&c);
}

/* A pushed credit note or non-positive invoice is flagged as the CSV and
 * UBL readers flag it, whatever the line says. */
static void
test_jsonl_credit_note_and_negative_invoice_not_dunnable(void **state)
{
	struct import_options o = defaults();
	struct capture c;
	json_t *inv;

	(void)state;
	import_text(".jsonl",
		    "{\"customer_id\":\"C1\",\"occurred_at\":"
		    "\"2026-01-10T12:00:00Z\",\"invoice_upserted\":{"
		    "\"invoice_id\":\"CN1\",\"kind\":\"credit_note\","
		    "\"issue_date\":\"2026-01-10\",\"amount\":{\"value\":"
		    "\"5.00\",\"currency\":\"EUR\"}}}\n"
		    "{\"customer_id\":\"C1\",\"occurred_at\":"
		    "\"2026-01-10T12:00:00Z\",\"invoice_upserted\":{"
		    "\"invoice_id\":\"N1\",\"issue_date\":\"2026-01-10\","
		    "\"not_dunnable\":false,\"amount\":{\"value\":\"-5.00\","
		    "\"currency\":\"EUR\"}}}\n",
		    &o, &c);
	assert_int_equal(c.sum.rejected, 0);
	inv = body_of(&c, "invoice_upserted", 0);
	assert_true(json_is_true(json_object_get(inv, "not_dunnable")));
	assert_string_equal(str(inv, "not_dunnable_reason"), "credit note");
	inv = body_of(&c, "invoice_upserted", 1);
	assert_true(json_is_true(json_object_get(inv, "not_dunnable")));
	assert_string_equal(str(inv, "not_dunnable_reason"),
			    "payable amount is zero or negative");
	release(&c);
}

/* Peak resident memory of this process in KiB, from /proc. */
static long peak_rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	fclose(f);
	return kib;
}

/* A 64 MiB line (a binary file, a runaway export) is rejected without
 * being held in memory, and the lines after it still import. */
static void
test_jsonl_huge_line_is_rejected_without_reading_it_whole(void **state)
{
	static const char good[] =
		"{\"customer_id\":\"C1\",\"occurred_at\":"
		"\"2026-01-20T08:00:00Z\",\"invoice_disputed\":{"
		"\"invoice_id\":\"F1\"}}\n";
	struct import_options o = defaults();
	struct capture c;
	char path[256], chunk[65536];
	long before;
	FILE *f;
	int i;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/dn-producer-test-%ld.jsonl",
		 (long)getpid());
	f = fopen(path, "wb");
	assert_non_null(f);
	memset(chunk, 'x', sizeof(chunk));
	fputs(good, f);
	for (i = 0; i < 1024; i++)
		fwrite(chunk, 1, sizeof(chunk), f);
	fputc('\n', f);
	fputs(good, f);
	fclose(f);

	before = peak_rss_kib();
	import_path(path, &o, &c);
	assert_true(peak_rss_kib() - before < 16 * 1024);
	assert_int_equal(c.sum.read, 3);
	assert_int_equal(c.sum.rejected, 1);
	assert_non_null(strstr(c.rejects, "line 2,,line longer than 64 KiB"));
	assert_int_equal(json_array_size(c.events), 2);
	release(&c);
}

static void test_dry_run_output_reimports_to_the_same_events(void **state)
{
	struct import_options o = defaults();
	struct capture csv, again;
	char *text, *line;
	size_t i, used = 0, cap = 65536;
	json_t *ev, *copy;

	(void)state;
	o.preset = "ibm-ar";
	import_text(
		".csv",
		"countryCode,customerID,PaperlessDate,invoiceNumber,"
		"InvoiceDate,DueDate,InvoiceAmount,Disputed,SettledDate,"
		"PaperlessBill,DaysToSettle,DaysLate\n"
		"391,A-1,1/1/2013,01,1/2/2013,2/1/2013,5.50,Yes,2/4/2013,"
		"Paper,33,3\n"
		"391,A-2,1/1/2013,02,1/3/2013,2/2/2013,0.00,No,,Paper,0,0\n",
		&o, &csv);
	assert_int_equal(json_array_size(csv.events), 4);

	/* The printed lines, without their ids, are a JSON-lines input. */
	text = calloc(1, cap);
	assert_non_null(text);
	json_array_foreach(csv.events, i, ev)
	{
		copy = json_deep_copy(ev);
		json_object_del(copy, "event_id");
		line = json_dumps(copy, JSON_COMPACT);
		used += (size_t)snprintf(text + used, cap - used, "%s\n", line);
		free(line);
		json_decref(copy);
	}
	import_text(".jsonl", text, &o, &again);
	free(text);
	assert_int_equal(again.sum.rejected, 0);
	assert_int_equal(json_array_size(again.events), 4);
	json_array_foreach(csv.events, i, ev)
	{
		assert_string_equal(
			str(ev, "event_id"),
			str(json_array_get(again.events, i), "event_id"));
	}
	release(&csv);
	release(&again);
}

static int setup(void **state)
{
	(void)state;
	cfg = testenv_config(NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	config_free(cfg);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_currency_is_quoted_in_the_reject),
		cmocka_unit_test(test_shown_value_is_bounded_and_printable),
		cmocka_unit_test(
			test_ibm_settled_row_becomes_invoice_and_payment),
		cmocka_unit_test(
			test_ibm_disputed_row_yields_dispute_at_invoice_date),
		cmocka_unit_test(
			test_impossible_date_is_rejected_with_file_line_field),
		cmocka_unit_test(
			test_too_many_decimals_is_rejected_unless_rounding),
		cmocka_unit_test(test_three_decimal_currency_amount_is_exact),
		cmocka_unit_test(
			test_semicolon_file_with_bom_mapping_and_dotted_dates),
		cmocka_unit_test(test_decimal_comma_amounts_are_read_exactly),
		cmocka_unit_test(
			test_decimal_comma_refuses_points_not_grouping_thousands),
		cmocka_unit_test(
			test_invalid_utf8_row_is_rejected_and_rest_imported),
		cmocka_unit_test(
			test_credit_note_and_non_positive_amounts_are_not_dunnable),
		cmocka_unit_test(
			test_overlong_values_are_rejected_and_reasons_cut_whole),
		cmocka_unit_test(
			test_file_name_not_utf8_still_yields_valid_events),
		cmocka_unit_test(test_due_date_before_issue_date_is_rejected),
		cmocka_unit_test(
			test_piped_ledger_is_read_not_swallowed_by_detection),
		cmocka_unit_test(test_ids_with_line_breaks_are_rejected),
		cmocka_unit_test(test_ledger_payment_and_dispute_rows),
		cmocka_unit_test(
			test_row_with_missing_or_extra_fields_is_rejected),
		cmocka_unit_test(
			test_ibm_disputed_value_is_quoted_in_the_reject),
		cmocka_unit_test(test_same_file_twice_gives_same_event_ids),
		cmocka_unit_test(test_missing_mapped_column_fails_the_file),
		cmocka_unit_test(
			test_mapped_column_twice_in_header_fails_the_file),
		cmocka_unit_test(
			test_directory_phone_in_national_format_becomes_e164),
		cmocka_unit_test(
			test_directory_values_are_trimmed_like_the_ledger),
		cmocka_unit_test(
			test_directory_column_twice_in_header_fails_the_file),
		cmocka_unit_test(
			test_directory_bad_values_are_rejected_with_reason),
		cmocka_unit_test(test_directory_bad_zone_and_locale_are_quoted),
		cmocka_unit_test(test_ubl_invoice_with_due_date_buyer_and_iban),
		cmocka_unit_test(
			test_ubl_due_date_from_payment_terms_else_none),
		cmocka_unit_test(
			test_ubl_credit_note_and_negative_invoice_not_dunnable),
		cmocka_unit_test(
			test_ubl_missing_or_bad_parts_are_rejected_with_path),
		cmocka_unit_test(
			test_ubl_invalid_buyer_phone_rejects_only_the_customer),
		cmocka_unit_test(
			test_ubl_repeated_single_elements_are_rejected),
		cmocka_unit_test(
			test_ubl_parser_errors_are_one_line_in_reject_file),
		cmocka_unit_test(test_ubl_path_that_is_a_directory_is_rejected),
		cmocka_unit_test(test_ledger_path_that_is_a_directory_says_so),
		cmocka_unit_test(test_ubl_parser_reports_its_first_error),
		cmocka_unit_test(test_ubl_external_entities_are_never_read),
		cmocka_unit_test(test_jsonl_events_are_read_back_as_written),
		cmocka_unit_test(
			test_jsonl_huge_line_is_rejected_without_reading_it_whole),
		cmocka_unit_test(
			test_jsonl_ambiguous_or_negative_events_are_rejected),
		cmocka_unit_test(
			test_jsonl_credit_note_and_negative_invoice_not_dunnable),
		cmocka_unit_test(test_jsonl_members_of_wrong_type_are_rejected),
		cmocka_unit_test(test_jsonl_byte_order_mark_is_skipped),
		cmocka_unit_test(
			test_dry_run_output_reimports_to_the_same_events),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
