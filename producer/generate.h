/* generate.h: realistic synthetic ledgers and customer directories. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sample data for demos, tests and benchmarks, fully determined by a seed.
 *
 * Customers live in ES, BR, PT, FR, DE, MX, US and GB, with a few in JP
 * (JPY, no decimals) and KW (KWD, three decimals); each has a name, a
 * mobile number valid for its region (checked with libphonenumber), a
 * matching locale, an IANA time zone, a currency, an opt-in status (most
 * opted in, some unknown, a few opted out) and a payment-behaviour segment
 * ("prompt", "slow", "chronic").
 *
 * Invoices are issued evenly over the window with terms of 15, 30 or 60
 * days. The segment decides when they are paid: prompt payers mostly
 * before the due date, slow ones days to weeks late, chronic ones late or
 * never within the window. Some invoices are disputed, some paid in two
 * parts ("<id>/partial/1" and "/partial/2"), some are credit notes.
 *
 * The ledger layout (--preset ledger) is
 *
 *   type,invoice_id,customer_id,date,due_date,amount,currency,payment_id,
 *   reason
 *
 * with type invoice, credit_note, payment or dispute; rows of an invoice
 * follow it. The directory is the customer directory CSV of contract 3.
 */
#ifndef DUNNING_PRODUCER_GENERATE_H
#define DUNNING_PRODUCER_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "civil.h"

struct generate_options {
	uint64_t seed;
	long customers;		 /* >= 1 */
	long invoices;		 /* >= 0 */
	struct civil_date start; /* first issue date */
	int days;		 /* window length, >= 1 */
	const char *out_dir;	 /* ledger.csv and customers.csv go here */
};

/*
 * Writes out_dir/ledger.csv and out_dir/customers.csv (the directory must
 * exist). Returns 0 or DN_ERR_IO / DN_ERR_INVALID with the reason in err.
 */
int generate_ledger(const struct generate_options *opts, char *err,
		    size_t errlen);

/*
 * Writes a customer directory to out for the count customer ids given
 * (attributes seeded by seed and the id, so the same id always gets the
 * same customer; opt-in instants fall in the year before opted_before).
 * Returns 0 or DN_ERR_IO with the reason in err.
 */
int generate_directory(const char *const *customer_ids, size_t count,
		       uint64_t seed, struct civil_date opted_before,
		       const char *out, char *err, size_t errlen);

#endif
