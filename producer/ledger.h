/* ledger.h: invoice ledgers in CSV, by preset or column mapping. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A ledger CSV has one record per row; a mapping names the column that
 * holds each field below. Rows without a record_type column (or with
 * type "invoice" or "credit_note") are invoices and may carry a settled
 * date and a disputed flag; the generator's ledger also has "payment" and
 * "dispute" rows. What each row becomes:
 *
 *   invoice/credit_note  InvoiceUpserted at 12:00 UTC of its date; credit
 *                        notes and amounts <= 0 are flagged not dunnable
 *   + disputed = yes     InvoiceDisputed at the same instant, after it
 *   + settled_date       PaymentReceived of the full amount at 12:00 UTC
 *                        of that date, payment_id "<invoice_id>/settled"
 *   payment              PaymentReceived of amount at 12:00 UTC of date,
 *                        payment_id from its column
 *   dispute              InvoiceDisputed at 12:00 UTC of date
 *
 * Presets: "ibm-ar", the IBM accounts-receivable sample export (US dates,
 * no currency column: the import's currency applies), and "ledger", the
 * generator's layout (docs/producer.md), also the default.
 */
#ifndef DUNNING_PRODUCER_LEDGER_H
#define DUNNING_PRODUCER_LEDGER_H

#include <stddef.h>

struct csv_record;
struct import_options;
struct sink;

enum ledger_field {
	LEDGER_RECORD_TYPE,
	LEDGER_INVOICE_ID,
	LEDGER_CUSTOMER_ID,
	LEDGER_DATE,
	LEDGER_DUE_DATE,
	LEDGER_AMOUNT,
	LEDGER_CURRENCY,
	LEDGER_SETTLED_DATE,
	LEDGER_DISPUTED,
	LEDGER_PAYMENT_ID,
	LEDGER_REASON,
	LEDGER_FIELD_COUNT,
};

#define LEDGER_COLUMN_MAX 64

/* Which column holds each field, by header name and then by index. */
struct ledger_layout {
	char names[LEDGER_FIELD_COUNT][LEDGER_COLUMN_MAX]; /* "" unmapped */
	int columns[LEDGER_FIELD_COUNT];		   /* -1 unmapped */
	int date_format;				   /* civil_format */
};

/*
 * Sets up layout from opts: the preset (default "ledger"), then each
 * "field=Column" pair of opts->mapping over it, then opts->date_format.
 * Returns 0 or DN_ERR_INVALID with the reason in err.
 */
int ledger_layout_init(struct ledger_layout *layout,
		       const struct import_options *opts, char *err,
		       size_t errlen);

/*
 * Finds the mapped columns in the header record (names compared without
 * case and surrounding spaces). invoice_id, customer_id, date and amount
 * must be present, and no mapped name may head two columns. Returns 0 or
 * DN_ERR_INVALID with the reason in err.
 */
int ledger_layout_bind(struct ledger_layout *layout,
		       const struct csv_record *header, char *err,
		       size_t errlen);

/* The field's text in record (spaces trimmed into buf of size len), or ""
 * when the field is unmapped or the row is short. */
const char *ledger_value(const struct ledger_layout *layout,
			 const struct csv_record *record,
			 enum ledger_field field, char *buf, size_t len);

/* Imports a ledger CSV; rows that fail go to the sink's rejects. Returns
 * 0, or an error if the file or its header cannot be used. */
int ledger_import_file(const char *path, const struct import_options *opts,
		       struct sink *sink, char *err, size_t errlen);

#endif
